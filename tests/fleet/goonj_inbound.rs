//! The Goonj Dispatch and Inventory steps (Salesforce → Avni) against the simulators: every
//! record lands once, deletions void, a deleted line is PATCHed away, images are copied once,
//! and bad records become classified errors with their payload.

use avni_int_tests::goonj_world::{world, GoonjWorld};
use avni_int_tests::sim::goonj::{sf_datetime, IMAGE_PATH};
use avni_int_worker::goonj::images::media_uuid;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const TASKS: &str = "GoonjDispatch,GoonjInventory";
/// A world with the concepts the steps write and the tenant's metadata mappings.
async fn inbound_world() -> GoonjWorld {
    let w = world(TASKS).await;
    // Concepts come with the world (goonj_world::add_goonj_metadata).
    w.add_mappings(
        "Dispatch",
        &[
            ("DispatchStatusId", "Dispatch Status Id"),
            ("DemandId", "Demand Id"),
        ],
    )
    .await;
    w.add_mappings(
        "DispatchLineItem",
        &[
            ("DispatchLineItemId", "Dispatch Line Item Id"),
            ("ItemName", "Item Name"),
            ("Quantity", "Quantity"),
            ("Unit", "Unit"),
            // Not one of the line fields: must never show up.
            ("LastUpdatedDateTime", "Line Last Updated"),
        ],
    )
    .await;
    w.add_mappings(
        "Inventory Item",
        &[
            ("ItemName", "Item Name"),
            ("Unit", "Unit"),
            ("CurrentQuantity", "Current Quantity"),
        ],
    )
    .await;
    w
}

/// A dispatch with one line, in a known place, updated at `at`.
fn dispatch(id: &str, name: &str, at: DateTime<Utc>, images: Value) -> Value {
    json!({
        "DispatchStatusId": id, "DispatchStatusName": name,
        "DispatchState": "Uttarakhand", "DispatchDistrict": "Dehradun",
        "DispatchDate": "2023-05-30", "IsVoided": false,
        "LastUpdatedDateTime": sf_datetime(at),
        "DispatchLineItems": [{"DispatchLineItemId": format!("{id}-L1"), "ItemName": "Rice",
                               "Quantity": 25, "Unit": "Kg"}],
        "ImagesLink": images,
    })
}

fn obs<'a>(subject: &'a Value, concept: &str) -> &'a Value {
    &subject["observations"][concept]
}

/// Avni writes to subjects (POST/PATCH/DELETE /api/subject…).
fn subject_writes(w: &GoonjWorld) -> Vec<(String, String)> {
    w.avni
        .writes()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/subject"))
        .map(|r| (r.method, r.path))
        .collect()
}

fn media_puts(w: &GoonjWorld) -> usize {
    w.avni
        .writes()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.starts_with("/_media/"))
        .count()
}

fn image_downloads(w: &GoonjWorld) -> usize {
    w.salesforce
        .recorded()
        .iter()
        .filter(|r| r.path.starts_with(IMAGE_PATH))
        .count()
}

