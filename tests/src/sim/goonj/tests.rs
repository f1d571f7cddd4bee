use super::*;
use crate::sim::faults::FaultPlan;
use chrono::TimeZone;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response read off the wire.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&body[start..start + size]);
        body = &body[start + size + 2..];
    }
    out
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end.
async fn http(
    base_url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let addr = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    if reply
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        reply.body = decode_chunked(&reply.body);
    }
    reply
}

fn form(config: &GoonjSimConfig) -> String {
    format!(
        "username={}&password={}&grant_type=password&client_id={}&client_secret={}",
        urlencoding::encode(&config.username),
        urlencoding::encode(&config.password),
        urlencoding::encode(&config.client_id),
        urlencoding::encode(&config.client_secret)
    )
}

async fn login(sim: &GoonjSim) -> String {
    let reply = http(
        &sim.base_url,
        "POST",
        AUTH_PATH,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form(sim.config()).as_bytes(),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

async fn get(sim: &GoonjSim, token: &str, resource: &str) -> Reply {
    let bearer = format!("Bearer {token}");
    http(
        &sim.base_url,
        "GET",
        &format!("{APP_PATH}/{resource}"),
        &[("Authorization", &bearer)],
        b"",
    )
    .await
}

async fn post(sim: &GoonjSim, token: &str, resource: &str, body: &Value) -> Reply {
    let bearer = format!("Bearer {token}");
    http(
        &sim.base_url,
        "POST",
        &format!("{APP_PATH}/{resource}"),
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_owned())
        .collect()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn oauth_accepts_urlencoded_and_multipart_and_rejects_bad_credentials() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;

    let token = login(&sim).await;
    assert!(token.starts_with("00D"));

    let boundary = "XyZ123";
    let config = sim.config();
    let mut multipart = String::new();
    for (k, v) in [
        ("username", config.username.as_str()),
        ("password", config.password.as_str()),
        ("grant_type", "password"),
        ("client_id", config.client_id.as_str()),
        ("client_secret", config.client_secret.as_str()),
    ] {
        multipart.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{v}\r\n",
            v.len()
        ));
    }
    multipart.push_str(&format!("--{boundary}--\r\n"));
    let content_type = format!("multipart/form-data;boundary={boundary}");
    let reply = http(
        &sim.base_url,
        "POST",
        AUTH_PATH,
        &[("Content-Type", &content_type)],
        multipart.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["instance_url"], sim.base_url.as_str());
    let issued_at: i64 = body["issued_at"].as_str().unwrap().parse().unwrap();
    assert!((Utc::now().timestamp_millis() - issued_at).abs() < 60_000);

    let bad = form(config).replace("password=goonj-main-dummy", "password=wrong");
    let reply = http(
        &sim.base_url,
        "POST",
        AUTH_PATH,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        bad.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_grant");

    let bad_secret = form(config).replace("client_secret=goonj-main-dummy", "client_secret=x");
    let reply = http(&sim.base_url, "POST", AUTH_PATH, &[], bad_secret.as_bytes()).await;
    assert_eq!(reply.json()["error"], "invalid_client");

    // Secrets are masked in the recording.
    let oauth = &sim.writes()[0];
    assert_eq!(oauth.path, AUTH_PATH);
    assert_eq!(oauth.body["grant_type"], "password");
    assert_eq!(oauth.body["password"], "***");
}

#[tokio::test]
async fn app_calls_need_a_valid_unexpired_token() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    let demands = "DemandService/getDemands?dateTimestamp=2023-01-01T00:00:00";

    let reply = http(
        &sim.base_url,
        "GET",
        &format!("{APP_PATH}/{demands}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    assert_eq!(get(&sim, "not-a-token", demands).await.status, 401);

    let token = login(&sim).await;
    assert_eq!(get(&sim, &token, demands).await.status, 200);
    sim.expire_tokens();
    let reply = get(&sim, &token, demands).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()[0]["errorCode"], "INVALID_SESSION_ID");
    let fresh = login(&sim).await;
    assert_eq!(get(&sim, &fresh, demands).await.status, 200);

    // A token past its TTL (zero here) is refused too.
    let short = GoonjSim::start(GoonjSimConfig {
        token_ttl: Duration::ZERO,
        ..GoonjSimConfig::default()
    })
    .await;
    let token = login(&short).await;
    assert_eq!(get(&short, &token, demands).await.status, 401);
}

#[tokio::test]
async fn cursor_is_an_ist_wall_clock_and_returns_records_strictly_after_it_in_order() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    let token = login(&sim).await;
    // Seeded out of order: 10:00:02Z, then 10:00:00Z .. 10:00:01Z.
    sim.seed_demand(
        json!({"DemandId": "late", "State": "Bihar", "District": "Patna",
        "LastUpdatedDateTime": "2023-06-01T10:00:02.000Z"}),
    );
    let early = sim.seed_demands(2, utc(2023, 6, 1, 10, 0, 0));

    assert_eq!(
        ist_wall_clock(utc(2023, 6, 1, 10, 0, 0)),
        "2023-06-01T15:30:00"
    );
    let page = |ts: &str| format!("DemandService/getDemands?dateTimestamp={ts}&state=&account=");

    let all = get(&sim, &token, &page("2023-06-01T15:29:59")).await.json();
    assert_eq!(
        ids(&all["Demands"], "DemandId"),
        vec![early[0].clone(), early[1].clone(), "late".into()]
    );
    // Strictly after: the record at exactly the cursor is not returned again.
    let after = get(&sim, &token, &page("2023-06-01T15:30:01")).await.json();
    assert_eq!(ids(&after["Demands"], "DemandId"), vec!["late".to_owned()]);
    assert_eq!(
        get(&sim, &token, &page("2023-06-01T15:30:02")).await.json()["Demands"],
        json!([])
    );
    // The UTC digits read as IST are 5h30 earlier: everything comes back.
    let utc_digits = get(&sim, &token, &page("2023-06-01T10:00:01")).await.json();
    assert_eq!(utc_digits["Demands"].as_array().unwrap().len(), 3);
    // A zone on the cursor is refused; so is a missing cursor.
    let zoned = get(&sim, &token, &page("2023-06-01T10:00:01Z")).await;
    assert_eq!(zoned.status, 400);
    assert_eq!(zoned.json()[0]["errorCode"], "APEX_ERROR");
    assert_eq!(
        get(&sim, &token, "DemandService/getDemands").await.status,
        400
    );
    // Inventory's parameter is spelt dateTimeStamp; its cursor field is LastModifiedDate.
    let inv = sim.seed_inventories(2, utc(2023, 6, 1, 10, 0, 0));
    let reply = get(
        &sim,
        &token,
        "ImplementationInventoryService/getImplementationInventories?dateTimeStamp=2023-06-01T15:30:00",
    )
    .await
    .json();
    assert_eq!(
        ids(
            &reply["ImplementationInventory"],
            "ImplementationInventoryId"
        ),
        vec![inv[1].clone()]
    );
    assert_eq!(
        reply["ImplementationInventory"][0]["LastModifiedDate"],
        "2023-06-01T10:00:01.000Z"
    );
    let wrong_case = get(
        &sim,
        &token,
        "ImplementationInventoryService/getImplementationInventories?dateTimestamp=2023-06-01T15:30:00",
    )
    .await;
    assert_eq!(wrong_case.status, 400);
}

