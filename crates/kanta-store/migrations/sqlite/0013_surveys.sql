-- Surveys, feedback analytics, kudos and ideas (SQLite). Never edit once applied.
--
-- surveys: one to three questions (JSON: [{"field": "nps", "fi": "...", "en": "..."}],
-- fields nps, csat, ces, yes_no, did_well, do_better, comment), a status (draft,
-- active, closed), an optional trigger (after an order, a resolved case, the end of
-- onboarding, send_after_days later: column send_after) and what the anonymous QR page asks (nothing, a
-- loyalty number or an email). Each change of the questions is a new version
-- (survey_versions); answers keep the version they answered.
-- feedback.survey_id, survey_version, yes_no, channel: which survey and version an
-- answer belongs to, the yes/no answer and how it came in.
-- survey_waves: a sending to a set of customers. survey_invitations: one row per
-- customer considered, invited or skipped with the reason (the invitation log); the
-- token's random id is unique, and (survey_id, token_id) in survey_tokens_used makes a
-- second answer with the same link fail in the database.
-- outbox.sending_ms: when a sender began to send a message; a message found begun and
-- not finished is not sent again (at most once).
-- feedback_themes, feedback_theme_members, feedback_theme_runs: themes found in the
-- free text and managers' edits to them (a manual label, merged_into, split words).
-- feedback_changes: "you said, we did": a change made because of a theme.
-- kudos: answers that name a staff member. ideas: the staff's ideas box.

CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','active','closed')),
    questions TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    send_after TEXT NOT NULL DEFAULT 'none'
        CHECK (send_after IN ('none','order','case_resolved','onboarding_done')),
    send_after_days INTEGER NOT NULL DEFAULT 0,
    anonymous_asks TEXT NOT NULL DEFAULT 'none' CHECK (anonymous_asks IN ('none','loyalty','email')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE UNIQUE INDEX surveys_external_id_key ON surveys (external_id);

CREATE TABLE survey_versions (
    survey_id INTEGER REFERENCES surveys(id) ON DELETE CASCADE NOT NULL,
    version INTEGER NOT NULL,
    questions TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (survey_id, version)
) STRICT;

ALTER TABLE feedback ADD COLUMN survey_id INTEGER REFERENCES surveys(id) ON DELETE SET NULL;
ALTER TABLE feedback ADD COLUMN survey_version INTEGER;
ALTER TABLE feedback ADD COLUMN yes_no INTEGER;
ALTER TABLE feedback ADD COLUMN channel TEXT
    CHECK (channel IN ('email','link','qr','api','import','page'));
CREATE INDEX feedback_survey_idx ON feedback (survey_id, answered_at);

CREATE TABLE survey_waves (
    id INTEGER PRIMARY KEY,
    survey_id INTEGER REFERENCES surveys(id) ON DELETE CASCADE NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email','link')),
    audience TEXT NOT NULL,
    considered INTEGER NOT NULL DEFAULT 0,
    invited INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX survey_waves_survey_idx ON survey_waves (survey_id, created_ms);

CREATE TABLE survey_invitations (
    id INTEGER PRIMARY KEY,
    survey_id INTEGER REFERENCES surveys(id) ON DELETE CASCADE NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE NOT NULL,
    wave_id INTEGER REFERENCES survey_waves(id) ON DELETE CASCADE,
    trigger_key TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('email','link')),
    status TEXT NOT NULL CHECK (status IN ('invited','skipped','answered')),
    reason TEXT,
    token_id TEXT,
    language TEXT,
    mail_id INTEGER,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    reminded_ms INTEGER,
    answered_ms INTEGER,
    feedback_id INTEGER REFERENCES feedback(id) ON DELETE SET NULL
) STRICT;
CREATE UNIQUE INDEX survey_invitations_token_key ON survey_invitations (token_id);
CREATE UNIQUE INDEX survey_invitations_wave_key ON survey_invitations (wave_id, customer_id);
CREATE UNIQUE INDEX survey_invitations_trigger_key ON survey_invitations (trigger_key);
CREATE INDEX survey_invitations_customer_idx ON survey_invitations (customer_id, created_ms);
CREATE INDEX survey_invitations_survey_idx ON survey_invitations (survey_id, status, created_ms);

CREATE TABLE survey_tokens_used (
    survey_id INTEGER REFERENCES surveys(id) ON DELETE CASCADE NOT NULL,
    token_id TEXT NOT NULL,
    used_ms INTEGER NOT NULL,
    PRIMARY KEY (survey_id, token_id)
) STRICT;

ALTER TABLE outbox ADD COLUMN sending_ms INTEGER;

CREATE TABLE feedback_themes (
    id INTEGER PRIMARY KEY,
    theme_key TEXT NOT NULL,
    label TEXT NOT NULL,
    manual_label INTEGER NOT NULL DEFAULT 0,
    words TEXT NOT NULL,
    merged_into INTEGER REFERENCES feedback_themes(id) ON DELETE SET NULL,
    split_words TEXT,
    split_from INTEGER REFERENCES feedback_themes(id) ON DELETE SET NULL,
    answers INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX feedback_themes_key ON feedback_themes (theme_key);

CREATE TABLE feedback_theme_members (
    feedback_id INTEGER REFERENCES feedback(id) ON DELETE CASCADE NOT NULL,
    field TEXT NOT NULL,
    theme_id INTEGER REFERENCES feedback_themes(id) ON DELETE CASCADE NOT NULL,
    weight REAL NOT NULL,
    PRIMARY KEY (feedback_id, field)
) STRICT;
CREATE INDEX feedback_theme_members_theme_idx ON feedback_theme_members (theme_id, feedback_id);

CREATE TABLE feedback_theme_runs (
    id INTEGER PRIMARY KEY,
    ran_ms INTEGER NOT NULL,
    answers INTEGER NOT NULL,
    themes INTEGER NOT NULL,
    millis INTEGER NOT NULL,
    details TEXT NOT NULL
) STRICT;

CREATE TABLE feedback_changes (
    id INTEGER PRIMARY KEY,
    theme_id INTEGER REFERENCES feedback_themes(id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    description TEXT,
    changed_on TEXT NOT NULL,
    notify INTEGER NOT NULL DEFAULT 0,
    notified INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX feedback_changes_theme_idx ON feedback_changes (theme_id, changed_on);

CREATE TABLE kudos (
    feedback_id INTEGER REFERENCES feedback(id) ON DELETE CASCADE NOT NULL,
    staff_id INTEGER REFERENCES staff(id) ON DELETE CASCADE NOT NULL,
    matched TEXT NOT NULL,
    answered_ms INTEGER NOT NULL,
    PRIMARY KEY (feedback_id, staff_id)
) STRICT;
CREATE INDEX kudos_staff_idx ON kudos (staff_id, answered_ms);

CREATE TABLE ideas (
    id INTEGER PRIMARY KEY,
    submitted_by INTEGER NOT NULL,
    body TEXT NOT NULL,
    customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    theme_id INTEGER REFERENCES feedback_themes(id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new','considered','doing','done','declined')),
    reply TEXT,
    replied_by INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX ideas_submitter_idx ON ideas (submitted_by, created_ms);
CREATE INDEX ideas_status_idx ON ideas (status, created_ms);
