//! The two tenants the admin fuzzer works with: A (the caller) with a few rows of every kind, and
//! B whose rows carry a marker string and ids no serial reaches, so a leak is recognisable.

use avni_int_shared::IntegrationSystemId;
use sqlx::PgPool;
use std::collections::HashMap;

/// In every text of B's rows; compared lower-cased against every response body.
pub const MARKER: &str = "zzbmarkzz";
/// B's rows have ids from here on (A's come from the serials, far below).
pub const B_IDS: std::ops::Range<i64> = 7_770_000..7_771_000;

/// A uuid of B's row `n` of table number `table`; all start with `7770b`.
pub fn b_uuid(table: u32, n: u32) -> String {
    format!("7770b{table:03}-0000-4000-8000-{n:012}")
}

/// Rows of B: two groups and types, three mappings, an error type with a logged error, a
/// user, two configs (one secret), a failed job, a paused module and an ad-hoc task.
pub async fn seed_b(pool: &PgPool, b: IntegrationSystemId) {
    let m = MARKER.to_uppercase();
    let statements = [
        format!(
            "UPDATE integration_system SET name = '{m} tenant' WHERE id = $1"
        ),
        format!(
            "INSERT INTO mapping_group (id, name, integration_system_id, uuid, is_voided) VALUES
             (7770001, '{m} group one', $1, '{}', false), (7770002, '{m} group two', $1, '{}', true)",
            b_uuid(1, 1), b_uuid(1, 2)
        ),
        format!(
            "INSERT INTO mapping_type (id, name, integration_system_id, uuid, is_voided) VALUES
             (7770001, '{m} type one', $1, '{}', false), (7770002, '{m} type two', $1, '{}', false)",
            b_uuid(2, 1), b_uuid(2, 2)
        ),
        format!(
            "INSERT INTO mapping_metadata (id, int_system_value, avni_value, about, data_type_hint,
                integration_system_id, mapping_group_id, mapping_type_id, uuid, is_voided) VALUES
             (7770001, '{m} int one', '{m} avni one', '{m} about', 'Coded', $1, 7770001, 7770001, '{}', false),
             (7770002, '{m} int two', '{m} avni two', NULL, NULL, $1, 7770002, 7770002, '{}', false),
             (7770003, 'shared value', 'shared value', NULL, NULL, $1, 7770001, 7770002, '{}', true)",
            b_uuid(3, 1), b_uuid(3, 2), b_uuid(3, 3)
        ),
        format!(
            "INSERT INTO error_type (id, name, integration_system_id, comparison_operator,
                comparison_value, follow_up_step, uuid, is_voided, required_action) VALUES
             (7770001, '{m} error type', $1, '1', '{m} comparison', '2', '{}', false, '{m} action')",
            b_uuid(4, 1)
        ),
        format!(
            "INSERT INTO error_record (id, integrating_entity_type, avni_entity_type, entity_id,
                processing_disabled, integration_system_id, uuid, is_voided) VALUES
             (7770001, NULL, 'Subject', '{m}-entity', false, $1, '{}', false)",
            b_uuid(5, 1)
        ),
        format!(
            "INSERT INTO error_record_log (id, error_record_id, error_type_id, error_msg, error_body, uuid, is_voided)
             VALUES (7770001, 7770001, 7770001, '{m} error message', '{{\"sent\": \"{m} body\"}}', '{}', false)",
            b_uuid(6, 1)
        ),
        format!(
            "INSERT INTO users (id, email, password, working_integration_system_id, uuid, is_voided)
             VALUES (7770001, '{MARKER}@example.org', 'x', $1, '{}', false)",
            b_uuid(7, 1)
        ),
        format!(
            "INSERT INTO integration_system_config (id, integration_system_id, key, value, uuid, is_voided, is_secret)
             VALUES (7770001, $1, '{MARKER}.key', '{m} config', '{}', false, false),
                    (7770002, $1, 'int_env', 'fleet-test', '{}', false, false),
                    (7770003, $1, '{MARKER}.secret', '{m} secret', '{}', false, true)",
            b_uuid(8, 1), b_uuid(8, 2), b_uuid(8, 3)
        ),
        format!(
            "INSERT INTO int_job (id, integration_system_id, module, kind, trigger, state, last_error, finished_at)
             VALUES (7770001, $1, 'probe', 'regular', 'manual', 'failed', '{m} job error', now())"
        ),
        format!(
            "INSERT INTO int_module_pause (integration_system_id, module, paused_by) VALUES ($1, 'probe', '{MARKER}@example.org')"
        ),
        format!(
            "INSERT INTO goonj_adhoc_task (id, uuid, integration_system_id, is_voided, integration_task,
                task_config, trigger_date_time, cut_off_date_time, status, created_date_time, last_modified_date_time)
             VALUES (7770001, '{}', $1, false, 'GoonjDemand', '{{\"state\": \"{m} state\"}}',
                     now() + interval '30 days', now() - interval '1 day', 'CREATED', now(), now())",
            b_uuid(9, 1)
        ),
    ];
    for sql in statements {
        sqlx::query(&sql).bind(b).execute(pool).await.unwrap();
    }
}

