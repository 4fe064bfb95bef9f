//! `GET/POST /api/tokens`, `DELETE /api/tokens/{id}` and `GET /api/audit`: token management
//! and the audit log over HTTP, for admins only (same rules as `gridmap token ...`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::auth::middleware::forbidden;
use crate::auth::token::{parse_expiry, parse_role};
use crate::auth::{AuditDetail, Caller, NewToken, Role};
use crate::model::Code;

/// Most audit entries in one answer.
pub const MAX_AUDIT_LIMIT: u32 = 10_000;

/// The routes of this module, merged into the app by [`super::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list).post(create))
        .route("/api/tokens/{id}", delete(revoke))
        .route("/api/audit", get(audit))
}

fn admin_only(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.may_administer() {
        Ok(())
    } else {
        Err(forbidden(caller, Role::Admin, what))
    }
}

fn with_detail(resp: Response, detail: String) -> Response {
    let mut resp = resp;
    resp.extensions_mut().insert(AuditDetail(detail));
    resp
}

async fn list(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Json<Value>, ApiError> {
    admin_only(&caller, "listing tokens")?;
    params.only(&[])?;
    let tokens = state.auth.store().list_tokens().await?;
    Ok(Json(json!({"tokens": tokens})))
}

/// The body of `POST /api/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    role: String,
    scope: Option<String>,
    /// A date (`2027-01-31`, 00:00 UTC) or an RFC 3339 instant.
    expires: Option<String>,
}

async fn create(State(state): State<AppState>, caller: Caller, body: axum::body::Bytes) -> Result<Response, ApiError> {
    admin_only(&caller, "making tokens")?;
    let body: CreateBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid-body", format!("expected {{name, role, scope?, expires?}}: {e}"))
    })?;
    let role = parse_role(&body.role)?;
    let scope = body
        .scope
        .map(|s| {
            Code::parse(&s).map_err(|e| {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-token-request", format!("scope {s:?}: {e}"))
            })
        })
        .transpose()?;
    let expires_at = body.expires.map(|e| parse_expiry(&e)).transpose()?;
    let (info, secret) = state.auth.create(NewToken { name: body.name, role, scope, expires_at }).await?;
    let detail = format!("created token {} ({}, {})", info.id, info.name, info.role);
    let resp = (StatusCode::CREATED, Json(json!({"token": secret, "info": info}))).into_response();
    Ok(with_detail(resp, detail))
}

async fn revoke(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    admin_only(&caller, "revoking tokens")?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("invalid-parameter", format!("token id {id:?} is not a number")))?;
    let info = state.auth.revoke(id).await?;
    let detail = format!("revoked token {} ({})", info.id, info.name);
    Ok(with_detail(Json(json!({"info": info})).into_response(), detail))
}

async fn audit(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Json<Value>, ApiError> {
    admin_only(&caller, "reading the audit log")?;
    params.only(&["since", "limit"])?;
    let since = params
        .get("since")
        .map(|s| {
            parse_expiry(s).map_err(|_| {
                ApiError::bad_request(
                    "invalid-parameter",
                    format!("`since`={s:?} is neither a date nor an RFC 3339 instant"),
                )
            })
        })
        .transpose()?;
    let limit = match params.get("limit") {
        None => 1_000,
        Some(raw) => raw.trim().parse::<u32>().ok().filter(|n| (1..=MAX_AUDIT_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::bad_request("invalid-parameter", format!("`limit`={raw:?} must be 1 to {MAX_AUDIT_LIMIT}"))
        })?,
    };
    // Entries still queued would be missing otherwise.
    state.auth.audit().flush().await;
    let entries = state.auth.store().read_audit(since, limit).await?;
    Ok(Json(json!({"entries": entries})))
}
