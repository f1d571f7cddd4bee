//! Requests generated from the OpenAPI document: per operation, path ids of the caller's
//! tenant, of the other tenant and garbage; documented query parameters with valid values and
//! garbage; bodies built from the documented schema, then mutated or replaced by raw bytes.

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt;

/// One generated request, printed exactly (long bodies abbreviated) when a property fails.
#[derive(Clone)]
pub struct Request {
    pub method: Method,
    /// The documented path, e.g. `/int/mappingGroup/{id}`.
    pub template: String,
    /// Already percent-encoded path and query string (without `?`).
    pub path: String,
    pub query: String,
    pub body: Body,
}

#[derive(Clone)]
pub enum Body {
    None,
    Raw {
        content_type: Option<String>,
        bytes: Vec<u8>,
    },
}

impl Request {
    pub fn url_path(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    pub fn is_read(&self) -> bool {
        self.method == Method::GET
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}{:?}", self.method, self.url_path(), self.body)
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Body::Raw {
            content_type,
            bytes,
        } = self
        else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(bytes);
        let shown: String = text.chars().take(1500).collect();
        write!(
            f,
            "\n  Content-Type: {}\n  body ({} bytes): {shown}{}",
            content_type.as_deref().unwrap_or("<none>"),
            bytes.len(),
            if shown.len() < text.len() { " …" } else { "" }
        )
    }
}

/// What generation needs to know about the world.
pub struct Ids {
    /// Path ids (or uuids for `task`, and any uuids under `uuid`) per resource, of A and B.
    pub a: HashMap<&'static str, Vec<String>>,
    pub b: HashMap<&'static str, Vec<String>>,
    pub a_tenant: i32,
    pub b_tenant: i32,
    /// A's own user: never voided, renamed or otherwise changed, so the session stays.
    pub a_user: i32,
    /// A's exported bundle entries, the seed of generated imports.
    pub bundle: Vec<(String, Vec<u8>)>,
}

impl Ids {
    fn pick(&self, own: bool, resource: &str) -> Vec<String> {
        let map = if own { &self.a } else { &self.b };
        let mut ids = map.get(resource).cloned().unwrap_or_default();
        if own && resource == "user" {
            ids.retain(|id| *id != self.a_user.to_string());
        }
        if ids.is_empty() {
            ids.push(if own { "1".into() } else { "7770001".into() });
        }
        ids
    }
}

fn pick(values: Vec<String>) -> BoxedStrategy<String> {
    prop::sample::select(values).boxed()
}

fn fixed(values: &[&str]) -> BoxedStrategy<String> {
    let owned: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    prop::sample::select(owned).boxed()
}

/// Text that is not what a field expects: injection-like, unicode, percent and SQL wildcards,
/// control characters, very long.
pub fn garbage_text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => fixed(&[
            "", " ", "id;DROP TABLE users", "' OR '1'='1", "1; SELECT pg_sleep(5)--", "%", "_", "\\",
            "%00", "null", "undefined", "NaN", "-1", "0", "1e309", "9999999999999999999999",
            "\u{0}", "é", "日本語", "🙂", "\u{202e}rtl", "<script>alert(1)</script>", "{}", "[]",
            "a,b", "..", "../..", "id,ASC", "true",
        ]),
        2 => any::<String>(),
        1 => (1usize..12_000).prop_map(|n| "x".repeat(n)),
        1 => (1usize..3_000).prop_map(|n| "é".repeat(n)),
    ]
    .boxed()
}

/// A path segment as sent (percent-encoded or deliberately broken encoding).
fn id_segment(ids: &Ids, resource: &str, integer: bool) -> BoxedStrategy<String> {
    let numbers = if integer {
        fixed(&[
            "0",
            "-1",
            "-2147483648",
            "2147483647",
            "2147483648",
            "9223372036854775807",
            "99999999999999999999999",
            "1.5",
            "1e3",
            "+1",
            "0x10",
            " 1",
        ])
    } else {
        fixed(&[
            "00000000-0000-0000-0000-000000000000",
            "not-a-uuid",
            "7770B009-0000-4000-8000-000000000001",
        ])
    };
    prop_oneof![
        4 => pick(ids.pick(true, resource)),
        4 => pick(ids.pick(false, resource)),
        2 => numbers,
        2 => garbage_text().prop_map(|s| urlencoding::encode(&s).into_owned()),
        1 => fixed(&["%zz", "%ff", "%C3%28", "%2F", "%2e%2e", "a%00b", "%", ";", "%20"]),
    ]
    .boxed()
}

