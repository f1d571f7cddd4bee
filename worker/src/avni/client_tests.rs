//! The client over real HTTP against a scripted server (HTTP/1.1 status lines without reason
//! phrases, as Avni's Tomcat sends them): login and token reuse, one re-login on 401, retries
//! honouring `Retry-After`, error wording, 404 as `None`, no-auth and Keycloak logins, media.
//! The Avni simulator's integration tests cover the rest.

use super::config::{AvniConfig, AvniCredentials, RetryPolicy};
use super::error::AvniError;
use super::query::SubjectQuery;
use super::token::test_jwt;
use super::AvniClient;
use chrono::{TimeDelta, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Seen {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn reply(status: u16, body: impl Into<String>) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body: body.into(),
    }
}

struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    fn count(&self, method: &str, path: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|s| s.method == method && s.path() == path)
            .count()
    }

    fn last(&self, method: &str, path: &str) -> Seen {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .rev()
            .find(|s| s.method == method && s.path() == path)
            .cloned()
            .unwrap()
    }
}

/// Serves `handler(request, earlier requests with the same method and path)`.
async fn serve(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let handler = Arc::new(handler);
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, handler.clone(), log.clone()));
        }
    });
    Server { base, seen }
}

async fn connection(
    stream: TcpStream,
    handler: Arc<impl Fn(&Seen, usize) -> Reply + Send + Sync>,
    log: Arc<Mutex<Vec<Seen>>>,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if read_some(&stream, &mut buf).await == 0 {
                return;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap().split(' ');
        let (method, target) = (first.next().unwrap(), first.next().unwrap());
        let headers: BTreeMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while buf.len() < head_end + length {
            if read_some(&stream, &mut buf).await == 0 {
                return;
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
        buf.drain(..head_end + length);
        let request = Seen {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body,
        };
        let earlier = {
            let mut log = log.lock().unwrap();
            let earlier = log
                .iter()
                .filter(|s| s.method == request.method && s.path() == request.path())
                .count();
            log.push(request.clone());
            earlier
        };
        let r = handler(&request, earlier);
        let mut out = format!(
            "HTTP/1.1 {} \r\ncontent-length: {}\r\n",
            r.status,
            r.body.len()
        );
        for (k, v) in &r.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&r.body);
        write_all(&stream, out.as_bytes()).await;
    }
}

async fn read_some(stream: &TcpStream, buf: &mut Vec<u8>) -> usize {
    let mut chunk = [0u8; 8192];
    loop {
        if stream.readable().await.is_err() {
            return 0;
        }
        match stream.try_read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return n;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(_) => return 0,
        }
    }
}

async fn write_all(stream: &TcpStream, mut data: &[u8]) {
    while !data.is_empty() {
        if stream.writable().await.is_err() {
            return;
        }
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(_) => return,
        }
    }
}

fn jwt(tag: &str, lifetime: TimeDelta) -> String {
    test_jwt(&json!({"sub": tag, "exp": (Utc::now() + lifetime).timestamp()}))
}

fn client(server: &Server, auth: AvniCredentials) -> AvniClient {
    let mut config = AvniConfig::new(&server.base, auth);
    config.retry = RetryPolicy {
        max_attempts: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    config.timeout = Duration::from_secs(5);
    AvniClient::new(config).unwrap()
}

fn password() -> AvniCredentials {
    AvniCredentials::Password {
        username: "goonj@goonj".into(),
        password: "pw".into(),
    }
}

const EMPTY_PAGE: &str = r#"{"content":[],"totalElements":0,"totalPages":0,"pageSize":10}"#;

#[tokio::test]
async fn logs_in_once_reuses_the_token_and_encodes_the_query() {
    let token = jwt("a", TimeDelta::hours(1));
    let expected = token.clone();
    let server = serve(move |req, _| match req.path() {
        "/api/user/generateToken" => reply(200, json!({"authToken": token}).to_string()),
        "/api/subjects" if req.header("auth-token") == Some(&expected) => reply(200, EMPTY_PAGE),
        _ => reply(401, ""),
    })
    .await;
    let avni = client(&server, password());
    let mut query = SubjectQuery::of_type("Individual");
    query.last_modified_after = Some("2023-06-03T15:00:00+05:30".parse().unwrap());
    query.concepts.insert("Blood group".into(), "B+".into());
    avni.subjects_page(&query).await.unwrap();
    avni.subjects_page(&query).await.unwrap();
    assert_eq!(server.count("POST", "/api/user/generateToken"), 1);
    let login = server.last("POST", "/api/user/generateToken");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&login.body).unwrap(),
        json!({"username": "goonj@goonj", "password": "pw"})
    );
    let target = server.last("GET", "/api/subjects").target;
    assert!(
        target.contains("lastModifiedDateTime=2023-06-03T09%3A30%3A00.000Z"),
        "{target}"
    );
    assert!(target.contains("B%2B"), "{target}");
    assert!(target.contains("version=1"), "{target}");
}

