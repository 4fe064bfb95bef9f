//! `GET /api/layers/{layer}?bbox=..`: a layer's features in a box as a FeatureCollection.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::model::geojson::write_feature_collection;
use crate::model::LayerKind;

/// Most features one response may carry unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50_000;
/// Largest `limit` a caller may ask for.
pub const MAX_LIMIT: usize = 500_000;
/// Answers with at most this many features are written on the request's own thread.
const INLINE_FEATURES: usize = 2_000;

pub async fn layer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    params.only(&["bbox", "limit"])?;
    let kind = LayerKind::parse(&name).ok_or_else(|| {
        let names: Vec<&str> = LayerKind::ALL.iter().map(|k| k.name()).collect();
        ApiError::not_found(format!("there is no layer {name:?}; the layers are {}", names.join(", ")))
    })?;
    let bbox = params.bbox()?.unwrap_or_else(|| geo::Rect::new((-180.0, -90.0), (180.0, 90.0)));
    let limit = params.usize_max("limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let snap = state.live.load();
    let idx = snap.layer_in_bbox(kind, bbox);
    if idx.len() > limit {
        return Err(ApiError::bad_request(
            "too-many-features",
            format!(
                "{} {} features match; narrow the bbox or pass limit (at most {MAX_LIMIT})",
                idx.len(),
                kind.name()
            ),
        )
        .with("matched", idx.len()));
    }
    // A big answer is written on the blocking pool: the HTTP thread holding this connection
    // holds others too (src/api/server.rs), and they should not wait for it.
    let body = if idx.len() <= INLINE_FEATURES {
        write_feature_collection(snap.features_at(kind, &idx))
    } else {
        tokio::task::spawn_blocking(move || write_feature_collection(snap.features_at(kind, &idx)))
            .await
            .map_err(|e| ApiError::internal(format!("layer task failed: {e}")))?
    };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"))], body).into_response())
}