fn ids_list(ids: &Ids, resource: &str) -> BoxedStrategy<String> {
    let one = prop_oneof![
        pick(ids.pick(true, resource)),
        pick(ids.pick(false, resource)),
        fixed(&["", "x", "-1", "99999999999", " 2", "1.0"]),
    ];
    prop::collection::vec(one, 0..6)
        .prop_map(|parts| parts.join(","))
        .boxed()
}

fn integer_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0i64..5).prop_map(|n| n.to_string()),
        2 => fixed(&[
            "-1", "-100", "2147483647", "2147483648", "9223372036854775807",
            "999999999999999999999", "1.5", "abc", "", " 1", "1e2",
        ]),
        1 => any::<i64>().prop_map(|n| n.to_string()),
    ]
    .boxed()
}

fn date_text() -> BoxedStrategy<String> {
    prop_oneof![
        2 => fixed(&["2024-01-01", "2024-02-29", "1970-01-01", "2999-12-31"]),
        2 => fixed(&[
            "2024-02-30", "2024-13-01", "0000-00-00", "99999-01-01", "2024-01-01T00:00:00",
            "01-01-2024", "-4713-01-01", "262143-12-31", "2024-1-1",
        ]),
        1 => garbage_text(),
    ]
    .boxed()
}

/// A valid value of a documented query parameter (A's ids, real fields, real days).
fn clean_query_value(ids: &Ids, resource: &str, name: &str, kind: &str) -> BoxedStrategy<String> {
    match name {
        "page" => (0i64..3).prop_map(|n| n.to_string()).boxed(),
        "size" => (1i64..30).prop_map(|n| n.to_string()).boxed(),
        "sort" => fixed(&["id", "id,asc", "id,desc"]),
        "ids" => prop::collection::vec(pick(ids.pick(true, resource)), 1..4)
            .prop_map(|parts| parts.join(","))
            .boxed(),
        "mappingGroup" | "mappingType" | "errorType" => pick(ids.pick(true, name)),
        "startDate" => fixed(&["2020-01-01", "2024-02-29"]),
        "endDate" => fixed(&["2030-01-01", "2999-12-31"]),
        "module" => fixed(&["probe", "goonj"]),
        "kind" => fixed(&["regular", "error"]),
        "state" => fixed(&["scheduled", "queued", "failed", "succeeded"]),
        _ if kind == "integer" => (0i64..5).prop_map(|n| n.to_string()).boxed(),
        _ => fixed(&["a", "int", "avni", "A-1", "%", "_"]),
    }
}

/// The value of a documented query parameter.
fn query_value(ids: &Ids, resource: &str, name: &str, kind: &str) -> BoxedStrategy<String> {
    match name {
        "sort" => prop_oneof![
            3 => fixed(&[
                "id", "id,asc", "id,DESC", "name,ASC", "email,desc", "loggedAt,desc",
                "scheduledAt,asc", "entityId", "avniValue,desc",
            ]),
            3 => fixed(&[
                "unknownField,ASC", "id;DROP TABLE users", "id,ASC,extra", ",", "id,sideways",
                "`id`", "id) --", "1", "id,asc;select 1", "integration_system_id", "password",
                "name,ASC NULLS FIRST",
            ]),
            1 => garbage_text(),
        ]
        .boxed(),
        "ids" => ids_list(ids, resource),
        "mappingGroup" | "mappingType" | "errorType" => prop_oneof![
            pick(ids.pick(true, name)),
            pick(ids.pick(false, name)),
            integer_text(),
        ]
        .boxed(),
        "startDate" | "endDate" => date_text(),
        "module" => prop_oneof![fixed(&["probe", "goonj"]), garbage_text()].boxed(),
        "kind" => prop_oneof![fixed(&["regular", "error", "REGULAR"]), garbage_text()].boxed(),
        "state" => prop_oneof![
            fixed(&[
                "scheduled",
                "queued",
                "running",
                "succeeded",
                "failed",
                "dead"
            ]),
            garbage_text()
        ]
        .boxed(),
        _ if kind == "integer" => integer_text(),
        _ => prop_oneof![fixed(&["a", "int", "avni", "SUBJ", "A-1"]), garbage_text()].boxed(),
    }
}

