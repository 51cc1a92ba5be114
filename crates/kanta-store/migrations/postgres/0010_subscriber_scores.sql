-- Subscribers' scores (PostgreSQL). Never edit once applied.
--
-- customer_scores gains the subscription part of a customer's value (sBG per plan):
-- renewal_probability at the next renewal, expected_remaining_periods (DERL, discounted
-- at the run's rate), subscription_clv_12_minor / _36_minor; and the purchase part
-- apart (purchase_clv_12_minor / _36_minor). clv_12_minor and clv_36_minor are the
-- customer's whole value: the parts summed (the tier is the ABC rule over it).
-- model_runs.model may be 'none': a store with subscriptions and no orders, scored by
-- sBG alone.

ALTER TABLE model_runs DROP CONSTRAINT IF EXISTS model_runs_model_check;
ALTER TABLE model_runs ADD CONSTRAINT model_runs_model_check
    CHECK (model IN ('bgnbd','mbgnbd','pnbd','none'));

ALTER TABLE customer_scores
    ADD COLUMN purchase_clv_12_minor BIGINT,
    ADD COLUMN purchase_clv_36_minor BIGINT,
    ADD COLUMN renewal_probability DOUBLE PRECISION,
    ADD COLUMN expected_remaining_periods DOUBLE PRECISION,
    ADD COLUMN subscription_clv_12_minor BIGINT,
    ADD COLUMN subscription_clv_36_minor BIGINT;
UPDATE customer_scores SET purchase_clv_12_minor = clv_12_minor,
    purchase_clv_36_minor = clv_36_minor;
