-- The admin API's own state: server-side sessions (they survive a dispatcher restart and work
-- across replicas), failed-login throttling, and per-tenant module pauses.

CREATE TABLE IF NOT EXISTS int_session (
    -- sha256 of the cookie value: a leaked table does not hand out live sessions.
    token_hash    text PRIMARY KEY,
    user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Synchronizer token for the built-in UI's forms.
    csrf_token    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS int_session_user ON int_session (user_id);
CREATE INDEX IF NOT EXISTS int_session_expiry ON int_session (expires_at);

-- One row per failed login; the throttle counts the recent ones per (lowercased) email.
CREATE TABLE IF NOT EXISTS int_login_failure (
    id        bigserial PRIMARY KEY,
    email     text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS int_login_failure_email ON int_login_failure (email, failed_at);

-- A paused module is skipped by the scheduler for that tenant (counted as reason "paused").
CREATE TABLE IF NOT EXISTS int_module_pause (
    integration_system_id integer NOT NULL,
    module                text NOT NULL,
    paused_at             timestamptz NOT NULL DEFAULT now(),
    paused_by             text,
    PRIMARY KEY (integration_system_id, module)
);

-- Error lists are per tenant and newest first.
CREATE INDEX IF NOT EXISTS error_record_tenant_id ON error_record (integration_system_id, id);
