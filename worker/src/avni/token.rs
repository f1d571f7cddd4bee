//! An Avni token and when to stop using it: read the JWT's `exp` (base64url payload, no
//! signature check: the server checks that) and re-login 60 s before it, so a request never
//! leaves with a token that expires in flight.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use std::fmt;

/// Re-login this long before `exp`.
pub const REFRESH_MARGIN: TimeDelta = TimeDelta::seconds(60);
/// Lifetime assumed when `exp` cannot be read: Cognito ID tokens live an hour.
pub const ASSUMED_LIFETIME: TimeDelta = TimeDelta::hours(1);

#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    value: String,
    expires_at: DateTime<Utc>,
}

impl Token {
    /// A token obtained at `obtained_at`.
    pub fn new(value: impl Into<String>, obtained_at: DateTime<Utc>) -> Self {
        let value = value.into();
        let expires_at = jwt_expiry(&value).unwrap_or(obtained_at + ASSUMED_LIFETIME);
        Token { value, expires_at }
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// When a fresh login should replace it.
    pub fn refresh_at(&self) -> DateTime<Utc> {
        self.expires_at - REFRESH_MARGIN
    }

    /// Still good to send at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        now < self.refresh_at()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The `exp` claim of a JWT, if the token is one.
pub fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    // Some encoders pad base64url; the JWT spec does not, and the decoder refuses padding.
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    let seconds = exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))?;
    DateTime::from_timestamp(seconds, 0)
}

#[cfg(test)]
pub(crate) fn test_jwt(claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn reads_exp_from_the_payload() {
        let jwt = test_jwt(&json!({"sub": "u", "exp": 1_700_003_600, "token_use": "id"}));
        assert_eq!(jwt_expiry(&jwt), Some(at(1_700_003_600)));
        let token = Token::new(jwt, at(1_700_000_000));
        assert_eq!(token.expires_at(), at(1_700_003_600));
    }

    #[test]
    fn tolerates_padding_and_fractional_exp() {
        let header = URL_SAFE_NO_PAD.encode(b"{}");
        // 16 bytes of JSON: base64 needs padding, which some encoders add.
        let payload = base64::engine::general_purpose::URL_SAFE.encode(br#"{"exp":12345.9} "#);
        assert!(payload.ends_with('='));
        let jwt = format!("{header}.{payload}.sig");
        assert_eq!(jwt_expiry(&jwt), Some(at(12345)));
    }

    #[test]
    fn undecodable_tokens_are_assumed_to_last_an_hour() {
        let obtained = at(1_000_000);
        for value in [
            "opaque-token",
            "a.!!!.c",
            &format!("a.{}.c", URL_SAFE_NO_PAD.encode(b"not json")),
            &test_jwt(&json!({"sub": "no exp"})),
            &test_jwt(&json!({"exp": "soon"})),
        ] {
            let token = Token::new(value, obtained);
            assert_eq!(
                token.expires_at(),
                obtained + TimeDelta::hours(1),
                "{value}"
            );
        }
    }

    #[test]
    fn refreshes_sixty_seconds_before_exp() {
        let token = Token::new(test_jwt(&json!({"exp": 10_000})), at(6_400));
        assert!(token.usable_at(at(6_400)));
        assert!(token.usable_at(at(9_939)));
        assert!(!token.usable_at(at(9_940)));
        assert!(!token.usable_at(at(10_001)));
    }

    #[test]
    fn an_already_expired_token_is_never_usable() {
        let token = Token::new(test_jwt(&json!({"exp": 100})), at(1_000));
        assert!(!token.usable_at(at(1_000)));
    }

    #[test]
    fn debug_hides_the_value() {
        let token = Token::new("secret-token", at(0));
        assert!(!format!("{token:?}").contains("secret"));
    }
}
