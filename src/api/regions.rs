//! `GET /api/grids/{code}`, `/api/communities/{code}`, `/api/subdistricts/{code}`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{path_code, Params};
use super::{staff_json, AppState};
use crate::model::Level;

async fn region(state: AppState, raw: String, level: Level, params: Params) -> Result<Response, ApiError> {
    // Grids keep their history: `at` asks for the version in force at an instant.
    params.only(if level == Level::Grid { &["at"] } else { &[] })?;
    let code = path_code(&raw, level)?;
    let at = params.instant("at")?;
    let snap = state.live.load();
    let region = match at {
        None => snap.region(&code),
        Some(t) => snap.grid_at(&code, t).map(|g| g.grid),
    }
    .ok_or_else(|| match at {
        Some(t) if snap.region(&code).is_some() || !snap.history().of_code(&code).is_empty() => {
            ApiError::not_found(format!("grid {code} did not exist at {}", t.to_rfc3339()))
        }
        _ => ApiError::not_found(format!("there is no {level} with code {code} in this district")),
    })?;
    let is_current = region.valid_to.is_none();
    let mut feature = region.to_feature().to_json();
    let children: Vec<Value> = snap
        .children(&code)
        .iter()
        .filter_map(|c| snap.region(c))
        .map(|c| json!({"code": c.code, "name": c.name, "households": c.households, "population": c.population}))
        .collect();
    // Who served a grid in the past is not recorded: an ended version lists no staff.
    let staff: Vec<Value> = if is_current {
        snap.staff_within(&code).into_iter().map(|s| staff_json(s, state.personal_data_allowed())).collect()
    } else {
        Vec::new()
    };
    if let Some(props) = feature.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("children".into(), Value::Array(children));
        props.insert("staff".into(), Value::Array(staff));
    }
    // The version is the ETag that optimistic edits will send back in If-Match.
    let etag =
        HeaderValue::from_str(&format!("\"{}\"", region.version)).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json")), (header::ETAG, etag)],
        feature.to_string(),
    )
        .into_response())
}

pub async fn grid(
    State(state): State<AppState>,
    Path(code): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    region(state, code, Level::Grid, params).await
}

pub async fn community(
    State(state): State<AppState>,
    Path(code): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    region(state, code, Level::Community, params).await
}

pub async fn subdistrict(
    State(state): State<AppState>,
    Path(code): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    region(state, code, Level::Subdistrict, params).await
}