#[tokio::test]
async fn pages_are_capped_and_filtered_by_state_and_account() {
    let sim = GoonjSim::start(GoonjSimConfig {
        page_limit: 5,
        ..GoonjSimConfig::default()
    })
    .await;
    let token = login(&sim).await;
    let seeded = sim.seed_demands(12, utc(2023, 6, 1, 10, 0, 0));

    let first = get(
        &sim,
        &token,
        "DemandService/getDemands?dateTimestamp=2023-06-01T00:00:00",
    )
    .await
    .json();
    assert_eq!(ids(&first["Demands"], "DemandId"), seeded[..5].to_vec());
    // The integration moves its cursor to the last record's timestamp (as IST) and reads on.
    let last = parse_sf_datetime(first["Demands"][4]["LastUpdatedDateTime"].as_str().unwrap());
    let next = format!(
        "DemandService/getDemands?dateTimestamp={}",
        ist_wall_clock(last.unwrap())
    );
    let second = get(&sim, &token, &next).await.json();
    assert_eq!(ids(&second["Demands"], "DemandId"), seeded[5..10].to_vec());

    // Places cycle through generate::PLACES: Bihar is index 1 and 7.
    let bihar = get(
        &sim,
        &token,
        "DemandService/getDemands?dateTimestamp=2023-06-01T00:00:00&state=bihar&account=",
    )
    .await
    .json();
    assert_eq!(
        ids(&bihar["Demands"], "DemandId"),
        vec![seeded[1].clone(), seeded[7].clone()]
    );
    let palghar = get(
        &sim,
        &token,
        "DemandService/getDemands?dateTimestamp=2023-06-01T00:00:00&state=&account=Goonj%20Palghar",
    )
    .await
    .json();
    assert_eq!(
        ids(&palghar["Demands"], "DemandId"),
        vec![seeded[2].clone(), seeded[8].clone()]
    );
}

