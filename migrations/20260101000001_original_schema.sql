-- The schema of the Java avniproject/integration-service, as its Flyway migrations left it
-- (contracts/original-service.md §1 and the module contracts).
--
-- This migration must run both on an empty database and on a production database that the
-- Java service's Flyway already created and filled. Rules it follows:
--   * only CREATE TABLE IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, CREATE INDEX IF NOT EXISTS;
--   * constraints are added by DO blocks that first look in pg_constraint (and pg_index) for an
--     equivalent constraint of ANY name (Flyway-era databases use Postgres-generated names);
--   * nothing is ever dropped, renamed, retyped, re-defaulted or rewritten, and no rows are
--     inserted, updated or deleted;
--   * a missing unique constraint is not added when existing rows would violate it (WARNING
--     instead); a missing FK or CHECK is added NOT VALID when the table already has rows, so
--     historical rows are never re-checked and the migration cannot fail on them.
--
-- Encodings kept from the original (do not "fix" them here):
--   * error_type.comparison_operator and error_type.follow_up_step are varchar holding ordinal
--     strings: operator '0' EQUALS, '1' CONTAINS, '2' MATCHES; follow-up '0' Process,
--     '1' Terminal, '2' Internal, '3' External. Some rows hold the name (e.g. 'Terminal').
--   * timestamps are `timestamp without time zone`, as Hibernate wrote them.
--   * integrating_entity_status keeps its old serial sequence name on Flyway-era databases
--     (bahmni_entity_status_id_seq); use pg_get_serial_sequence(), never a guessed name.

-- ---------------------------------------------------------------------------------------------
-- Core tables
-- ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS integration_system (
    id          serial PRIMARY KEY,
    name        varchar(250),
    system_type varchar(255) NOT NULL DEFAULT '',
    uuid        varchar(255) NOT NULL,
    is_voided   boolean DEFAULT false
);
ALTER TABLE integration_system
    ADD COLUMN IF NOT EXISTS system_type varchar(255) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS uuid        varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided   boolean DEFAULT false;

CREATE TABLE IF NOT EXISTS integration_system_config (
    id                    serial PRIMARY KEY,
    integration_system_id integer NOT NULL,
    key                   varchar(255),
    value                 varchar(10000),
    uuid                  varchar(255) NOT NULL,
    is_voided             boolean DEFAULT false,
    is_secret             boolean DEFAULT false
);
ALTER TABLE integration_system_config
    ADD COLUMN IF NOT EXISTS uuid      varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS is_secret boolean DEFAULT false;

-- The sync cursors. One of read_upto_numeric / read_upto_date_time is set.
-- integration_system_id is nullable in the original (added late to a renamed table); kept so.
CREATE TABLE IF NOT EXISTS integrating_entity_status (
    id                    serial PRIMARY KEY,
    entity_type           varchar(100) NOT NULL,
    read_upto_numeric     integer,
    read_upto_date_time   timestamp without time zone,
    integration_system_id integer,
    uuid                  varchar(255) NOT NULL,
    is_voided             boolean DEFAULT false
);
ALTER TABLE integrating_entity_status
    ADD COLUMN IF NOT EXISTS read_upto_date_time   timestamp without time zone,
    ADD COLUMN IF NOT EXISTS integration_system_id integer,
    ADD COLUMN IF NOT EXISTS uuid                  varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided             boolean DEFAULT false;

CREATE TABLE IF NOT EXISTS mapping_group (
    id                    serial PRIMARY KEY,
    name                  varchar(250),
    integration_system_id integer NOT NULL,
    uuid                  varchar(255) NOT NULL,
    is_voided             boolean DEFAULT false
);
ALTER TABLE mapping_group
    ADD COLUMN IF NOT EXISTS uuid      varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided boolean DEFAULT false;

