//! Routes of the reach API.

use axum::Router;
use serde_json::{json, Value};

use super::AppState;

/// The routes of this module, merged into the app by [`super::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// OpenAPI path items of this module, merged into `/openapi.json`.
pub fn openapi_paths() -> Value {
    json!({})
}
