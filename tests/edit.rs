//! Grid edits through the real router, on the Karamay data, over both stores: refusals
//! (403/400/404/412/428/422) that write nothing, a boundary move with history and as-of reads,
//! revert, the dry run, 50 concurrent conflicting edits, a commit that fails inside the store
//! transaction, and (PostGIS) a second instance following the first one's edits.
//!
//! Callers are made by `common::as_caller` only, so that switching tests to real bearer tokens
//! is one change there.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use geo::{BooleanOps, BoundingRect, Coord, Intersects, LineString, MultiPolygon, Polygon};
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::auth::Caller;
use gridmap::index::{Live, Snapshot};
use gridmap::model::geojson::geometry_to_json;
use gridmap::model::Code;
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::Store;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

#[allow(dead_code)]
mod common;

use common::{as_caller, planner};

/// A router over a store holding Karamay, its live snapshot, and what must outlive it.
struct App {
    router: Router,
    live: Live,
    store: Arc<dyn Store>,
    tokens: common::Tokens,
    _guard: Box<dyn std::any::Any + Send>,
}

async fn app_on(store: Arc<dyn Store>, guard: Box<dyn std::any::Any + Send>) -> App {
    let (live, _) = gridmap::sync::start(&*store).await.expect("the first snapshot builds");
    let router = router(AppState::new(live.clone(), store.clone(), ApiConfig::default()));
    App { router, live, tokens: common::Tokens::new(store.clone()), store, _guard: guard }
}

async fn gpkg_app() -> App {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = GpkgStore::open_or_seed(&dir.path().join("edit.gpkg"), gridmap::store::seed::karamay)
        .await
        .expect("the GeoPackage is seeded");
    app_on(Arc::new(store), Box::new(dir)).await
}

async fn pg_app() -> App {
    let (store, db) = common::pg::fresh_database().await;
    store.replace_all(&gridmap::store::seed::karamay().expect("seed")).await.expect("Karamay is imported");
    app_on(Arc::new(store), Box::new(db)).await
}

struct Reply {
    status: StatusCode,
    etag: Option<String>,
    content_type: String,
    body: Value,
}

impl Reply {
    /// Asserts a problem+json with this status and returns the body.
    fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "{}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| d.len() > 10), "an actionable detail: {}", self.body);
        &self.body
    }

    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        &self.body
    }
}

async fn send(app: &App, req: Request<Body>) -> Reply {
    let req = app.tokens.authorize(req).await;
    let resp = app.router.clone().oneshot(req).await.expect("the router answers");
    let status = resp.status();
    let etag = resp.headers().get(header::ETAG).map(|v| v.to_str().expect("ascii").to_string());
    let content_type =
        resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("").to_string()).unwrap_or_default();
    let bytes = resp.into_body().collect().await.expect("a body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, etag, content_type, body }
}

fn request(
    method: Method,
    uri: &str,
    caller: Option<Caller>,
    if_match: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(v) = if_match {
        b = b.header(header::IF_MATCH, v);
    }
    let req = match body {
        Some(body) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
        None => b.body(Body::empty()),
    }
    .expect("a request");
    match caller {
        Some(c) => as_caller(req, c),
        None => req,
    }
}

async fn get(app: &App, uri: &str) -> Reply {
    send(app, request(Method::GET, uri, None, None, None)).await
}

fn feature(geometry: &MultiPolygon<f64>, reason: &str) -> Value {
    json!({"type": "Feature", "geometry": geometry_to_json(&geo::Geometry::MultiPolygon(geometry.clone())),
           "properties": {"reason": reason}})
}

fn alice() -> Caller {
    planner("alice", None)
}

/// `geometry` with one extra vertex, the midpoint of the first edge: the same area, a different
/// drawing (a valid edit of a single grid that moves no boundary).
fn with_midpoint(g: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let mut g = g.clone();
    let ring = g.0[0].exterior().0.clone();
    let mid = Coord { x: (ring[0].x + ring[1].x) / 2.0, y: (ring[0].y + ring[1].y) / 2.0 };
    let mut coords = vec![ring[0], mid];
    coords.extend_from_slice(&ring[1..]);
    g.0[0] = Polygon::new(LineString(coords), g.0[0].interiors().to_vec());
    g
}