#[tokio::test]
async fn deletions_are_listed_after_the_cursor() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    let token = login(&sim).await;
    let demands = sim.seed_demands(2, utc(2023, 6, 1, 10, 0, 0));
    let dispatches = sim.seed_dispatches(3, utc(2023, 6, 1, 10, 0, 0));
    let inventories = sim.seed_inventories(1, utc(2023, 6, 1, 10, 0, 0));

    sim.set_now(Some(utc(2023, 6, 2, 0, 0, 0)));
    sim.delete_demand(&demands[0]);
    sim.delete_dispatch(&dispatches[0]);
    let dispatch = sim.dispatch(&dispatches[2]).unwrap();
    let lines = ids(&dispatch["DispatchLineItems"], "DispatchLineItemId");
    assert_eq!(lines.len(), 3);
    sim.delete_dispatch_line(&dispatches[2], &lines[1]);
    sim.delete_inventory(&inventories[0]);

    let before = "dateTimestamp=2023-06-02T05:29:59"; // 2023-06-01T23:59:59Z
    let at = "dateTimestamp=2023-06-02T05:30:00"; // the deletion instant: not after it

    let reply = get(&sim, &token, &format!("DemandService/getDemands?{before}"))
        .await
        .json();
    assert_eq!(strings(&reply["DeletedDemands"]), vec![demands[0].clone()]);
    assert_eq!(reply["Demands"], json!([]));
    let reply = get(&sim, &token, &format!("DemandService/getDemands?{at}"))
        .await
        .json();
    assert_eq!(reply["DeletedDemands"], json!([]));

    let reply = get(
        &sim,
        &token,
        &format!("DispatchService/getDispatches?{before}"),
    )
    .await
    .json();
    assert_eq!(
        reply["DeletedObjects"],
        json!({
            "DeletedDispatchStatuses": [dispatches[0]],
            "DeletedDispatchStatusLineItems": [
                {"DispatchStatusLineItemId": lines[1], "DispatchStatusId": dispatches[2]}
            ],
        })
    );
    let kept = ids(
        &sim.dispatch(&dispatches[2]).unwrap()["DispatchLineItems"],
        "DispatchLineItemId",
    );
    assert_eq!(kept, vec![lines[0].clone(), lines[2].clone()]);
    let reply = get(&sim, &token, &format!("DispatchService/getDispatches?{at}"))
        .await
        .json();
    assert_eq!(
        reply["DeletedObjects"]["DeletedDispatchStatuses"],
        json!([])
    );
    assert_eq!(
        reply["DeletedObjects"]["DeletedDispatchStatusLineItems"],
        json!([])
    );

    let reply = get(
        &sim,
        &token,
        "ImplementationInventoryService/getImplementationInventories?dateTimeStamp=2023-06-01T00:00:00",
    )
    .await
    .json();
    assert_eq!(
        strings(&reply["deletedImplementationInventory"]),
        inventories
    );
    assert_eq!(reply["ImplementationInventory"], json!([]));
}

