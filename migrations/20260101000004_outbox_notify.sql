-- Wake the relay whenever outbox rows are inserted, without an extra round trip per job.
-- Postgres folds identical notifications of one transaction into one.
CREATE OR REPLACE FUNCTION int_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('avni_int_outbox', '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS int_outbox_notify ON int_outbox;
CREATE TRIGGER int_outbox_notify AFTER INSERT ON int_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION int_outbox_notify();