fn encode_pair(key: &str, value: &str) -> String {
    format!(
        "{}={}",
        urlencoding::encode(key),
        urlencoding::encode(value)
    )
}

/// The query string: some documented parameters, sometimes repeated, plus raw oddities.
fn query(
    ids: &Ids,
    resource: &str,
    params: &[(String, String)],
    clean: bool,
) -> BoxedStrategy<String> {
    if clean {
        let parts: Vec<BoxedStrategy<Option<String>>> = params
            .iter()
            .map(|(name, kind)| {
                let name = name.clone();
                prop::option::of(
                    clean_query_value(ids, resource, &name, kind)
                        .prop_map(move |v| encode_pair(&name, &v)),
                )
                .boxed()
            })
            .collect();
        return parts
            .prop_map(|parts| parts.into_iter().flatten().collect::<Vec<_>>().join("&"))
            .boxed();
    }
    let mut parts: Vec<BoxedStrategy<Vec<String>>> = params
        .iter()
        .map(|(name, kind)| {
            let name = name.clone();
            prop::collection::vec(query_value(ids, resource, &name, kind), 0..3)
                .prop_map(move |values| {
                    // Mostly zero or one value; a repeated key sometimes.
                    values.iter().map(|v| encode_pair(&name, v)).collect()
                })
                .boxed()
        })
        .collect();
    parts.push(
        prop::collection::vec(
            fixed(&[
                "%",
                "%zz",
                "a=%ff",
                "=",
                "&",
                "a=b=c",
                "page",
                "size=",
                "sort=%2C",
                "unknown=1",
                "page%00=1",
                "q=%E2%82",
                "+=+",
                "ids=%2C%2C",
            ]),
            0..2,
        )
        .boxed(),
    );
    parts.prop_map(|groups| groups.concat().join("&")).boxed()
}