#[tokio::test]
async fn single_fetch_returns_one_or_zero_records() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    let token = login(&sim).await;
    let demands = sim.seed_demands(3, utc(2023, 6, 1, 10, 0, 0));
    let dispatches = sim.seed_dispatches(1, utc(2023, 6, 1, 10, 0, 0));
    sim.delete_demand(&demands[2]);

    let one = get(
        &sim,
        &token,
        &format!("DemandService/getDemands?demandId={}", demands[1]),
    )
    .await
    .json();
    assert_eq!(ids(&one["Demands"], "DemandId"), vec![demands[1].clone()]);
    assert_eq!(one["DeletedDemands"], json!([]));

    let none = get(&sim, &token, "DemandService/getDemands?demandId=a0B5jNOPE")
        .await
        .json();
    assert_eq!(none, json!({"Demands": [], "DeletedDemands": []}));

    let gone = get(
        &sim,
        &token,
        &format!("DemandService/getDemands?demandId={}", demands[2]),
    )
    .await
    .json();
    assert_eq!(gone["Demands"], json!([]));
    assert_eq!(strings(&gone["DeletedDemands"]), vec![demands[2].clone()]);

    let dispatch = get(
        &sim,
        &token,
        &format!(
            "DispatchService/getDispatches?dispatchStatusId={}",
            dispatches[0]
        ),
    )
    .await
    .json();
    let record = &dispatch["DispatchStatuses"][0];
    assert_eq!(record["DispatchStatusId"], dispatches[0].as_str());
    assert!(!record["DispatchLineItems"].as_array().unwrap().is_empty());
    assert_eq!(record["DispatchState"], "Uttarakhand");
}

#[tokio::test]
async fn upserts_keep_one_record_per_source_id_and_merge_repeats() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    let token = login(&sim).await;

    let activity = json!({"Activities": [{"SourceId": "a-1", "TypeofInitiative": "CFW",
        "Remarks": "first", "NoofWorkingDays": 2}]});
    let reply = post(&sim, &token, "ActivityService/upsertActivity", &activity).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()[0]["created"], true);
    assert!(reply.json()[0]["errorCode"].is_null());
    let repeat = json!({"Activities": [{"SourceId": "a-1", "TypeofInitiative": "CFW",
        "NoofWorkingDays": 3}]});
    let reply = post(&sim, &token, "ActivityService/upsertActivity", &repeat).await;
    assert_eq!(reply.json()[0]["created"], false);
    assert_eq!(sim.activities().len(), 1);
    // Fields not sent keep their value, as in a Salesforce upsert.
    assert_eq!(
        sim.activity("a-1").unwrap(),
        json!({"SourceId": "a-1", "TypeofInitiative": "CFW", "Remarks": "first", "NoofWorkingDays": 3})
    );

    let distribution = |qty: u32, line: &str| {
        json!({"Distributions": [{"sourceId": "d-1", "typeOfInitiative": "Only Rahat",
            "DistributionLines": [{"sourceId": line, "quantity": qty}], "Activities": []}]})
    };
    post(
        &sim,
        &token,
        "DistributionService/upsertDistribution",
        &distribution(5, "d-1#i-1"),
    )
    .await;
    post(
        &sim,
        &token,
        "DistributionService/upsertDistribution",
        &distribution(7, "d-1#i-1"),
    )
    .await;
    post(
        &sim,
        &token,
        "DistributionService/upsertDistribution",
        &distribution(1, "d-1#i-2"),
    )
    .await;
    assert_eq!(sim.distributions().len(), 1);
    assert_eq!(
        sim.distribution("d-1").unwrap()["DistributionLines"],
        json!([{"sourceId": "d-1#i-1", "quantity": 7}, {"sourceId": "d-1#i-2", "quantity": 1}])
    );

    let receipt = json!({"DispatchReceivedStatus": [{"SourceId": "r-1", "DispatchStatusId": "a0D",
        "ReceivedDate": "2023-06-03", "DispatchReceivedStatusLineItems": [
            {"SourceId": "l-1", "DispatchStatusLineItem": "l-1", "ReceivedQuantity": 4.0}]}]});
    assert_eq!(
        post(
            &sim,
            &token,
            "DispatchReceivedService/upsertDispatchReceivedStatus",
            &receipt
        )
        .await
        .status,
        200
    );
    assert_eq!(sim.dispatch_receipts().len(), 1);

    // Delete-and-recreate: the deletion service takes sourceIds; a second time it is a 404.
    let delete = json!({"recordId": [], "sourceId": ["r-1"]});
    let reply = post(
        &sim,
        &token,
        "deleteDispatchReceivedStatusService/",
        &delete,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(sim.dispatch_receipts().is_empty());
    let reply = post(
        &sim,
        &token,
        "deleteDispatchReceivedStatusService/",
        &delete,
    )
    .await;
    assert_eq!(reply.status, 404);

    let writes = sim.writes();
    let paths: Vec<&str> = writes.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths
            .iter()
            .filter(|p| p.ends_with("upsertActivity"))
            .count(),
        2
    );
    assert_eq!(writes[1].body, activity);
    assert_eq!(writes[1].status, Some(200));
}