#[tokio::test]
async fn a_token_near_its_exp_is_replaced_before_use() {
    let server = serve(|req, _| match req.path() {
        // Expires within the 60 s margin: unusable at once.
        "/api/user/generateToken" => reply(
            200,
            json!({"authToken": jwt("short", TimeDelta::seconds(30))}).to_string(),
        ),
        _ => reply(200, EMPTY_PAGE),
    })
    .await;
    let avni = client(&server, password());
    avni.subjects_page(&SubjectQuery::default()).await.unwrap();
    avni.subjects_page(&SubjectQuery::default()).await.unwrap();
    assert_eq!(server.count("POST", "/api/user/generateToken"), 2);
}

#[tokio::test]
async fn a_401_means_one_re_login_and_one_retry() {
    let stale = jwt("stale", TimeDelta::hours(1));
    let fresh = jwt("fresh", TimeDelta::hours(1));
    let (s, f) = (stale.clone(), fresh.clone());
    let server = serve(move |req, earlier| match req.path() {
        "/api/user/generateToken" => {
            let t = if earlier == 0 { &s } else { &f };
            reply(200, json!({"authToken": t}).to_string())
        }
        _ if req.header("auth-token") == Some(&f) => reply(200, json!({"ID": "x"}).to_string()),
        _ => reply(401, ""),
    })
    .await;
    let avni = client(&server, password());
    let subject = avni.get_subject("x").await.unwrap().unwrap();
    assert_eq!(subject.0["ID"], "x");
    assert_eq!(server.count("POST", "/api/user/generateToken"), 2);
    assert_eq!(server.count("GET", "/api/subject/x"), 2);
}

#[tokio::test]
async fn a_persistent_401_fails_without_looping() {
    let server = serve(|req, _| match req.path() {
        "/api/user/generateToken" => reply(
            200,
            json!({"authToken": jwt("t", TimeDelta::hours(1))}).to_string(),
        ),
        _ => reply(401, ""),
    })
    .await;
    let error = client(&server, password())
        .subjects_page(&SubjectQuery::default())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(401));
    assert!(!error.is_transient());
    assert_eq!(server.count("POST", "/api/user/generateToken"), 2);
    assert_eq!(server.count("GET", "/api/subjects"), 2);
}

#[tokio::test]
async fn transient_failures_are_retried_honouring_retry_after() {
    let server = serve(|req, earlier| match (req.path(), earlier) {
        ("/api/user/generateToken", _) => reply(
            200,
            json!({"authToken": jwt("t", TimeDelta::hours(1))}).to_string(),
        ),
        (_, 0) => reply(503, "down"),
        (_, 1) => Reply {
            status: 429,
            headers: vec![("retry-after", "1".into())],
            body: String::new(),
        },
        // Cut off mid-JSON: retried like a timeout.
        (_, 2) => reply(200, r#"{"content":[{"ID":"#),
        _ => reply(200, EMPTY_PAGE),
    })
    .await;
    let mut config = AvniConfig::new(&server.base, password());
    config.retry = RetryPolicy {
        max_attempts: 4,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let avni = AvniClient::new(config).unwrap();
    let started = Instant::now();
    avni.subjects_page(&SubjectQuery::default()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After ignored"
    );
    assert_eq!(server.count("GET", "/api/subjects"), 4);
}

#[tokio::test]
async fn http_errors_read_like_the_original_and_4xx_is_not_retried() {
    let server = serve(|req, _| match req.path() {
        "/api/user/generateToken" => reply(
            200,
            json!({"authToken": jwt("t", TimeDelta::hours(1))}).to_string(),
        ),
        "/api/subject" if req.body.contains("Nowhere") => {
            reply(500, "Address Nowhere, Dehradun not found")
        }
        _ => reply(400, "Concept answer 'Tribl' not found\n"),
    })
    .await;
    let avni = client(&server, password());
    let mut request = super::SubjectRequest {
        external_id: Some("a0B5j000001AbCdEAF".into()),
        subject_type: "Demand".into(),
        address_map: Some(BTreeMap::from([("State".into(), "Nowhere".into())])),
        ..Default::default()
    };
    let error = avni.upsert_subject(&request, 3).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"500 : "Address Nowhere, Dehradun not found""#
    );
    assert_eq!(
        server.count("POST", "/api/subject"),
        1,
        "a 500 to a write is Avni rejecting the data: not repeated"
    );
    assert!(server
        .last("POST", "/api/subject")
        .target
        .ends_with("?version=3"));

    request.address_map = None;
    let error = avni.upsert_subject(&request, 3).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"400 : "Concept answer 'Tribl' not found<LF>""#
    );
    assert_eq!(
        server.count("POST", "/api/subject"),
        2,
        "4xx is not retried"
    );
}

