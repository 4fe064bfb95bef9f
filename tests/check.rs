//! `gridmap check`: the whole map against the rules of grid drawing.
//!
//! * The generated maps (Karamay and a generated city) break no rule, also with every other
//!   grid's rings clockwise: every error reported on a broken map below is the breakage, not
//!   noise.
//! * A map broken the ways a QGIS session can break it (one grid drawn over its neighbour, a
//!   grid deleted, a community's grids all deleted) gets exactly those errors, with the overlap
//!   and the gaps where they are (their areas against the areas of what was changed).
//! * The real binary on PostGIS, after a planner's `UPDATE` straight into the `grids` table:
//!   a running `gridmap serve` reloads and warns in its log; `gridmap check` exits 1 with the
//!   broken rule and both grids listed, and writes the GeoJSON file for QGIS; on an unbroken
//!   store, status 0; on no store at all, status 2.
//! * `GET /api/check` through the router: the same violations as GeoJSON, warnings on request,
//!   recomputed for a new snapshot, bad parameters a 400 problem.
//!
//! Needs `GRIDMAP_TEST_DATABASE_URL` (see `tests/common/pg.rs`).

mod common;
#[path = "support/process.rs"]
mod process;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use geo::orient::{Direction, Orient};
use geo::{Area, BooleanOps, Geometry, MultiPolygon};
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::edit::{check_map, survey, RuleConfig, Severity, Violation};
use gridmap::generate::{generate, GenParams};
use gridmap::index::{Live, Snapshot};
use gridmap::model::{Code, Dataset, Region};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::Store;
use http_body_util::BodyExt;
use process::{gridmap, text, wait_for, Server, StoreAt};
use serde_json::Value;
use tower::ServiceExt;

fn check(data: Dataset) -> (Snapshot, Vec<Violation>) {
    let snap = Snapshot::build(data, 1).expect("index builds");
    let violations = check_map(&snap, &RuleConfig::default(), &|_, _| {});
    (snap, violations)
}

fn errors(v: &[Violation]) -> Vec<&Violation> {
    v.iter().filter(|v| v.severity == Severity::Error).collect()
}

/// Square metres of `mp` at the snapshot's latitude.
fn area_m2(snap: &Snapshot, mp: &MultiPolygon<f64>) -> f64 {
    let (kx, ky) = snap.projection.scale();
    mp.unsigned_area() * kx * ky
}

fn area_of(snap: &Snapshot, g: &Geometry<f64>) -> f64 {
    match g {
        Geometry::MultiPolygon(mp) => area_m2(snap, mp),
        Geometry::Polygon(p) => area_m2(snap, &MultiPolygon(vec![p.clone()])),
        other => panic!("a violation of area has an areal geometry, not {other:?}"),
    }
}

/// Two grids of one community that share part of their boundary (their union is one polygon).
fn neighbours(data: &Dataset) -> (Region, Region) {
    let grids = &data.grids;
    grids
        .iter()
        .enumerate()
        .find_map(|(i, a)| {
            grids[i + 1..]
                .iter()
                .filter(|b| b.code.parent() == a.code.parent())
                .find(|b| a.geometry.union(&b.geometry).0.len() == 1)
                .map(|b| (a.clone(), b.clone()))
        })
        .expect("some grid has a neighbour")
}

/// `data` without the grids `gone`, and without them in anyone's list of grids.
fn without(mut data: Dataset, gone: &BTreeSet<Code>) -> Dataset {
    data.grids.retain(|g| !gone.contains(&g.code));
    for s in data.staff.iter_mut() {
        s.grids.retain(|g| !gone.contains(g));
    }
    data.staff.retain(|s| !s.grids.is_empty());
    data
}

#[test]
fn the_generated_maps_break_no_rule() {
    let karamay = gridmap::store::seed::karamay().expect("embedded data");
    let city = generate(&GenParams { seed: 11, grids: Some(30) }, &|_, _, _| {});
    // Clockwise rings (as PostGIS's ST_Union writes them) are the same grids.
    let mut mixed = karamay.clone();
    for g in mixed.grids.iter_mut().step_by(2) {
        g.geometry = g.geometry.orient(Direction::Reversed);
    }
    for (name, data) in
        [("Karamay", karamay), ("the 30-grid city", city), ("Karamay, every other grid clockwise", mixed)]
    {
        let grids = data.grids.len();
        let (_, v) = check(data);
        let e = errors(&v);
        assert!(e.is_empty(), "{name} ({grids} grids) breaks no rule, but: {:#?}", &e[..e.len().min(5)]);
        assert!(survey::tally(&v).starts_with("no errors"), "{name}: {}", survey::tally(&v));
    }
}