#[tokio::test]
async fn dispatches_and_inventories_land_once_and_a_second_run_writes_nothing_new() {
    let w = inbound_world().await;
    let start = Utc::now() - Duration::days(2);
    let dispatches = w.salesforce.seed_dispatches(7, start);
    let inventories = w.salesforce.seed_inventories(6, start);
    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
    assert_eq!(w.avni.subject_count(), 13);

    for id in &dispatches {
        let source = w.salesforce.dispatch(id).unwrap();
        let subject = w.avni.subject(id).expect("every dispatch is a subject");
        assert_eq!(subject["Subject type"], "Dispatch");
        assert_eq!(subject["Voided"], false);
        assert_eq!(subject["Registration date"], source["DispatchDate"]);
        assert_eq!(obs(&subject, "First name"), &source["DispatchStatusName"]);
        assert_eq!(obs(&subject, "Dispatch Status Id"), id.as_str());
        assert_eq!(obs(&subject, "Demand Id"), &source["DemandId"]);
        let lines = obs(&subject, "Materials Dispatched").as_array().unwrap();
        let source_lines = source["DispatchLineItems"].as_array().unwrap();
        assert_eq!(lines.len(), source_lines.len());
        for (line, source_line) in lines.iter().zip(source_lines) {
            assert_eq!(
                line,
                &json!({
                    "Dispatch Line Item Id": source_line["DispatchLineItemId"],
                    "Item Name": source_line["ItemName"],
                    "Quantity": source_line["Quantity"],
                    "Unit": source_line["Unit"],
                }),
                "only the listed line fields, through group DispatchLineItem"
            );
        }
        assert_eq!(obs(&subject, "Loading And Truck Images"), &json!([]));
        assert_eq!(obs(&subject, "InvalidPhotographURLsReceived"), "false");
    }
    for (i, id) in inventories.iter().enumerate() {
        let source = w.salesforce.inventory(id).unwrap();
        let subject = w.avni.subject(id).expect("every inventory is a subject");
        assert_eq!(subject["Subject type"], "Inventory Item");
        assert_eq!(subject["Voided"], false);
        assert_eq!(obs(&subject, "Implementation Inventory Id"), id.as_str());
        // The generator cycles SourceOfMaterial through null, Purchased, Contributed, ….
        assert_eq!(
            obs(&subject, "Type Of Material"),
            avni_int_tests::goonj_world::TYPES_OF_MATERIAL[i % 5]
        );
        assert_eq!(
            obs(&subject, "Current Quantity"),
            &source["CurrentQuantity"]
        );
        assert_eq!(
            obs(&subject, "First name"),
            &source["ImplementationInventoryName"]
        );
    }
    let writes = subject_writes(&w);
    assert_eq!(writes.len(), 13, "one upsert per record: {writes:?}");
    assert!(writes
        .iter()
        .all(|(method, path)| method == "POST" && path == "/api/subject?version=3"));

    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(subject_writes(&w), writes, "nothing new to write");
    assert!(w.errors().await.is_empty());
}

