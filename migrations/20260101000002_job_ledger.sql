-- The job ledger, outbox, schedule state and leader lease of the fleet (design.md "Jobs").
-- New tables only; idempotent (IF NOT EXISTS everywhere), touches nothing of the original schema.

-- One row per job. States: scheduled -> queued -> running -> succeeded | failed | dead.
-- While running, the job holds a lease (lease_owner = worker id, lease_expires_at, heartbeat_at);
-- the rescuer returns expired leases to 'queued'.
CREATE TABLE IF NOT EXISTS int_job (
  id bigserial PRIMARY KEY,
  integration_system_id integer NOT NULL REFERENCES integration_system(id),
  module varchar(100) NOT NULL,
  kind varchar(20) NOT NULL CHECK (kind IN ('regular','error')),
  trigger varchar(20) NOT NULL CHECK (trigger IN ('schedule','manual','continuation')),
  state varchar(20) NOT NULL CHECK (state IN ('scheduled','queued','running','succeeded','failed','dead')),
  attempt integer NOT NULL DEFAULT 0,
  parent_job_id bigint REFERENCES int_job(id),
  lease_owner varchar(255),
  lease_expires_at timestamptz,
  heartbeat_at timestamptz,
  scheduled_at timestamptz NOT NULL DEFAULT now(),
  queued_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  records_synced bigint NOT NULL DEFAULT 0,
  records_failed bigint NOT NULL DEFAULT 0,
  last_error text
);
-- at most one live job per (tenant, module, kind)
CREATE UNIQUE INDEX IF NOT EXISTS int_job_one_live ON int_job (integration_system_id, module, kind) WHERE state IN ('scheduled','queued','running');
-- rescuer: running jobs whose lease expired
CREATE INDEX IF NOT EXISTS int_job_running_lease ON int_job (lease_expires_at) WHERE state = 'running';
-- relay / lag: jobs waiting to be published or picked up
CREATE INDEX IF NOT EXISTS int_job_waiting ON int_job (queued_at) WHERE state IN ('scheduled','queued');
-- admin UI: job history per tenant, newest first
CREATE INDEX IF NOT EXISTS int_job_history ON int_job (integration_system_id, scheduled_at DESC);
-- continuation chains: children of a job (also keeps the self-FK cheap to check on delete)
CREATE INDEX IF NOT EXISTS int_job_parent ON int_job (parent_job_id) WHERE parent_job_id IS NOT NULL;

-- Transactional outbox: a row is written in the same transaction as its job; the relay
-- publishes it with publisher confirms and deletes it.
CREATE TABLE IF NOT EXISTS int_outbox (
  id bigserial PRIMARY KEY,
  job_id bigint NOT NULL REFERENCES int_job(id) ON DELETE CASCADE,
  routing_key varchar(255) NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  publish_attempts integer NOT NULL DEFAULT 0,
  last_error text
);
-- ON DELETE CASCADE from int_job and per-job lookups
CREATE INDEX IF NOT EXISTS int_outbox_job_id ON int_outbox (job_id);

-- Per (tenant, module, kind) schedule bookkeeping: last fire, and overlapping runs skipped.
CREATE TABLE IF NOT EXISTS int_schedule_state (
  integration_system_id integer NOT NULL REFERENCES integration_system(id),
  module varchar(100) NOT NULL,
  kind varchar(20) NOT NULL,
  last_fired_at timestamptz,
  skipped_count bigint NOT NULL DEFAULT 0,
  last_skipped_at timestamptz,
  PRIMARY KEY (integration_system_id, module, kind)
);

-- Leader election among dispatcher replicas: one row per lease name.
CREATE TABLE IF NOT EXISTS int_leader_lease (
  name varchar(100) PRIMARY KEY,
  holder varchar(255) NOT NULL,
  acquired_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