#[test]
fn an_overlap_a_deleted_grid_and_an_empty_community_are_found_where_they_are() {
    let data = gridmap::store::seed::karamay().expect("embedded data");
    let (a, b) = neighbours(&data);
    let community = |r: &Region| r.code.parent().expect("a grid has a community");
    // A grid to delete in another community that keeps other grids, and a community whose
    // grids all go.
    let count = |c: &Code| data.grids.iter().filter(|g| g.code.parent().as_ref() == Some(c)).count();
    let c = data
        .grids
        .iter()
        .find(|g| community(g) != community(&a) && count(&community(g)) >= 2)
        .expect("a grid to delete")
        .clone();
    let emptied = data
        .communities
        .iter()
        .find(|k| k.code != community(&a) && k.code != community(&c) && count(&k.code) >= 1)
        .expect("a community to empty")
        .clone();
    let mut gone: BTreeSet<Code> =
        data.grids.iter().filter(|g| community(g) == emptied.code).map(|g| g.code.clone()).collect();
    gone.insert(c.code.clone());

    let mut broken = without(data.clone(), &gone);
    let i = broken.grids.iter().position(|g| g.code == a.code).expect("a is kept");
    broken.grids[i].geometry = a.geometry.union(&b.geometry);
    let (snap, v) = check(broken);

    let e = errors(&v);
    let overlaps: Vec<&&Violation> = e.iter().filter(|v| v.rule == "overlaps-sibling").collect();
    let gaps: Vec<&&Violation> = e.iter().filter(|v| v.rule == "gap").collect();
    assert_eq!(e.len(), 3, "one overlap and two gaps, nothing else: {e:#?}");
    assert_eq!(overlaps.len(), 1, "{e:#?}");
    let o = overlaps[0];
    assert_eq!(
        o.codes.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&a.code, &b.code]),
        "the overlap names a and b"
    );
    let (got, want) = (area_of(&snap, &o.geometry), area_m2(&snap, &b.geometry));
    assert!((got - want).abs() <= 0.01 * want, "the overlap is all of b: {got:.1} m², b is {want:.1} m²");

    assert_eq!(gaps.len(), 2, "{e:#?}");
    let gap_of = |code: &Code| {
        gaps.iter()
            .find(|g| g.message_en.contains(&code.to_string()))
            .unwrap_or_else(|| panic!("a gap in community {code}: {gaps:#?}"))
    };
    let (got, want) = (area_of(&snap, &gap_of(&community(&c)).geometry), area_m2(&snap, &c.geometry));
    assert!((got - want).abs() <= 0.01 * want, "the gap is the deleted grid: {got:.1} m², it was {want:.1} m²");
    let (got, want) = (area_of(&snap, &gap_of(&emptied.code).geometry), area_m2(&snap, &emptied.geometry));
    assert!((got - want).abs() <= 0.01 * want, "the emptied community is one gap: {got:.1} m² of {want:.1} m²");
    let tally = survey::tally(&v);
    assert!(tally.starts_with("3 errors (gap 2, overlaps-sibling 1)"), "{tally}");
}