/// A boundary move between two neighbouring grids `a` and `b` of one community: a 20 m square
/// on their shared edge, cutting no building, whose part in `b` goes to `a`. Returns the two
/// codes, their new geometries and a point that moves from `b` to `a`.
fn find_transfer(snap: &Snapshot) -> (Code, Code, MultiPolygon<f64>, MultiPolygon<f64>, (f64, f64)) {
    let (sx, sy) = snap.projection.scale();
    let (dx, dy) = (1.0 / sx, 1.0 / sy); // one metre in degrees
    for a in &snap.data.grids {
        let ring = &a.geometry.0[0].exterior().0;
        for w in ring.windows(2) {
            let (p, q) = (w[0], w[1]);
            let len_m = (((q.x - p.x) * sx).powi(2) + ((q.y - p.y) * sy).powi(2)).sqrt();
            if len_m < 60.0 {
                continue;
            }
            let m = Coord { x: (p.x + q.x) / 2.0, y: (p.y + q.y) / 2.0 };
            // Unit normal in metres, then both sides.
            let (nx, ny) = (-(q.y - p.y) * sy / len_m, (q.x - p.x) * sx / len_m);
            for side in [1.0, -1.0] {
                let inside_a = (m.x - side * nx * 5.0 * dx, m.y - side * ny * 5.0 * dy);
                let inside_b = (m.x + side * nx * 5.0 * dx, m.y + side * ny * 5.0 * dy);
                let (Some(la), Some(lb)) = (snap.locate(inside_a.0, inside_a.1), snap.locate(inside_b.0, inside_b.1))
                else {
                    continue;
                };
                let (ga, gb) = (&snap.data.grids[la.grid], &snap.data.grids[lb.grid]);
                if ga.code != a.code || gb.code == a.code || gb.code.parent() != a.code.parent() {
                    continue;
                }
                let square = Polygon::new(
                    LineString::from(vec![
                        (m.x - 10.0 * dx, m.y - 10.0 * dy),
                        (m.x + 10.0 * dx, m.y - 10.0 * dy),
                        (m.x + 10.0 * dx, m.y + 10.0 * dy),
                        (m.x - 10.0 * dx, m.y + 10.0 * dy),
                        (m.x - 10.0 * dx, m.y - 10.0 * dy),
                    ]),
                    vec![],
                );
                let square = MultiPolygon(vec![square]);
                let both = ga.geometry.union(&gb.geometry);
                if geo::Area::unsigned_area(&square.difference(&both)) > 1e-14 {
                    continue; // reaches a third grid
                }
                let outline = square.0[0].exterior();
                let bbox = square.bounding_rect().expect("a square has a box");
                let cuts = snap
                    .layer_in_bbox(gridmap::model::LayerKind::Buildings, bbox)
                    .into_iter()
                    .any(|i| snap.data.buildings[i].geometry.intersects(outline));
                if cuts {
                    continue;
                }
                let part = square.intersection(&gb.geometry);
                let a_new = ga.geometry.union(&part);
                let b_new = gb.geometry.difference(&part);
                return (ga.code.clone(), gb.code.clone(), a_new, b_new, inside_b);
            }
        }
    }
    panic!("Karamay has neighbouring grids with a long shared edge free of buildings");
}

fn grid_version(app: &App, code: &Code) -> u32 {
    app.live.load().region(code).expect("the grid is current").version
}

/// The store's current grids and staff equal the snapshot's, and its ended versions equal the
/// snapshot's history: nothing was lost or invented on either side.
async fn assert_store_and_snapshot_agree(app: &App) {
    let snap = app.live.load();
    let mut data = app.store.load().await.expect("load");
    data.grids.sort_by(|a, b| a.code.cmp(&b.code));
    data.staff.sort_by_key(|s| s.id);
    assert_eq!(data.grids, snap.data.grids, "current grids in the store and the snapshot");
    assert_eq!(data.staff, snap.data.staff, "staff in the store and the snapshot");
    let ended = app.store.ended_grid_versions().await.expect("ended");
    assert_eq!(ended.as_slice(), snap.history().versions(), "history in the store and the snapshot");
    assert_eq!(&app.store.grid_codes_ever().await.expect("codes"), snap.used_grid_codes());
}

