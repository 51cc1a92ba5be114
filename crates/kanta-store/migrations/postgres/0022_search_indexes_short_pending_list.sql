-- The customers' trigram indexes (the search of the list and the API) keep a short
-- pending list. Never edit once applied.
--
-- A GIN index puts new entries in a pending list that every search reads through,
-- until a VACUUM, or the list reaching `gin_pending_list_limit` (4 MB by default),
-- moves them into the index. After the demo's 5,000 customers the list held 404
-- pages, and a search for three characters took 3 ms per index (0.02 ms after a
-- VACUUM). Turning the list off (`fastupdate = off`) would cost every update of a
-- customer that is not HOT (a tenth of the totals updates of an event ingest) an
-- insert into three GIN indexes; a list of at most 128 kB costs searches little and
-- keeps the inserts batched.
ALTER INDEX customers_name_trgm_idx SET (gin_pending_list_limit = 128);
ALTER INDEX customers_email_trgm_idx SET (gin_pending_list_limit = 128);
ALTER INDEX customers_external_id_trgm_idx SET (gin_pending_list_limit = 128);
SELECT gin_clean_pending_list('customers_name_trgm_idx'::regclass);
SELECT gin_clean_pending_list('customers_email_trgm_idx'::regclass);
SELECT gin_clean_pending_list('customers_external_id_trgm_idx'::regclass);
