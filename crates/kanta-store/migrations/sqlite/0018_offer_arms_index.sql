-- An offer's members by arm and tier. Never edit once applied.
--
-- An offer's report (issue 14) counts its members and those told per arm and tier
-- from this index alone (it covers every column the counts read), instead of reading
-- every member's row.

CREATE INDEX offer_members_arms_idx ON offer_members (offer_id, arm, tier, told_ms);
