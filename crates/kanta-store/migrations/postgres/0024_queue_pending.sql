-- The customers whose contact-queue rows wait to be recomputed. Never edit once applied.
--
-- A write of cases, interactions, feedback, trust entries, goals or onboarding tasks
-- marks its customers here, in its own transaction, and makes sure a `queue.refresh`
-- job is waiting; the job recomputes the marked customers and deletes the marks it
-- read. Before, each write added its customers to the waiting job's JSON list: the
-- whole list was read, merged, sorted and written again at every write (0.75 ms of
-- PostgreSQL per interaction created at 200 a second, the largest line of the
-- profile), and every writer waited on that one job row.
--
-- `mark` changes at every marking (a sequence never gives a value twice), so the job
-- deletes only the marks it read: a customer marked again after the job read their
-- facts stays marked for the next job.
CREATE SEQUENCE queue_pending_mark;
CREATE TABLE queue_pending (
    customer_id BIGINT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    mark BIGINT NOT NULL DEFAULT nextval('queue_pending_mark')
);