/// A JSON value of `schema` (resolved), valid most of the time; `name` is the property name.
fn value_of(ids: &Ids, name: &str, schema: &Value, clean: bool) -> BoxedStrategy<Value> {
    if clean {
        if let Some(valid) = clean_value_of(ids, name, schema) {
            return valid;
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        let options = options.clone();
        return prop_oneof![
            4 => prop::sample::select(options),
            1 => garbage_text().prop_map(Value::String),
            1 => Just(json!(3)),
        ]
        .boxed();
    }
    let id_resource = match name {
        "mappingGroup" | "mappingType" | "errorType" => Some(name),
        "workingIntegrationSystemId" | "integrationSystemId" | "integrationSystem" => {
            Some("integrationSystem")
        }
        _ => None,
    };
    if let Some(resource) = id_resource {
        return prop_oneof![
            3 => pick(ids.pick(true, resource)).prop_map(|s| json!(s.parse::<i64>().unwrap_or(1))),
            3 => pick(ids.pick(false, resource)).prop_map(|s| json!(s.parse::<i64>().unwrap_or(1))),
            1 => Just(json!(ids.b_tenant)),
            1 => any::<i64>().prop_map(|n| json!(n)),
        ]
        .boxed();
    }
    match (name, schema["type"].as_str().unwrap_or("")) {
        ("uuid", _) => prop_oneof![
            pick(ids.pick(true, "uuid")),
            pick(ids.pick(false, "uuid")),
            fixed(&["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"]),
        ]
        .prop_map(Value::String)
        .boxed(),
        ("email", _) => prop_oneof![
            (0u32..1_000_000).prop_map(|n| format!("fuzz{n}@example.org")),
            fixed(&["no-at-sign", "@", "a@b", " x@y.org ", "UPPER@EXAMPLE.ORG"]),
            garbage_text(),
        ]
        .prop_map(Value::String)
        .boxed(),
        ("triggerDateTime" | "cutOffDateTime", _) => prop_oneof![
            fixed(&[
                "2030-01-01 10:00:00",
                "2020-01-01 00:00:00",
                "2024-02-29 23:59:59",
                "2024-02-30 10:00:00",
                "2030-01-01T10:00:00",
                "2030-01-01",
                "10:00:00",
                "9999-12-31 23:59:59",
                "0001-01-01 00:00:00",
            ]),
            garbage_text(),
        ]
        .prop_map(Value::String)
        .boxed(),
        ("taskConfig", _) => prop_oneof![
            Just(json!({})),
            Just(json!({"state": "Bihar", "account": "Acc"})),
            Just(json!({"concepts": ["a", "b"], "locationIds": [1, 2]})),
            Just(json!({"unknownFilter": 1})),
            Just(json!({"state": {"nested": [1, {"deep": null}]}})),
            Just(json!("not an object")),
            garbage_text().prop_map(|s| json!({ "state": s })),
        ]
        .boxed(),
        (_, "string") => {
            let max = schema["maxLength"].as_u64().unwrap_or(250) as usize;
            prop_oneof![
                4 => fixed(&["fuzz value", "Fuzz", "a", "Coded"]),
                2 => garbage_text(),
                1 => Just("y".repeat(max)),
                1 => (1usize..2_000).prop_map(move |extra| "z".repeat(max + extra)),
                1 => Just("ü".repeat(max + 1)),
            ]
            .prop_map(Value::String)
            .boxed()
        }
        (_, "integer") => integer_text()
            .prop_map(|s| s.parse::<i64>().map(Value::from).unwrap_or(json!(1)))
            .boxed(),
        (_, "boolean") => prop_oneof![Just(json!(true)), Just(json!(false))].boxed(),
        _ => prop_oneof![Just(json!({})), Just(Value::Null), Just(json!([1]))].boxed(),
    }
}

/// A valid value for the fields whose validity is not obvious from the schema.
fn clean_value_of(ids: &Ids, name: &str, schema: &Value) -> Option<BoxedStrategy<Value>> {
    let text = |values: &[&str]| fixed(values).prop_map(Value::String).boxed();
    let own_id = |resource: &str| {
        pick(ids.pick(true, resource))
            .prop_map(|s| json!(s.parse::<i64>().unwrap_or(1)))
            .boxed()
    };
    Some(match name {
        "mappingGroup" | "mappingType" | "errorType" => own_id(name),
        "workingIntegrationSystemId" | "integrationSystemId" | "integrationSystem" => {
            Just(json!(ids.a_tenant)).boxed()
        }
        "id" => Just(json!(0)).boxed(),
        "uuid" => Just(Value::Null).boxed(),
        "task" => text(&crate::admin_fuzz::GOONJ_TASKS),
        "module" => text(&["probe"]),
        // The API takes triggers within a day of now (IST wall clock).
        "triggerDateTime" => {
            let ist = chrono::Utc::now() + chrono::Duration::minutes(5 * 60 + 30 + 60);
            Just(json!(ist.format("%Y-%m-%d %H:%M:%S").to_string())).boxed()
        }
        "cutOffDateTime" => text(&["2020-01-01 00:00:00", "2024-02-29 12:00:00"]),
        "taskConfig" => Just(json!({})).boxed(),
        "email" => (0u32..1_000_000)
            .prop_map(|n| json!(format!("fuzz{n}@example.org")))
            .boxed(),
        "password" => text(&["a long enough password 1"]),
        _ if schema["enum"].is_array() => {
            let options: Vec<Value> = schema["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| !v.is_null())
                .cloned()
                .collect();
            prop::sample::select(options).boxed()
        }
        _ if schema["type"] == "string" => text(&["fuzz value", "Fuzz 2", "é ü"]),
        _ => return None,
    })
}

fn wrong_type() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(1e300)),
        Just(json!(18446744073709551615u64)),
        Just(json!("12")),
        Just(json!([])),
        Just(json!({"nested": {"deeper": [1, 2, {"x": null}]}})),
        garbage_text().prop_map(Value::String),
    ]
    .boxed()
}

