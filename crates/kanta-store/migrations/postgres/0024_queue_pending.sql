-- The customers whose contact-queue rows wait to be recomputed. Never edit once applied.
--
-- A write of cases, interactions, feedback, trust entries, goals or onboarding tasks
-- adds a mark per customer it touched, in its own transaction, and makes sure a
-- `queue.refresh` job is waiting; the job recomputes the marked customers and deletes
-- the marks it read. Before, each write added its customers to the waiting job's JSON
-- list: the whole list was read, merged, sorted and written again at every write (0.75
-- ms of PostgreSQL per interaction created at 200 a second, the largest line of the
-- profile), and every writer waited on that one job row.
--
-- Marks are only inserted, never updated: writes never wait for each other here (two
-- batches of events marking the same customers at once included), and a customer
-- marked after the job read the marks keeps that newer mark for the next job. No
-- foreign key: a mark is a hint, and a mark of a customer erased meanwhile refreshes
-- nothing (the erasure deletes them too).
CREATE TABLE queue_pending (
    mark BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id BIGINT NOT NULL
);
