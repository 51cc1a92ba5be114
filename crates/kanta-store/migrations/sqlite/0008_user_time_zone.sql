-- A user's own time zone (an IANA name such as America/New_York, checked by the
-- application against the time zone database); NULL follows the store's time zone.
ALTER TABLE users ADD COLUMN time_zone TEXT;
