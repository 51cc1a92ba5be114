-- Model runs and per-customer scores (SQLite). Never edit once applied.
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
    id INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    model TEXT NOT NULL CHECK (model IN ('bgnbd','mbgnbd','pnbd')),
    spend_model TEXT CHECK (spend_model IN ('gg')),
    as_of TEXT NOT NULL,
    calibration_end TEXT,
    first_purchase_on TEXT,
    customers INTEGER NOT NULL,
    currency TEXT,
    details TEXT NOT NULL CHECK (json_valid(details)),
    forecast TEXT NOT NULL CHECK (json_valid(forecast))
) STRICT;

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
    PRIMARY KEY (run_id, customer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_scores_customer_idx ON customer_scores (customer_id, run_id);
