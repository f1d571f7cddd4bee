//! The Avni client against the Avni simulator: login and token reuse, retries of transient
//! failures, upserts by External ID, the original's error wording, and incremental reads
//! across millisecond ties larger than a page.

use avni_int_tests::sim::avni::{AvniSim, AvniSimConfig, SeedSubject};
use avni_int_tests::sim::faults::FaultPlan;
use avni_int_worker::avni::{
    AvniClient, AvniConfig, AvniCredentials, AvniCursor, Entity, SubjectQuery, SubjectRequest,
};
use chrono::{Duration as TimeDelta, Utc};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

fn client(sim: &AvniSim, page_size: u32) -> AvniClient {
    let mut config = AvniConfig::new(
        sim.base_url.clone(),
        AvniCredentials::Password {
            username: "integration".into(),
            password: "password".into(),
        },
    );
    config.page_size = page_size;
    config.read_lag = Duration::ZERO;
    config.retry.min_delay = Duration::from_millis(20);
    config.retry.max_delay = Duration::from_millis(200);
    AvniClient::new(config).unwrap()
}

fn logins(sim: &AvniSim) -> usize {
    sim.writes()
        .iter()
        .filter(|w| w.path.contains("generateToken"))
        .count()
}

#[tokio::test]
async fn the_token_is_reused_and_renewed_once_when_avni_refuses_it() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    sim.add_subject_type("Demand");
    let id = sim.seed_subject(SeedSubject::new("Demand"));
    let avni = client(&sim, 100);
    for _ in 0..3 {
        assert!(avni.get_subject(&id).await.unwrap().is_some());
    }
    assert_eq!(logins(&sim), 1, "one login for many calls");
    sim.expire_tokens();
    assert!(avni.get_subject(&id).await.unwrap().is_some());
    assert_eq!(logins(&sim), 2, "one re-login after a 401");
    assert!(avni.get_subject("no-such-subject").await.unwrap().is_none());
}

#[tokio::test]
async fn transient_failures_are_retried_then_succeed() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    sim.add_subject_type("Demand");
    let id = sim.seed_subject(SeedSubject::new("Demand"));
    let avni = client(&sim, 100);
    avni.get_subject(&id).await.unwrap();
    sim.faults().set(FaultPlan {
        fail_next: 1,
        error_status: Some(503),
        ..FaultPlan::default()
    });
    sim.faults().update(|p| {
        p.throttle_next = 1;
        p.truncate_next = 1;
    });
    let subject = avni.get_subject(&id).await.unwrap().unwrap();
    assert_eq!(subject.id(), Some(id.as_str()));
    let plan = sim.faults().plan();
    assert_eq!(
        (plan.fail_next, plan.throttle_next, plan.truncate_next),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn upserts_by_external_id_never_duplicate_and_errors_read_as_the_original_wrote_them() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    sim.add_subject_type("Demand");
    sim.add_location("Bihar", "Patna");
    let avni = client(&sim, 100);
    let mut request = SubjectRequest {
        external_id: Some("D-1".into()),
        subject_type: "Demand".into(),
        registration_date: Some(Utc::now().date_naive()),
        address_map: Some(BTreeMap::from([
            ("State".to_owned(), "Bihar".to_owned()),
            ("District".to_owned(), "Patna".to_owned()),
        ])),
        first_name: Some("Relief kits".into()),
        ..SubjectRequest::default()
    };
    let first = avni.upsert_subject(&request, 3).await.unwrap();
    request.first_name = Some("Relief kits (edited)".into());
    let second = avni.upsert_subject(&request, 3).await.unwrap();
    assert_eq!(first.id(), second.id());
    assert_eq!(sim.subject_count(), 1);

    request.external_id = Some("D-2".into());
    request.address_map = Some(BTreeMap::from([
        ("State".to_owned(), "Nowhere".to_owned()),
        ("District".to_owned(), "Atlantis".to_owned()),
    ]));
    let error = avni.upsert_subject(&request, 3).await.unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("500 : \"") && message.contains("not found"),
        "{message}"
    );
}

#[tokio::test]
async fn an_incremental_read_delivers_ties_larger_than_a_page_exactly_once() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    sim.add_subject_type("Activity");
    let base = Utc::now() - TimeDelta::minutes(10);
    let mut expected: HashSet<String> = HashSet::new();
    for i in 0..20 {
        let mut seed = SeedSubject::new("Activity");
        seed.last_modified_at = Some(base + TimeDelta::seconds(i));
        expected.insert(sim.seed_subject(seed));
    }
    // 250 records in one millisecond, more than two pages of 100.
    expected.extend(sim.seed_subjects_same_millisecond(
        "Activity",
        250,
        base + TimeDelta::seconds(5),
    ));
    for i in 20..40 {
        let mut seed = SeedSubject::new("Activity");
        seed.last_modified_at = Some(base + TimeDelta::seconds(i));
        expected.insert(sim.seed_subject(seed));
    }
    let avni = client(&sim, 100);
    let mut reader = avni.subjects_reader(
        SubjectQuery::of_type("Activity"),
        AvniCursor::at(base - TimeDelta::seconds(1)),
    );
    let mut delivered = Vec::new();
    while let Some(batch) = reader.next_batch().await.unwrap() {
        delivered.extend(batch.records().iter().map(|s| s.id().unwrap().to_owned()));
    }
    let unique: HashSet<String> = delivered.iter().cloned().collect();
    assert_eq!(unique.len(), delivered.len(), "nothing delivered twice");
    assert_eq!(unique, expected, "nothing skipped");

    // A second read from the final cursor finds nothing new.
    let mut again =
        avni.subjects_reader(SubjectQuery::of_type("Activity"), reader.cursor().clone());
    assert!(again.next_batch().await.unwrap().is_none());
}