/// `gridmap check` as a planner runs it after saving in QGIS.
#[tokio::test]
async fn the_binary_finds_a_grid_drawn_over_its_neighbour_straight_in_postgis() {
    let (store, db) = common::pg::fresh_database().await;
    let data = generate(&GenParams { seed: 11, grids: Some(30) }, &|_, _, _| {});
    store.replace_all(&data).await.expect("seed the database");
    let at = StoreAt::Postgis(db.url.clone());

    let out = gridmap(&at, &["check"]);
    assert_eq!(out.status.code(), Some(0), "an unbroken map passes:\n{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("checked {} grids", data.grids.len())), "{stdout}");
    assert!(stdout.contains("no errors"), "{stdout}");

    // A running instance, which will reload after the direct write and check what it loaded.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&at, &dir.path().join("serve.log"), Duration::from_secs(60));

    // What a QGIS save does: rewrite the current row's geometry in place.
    let (a, b) = neighbours(&data);
    sqlx::query(
        "UPDATE grids SET geom = ST_Multi(ST_Union(geom, (SELECT geom FROM grids WHERE code = $2 AND valid_to IS NULL)))
         WHERE code = $1 AND valid_to IS NULL",
    )
    .bind(a.code.to_string())
    .bind(b.code.to_string())
    .execute(store.pool())
    .await
    .expect("a direct UPDATE");

    let broken = "the grids break the rules of grid drawing";
    let (line, _) = wait_for(Duration::from_secs(30), || {
        server.log_text().lines().find(|l| l.contains(broken)).map(str::to_string)
    })
    .unwrap_or_else(|| panic!("the instance reloads and logs the broken rule:\n{}", server.log_tail()));
    for part in ["overlaps-sibling", a.code.as_str(), b.code.as_str(), "errors=1"] {
        assert!(line.contains(part), "{part} in the instance's warning: {line}");
    }
    drop(server);

    let file = dir.path().join("violations.geojson");
    let out = gridmap(&at, &["check", "--out", file.to_str().expect("UTF-8 path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a broken rule is status 1:\n{}", text(&out));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("error") && l.contains("overlaps-sibling"))
        .unwrap_or_else(|| panic!("the overlap is listed:\n{stdout}"));
    assert!(line.contains(&a.code.to_string()) && line.contains(&b.code.to_string()), "{line}");
    // Nothing else: ST_Union wrote the new ring clockwise, which must not open a gap.
    assert!(stdout.contains(": 1 error (overlaps-sibling 1)"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("break the rules"), "{}", text(&out));

    let written: Value = serde_json::from_slice(&std::fs::read(&file).expect("the file is written")).expect("JSON");
    assert_eq!(written["type"], "FeatureCollection");
    let features = written["features"].as_array().expect("features");
    let f = features
        .iter()
        .find(|f| f["properties"]["rule"] == "overlaps-sibling")
        .unwrap_or_else(|| panic!("the overlap is a feature: {written}"));
    let codes: BTreeSet<&str> =
        f["properties"]["codes"].as_array().expect("codes").iter().filter_map(Value::as_str).collect();
    assert_eq!(codes, BTreeSet::from([a.code.as_str(), b.code.as_str()]));
    assert_eq!(f["properties"]["severity"], "error");
    assert!(f["properties"]["message_zh"].as_str().is_some_and(|m| m.contains("重叠")), "{f}");
    assert!(f["geometry"]["type"].as_str().is_some_and(|t| t.ends_with("Polygon")), "{f}");

    // Chinese on request.
    let out = gridmap(&at, &["check", "--lang", "zh"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("重叠"), "{}", text(&out));

    // No store to check: status 2, not a pass and not "broken rules".
    let missing = StoreAt::Gpkg(dir.path().join("missing.gpkg"));
    let out = gridmap(&missing, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such GeoPackage"), "{}", text(&out));
}

/// `GET uri` through the router: status, content type, body as JSON.
async fn get_json(app: &axum::Router, uri: &str) -> (u16, String, Value) {
    let req = axum::http::Request::get(uri).body(axum::body::Body::empty()).expect("request");
    let resp = app.clone().oneshot(req).await.expect("the router answers");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, content_type, serde_json::from_slice(&body).expect("JSON"))
}

#[tokio::test]
async fn the_check_route_serves_the_violations_of_the_snapshot_being_served() {
    let clean = gridmap::store::seed::karamay().expect("embedded data");
    let (a, b) = neighbours(&clean);
    let mut broken = clean.clone();
    let i = broken.grids.iter().position(|g| g.code == a.code).expect("a");
    broken.grids[i].geometry = a.geometry.union(&b.geometry);

    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), gridmap::store::seed::karamay).await.expect("store");
    let live = Live::new(Snapshot::build(broken, 1).expect("index builds"));
    let app = router(AppState::new(live.clone(), Arc::new(store), ApiConfig::default()));

    let (status, content_type, body) = get_json(&app, "/api/check").await;
    assert_eq!((status, content_type.as_str()), (200, "application/geo+json"), "{body}");
    assert_eq!(body["type"], "FeatureCollection");
    assert_eq!((body["generation"].as_u64(), body["errors"].as_u64()), (Some(1), Some(1)), "{}", body["summary"]);
    let features = body["features"].as_array().expect("features");
    assert_eq!(features.len(), 1, "errors only by default");
    let f = &features[0];
    assert_eq!(f["properties"]["rule"], "overlaps-sibling");
    let codes: BTreeSet<&str> =
        f["properties"]["codes"].as_array().expect("codes").iter().filter_map(Value::as_str).collect();
    assert_eq!(codes, BTreeSet::from([a.code.as_str(), b.code.as_str()]));
    let warnings = body["warnings"].as_u64().expect("warnings counted");
    assert!(warnings > 0, "Karamay has understaffed grids");

    let (_, _, all) = get_json(&app, "/api/check?warnings=true").await;
    assert_eq!(all["features"].as_array().map(Vec::len), Some(1 + warnings as usize), "errors and warnings");
    assert!(all["features"].as_array().expect("features").iter().any(|f| f["properties"]["severity"] == "warning"));

    // A new snapshot (the planner fixed the grid in QGIS, the instance reloaded) is checked anew.
    live.publish(Snapshot::build(clean, 2).expect("index builds"));
    let (_, _, fixed) = get_json(&app, "/api/check").await;
    assert_eq!((fixed["generation"].as_u64(), fixed["errors"].as_u64()), (Some(2), Some(0)), "{}", fixed["summary"]);
    assert_eq!(fixed["features"].as_array().map(Vec::len), Some(0));

    for bad in ["/api/check?warnings=yes", "/api/check?severity=error"] {
        let (status, content_type, problem) = get_json(&app, bad).await;
        assert_eq!((status, content_type.as_str()), (400, "application/problem+json"), "{bad}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains("warnings")), "{bad}: {problem}");
    }
}
