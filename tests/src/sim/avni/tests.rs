//! The simulator through real HTTP (a minimal HTTP/1.1 client over `TcpStream`).

use super::*;
use crate::sim::faults::FaultPlan;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::TimeZone;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
}

async fn call(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
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
    let mut resp = Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        resp.body = dechunk(&resp.body);
    }
    resp
}

/// A logged-in client.
struct Client {
    base: String,
    token: String,
}

impl Client {
    async fn login(sim: &AvniSim) -> Client {
        let token = login(sim, "integration", "password").await.json()["authToken"]
            .as_str()
            .unwrap()
            .to_owned();
        Client {
            base: sim.base_url.clone(),
            token,
        }
    }

    async fn get(&self, path: &str) -> Resp {
        call(
            &self.base,
            "GET",
            path,
            &[("AUTH-TOKEN", &self.token)],
            None,
        )
        .await
    }

    async fn send(&self, method: &str, path: &str, body: &Value) -> Resp {
        let body = body.to_string();
        call(
            &self.base,
            method,
            path,
            &[
                ("auth-token", &self.token),
                ("Content-Type", "application/json"),
            ],
            Some(body.as_bytes()),
        )
        .await
    }
}

async fn login(sim: &AvniSim, username: &str, password: &str) -> Resp {
    let body = json!({ "username": username, "password": password }).to_string();
    call(
        &sim.base_url,
        "POST",
        "/api/user/generateToken",
        &[("Content-Type", "application/json")],
        Some(body.as_bytes()),
    )
    .await
}

fn enc(t: DateTime<Utc>) -> String {
    urlencoding::encode(&format_ms(t)).into_owned()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap() + TimeDelta::milliseconds(123)
}

fn ids(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ID"].as_str().unwrap().to_owned())
        .collect()
}

fn goonj_sim_setup(sim: &AvniSim) {
    sim.add_subject_type("Demand");
    sim.add_location("Uttarakhand", "Dehradun");
    sim.add_concept("Target Community", Some(&["Rural", "Tribal", "Urban"]));
    sim.add_concept("Number of people", None);
    sim.add_concept("Account Name", None);
}

/// The contract fixture `avni-subject-upsert-request-v3.synth.json`.
fn demand_body(people: u64) -> Value {
    json!({
        "observations": {
            "Target Community": ["Rural", "Tribal"],
            "Number of people": people,
            "Account Name": "Goonj Uttarakhand"
        },
        "Subject type": "Demand",
        "Registration date": "2023-06-01",
        "Address map": { "State": "Uttarakhand", "District": "Dehradun" },
        "External ID": "a0B5j000001AbCdEAF",
        "First name": "Flood relief kits - Dehradun",
        "Voided": false
    })
}