#[tokio::test]
async fn missing_records_are_none() {
    let server = serve(|req, _| match (req.method.as_str(), req.path()) {
        ("POST", "/api/user/generateToken") => reply(
            200,
            json!({"authToken": jwt("t", TimeDelta::hours(1))}).to_string(),
        ),
        ("GET", "/api/subject/GAN%20203") => reply(200, json!({"ID": "u-1"}).to_string()),
        _ => reply(404, ""),
    })
    .await;
    let avni = client(&server, password());
    assert!(avni.get_subject("nope").await.unwrap().is_none());
    assert!(avni.get_encounter("nope").await.unwrap().is_none());
    assert!(avni.delete_subject("nope").await.unwrap().is_none());
    let found = avni.get_subject("GAN 203").await.unwrap().unwrap();
    assert_eq!(found.0["ID"], "u-1");
    let error = avni.patch_subject("nope", &json!({}), 3).await.unwrap_err();
    assert_eq!(error.to_string(), "404 : [no body]");
}

#[tokio::test]
async fn no_auth_sends_the_user_name() {
    let server = serve(|req, _| match req.header("user-name") {
        Some("admin") if req.header("auth-token").is_none() => reply(200, EMPTY_PAGE),
        _ => reply(401, ""),
    })
    .await;
    let avni = client(
        &server,
        AvniCredentials::NoAuth {
            username: "admin".into(),
        },
    );
    avni.subjects_page(&SubjectQuery::default()).await.unwrap();
    assert_eq!(server.count("POST", "/api/user/generateToken"), 0);
}

#[tokio::test]
async fn keycloak_login_uses_the_discovered_realm() {
    let token = jwt("kc", TimeDelta::hours(1));
    let expected = token.clone();
    let base = Arc::new(Mutex::new(String::new()));
    let base_in = base.clone();
    let server = serve(move |req, _| match req.path() {
        "/idp-details" => reply(
            200,
            json!({"idpType": "keycloak", "keycloak": {
                "authServerUrl": format!("{}/auth", base_in.lock().unwrap()),
                "clientId": "avni-client", "realm": "On-premise",
                "grantType": "password", "scope": "openid"}})
            .to_string(),
        ),
        "/auth/realms/On-premise/protocol/openid-connect/token" => reply(
            200,
            json!({"access_token": token, "expires_in": 300}).to_string(),
        ),
        _ if req.header("auth-token") == Some(&expected) => reply(200, EMPTY_PAGE),
        _ => reply(401, ""),
    })
    .await;
    *base.lock().unwrap() = server.base.clone();
    let avni = client(
        &server,
        AvniCredentials::Keycloak {
            username: "u@org".into(),
            password: "p w".into(),
        },
    );
    avni.subjects_page(&SubjectQuery::default()).await.unwrap();
    let form = server
        .last(
            "POST",
            "/auth/realms/On-premise/protocol/openid-connect/token",
        )
        .body;
    for part in [
        "client_id=avni-client",
        "grant_type=password",
        "scope=openid",
        "username=u%40org",
        "password=p+w",
    ] {
        assert!(form.contains(part), "{form}");
    }
}

#[tokio::test]
async fn refused_logins_are_permanent() {
    let server = serve(|_, _| reply(403, "not allowed to invoke token generation")).await;
    let error = client(&server, password())
        .subjects_page(&SubjectQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(error, AvniError::Login(_)), "{error}");
    assert!(!error.is_transient());
    assert_eq!(server.count("POST", "/api/user/generateToken"), 1);
}

#[tokio::test]
async fn media_goes_to_the_presigned_url_without_credentials() {
    let base = Arc::new(Mutex::new(String::new()));
    let base_in = base.clone();
    let server = serve(move |req, _| match req.path() {
        "/api/user/generateToken" => reply(
            200,
            json!({"authToken": jwt("t", TimeDelta::hours(1))}).to_string(),
        ),
        "/media/uploadUrl/abc.jpeg" => reply(
            200,
            format!("{}/s3/abc.jpeg?X-Amz-Signature=1", base_in.lock().unwrap()),
        ),
        "/s3/abc.jpeg" if req.header("auth-token").is_none() => reply(200, ""),
        _ => reply(403, ""),
    })
    .await;
    *base.lock().unwrap() = server.base.clone();
    let avni = client(&server, password());
    let url = avni.media_upload_url("abc.jpeg").await.unwrap();
    assert!(url.ends_with("/s3/abc.jpeg?X-Amz-Signature=1"), "{url}");
    avni.put_media(&url, vec![1, 2, 3], "image/jpeg")
        .await
        .unwrap();
    let put = server.last("PUT", "/s3/abc.jpeg");
    assert_eq!(put.header("content-type"), Some("image/jpeg"));
    assert_eq!(put.body.as_bytes(), [1, 2, 3]);
}
