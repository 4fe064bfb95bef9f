//! `GET /api/check`: the rules of grid drawing over the whole map being served, what `gridmap
//! check` prints, as GeoJSON a planner can draw (or add to QGIS as a layer from a URL).
//!
//! Checking is CPU work (2 s for 100,000 grids), so it is done once per snapshot: the first
//! request after a new snapshot computes it on the blocking pool while later ones wait for it,
//! and every request until the next snapshot is answered from that result.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::edit::{check_map, survey, RuleConfig, Severity, Violation};

/// The violations of the snapshot of one generation.
#[derive(Default)]
pub struct CheckCache(tokio::sync::Mutex<Option<(u64, Arc<Vec<Violation>>)>>);

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/check", get(check))
}

async fn check(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    params.only(&["warnings"])?;
    let warnings = match params.get("warnings") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid-parameter",
                format!("warnings must be true or false, not {other:?}"),
            ))
        }
    };
    let snap = state.live.load();
    let violations = {
        // Held while computing: a second request for the same snapshot waits for this one.
        let mut cached = state.checks.0.lock().await;
        match &*cached {
            Some((generation, v)) if *generation == snap.generation => v.clone(),
            _ => {
                let s = snap.clone();
                let v = tokio::task::spawn_blocking(move || check_map(&s, &RuleConfig::default(), &|_, _| {}))
                    .await
                    .map(Arc::new)
                    .map_err(|e| ApiError::internal(format!("check task failed: {e}")))?;
                *cached = Some((snap.generation, v.clone()));
                v
            }
        }
    };
    let count = |s: Severity| violations.iter().filter(|v| v.severity == s).count();
    let features: Vec<Value> = violations
        .iter()
        .filter(|v| warnings || v.severity == Severity::Error)
        .map(|v| v.to_feature().to_json())
        .collect();
    let body = json!({
        "type": "FeatureCollection",
        "generation": snap.generation,
        "grids": snap.data.grids.len(),
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "summary": survey::tally(&violations),
        "features": features,
    });
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"))], body.to_string()).into_response())
}

/// The route's OpenAPI path item.
pub fn openapi_paths() -> Value {
    json!({"/api/check": {"get": {
        "summary": "Every current grid against the rules of grid drawing (what `gridmap check` reports)",
        "description": "Each violation is a Feature where the problem is (the overlap, the gap, the cut building...) with properties rule, severity, message_zh, message_en and codes. Computed once per snapshot (2 s for 100,000 grids). Data written through the edit routes always passes; this finds what an import or a write straight into the database broke.",
        "operationId": "check_map",
        "parameters": [{"name": "warnings", "in": "query", "required": false, "schema": {"type": "boolean", "default": false}, "description": "Also list warnings (by default only errors are listed; both are counted)"}],
        "responses": {
            "200": {"description": "A FeatureCollection of violations, with the snapshot generation, the number of grids, of errors and of warnings, and a one-line summary", "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}},
            "400": {"description": "Unknown parameter or a warnings value other than true or false", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        }
    }}})
}