#[tokio::test]
async fn strict_window_and_a_tie_larger_than_a_page_is_walked_in_id_order() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    let at = t0();
    let before = sim.seed_subject(SeedSubject {
        last_modified_at: Some(at - TimeDelta::milliseconds(1)),
        ..SeedSubject::new("Individual")
    });
    let tied = sim.seed_subjects_same_millisecond("Individual", 25, at);
    let after = sim.seed_subject(SeedSubject {
        last_modified_at: Some(at + TimeDelta::milliseconds(1)),
        ..SeedSubject::new("Individual")
    });
    assert_eq!(
        sim.subject_last_modified(&tied[3]).unwrap(),
        at + TimeDelta::microseconds(3)
    );
    let client = Client::login(&sim).await;

    // The slice walk of avni.md §4: lmdt = ms − 1ms, now = ms + 1ms, page by page.
    let mut walked = Vec::new();
    for (page, expected) in [(0, 10), (1, 10), (2, 5)] {
        let resp = client
            .get(&format!(
                "/api/subjects?lastModifiedDateTime={}&now={}&size=10&page={page}",
                enc(at - TimeDelta::milliseconds(1)),
                enc(at + TimeDelta::milliseconds(1))
            ))
            .await;
        assert_eq!(resp.status, 200);
        let body = resp.json();
        assert_eq!(body["totalElements"], expected, "count in this page");
        assert_eq!(body["totalPages"], 3);
        assert_eq!(body["pageSize"], 10);
        for item in body["content"].as_array().unwrap() {
            assert_eq!(
                item["audit"]["Last modified at"],
                "2024-01-01T10:00:00.123Z"
            );
        }
        walked.extend(ids(&body));
    }
    assert_eq!(walked, tied, "id order, nothing before or after the ms");
    assert!(!walked.contains(&before) && !walked.contains(&after));

    // Echoing the shown ms re-delivers the sub-ms rows (all but the one exactly at it).
    let body = client
        .get(&format!(
            "/api/subjects?lastModifiedDateTime={}&now={}&size=100",
            enc(at),
            enc(at + TimeDelta::milliseconds(1))
        ))
        .await
        .json();
    assert_eq!(ids(&body), tied[1..].to_vec());

    // Strict upper bound: now = the ms itself excludes every row of it.
    let body = client
        .get(&format!(
            "/api/subjects?lastModifiedDateTime={}&now={}",
            enc(at - TimeDelta::milliseconds(1)),
            enc(at)
        ))
        .await
        .json();
    assert_eq!(
        body,
        json!({"content": [], "totalElements": 0, "totalPages": 0, "pageSize": 20})
    );

    // Past the last page: empty content, real totalPages.
    let body = client
        .get(&format!(
            "/api/subjects?lastModifiedDateTime={}&now={}&size=10&page=3",
            enc(at - TimeDelta::milliseconds(1)),
            enc(at + TimeDelta::milliseconds(1))
        ))
        .await
        .json();
    assert_eq!(body["totalElements"], 0);
    assert_eq!(body["totalPages"], 3);

    // An edit moves the subject to server now.
    assert!(sim.edit_subject(&tied[0], Map::new()));
    assert!(sim.subject_last_modified(&tied[0]).unwrap() > at + TimeDelta::seconds(1));
}

#[tokio::test]
async fn list_shape_size_cap_and_subject_type_quirk() {
    let sim = AvniSim::start(AvniSimConfig {
        max_page_size: 50,
        ..AvniSimConfig::default()
    })
    .await;
    let id = sim.seed_subject(SeedSubject {
        first_name: Some("Asha".into()),
        last_name: Some("Devi".into()),
        location: Some(("Uttarakhand".into(), "Dehradun".into())),
        last_modified_at: Some(t0() + TimeDelta::microseconds(456)),
        observations: [("Bahmni ID".to_owned(), json!("GAN203001"))]
            .into_iter()
            .collect(),
        ..SeedSubject::new("Individual")
    });
    let client = Client::login(&sim).await;
    let lmdt = enc(t0() - TimeDelta::seconds(1));
    let filtered = client
        .get(&format!(
            "/api/subjects?lastModifiedDateTime={lmdt}&subjectType=Individual&size=5000"
        ))
        .await
        .json();
    assert_eq!(filtered["pageSize"], 50, "size is capped");
    let item = &filtered["content"][0];
    assert!(
        item.get("Subject type").is_none(),
        "omitted when subjectType passed"
    );
    assert_eq!(item["ID"], id.as_str());
    assert_eq!(
        item["audit"]["Last modified at"],
        "2024-01-01T10:00:00.123Z"
    );
    assert_eq!(item["observations"]["First name"], "Asha");
    assert_eq!(item["observations"]["Bahmni ID"], "GAN203001");
    assert_eq!(item["location"]["District"], "Dehradun");
    assert_eq!(item["Groups"], json!([]));
    assert!(item["Location ID"].is_string());
    // Keys come out in Avni's order.
    let raw = client
        .get(&format!("/api/subjects?lastModifiedDateTime={lmdt}"))
        .await
        .text();
    let positions: Vec<usize> = [
        "\"Subject type\"",
        "\"ID\"",
        "\"External ID\"",
        "\"Voided\"",
        "\"observations\"",
        "\"audit\"",
        "\"Groups\"",
    ]
    .iter()
    .map(|k| raw.find(k).unwrap())
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{raw}");
    let unfiltered = client
        .get(&format!("/api/subjects?lastModifiedDateTime={lmdt}"))
        .await
        .json();
    assert_eq!(unfiltered["content"][0]["Subject type"], "Individual");
    assert_eq!(unfiltered["pageSize"], 20);
    let other = client
        .get(&format!(
            "/api/subjects?lastModifiedDateTime={lmdt}&subjectType=Household"
        ))
        .await
        .json();
    assert_eq!(other["totalElements"], 0);
}

