//! The HTTP API (axum): routes, shared state and the one error type.
//!
//! [`router`] builds the whole app without a socket (tests drive it with `oneshot`);
//! [`serve`] runs it on a listener until a shutdown future resolves. Handlers read the current
//! [`Snapshot`](crate::index::Snapshot) and never touch SQL.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::index::Live;
use crate::model::Staff;
use crate::store::Store;

pub mod edit;
pub mod error;
pub mod geocode;
pub mod layers;
pub mod locate;
pub mod openapi;
pub mod params;
pub mod reach;
pub mod regions;
pub mod tiles;
pub mod web;

pub use error::ApiError;

/// Limits and switches of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body for ordinary routes, in bytes.
    pub max_body_bytes: usize,
    /// Largest body of `POST /api/locate`, in bytes.
    pub max_batch_body_bytes: usize,
    /// Most points in one `POST /api/locate`.
    pub max_batch_points: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig { max_body_bytes: 1 << 20, max_batch_body_bytes: 64 << 20, max_batch_points: 1_000_000 }
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub live: Live,
    pub store: Arc<dyn Store>,
    pub config: Arc<ApiConfig>,
}

impl AppState {
    pub fn new(live: Live, store: Arc<dyn Store>, config: ApiConfig) -> AppState {
        AppState { live, store, config: Arc::new(config) }
    }

    /// Whether the caller may see staff names and phone numbers. No caller may until
    /// authentication is in place: personal data is never served to an unknown caller.
    pub fn personal_data_allowed(&self) -> bool {
        false
    }
}

/// A staff member as JSON: role and force always; name and phone only when allowed.
pub fn staff_json(s: &Staff, personal: bool) -> Value {
    let mut v = json!({"id": s.id, "role": s.role, "force": s.force, "grids": s.grids});
    if personal {
        v["name"] = s.name.clone().into();
        v["phone"] = s.phone.clone().into();
    }
    v
}

/// `GET /healthz`: liveness, the store in use and the snapshot's size; `status` is
/// `degraded` when the store does not answer.
async fn healthz(State(state): State<AppState>) -> Response {
    let snap = state.live.load();
    let store_ok = state.store.ping().await.is_ok();
    let counts: serde_json::Map<String, Value> =
        snap.counts().into_iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    let body = json!({
        "status": if store_ok { "ok" } else { "degraded" },
        "store": state.store.kind(),
        "store_reachable": store_ok,
        "snapshot": {"generation": snap.generation, "built_at": snap.built_at, "counts": counts},
        "district": {"code": snap.data.district.code, "name": snap.data.district.name},
    });
    // 200 even when degraded: reads are still served from the snapshot, so a load balancer
    // must keep sending traffic; the body says what is wrong.
    (StatusCode::OK, Json(body)).into_response()
}

/// Turns axum's plain-text rejections and empty error responses into problem+json.
async fn problem_json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(error::PROBLEM_JSON.as_bytes()));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).trim().to_string();
        let text = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
        return error::from_rejection(status, text).into_response();
    }
    resp
}

/// The whole application, without a socket.
pub fn router(state: AppState) -> Router {
    let batch_limit = state.config.max_batch_body_bytes;
    let api = Router::new()
        .route(
            "/api/locate",
            get(locate::locate_one).post(locate::locate_batch).layer(DefaultBodyLimit::max(batch_limit)),
        )
        .route("/api/grids/{code}", get(regions::grid).put(edit::put_grid))
        .route("/api/communities/{code}", get(regions::community))
        .route("/api/subdistricts/{code}", get(regions::subdistrict))
        .route("/api/layers/{layer}", get(layers::layer))
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi::openapi_json));
    api.merge(edit::routes())
        .merge(geocode::routes())
        .merge(reach::routes())
        .merge(tiles::routes())
        .merge(web::routes())
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn(problem_json_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then finishes in-flight
/// requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).layer(tower_http::compression::CompressionLayer::new());
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
