-- Goonj ad-hoc tasks run as jobs of the ledger (contracts/goonj.md §7). A task is fired once:
-- the job that runs it is written in the same transaction as the task's job_id, and the job
-- carries the task. New columns and indexes only; the original columns stay as they are.

-- The first job of the task; NULL until fired. No FK: the ledger's retention must stay free
-- to remove old jobs, and a task must never fire again because its job was removed.
ALTER TABLE goonj_adhoc_task ADD COLUMN IF NOT EXISTS job_id bigint;

-- The ad-hoc task a job runs; NULL for scheduled and manual jobs.
ALTER TABLE int_job ADD COLUMN IF NOT EXISTS adhoc_task_id integer REFERENCES goonj_adhoc_task(id);

-- One live job per (tenant, module, kind) among ordinary jobs: an ad-hoc job neither blocks
-- nor is blocked by the tenant's scheduled run.
DROP INDEX IF EXISTS int_job_one_live;
CREATE UNIQUE INDEX IF NOT EXISTS int_job_one_live ON int_job (integration_system_id, module, kind)
  WHERE state IN ('scheduled','queued','running') AND adhoc_task_id IS NULL;
-- and one live job per ad-hoc task
CREATE UNIQUE INDEX IF NOT EXISTS int_job_one_live_adhoc ON int_job (adhoc_task_id)
  WHERE state IN ('scheduled','queued','running') AND adhoc_task_id IS NOT NULL;

-- the firer: tasks waiting for their trigger
CREATE INDEX IF NOT EXISTS goonj_adhoc_task_waiting ON goonj_adhoc_task (trigger_date_time)
  WHERE status = 'CREATED' AND job_id IS NULL;
-- the API: a tenant's tasks by uuid
CREATE INDEX IF NOT EXISTS goonj_adhoc_task_tenant_uuid ON goonj_adhoc_task (integration_system_id, uuid);