#[tokio::test]
async fn missing_now_is_server_now_minus_lag() {
    let sim = AvniSim::start(AvniSimConfig {
        now_lag: Duration::from_secs(10),
        ..AvniSimConfig::default()
    })
    .await;
    let now = t0();
    sim.set_now_override(Some(now));
    let recent = sim.seed_subject(SeedSubject {
        last_modified_at: Some(now - TimeDelta::seconds(5)),
        ..SeedSubject::new("Individual")
    });
    let older = sim.seed_subject(SeedSubject {
        last_modified_at: Some(now - TimeDelta::seconds(20)),
        ..SeedSubject::new("Individual")
    });
    let client = Client::login(&sim).await;
    let lmdt = enc(now - TimeDelta::hours(1));
    for suffix in ["", "&now=null"] {
        let body = client
            .get(&format!(
                "/api/subjects?lastModifiedDateTime={lmdt}{suffix}"
            ))
            .await
            .json();
        assert_eq!(ids(&body), vec![older.clone()], "now {suffix:?}");
    }
    let body = client
        .get(&format!(
            "/api/subjects?lastModifiedDateTime={lmdt}&now={}",
            enc(now)
        ))
        .await
        .json();
    assert_eq!(ids(&body), vec![older, recent]);
}

#[tokio::test]
async fn query_datetimes_accept_iso_forms_and_reject_garbage() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    let id = sim.seed_subject(SeedSubject {
        last_modified_at: Some(t0() + TimeDelta::microseconds(1)),
        ..SeedSubject::new("Individual")
    });
    let client = Client::login(&sim).await;
    let now = "&now=2024-01-02T00:00:00.000Z";
    for lmdt in [
        "2024-01-01T10:00:00.123Z",
        "2024-01-01T15:30:00.123%2B05:30",
        "2024-01-01T10:00:00.123",
        "2024-01-01T10:00:00.123456Z",
    ] {
        let resp = client
            .get(&format!("/api/subjects?lastModifiedDateTime={lmdt}{now}"))
            .await;
        assert_eq!(resp.status, 200, "{lmdt}");
        assert_eq!(ids(&resp.json()), vec![id.clone()], "{lmdt}");
    }
    for bad in [
        "2024-01-01T15:30:00.123+05:30",
        "yesterday",
        "2024-13-01T00:00:00Z",
    ] {
        let resp = client
            .get(&format!("/api/subjects?lastModifiedDateTime={bad}{now}"))
            .await;
        assert_eq!(resp.status, 400, "{bad}");
    }
    assert_eq!(client.get("/api/subjects?now=garbage").await.status, 400);
}

