-- Whom to contact today (SQLite). Never edit once applied.
--
-- interactions.purpose: what a contact was about (check_in, service, sales, renewal,
-- onboarding, other); a proactive contact that is not sales or renewal counts for the
-- contact cadence.
-- users.weekly_digest: the user wants the weekly digest mail of their queue (1) or not.
-- customers.health_score, health_probability, health_change_30: the newest health
-- score (0-100), its churn probability and its change over 30 days, kept by the daily
-- health job for the list's sorts and filters.
-- onboarding_templates, onboarding_steps: checklists per segment or plan, steps with a
-- due offset in days from the start, an owner role and optional text for the customer.
-- onboardings, onboarding_tasks: a customer's checklist started from a template, each
-- step with its due day and when it was done.
-- goals, goal_notes: goals agreed with the customer (measure, baseline, target, due
-- date, status) and dated progress notes.
-- goal_links: signed links that show a customer's goals without signing in (only the
-- token's digest is kept), with an expiry and a revocation.
-- health_models: each fit of the health score (learned or expert weights), its
-- validation and weights as JSON. health_scores: each customer's daily score with its
-- factors (JSON). contact_queue: today's queue, one row per customer with reasons.
-- queue_actions: contacts logged, snoozes and dismissals from the queue.

ALTER TABLE interactions ADD COLUMN purpose TEXT
    CHECK (purpose IN ('check_in','service','sales','renewal','onboarding','other'));
CREATE INDEX interactions_proactive_idx ON interactions (customer_id, proactive, occurred_at);

ALTER TABLE users ADD COLUMN weekly_digest INTEGER NOT NULL DEFAULT 1;

ALTER TABLE customers ADD COLUMN health_score INTEGER;
ALTER TABLE customers ADD COLUMN health_probability REAL;
ALTER TABLE customers ADD COLUMN health_change_30 INTEGER;
CREATE INDEX customers_health_score_idx ON customers (health_score, id);

CREATE TABLE onboarding_templates (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    segment TEXT,
    plan TEXT,
    auto_start INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX onboarding_templates_external_id_key ON onboarding_templates (external_id);

CREATE TABLE onboarding_steps (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    template_id INTEGER REFERENCES onboarding_templates(id) ON DELETE CASCADE NOT NULL,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    due_days INTEGER NOT NULL,
    owner_role TEXT,
    customer_text TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX onboarding_steps_external_id_key ON onboarding_steps (external_id);
CREATE INDEX onboarding_steps_template_idx ON onboarding_steps (template_id, position);

CREATE TABLE onboardings (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    template_id INTEGER REFERENCES onboarding_templates(id) ON DELETE CASCADE NOT NULL,
    started_on TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','completed','cancelled')),
    completed_on TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX onboardings_external_id_key ON onboardings (external_id);
CREATE INDEX onboardings_customer_id_started_on_idx ON onboardings (customer_id, started_on);
CREATE INDEX onboardings_template_idx ON onboardings (template_id, status);

CREATE TABLE onboarding_tasks (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    onboarding_id INTEGER REFERENCES onboardings(id) ON DELETE CASCADE NOT NULL,
    step_id INTEGER REFERENCES onboarding_steps(id) ON DELETE CASCADE NOT NULL,
    due_on TEXT NOT NULL,
    done_at TEXT,
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    note TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX onboarding_tasks_external_id_key ON onboarding_tasks (external_id);
CREATE INDEX onboarding_tasks_onboarding_idx ON onboarding_tasks (onboarding_id, due_on);
CREATE INDEX onboarding_tasks_open_due_idx ON onboarding_tasks (due_on) WHERE done_at IS NULL;

CREATE TABLE goals (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    agreed_on TEXT NOT NULL,
    title TEXT NOT NULL,
    measure TEXT,
    baseline REAL,
    target REAL,
    current REAL,
    due_on TEXT,
    status TEXT NOT NULL DEFAULT 'on_track' CHECK (status IN ('on_track','at_risk','achieved','missed')),
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX goals_external_id_key ON goals (external_id);
CREATE INDEX goals_customer_id_agreed_on_idx ON goals (customer_id, agreed_on);
CREATE INDEX goals_status_due_idx ON goals (status, due_on);

CREATE TABLE goal_notes (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    goal_id INTEGER REFERENCES goals(id) ON DELETE CASCADE NOT NULL,
    noted_on TEXT NOT NULL,
    value REAL,
    note TEXT NOT NULL,
    staff_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX goal_notes_external_id_key ON goal_notes (external_id);
CREATE INDEX goal_notes_goal_idx ON goal_notes (goal_id, noted_on);

CREATE TABLE goal_links (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    token_digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    created_by INTEGER
) STRICT;
CREATE UNIQUE INDEX goal_links_token_key ON goal_links (token_digest);
CREATE INDEX goal_links_customer_idx ON goal_links (customer_id);

CREATE TABLE health_models (
    id INTEGER PRIMARY KEY,
    fitted_at TEXT NOT NULL,
    as_of TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('learned','expert')),
    events INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    details TEXT NOT NULL
) STRICT;

CREATE TABLE health_scores (
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    day TEXT NOT NULL,
    model_id INTEGER REFERENCES health_models(id) ON DELETE CASCADE NOT NULL,
    score INTEGER NOT NULL,
    probability REAL NOT NULL,
    logit REAL NOT NULL,
    factors TEXT NOT NULL,
    PRIMARY KEY (customer_id, day)
) STRICT;
CREATE INDEX health_scores_day_idx ON health_scores (day);

CREATE TABLE contact_queue (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    owner_id INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    tier TEXT,
    value_at_risk_minor INTEGER NOT NULL,
    currency TEXT,
    churn_probability REAL NOT NULL,
    reasons TEXT NOT NULL,
    reason_keys TEXT NOT NULL,
    computed_at TEXT NOT NULL
) STRICT;
CREATE INDEX contact_queue_value_idx ON contact_queue (value_at_risk_minor DESC, customer_id);
CREATE INDEX contact_queue_owner_value_idx ON contact_queue (owner_id, value_at_risk_minor DESC, customer_id);

CREATE TABLE queue_actions (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('contacted','snoozed','dismissed')),
    until_on TEXT,
    reason TEXT,
    reason_keys TEXT NOT NULL,
    interaction_id INTEGER REFERENCES interactions(id) ON DELETE SET NULL,
    user_id INTEGER,
    acted_at TEXT NOT NULL
) STRICT;
CREATE INDEX queue_actions_customer_idx ON queue_actions (customer_id, acted_at);
CREATE INDEX queue_actions_acted_at_idx ON queue_actions (acted_at);

-- usage_events by customer and time: the customer page finds the newest reading and
-- sums the last weeks from it without sorting all of a customer's readings.
CREATE INDEX usage_events_customer_occurred_idx ON usage_events (customer_id, occurred_at, id);