CREATE TABLE IF NOT EXISTS mapping_type (
    id                    serial PRIMARY KEY,
    name                  varchar(250),
    integration_system_id integer NOT NULL,
    uuid                  varchar(255) NOT NULL,
    is_voided             boolean DEFAULT false
);
ALTER TABLE mapping_type
    ADD COLUMN IF NOT EXISTS uuid      varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided boolean DEFAULT false;

-- data_type_hint: Coded, Date, Numeric, Text, Boolean, NA, DateTime (or null).
CREATE TABLE IF NOT EXISTS mapping_metadata (
    id                    serial PRIMARY KEY,
    int_system_value      varchar(250),
    avni_value            varchar(250),
    about                 varchar(1000),
    data_type_hint        varchar(100),
    integration_system_id integer NOT NULL,
    mapping_group_id      integer,
    mapping_type_id       integer,
    uuid                  varchar(255) NOT NULL,
    is_voided             boolean DEFAULT false
);
ALTER TABLE mapping_metadata
    ADD COLUMN IF NOT EXISTS about            varchar(1000),
    ADD COLUMN IF NOT EXISTS data_type_hint   varchar(100),
    ADD COLUMN IF NOT EXISTS mapping_group_id integer,
    ADD COLUMN IF NOT EXISTS mapping_type_id  integer,
    ADD COLUMN IF NOT EXISTS uuid             varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided        boolean DEFAULT false;

CREATE TABLE IF NOT EXISTS error_type (
    id                    serial PRIMARY KEY,
    name                  varchar(250),
    integration_system_id integer NOT NULL,
    comparison_operator   varchar(255) DEFAULT NULL,   -- ordinal string, see header
    comparison_value      text DEFAULT NULL,
    follow_up_step        varchar(255) DEFAULT '0',    -- ordinal string, see header
    uuid                  varchar(255) NOT NULL,
    is_voided             boolean DEFAULT false,
    required_action       text                         -- new: what ops must do to fix it
);
ALTER TABLE error_type
    ADD COLUMN IF NOT EXISTS comparison_operator varchar(255) DEFAULT NULL,
    ADD COLUMN IF NOT EXISTS comparison_value    text DEFAULT NULL,
    ADD COLUMN IF NOT EXISTS follow_up_step      varchar(255) DEFAULT '0',
    ADD COLUMN IF NOT EXISTS uuid                varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided           boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS required_action     text;

-- One row per failing entity; deleted when the entity later syncs (logs cascade).
-- processing_disabled: the Flyway-era column may carry DEFAULT true (V1_14); always write it
-- explicitly.
CREATE TABLE IF NOT EXISTS error_record (
    id                      serial PRIMARY KEY,
    integrating_entity_type varchar(250),
    avni_entity_type        varchar(250),
    entity_id               varchar(250) NOT NULL,
    processing_disabled     boolean NOT NULL DEFAULT false,
    integration_system_id   integer NOT NULL,
    uuid                    varchar(255) NOT NULL,
    is_voided               boolean DEFAULT false
);
ALTER TABLE error_record
    ADD COLUMN IF NOT EXISTS processing_disabled boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS uuid                varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided           boolean DEFAULT false;

-- The newest logged_at is "the" error of a record. error_body = the payload that was sent.
CREATE TABLE IF NOT EXISTS error_record_log (
    id              serial PRIMARY KEY,
    logged_at       timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    error_record_id integer NOT NULL,
    error_type_id   integer NOT NULL,
    error_msg       text DEFAULT NULL,
    error_body      jsonb,
    uuid            varchar(255) NOT NULL,
    is_voided       boolean DEFAULT false
);
ALTER TABLE error_record_log
    ADD COLUMN IF NOT EXISTS error_msg  text DEFAULT NULL,
    ADD COLUMN IF NOT EXISTS error_body jsonb,
    ADD COLUMN IF NOT EXISTS uuid       varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided  boolean DEFAULT false;