#[tokio::test]
async fn tokens_are_jwt_shaped_and_checked() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    let idp = call(&sim.base_url, "GET", "/idp-details", &[], None)
        .await
        .json();
    assert_eq!(idp["idpType"], "cognito");
    assert_eq!(
        call(&sim.base_url, "GET", "/api/subjects", &[], None)
            .await
            .status,
        401
    );
    assert_eq!(login(&sim, "integration", "wrong").await.status, 401);
    assert_eq!(login(&sim, "nobody", "password").await.status, 404);

    let client = Client::login(&sim).await;
    let payload = client.token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let exp = claims["exp"].as_i64().unwrap();
    assert!((exp - Utc::now().timestamp() - 3600).abs() <= 2, "{claims}");
    assert_eq!(client.get("/api/subjects").await.status, 200);
    let query_token = format!("/api/subjects?AUTH-TOKEN={}", client.token);
    assert_eq!(
        call(&sim.base_url, "GET", &query_token, &[], None)
            .await
            .status,
        200
    );
    let cookie = format!("auth-token={}", client.token);
    let by_cookie = call(
        &sim.base_url,
        "GET",
        "/api/subjects",
        &[("Cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(by_cookie.status, 200);

    sim.expire_tokens();
    let expired = client.get("/api/subjects").await;
    assert_eq!(expired.status, 401);
    assert!(expired.text().contains("TokenExpiredException"));
    assert_eq!(
        Client::login(&sim).await.get("/api/subjects").await.status,
        200
    );

    // A JWT this instance never issued fails verification (500); garbage is a 401.
    let foreign = Client {
        base: sim.base_url.clone(),
        token: Client::login(&AvniSim::start(AvniSimConfig::default()).await)
            .await
            .token,
    };
    assert_eq!(foreign.get("/api/subjects").await.status, 500);
    let garbage = Client {
        base: sim.base_url.clone(),
        token: "not-a-jwt".into(),
    };
    assert_eq!(garbage.get("/api/subjects").await.status, 401);

    sim.set_token_api_allowed(false);
    assert_eq!(login(&sim, "integration", "password").await.status, 403);
}

#[tokio::test]
async fn expiry_follows_exp_and_the_leeway() {
    let sim = AvniSim::start(AvniSimConfig {
        auth: AvniAuth::Token {
            username: "integration".into(),
            password: "password".into(),
            token_ttl: Duration::ZERO,
        },
        ..AvniSimConfig::default()
    })
    .await;
    let client = Client::login(&sim).await;
    assert_eq!(client.get("/api/subjects").await.status, 401);
    sim.set_token_leeway(Duration::from_secs(240));
    assert_eq!(client.get("/api/subjects").await.status, 200);
}

#[tokio::test]
async fn keycloak_and_no_idp_modes() {
    let sim = AvniSim::start(AvniSimConfig {
        auth: AvniAuth::Keycloak {
            realm: "On-premise".into(),
            client_id: "avni-client".into(),
            username: "integration".into(),
            password: "secret".into(),
            token_ttl: Duration::from_secs(300),
        },
        ..AvniSimConfig::default()
    })
    .await;
    let idp = call(&sim.base_url, "GET", "/idp-details", &[], None)
        .await
        .json();
    assert_eq!(idp["idpType"], "keycloak");
    assert_eq!(idp["keycloak"]["realm"], "On-premise");
    let auth_server = idp["keycloak"]["authServerUrl"].as_str().unwrap();
    let path = format!(
        "{}/realms/On-premise/protocol/openid-connect/token",
        auth_server.trim_start_matches(&sim.base_url)
    );
    let form = |password: &str| {
        format!("client_id=avni-client&grant_type=password&scope=openid&username=integration&password={password}")
    };
    let form_type = [("Content-Type", "application/x-www-form-urlencoded")];
    let bad = call(
        &sim.base_url,
        "POST",
        &path,
        &form_type,
        Some(form("nope").as_bytes()),
    )
    .await;
    assert_eq!(bad.status, 401);
    let good = call(
        &sim.base_url,
        "POST",
        &path,
        &form_type,
        Some(form("secret").as_bytes()),
    )
    .await
    .json();
    assert_eq!(good["expires_in"], 300);
    let token = good["access_token"].as_str().unwrap();
    let resp = call(
        &sim.base_url,
        "GET",
        "/api/subjects",
        &[("AUTH-TOKEN", token)],
        None,
    )
    .await;
    assert_eq!(resp.status, 200);

    let none = AvniSim::start(AvniSimConfig {
        auth: AvniAuth::None,
        ..AvniSimConfig::default()
    })
    .await;
    goonj_sim_setup(&none);
    let body = demand_body(1).to_string();
    let json_type = ("Content-Type", "application/json");
    let created = call(
        &none.base_url,
        "POST",
        "/api/subject?version=3",
        &[json_type, ("USER-NAME", "bob")],
        Some(body.as_bytes()),
    )
    .await
    .json();
    assert_eq!(created["audit"]["Created by"], "bob");
    let by_admin = call(
        &none.base_url,
        "POST",
        "/api/subject?version=3",
        &[json_type],
        Some(body.as_bytes()),
    )
    .await
    .json();
    assert_eq!(by_admin["audit"]["Last modified by"], "admin");
}

#[tokio::test]
async fn post_upserts_by_external_id() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    goonj_sim_setup(&sim);
    let client = Client::login(&sim).await;
    let first = client
        .send("POST", "/api/subject?version=3", &demand_body(120))
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    assert_eq!(first["Subject type"], "Demand");
    assert_eq!(first["External ID"], "a0B5j000001AbCdEAF");
    assert!(
        first.get("First name").is_none(),
        "names live in observations"
    );
    assert_eq!(
        first["observations"]["First name"],
        "Flood relief kits - Dehradun"
    );
    assert_eq!(
        first["observations"]["Target Community"],
        json!(["Rural", "Tribal"])
    );
    assert!(first.get("Groups").is_none(), "POST answers without Groups");
    assert_eq!(first["location"]["State"], "Uttarakhand");

    let second = client
        .send("POST", "/api/subject?version=3", &demand_body(150))
        .await
        .json();
    assert_eq!(second["ID"], first["ID"], "same subject, updated");
    assert_eq!(second["observations"]["Number of people"], 150);
    assert_eq!(second["audit"]["Created at"], first["audit"]["Created at"]);
    assert_eq!(sim.subject_count(), 1);
    let stored = sim.subject("a0B5j000001AbCdEAF").unwrap();
    assert_eq!(stored["ID"], first["ID"]);
    assert_eq!(stored["observations"]["Number of people"], 150);

    let writes: Vec<RecordedRequest> = sim
        .writes()
        .into_iter()
        .filter(|w| w.path.starts_with("/api/subject"))
        .collect();
    assert_eq!(writes.len(), 2);
    assert_eq!(sim.writes()[0].path, "/api/user/generateToken");
    assert_eq!(writes[0].method, "POST");
    assert_eq!(writes[0].path, "/api/subject?version=3");
    assert_eq!(writes[0].status, 200);
    assert_eq!(writes[1].body, demand_body(150));
}

#[tokio::test]
async fn subject_writes_are_validated_like_avni() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    goonj_sim_setup(&sim);
    let client = Client::login(&sim).await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = demand_body(1);
        change(&mut body);
        body
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/api/subject?version=3",
            with(&|b| b["Address map"]["District"] = json!("Nowhere")),
            500,
            "Address",
        ),
        (
            "/api/subject",
            demand_body(1),
            500,
            "Address 'null' not found",
        ),
        (
            "/api/subject?version=3",
            with(&|b| b["Subject type"] = json!("Donor")),
            500,
            "Subject type not found",
        ),
        (
            "/api/subject?version=3",
            with(&|b| b["observations"]["Mystery"] = json!(1)),
            500,
            "NullPointerException",
        ),
        (
            "/api/subject?version=3",
            with(&|b| b["observations"]["Target Community"] = json!(["Rural", "Lunar"])),
            400,
            "Lunar",
        ),
    ];
    for (path, body, status, needle) in cases {
        let resp = client.send("POST", path, &body).await;
        assert_eq!(resp.status, status, "{path} {body}");
        assert!(resp.text().contains(needle), "{}", resp.text());
    }
    assert_eq!(sim.subject_count(), 0, "failed writes store nothing");

    let old_style = with(&|b| {
        b.as_object_mut().unwrap().remove("Address map");
        b["Address"] = json!("uttarakhand, DEHRADUN");
    });
    assert_eq!(
        client
            .send("POST", "/api/subject?version=1", &old_style)
            .await
            .status,
        200
    );
    let plain = call(
        &sim.base_url,
        "POST",
        "/api/subject?version=3",
        &[
            ("AUTH-TOKEN", &client.token),
            ("Content-Type", "text/plain"),
        ],
        Some(demand_body(1).to_string().as_bytes()),
    )
    .await;
    assert_eq!(plain.status, 415);
}

