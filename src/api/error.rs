//! The one place where errors become HTTP responses: RFC 9457 `application/problem+json`.
//!
//! Every error the API returns, including axum's own rejections (bad JSON, body too large,
//! unknown route, wrong method), goes through [`ApiError`]. 5xx details are logged, not sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::index::IndexError;
use crate::store::StoreError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An API error: a status, a problem type and a message a person can act on.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// Short machine-readable kind, becomes `type: "urn:gridmap:problem:<slug>"`.
    pub slug: &'static str,
    /// What went wrong and what to do, for a person.
    pub detail: String,
    /// Extra members (e.g. a list of per-item errors).
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, slug: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, slug, detail: detail.into(), extra: Map::new() }
    }

    /// 400: a query parameter or path segment is missing or malformed.
    pub fn bad_request(slug: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, slug, detail)
    }

    /// 404: the named thing does not exist.
    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 413: the body is over the limit.
    pub fn too_large(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", detail)
    }

    /// 415: a body in a format the route does not take.
    pub fn unsupported_media(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", detail)
    }

    /// 500: logged with its detail; the caller sees a generic message.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// Adds an extra member to the problem document.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> ApiError {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.slug, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), slug = self.slug, detail = %self.detail, "request failed");
            match self.status {
                StatusCode::SERVICE_UNAVAILABLE => self.detail.clone(),
                _ => "an internal error occurred; it has been logged".to_string(),
            }
        } else {
            self.detail.clone()
        };
        let mut body = json!({
            "type": format!("urn:gridmap:problem:{}", self.slug),
            "title": self.title(),
            "status": self.status.as_u16(),
            "detail": detail,
        });
        if let Value::Object(m) = &mut body {
            m.extend(self.extra);
        }
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "the database is unavailable; reads are served from the last snapshot, writes must be retried later",
            ),
            StoreError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-data", m),
            // Edits answer this with the ETag of the current version too (api::edit::Refusal).
            StoreError::Conflict { ref code, current_version } => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, "stale-version", e.to_string())
                    .with("code", code.to_string())
                    .with("current_version", current_version.map_or(Value::Null, Value::from))
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<IndexError> for ApiError {
    fn from(e: IndexError) -> ApiError {
        match e {
            IndexError::DuplicateCode { .. } | IndexError::DuplicateId { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-data", e.to_string())
            }
            IndexError::Task(_) => ApiError::internal(e.to_string()),
        }
    }
}

/// Turns an axum rejection (or any response-like error) into problem+json, keeping its status.
pub fn from_rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(format!(
            "the request body is larger than this route accepts ({text}); split it into smaller requests"
        )),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media(text),
        StatusCode::NOT_FOUND => ApiError::not_found(text),
        s if s.is_client_error() => ApiError::new(s, "bad-request", text),
        s => ApiError::new(s, "internal", text),
    }
}

/// Fallback for unknown routes.
pub async fn route_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route {}; see /openapi.json for the routes gridmap serves", uri.path()))
}

/// Fallback for a known route called with the wrong method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("{} is not allowed on {}; see /openapi.json", method, uri.path()),
    )
}