#[tokio::test]
async fn deletions_void_and_a_deleted_line_is_patched_out_of_materials_dispatched() {
    let w = inbound_world().await;
    let start = Utc::now() - Duration::days(2);
    let dispatches = w.salesforce.seed_dispatches(3, start);
    let inventories = w.salesforce.seed_inventories(2, start);
    let empty = "a0I5jEMPTY0000001EAG";
    let mut empty_inventory = w.salesforce.inventory(&inventories[0]).unwrap();
    empty_inventory["ImplementationInventoryId"] = json!(empty);
    empty_inventory["CurrentQuantity"] = json!(0);
    w.salesforce.seed_inventory(empty_inventory);
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(
        w.avni.subject(empty).unwrap()["Voided"],
        true,
        "nothing left: voided"
    );
    let lined = &dispatches[2];
    let lines: Vec<String> = w.salesforce.dispatch(lined).unwrap()["DispatchLineItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["DispatchLineItemId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lines.len(), 3);
    let avni_id = |id: &str| {
        w.avni.subject(id).unwrap()["ID"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let uuid = avni_id(lined);
    let (deleted_dispatch, deleted_inventory) = (avni_id(&dispatches[0]), avni_id(&inventories[1]));

    w.salesforce.delete_dispatch(&dispatches[0]);
    w.salesforce.delete_inventory(&inventories[1]);
    w.salesforce.delete_dispatch_line(lined, &lines[1]);
    // Deleted in Salesforce but never in Avni: nothing to void, nothing fails.
    w.salesforce.delete_dispatch("a0D5jNEVERSYNCED01EAG");
    let before = subject_writes(&w).len();
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(w.avni.subject(&dispatches[0]).unwrap()["Voided"], true);
    assert_eq!(w.avni.subject(&inventories[1]).unwrap()["Voided"], true);
    assert_eq!(w.avni.subject(&dispatches[1]).unwrap()["Voided"], false);
    let subject = w.avni.subject(lined).unwrap();
    let kept: Vec<&str> = obs(&subject, "Materials Dispatched")
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["Dispatch Line Item Id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [lines[0].as_str(), lines[2].as_str()]);
    assert_eq!(subject["Voided"], false);
    let new_writes = subject_writes(&w)[before..].to_vec();
    assert_eq!(
        new_writes,
        [
            (
                "DELETE".to_owned(),
                format!("/api/subject/{deleted_dispatch}")
            ),
            ("PATCH".to_owned(), format!("/api/subject/{uuid}?version=3")),
            (
                "DELETE".to_owned(),
                format!("/api/subject/{deleted_inventory}")
            ),
        ],
        "a PATCH, never a PUT"
    );
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);

    // The deletions are listed again (the cursor is before them), but nothing is left to do.
    assert_eq!(w.run_main_job().await, "succeeded");
    assert_eq!(subject_writes(&w).len(), before + 3);
}

#[tokio::test]
async fn a_failed_line_deletion_is_a_classified_error_cleared_once_it_succeeds() {
    let w = inbound_world().await;
    let start = Utc::now() - Duration::days(2);
    let dispatches = w.salesforce.seed_dispatches(2, start);
    assert_eq!(w.run_main_job().await, "succeeded");
    let lined = &dispatches[1];
    let line = w.salesforce.dispatch(lined).unwrap()["DispatchLineItems"][0]["DispatchLineItemId"]
        .as_str()
        .unwrap()
        .to_owned();
    let uuid = w.avni.subject(lined).unwrap()["ID"]
        .as_str()
        .unwrap()
        .to_owned();
    w.salesforce.delete_dispatch_line(lined, &line);
    // Only the PATCH goes to the UUID (the GET asks by External ID).
    w.avni.faults().update(|plan| {
        plan.fail_next = 1;
        plan.path_contains = Some(uuid.clone());
    });
    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (entity, error_type, message, payload, _) = &errors[0];
    assert_eq!(entity, &line);
    assert_eq!(error_type, "DispatchLineItemsDeletionFailure");
    assert!(message.contains("500"), "{message}");
    assert_eq!(
        payload,
        &json!({"DispatchStatusLineItemId": line, "DispatchStatusId": lined})
    );
    let entity_type: String = sqlx::query_scalar(
        "SELECT integrating_entity_type FROM error_record WHERE integration_system_id = $1",
    )
    .bind(w.tenant)
    .fetch_one(w.app.db.pool())
    .await
    .unwrap();
    assert_eq!(entity_type, "Dispatch");

    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(
        w.errors().await.is_empty(),
        "the retried deletion cleared it"
    );
    let subject = w.avni.subject(lined).unwrap();
    assert!(obs(&subject, "Materials Dispatched")
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["Dispatch Line Item Id"] != line.as_str()));
}

#[tokio::test]
async fn images_are_copied_once_and_broken_links_are_flagged() {
    let w = inbound_world().await;
    let prefix = format!("{}/_media/", w.avni.base_url);
    w.app
        .set_config(w.tenant, "avni_s3_url_prefix", &prefix)
        .await;
    let start = Utc::now() - Duration::days(2);
    let bytes = b"a picture of a loaded truck".to_vec();
    let good = w
        .salesforce
        .add_image("0695j00000IMG001EAG", "image/png", bytes.clone());
    let html = w.salesforce.add_image(
        "0695j00000HTML01EAG",
        "text/html",
        b"<html>login</html>".to_vec(),
    );
    let missing = format!("{}{IMAGE_PATH}/0695j00000GONE01EAG", w.salesforce.base_url);
    w.salesforce.seed_dispatch(dispatch(
        "a0D5jIMAGES000001EAG",
        "With a truck photo",
        start,
        json!([{"ImageId": "0695j00000IMG001EAG", "Link": good}]),
    ));
    w.salesforce.seed_dispatch(dispatch(
        "a0D5jBROKEN000001EAG",
        "With broken links",
        start + Duration::seconds(1),
        json!([{"ImageId": "0695j00000GONE01EAG", "Link": missing},
               {"ImageId": "0695j00000HTML01EAG", "Link": html}]),
    ));
    assert_eq!(w.run_main_job().await, "succeeded");
    assert!(w.errors().await.is_empty(), "{:?}", w.errors().await);
    let file = format!("{}.png", media_uuid("0695j00000IMG001EAG"));
    let url = format!("{prefix}{file}");
    let subject = w.avni.subject("a0D5jIMAGES000001EAG").unwrap();
    assert_eq!(obs(&subject, "Loading And Truck Images"), &json!([url]));
    assert_eq!(obs(&subject, "InvalidPhotographURLsReceived"), "false");
    assert_eq!(w.avni.media(&file), Some(bytes));
    let broken = w.avni.subject("a0D5jBROKEN000001EAG").unwrap();
    assert_eq!(obs(&broken, "Loading And Truck Images"), &json!([]));
    assert_eq!(obs(&broken, "InvalidPhotographURLsReceived"), "true");
    assert_eq!(media_puts(&w), 1);
    assert_eq!(image_downloads(&w), 3);

    // Updated in Salesforce: synced again, the stored image is kept as it is.
    w.salesforce.seed_dispatch(dispatch(
        "a0D5jIMAGES000001EAG",
        "Renamed",
        start + Duration::hours(1),
        json!([{"ImageId": "0695j00000IMG001EAG", "Link": good}]),
    ));
    assert_eq!(w.run_main_job().await, "succeeded");
    let subject = w.avni.subject("a0D5jIMAGES000001EAG").unwrap();
    assert_eq!(obs(&subject, "First name"), "Renamed");
    assert_eq!(obs(&subject, "Loading And Truck Images"), &json!([url]));
    assert_eq!(media_puts(&w), 1, "no re-upload");
    assert_eq!(image_downloads(&w), 3, "no re-download");

    // A failing upload-URL request fails the record (a 403 is not retried).
    let second = w
        .salesforce
        .add_image("0695j00000IMG002EAG", "image/jpeg", b"jpeg".to_vec());
    w.salesforce.seed_dispatch(dispatch(
        "a0D5jNOUPLOAD0001EAG",
        "Upload refused",
        start + Duration::hours(2),
        json!([{"ImageId": "0695j00000IMG002EAG", "Link": second}]),
    ));
    w.avni.faults().update(|plan| {
        plan.fail_next = 1;
        plan.error_status = Some(403);
        plan.path_contains = Some("/media/uploadUrl".into());
    });
    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "a0D5jNOUPLOAD0001EAG");
    assert!(errors[0].2.starts_with("403"), "{}", errors[0].2);
    assert_eq!(errors[0].3["DispatchStatusName"], "Upload refused");
    assert!(w.avni.subject("a0D5jNOUPLOAD0001EAG").is_none());
}

