-- The admin error list: newest logs of one tenant, paged, counted and filtered, fast at a
-- million logs. The tenant lives on error_record, so a tenant's logs in logged_at order needed
-- a join and a sort of every log of the tenant; the log now carries its record's tenant (kept
-- by a trigger, so every writer, including the original's SQL, fills it) and is indexed by it.
-- Adding a nullable column and indexes changes no existing row's original columns.

ALTER TABLE error_record_log ADD COLUMN IF NOT EXISTS integration_system_id integer;

CREATE OR REPLACE FUNCTION error_record_log_set_tenant() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    -- Always from the parent record: a writer cannot file a log under another tenant.
    SELECT r.integration_system_id INTO NEW.integration_system_id
      FROM error_record r WHERE r.id = NEW.error_record_id;
    RETURN NEW;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger
                    WHERE tgname = 'error_record_log_tenant'
                      AND tgrelid = 'error_record_log'::regclass) THEN
        CREATE TRIGGER error_record_log_tenant
            BEFORE INSERT OR UPDATE OF error_record_id, integration_system_id ON error_record_log
            FOR EACH ROW EXECUTE FUNCTION error_record_log_set_tenant();
    END IF;
END
$$;

UPDATE error_record_log l
   SET integration_system_id = r.integration_system_id
  FROM error_record r
 WHERE r.id = l.error_record_id
   AND l.integration_system_id IS DISTINCT FROM r.integration_system_id;

-- First, filtered-by-date and deep pages, and totalElements, as index-only scans (the record
-- and type ids included for the counts of an entity or type search).
CREATE INDEX IF NOT EXISTS error_record_log_tenant_logged
    ON error_record_log (integration_system_id, logged_at DESC, id DESC)
    INCLUDE (error_record_id, error_type_id);
-- "Logs of this error type", newest first (a type belongs to one tenant).
CREATE INDEX IF NOT EXISTS error_record_log_type_logged
    ON error_record_log (error_type_id, logged_at DESC, id DESC);
-- Entity search (contains) scans the tenant's entity ids in the index, not the records...
CREATE INDEX IF NOT EXISTS error_record_tenant_entity_id
    ON error_record (integration_system_id, entity_id) INCLUDE (id);
-- ...or, where pg_trgm can be had (a trusted extension since PostgreSQL 13), finds them by
-- trigram. Without it the search still works, scanning the index above.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN others THEN
        RAISE NOTICE 'pg_trgm unavailable (%); entity search scans the tenant''s entity ids', SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX IF NOT EXISTS error_record_entity_trgm
                     ON error_record USING gin (entity_id gin_trgm_ops)';
    END IF;
END
$$;
