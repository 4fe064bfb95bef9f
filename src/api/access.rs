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
    if expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-token-request",
            "`expires` is in the past",
        ));
    }
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

/// Adds these routes, the Bearer scheme and the 401/403/429 answers to the OpenAPI document.
pub fn add_to_openapi(doc: &mut Value) {
    let problem =
        |d: &str| json!({"description": d, "content": {"application/problem+json": {"schema": {"type": "object"}}}});
    let token_info = json!({"type": "object", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "role": {"type": "string", "enum": ["viewer", "coordinator", "planner", "admin"]},
        "scope": {"type": "string", "nullable": true}, "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time", "nullable": true},
        "revoked_at": {"type": "string", "format": "date-time", "nullable": true},
        "last_used_at": {"type": "string", "format": "date-time", "nullable": true}
    }});
    let admin_responses = |ok: Value, ok_status: &str| {
        let mut r = serde_json::Map::new();
        r.insert(ok_status.into(), ok);
        r.insert("401".into(), problem("Malformed, unknown, expired or revoked token"));
        r.insert("403".into(), problem("Not an admin token"));
        Value::Object(r)
    };
    let paths = json!({
        "/api/tokens": {
            "get": {"summary": "Every token (never its secret or hash); admins only", "operationId": "tokens_list",
                "security": [{"bearer": []}],
                "responses": admin_responses(json!({"description": "The tokens", "content": {"application/json": {"schema": {"type": "object", "properties": {"tokens": {"type": "array", "items": token_info}}}}}}), "200")},
            "post": {"summary": "Make a token; its secret is in this answer only; admins only", "operationId": "tokens_create",
                "security": [{"bearer": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name", "role"], "properties": {
                    "name": {"type": "string"}, "role": {"type": "string", "enum": ["viewer", "coordinator", "planner", "admin"]},
                    "scope": {"type": "string", "description": "A subdistrict or community code"},
                    "expires": {"type": "string", "description": "A date (00:00 UTC) or an RFC 3339 instant"}}}}}},
                "responses": admin_responses(json!({"description": "The token", "content": {"application/json": {"schema": {"type": "object", "properties": {"token": {"type": "string"}, "info": token_info}}}}}), "201")}
        },
        "/api/tokens/{id}": {"delete": {"summary": "Revoke a token (at once on this server, within 5 s on others); admins only", "operationId": "tokens_revoke",
            "security": [{"bearer": []}],
            "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
            "responses": admin_responses(json!({"description": "The revoked token", "content": {"application/json": {"schema": {"type": "object", "properties": {"info": token_info}}}}}), "200")}},
        "/api/audit": {"get": {"summary": "The audit log: writes and reads of personal data, oldest first; admins only", "operationId": "audit",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "since", "in": "query", "required": false, "schema": {"type": "string"}, "description": "A date or RFC 3339 instant"},
                {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": MAX_AUDIT_LIMIT, "default": 1000}}
            ],
            "responses": admin_responses(json!({"description": "Entries: id, at, token_id, who, addr, method, path, status, detail", "content": {"application/json": {"schema": {"type": "object", "properties": {"entries": {"type": "array", "items": {"type": "object"}}}}}}}), "200")}}
    });
    if let (Some(all), Value::Object(more)) = (doc["paths"].as_object_mut(), paths) {
        all.extend(more);
    }
    if let Some(components) = doc["components"].as_object_mut() {
        components.insert(
            "securitySchemes".into(),
            json!({"bearer": {"type": "http", "scheme": "bearer", "description": "`gm_` + 64 hex digits, from `gridmap token create` or POST /api/tokens. Without a token a caller is anonymous (viewer rights, unless the server refuses anonymous callers). Over the rate limit: 429 with Retry-After."}}),
        );
    }
    // Anonymous or Bearer, everywhere the route does not say otherwise.
    doc["security"] = json!([{}, {"bearer": []}]);
}
