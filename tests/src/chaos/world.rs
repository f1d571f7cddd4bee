//! The backlog every chaos scenario syncs: Goonj demands (Salesforce → Avni, keyed by External
//! ID = DemandId) and dispatch receipts (Avni → Salesforce, keyed by SourceId = encounter ID),
//! a few of each deliberately bad, for one Goonj tenant scheduled every second.

use super::fleet::ChaosFleet;
use crate::goonj_world::{add_goonj_metadata, receipt_observations};
use crate::sim::avni::{AvniSim, AvniSimConfig, SeedEncounter, SeedSubject};
use crate::sim::goonj::{GoonjSim, GoonjSimConfig, Rejection};
use avni_int_shared::IntegrationSystemId;
use serde_json::Value;

/// Every this many records one is bad (a demand without an address, a receipt Salesforce's
/// validation rule rejects).
const BAD_EVERY: usize = 500;
pub const DEMAND_ERROR: &str = "InvalidAddressError";
pub const RECEIPT_ERROR: &str = "FieldCustomValidationException";
const EVERY_SECOND: &str = "* * * * * *";

pub struct Backlog {
    pub avni: AvniSim,
    pub salesforce: GoonjSim,
    pub tenant: IntegrationSystemId,
    /// Demand ids that must land in Avni.
    pub demands: Vec<String>,
    /// Demand ids that must become classified errors.
    pub bad_demands: Vec<String>,
    /// Receipt encounter ids that must land in Salesforce.
    pub receipts: Vec<String>,
    pub bad_receipts: Vec<String>,
    /// Avni subjects seeded before the sync (the receipts' Dispatch subjects).
    seeded_subjects: usize,
}

impl Backlog {
    /// Seeds `demands` demands and `receipts` receipts and a tenant for them (not scheduled
    /// yet: [`Backlog::schedule`]).
    pub async fn seed(fleet: &ChaosFleet, demands: usize, receipts: usize) -> Self {
        let avni = AvniSim::start(AvniSimConfig::default()).await;
        add_goonj_metadata(&avni);
        let salesforce = GoonjSim::start(GoonjSimConfig::default()).await;
        let tenant = add_tenant(fleet, &avni, &salesforce).await;
        add_receipt_mapping(fleet, tenant).await;

        let ids = salesforce.seed_demands(demands, chrono::Utc::now() - chrono::Duration::days(3));
        let (mut good, mut bad) = (Vec::new(), Vec::new());
        for (i, id) in ids.into_iter().enumerate() {
            if i % BAD_EVERY == BAD_EVERY / 2 {
                let mut demand = salesforce.demand(&id).unwrap();
                demand["State"] = Value::Null;
                demand["District"] = Value::Null;
                salesforce.seed_demand(demand);
                bad.push(id);
            } else {
                good.push(id);
            }
        }
        let (good_receipts, bad_receipts) = seed_receipts(&avni, &salesforce, receipts);
        Backlog {
            seeded_subjects: avni.subject_count(),
            avni,
            salesforce,
            tenant,
            demands: good,
            bad_demands: bad,
            receipts: good_receipts,
            bad_receipts,
        }
    }

    /// The tenant's regular job runs every second from now on.
    pub async fn schedule(&self, fleet: &ChaosFleet) {
        set_config(fleet, self.tenant, "main.scheduled.job.cron", EVERY_SECOND).await;
    }

    /// No more scheduled runs (the dispatcher reloads crons within a fraction of a second).
    pub async fn unschedule(&self, fleet: &ChaosFleet) {
        set_config(fleet, self.tenant, "main.scheduled.job.cron", "-").await;
    }

    /// Demand subjects in Avni (all subjects but the seeded ones).
    pub fn demands_in_avni(&self) -> usize {
        self.avni.subject_count() - self.seeded_subjects
    }

    pub fn receipts_in_salesforce(&self) -> usize {
        self.salesforce.dispatch_receipts().len()
    }

    /// Every good record has arrived (maybe more: the exactly-once check says).
    pub fn arrived(&self) -> bool {
        self.demands_in_avni() >= self.demands.len()
            && self.receipts_in_salesforce() >= self.receipts.len()
    }

    /// How far the sync is, as a fraction of all good records.
    pub fn progress(&self) -> f64 {
        let total = (self.demands.len() + self.receipts.len()).max(1) as f64;
        (self.demands_in_avni().min(self.demands.len())
            + self.receipts_in_salesforce().min(self.receipts.len())) as f64
            / total
    }
}