/// Documented object bodies: each property present or not, then maybe one mutated.
fn object_of(ids: &Ids, schema: &Value, clean: bool) -> BoxedStrategy<Value> {
    let properties = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let required: Vec<String> = schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let names: Vec<String> = properties.keys().cloned().collect();
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = properties
        .iter()
        .map(|(name, prop)| {
            let weight_absent = match (required.contains(name), clean) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 1,
                (false, false) => 3,
            };
            let key = name.clone();
            prop_oneof![
                weight_absent => Just(None),
                6 => value_of(ids, name, prop, clean).prop_map(move |v| Some((key.clone(), v))),
            ]
            .boxed()
        })
        .collect();
    let mutated = if clean { 0 } else { 1 };
    let mutation = prop_oneof![
        6 => Just(None),
        2 * mutated => (prop::sample::select(names.clone()), wrong_type()).prop_map(Some),
        mutated => (garbage_text(), wrong_type()).prop_map(Some),
    ];
    (fields, mutation)
        .prop_map(|(fields, mutation)| {
            let mut map: Map<String, Value> = fields.into_iter().flatten().collect();
            if let Some((key, value)) = mutation {
                map.insert(key, value);
            }
            Value::Object(map)
        })
        .boxed()
}

/// `[[[…]]]` nested `depth` deep.
fn nested(depth: usize) -> Vec<u8> {
    let mut out = "[".repeat(depth).into_bytes();
    out.extend("]".repeat(depth).into_bytes());
    out
}

fn json_body(bytes: Vec<u8>) -> Body {
    Body::Raw {
        content_type: Some("application/json".into()),
        bytes,
    }
}

/// A JSON request body of `schema`, or bytes that are not one.
fn json_request_body(ids: &Ids, schema: &Value, clean: bool) -> BoxedStrategy<Body> {
    if clean {
        return object_of(ids, schema, true)
            .prop_map(|v| json_body(v.to_string().into_bytes()))
            .boxed();
    }
    let valid = object_of(ids, schema, false);
    prop_oneof![
        12 => valid.clone().prop_map(|v| json_body(v.to_string().into_bytes())),
        1 => valid.clone().prop_map(|v| Body::Raw { content_type: Some("text/plain".into()), bytes: v.to_string().into_bytes() }),
        1 => valid.clone().prop_map(|v| Body::Raw { content_type: None, bytes: v.to_string().into_bytes() }),
        1 => valid.prop_map(|v| Body::Raw { content_type: Some("application/json; charset=latin1".into()), bytes: v.to_string().into_bytes() }),
        1 => fixed(&["", "{", "{\"name\": }", "nul", "[1,", "{\"a\":1}{\"b\":2}", "\"text\"", "42", "null", "[]", "{\"name\":\"\\ud800\"}"])
            .prop_map(|s| json_body(s.into_bytes())),
        1 => Just(json_body(vec![0xff, 0xfe, b'{', 0x80])),
        1 => prop_oneof![Just(200usize), Just(10_000)].prop_map(|d| json_body(nested(d))),
        1 => prop_oneof![Just(1_100_000usize), Just(2_200_000)]
            .prop_map(|n| json_body(format!("{{\"name\": \"{}\"}}", "x".repeat(n)).into_bytes())),
        1 => Just(Body::None),
        1 => Just(Body::Raw { content_type: Some("application/x-www-form-urlencoded".into()), bytes: b"name=x&id=1".to_vec() }),
    ]
    .boxed()
}

/// A multipart body with one part `field` holding `file`.
fn multipart(field: &str, file: &[u8]) -> Body {
    let boundary = "fuzzboundary7f3a";
    let mut bytes = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"b.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    bytes.extend_from_slice(file);
    bytes.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    Body::Raw {
        content_type: Some(format!("multipart/form-data; boundary={boundary}")),
        bytes,
    }
}

/// One change to an exported bundle's JSON entries.
#[derive(Debug, Clone)]
enum BundleEdit {
    /// Give row `row` of entry `entry` another tenant's uuid (or a garbage one).
    Uuid(usize, usize, String),
    /// Set `field` of a row to a value.
    Field(usize, usize, String, Value),
    /// Replace an entry's content with raw bytes.
    Raw(usize, Vec<u8>),
    /// Drop an entry.
    Drop(usize),
}