// ---------------------------------------------------------------------------------------------
// The suite, once per store
// ---------------------------------------------------------------------------------------------

macro_rules! edit_api_suite {
    ($name:ident, $app:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            edit_api_suite!(@tests $app;
                refusals_write_nothing,
                boundary_move_history_and_as_of_reads,
                revert_makes_a_new_version_with_the_old_geometry,
                validate_is_a_dry_run,
                concurrent_conflicting_edits_one_wins_per_version,
                a_commit_failing_inside_the_store_changes_nothing,
                split_then_merge_gives_new_codes_and_keeps_history,
            );
        }
    };
    (@tests $app:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let app = $app;
                #[allow(unused_imports)]
                use super::split_merge::*;
                #[allow(unused_imports)]
                use super::checks::*;
                $check(&app).await;
            }
        )+
    };
}

edit_api_suite!(gpkg, gpkg_app().await);
edit_api_suite!(postgis, pg_app().await);

mod checks {
    use super::*;

    pub async fn refusals_write_nothing(app: &App) {
        let snap = app.live.load();
        let grid = snap.data.grids[10].clone();
        let uri = format!("/api/grids/{}", grid.code);
        let body = feature(&with_midpoint(&grid.geometry), "补充顶点");
        let v1 = Some("\"1\"");
        // Anonymous: reads only.
        let r = send(app, request(Method::PUT, &uri, None, v1, Some(body.clone()))).await;
        assert_eq!(r.problem(403)["rule"], "role", "anonymous callers may not edit");
        let viewer = Caller { role: Some(gridmap::auth::Role::Coordinator), ..alice() };
        let r = send(app, request(Method::PUT, &uri, Some(viewer), v1, Some(body.clone()))).await;
        assert_eq!(r.problem(403)["rule"], "role", "a coordinator is not a planner");
        // No If-Match: 428.
        send(app, request(Method::PUT, &uri, Some(alice()), None, Some(body.clone()))).await.problem(428);
        // Stale If-Match: 412 with the current version and its ETag.
        let r = send(app, request(Method::PUT, &uri, Some(alice()), Some("\"7\""), Some(body.clone()))).await;
        assert_eq!(r.problem(412)["current_version"], 1);
        assert_eq!(r.etag.as_deref(), Some("\"1\""), "the 412 carries the current ETag");
        // Reasons: missing, empty, too long.
        for props in [json!({}), json!({"reason": "  "}), json!({"reason": "长".repeat(501)})] {
            let mut b = body.clone();
            b["properties"] = props;
            send(app, request(Method::PUT, &uri, Some(alice()), v1, Some(b))).await.problem(400);
        }
        // Bad GeoJSON, a point, bad JSON.
        let mut point = body.clone();
        point["geometry"] = json!({"type": "Point", "coordinates": [84.87, 45.6]});
        send(app, request(Method::PUT, &uri, Some(alice()), v1, Some(point))).await.problem(400);
        let req = as_caller(
            Request::put(&uri).header(header::IF_MATCH, "\"1\"").body(Body::from("{not json")).expect("request"),
            alice(),
        );
        send(app, req).await.problem(400);
        // Unknown and malformed codes.
        let unknown = format!("/api/grids/{}99", &grid.code.as_str()[..12]);
        send(app, request(Method::PUT, &unknown, Some(alice()), v1, Some(body.clone()))).await.problem(404);
        send(app, request(Method::PUT, "/api/grids/12x", Some(alice()), v1, Some(body.clone()))).await.problem(400);
        // A planner scoped to another community: outside the scope.
        let other = snap.data.communities.iter().find(|c| Some(&c.code) != grid.code.parent().as_ref()).expect("67");
        let scoped = planner("bob", Some(other.code.as_str()));
        let r = send(app, request(Method::PUT, &uri, Some(scoped), v1, Some(body.clone()))).await;
        assert_eq!(r.problem(403)["rule"], "outside-scope");
        // A planner scoped to the grid's community drawing far outside it.
        let community = grid.code.parent().expect("a grid has a community");
        let scoped = planner("bob", Some(community.as_str()));
        let far = grid.geometry.union(&MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(80.0, 40.0), (80.1, 40.0), (80.1, 40.1), (80.0, 40.0)]),
            vec![],
        )]));
        let r = send(app, request(Method::PUT, &uri, Some(scoped), v1, Some(feature(&far, "far")))).await;
        assert_eq!(r.problem(403)["rule"], "outside-scope", "geometry outside the scope region");

        assert_eq!(app.live.load().generation, snap.generation, "no snapshot was published");
        assert_eq!(app.store.grid_history(&grid.code).await.expect("history").len(), 1, "no version was written");
        assert_store_and_snapshot_agree(app).await;
    }

    pub async fn boundary_move_history_and_as_of_reads(app: &App) {
        let snap = app.live.load();
        let (a, b, a_new, b_new, probe) = find_transfer(&snap);
        let before = chrono::Utc::now();
        let locate = format!("/api/locate?lon={}&lat={}", probe.0, probe.1);
        assert_eq!(get(app, &locate).await.ok()["grid"]["code"], b.as_str(), "the probe starts in b");
        let mut a_feature = feature(&a_new, "");
        a_feature["properties"] = json!({"code": a, "version": 1});
        let mut b_feature = feature(&b_new, "");
        b_feature["properties"] = json!({"code": b, "version": 1});
        let body = json!({"reason": "把道路东侧划入相邻网格", "grids": {"type": "FeatureCollection", "features": [a_feature, b_feature]}});
        // Missing version in one feature: 428.
        let mut missing = body.clone();
        missing["grids"]["features"][1]["properties"] = json!({"code": b});
        send(app, request(Method::POST, "/api/grids/boundary", Some(alice()), None, Some(missing))).await.problem(428);

        let r = send(app, request(Method::POST, "/api/grids/boundary", Some(alice()), None, Some(body))).await;
        let result = r.ok();
        assert_eq!(result["committed"], true);
        assert_eq!(result["valid"], true);
        let versions: Vec<(String, u64)> = result["grids"]["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| {
                (
                    f["properties"]["code"].as_str().unwrap_or("").to_string(),
                    f["properties"]["version"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert!(versions.contains(&(a.to_string(), 2)) && versions.contains(&(b.to_string(), 2)), "{versions:?}");
        assert_eq!(grid_version(app, &a), 2, "the published snapshot has the new versions");
        assert_eq!(app.live.load().generation, snap.generation + 1, "exactly one new snapshot");

        // Now, then and the grid as it was.
        assert_eq!(get(app, &locate).await.ok()["grid"]["code"], a.as_str(), "the probe now lies in a");
        let then =
            get(app, &format!("{locate}&at={}", before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))).await;
        assert_eq!(then.ok()["grid"]["code"], b.as_str(), "as of before the edit, the probe was in b");
        assert_eq!(then.body["grid"]["version"], 1);
        let r = get(app, &format!("/api/grids/{b}?at={}", before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
            .await;
        assert_eq!(r.ok()["properties"]["version"], 1);
        assert_eq!(r.etag.as_deref(), Some("\"1\""), "the ETag of the version asked for");
        let r = get(app, &format!("/api/grids/{b}")).await;
        assert_eq!(r.etag.as_deref(), Some("\"2\""));
        get(app, &format!("/api/grids/{b}?at=2020-01-01T00:00:00Z")).await.problem(404);
        get(app, &format!("/api/grids/{b}?at=yesterday")).await.problem(400);

        // History: who, when, why.
        let h = get(app, &format!("/api/grids/{a}/history")).await;
        let versions = h.ok()["versions"].as_array().expect("versions").clone();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0]["changed_by"], Value::Null, "the imported version has no editor");
        assert_eq!(versions[1]["changed_by"], "alice");
        assert_eq!(versions[1]["reason"], "把道路东侧划入相邻网格");
        assert_eq!(versions[0]["valid_to"], versions[1]["valid_from"], "one ends when the next begins");
        get(app, "/api/grids/65020300100199/history").await.problem(404);
        assert_store_and_snapshot_agree(app).await;
    }

    pub async fn revert_makes_a_new_version_with_the_old_geometry(app: &App) {
        let snap = app.live.load();
        let grid = snap.data.grids[20].clone();
        let uri = format!("/api/grids/{}", grid.code);
        let r = send(
            app,
            request(
                Method::PUT,
                &uri,
                Some(alice()),
                Some("\"1\""),
                Some(feature(&with_midpoint(&grid.geometry), "补充顶点")),
            ),
        )
        .await;
        r.ok();
        assert_eq!(r.etag.as_deref(), Some("\"2\""), "a single-grid save carries the new ETag");
        let revert = format!("{uri}/revert");
        // Revert needs the current version in If-Match, and an earlier version.
        send(app, request(Method::POST, &revert, Some(alice()), None, Some(json!({"version": 1, "reason": "撤销"}))))
            .await
            .problem(428);
        send(
            app,
            request(Method::POST, &revert, Some(alice()), Some("\"2\""), Some(json!({"version": 2, "reason": "撤销"}))),
        )
        .await
        .problem(400);
        let r = send(
            app,
            request(
                Method::POST,
                &revert,
                Some(alice()),
                Some("\"2\""),
                Some(json!({"version": 1, "reason": "撤销补点"})),
            ),
        )
        .await;
        r.ok();
        assert_eq!(r.etag.as_deref(), Some("\"3\""));
        let now = app.live.load();
        let current = now.region(&grid.code).expect("current");
        assert_eq!(current.version, 3, "a revert is a new version, not a rewrite of history");
        assert_eq!(current.geometry, grid.geometry, "with exactly the old geometry");
        let history = app.store.grid_history(&grid.code).await.expect("history");
        assert_eq!(history.len(), 3);
        assert_eq!(history[2].reason.as_deref(), Some("撤销补点"));
        assert_store_and_snapshot_agree(app).await;
    }

    pub async fn validate_is_a_dry_run(app: &App) {
        let snap = app.live.load();
        let grid = snap.data.grids[5].clone();
        let ok = json!({"op": "reshape", "code": grid.code, "version": 1, "feature": feature(&with_midpoint(&grid.geometry), "")});
        let r = send(app, request(Method::POST, "/api/validate", Some(alice()), None, Some(ok))).await;
        assert_eq!(r.ok()["committed"], false);
        assert_eq!(r.body["valid"], true, "{}", r.body);
        // An overlap with every neighbour: invalid, still 200, with violations.
        let bbox = grid.geometry.bounding_rect().expect("box");
        let grown = MultiPolygon(vec![geo::Rect::new(
            Coord { x: bbox.min().x - 0.002, y: bbox.min().y - 0.002 },
            Coord { x: bbox.max().x + 0.002, y: bbox.max().y + 0.002 },
        )
        .to_polygon()]);
        let bad = json!({"op": "reshape", "code": grid.code, "version": 1, "feature": feature(&grown, "")});
        let r = send(app, request(Method::POST, "/api/validate", Some(alice()), None, Some(bad))).await;
        assert_eq!(r.ok()["valid"], false);
        let violations = r.body["violations"]["features"].as_array().expect("violations");
        assert!(violations.iter().any(|v| v["properties"]["severity"] == "error"), "{}", r.body);
        // The same as a save: 422 with violations and impact, nothing written.
        let uri = format!("/api/grids/{}", grid.code);
        let r =
            send(app, request(Method::PUT, &uri, Some(alice()), Some("\"1\""), Some(feature(&grown, "扩大")))).await;
        let p = r.problem(422);
        assert!(p["violations"]["features"].as_array().is_some_and(|v| !v.is_empty()));
        assert!(p["impact"].is_object(), "{p}");
        send(app, request(Method::POST, "/api/validate", None, None, Some(json!({"op": "merge"})))).await.problem(403);
        send(app, request(Method::POST, "/api/validate", Some(alice()), None, Some(json!({"op": "paint"}))))
            .await
            .problem(400);
        assert_eq!(app.live.load().generation, snap.generation, "dry runs and refusals publish nothing");
        assert_eq!(app.store.grid_history(&grid.code).await.expect("history").len(), 1);
    }

    pub async fn concurrent_conflicting_edits_one_wins_per_version(app: &App) {
        let grid = app.live.load().data.grids[30].clone();
        let uri = format!("/api/grids/{}", grid.code);
        let rounds = 3;
        for round in 0..rounds {
            let version = grid_version(app, &grid.code);
            let geometry = if round % 2 == 0 { with_midpoint(&grid.geometry) } else { grid.geometry.clone() };
            // Every request (with its token) is made first, so that the 50 are sent at once.
            let mut reqs = Vec::new();
            for i in 0..50 {
                let req = request(
                    Method::PUT,
                    &uri,
                    Some(planner(&format!("planner-{i}"), None)),
                    Some(&format!("\"{version}\"")),
                    Some(feature(&geometry, &format!("round {round} editor {i}"))),
                );
                reqs.push(app.tokens.authorize(req).await);
            }
            let tasks: Vec<_> = reqs
                .into_iter()
                .map(|req| {
                    let router = app.router.clone();
                    tokio::spawn(async move { router.oneshot(req).await.expect("answers").status() })
                })
                .collect();
            let mut won = 0;
            let mut stale = 0;
            for t in tasks {
                match t.await.expect("task") {
                    StatusCode::OK => won += 1,
                    StatusCode::PRECONDITION_FAILED => stale += 1,
                    other => panic!("every edit either wins or is told it is stale, got {other}"),
                }
            }
            assert_eq!((won, stale), (1, 49), "round {round}: exactly one edit per version wins");
            assert_eq!(grid_version(app, &grid.code), version + 1);
        }
        let history = app.store.grid_history(&grid.code).await.expect("history");
        assert_eq!(history.len(), rounds + 1, "every winning edit is a version; no edit is lost");
        assert_store_and_snapshot_agree(app).await;
    }

    pub async fn a_commit_failing_inside_the_store_changes_nothing(app: &App) {
        let snap = app.live.load();
        let grid = snap.data.grids[40].clone();
        let uri = format!("/api/grids/{}", grid.code);
        let body = feature(&with_midpoint(&grid.geometry), "触发器会让它失败");
        let sabotage = Sabotage::install(app).await;
        let r = send(app, request(Method::PUT, &uri, Some(alice()), Some("\"1\""), Some(body.clone()))).await;
        r.problem(500);
        assert!(!r.body["detail"].as_str().unwrap_or("").contains("sabotage"), "5xx details are logged, not sent");
        assert_eq!(app.live.load().generation, snap.generation, "no snapshot was published");
        assert_eq!(grid_version(app, &grid.code), 1);
        assert_eq!(app.store.grid_history(&grid.code).await.expect("history").len(), 1, "nothing was written");
        assert_store_and_snapshot_agree(app).await;
        sabotage.remove(app).await;
        // The same edit goes through once the failure is gone: the trigger was the only cause.
        send(app, request(Method::PUT, &uri, Some(alice()), Some("\"1\""), Some(body))).await.ok();
        assert_eq!(grid_version(app, &grid.code), 2);
    }
}

/// A north-south line across `grid` that cuts none of its buildings, if there is one.
fn clean_split_line(snap: &Snapshot, grid: &gridmap::model::Region) -> Option<LineString<f64>> {
    let b = grid.geometry.bounding_rect()?;
    let buildings = snap.layer_in_bbox(gridmap::model::LayerKind::Buildings, b);
    (1..20).map(|k| b.min().x + b.width() * f64::from(k) / 20.0).find_map(|x| {
        let line = LineString::from(vec![(x, b.min().y - 1e-4), (x, b.max().y + 1e-4)]);
        let cuts = buildings.iter().any(|&i| snap.data.buildings[i].geometry.intersects(&line));
        (!cuts).then_some(line)
    })
}

/// The (code, version) of every grid in an EditResult.
fn written(result: &Value) -> Vec<(String, u64)> {
    result["grids"]["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["properties"]["code"].as_str().unwrap_or("").to_string(),
                f["properties"]["version"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

mod split_merge {
    use super::*;

    pub async fn split_then_merge_gives_new_codes_and_keeps_history(app: &App) {
        let snap = app.live.load();
        let before = chrono::Utc::now();
        let used_before = snap.used_grid_codes().clone();
        let (grid, line) = snap
            .data
            .grids
            .iter()
            .skip(50)
            .find_map(|g| clean_split_line(&snap, g).map(|l| (g.clone(), l)))
            .expect("some grid can be split without cutting a building");
        let staff: Vec<u32> = snap.staff_of_grid(&grid.code).map(|s| s.id).collect();
        let uri = format!("/api/grids/{}/split", grid.code);
        let line_json = geometry_to_json(&geo::Geometry::LineString(line.clone()));
        let body = json!({"line": line_json, "reason": "人口增长，一分为二"});
        send(app, request(Method::POST, &uri, Some(alice()), None, Some(body.clone()))).await.problem(428);
        let r = send(app, request(Method::POST, &uri, Some(alice()), Some("\"1\""), Some(body))).await;
        let parts = written(r.ok());
        assert_eq!(r.body["retired"], json!([grid.code]), "the split grid's code is retired");
        assert!(parts.len() >= 2, "{parts:?}");
        for (code, version) in &parts {
            assert_eq!(*version, 1, "new grids start at version 1");
            let code = Code::parse(code).expect("a grid code");
            assert!(!used_before.contains(&code), "{code} was never used before");
            assert_eq!(code.parent(), grid.code.parent(), "the parts stay in the community");
        }
        let now = app.live.load();
        assert!(now.region(&grid.code).is_none(), "the split grid is no longer current");
        get(app, &format!("/api/grids/{}", grid.code)).await.problem(404);
        let then = get(
            app,
            &format!("/api/grids/{}?at={}", grid.code, before.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        )
        .await;
        assert_eq!(then.ok()["properties"]["version"], 1, "the split grid is still there as of before");
        // A second split of the retired grid is stale: it has no current version.
        let r = send(
            app,
            request(
                Method::POST,
                &uri,
                Some(alice()),
                Some("\"1\""),
                Some(json!({"line": line_json, "reason": "again"})),
            ),
        )
        .await;
        assert_eq!(r.problem(412)["current_version"], Value::Null);

        // Merge the parts again: yet another new code.
        let grids: Vec<Value> = parts.iter().map(|(c, v)| json!({"code": c, "version": v})).collect();
        let r = send(
            app,
            request(
                Method::POST,
                "/api/grids/merge",
                Some(alice()),
                None,
                Some(json!({"grids": grids, "reason": "恢复为一个网格", "name": "合并网格"})),
            ),
        )
        .await;
        let merged = written(r.ok());
        assert_eq!(merged.len(), 1, "{merged:?}");
        let merged_code = Code::parse(&merged[0].0).expect("code");
        assert!(!used_before.contains(&merged_code) && !parts.iter().any(|(c, _)| *c == merged[0].0), "a fresh code");
        let current = app.live.load();
        let m = current.region(&merged_code).expect("the merged grid is current");
        assert_eq!(m.name, "合并网格");
        assert!(
            (geo::Area::unsigned_area(&m.geometry) - geo::Area::unsigned_area(&grid.geometry)).abs()
                < 1e-6 * geo::Area::unsigned_area(&grid.geometry),
            "split then merge covers the same area"
        );
        let serving: Vec<u32> = current.staff_of_grid(&merged_code).map(|s| s.id).collect();
        for id in &staff {
            let grids = &current.data.staff.iter().find(|s| s.id == *id).expect("person").grids;
            assert!(!grids.contains(&grid.code), "person {id} no longer serves the retired grid");
        }
        assert!(serving.iter().all(|id| staff.contains(id)), "only the original grid's staff serve the merged grid");
        let codes = app.store.grid_codes_ever().await.expect("codes");
        assert_eq!(codes.len(), used_before.len() + parts.len() + 1, "every code ever given stays registered");
        assert_store_and_snapshot_agree(app).await;
    }
}

/// A real failure inside the store's transaction: a trigger refusing any new grid row.
enum Sabotage {
    Pg,
    Gpkg(std::path::PathBuf),
}

impl Sabotage {
    async fn install(app: &App) -> Sabotage {
        if app.store.kind() == "postgis" {
            let pool = pg_pool(app).await;
            sqlx::raw_sql(
                "CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'sabotage: test trigger refuses grid rows'; END; $$;
                 CREATE TRIGGER sabotage BEFORE INSERT ON grids FOR EACH ROW EXECUTE FUNCTION sabotage();",
            )
            .execute(&pool)
            .await
            .expect("the trigger is installed");
            Sabotage::Pg
        } else {
            let path = gpkg_path(app);
            let mut conn = sqlite(&path).await;
            sqlx::raw_sql("CREATE TRIGGER sabotage BEFORE INSERT ON grids BEGIN SELECT RAISE(ABORT, 'sabotage'); END;")
                .execute(&mut conn)
                .await
                .expect("the trigger is installed");
            Sabotage::Gpkg(path)
        }
    }

    async fn remove(self, app: &App) {
        match self {
            Sabotage::Pg => {
                sqlx::raw_sql("DROP TRIGGER sabotage ON grids; DROP FUNCTION sabotage();")
                    .execute(&pg_pool(app).await)
                    .await
                    .expect("dropped");
            }
            Sabotage::Gpkg(path) => {
                sqlx::raw_sql("DROP TRIGGER sabotage;").execute(&mut sqlite(&path).await).await.expect("dropped");
            }
        }
    }
}

async fn pg_pool(app: &App) -> sqlx::PgPool {
    let db = app._guard.downcast_ref::<common::pg::TestDb>().expect("a PostGIS app holds its test database");
    sqlx::PgPool::connect(&db.url).await.expect("connect")
}

fn gpkg_path(app: &App) -> std::path::PathBuf {
    app._guard
        .downcast_ref::<tempfile::TempDir>()
        .expect("a GeoPackage app holds its directory")
        .path()
        .join("edit.gpkg")
}

async fn sqlite(path: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    sqlx::SqliteConnection::connect_with(&sqlx::sqlite::SqliteConnectOptions::new().filename(path))
        .await
        .expect("open the GeoPackage")
}

// ---------------------------------------------------------------------------------------------
// Two instances on one PostGIS
// ---------------------------------------------------------------------------------------------

/// Waits (up to 20 s) until `cond` holds; panics with `what` otherwise.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..400 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_follow_each_others_edits_and_skip_their_own() {
    let (store, db) = common::pg::fresh_database().await;
    store.replace_all(&gridmap::store::seed::karamay().expect("seed")).await.expect("import");
    let one = app_on(Arc::new(store), Box::new(db)).await;
    let url = one._guard.downcast_ref::<common::pg::TestDb>().expect("db").url.clone();
    let other_store: Arc<dyn Store> = Arc::new(gridmap::store::postgis::PgStore::connect(&url).await.expect("connect"));
    let two = app_on(other_store, Box::new(())).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for app in [&one, &two] {
        let (store, live, seq) = (app.store.clone(), app.live.clone(), app.live.load().change_seq);
        let mut stop = stop_rx.clone();
        tokio::spawn(gridmap::sync::follow(store, live, seq, async move {
            let _ = stop.changed().await;
        }));
    }
    let grid = one.live.load().data.grids[3].clone();
    let uri = format!("/api/grids/{}", grid.code);
    let body = feature(&with_midpoint(&grid.geometry), "实例一的编辑");
    let two_before = two.live.load();
    send(&one, request(Method::PUT, &uri, Some(alice()), Some("\"1\""), Some(body))).await.ok();
    assert_eq!(one.live.load().generation, 2, "the editing instance published its own snapshot");
    eventually("instance two applies instance one's edit", || grid_version(&two, &grid.code) == 2).await;
    let two_after = two.live.load();
    assert!(
        two_after.data.buildings.shares(&two_before.data.buildings)
            && Arc::ptr_eq(&two_after.gazetteer, &two_before.gazetteer),
        "instance two applied the edit to its snapshot (buildings and gazetteer shared), it did not reload everything"
    );
    assert_eq!(two_after.data.grids, one.live.load().data.grids, "both serve the same grids");
    // Now an edit on instance two; instance one must reload it. Its follower handles notices in
    // order, so by then it has seen the notice of its own edit: had it reloaded for that, its
    // generation would be 4, not 3.
    let other = one.live.load().data.grids[4].clone();
    let uri = format!("/api/grids/{}", other.code);
    let body = feature(&with_midpoint(&other.geometry), "实例二的编辑");
    send(&two, request(Method::PUT, &uri, Some(alice()), Some("\"1\""), Some(body))).await.ok();
    eventually("instance one reloads instance two's edit", || grid_version(&one, &other.code) == 2).await;
    assert_eq!(one.live.load().generation, 3, "one publication per change: no reload for its own edit");
    assert_eq!(one.live.load().history().versions(), two.live.load().history().versions(), "both know the history");
    let _ = stop_tx.send(true);
}
