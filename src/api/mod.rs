//! The HTTP API (axum): routes, shared state and the one error type.
//!
//! [`router`] builds the whole app without a socket (tests drive it with `oneshot`);
//! [`serve`] runs it on a listener until a shutdown future resolves. Handlers read the current
//! [`Snapshot`](crate::index::Snapshot) and never touch SQL.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::auth::{Auth, AuthConfig};
use crate::index::Live;
use crate::model::Staff;
use crate::store::Store;

pub mod access;
pub mod check;
pub mod edit;
pub mod error;
pub mod geocode;
pub mod layers;
pub mod locate;
pub mod openapi;
pub mod params;
pub mod reach;
pub mod regions;
pub mod server;
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
    /// A request still running after this long is answered 503 (problem+json).
    pub request_timeout: Duration,
    /// Anonymous access and rate limits (see [`crate::auth`]).
    pub auth: AuthConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_body_bytes: 1 << 20,
            max_batch_body_bytes: 64 << 20,
            max_batch_points: 1_000_000,
            request_timeout: Duration::from_secs(60),
            auth: AuthConfig::default(),
        }
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub live: Live,
    pub store: Arc<dyn Store>,
    pub config: Arc<ApiConfig>,
    /// Tokens, rate limits and the audit log.
    pub auth: Arc<Auth>,
    /// The rules checked over the current snapshot (`GET /api/check`).
    pub checks: Arc<check::CheckCache>,
}

impl AppState {
    pub fn new(live: Live, store: Arc<dyn Store>, config: ApiConfig) -> AppState {
        let auth = Arc::new(Auth::new(store.clone(), config.auth.clone()));
        AppState { live, store, config: Arc::new(config), auth, checks: Arc::default() }
    }
}

/// A staff member as JSON: role and force always; name and phone only when allowed.
pub fn staff_json(s: &Staff, personal: bool) -> Value {
    serde_json::to_value(StaffView::new(s, personal)).unwrap_or(Value::Null)
}

/// A staff member as the API shows it, serialized straight from the snapshot: role and force
/// always; name and phone only when the caller may see personal data.
#[derive(serde::Serialize)]
pub struct StaffView<'a> {
    id: u32,
    role: crate::model::StaffRole,
    force: crate::model::Force,
    grids: &'a [crate::model::Code],
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
}

impl<'a> StaffView<'a> {
    pub fn new(s: &'a Staff, personal: bool) -> StaffView<'a> {
        StaffView {
            id: s.id,
            role: s.role,
            force: s.force,
            grids: &s.grids,
            name: personal.then_some(s.name.as_str()),
            phone: personal.then_some(s.phone.as_str()),
        }
    }
}

/// `GET /healthz`: liveness, the store in use and the snapshot's size; `status` is
/// `degraded` when the store does not answer, `loading` while a staged start-up is still
/// loading the layers beyond the regions (`complete` false), `ok` otherwise.
async fn healthz(State(state): State<AppState>) -> Response {
    let snap = state.live.load();
    let store_ok = state.store.ping().await.is_ok();
    let counts: serde_json::Map<String, Value> =
        snap.counts().into_iter().map(|(k, v)| (k.to_string(), v.into())).collect();
    let status = match (store_ok, snap.complete) {
        (false, _) => "degraded",
        (true, false) => "loading",
        (true, true) => "ok",
    };
    let body = json!({
        "status": status,
        "complete": snap.complete,
        "store": state.store.kind(),
        "store_reachable": store_ok,
        "snapshot": {"generation": snap.generation, "built_at": snap.built_at, "counts": counts},
        "district": {"code": snap.data.district.code, "name": snap.data.district.name},
    });
    // 200 even when degraded: reads are still served from the snapshot, so a load balancer
    // must keep sending traffic; the body says what is wrong.
    (StatusCode::OK, Json(body)).into_response()
}

/// Routes a partial snapshot (a staged start-up still loading, see `crate::sync::start_staged`)
/// answers: locating points and looking up regions need only the regions and the staff, and
/// the web app's files, the health check and token management need no map data. Edits are
/// not: their rules and impact report need the buildings.
fn served_while_loading(method: &axum::http::Method, path: &str) -> bool {
    let data = path.starts_with("/api/") || path.starts_with("/tiles") || path == "/style.json";
    let region_read = method == axum::http::Method::GET
        && ["/api/grids/", "/api/communities/", "/api/subdistricts/"].iter().any(|p| path.starts_with(p))
        && !path.ends_with("/history");
    let access = path.starts_with("/api/tokens") || path == "/api/audit";
    !data || path == "/api/locate" || region_read || access
}

/// 503 problem+json with `Retry-After` for a request that needs the layers a staged start-up
/// is still loading: while the snapshot is partial, every route that needs more than the
/// regions answers this rather than answers computed from missing layers.
fn still_loading() -> Response {
    let mut resp = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "loading",
        "gridmap has just started and is still loading this layer; locate and region lookups already \
         work, everything else will in a few seconds",
    )
    .into_response();
    resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("5"));
    resp
}

/// Turns axum's plain-text rejections and empty error responses into problem+json.
async fn problem_json_errors(resp: Response) -> Response {
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

/// Security headers on every response: the web app may load only from this server (MapLibre
/// needs `blob:` workers and images), must not be framed, and nothing is MIME-sniffed.
const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
];

/// 503 problem+json for a request that ran longer than `ApiConfig::request_timeout`.
fn timed_out(limit: Duration) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "timeout",
        format!("the request took longer than {} s and was stopped; ask for less at once", limit.as_secs_f64()),
    )
    .into_response()
}

/// What every request passes through before its route, in this order (one layer rather than
/// five: each layer costs an allocation and a boxed future per request, which showed in the
/// single-point benchmark):
/// 1. security headers on whatever comes back;
/// 2. authentication, rate limit and audit ([`crate::auth::middleware::authenticate_then`]);
/// 3. axum's plain-text rejections turned into problem+json;
/// 4. the request timeout;
/// 5. 503 while a staged start-up is still loading what the route needs.
async fn front_door(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.request_timeout;
    let live = &state.live;
    let mut resp = crate::auth::middleware::authenticate_then(&state.auth, req, |req| async move {
        let resp = if live.load().complete || served_while_loading(req.method(), req.uri().path()) {
            match tokio::time::timeout(limit, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => timed_out(limit),
            }
        } else {
            still_loading()
        };
        problem_json_errors(resp).await
    })
    .await;
    for (name, value) in SECURITY_HEADERS {
        resp.headers_mut().insert(name, axum::http::HeaderValue::from_static(value));
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
        .merge(access::routes())
        .merge(check::routes())
        .fallback(error::route_not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), front_door))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then finishes in-flight
/// requests and writes the audit entries still queued. Connections are served on one thread
/// per core ([`server`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, shutdown, server::default_threads()).await
}

/// [`serve`] with `http_threads` connection threads; 0 serves connections on the calling
/// runtime instead (`axum::serve`, tokio's multi-threaded scheduler).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    http_threads: usize,
) -> std::io::Result<()> {
    let auth = state.auth.clone();
    let app = router(state).layer(tower_http::compression::CompressionLayer::new());
    if http_threads > 0 {
        return server::serve_on_threads(listener, app, http_threads, shutdown, || async move {
            auth.audit().flush().await
        })
        .await;
    }
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    auth.audit().flush().await;
    served
}
