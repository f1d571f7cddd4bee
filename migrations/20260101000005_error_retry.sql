-- The error job's per-record backoff and attempt limit (the original retried forever).
ALTER TABLE error_record
    ADD COLUMN IF NOT EXISTS retry_count   integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS next_retry_at timestamptz,
    ADD COLUMN IF NOT EXISTS gave_up_at    timestamptz;
CREATE INDEX IF NOT EXISTS error_record_tenant_entity
    ON error_record (integration_system_id, integrating_entity_type, entity_id);
CREATE INDEX IF NOT EXISTS error_record_log_record_logged
    ON error_record_log (error_record_id, logged_at DESC);
