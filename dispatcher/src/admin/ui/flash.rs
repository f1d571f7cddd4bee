//! Flash messages: after a form post the handler redirects (303) with a short-lived cookie
//! carrying what happened; the next page shows it once and clears it.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const COOKIE: &str = "avni_int_flash";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
}

/// A one-time message for the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub text: String,
}

impl Flash {
    pub fn success(text: impl Into<String>) -> Self {
        Flash {
            kind: FlashKind::Success,
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Flash {
            kind: FlashKind::Error,
            text: text.into(),
        }
    }

    fn encode(&self) -> String {
        let kind = match self.kind {
            FlashKind::Success => "ok",
            FlashKind::Error => "err",
        };
        // Form encoding leaves no `;`, `,` or space, so the value is a valid cookie value.
        serde_urlencoded::to_string([("k", kind), ("m", self.text.as_str())]).unwrap_or_default()
    }

    fn decode(value: &str) -> Option<Flash> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(value).ok()?;
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let kind = match get("k")?.as_str() {
            "ok" => FlashKind::Success,
            "err" => FlashKind::Error,
            _ => return None,
        };
        // A cookie is the client's to change: keep what a page shows short.
        let text: String = get("m")?.chars().take(500).collect();
        Some(Flash { kind, text })
    }
}

/// A 303 to `to` that shows `flash` on the next page.
pub fn redirect(to: &str, flash: Flash) -> Response {
    let mut response = see_other(to);
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60",
        flash.encode()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A plain 303 (redirect after post, or to the login page).
pub fn see_other(to: &str) -> Response {
    let location = HeaderValue::from_str(to).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// Where a form sends the user back to: its `back` field when that is a path of this site
/// (never another host), else `default`.
pub fn back_to(given: Option<&str>, default: &str) -> String {
    match given {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains(['\\', '\r', '\n']) =>
        {
            path.to_owned()
        }
        _ => default.to_owned(),
    }
}

fn from_headers(headers: &HeaderMap) -> Option<Flash> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| Flash::decode(value))
}

/// Middleware: hands the incoming flash to the page (as a request extension) and clears the
/// cookie once a page has been rendered (not on a redirect), so the message shows exactly once.
pub async fn carry(mut request: Request, next: Next) -> Response {
    let incoming = from_headers(request.headers());
    let had_flash = incoming.is_some();
    if let Some(flash) = incoming {
        request.extensions_mut().insert(flash);
    }
    let mut response = next.run(request).await;
    let sets_new = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(COOKIE));
    if had_flash && !sets_new && !response.status().is_redirection() {
        let cleared = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
        if let Ok(value) = HeaderValue::from_str(&cleared) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flash_survives_its_cookie() {
        for flash in [
            Flash::success("Mapping \"Flood\" → Flood added; 100% done, ok?"),
            Flash::error("intSystemValue: must not be blank"),
        ] {
            let encoded = flash.encode();
            assert!(!encoded.contains([';', ',', ' ']), "{encoded}");
            assert_eq!(Flash::decode(&encoded), Some(flash));
        }
        assert_eq!(Flash::decode("k=weird&m=x"), None);
    }

    #[test]
    fn forms_only_send_you_back_within_the_site() {
        assert_eq!(back_to(Some("/errors?page=2"), "/"), "/errors?page=2");
        assert_eq!(back_to(Some("//evil.example/x"), "/errors"), "/errors");
        assert_eq!(back_to(Some("https://evil.example"), "/errors"), "/errors");
        assert_eq!(back_to(Some("/\\evil.example"), "/errors"), "/errors");
        assert_eq!(back_to(None, "/errors"), "/errors");
    }
}
