-- A continuation resumes at the step its predecessor ran out of time in; the rescuer and the
-- relay rebuild messages from the ledger, so the ledger keeps it.
ALTER TABLE int_job ADD COLUMN IF NOT EXISTS resume_step varchar(100);