fn bundle_body(ids: &Ids) -> BoxedStrategy<Body> {
    let entries = ids.bundle.clone();
    let count = entries.len().max(1);
    let foreign = {
        let mut u = ids.pick(false, "uuid");
        u.extend(["not-a-uuid".to_owned(), String::new()]);
        u
    };
    let field_names = fixed(&[
        "name",
        "intSystemValue",
        "avniValue",
        "about",
        "dataTypeHint",
        "mappingGroupUuid",
        "mappingTypeUuid",
        "comparisonOperator",
        "followUpStep",
        "key",
        "value",
        "secret",
        "id",
    ]);
    let field_value = prop_oneof![
        pick(foreign.clone()).prop_map(Value::String),
        wrong_type(),
        (240usize..2_000).prop_map(|n| Value::String("v".repeat(n))),
        fixed(&["EQUALS", "7", "Terminal", "int_env"]).prop_map(Value::String),
    ];
    let edit = prop_oneof![
        3 => (0..count, 0usize..4, prop::sample::select(foreign)).prop_map(|(e, r, u)| BundleEdit::Uuid(e, r, u)),
        3 => (0..count, 0usize..4, field_names, field_value).prop_map(|(e, r, f, v)| BundleEdit::Field(e, r, f, v)),
        1 => (0..count, fixed(&["", "{", "[{}]", "[{\"uuid\": 1}]", "null", "[null]"])).prop_map(|(e, s)| BundleEdit::Raw(e, s.into_bytes())),
        1 => (0..count).prop_map(BundleEdit::Drop),
    ];
    let zipped = prop::collection::vec(edit, 0..4).prop_map(move |edits| {
        let mut files: Vec<(String, Vec<u8>)> = entries.clone();
        for edit in edits {
            apply(&mut files, edit);
        }
        let refs: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        avni_int_dispatcher::admin::bundle::zip_files(&refs).unwrap()
    });
    prop_oneof![
        8 => zipped.clone().prop_map(|zip| multipart("bundleZip", &zip)),
        1 => zipped.prop_map(|zip| multipart("otherField", &zip)),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| multipart("bundleZip", &b)),
        1 => Just(Body::Raw { content_type: Some("multipart/form-data; boundary=nope".into()), bytes: b"--wrong\r\n\r\n".to_vec() }),
        1 => Just(Body::Raw { content_type: Some("multipart/form-data".into()), bytes: b"x".to_vec() }),
        1 => Just(json_body(b"{}".to_vec())),
        1 => Just(Body::None),
    ]
    .boxed()
}

fn apply(files: &mut Vec<(String, Vec<u8>)>, edit: BundleEdit) {
    let rows = |files: &mut Vec<(String, Vec<u8>)>, e: usize| -> Option<(usize, Vec<Value>)> {
        let index = e % files.len().max(1);
        let rows: Vec<Value> = serde_json::from_slice(&files.get(index)?.1).ok()?;
        Some((index, rows))
    };
    match edit {
        BundleEdit::Uuid(e, r, uuid) => {
            if let Some((i, mut list)) = rows(files, e) {
                let at = r % list.len().max(1);
                if let Some(row) = list.get_mut(at) {
                    row["uuid"] = Value::String(uuid);
                } else {
                    list.push(json!({ "uuid": uuid, "name": "imported", "key": "imported.key", "value": "v" }));
                }
                files[i].1 = serde_json::to_vec(&list).unwrap();
            }
        }
        BundleEdit::Field(e, r, field, value) => {
            if let Some((i, mut list)) = rows(files, e) {
                let at = r % list.len().max(1);
                if let Some(row) = list.get_mut(at) {
                    row[field] = value;
                }
                files[i].1 = serde_json::to_vec(&list).unwrap();
            }
        }
        BundleEdit::Raw(e, bytes) => {
            if !files.is_empty() {
                let i = e % files.len();
                files[i].1 = bytes;
            }
        }
        BundleEdit::Drop(e) => {
            if !files.is_empty() {
                let i = e % files.len();
                files.remove(i);
            }
        }
    }
}

