-- Subscribers' scores (SQLite). Never edit once applied.
--
-- customer_scores gains the subscription part of a customer's value (sBG per plan):
-- renewal_probability at the next renewal, expected_remaining_periods (DERL, discounted
-- at the run's rate), subscription_clv_12_minor / _36_minor; and the purchase part
-- apart (purchase_clv_12_minor / _36_minor). clv_12_minor and clv_36_minor are the
-- customer's whole value: the parts summed (the tier is the ABC rule over it).
-- model_runs.model may be 'none': a store with subscriptions and no orders, scored by
-- sBG alone. SQLite cannot change a CHECK, so model_runs is rebuilt (its scores kept
-- aside first, since dropping the parent would cascade to them).

CREATE TABLE kanta_scores_keep AS SELECT * FROM customer_scores;
DROP TABLE customer_scores;

CREATE TABLE model_runs_new (
    id INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    model TEXT NOT NULL CHECK (model IN ('bgnbd','mbgnbd','pnbd','none')),
    spend_model TEXT CHECK (spend_model IN ('gg')),
    as_of TEXT NOT NULL,
    calibration_end TEXT,
    first_purchase_on TEXT,
    customers INTEGER NOT NULL,
    currency TEXT,
    details TEXT NOT NULL CHECK (json_valid(details)),
    forecast TEXT NOT NULL CHECK (json_valid(forecast))
) STRICT;
INSERT INTO model_runs_new (id, created_ms, model, spend_model, as_of, calibration_end,
    first_purchase_on, customers, currency, details, forecast)
SELECT id, created_ms, model, spend_model, as_of, calibration_end, first_purchase_on,
    customers, currency, details, forecast FROM model_runs;
DROP TABLE model_runs;
ALTER TABLE model_runs_new RENAME TO model_runs;

CREATE TABLE customer_scores (
    run_id INTEGER NOT NULL REFERENCES model_runs(id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    repeat_purchases INTEGER NOT NULL,
    p_alive REAL NOT NULL,
    expected_purchases_30 REAL NOT NULL,
    expected_purchases_90 REAL NOT NULL,
    expected_purchases_365 REAL NOT NULL,
    expected_spend_minor INTEGER,
    clv_12_minor INTEGER,
    clv_36_minor INTEGER,
    tier TEXT NOT NULL CHECK (tier IN ('A','B','C','D')),
    purchase_clv_12_minor INTEGER,
    purchase_clv_36_minor INTEGER,
    renewal_probability REAL,
    expected_remaining_periods REAL,
    subscription_clv_12_minor INTEGER,
    subscription_clv_36_minor INTEGER,
    PRIMARY KEY (run_id, customer_id)
) STRICT, WITHOUT ROWID;
INSERT INTO customer_scores (run_id, customer_id, repeat_purchases, p_alive,
    expected_purchases_30, expected_purchases_90, expected_purchases_365,
    expected_spend_minor, clv_12_minor, clv_36_minor, tier, purchase_clv_12_minor,
    purchase_clv_36_minor)
SELECT run_id, customer_id, repeat_purchases, p_alive, expected_purchases_30,
    expected_purchases_90, expected_purchases_365, expected_spend_minor, clv_12_minor,
    clv_36_minor, tier, clv_12_minor, clv_36_minor FROM kanta_scores_keep;
DROP TABLE kanta_scores_keep;
CREATE INDEX customer_scores_customer_idx ON customer_scores (customer_id, run_id);