-- password: bcrypt ($2a$10$...), as Spring Security's BCryptPasswordEncoder wrote it.
CREATE TABLE IF NOT EXISTS users (
    id                            serial PRIMARY KEY,
    email                         varchar(250) NOT NULL,
    password                      varchar(250) NOT NULL,
    working_integration_system_id integer NOT NULL,
    uuid                          varchar(255) NOT NULL,
    is_voided                     boolean DEFAULT false
);
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS uuid      varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided boolean DEFAULT false;

-- ---------------------------------------------------------------------------------------------
-- Module-specific tables
-- ---------------------------------------------------------------------------------------------

-- Bahmni: global key/value constants (no tenant column in the original).
CREATE TABLE IF NOT EXISTS constants (
    id        serial PRIMARY KEY,
    key       varchar(250) NOT NULL,
    value     varchar(250) NOT NULL,
    uuid      varchar(255) NOT NULL,
    is_voided boolean DEFAULT false
);
ALTER TABLE constants
    ADD COLUMN IF NOT EXISTS uuid      varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided boolean DEFAULT false;

-- Bahmni: OpenMRS concept uuids never synced (no tenant column in the original).
CREATE TABLE IF NOT EXISTS ignored_integrating_concept (
    id         serial PRIMARY KEY,
    concept_id varchar(250) NOT NULL,
    uuid       varchar(255) NOT NULL,
    is_voided  boolean DEFAULT false
);
ALTER TABLE ignored_integrating_concept
    ADD COLUMN IF NOT EXISTS uuid      varchar(255),
    ADD COLUMN IF NOT EXISTS is_voided boolean DEFAULT false;

-- Goonj ad-hoc tasks. status: CREATED -> COMPLETED | ERROR. Times are IST wall clock.
-- is_voided has no default in the original; always write it.
CREATE TABLE IF NOT EXISTS goonj_adhoc_task (
    id                      serial PRIMARY KEY,
    uuid                    varchar(255) NOT NULL,
    integration_system_id   integer NOT NULL,
    is_voided               boolean,
    integration_task        varchar(255) NOT NULL,
    task_config             jsonb,
    trigger_date_time       timestamp without time zone NOT NULL,
    cut_off_date_time       timestamp without time zone NOT NULL,
    status                  varchar(255) NOT NULL,
    created_date_time       timestamp without time zone NOT NULL,
    last_modified_date_time timestamp without time zone NOT NULL
);

-- Bahmni atom-feed client (ict4h atomfeed schema).
CREATE TABLE IF NOT EXISTS markers (
    id                           serial PRIMARY KEY,
    feed_uri_for_last_read_entry varchar(250) NOT NULL,
    feed_uri                     varchar(250) NOT NULL,
    last_read_entry_id           varchar(250) NOT NULL
);

CREATE TABLE IF NOT EXISTS failed_events (
    id              serial PRIMARY KEY,
    feed_uri        varchar(255),
    failed_at       timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
    error_message   varchar(4000),
    event_id        varchar(255),
    event_content   varchar(4000),
    error_hash_code integer,
    title           varchar(255),
    retries         integer NOT NULL DEFAULT 0,
    tags            varchar(255)
);

-- ---------------------------------------------------------------------------------------------
-- Constraints. Each spec: table, name used when we add it, kind, columns, definition, and for
-- FKs the referenced table. "Already there" = a constraint of the same kind on the same column
-- set (and, for FKs, the same referenced table) under any name, or for uniques also a unique
-- index on that column set, or any constraint on the table with our name.
-- ---------------------------------------------------------------------------------------------
DO $$
DECLARE
    s          record;
    want_cols  text[];
    has_rows   boolean;
    dupes      boolean;