async fn add_tenant(
    fleet: &ChaosFleet,
    avni: &AvniSim,
    salesforce: &GoonjSim,
) -> IntegrationSystemId {
    let id: i32 = sqlx::query_scalar(
        "INSERT INTO integration_system (name, system_type, uuid)
         VALUES ('Goonj', 'Goonj', gen_random_uuid()::text) RETURNING id",
    )
    .fetch_one(fleet.pool())
    .await
    .unwrap();
    let tenant = IntegrationSystemId(id);
    let (auth_url, app_url) = (salesforce.auth_url(), salesforce.app_url());
    for (key, value) in [
        ("int_env", crate::fleet::INT_ENV),
        ("int_tasks", "GoonjDemand,AvniDispatchReceipt"),
        ("sales_force_auth_url", &auth_url),
        ("sales_force_app_url", &app_url),
        ("avni_api_url", &avni.base_url),
        ("avni_user", "integration"),
        ("avni_password", "password"),
        // Off: a failure no rule classifies stops the step (and is retried by the next run)
        // instead of being filed as UnclassifiedError, so every stored error is classified.
        ("goonj_bypass_errors", "false"),
        // Smaller Avni pages: more cursor moves to watch.
        ("avni_page_size", "250"),
    ] {
        set_config(fleet, tenant, key, value).await;
    }
    tenant
}

pub async fn set_config(fleet: &ChaosFleet, tenant: IntegrationSystemId, key: &str, value: &str) {
    sqlx::query(
        "INSERT INTO integration_system_config (integration_system_id, key, value, is_secret, uuid)
         VALUES ($1, $2, $3, false, gen_random_uuid()::text)
         ON CONFLICT (integration_system_id, key) DO UPDATE SET value = EXCLUDED.value",
    )
    .bind(tenant)
    .bind(key)
    .bind(value)
    .execute(fleet.pool())
    .await
    .unwrap();
}

/// `Kit` (Avni) → `Kit` (Salesforce) in group `Dispatch receipt`, as the receipt step needs.
async fn add_receipt_mapping(fleet: &ChaosFleet, tenant: IntegrationSystemId) {
    let pool = fleet.pool();
    let mapping_type: i32 = sqlx::query_scalar(
        "INSERT INTO mapping_type (name, integration_system_id, uuid)
         VALUES ('Observations', $1, gen_random_uuid()::text) RETURNING id",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .unwrap();
    let group: i32 = sqlx::query_scalar(
        "INSERT INTO mapping_group (name, integration_system_id, uuid)
         VALUES ('Dispatch receipt', $1, gen_random_uuid()::text) RETURNING id",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO mapping_metadata (int_system_value, avni_value, integration_system_id,
                                       mapping_type_id, mapping_group_id, uuid)
         VALUES ('Kit', 'Kit', $1, $2, $3, gen_random_uuid()::text)",
    )
    .bind(tenant)
    .bind(mapping_type)
    .bind(group)
    .execute(pool)
    .await
    .unwrap();
}

/// `n` receipts, each on its own Dispatch subject, entered over yesterday 10 ms apart; every
/// `BAD_EVERY`th is refused by a Salesforce validation rule. (good, bad) encounter ids.
fn seed_receipts(avni: &AvniSim, salesforce: &GoonjSim, n: usize) -> (Vec<String>, Vec<String>) {
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for i in 0..n {
        let at = start + chrono::Duration::milliseconds(10 * i as i64);
        let dispatch_id = format!("a0DCH{tag}{i:07}");
        let subject = avni.seed_subject(SeedSubject {
            external_id: Some(dispatch_id.clone()),
            created_at: Some(at),
            ..SeedSubject::new("Dispatch")
        });
        let encounter = avni.seed_encounter(SeedEncounter {
            encounter_date_time: Some(at),
            observations: receipt_observations(&dispatch_id, "Kit"),
            created_at: Some(at),
            ..SeedEncounter::new("Dispatch receipt", &subject)
        });
        if i % BAD_EVERY == BAD_EVERY / 2 {
            salesforce.reject_when(Rejection::validation(
                "DispatchStatusId",
                &dispatch_id,
                "Received date cannot be before the dispatch date",
            ));
            bad.push(encounter);
        } else {
            good.push(encounter);
        }
    }
    (good, bad)
}