/// Ordinary rows of A, so valid ids exist for every resource.
pub async fn seed_a(pool: &PgPool, a: IntegrationSystemId) {
    let statements = [
        "INSERT INTO mapping_group (name, integration_system_id, uuid, is_voided) VALUES
         ('Group A1', $1, gen_random_uuid()::text, false), ('Group A2', $1, gen_random_uuid()::text, true)",
        "INSERT INTO mapping_type (name, integration_system_id, uuid, is_voided) VALUES
         ('Type A1', $1, gen_random_uuid()::text, false), ('Type A2', $1, gen_random_uuid()::text, false)",
        "INSERT INTO mapping_metadata (int_system_value, avni_value, integration_system_id,
            mapping_group_id, mapping_type_id, uuid, is_voided)
         SELECT 'int a', 'avni a', $1, g.id, t.id, gen_random_uuid()::text, false
           FROM mapping_group g, mapping_type t WHERE g.integration_system_id = $1 AND t.integration_system_id = $1",
        "INSERT INTO error_type (name, integration_system_id, comparison_operator, comparison_value,
            follow_up_step, uuid, is_voided) VALUES ('Type of A', $1, '0', 'x', '0', gen_random_uuid()::text, false)",
        "INSERT INTO error_record (avni_entity_type, entity_id, processing_disabled, integration_system_id, uuid, is_voided)
         VALUES ('Subject', 'A-1', false, $1, gen_random_uuid()::text, false)",
        "INSERT INTO error_record_log (error_record_id, error_type_id, error_msg, uuid, is_voided)
         SELECT r.id, t.id, 'a failed', gen_random_uuid()::text, false FROM error_record r, error_type t
          WHERE r.integration_system_id = $1 AND t.integration_system_id = $1",
        "INSERT INTO int_job (integration_system_id, module, kind, trigger, state, finished_at)
         VALUES ($1, 'probe', 'error', 'manual', 'succeeded', now())",
        "INSERT INTO goonj_adhoc_task (uuid, integration_system_id, is_voided, integration_task, task_config,
            trigger_date_time, cut_off_date_time, status, created_date_time, last_modified_date_time)
         VALUES (gen_random_uuid()::text, $1, false, 'GoonjDispatch', NULL, now() + interval '30 days',
                 now() - interval '1 day', 'CREATED', now(), now())",
    ];
    for sql in statements {
        sqlx::query(sql).bind(a).execute(pool).await.unwrap();
    }
}

/// The path ids of each resource (keyed by the path segment after `/int/` or `task`) of a tenant.
pub async fn ids_of(
    pool: &PgPool,
    tenant: IntegrationSystemId,
) -> HashMap<&'static str, Vec<String>> {
    let queries: [(&str, &str); 10] = [
        ("mappingMetadata", "SELECT id::text FROM mapping_metadata WHERE integration_system_id = $1"),
        ("mappingGroup", "SELECT id::text FROM mapping_group WHERE integration_system_id = $1"),
        ("mappingType", "SELECT id::text FROM mapping_type WHERE integration_system_id = $1"),
        ("errorType", "SELECT id::text FROM error_type WHERE integration_system_id = $1"),
        ("errorRecordLog", "SELECT l.id::text FROM error_record_log l JOIN error_record r ON r.id = l.error_record_id WHERE r.integration_system_id = $1"),
        ("integrationSystem", "SELECT id::text FROM integration_system WHERE id = $1"),
        ("user", "SELECT id::text FROM users WHERE working_integration_system_id = $1"),
        ("jobs", "SELECT id::text FROM int_job WHERE integration_system_id = $1"),
        ("task", "SELECT uuid FROM goonj_adhoc_task WHERE integration_system_id = $1"),
        ("uuid", "SELECT uuid FROM mapping_group WHERE integration_system_id = $1 UNION ALL SELECT uuid FROM mapping_type WHERE integration_system_id = $1 UNION ALL SELECT uuid FROM mapping_metadata WHERE integration_system_id = $1 UNION ALL SELECT uuid FROM error_type WHERE integration_system_id = $1"),
    ];
    let mut out = HashMap::new();
    for (resource, sql) in queries {
        let ids: Vec<String> = sqlx::query_scalar(sql)
            .bind(tenant)
            .fetch_all(pool)
            .await
            .unwrap();
        out.insert(resource, ids);
    }
    out
}

