-- Model runs and per-customer scores (PostgreSQL). Never edit once applied.
--
-- model_runs: one row per `kanta score`: the chosen model, the data window, the fit
-- and holdout figures of every candidate (details, JSON), and the revenue forecast
-- (forecast, JSON: [{months, expected_minor, lower_minor, upper_minor}]).
-- customer_scores: that run's scores per customer. Scores of a run are written in
-- the same transaction as the run, so a run is never seen half-scored; scores of
-- older runs are pruned (the runs themselves are kept), so a few runs' history of
-- each customer's P(alive) stays for comparison.
-- Money is integer minor units in the run's currency; times are epoch ms (UTC).

CREATE TABLE model_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    model TEXT NOT NULL CHECK (model IN ('bgnbd','mbgnbd','pnbd')),
    spend_model TEXT CHECK (spend_model IN ('gg')),
    as_of DATE NOT NULL,
    calibration_end DATE,
    first_purchase_on DATE,
    customers BIGINT NOT NULL,
    currency TEXT,
    details JSONB NOT NULL,
    forecast JSONB NOT NULL
);

CREATE TABLE customer_scores (
    run_id BIGINT NOT NULL REFERENCES model_runs (id) ON DELETE CASCADE,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    repeat_purchases BIGINT NOT NULL,
    p_alive DOUBLE PRECISION NOT NULL,
    expected_purchases_30 DOUBLE PRECISION NOT NULL,
    expected_purchases_90 DOUBLE PRECISION NOT NULL,
    expected_purchases_365 DOUBLE PRECISION NOT NULL,
    expected_spend_minor BIGINT,
    clv_12_minor BIGINT,
    clv_36_minor BIGINT,
    tier TEXT NOT NULL CHECK (tier IN ('A','B','C','D')),
    PRIMARY KEY (run_id, customer_id)
);
CREATE INDEX customer_scores_customer_idx ON customer_scores (customer_id, run_id);