#[tokio::test]
async fn get_put_patch_delete_subject() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    goonj_sim_setup(&sim);
    let client = Client::login(&sim).await;
    let created = client
        .send("POST", "/api/subject?version=3", &demand_body(5))
        .await
        .json();
    let id = created["ID"].as_str().unwrap();

    let by_ext = client.get("/api/subject/a0B5j000001AbCdEAF").await.json();
    assert_eq!(by_ext["ID"], id);
    assert_eq!(by_ext["Groups"], json!([]));
    let missing = client.get("/api/subject/nope").await;
    assert_eq!((missing.status, missing.body.len()), (404, 0));

    let mut replacement = demand_body(6);
    replacement["observations"] = json!({ "Number of people": 6 });
    let put_missing = client
        .send(
            "PUT",
            "/api/subject/nope?version=3",
            &json!({"Subject type": "Demand"}),
        )
        .await;
    assert_eq!(put_missing.status, 500);
    let put = client
        .send("PUT", &format!("/api/subject/{id}?version=3"), &replacement)
        .await
        .json();
    assert_eq!(
        put["observations"],
        json!({"First name": "Flood relief kits - Dehradun", "Last name": null, "Number of people": 6})
    );

    let patch = json!({ "observations": { "Account Name": "Goonj", "Number of people": null }, "Last name": "Kits" });
    let patched = client
        .send("PATCH", &format!("/api/subject/{id}"), &patch)
        .await
        .json();
    assert_eq!(
        patched["observations"],
        json!({"First name": "Flood relief kits - Dehradun", "Last name": "Kits", "Account Name": "Goonj"})
    );

    let deleted = call(
        &sim.base_url,
        "DELETE",
        &format!("/api/subject/{id}"),
        &[("AUTH-TOKEN", &client.token)],
        None,
    )
    .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json()["Voided"], true);
    assert_eq!(sim.subject(id).unwrap()["Voided"], true);
    let gone = call(
        &sim.base_url,
        "DELETE",
        "/api/subject/nope",
        &[("AUTH-TOKEN", &client.token)],
        None,
    )
    .await;
    assert_eq!(gone.status, 404);
    let statuses: Vec<u16> = sim
        .writes()
        .iter()
        .filter(|w| w.path.starts_with("/api/subject"))
        .map(|w| w.status)
        .collect();
    assert_eq!(statuses, vec![200, 500, 200, 200, 200, 404]);
}