#[tokio::test]
async fn binary_images_arrive_byte_for_byte() {
    let w = inbound_world().await;
    let png: Vec<u8> = vec![
        0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe,
    ];
    let link = w
        .salesforce
        .add_image("0695j00000BIN001EAG", "image/png", png.clone());
    w.salesforce.seed_dispatch(dispatch(
        "a0D5jBINARY000001EAG",
        "Binary",
        Utc::now() - Duration::days(1),
        json!([{"ImageId": "0695j00000BIN001EAG", "Link": link}]),
    ));
    assert_eq!(w.run_main_job().await, "succeeded");
    let file = format!("{}.png", media_uuid("0695j00000BIN001EAG"));
    assert_eq!(w.avni.media(&file), Some(png));
}

#[tokio::test]
async fn records_with_a_blank_address_become_invalid_address_errors_with_their_payload() {
    let w = inbound_world().await;
    let start = Utc::now() - Duration::days(2);
    let good = w.salesforce.seed_dispatches(2, start);
    let mut blank = dispatch(
        "a0D5jBLANK0000001EAG",
        "No address",
        start + Duration::hours(1),
        Value::Null,
    );
    blank["DispatchState"] = json!("");
    w.salesforce.seed_dispatch(blank);
    let inventories = w.salesforce.seed_inventories(1, start);
    let mut nowhere = w.salesforce.inventory(&inventories[0]).unwrap();
    nowhere["ImplementationInventoryId"] = json!("a0I5jBLANK0000001EAG");
    nowhere["CenterFieldOfficeDistrict"] = Value::Null;
    w.salesforce.seed_inventory(nowhere);
    assert_eq!(w.run_main_job().await, "succeeded");
    let errors = w.errors().await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (id, name_field, name) in [
        ("a0D5jBLANK0000001EAG", "DispatchStatusName", "No address"),
        (
            "a0I5jBLANK0000001EAG",
            "ImplementationInventoryName",
            "II-000001",
        ),
    ] {
        let error = errors.iter().find(|e| e.0 == id).unwrap();
        assert_eq!(error.1, "InvalidAddressError");
        assert_eq!(error.2, "Invalid address value specified");
        assert_eq!(error.3[name_field], name, "the payload is kept");
        assert!(w.avni.subject(id).is_none());
    }
    for id in &good {
        assert!(w.avni.subject(id).is_some());
    }
}
