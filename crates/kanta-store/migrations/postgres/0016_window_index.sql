-- Orders by time. Never edit once applied.
--
-- An offer's report (issue 14) sums the orders in the offer's window once, from this
-- index alone (it covers every column the sums read), and joins the few customers who
-- bought to the offer's members, instead of probing every member's orders in turn.

CREATE INDEX transactions_occurred_at_idx
    ON transactions (occurred_at, customer_id, kind, amount_minor, offer_code);
