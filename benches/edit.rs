//! A grid edit end to end on the Karamay data: `PUT /api/grids/{code}` through the real router
//! (the planner's rules, the store transaction, the next snapshot published), on the GeoPackage
//! store (a temporary file) and, when `GRIDMAP_TEST_DATABASE_URL` is set, on PostGIS (a
//! throw-away database). Also the parts: planning alone and deriving the next snapshot alone.
//!
//! Run: `cargo bench --bench edit`. Budget: median under 50 ms per save.
//!
//! Each iteration saves a new version of one grid, alternating between its boundary with and
//! without an extra vertex in the middle of its first edge (the same area, so every save is
//! valid and each plans, commits and publishes for real); the If-Match is the current version.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::auth::{NewToken, Role};
use gridmap::edit::{Context, EditOp, GridShape, RuleConfig};
use gridmap::index::Live;
use gridmap::model::geojson::geometry_to_json;
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::Store;
use serde_json::json;
use tower::ServiceExt;

fn with_midpoint(g: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let mut g = g.clone();
    let ring = g.0[0].exterior().0.clone();
    let mid = Coord { x: (ring[0].x + ring[1].x) / 2.0, y: (ring[0].y + ring[1].y) / 2.0 };
    let mut coords = vec![ring[0], mid];
    coords.extend_from_slice(&ring[1..]);
    g.0[0] = Polygon::new(LineString(coords), g.0[0].interiors().to_vec());
    g
}

/// A planner's bearer token in `store`.
fn planner_token(rt: &tokio::runtime::Runtime, store: &dyn Store) -> String {
    let new = NewToken { name: "bench".into(), role: Role::Planner, scope: None, expires_at: None };
    rt.block_on(gridmap::auth::create_token(store, new)).expect("a token").1
}

/// Times saves of one grid through the router on `store`.
fn bench_store(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: Arc<dyn Store>) {
    let (live, _) = rt.block_on(gridmap::sync::start(&*store)).expect("the first snapshot");
    let bearer = format!("Bearer {}", planner_token(rt, &*store));
    let app = router(AppState::new(live.clone(), store, ApiConfig::default()));
    let grid = live.load().data.grids[100].clone();
    let shapes = [with_midpoint(&grid.geometry), grid.geometry.clone()];
    let uri = format!("/api/grids/{}", grid.code);
    let mut n = 0usize;
    c.bench_function(&format!("edit/put_reshape/{name}"), |b| {
        b.iter(|| {
            let version = live.load().region(&grid.code).expect("current").version;
            let geometry = geometry_to_json(&geo::Geometry::MultiPolygon(shapes[n % 2].clone()));
            n += 1;
            let body = json!({"type": "Feature", "geometry": geometry, "properties": {"reason": "benchmark"}});
            let req = Request::put(&uri)
                .header(header::AUTHORIZATION, &bearer)
                .header(header::IF_MATCH, format!("\"{version}\""))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .expect("a request");
            let status = rt.block_on(app.clone().oneshot(req)).expect("answers").status();
            assert_eq!(status, StatusCode::OK, "every benchmark save is valid");
        })
    });
}

fn edit(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let gpkg = rt
        .block_on(GpkgStore::open_or_seed(&dir.path().join("bench.gpkg"), gridmap::store::seed::karamay))
        .expect("seeded");
    let store: Arc<dyn Store> = Arc::new(gpkg);

    // The parts, on the seed data: planning one reshape, and the next snapshot after it.
    let (live, _): (Live, _) = rt.block_on(gridmap::sync::start(&*store)).expect("snapshot");
    let snap = live.load();
    let grid = snap.data.grids[100].clone();
    let op = EditOp::Reshape {
        grids: vec![GridShape {
            code: grid.code.clone(),
            expected_version: grid.version,
            geometry: with_midpoint(&grid.geometry),
        }],
    };
    let rules = RuleConfig::default();
    c.bench_function("edit/plan_reshape", |b| {
        b.iter(|| {
            let ctx = Context { snap: &snap, used_codes: snap.used_grid_codes(), rules: &rules };
            gridmap::edit::plan(&ctx, &op).expect("plans")
        })
    });
    let plan = {
        let ctx = Context { snap: &snap, used_codes: snap.used_grid_codes(), rules: &rules };
        gridmap::edit::plan(&ctx, &op).expect("plans")
    };
    c.bench_function("edit/next_snapshot", |b| {
        b.iter(|| {
            snap.with_grid_edit(&plan.retire, &plan.write, &plan.staff, chrono::Utc::now(), 2, None).expect("builds")
        })
    });

    bench_store(c, &rt, "gpkg", store);
    if let Ok(admin) = std::env::var("GRIDMAP_TEST_DATABASE_URL") {
        let name = format!("gridmap_bench_{}", std::process::id());
        let db_url = with_database(&admin, &name);
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin connection");
            sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut conn).await.expect("create database");
        });
        let pg = rt.block_on(gridmap::store::postgis::PgStore::connect(&db_url)).expect("connect");
        rt.block_on(pg.replace_all(&gridmap::store::seed::karamay().expect("seed"))).expect("import");
        bench_store(c, &rt, "postgis", Arc::new(pg));
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin).await.expect("admin connection");
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await;
        });
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let (base, query) = url.find('?').map_or((url, ""), |q| (&url[..q], &url[q..]));
    let host_end = base[after_scheme..].find('/').map_or(base.len(), |i| after_scheme + i);
    format!("{}/{database}{query}", &base[..host_end])
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(8));
    targets = edit
}
criterion_main!(benches);