#[tokio::test]
async fn faults_are_applied_to_every_route() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    let client = Client::login(&sim).await;
    sim.faults().set(FaultPlan {
        fail_next: 1,
        throttle_next: 1,
        retry_after_secs: Some(7),
        path_contains: Some("/api/subjects".into()),
        ..FaultPlan::default()
    });
    let before = sim.requests();
    let failed = client.get("/api/subjects").await;
    assert_eq!(failed.status, 500);
    assert!(failed.text().contains("simulated failure"));
    let throttled = client.get("/api/subjects").await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.header("retry-after"), Some("7"));
    assert_eq!(client.get("/api/subjects").await.status, 200);
    assert_eq!(sim.requests() - before, 3);
    // Faults run before auth: a failing plan hits even a token request.
    sim.faults().set(FaultPlan {
        fail_next: 1,
        error_status: Some(503),
        ..FaultPlan::default()
    });
    assert_eq!(login(&sim, "integration", "password").await.status, 503);
    assert_eq!(sim.writes().last().unwrap().status, 503);
}

#[tokio::test]
async fn encounters_upsert_list_and_get() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    sim.add_encounter_type("Lab Test");
    sim.add_concept("Haemoglobin", None);
    sim.add_concept("Tests done", Some(&["Haemoglobin", "Blood group"]));
    let subject = sim.seed_subject(SeedSubject {
        external_id: Some("GAN203003".into()),
        ..SeedSubject::new("Individual")
    });
    let client = Client::login(&sim).await;
    let body = json!({
        "Subject external ID": "GAN203003",
        "Encounter type": "Lab Test",
        "External ID": "OPENMRS-ENC-778",
        "Encounter date time": "2023-06-03T09:25:00.000Z",
        "observations": { "Haemoglobin": 10.4, "Tests done": ["Haemoglobin"] }
    });
    let first = client.send("POST", "/api/encounter", &body).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    assert_eq!(first["Subject ID"], subject.as_str());
    assert_eq!(first["Subject external ID"], "GAN203003");
    assert_eq!(first["Encounter date time"], "2023-06-03T09:25:00.000Z");
    assert_eq!(first["cancelObservations"], json!({}));
    let mut again = body.clone();
    again["observations"]["Haemoglobin"] = json!(11.0);
    let second = client.send("POST", "/api/encounter", &again).await.json();
    assert_eq!(second["ID"], first["ID"]);
    assert_eq!(sim.encounter_count(), 1);
    assert_eq!(
        sim.subject(&subject).unwrap()["encounters"],
        json!([first["ID"]])
    );

    let page = client
        .get("/api/encounters?lastModifiedDateTime=2000-01-01T00:00:00.000Z&encounterType=Lab%20Test")
        .await
        .json();
    assert_eq!(page["totalElements"], 1);
    assert_eq!(page["content"][0]["observations"]["Haemoglobin"], 11.0);
    let got = client.get("/api/encounter/OPENMRS-ENC-778").await.json();
    assert_eq!(got["ID"], first["ID"]);
    let mut unknown = body.clone();
    unknown["Encounter type"] = json!("X-ray");
    assert_eq!(
        client.send("POST", "/api/encounter", &unknown).await.status,
        500
    );
}

