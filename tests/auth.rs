//! Access control (issue 8): tokens, roles, scopes, rate limits, the audit log and headers.
//!
//! * [`role_route_matrix`]: every route × every role, from one table ([`routes`]); edit routes
//!   are added there with one line each.
//! * Tokens: malformed, unknown, expired and revoked tokens get 401 through both stores; a dump
//!   of the token table reveals no usable token; the CLI through the real binary.
//! * Personal data: no staff name or phone in any body for anonymous callers and viewers, nor
//!   in any log line while a coordinator reads them; audit rows for writes and such reads.
//!
//! PostGIS tests need `GRIDMAP_TEST_DATABASE_URL` (see `tests/common/pg.rs`).

mod common;
#[path = "support/process.rs"]
mod process;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use axum::Router;
use geo::InteriorPoint;
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::auth::middleware::CACHE_TTL;
use gridmap::auth::{AuthConfig, NewToken, RateLimit, Role};
use gridmap::index::{Live, Snapshot};
use gridmap::model::Code;
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::Store;
use http_body_util::BodyExt;
use process::{gridmap, gridmap_ok, text, wait_for, Server, StoreAt};
use serde_json::{json, Value};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

struct App {
    router: Router,
    state: AppState,
    snap: Arc<Snapshot>,
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    _db: Option<common::pg::TestDb>,
}

fn config() -> ApiConfig {
    ApiConfig::default()
}

async fn gpkg_app(config: ApiConfig) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), gridmap::store::seed::karamay).await.unwrap();
    app_on(Arc::new(store), config, Some(dir), None).await
}

async fn pg_app(config: ApiConfig) -> App {
    let (store, db) = common::pg::fresh_database().await;
    store.replace_all(&gridmap::store::seed::karamay().unwrap()).await.unwrap();
    app_on(Arc::new(store), config, None, Some(db)).await
}

async fn app_on(
    store: Arc<dyn Store>,
    config: ApiConfig,
    dir: Option<tempfile::TempDir>,
    db: Option<common::pg::TestDb>,
) -> App {
    let data = store.load().await.unwrap();
    let live = Live::new(Snapshot::build(data, 1).unwrap());
    let snap = live.load();
    let state = AppState::new(live, store.clone(), config);
    App { router: router(state.clone()), state, snap, store, _dir: dir, _db: db }
}

/// Makes a token through the library, as the brief's tests do.
async fn token(app: &App, name: &str, role: Role, scope: Option<&Code>) -> String {
    let new = NewToken { name: name.into(), role, scope: scope.cloned(), expires_at: None };
    gridmap::auth::create_token(&*app.store, new).await.unwrap().1
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts a problem+json with this status.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let v = self.json();
        assert_eq!(v["status"], status);
        assert!(v["detail"].as_str().is_some_and(|d| d.len() > 10), "{v}");
        v
    }
}

