//! Request extractors whose rejections name the offending field: a JSON body read with the
//! path of the first bad value, and a query string kept as ordered pairs (`sort` may repeat).

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::str::FromStr;

/// A numeric path id; anything else names no row, so it is a 404 like an unknown id (`what`
/// says which kind of row).
pub(crate) fn path_id(text: &str, what: &str) -> Result<i32, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::not_found(format!("{what} {text}")))
}

/// Bodies larger than this are refused before parsing (a mapping or a bundle entry is small).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// A JSON body; a rejection is a 400 naming the field (`mappingGroup`, `body`, …).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Err(ApiError::bad(
                "body",
                "expected Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad("body", format!("unreadable body: {e}")))?;
        if bytes.len() > MAX_JSON_BODY {
            return Err(ApiError::bad(
                "body",
                format!("larger than {MAX_JSON_BODY} bytes"),
            ));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON, naming the path of the first value that does not fit `T`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let parsed = parse_typed(bytes)?;
    // Postgres text and jsonb cannot hold NUL: refused here, naming where it is, not a 500.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        if let Ok(tree) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(path) = nul_at(&tree, String::new()) {
                let field = if path.is_empty() {
                    "body".to_owned()
                } else {
                    path
                };
                return Err(ApiError::bad(field, "must not contain NUL characters"));
            }
        }
    }
    Ok(parsed)
}

/// The path (`name`, `[0].name`) of the first string or key holding NUL.
fn nul_at(value: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0').then_some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                return Some(at.clone());
            }
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            nul_at(item, path)
        }),
        _ => None,
    }
}

fn parse_typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        // serde reports a missing key at its parent's path; name the key itself.
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned);
        let field = match missing {
            Some(key) if path.is_empty() || path == "." => key,
            Some(key) => format!("{path}.{key}"),
            None if path.is_empty() || path == "." => "body".to_owned(),
            None => path,
        };
        if inner.is_syntax() || inner.is_eof() {
            ApiError::bad("body", format!("malformed JSON: {inner}"))
        } else {
            ApiError::bad(field, message)
        }
    })
}

/// The query string as decoded pairs, in order. Spring's form decoding (`+` is a space).
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        QueryParams::parse(query)
    }
}

impl QueryParams {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map_err(|e| ApiError::bad("query", format!("unreadable query string: {e}")))?;
        // Postgres text cannot hold NUL: refused here rather than failing the query.
        if let Some((key, _)) = pairs
            .iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            let field = if key.is_empty() || key.contains('\0') {
                "query"
            } else {
                key
            };
            return Err(ApiError::bad(field, "must not contain NUL characters"));
        }
        Ok(QueryParams(pairs))
    }

    /// `name` as a day (`yyyy-MM-dd`, years 1 to 9999: what Postgres timestamps hold).
    pub fn date(&self, name: &str) -> Result<Option<chrono::NaiveDate>, ApiError> {
        use chrono::Datelike;
        self.get(name)
            .map(|text| {
                chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                    .ok()
                    .filter(|day| (1..=9999).contains(&day.year()))
                    .ok_or_else(|| {
                        ApiError::bad(name, format!("expected yyyy-MM-dd, got {text:?}"))
                    })
            })
            .transpose()
    }

    /// The first value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// `name` parsed as `T`; a value that does not parse is a 400 naming `name`.
    pub fn parse_opt<T: FromStr>(&self, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad(name, format!("expected {expected}, got {text:?}"))),
        }
    }

    /// `ids=1,2,3` (the admin app's "get many"); `None` when absent.
    pub fn ids(&self) -> Result<Option<Vec<i32>>, ApiError> {
        let Some(text) = self.get("ids") else {
            return Ok(None);
        };
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| {
                part.trim().parse::<i32>().map_err(|_| {
                    ApiError::bad("ids", format!("expected comma-separated ids, got {part:?}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_repeated_keys_and_decodes_spaces() {
        let q = QueryParams::parse("avniValue=Concept%2010&sort=id,ASC&sort=name,DESC").unwrap();
        assert_eq!(q.get("avniValue"), Some("Concept 10"));
        assert_eq!(
            q.all("sort").collect::<Vec<_>>(),
            vec!["id,ASC", "name,DESC"]
        );
    }

    #[test]
    fn bad_ids_name_the_field() {
        let q = QueryParams::parse("ids=1,x").unwrap();
        match q.ids() {
            Err(ApiError::BadRequest { field, .. }) => assert_eq!(field, "ids"),
            other => panic!("expected a 400 naming ids, got {other:?}"),
        }
    }

    fn field_of<T: std::fmt::Debug>(result: Result<T, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    // Found by tests/fleet/admin_fuzz.rs: these reached Postgres and answered 500.
    #[test]
    fn nul_in_a_query_and_days_postgres_cannot_hold_are_400s() {
        assert_eq!(field_of(QueryParams::parse("avniValue=%00")), "avniValue");
        assert_eq!(field_of(QueryParams::parse("a%00=1")), "query");
        for day in ["-4713-01-01", "0000-01-01", "10000-01-01"] {
            let q = QueryParams::parse(&format!("startDate={day}")).unwrap();
            assert_eq!(field_of(q.date("startDate")), "startDate", "{day}");
        }
        let q = QueryParams::parse("startDate=2024-02-29").unwrap();
        assert_eq!(
            q.date("startDate").unwrap(),
            chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
        );
    }

    // Found by tests/fleet/admin_fuzz.rs: `{"name": "\u0000"}` answered 500.
    #[test]
    fn nul_in_json_is_a_400_naming_where() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Named {
            name: String,
        }
        assert_eq!(
            field_of(parse_json::<Named>(br#"{"name": "a\u0000"}"#)),
            "name"
        );
        let rows = br#"[{"name": "ok"}, {"name": "\u0000"}]"#;
        assert_eq!(field_of(parse_json::<Vec<Named>>(rows)), "[1].name");
        assert!(parse_json::<Named>(br#"{"name": "\\u0000"}"#).is_ok());
    }

    #[test]
    fn json_errors_name_the_path() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            #[serde(rename = "mappingGroup")]
            mapping_group: i32,
        }
        match parse_json::<Body>(br#"{"mappingGroup": "x"}"#) {
            Err(ApiError::BadRequest { field, .. }) => assert_eq!(field, "mappingGroup"),
            other => panic!("expected a 400 naming mappingGroup, got {other:?}"),
        }
        match parse_json::<Body>(br#"{}"#) {
            Err(ApiError::BadRequest { field, .. }) => assert_eq!(field, "mappingGroup"),
            other => panic!("expected a 400 naming mappingGroup, got {other:?}"),
        }
        match parse_json::<Body>(br#"{"mappingGroup": 1"#) {
            Err(ApiError::BadRequest { field, .. }) => assert_eq!(field, "body"),
            other => panic!("expected a 400 naming body, got {other:?}"),
        }
    }
}
