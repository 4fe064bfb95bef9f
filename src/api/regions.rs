//! `GET /api/grids/{code}`, `/api/communities/{code}`, `/api/subdistricts/{code}`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{path_code, Params};
use super::{staff_json, AppState};
use crate::auth::{mark_personal, Caller};
use crate::model::Level;

async fn region(
    state: AppState,
    caller: Caller,
    raw: String,
    level: Level,
    params: Params,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let code = path_code(&raw, level)?;
    let snap = state.live.load();
    let region = snap
        .region(&code)
        .ok_or_else(|| ApiError::not_found(format!("there is no {level} with code {code} in this district")))?;
    let mut feature = region.to_feature().to_json();
    let children: Vec<Value> = snap
        .children(&code)
        .iter()
        .filter_map(|c| snap.region(c))
        .map(|c| json!({"code": c.code, "name": c.name, "households": c.households, "population": c.population}))
        .collect();
    let mut personal = 0;
    let staff: Vec<Value> = snap
        .staff_within(&code)
        .into_iter()
        .map(|s| {
            let allowed = caller.may_see_personal_data_of(s);
            personal += usize::from(allowed);
            staff_json(s, allowed)
        })
        .collect();
    if let Some(props) = feature.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("children".into(), Value::Array(children));
        props.insert("staff".into(), Value::Array(staff));
    }
    // The version is the ETag that optimistic edits will send back in If-Match.
    let etag =
        HeaderValue::from_str(&format!("\"{}\"", region.version)).map_err(|e| ApiError::internal(e.to_string()))?;
    let resp = (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json")), (header::ETAG, etag)],
        feature.to_string(),
    )
        .into_response();
    Ok(if personal > 0 {
        mark_personal(resp, format!("names and phones of {personal} staff of {level} {code}"))
    } else {
        resp
    })
}

pub async fn grid(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    region(state, caller, code, Level::Grid, params).await
}

pub async fn community(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    region(state, caller, code, Level::Community, params).await
}

pub async fn subdistrict(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    region(state, caller, code, Level::Subdistrict, params).await
}
