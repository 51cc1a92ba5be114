-- Privacy (SQLite). Never edit once applied.
--
-- write_context: one row inside a write's transaction (inserted after BEGIN, deleted
-- before COMMIT, so no other connection ever sees it) saying where the write comes
-- from: the consent triggers copy it into the ledger, and `unlock` = 1 lets an erasure
-- or a retention run change the append-only tables (the audit log, the consent ledger).
-- consent_entries: the consent ledger, append-only: every change of survey or marketing
-- consent and of "do not contact", with its time, source, wording version and address,
-- written by the triggers below on whatever path changes a customer (import, API,
-- pages, unsubscribe links, double opt-in).
-- consent_requests: double opt-in for marketing: a mailed link's token digest.
-- customers.do_not_contact: no contact at all, apart from both consents.
-- customers.erased_at: when the customer's personal data was erased (the row stays,
-- anonymised, so orders still count in the figures).

CREATE TABLE write_context (
    source TEXT NOT NULL,
    actor TEXT,
    address TEXT,
    wording TEXT,
    unlock INTEGER NOT NULL DEFAULT 0
) STRICT;

ALTER TABLE customers ADD COLUMN do_not_contact INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN erased_at TEXT;

CREATE TABLE consent_entries (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    at_ms INTEGER NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('survey','marketing','do_not_contact')),
    value INTEGER,
    stated_at TEXT,
    source TEXT NOT NULL,
    wording TEXT,
    address TEXT,
    actor TEXT
) STRICT;
CREATE INDEX consent_entries_customer_idx ON consent_entries (customer_id, id);

CREATE TRIGGER consent_entries_no_update BEFORE UPDATE ON consent_entries
WHEN NOT EXISTS (SELECT 1 FROM write_context WHERE unlock = 1)
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only: entries are never changed');
END;
CREATE TRIGGER consent_entries_no_delete BEFORE DELETE ON consent_entries
WHEN NOT EXISTS (SELECT 1 FROM write_context WHERE unlock = 1)
BEGIN
    SELECT RAISE(ABORT, 'the consent ledger is append-only: entries are never deleted');
END;

CREATE TRIGGER customers_consent_insert AFTER INSERT ON customers
WHEN NEW.survey_consent IS NOT NULL OR NEW.marketing_consent IS NOT NULL OR NEW.do_not_contact = 1
BEGIN
    INSERT INTO consent_entries (customer_id, at_ms, purpose, value, stated_at, source, wording, address, actor)
    SELECT NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), p.purpose, p.value,
           p.stated_at, coalesce(c.source, 'store'), c.wording, c.address, c.actor
    FROM (SELECT 'survey' AS purpose, NEW.survey_consent AS value, NEW.survey_consent_at AS stated_at
          WHERE NEW.survey_consent IS NOT NULL
          UNION ALL SELECT 'marketing', NEW.marketing_consent, NEW.marketing_consent_at
          WHERE NEW.marketing_consent IS NOT NULL
          UNION ALL SELECT 'do_not_contact', 1, NULL WHERE NEW.do_not_contact = 1) AS p
    LEFT JOIN (SELECT * FROM write_context LIMIT 1) AS c ON 1 = 1;
END;

CREATE TRIGGER customers_consent_update AFTER UPDATE OF survey_consent, marketing_consent, do_not_contact ON customers
WHEN NEW.survey_consent IS NOT OLD.survey_consent OR NEW.marketing_consent IS NOT OLD.marketing_consent
     OR NEW.do_not_contact IS NOT OLD.do_not_contact
BEGIN
    INSERT INTO consent_entries (customer_id, at_ms, purpose, value, stated_at, source, wording, address, actor)
    SELECT NEW.id, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), p.purpose, p.value,
           p.stated_at, coalesce(c.source, 'store'), c.wording, c.address, c.actor
    FROM (SELECT 'survey' AS purpose, NEW.survey_consent AS value, NEW.survey_consent_at AS stated_at
          WHERE NEW.survey_consent IS NOT OLD.survey_consent
          UNION ALL SELECT 'marketing', NEW.marketing_consent, NEW.marketing_consent_at
          WHERE NEW.marketing_consent IS NOT OLD.marketing_consent
          UNION ALL SELECT 'do_not_contact', NEW.do_not_contact, NULL
          WHERE NEW.do_not_contact IS NOT OLD.do_not_contact) AS p
    LEFT JOIN (SELECT * FROM write_context LIMIT 1) AS c ON 1 = 1;
END;

CREATE TABLE consent_requests (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('marketing')),
    token_digest TEXT NOT NULL,
    wording TEXT,
    address TEXT,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    confirmed_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX consent_requests_token_idx ON consent_requests (token_digest);
CREATE INDEX consent_requests_customer_idx ON consent_requests (customer_id);

-- The audit log stays append-only, except inside an erasure or a retention run.
DROP TRIGGER audit_log_no_update;
DROP TRIGGER audit_log_no_delete;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM write_context WHERE unlock = 1)
    OR NEW.id IS NOT OLD.id OR NEW.at_ms IS NOT OLD.at_ms OR NEW.action IS NOT OLD.action
    OR NEW.entity IS NOT OLD.entity OR NEW.channel IS NOT OLD.channel
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries are never changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM write_context WHERE unlock = 1)
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: entries are never deleted');
END;
