//! Bearer-token authentication for every endpoint except `/health`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};

/// Rejects requests without one of the configured keys; passes everything when no key is
/// configured. Keys are compared in constant time and never logged.
pub async fn require_api_key(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if state.config.api_keys.is_empty() || request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer_token);
    let accepted = presented.is_some_and(|token| state.config.api_keys.iter().any(|key| constant_time_eq(key.as_bytes(), token.as_bytes())));
    if accepted {
        return next.run(request).await;
    }

    tracing::warn!(path = %request.uri().path(), "rejected a request without a valid API key");
    let message = match presented {
        None => "Missing API key: send it as `Authorization: Bearer KEY`.",
        Some(_) => "Invalid API key.",
    };
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        message: message.into(),
        kind: "invalid_request_error",
        param: None,
        code: Some("invalid_api_key"),
        retry_after_seconds: None,
    }
    .into_response()
}

/// Returns the token of an `Authorization: Bearer TOKEN` header; the scheme name is
/// case-insensitive (RFC 9110, section 11.1).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter().zip(right).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(super::bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(super::bearer_token("bearer abc "), Some("abc"));
        assert_eq!(super::bearer_token("Basic abc"), None);
        assert_eq!(super::bearer_token("Bearer"), None);
    }

    #[test]
    fn key_comparison() {
        assert!(constant_time_eq(b"secret-1", b"secret-1"));
        assert!(!constant_time_eq(b"secret-1", b"secret-2"));
        assert!(!constant_time_eq(b"secret", b"secret-1"));
    }
}