/// One request: method, URI, headers, body.
#[derive(Clone)]
struct Req {
    method: &'static str,
    uri: String,
    headers: Vec<(&'static str, String)>,
    body: Option<(&'static str, Vec<u8>)>,
}

impl Req {
    fn get(uri: impl Into<String>) -> Req {
        Req { method: "GET", uri: uri.into(), headers: vec![], body: None }
    }
    fn with(method: &'static str, uri: impl Into<String>, body: Option<Value>) -> Req {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        Req { method, uri: uri.into(), headers: vec![], body }
    }
    #[allow(dead_code)]
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Req {
        self.headers.push((name, value.into()));
        self
    }
}

async fn send(app: &App, r: &Req, token: Option<&str>, addr: Option<SocketAddr>) -> Reply {
    let mut b = Request::builder().method(r.method).uri(&r.uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in &r.headers {
        b = b.header(*k, v);
    }
    let mut req = match &r.body {
        Some((ct, bytes)) => b.header("content-type", *ct).body(Body::from(bytes.clone())).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    if let Some(a) = addr {
        req.extensions_mut().insert(ConnectInfo(a));
    }
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, headers, body }
}

async fn get(app: &App, uri: &str, token: Option<&str>) -> Reply {
    send(app, &Req::get(uri), token, None).await
}

/// A grid that has staff, an interior point of it, its community and subdistrict.
struct Place {
    grid: Code,
    /// Another grid of the same community.
    neighbour: Code,
    community: Code,
    subdistrict: Code,
    lon: f64,
    lat: f64,
}

fn place(snap: &Snapshot) -> Place {
    let g = snap.data.grids.iter().find(|g| snap.staff_of_grid(&g.code).next().is_some()).unwrap();
    let p = g.geometry.interior_point().unwrap();
    let community = g.code.parent().unwrap();
    let neighbour = snap.children(&community).into_iter().find(|c| **c != g.code).unwrap().clone();
    Place {
        subdistrict: community.parent().unwrap(),
        community,
        neighbour,
        grid: g.code.clone(),
        lon: p.x(),
        lat: p.y(),
    }
}

/// The current outline of grid `code` as a Feature for `PUT /api/grids/{code}`.
fn grid_feature(snap: &Snapshot, code: &Code, reason: &str) -> Value {
    let g = snap.region(code).unwrap();
    let geometry = gridmap::model::geojson::geometry_to_json(&geo::Geometry::MultiPolygon(g.geometry.clone()));
    json!({"type": "Feature", "geometry": geometry, "properties": {"reason": reason}})
}

/// [`grid_feature`] for a boundary move, naming a version that never existed.
fn stale_feature(snap: &Snapshot, code: &Code) -> Value {
    let mut f = grid_feature(snap, code, "matrix");
    f["properties"] = json!({"code": code, "version": 99});
    f
}

/// Tile `z/x/y` containing a point.
fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (z, x, y)
}

// ---------------------------------------------------------------------------------------------
// The matrix: every route, every role
// ---------------------------------------------------------------------------------------------

/// The callers of the matrix, in the order of [`Row::expect`].
const CALLERS: [Option<Role>; 5] =
    [None, Some(Role::Viewer), Some(Role::Coordinator), Some(Role::Planner), Some(Role::Admin)];
const OPEN: [u16; 5] = [200, 200, 200, 200, 200];
const COORDINATOR: [u16; 5] = [403, 403, 200, 200, 200];
const PLANNER: [u16; 5] = [403, 403, 403, 200, 200];
/// An edit naming a version that never existed: refused by role, else stale.
const STALE: [u16; 5] = [403, 403, 403, 412, 412];
const ADMIN: [u16; 5] = [403, 403, 403, 403, 200];

/// One route: a valid request and the status each caller gets.
struct Row {
    req: Req,
    expect: [u16; 5],
}

/// Every route gridmap serves, with a valid request. `victim` is a token id admins may revoke.
fn routes(snap: &Snapshot, victim: i64) -> Vec<Row> {
    let p = place(snap);
    let (lon, lat) = (p.lon, p.lat);
    let (z, x, y) = tile_of(lon, lat, 14);
    let row = |req: Req, expect: [u16; 5]| Row { req, expect };
    vec![
        row(Req::get("/healthz"), OPEN),
        row(Req::get("/openapi.json"), OPEN),
        row(Req::get(format!("/api/locate?lon={lon}&lat={lat}")), OPEN),
        row(Req::with("POST", "/api/locate", Some(json!({"points": [[lon, lat]]}))), OPEN),
        row(Req::get(format!("/api/grids/{}", p.grid)), OPEN),
        row(Req::get(format!("/api/communities/{}", p.community)), OPEN),
        row(Req::get(format!("/api/subdistricts/{}", p.subdistrict)), OPEN),
        row(Req::get("/api/layers/subdistricts"), OPEN),
        row(Req::get("/api/check"), OPEN),
        row(Req::get("/api/geocode?q=%E5%87%86%E5%99%B6%E5%B0%94%E8%B7%AF58%E5%8F%B7"), OPEN),
        row(Req::with("POST", "/api/geocode", Some(json!({"addresses": ["准噶尔路58号"]}))), OPEN),
        row(Req::get(format!("/api/reverse?lon={lon}&lat={lat}")), OPEN),
        row(Req::get(format!("/api/response?lon={lon}&lat={lat}&minutes=1&at=08:00")), OPEN),
        row(Req::get(format!("/api/coverage?region={}&minutes=1&at=08:00", p.community)), COORDINATOR),
        row(Req::get(format!("/api/coverage/suggest?region={}&minutes=1&add=1&at=08:00", p.community)), COORDINATOR),
        row(Req::get(format!("/tiles/{z}/{x}/{y}.mvt")), OPEN),
        row(Req::get("/tiles.json"), OPEN),
        row(Req::get("/style.json"), OPEN),
        row(Req::get("/tiles/regions.json"), OPEN),
        row(Req::get("/"), OPEN),
        row(Req::get("/app/main.js"), OPEN),
        row(Req::get("/vendor/maplibre-gl/maplibre-gl.mjs"), OPEN),
        row(Req::get("/api/tokens"), ADMIN),
        row(
            Req::with("POST", "/api/tokens", Some(json!({"name": "made by the matrix", "role": "viewer"}))),
            [403, 403, 403, 403, 201],
        ),
        row(Req::with("DELETE", format!("/api/tokens/{victim}"), None), ADMIN),
        row(Req::get("/api/audit?limit=10"), ADMIN),
        // Edits. The planner's save of version 1 wins; the admin's, sent next with the same
        // If-Match, is stale (412): past the role check either way. The other writes name a
        // version that never existed, so planners and admins get 412, everyone else 403.
        row(Req::get(format!("/api/grids/{}/history", p.grid)), OPEN),
        row(Req::get(format!("/api/grids/{}?at=2020-01-01T00:00:00Z", p.grid)), [404; 5]),
        row(Req::get(format!("/api/locate?lon={lon}&lat={lat}&at=2030-01-01T00:00:00Z")), OPEN),
        row(Req::with("POST", "/api/validate", Some(json!({"op": "reshape", "code": p.grid, "version": 1, "feature": grid_feature(snap, &p.grid, "matrix")}))), PLANNER),
        row(
            Req::with("PUT", format!("/api/grids/{}", p.grid), Some(grid_feature(snap, &p.grid, "matrix"))).header("if-match", "\"1\""),
            [403, 403, 403, 200, 412],
        ),
        row(
            Req::with("POST", format!("/api/grids/{}/split", p.grid), Some(json!({"line": {"type": "LineString", "coordinates": [[lon - 0.01, lat], [lon + 0.01, lat]]}, "reason": "matrix"}))).header("if-match", "\"99\""),
            STALE,
        ),
        row(Req::with("POST", "/api/grids/merge", Some(json!({"grids": [{"code": p.grid, "version": 99}, {"code": p.neighbour, "version": 99}], "reason": "matrix"}))), STALE),
        row(Req::with("POST", "/api/grids/boundary", Some(json!({"reason": "matrix", "grids": {"type": "FeatureCollection", "features": [stale_feature(snap, &p.grid), stale_feature(snap, &p.neighbour)]}}))), STALE),
        row(Req::with("POST", format!("/api/grids/{}/revert", p.grid), Some(json!({"version": 1, "reason": "matrix"}))).header("if-match", "\"99\""), STALE),
    ]
}

/// A token for each caller of [`CALLERS`].
async fn caller_tokens(app: &App) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for c in CALLERS {
        out.push(match c {
            None => None,
            Some(r) => Some(token(app, &format!("matrix {r}"), r, None).await),
        });
    }
    out
}

#[tokio::test]
async fn role_route_matrix() {
    let app = gpkg_app(config()).await;
    let victim = gridmap::auth::create_token(
        &*app.store,
        NewToken { name: "victim".into(), role: Role::Viewer, scope: None, expires_at: None },
    )
    .await
    .unwrap()
    .0
    .id;
    let tokens = caller_tokens(&app).await;
    let mut failures = Vec::new();
    for row in routes(&app.snap, victim) {
        for (i, t) in tokens.iter().enumerate() {
            let reply = send(&app, &row.req, t.as_deref(), None).await;
            let who = CALLERS[i].map_or("anonymous".to_string(), |r| r.to_string());
            if reply.status != row.expect[i] {
                failures.push(format!(
                    "{} {} as {who}: {} (expected {}): {}",
                    row.req.method,
                    row.req.uri,
                    reply.status,
                    row.expect[i],
                    String::from_utf8_lossy(&reply.body).chars().take(200).collect::<String>()
                ));
            } else if reply.status == 403 {
                let v = reply.problem(403);
                assert_eq!(v["rule"], "role", "{v}");
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Bad, expired and revoked tokens
// ---------------------------------------------------------------------------------------------

fn assert_401(reply: &Reply) {
    reply.problem(401);
    let challenge = reply.header("www-authenticate").expect("a 401 names its scheme");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

#[tokio::test]
async fn malformed_and_unknown_tokens_are_401_never_anonymous() {
    let app = gpkg_app(config()).await;
    let unknown = gridmap::auth::token::generate_secret();
    let good = token(&app, "good", Role::Admin, None).await;
    for header in [
        "Bearer".to_string(),
        "Bearer ".to_string(),
        "Bearer xyz".to_string(),
        format!("Basic {good}"),
        format!("Bearer {}", good.to_uppercase()),
        format!("Bearer {}", &good[..good.len() - 1]),
        format!("Bearer {unknown}"),
        good.clone(),
    ] {
        let req = Request::get("/api/locate?lon=84.87&lat=45.6")
            .header("authorization", &header)
            .body(Body::empty())
            .unwrap();
        let resp = app.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
        assert_401(&Reply { status, headers, body });
    }
    // The good one works, on a route anonymous callers may not use.
    assert_eq!(get(&app, "/api/tokens", Some(&good)).await.status, 200);
}

async fn expired_and_revoked(app: &App) {
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    let future = chrono::Utc::now() + chrono::Duration::days(1);
    let mk = |name: &str, expires_at| NewToken { name: name.into(), role: Role::Coordinator, scope: None, expires_at };
    let (_, expired) = gridmap::auth::create_token(&*app.store, mk("expired", Some(past))).await.unwrap();
    let (_, later) = gridmap::auth::create_token(&*app.store, mk("expires tomorrow", Some(future))).await.unwrap();
    let (info, revoked) = gridmap::auth::create_token(&*app.store, mk("revoked", None)).await.unwrap();
    let uri = "/api/coverage?region=650203&minutes=1&at=08:00";
    let p = place(&app.snap);
    let grid_uri = format!("/api/grids/{}", p.grid);
    assert_401(&get(app, &grid_uri, Some(&expired)).await);
    assert_eq!(get(app, &grid_uri, Some(&later)).await.status, 200);
    assert_eq!(get(app, &grid_uri, Some(&revoked)).await.status, 200);
    // Revoked through this server: refused at once, although its lookup is cached.
    app.state.auth.revoke(info.id).await.unwrap();
    assert_401(&get(app, &grid_uri, Some(&revoked)).await);
    assert_401(&get(app, uri, Some(&revoked)).await);

    // Revoked through the store (another instance, the CLI): refused once the cache entry is
    // older than CACHE_TTL.
    let (info2, other) = gridmap::auth::create_token(&*app.store, mk("revoked elsewhere", None)).await.unwrap();
    assert_eq!(get(app, &grid_uri, Some(&other)).await.status, 200);
    gridmap::auth::revoke_token(&*app.store, info2.id).await.unwrap();
    tokio::time::sleep(CACHE_TTL + Duration::from_millis(300)).await;
    assert_401(&get(app, &grid_uri, Some(&other)).await);
    // Revoking twice keeps the first time; an unknown id is an error.
    let again = gridmap::auth::revoke_token(&*app.store, info2.id).await.unwrap();
    let listed = app.store.list_tokens().await.unwrap();
    assert_eq!(listed.iter().find(|t| t.id == info2.id).unwrap().revoked_at, again.revoked_at);
    assert!(gridmap::auth::revoke_token(&*app.store, 999_999).await.is_err());
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused_gpkg() {
    expired_and_revoked(&gpkg_app(config()).await).await;
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused_postgis() {
    expired_and_revoked(&pg_app(config()).await).await;
}

#[tokio::test]
async fn a_scope_must_be_an_existing_subdistrict_or_community() {
    let app = gpkg_app(config()).await;
    let p = place(&app.snap);
    let mk = |scope: &Code| NewToken {
        name: "scoped".into(),
        role: Role::Planner,
        scope: Some(scope.clone()),
        expires_at: None,
    };
    for ok in [&p.community, &p.subdistrict] {
        let (info, _) = gridmap::auth::create_token(&*app.store, mk(ok)).await.unwrap();
        assert_eq!(info.scope.as_ref(), Some(ok));
    }
    let missing_community = Code::parse(&format!("{}398", p.subdistrict)).unwrap();
    for bad in [&p.grid, &missing_community, &Code::parse("650203").unwrap()] {
        let err = gridmap::auth::create_token(&*app.store, mk(bad)).await.unwrap_err().to_string();
        assert!(err.contains(bad.as_str()), "{err}");
    }
    let err = gridmap::auth::create_token(
        &*app.store,
        NewToken { name: " ".into(), role: Role::Viewer, scope: None, expires_at: None },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The token table holds nothing usable
// ---------------------------------------------------------------------------------------------

/// Every column of every row of the token table, as text (blobs as hex and as raw UTF-8).
async fn dump_tokens(app: &App) -> Vec<String> {
    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
    let mut out = Vec::new();
    if let Some(dir) = &app._dir {
        use sqlx::{Column, Row, ValueRef};
        let url = format!("sqlite://{}", dir.path().join("t.gpkg").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows = sqlx::query("SELECT * FROM gridmap_token").fetch_all(&pool).await.unwrap();
        assert!(!rows.is_empty());
        for row in &rows {
            for (i, c) in row.columns().iter().enumerate() {
                if row.try_get_raw(i).unwrap().is_null() {
                    continue;
                }
                let v = if c.name() == "token_hash" {
                    let b: Vec<u8> = row.get(i);
                    out.push(String::from_utf8_lossy(&b).into_owned());
                    hex(&b)
                } else if let Ok(s) = row.try_get::<String, _>(i) {
                    s
                } else {
                    row.get::<i64, _>(i).to_string()
                };
                out.push(v);
            }
        }
        pool.close().await;
    } else {
        let db = app._db.as_ref().unwrap();
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        // Every column as text, whatever its type (bytea as \x hex).
        let rows: Vec<(Value,)> = sqlx::query_as("SELECT to_jsonb(t) FROM api_token t").fetch_all(&pool).await.unwrap();
        assert!(!rows.is_empty());
        for (row,) in rows {
            for (_, v) in row.as_object().unwrap() {
                match v {
                    Value::Null => {}
                    Value::String(s) => {
                        out.push(s.clone());
                        if let Some(h) = s.strip_prefix("\\x") {
                            out.push(h.to_string());
                        }
                    }
                    other => out.push(other.to_string()),
                }
            }
        }
        pool.close().await;
    }
    out
}

async fn dump_reveals_nothing(app: &App) {
    let mut secrets = Vec::new();
    for (i, role) in [Role::Viewer, Role::Coordinator, Role::Admin].into_iter().enumerate() {
        secrets.push(token(app, &format!("dump {i}"), role, None).await);
    }
    let values = dump_tokens(app).await;
    assert!(values.len() >= 3 * 5, "{values:?}");
    for s in &secrets {
        let hex = &s[3..];
        assert!(values.iter().all(|v| !v.contains(hex)), "a secret is stored as is");
        assert_eq!(get(app, "/api/locate?lon=84.87&lat=45.6", Some(s)).await.status, 200);
    }
    for v in &values {
        for candidate in [v.clone(), format!("gm_{v}")] {
            if candidate.contains(['\r', '\n']) || axum::http::HeaderValue::from_str(&candidate).is_err() {
                continue;
            }
            let req = Request::get("/api/locate?lon=84.87&lat=45.6")
                .header("authorization", format!("Bearer {candidate}"))
                .body(Body::empty())
                .unwrap();
            let resp = app.router.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), 401, "the stored value {candidate:?} works as a token");
        }
    }
}

#[tokio::test]
async fn token_table_dump_reveals_no_usable_token_gpkg() {
    dump_reveals_nothing(&gpkg_app(config()).await).await;
}

#[tokio::test]
async fn token_table_dump_reveals_no_usable_token_postgis() {
    dump_reveals_nothing(&pg_app(config()).await).await;
}

// ---------------------------------------------------------------------------------------------
// Rate limits, anonymous access, timeouts, headers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_and_spare_other_callers() {
    let mut cfg = config();
    cfg.auth.rate_limit = Some(RateLimit { per_second: 0.1, burst: 3 });
    let app = gpkg_app(cfg).await;
    let a = token(&app, "a", Role::Viewer, None).await;
    let b = token(&app, "b", Role::Viewer, None).await;
    let uri = "/api/locate?lon=84.87&lat=45.6";
    let here: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let there: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    for _ in 0..3 {
        assert_eq!(send(&app, &Req::get(uri), Some(&a), Some(here)).await.status, 200);
    }
    let limited = send(&app, &Req::get(uri), Some(&a), Some(there)).await;
    limited.problem(429);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    // Another token from the same address is not limited by a's bucket.
    assert_eq!(send(&app, &Req::get(uri), Some(&b), Some(here)).await.status, 200);
    // Anonymous callers: one bucket per address (not `here`, whose bucket paid for the two
    // tokens' first lookups).
    let anon: SocketAddr = "10.0.0.4:5000".parse().unwrap();
    for _ in 0..3 {
        assert_eq!(send(&app, &Req::get(uri), None, Some(anon)).await.status, 200);
    }
    send(&app, &Req::get(uri), None, Some(anon)).await.problem(429);
    assert_eq!(send(&app, &Req::get(uri), None, Some(there)).await.status, 200);
    // Made-up tokens cost the address's bucket too: a third address gets three 401s, then 429.
    let elsewhere: SocketAddr = "10.0.0.3:5000".parse().unwrap();
    for _ in 0..3 {
        let made_up = gridmap::auth::token::generate_secret();
        assert_401(&send(&app, &Req::get(uri), Some(&made_up), Some(elsewhere)).await);
    }
    let made_up = gridmap::auth::token::generate_secret();
    let r = send(&app, &Req::get(uri), Some(&made_up), Some(elsewhere)).await;
    r.problem(429);
    assert!(r.header("retry-after").is_some());
    // A known token from that address still works (its own bucket; one lookup was cached).
    assert_eq!(send(&app, &Req::get(uri), Some(&b), Some(here)).await.status, 200);
}

#[tokio::test]
async fn without_anonymous_access_only_health_and_the_web_app_are_open() {
    let mut cfg = config();
    cfg.auth = AuthConfig { allow_anonymous: false, ..cfg.auth };
    let app = gpkg_app(cfg).await;
    for uri in ["/healthz", "/", "/app/main.js", "/vendor/maplibre-gl/maplibre-gl.mjs"] {
        assert_eq!(get(&app, uri, None).await.status, 200, "{uri}");
    }
    for uri in ["/api/locate?lon=84.87&lat=45.6", "/tiles.json", "/openapi.json", "/api/layers/subdistricts"] {
        let r = get(&app, uri, None).await;
        assert_401(&r);
        assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="gridmap""#));
    }
    let t = token(&app, "viewer", Role::Viewer, None).await;
    assert_eq!(get(&app, "/api/locate?lon=84.87&lat=45.6", Some(&t)).await.status, 200);
}

#[tokio::test]
async fn slow_requests_time_out_as_problem_json() {
    let mut cfg = config();
    cfg.request_timeout = Duration::from_millis(1);
    let app = gpkg_app(cfg).await;
    let t = token(&app, "c", Role::Coordinator, None).await;
    let v = get(&app, "/api/coverage?region=650203&minutes=1&at=08:00", Some(&t)).await.problem(503);
    assert_eq!(v["type"], "urn:gridmap:problem:timeout");
}

#[tokio::test]
async fn security_headers_on_pages_and_api() {
    let app = gpkg_app(config()).await;
    for uri in ["/", "/api/locate?lon=84.87&lat=45.6", "/api/nothing"] {
        let r = get(&app, uri, None).await;
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.starts_with("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    }
}

// ---------------------------------------------------------------------------------------------
// Personal data
// ---------------------------------------------------------------------------------------------

/// Every staff name and phone of the dataset.
fn personal_strings(snap: &Snapshot) -> Vec<String> {
    snap.data.staff.iter().flat_map(|s| [s.name.clone(), s.phone.clone()]).collect()
}

/// The needles that occur in `body`. Names are runs of CJK letters (and `·`), phones runs of
/// digits, so every substring of every such run is looked up in a set: exact, and fast enough
/// for megabytes of GeoJSON (a plain `contains` per needle is not).
fn found_in(body: &[u8], needles: &[String]) -> Vec<String> {
    let set: std::collections::HashSet<&str> = needles.iter().map(String::as_str).collect();
    let longest = needles.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let text = String::from_utf8_lossy(body);
    let mut found = std::collections::BTreeSet::new();
    let letter = |c: char| c.is_ascii_digit() || c == '·' || ('\u{3400}'..='\u{9fff}').contains(&c);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if !letter(chars[i].1) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && letter(chars[i].1) {
            i += 1;
        }
        let run = &chars[start..i];
        for a in 0..run.len() {
            for b in a + 1..=run.len().min(a + longest) {
                let from = run[a].0;
                let to = if b < run.len() { run[b].0 } else { run[b - 1].0 + run[b - 1].1.len_utf8() };
                if set.contains(&text[from..to]) {
                    found.insert(text[from..to].to_string());
                }
            }
        }
    }
    found.into_iter().collect()
}

#[tokio::test]
async fn personal_data_reaches_only_callers_allowed_to_see_it() {
    let app = gpkg_app(config()).await;
    let needles = personal_strings(&app.snap);
    let viewer = token(&app, "viewer", Role::Viewer, None).await;
    let admin = token(&app, "admin", Role::Admin, None).await;
    let victim = app.store.list_tokens().await.unwrap()[0].id;
    // Every route of the matrix, as anonymous and as a viewer; plus every grid, community and
    // subdistrict and a locate in every grid with staff.
    let mut reqs: Vec<Req> = routes(&app.snap, victim).into_iter().map(|r| r.req).collect();
    for r in app.snap.data.subdistricts.iter().chain(&app.snap.data.communities).chain(&app.snap.data.grids) {
        let level = match r.code.level() {
            gridmap::model::Level::Subdistrict => "subdistricts",
            gridmap::model::Level::Community => "communities",
            _ => "grids",
        };
        reqs.push(Req::get(format!("/api/{level}/{}", r.code)));
        if r.code.level() == gridmap::model::Level::Grid {
            let p = r.geometry.interior_point().unwrap();
            reqs.push(Req::get(format!("/api/locate?lon={}&lat={}", p.x(), p.y())));
        }
    }
    for t in [None, Some(viewer.as_str())] {
        for r in &reqs {
            let reply = send(&app, r, t, None).await;
            let leaked = found_in(&reply.body, &needles);
            assert!(leaked.is_empty(), "{} {} ({t:?}) shows {leaked:?}", r.method, r.uri);
        }
    }
    // The search does find them when they are there: an admin reading every subdistrict sees
    // every staff member's name and phone.
    let mut seen = Vec::new();
    for sd in &app.snap.data.subdistricts {
        seen.push(get(&app, &format!("/api/subdistricts/{}", sd.code), Some(&admin)).await.body);
    }
    let all = seen.concat();
    let distinct: std::collections::HashSet<&String> = needles.iter().collect();
    assert_eq!(found_in(&all, &needles).len(), distinct.len());
}

#[tokio::test]
async fn a_scoped_coordinator_sees_only_the_staff_of_its_scope() {
    let app = gpkg_app(config()).await;
    let p = place(&app.snap);
    let scoped = token(&app, "scoped", Role::Coordinator, Some(&p.community)).await;
    let body = get(&app, &format!("/api/subdistricts/{}", p.subdistrict), Some(&scoped)).await.json();
    let staff = body["properties"]["staff"].as_array().unwrap();
    let mut inside = 0;
    for s in staff {
        let id = s["id"].as_u64().unwrap() as u32;
        let member = app.snap.data.staff.iter().find(|m| m.id == id).unwrap();
        let serves_inside = member.grids.iter().any(|g| g.is_within(&p.community));
        assert_eq!(s.get("name").is_some(), serves_inside, "{s}");
        assert_eq!(s.get("phone").is_some(), serves_inside, "{s}");
        inside += usize::from(serves_inside);
    }
    assert!(inside > 0 && inside < staff.len(), "{inside} of {}", staff.len());
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_never_logged() {
    let app = gpkg_app(config()).await;
    // Installed after the store is seeded: from here on, everything at every level.
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let p = place(&app.snap);
    let coordinator = token(&app, "coordinator", Role::Coordinator, None).await;
    let needles = personal_strings(&app.snap);
    for uri in [
        format!("/api/grids/{}", p.grid),
        format!("/api/communities/{}", p.community),
        format!("/api/subdistricts/{}", p.subdistrict),
        format!("/api/locate?lon={}&lat={}", p.lon, p.lat),
    ] {
        let r = get(&app, &uri, Some(&coordinator)).await;
        assert!(!found_in(&r.body, &needles).is_empty(), "{uri} serves personal data to a coordinator");
    }
    app.state.auth.audit().flush().await;
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("/api/grids/"), "the requests were traced: {log}");
    let leaked = found_in(log.as_bytes(), &needles);
    assert!(leaked.is_empty(), "logged: {leaked:?}");
}

// ---------------------------------------------------------------------------------------------
// Audit
// ---------------------------------------------------------------------------------------------

async fn audit_records(app: &App) {
    let admin = token(app, "the admin", Role::Admin, None).await;
    let coordinator = token(app, "the coordinator", Role::Coordinator, None).await;
    let viewer = token(app, "the viewer", Role::Viewer, None).await;
    let admin_id = app.store.list_tokens().await.unwrap().iter().find(|t| t.name == "the admin").unwrap().id;
    let from: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let p = place(&app.snap);
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    // A write by an admin, a refused write by an anonymous caller.
    let made = send(
        app,
        &Req::with("POST", "/api/tokens", Some(json!({"name": "made", "role": "viewer"}))),
        Some(&admin),
        Some(from),
    )
    .await;
    assert_eq!(made.status, 201);
    let made_id = made.json()["info"]["id"].as_i64().unwrap();
    let refused =
        send(app, &Req::with("POST", "/api/tokens", Some(json!({"name": "x", "role": "admin"}))), None, Some(from))
            .await;
    assert_eq!(refused.status, 403);
    let revoked =
        send(app, &Req::with("DELETE", format!("/api/tokens/{made_id}"), None), Some(&admin), Some(from)).await;
    assert_eq!(revoked.status, 200);
    // Reads: personal data by a coordinator (recorded), the same by a viewer (no personal
    // data, not recorded), read-only POSTs (not recorded).
    assert_eq!(
        send(app, &Req::get(format!("/api/grids/{}", p.grid)), Some(&coordinator), Some(from)).await.status,
        200
    );
    assert_eq!(send(app, &Req::get(format!("/api/grids/{}", p.grid)), Some(&viewer), Some(from)).await.status, 200);
    let locate = Req::with("POST", "/api/locate", Some(json!({"points": [[p.lon, p.lat]]})));
    assert_eq!(send(app, &locate, Some(&coordinator), Some(from)).await.status, 200);

    // Only admins read the log.
    assert_eq!(get(app, "/api/audit", Some(&coordinator)).await.status, 403);
    let r = get(
        app,
        &format!("/api/audit?since={}", since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B")),
        Some(&admin),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let entries = r.json()["entries"].as_array().unwrap().clone();
    let summary: Vec<(String, String, String, u64, Option<String>)> = entries
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap().to_string(),
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
                e["addr"].as_str().map(str::to_string),
            )
        })
        .collect();
    let addr = Some("192.0.2.7".to_string());
    let expected = vec![
        ("the admin".to_string(), "POST".to_string(), "/api/tokens".to_string(), 201, addr.clone()),
        ("anonymous".to_string(), "POST".to_string(), "/api/tokens".to_string(), 403, addr.clone()),
        ("the admin".to_string(), "DELETE".to_string(), format!("/api/tokens/{made_id}"), 200, addr.clone()),
        ("the coordinator".to_string(), "GET".to_string(), format!("/api/grids/{}", p.grid), 200, addr.clone()),
    ];
    assert_eq!(summary, expected, "{entries:#?}");
    assert_eq!(entries[0]["token_id"], admin_id);
    assert!(entries[0]["detail"].as_str().unwrap().contains(&format!("created token {made_id}")), "{}", entries[0]);
    assert!(entries[1]["token_id"].is_null());
    assert!(entries[3]["detail"].as_str().unwrap().contains("personal data"), "{}", entries[3]);
    // The audit log itself holds no personal data.
    assert!(found_in(r.body.as_slice(), &personal_strings(&app.snap)).is_empty());
    // `limit` and `since` work; bad values are 400.
    let one = get(app, "/api/audit?limit=1", Some(&admin)).await.json();
    assert_eq!(one["entries"].as_array().unwrap().len(), 1);
    get(app, "/api/audit?limit=0", Some(&admin)).await.problem(400);
    get(app, "/api/audit?since=yesterday", Some(&admin)).await.problem(400);
    // The tokens' last use is recorded.
    let used = app.store.list_tokens().await.unwrap();
    assert!(used.iter().find(|t| t.name == "the coordinator").unwrap().last_used_at.is_some());
}

#[tokio::test]
async fn audit_records_writes_and_personal_reads_gpkg() {
    audit_records(&gpkg_app(config()).await).await;
}

#[tokio::test]
async fn audit_records_writes_and_personal_reads_postgis() {
    audit_records(&pg_app(config()).await).await;
}

#[tokio::test]
async fn token_api_follows_the_cli_rules() {
    let app = gpkg_app(config()).await;
    let admin = token(&app, "admin", Role::Admin, None).await;
    let p = place(&app.snap);
    let post = |body: Value| Req::with("POST", "/api/tokens", Some(body));
    let r = send(
        &app,
        &post(json!({"name": "p", "role": "planner", "scope": p.community.as_str(), "expires": "2099-01-01"})),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, 201);
    let v = r.json();
    let secret = v["token"].as_str().unwrap();
    assert_eq!(v["info"]["scope"], p.community.as_str());
    assert_eq!(v["info"]["expires_at"], "2099-01-01T00:00:00Z");
    assert!(v["info"].get("hash").is_none() && v["info"].get("token_hash").is_none());
    // The new token works and is a planner.
    assert_eq!(
        get(&app, &format!("/api/coverage?region={}&minutes=1&at=08:00", p.community), Some(secret)).await.status,
        200
    );
    // Listing never shows a secret.
    let list = get(&app, "/api/tokens", Some(&admin)).await;
    assert!(!String::from_utf8_lossy(&list.body).contains(&secret[3..]));
    for bad in [
        json!({"name": "x", "role": "boss"}),
        json!({"name": "x", "role": "viewer", "scope": p.grid.as_str()}),
        json!({"name": "x", "role": "viewer", "scope": "650203999"}),
        json!({"name": "", "role": "viewer"}),
        json!({"name": "x", "role": "viewer", "expires": "soon"}),
        json!({"name": "x", "role": "viewer", "expires": "2001-01-01"}),
    ] {
        send(&app, &post(bad.clone()), Some(&admin), None).await.problem(422);
    }
    send(&app, &post(json!({"role": "viewer"})), Some(&admin), None).await.problem(400);
    send(&app, &Req::with("DELETE", "/api/tokens/424242", None), Some(&admin), None).await.problem(404);
}

// ---------------------------------------------------------------------------------------------
// The CLI, through the real binary
// ---------------------------------------------------------------------------------------------

/// `GET path` with a Bearer token on a running server: the status.
fn get_with_token(addr: SocketAddr, path: &str, token: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    raw.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0)
}

fn cli(store: &StoreAt, dir: &std::path::Path) {
    let p = {
        let data = gridmap::store::seed::karamay().unwrap();
        data.communities[0].code.to_string()
    };
    // Create: the secret on stdout, once.
    let secret = gridmap_ok(store, &["token", "create", "--name", "ops admin", "--role", "admin"]).trim().to_string();
    gridmap::auth::token::check_form(&secret).unwrap();
    let scoped = gridmap_ok(
        store,
        &["token", "create", "--name", "planner", "--role", "planner", "--scope", &p, "--expires", "2099-12-31"],
    );
    assert!(scoped.trim().starts_with("gm_"));
    // Clear errors.
    for (args, says) in [
        (vec!["token", "create", "--name", "x", "--role", "boss"], "unknown role"),
        (vec!["token", "create", "--name", "x", "--role", "viewer", "--scope", "650203999"], "650203999"),
        (vec!["token", "create", "--name", "x", "--role", "viewer", "--scope", "nonsense"], "nonsense"),
        (vec!["token", "create", "--name", "x", "--role", "viewer", "--expires", "2001-01-01"], "past"),
        (vec!["token", "revoke", "4242"], "4242"),
    ] {
        let out = gridmap(store, &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(String::from_utf8_lossy(&out.stderr).contains(says), "{args:?}: {}", text(&out));
    }
    // List: every token, never the secret.
    let list = gridmap_ok(store, &["token", "list"]);
    assert!(list.starts_with("id\tname\trole\tscope\tcreated\texpires\trevoked\tlast_used"), "{list}");
    assert!(list.contains("ops admin\tadmin\t-\t") && list.contains(&format!("planner\tplanner\t{p}\t")), "{list}");
    assert!(list.contains("2099-12-31T00:00:00Z"), "{list}");
    assert!(!list.contains(&secret[3..]), "{list}");
    // A running server accepts the token, and refuses it within the cache time after a
    // revocation through the CLI.
    let server = Server::start(store, &dir.join("serve.log"), Duration::from_secs(120));
    assert_eq!(get_with_token(server.addr, "/api/tokens", &secret), 200, "{}", server.log_tail());
    let id = list.lines().find(|l| l.contains("ops admin")).unwrap().split('\t').next().unwrap().to_string();
    let revoked = gridmap_ok(store, &["token", "revoke", &id]);
    assert!(revoked.contains(&format!("revoked token {id}")), "{revoked}");
    let refused = wait_for(CACHE_TTL + Duration::from_secs(3), || {
        (get_with_token(server.addr, "/api/tokens", &secret) == 401).then_some(())
    });
    assert!(refused.is_some(), "the revoked token still works:\n{}", server.log_tail());
    let list = gridmap_ok(store, &["token", "list"]);
    let row: Vec<&str> = list.lines().find(|l| l.contains("ops admin")).unwrap().split('\t').collect();
    assert_ne!(row[6], "-", "revoked time: {row:?}");
    assert_ne!(row[7], "-", "last used: {row:?}");
}

#[test]
fn token_cli_create_list_revoke_gpkg() {
    let dir = tempfile::tempdir().unwrap();
    cli(&StoreAt::Gpkg(dir.path().join("cli.gpkg")), dir.path());
}

#[test]
fn token_cli_create_list_revoke_postgis() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (store, db) = rt.block_on(common::pg::fresh_database());
    rt.block_on(store.replace_all(&gridmap::store::seed::karamay().unwrap())).unwrap();
    cli(&StoreAt::Postgis(db.url.clone()), dir.path());
    drop(store);
    drop(db);
}

/// Through a real socket: `api::serve` records the peer address, and the entries queued when
/// the server stops are in the store once `serve` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_records_peer_addresses_and_flushes_the_audit_log_on_shutdown() {
    let app = gpkg_app(config()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gridmap::api::serve(listener, app.state.clone(), async {
        let _ = stopped.await;
    }));
    let n = 20;
    let statuses: Vec<u16> = tokio::task::spawn_blocking(move || {
        let body = br#"{"name": "x", "role": "admin"}"#;
        (0..n)
            .map(|_| process::http(addr, "POST", "/api/tokens", Some(("application/json", body))).unwrap().0)
            .collect()
    })
    .await
    .unwrap();
    assert!(statuses.iter().all(|&s| s == 403), "{statuses:?}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    let entries = app.store.read_audit(None, 1000).await.unwrap();
    assert_eq!(entries.len(), n);
    for e in &entries {
        assert_eq!(
            (e.who.as_str(), e.method.as_str(), e.path.as_str(), e.status),
            ("anonymous", "POST", "/api/tokens", 403)
        );
        assert_eq!(e.addr.as_deref(), Some("127.0.0.1"));
    }
}