fn login_body() -> BoxedStrategy<Body> {
    let form = (garbage_text(), garbage_text()).prop_map(|(email, password)| Body::Raw {
        content_type: Some("application/x-www-form-urlencoded".into()),
        bytes: format!(
            "email={}&password={}",
            urlencoding::encode(&email),
            urlencoding::encode(&password)
        )
        .into_bytes(),
    });
    prop_oneof![
        4 => form,
        1 => Just(Body::Raw { content_type: Some("application/x-www-form-urlencoded".into()), bytes: b"email=&password".to_vec() }),
        1 => Just(Body::Raw { content_type: Some("application/x-www-form-urlencoded".into()), bytes: b"%zz=%ff".to_vec() }),
        1 => Just(json_body(b"{\"email\": \"a@b\", \"password\": \"x\"}".to_vec())),
        1 => Just(Body::None),
    ]
    .boxed()
}

/// One operation of the document, ready to generate requests for.
pub struct Operation {
    pub method: Method,
    pub template: String,
    query_params: Vec<(String, String)>,
    /// `(media type, resolved schema)`.
    body: Option<(String, Value)>,
}

/// Every operation of the OpenAPI document whose path starts with one of `prefixes`.
pub fn operations(doc: &Value, prefixes: &[&str]) -> Vec<Operation> {
    let schemas = &doc["components"]["schemas"];
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => schema.clone(),
        }
    };
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !prefixes.iter().any(|p| path.starts_with(p)) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            // Path parameters are read from the template itself.
            let query_params = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "query")
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_owned(),
                        p["schema"]["type"].as_str().unwrap_or("string").to_owned(),
                    )
                })
                .collect();
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .map(|(media, m)| (media.clone(), resolve(&m["schema"])));
            out.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                template: path.clone(),
                query_params,
                body,
            });
        }
    }
    out
}

/// The resource a path's ids belong to: `/int/mappingGroup/{id}` → `mappingGroup`.
fn resource_of(template: &str) -> &str {
    if template.starts_with("/goonj/") {
        return "task";
    }
    template.split('/').nth(2).unwrap_or("")
}

/// Requests for one operation: valid-looking ones (A's or B's ids, valid values) and garbage.
pub fn requests(ids: &Ids, op: &Operation) -> BoxedStrategy<Request> {
    prop_oneof![2 => build(ids, op, true), 3 => build(ids, op, false)].boxed()
}

fn build(ids: &Ids, op: &Operation, clean: bool) -> BoxedStrategy<Request> {
    let resource = resource_of(&op.template).to_owned();
    let segments: Vec<BoxedStrategy<String>> = op
        .template
        .split('/')
        .map(
            |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some("module") => prop_oneof![
                    3 => fixed(&["probe", "goonj"]),
                    1 => fixed(&["no_such_module", "PROBE", "probe%00", "%2E%2E"]),
                    1 => garbage_text().prop_map(|s| urlencoding::encode(&s).into_owned()),
                ]
                .boxed(),
                Some(_) if clean => prop_oneof![
                    pick(ids.pick(true, &resource)),
                    pick(ids.pick(false, &resource)),
                ]
                .boxed(),
                Some(name) => id_segment(ids, &resource, name == "id"),
                None => Just(part.to_owned()).boxed(),
            },
        )
        .collect();
    let body: BoxedStrategy<Body> = match &op.body {
        None if clean => Just(Body::None).boxed(),
        None => prop_oneof![
            6 => Just(Body::None),
            1 => Just(json_body(b"{\"id\": 1}".to_vec())),
        ]
        .boxed(),
        Some((media, _)) if media.starts_with("multipart") => bundle_body(ids),
        Some((media, _)) if media.contains("urlencoded") => login_body(),
        Some((_, schema)) => json_request_body(ids, schema, clean),
    };
    let method = op.method.clone();
    let template = op.template.clone();
    (
        segments,
        query(ids, &resource, &op.query_params, clean),
        body,
    )
        .prop_map(move |(segments, query, body)| Request {
            method: method.clone(),
            template: template.clone(),
            path: segments.join("/"),
            query,
            body,
        })
        .boxed()
}

/// Requests for any of `ops`, each operation equally likely.
pub fn any_request(ids: &Ids, ops: &[Operation]) -> Union<BoxedStrategy<Request>> {
    Union::new(ops.iter().map(|op| requests(ids, op)))
}