BEGIN
    FOR s IN
        SELECT * FROM (VALUES
            -- uniques (names as the original Flyway migrations gave them, where known)
            ('integration_system', 'unique_system_name', 'u', ARRAY['name'], 'UNIQUE (name)', NULL),
            ('integration_system', 'integration_system_uuid_key', 'u', ARRAY['uuid'], 'UNIQUE (uuid)', NULL),
            ('integration_system_config', 'integration_system_config_integration_system_id_key_key', 'u',
                ARRAY['integration_system_id', 'key'], 'UNIQUE (integration_system_id, key)', NULL),
            ('integration_system_config', 'integration_system_config_integration_system_id_uuid_key', 'u',
                ARRAY['integration_system_id', 'uuid'], 'UNIQUE (integration_system_id, uuid)', NULL),
            ('integrating_entity_status', 'entity_type_for_integration_system', 'u',
                ARRAY['entity_type', 'integration_system_id'], 'UNIQUE (entity_type, integration_system_id)', NULL),
            ('integrating_entity_status', 'integrating_entity_status_integration_system_id_uuid_key', 'u',
                ARRAY['integration_system_id', 'uuid'], 'UNIQUE (integration_system_id, uuid)', NULL),
            ('mapping_group', 'mapping_group_integration_system_id_uuid_key', 'u',
                ARRAY['integration_system_id', 'uuid'], 'UNIQUE (integration_system_id, uuid)', NULL),
            ('mapping_type', 'mapping_type_integration_system_id_uuid_key', 'u',
                ARRAY['integration_system_id', 'uuid'], 'UNIQUE (integration_system_id, uuid)', NULL),
            ('mapping_metadata', 'mapping_metadata_integration_system_id_uuid_key', 'u',
                ARRAY['integration_system_id', 'uuid'], 'UNIQUE (integration_system_id, uuid)', NULL),
            ('error_type', 'error_type_integration_system_id_uuid_key', 'u',
                ARRAY['integration_system_id', 'uuid'], 'UNIQUE (integration_system_id, uuid)', NULL),
            ('error_record', 'error_record_integration_system_id_uuid_key', 'u',
                ARRAY['integration_system_id', 'uuid'], 'UNIQUE (integration_system_id, uuid)', NULL),
            ('users', 'users_working_integration_system_id_uuid_key', 'u',
                ARRAY['working_integration_system_id', 'uuid'], 'UNIQUE (working_integration_system_id, uuid)', NULL),
            ('ignored_integrating_concept', 'ignored_integrating_concept_concept_id_key', 'u',
                ARRAY['concept_id'], 'UNIQUE (concept_id)', NULL),
            -- checks
            ('integrating_entity_status', 'all_read_upto_cannot_be_null', 'c',
                ARRAY['read_upto_numeric', 'read_upto_date_time'],
                'CHECK ((read_upto_numeric IS NOT NULL) OR (read_upto_date_time IS NOT NULL))', NULL),
            ('error_record', 'error_record_check', 'c',
                ARRAY['integrating_entity_type', 'avni_entity_type'],
                'CHECK ((integrating_entity_type IS NOT NULL) OR (avni_entity_type IS NOT NULL))', NULL),
            -- foreign keys
            ('integration_system_config', 'integration_system_config_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('integrating_entity_status', 'integrating_entity_status_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('mapping_group', 'mapping_group_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('mapping_type', 'mapping_type_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('mapping_metadata', 'mapping_metadata_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('mapping_metadata', 'mapping_metadata_mapping_group_id_fkey', 'f',
                ARRAY['mapping_group_id'], 'FOREIGN KEY (mapping_group_id) REFERENCES mapping_group (id)', 'mapping_group'),
            ('mapping_metadata', 'mapping_metadata_mapping_type_id_fkey', 'f',
                ARRAY['mapping_type_id'], 'FOREIGN KEY (mapping_type_id) REFERENCES mapping_type (id)', 'mapping_type'),
            ('error_type', 'error_type_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('error_record', 'error_record_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('error_record_log', 'error_record_log_error_record', 'f',
                ARRAY['error_record_id'], 'FOREIGN KEY (error_record_id) REFERENCES error_record (id) ON DELETE CASCADE', 'error_record'),
            ('error_record_log', 'error_record_log_error_type_id_fkey', 'f',
                ARRAY['error_type_id'], 'FOREIGN KEY (error_type_id) REFERENCES error_type (id)', 'error_type'),
            ('users', 'users_working_integration_system_id_fkey', 'f',
                ARRAY['working_integration_system_id'], 'FOREIGN KEY (working_integration_system_id) REFERENCES integration_system (id)', 'integration_system'),
            ('goonj_adhoc_task', 'goonj_adhoc_task_integration_system_id_fkey', 'f',
                ARRAY['integration_system_id'], 'FOREIGN KEY (integration_system_id) REFERENCES integration_system (id)', 'integration_system')
        ) AS v(tbl, cname, kind, cols, def, ref_tbl)
    LOOP
        SELECT array_agg(c ORDER BY c) INTO want_cols FROM unnest(s.cols) AS c;

        -- same-name constraint on this table: treat as present, whatever its shape
        IF EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = s.tbl::regclass AND conname = s.cname) THEN
            CONTINUE;
        END IF;

        -- an equivalent constraint under any name
        IF EXISTS (
            SELECT 1
            FROM pg_constraint c
            WHERE c.conrelid = s.tbl::regclass
              AND (c.contype = s.kind OR (s.kind = 'u' AND c.contype = 'p'))
              AND (s.ref_tbl IS NULL OR c.confrelid = s.ref_tbl::regclass)
              AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                   FROM unnest(c.conkey) AS k(attnum)
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) = want_cols
        ) THEN
            CONTINUE;
        END IF;

        -- for uniques, a plain unique index (no predicate, no expressions) counts too
        IF s.kind = 'u' AND EXISTS (
            SELECT 1
            FROM pg_index i
            WHERE i.indrelid = s.tbl::regclass
              AND i.indisunique
              AND i.indpred IS NULL
              AND i.indexprs IS NULL
              AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text)
                   FROM unnest(i.indkey::int2[]) AS k(attnum)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = want_cols
        ) THEN
            CONTINUE;
        END IF;

        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', s.tbl) INTO has_rows;

        IF s.kind = 'u' THEN
            IF has_rows THEN
                -- NULLs never collide in a unique constraint, so only fully non-null keys count
                EXECUTE format(
                    'SELECT EXISTS (SELECT 1 FROM %I WHERE %s GROUP BY %s HAVING count(*) > 1)',
                    s.tbl,
                    (SELECT string_agg(format('%I IS NOT NULL', c), ' AND ') FROM unnest(s.cols) AS c),
                    (SELECT string_agg(format('%I', c), ', ') FROM unnest(s.cols) AS c))
                INTO dupes;
                IF dupes THEN
                    RAISE WARNING 'avni-int: not adding % on %: existing rows are duplicates', s.cname, s.tbl;
                    CONTINUE;
                END IF;
            END IF;
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', s.tbl, s.cname, s.def);
        ELSE
            -- FKs and checks: never re-check historical rows
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s%s', s.tbl, s.cname, s.def,
                           CASE WHEN has_rows THEN ' NOT VALID' ELSE '' END);
        END IF;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Indexes for the lookups the service makes (the original had none beyond its constraints).
-- ---------------------------------------------------------------------------------------------
-- error write path: find the record by (tenant, entity id) then type
CREATE INDEX IF NOT EXISTS error_record_system_entity_idx
    ON error_record (integration_system_id, entity_id);
-- logs of a record (cascade delete, newest log)
CREATE INDEX IF NOT EXISTS error_record_log_error_record_id_idx
    ON error_record_log (error_record_id, logged_at);
-- admin UI: errors by date / type
CREATE INDEX IF NOT EXISTS error_record_log_logged_at_idx
    ON error_record_log (logged_at);
CREATE INDEX IF NOT EXISTS error_record_log_error_type_id_idx
    ON error_record_log (error_type_id);
-- mapping lookups by group, type and value
CREATE INDEX IF NOT EXISTS mapping_metadata_lookup_idx
    ON mapping_metadata (integration_system_id, mapping_group_id, mapping_type_id);