#[tokio::test]
async fn batch_limit_and_missing_keys_are_refused() {
    let sim = GoonjSim::start(GoonjSimConfig {
        batch_limit: 2,
        ..GoonjSimConfig::default()
    })
    .await;
    let token = login(&sim).await;
    let three = json!({"Activities": [{"SourceId": "1"}, {"SourceId": "2"}, {"SourceId": "3"}]});
    let reply = post(&sim, &token, "ActivityService/upsertActivity", &three).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()[0]["errorCode"], "LIMIT_EXCEEDED");
    assert!(sim.activities().is_empty());

    let two = json!({"Activities": [{"SourceId": "1"}, {"SourceId": "2"}]});
    assert_eq!(
        post(&sim, &token, "ActivityService/upsertActivity", &two)
            .await
            .status,
        200
    );

    let keyless = json!({"Distributions": [{"SourceId": "wrong case"}]});
    let reply = post(
        &sim,
        &token,
        "DistributionService/upsertDistribution",
        &keyless,
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()[0]["errorCode"], "REQUIRED_FIELD_MISSING");

    let reply = http(
        &sim.base_url,
        "GET",
        &format!("{APP_PATH}/ActivityService/upsertActivity"),
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
    .await;
    assert_eq!(reply.status, 405);
    let reply = post(&sim, &token, "NoSuchService/x", &json!({})).await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn rejections_answer_error_codes_in_a_200_or_a_400() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    let token = login(&sim).await;
    sim.reject_when(Rejection::picklist("TypeofInitiative", "Bogus"));
    sim.reject_when(
        Rejection::validation(
            "ReceivedQuantity",
            "99",
            "Received Quantity cannot be more than Dispatched Quantity",
        )
        .with_status(200)
        .on("upsertDispatchReceivedStatus"),
    );

    let bogus = json!({"Activities": [{"SourceId": "a-1", "TypeofInitiative": "Bogus"}]});
    let reply = post(&sim, &token, "ActivityService/upsertActivity", &bogus).await;
    assert_eq!(reply.status, 400);
    let error = &reply.json()[0];
    assert_eq!(
        error["errorCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("bad value for restricted picklist field: Bogus"));
    assert!(sim.activities().is_empty());

    // Multi-select values are checked one by one.
    let multi = json!({"Activities": [{"SourceId": "a-2", "TypeofInitiative": "CFW;Bogus"}]});
    assert_eq!(
        post(&sim, &token, "ActivityService/upsertActivity", &multi)
            .await
            .status,
        400
    );

    let receipt = |qty: u32| {
        json!({"DispatchReceivedStatus": [{"SourceId": "r-1", "DispatchReceivedStatusLineItems": [
            {"SourceId": "l-1", "DispatchStatusLineItem": "l-1", "ReceivedQuantity": qty}]}]})
    };
    let reply = post(
        &sim,
        &token,
        "DispatchReceivedService/upsertDispatchReceivedStatus",
        &receipt(99),
    )
    .await;
    assert_eq!(reply.status, 200);
    let error = &reply.json()[0];
    assert_eq!(error["errorCode"], "FIELD_CUSTOM_VALIDATION_EXCEPTION");
    assert!(error["message"].as_str().unwrap().contains(
        "FIELD_CUSTOM_VALIDATION_EXCEPTION, Received Quantity cannot be more than Dispatched Quantity"
    ));
    assert!(sim.dispatch_receipts().is_empty());
    let ok = post(
        &sim,
        &token,
        "DispatchReceivedService/upsertDispatchReceivedStatus",
        &receipt(3),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.json()[0]["errorCode"].is_null());

    // Two identical receipt lines: Apex's ListException.
    let line = json!({"SourceId": "l-9", "DispatchStatusLineItem": "l-9", "ReceivedQuantity": 1});
    let duplicated = json!({"DispatchReceivedStatus": [{"SourceId": "r-2",
        "DispatchReceivedStatusLineItems": [line, line]}]});
    let reply = post(
        &sim,
        &token,
        "DispatchReceivedService/upsertDispatchReceivedStatus",
        &duplicated,
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()[0]["message"]
        .as_str()
        .unwrap()
        .contains("two identically equal elements"));
    assert!(sim.dispatch_receipt("r-2").is_none());

    sim.clear_rejections();
    assert_eq!(
        post(&sim, &token, "ActivityService/upsertActivity", &bogus)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn faults_apply_to_every_route_and_are_recorded() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    sim.faults().set(FaultPlan {
        fail_next: 1,
        error_status: Some(503),
        ..FaultPlan::default()
    });
    let reply = http(
        &sim.base_url,
        "POST",
        AUTH_PATH,
        &[],
        form(sim.config()).as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 503);
    let token = login(&sim).await;

    sim.faults().set(FaultPlan {
        fail_next: 1,
        path_contains: Some("upsertActivity".into()),
        ..FaultPlan::default()
    });
    let activity = json!({"Activities": [{"SourceId": "a-1"}]});
    let demands = "DemandService/getDemands?dateTimestamp=2023-01-01T00:00:00";
    assert_eq!(get(&sim, &token, demands).await.status, 200);
    assert_eq!(
        post(&sim, &token, "ActivityService/upsertActivity", &activity)
            .await
            .status,
        500
    );
    assert!(sim.activities().is_empty());
    assert_eq!(
        post(&sim, &token, "ActivityService/upsertActivity", &activity)
            .await
            .status,
        200
    );
    assert_eq!(sim.activities().len(), 1);

    sim.faults().set(FaultPlan {
        throttle_next: 1,
        ..FaultPlan::default()
    });
    let reply = get(&sim, &token, demands).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("1"));

    let statuses: Vec<Option<u16>> = sim
        .writes()
        .iter()
        .filter(|w| w.path.ends_with("upsertActivity"))
        .map(|w| w.status)
        .collect();
    assert_eq!(statuses, vec![Some(500), Some(200)]);
    assert_eq!(sim.requests(), 6);
    assert_eq!(sim.recorded().len(), 6);
}

#[tokio::test]
async fn image_links_need_the_bearer_and_serve_the_bytes() {
    let sim = GoonjSim::start(GoonjSimConfig::default()).await;
    let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3];
    let link = sim.add_image("069-image 1", "image/png", png.clone());
    assert!(link.starts_with(&sim.base_url));
    let path = link.trim_start_matches(&sim.base_url);

    assert_eq!(http(&sim.base_url, "GET", path, &[], b"").await.status, 401);
    let token = login(&sim).await;
    let bearer = format!("Bearer {token}");
    let reply = http(
        &sim.base_url,
        "GET",
        path,
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("image/png"));
    assert_eq!(reply.body, png);
    let missing = format!("{IMAGE_PATH}/nope");
    let reply = http(
        &sim.base_url,
        "GET",
        &missing,
        &[("Authorization", &bearer)],
        b"",
    )
    .await;
    assert_eq!(reply.status, 404);
}

#[test]
fn generated_records_look_like_the_fixtures() {
    let sim = GoonjSim::new(GoonjSimConfig::default(), "http://sim".into());
    let demands = sim.seed_demands(3, utc(2023, 6, 1, 10, 0, 0));
    assert_eq!(demands[0].len(), 18);
    let demand = sim.demand(&demands[0]).unwrap();
    // The keys of goonj-demands-response.synth.json's demand.
    let mut keys: Vec<&str> = demand
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "AccountId",
            "AccountName",
            "DemandId",
            "DemandName",
            "DemandStatus",
            "DispatchStatus",
            "District",
            "IsVoided",
            "LastUpdatedDateTime",
            "NumberOfPeople",
            "State",
            "TargetCommunity",
            "TypeOfDisaster",
        ]
    );
    assert_eq!(demand["LastUpdatedDateTime"], "2023-06-01T10:00:00.000Z");
    assert_eq!(sim.demand(&demands[1]).unwrap()["IsVoided"], "false");
    assert_eq!(sim.demand(&demands[2]).unwrap()["IsVoided"], false);

    let dispatches = sim.seed_dispatches(3, utc(2023, 6, 1, 10, 0, 0));
    let dispatch = sim.dispatch(&dispatches[2]).unwrap();
    assert_eq!(dispatch["DispatchLineItems"].as_array().unwrap().len(), 3);
    assert_eq!(dispatch["DispatchDate"], "2023-05-31");
    for line in dispatch["DispatchLineItems"].as_array().unwrap() {
        assert!(line["DispatchLineItemId"]
            .as_str()
            .unwrap()
            .starts_with("a0E5j"));
        assert!(line["Quantity"].as_u64().unwrap() > 0);
    }

    let inventory = sim.inventory(&sim.seed_inventories(1, utc(2023, 6, 1, 10, 0, 0))[0]);
    assert_eq!(inventory.unwrap()["CenterFieldOfficeState"], "Uttarakhand");

    // Timestamps are optional on seeds: the sim's clock stamps them.
    sim.set_now(Some(utc(2024, 1, 2, 3, 4, 5)));
    sim.seed_demand(json!({"DemandId": "x", "State": "Assam", "District": "Kamrup"}));
    assert_eq!(
        sim.demand("x").unwrap()["LastUpdatedDateTime"],
        "2024-01-02T03:04:05.000Z"
    );
    assert_eq!(
        parse_ist_wall_clock("2024-01-02 08:34:05"),
        Some(utc(2024, 1, 2, 3, 4, 5))
    );
    assert_eq!(parse_ist_wall_clock("2024-01-02T08:34:05+05:30"), None);
}

#[test]
fn multipart_and_urlencoded_forms_parse() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nu@x.org\r\n--b\r\nContent-Disposition: form-data; name=\"password\"\r\nContent-Type: text/plain\r\n\r\np&ss word\r\n--b--\r\n";
    assert_eq!(
        routes::parse_form("multipart/form-data; boundary=\"b\"", body),
        vec![
            ("username".to_owned(), "u@x.org".to_owned()),
            ("password".to_owned(), "p&ss word".to_owned())
        ]
    );
    assert_eq!(
        routes::parse_form("application/x-www-form-urlencoded", b"a=x+y%21&b="),
        vec![
            ("a".to_owned(), "x y!".to_owned()),
            ("b".to_owned(), String::new())
        ]
    );
}