/// A digest of every row of `tenant` the admin API could write.
pub async fn checksum(pool: &PgPool, tenant: IntegrationSystemId) -> String {
    let per_table = |table: &str, column: &str| {
        format!("coalesce((SELECT string_agg(t::text, ',' ORDER BY t::text) FROM {table} t WHERE {column} = $1), '')")
    };
    let parts = [
        per_table("integration_system", "id"),
        per_table("integration_system_config", "integration_system_id"),
        per_table("mapping_group", "integration_system_id"),
        per_table("mapping_type", "integration_system_id"),
        per_table("mapping_metadata", "integration_system_id"),
        per_table("error_type", "integration_system_id"),
        per_table("error_record", "integration_system_id"),
        per_table("users", "working_integration_system_id"),
        per_table("int_job", "integration_system_id"),
        per_table("int_module_pause", "integration_system_id"),
        per_table("goonj_adhoc_task", "integration_system_id"),
        "coalesce((SELECT string_agg(l::text, ',' ORDER BY l.id) FROM error_record_log l
           JOIN error_record r ON r.id = l.error_record_id WHERE r.integration_system_id = $1), '')"
            .to_owned(),
    ];
    let sql = format!("SELECT md5(concat_ws('|', {}))", parts.join(", "));
    sqlx::query_scalar(&sql)
        .bind(tenant)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Rows that break an invariant the admin API must keep; each query counts offenders.
pub const INCONSISTENCIES: &[(&str, &str)] = &[
    ("a mapping in another tenant's group",
     "SELECT count(*) FROM mapping_metadata m JOIN mapping_group g ON g.id = m.mapping_group_id
       WHERE g.integration_system_id <> m.integration_system_id"),
    ("a mapping of another tenant's type",
     "SELECT count(*) FROM mapping_metadata m JOIN mapping_type t ON t.id = m.mapping_type_id
       WHERE t.integration_system_id <> m.integration_system_id"),
    ("a mapping pointing at no group or type",
     "SELECT count(*) FROM mapping_metadata m
       WHERE (m.mapping_group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mapping_group g WHERE g.id = m.mapping_group_id))
          OR (m.mapping_type_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mapping_type t WHERE t.id = m.mapping_type_id))"),
    ("an error logged with another tenant's error type",
     "SELECT count(*) FROM error_record_log l JOIN error_record r ON r.id = l.error_record_id
       JOIN error_type t ON t.id = l.error_type_id WHERE t.integration_system_id <> r.integration_system_id"),
    ("a job running another tenant's ad-hoc task",
     "SELECT count(*) FROM int_job j JOIN goonj_adhoc_task t ON t.id = j.adhoc_task_id
       WHERE t.integration_system_id <> j.integration_system_id"),
    ("a job of a tenant that does not exist",
     "SELECT count(*) FROM int_job j WHERE NOT EXISTS (SELECT 1 FROM integration_system s WHERE s.id = j.integration_system_id)"),
    ("a session of a voided user",
     "SELECT count(*) FROM int_session s JOIN users u ON u.id = s.user_id WHERE coalesce(u.is_voided, false)"),
    ("two active users with one email",
     "SELECT count(*) - count(DISTINCT lower(email)) FROM users WHERE NOT coalesce(is_voided, false)"),
    ("a pause of a module that does not exist",
     "SELECT count(*) FROM int_module_pause WHERE module NOT IN ('probe', 'goonj')"),
    ("an ad-hoc task of an unknown task",
     "SELECT count(*) FROM goonj_adhoc_task WHERE integration_task NOT IN
       ('GoonjDemand', 'GoonjDispatch', 'AvniActivity', 'AvniDispatchReceipt', 'AvniDistribution', 'GoonjInventory')"),
    ("a config key used twice by a tenant",
     "SELECT count(*) - count(DISTINCT (integration_system_id, key)) FROM integration_system_config"),
];

/// Whether a row of `tenant` carries `uuid` (A may create rows with any uuid, B's included).
pub async fn owns_uuid(pool: &PgPool, tenant: IntegrationSystemId, uuid: &str) -> bool {
    let sql = [
        "mapping_group",
        "mapping_type",
        "mapping_metadata",
        "error_type",
        "integration_system_config",
        "goonj_adhoc_task",
    ]
    .map(|t| format!("SELECT 1 FROM {t} WHERE integration_system_id = $1 AND lower(uuid) = $2"))
    .join(" UNION ALL ");
    sqlx::query(&sql)
        .bind(tenant)
        .bind(uuid)
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_some()
}
