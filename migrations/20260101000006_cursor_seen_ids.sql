-- An Avni cursor is a millisecond plus the IDs already delivered at it (more than a page of
-- records can share one millisecond; contracts/avni.md §4). The IDs live beside the time.
ALTER TABLE integrating_entity_status ADD COLUMN IF NOT EXISTS read_upto_seen_ids jsonb;
