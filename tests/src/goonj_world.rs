//! A Goonj tenant wired to fresh Avni and Salesforce simulators, and a way to run its jobs to
//! the end: the setup every Goonj fleet test shares.

use crate::fleet::TestApp;
use crate::sim::avni::{AvniSim, AvniSimConfig};
use crate::sim::goonj::{generate::PLACES, GoonjSim, GoonjSimConfig};
use avni_int_shared::{IntegrationSystemId, JobKind, ModuleName};
use avni_int_worker::goonj::Goonj;
use avni_int_worker::module::Registry;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The observations of a well-formed dispatch receipt for `dispatch_id`: one received line of
/// `type_of_material` ("Kit" in most tests), matching the dispatch.
pub fn receipt_observations(dispatch_id: &str, type_of_material: &str) -> Map<String, Value> {
    let observations = json!({
        "Dispatch Status Id": dispatch_id,
        "Dispatch Received Date": "2023-06-03T18:30:00.000Z",
        "Received Material": [{
            "Dispatch Line Item Id": format!("{dispatch_id}-L1"),
            "Type Of Material": type_of_material, "Kit Name": "Family kit",
            "Quantity as per dispatch": 10, "Quantity matching": "Yes"
        }]
    });
    match observations {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

pub struct GoonjWorld {
    pub app: TestApp,
    pub avni: AvniSim,
    pub salesforce: GoonjSim,
    pub tenant: IntegrationSystemId,
}

pub fn goonj() -> ModuleName {
    ModuleName::new("goonj").unwrap()
}

/// What a Goonj organisation's Avni has: the Salesforce simulator's places, the subject and
/// encounter types of the sync, and the concepts the inbound steps write.
pub fn add_goonj_metadata(avni: &AvniSim) {
    for (state, district, _) in PLACES {
        avni.add_location(state, district);
    }
    for subject_type in [
        "Demand",
        "Dispatch",
        "Inventory Item",
        "Activity",
        "Distribution",
    ] {
        avni.add_subject_type(subject_type);
    }
    avni.add_encounter_type("Dispatch receipt");
    avni.add_concept("Target Community", Some(&["Rural", "Tribal", "Urban"]));
    for concept in [
        "Dispatch Status Id",
        "Demand Id",
        "Materials Dispatched",
        "Loading And Truck Images",
        "InvalidPhotographURLsReceived",
        "Implementation Inventory Id",
        "Item Name",
        "Unit",
        "Current Quantity",
    ] {
        avni.add_concept(concept, None);
    }
    avni.add_concept("Type Of Material", Some(&TYPES_OF_MATERIAL));
}

/// Avni's answers of `Type Of Material`.
pub const TYPES_OF_MATERIAL: [&str; 5] = [
    "Kit",
    "Purchased item",
    "Contributed item",
    "Contributed track",
    "Goonj product",
];

/// A Goonj tenant running `tasks` (`int_tasks`), bypass on, against new simulators.
pub async fn world(tasks: &str) -> GoonjWorld {
    let app = TestApp::new().await;
    let avni = AvniSim::start(AvniSimConfig::default()).await;
    add_goonj_metadata(&avni);
    let salesforce = GoonjSim::start(GoonjSimConfig::default()).await;
    let auth_url = salesforce.auth_url();
    let app_url = salesforce.app_url();
    let tenant = app
        .add_tenant(
            "Goonj",
            "Goonj",
            &[
                ("int_env", crate::fleet::INT_ENV),
                ("int_tasks", tasks),
                ("sales_force_auth_url", &auth_url),
                ("sales_force_app_url", &app_url),
                ("avni_api_url", &avni.base_url),
                ("avni_user", "integration"),
                ("avni_password", "password"),
                ("goonj_bypass_errors", "true"),
            ],
        )
        .await;
    GoonjWorld {
        app,
        avni,
        salesforce,
        tenant,
    }
}

impl GoonjWorld {
    /// Runs one regular job to its end; returns its final state.
    pub async fn run_main_job(&self) -> String {
        self.run_job(JobKind::Regular).await
    }

    /// Runs one job of `kind` to its end with a fresh dispatcher and worker; its final state.
    pub async fn run_job(&self, kind: JobKind) -> String {
        let dispatcher = self
            .app
            .start_dispatcher(self.app.dispatcher_config())
            .await;
        let http = reqwest_client();
        let registry =
            Registry::new().with(Goonj::module(http, Duration::from_secs(3600)).unwrap());
        let worker = self
            .app
            .start_worker_with(self.app.worker_config(), registry);
        let job = self.app.enqueue_for(self.tenant, goonj(), kind).await;
        let row = crate::poll::until("the goonj job to end", Duration::from_secs(60), || async {
            let row = self.app.job(job).await;
            (row.state == "succeeded" || row.state == "failed").then_some(row)
        })
        .await;
        worker.stop().await;
        dispatcher.stop().await;
        if row.state == "failed" {
            eprintln!("job failed: {:?}", row.last_error);
        }
        row.state
    }

    /// (entity id, error type, message, payload, required action) of every error log.
    pub async fn errors(&self) -> Vec<ErrorRow> {
        sqlx::query_as(
            "SELECT r.entity_id, t.name, l.error_msg, coalesce(l.error_body, 'null'::jsonb), t.required_action
               FROM error_record r JOIN error_record_log l ON l.error_record_id = r.id
               JOIN error_type t ON t.id = l.error_type_id
              WHERE r.integration_system_id = $1 ORDER BY r.entity_id",
        )
        .bind(self.tenant)
        .fetch_all(self.app.db.pool())
        .await
        .unwrap()
    }
}

impl GoonjWorld {
    /// Seeds demand `a0B000000000FLOOD` whose coded field TypeOfDisaster answers "Flood", with
    /// the field mapped to Avni's coded concept but no answer mapped yet: the main job logs it
    /// as AnswerMappingNotFoundForCodedConcept until a "Flood" answer mapping is added.
    pub async fn seed_demand_with_unmapped_answer(&self) {
        self.avni.add_concept(
            "Type of Disaster",
            Some(&["Flood", "Cyclone", "Drought", "Earthquake"]),
        );
        self.add_mappings("Demand", &[("TypeOfDisaster", "Type of Disaster")])
            .await;
        sqlx::query(
            "UPDATE mapping_metadata SET data_type_hint = 'Coded'
              WHERE integration_system_id = $1 AND int_system_value = 'TypeOfDisaster'",
        )
        .bind(self.tenant)
        .execute(self.app.db.pool())
        .await
        .unwrap();
        let start = chrono::Utc::now() - chrono::Duration::days(1);
        self.salesforce.seed_demand(json!({
            "DemandId": "a0B000000000FLOOD", "DemandName": "Flood kits", "State": "Bihar",
            "District": "Patna", "IsVoided": false, "TypeOfDisaster": "Flood",
            "LastUpdatedDateTime": start.to_rfc3339(),
        }));
    }

    /// Adds `Observations` mapping rows (Salesforce value, Avni value) to `group`, creating
    /// the type and group when missing.
    pub async fn add_mappings(&self, group: &str, rows: &[(&str, &str)]) {
        let pool = self.app.db.pool();
        let mut ids = Vec::new();
        for (table, name) in [("mapping_type", "Observations"), ("mapping_group", group)] {
            let existing: Option<i32> = sqlx::query_scalar(&format!(
                "SELECT id FROM {table} WHERE integration_system_id = $1 AND name = $2"
            ))
            .bind(self.tenant)
            .bind(name)
            .fetch_optional(pool)
            .await
            .unwrap();
            let id = match existing {
                Some(id) => id,
                None => sqlx::query_scalar(&format!(
                    "INSERT INTO {table} (name, integration_system_id, uuid)
                     VALUES ($2, $1, gen_random_uuid()::text) RETURNING id"
                ))
                .bind(self.tenant)
                .bind(name)
                .fetch_one(pool)
                .await
                .unwrap(),
            };
            ids.push(id);
        }
        for (partner, avni) in rows {
            sqlx::query(
                "INSERT INTO mapping_metadata (int_system_value, avni_value, integration_system_id,
                                               mapping_type_id, mapping_group_id, uuid)
                 VALUES ($1, $2, $3, $4, $5, gen_random_uuid()::text)",
            )
            .bind(partner)
            .bind(avni)
            .bind(self.tenant)
            .bind(ids[0])
            .bind(ids[1])
            .execute(pool)
            .await
            .unwrap();
        }
    }
}

/// (entity id, error type, message, payload (JSON null when none), required action).
pub type ErrorRow = (String, String, String, serde_json::Value, Option<String>);

pub fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