#[tokio::test]
async fn date_concepts_by_version_and_the_concepts_filter() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    sim.add_date_concept("Marriage date");
    sim.add_concept("Medical problems", Some(&["Asthma", "Diabetes"]));
    sim.add_concept("Blood group", Some(&["A+", "B+"]));
    let id = sim.seed_subject(SeedSubject {
        observations: [
            (
                "Marriage date".to_owned(),
                json!("2010-05-19T18:30:00.000Z"),
            ),
            ("Blood group".to_owned(), json!("B+")),
        ]
        .into_iter()
        .collect(),
        ..SeedSubject::new("Individual")
    });
    let client = Client::login(&sim).await;
    let v1 = client.get(&format!("/api/subject/{id}")).await.json();
    assert_eq!(
        v1["observations"]["Marriage date"],
        "2010-05-19T18:30:00.000Z"
    );
    let v2 = client
        .get(&format!("/api/subject/{id}?version=2"))
        .await
        .json();
    assert_eq!(v2["observations"]["Marriage date"], "2010-05-20");

    let filter = |value: &str| {
        let concepts =
            urlencoding::encode(&json!({ "Blood group": value }).to_string()).into_owned();
        format!("/api/subjects?lastModifiedDateTime=2000-01-01T00:00:00.000Z&concepts={concepts}")
    };
    let by_name = client.get(&filter("B+")).await.json();
    assert_eq!(
        by_name["totalElements"], 0,
        "coded values match by answer UUID only"
    );
    let uuid = sim.concept_uuid("Blood group", Some("B+")).unwrap();
    let by_uuid = client.get(&filter(&uuid)).await.json();
    assert_eq!(ids(&by_uuid), vec![id]);
    let unknown = urlencoding::encode(r#"{"Nope":"x"}"#).into_owned();
    assert_eq!(
        client
            .get(&format!("/api/subjects?concepts={unknown}"))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn media_upload_through_a_presigned_url() {
    let sim = AvniSim::start(AvniSimConfig::default()).await;
    let client = Client::login(&sim).await;
    assert_eq!(
        call(
            &sim.base_url,
            "GET",
            "/media/uploadUrl/photo.jpg",
            &[],
            None
        )
        .await
        .status,
        401
    );
    let url = client.get("/media/uploadUrl/photo.jpg").await.text();
    assert!(
        url.starts_with(&format!("{}/_media/photo.jpg?", sim.base_url)),
        "{url}"
    );
    let path = url.trim_start_matches(&sim.base_url);
    let put = call(
        &sim.base_url,
        "PUT",
        path,
        &[("Content-Type", "image/jpeg")],
        Some(b"\xff\xd8jpeg"),
    )
    .await;
    assert_eq!(put.status, 200);
    assert_eq!(sim.media("photo.jpg").unwrap(), b"\xff\xd8jpeg");
    let unsigned = call(&sim.base_url, "PUT", "/_media/other.jpg", &[], Some(b"x")).await;
    assert_eq!(unsigned.status, 403);
    let write = sim
        .writes()
        .into_iter()
        .find(|w| w.method == "PUT")
        .unwrap();
    assert_eq!(write.body, Value::Null);
}

#[test]
fn query_datetime_parsing_and_formatting() {
    let t = parse_query_datetime("2024-01-01T15:30:00.123456+05:30").unwrap();
    assert_eq!(format_ms(t), "2024-01-01T10:00:00.123Z");
    assert_eq!(
        parse_query_datetime("2024-01-01T10:00Z"),
        Some(Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap())
    );
    assert_eq!(
        parse_query_datetime("2024-01-01T15:30:00+0530"),
        Some(Utc.with_ymd_and_hms(2024, 1, 1, 10, 0, 0).unwrap())
    );
    assert_eq!(
        parse_query_datetime("2024-01-01"),
        Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(parse_query_datetime("2024-01-01T10:00:00.000 05:30"), None);
    assert_eq!(
        format_ms(
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + TimeDelta::microseconds(999)
        ),
        "2024-01-01T00:00:00.000Z"
    );
}
