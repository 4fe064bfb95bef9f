//! Several gridmap instances on one PostGIS database: a change written through one path is
//! answered by every instance within one second (LISTEN/NOTIFY, then a new snapshot).
//!
//! Two real `gridmap serve` processes (the built binary, on free loopback ports) share a fresh
//! database. Changes are written through three paths: `gridmap import` of a modified grids
//! layer (a third process), `Store::replace_all` from this test, and a grid edit (`PUT
//! /api/grids/{code}`) through one of the instances. After each, both instances must answer the
//! new data within one second; the measured latencies are printed. The instance that did not
//! make the edit must have applied it to its snapshot (`sync::catch_up`), not reloaded.
//!
//! Needs `GRIDMAP_TEST_DATABASE_URL` (see `tests/common/pg.rs`); without it this test fails.

mod common;
#[path = "support/process.rs"]
mod process;

use std::time::{Duration, Instant};

use gridmap::generate::{generate, GenParams};
use gridmap::model::LayerKind;
use gridmap::store::Store;
use process::{gridmap_ok, http_full, wait_for, Server, StoreAt};

/// The promise of the design: a change is visible everywhere within this.
const WITHIN: Duration = Duration::from_secs(1);

/// The name instance `server` gives grid `code`, if it answers.
fn grid_name(server: &Server, code: &str) -> Option<String> {
    let (status, body) = server.get(&format!("/api/grids/{code}")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok().filter(|_| status == 200)?;
    v["properties"]["name"].as_str().map(str::to_string)
}

/// Waits until both instances call grid `code` `name`; returns the latency of each, measured
/// from `since` (when the change was committed), or fails saying how far they got.
fn both_answer(servers: &[&Server; 2], code: &str, name: &str, since: Instant, path: &str) -> [Duration; 2] {
    let mut latencies = [Duration::ZERO; 2];
    for (i, server) in servers.iter().enumerate() {
        let seen = wait_for(WITHIN * 5, || (grid_name(server, code).as_deref() == Some(name)).then_some(()));
        let latency = since.elapsed();
        assert!(
            seen.is_some(),
            "instance {} still does not answer the change written by {path} after {latency:?}:\n{}",
            i + 1,
            server.log_tail()
        );
        latencies[i] = latency;
    }
    latencies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_path_is_answered_by_every_instance_within_a_second() {
    let (store, db) = common::pg::fresh_database().await;
    let mut data = generate(&GenParams { seed: 21, grids: Some(30) }, &|_, _, _| {});
    store.replace_all(&data).await.expect("the first dataset is written");
    let dir = tempfile::tempdir().expect("temp dir");
    let at = StoreAt::Postgis(db.url.clone());
    let a = Server::start(&at, &dir.path().join("a.log"), Duration::from_secs(60));
    let b = Server::start(&at, &dir.path().join("b.log"), Duration::from_secs(60));
    let code = data.grids[0].code.to_string();
    for server in [&a, &b] {
        assert_eq!(grid_name(server, &code).as_deref(), Some(data.grids[0].name.as_str()), "both start on the data");
    }

    // Path 1: `gridmap import` of a grids layer in which grid 0 is renamed.
    data.grids[0].name = "胜利网格（改名一）".into();
    let file = dir.path().join("grids.geojson");
    let text = gridmap::model::geojson::write_feature_collection(data.features(LayerKind::Grids));
    std::fs::write(&file, text).expect("write grids.geojson");
    gridmap_ok(&at, &["import", file.to_str().expect("UTF-8 path")]);
    let committed = Instant::now();
    let by_import = both_answer(&[&a, &b], &code, &data.grids[0].name, committed, "gridmap import");

    // Path 2: a store write from this process.
    data.grids[0].name = "胜利网格（改名二）".into();
    store.replace_all(&data).await.expect("the second change is written");
    let committed = Instant::now();
    let by_store = both_answer(&[&a, &b], &code, &data.grids[0].name, committed, "Store::replace_all");

    // Path 3: a grid edit through instance 1's API (the same shape drawn with one more vertex).
    let token = gridmap_ok(&at, &["token", "create", "--name", "planner", "--role", "planner"]).trim().to_string();
    let grid = &data.grids[0];
    let mut drawn = grid.geometry.clone();
    let ring = drawn.0[0].exterior().0.clone();
    let mid = geo::Coord { x: (ring[0].x + ring[1].x) / 2.0, y: (ring[0].y + ring[1].y) / 2.0 };
    let mut coords = vec![ring[0], mid];
    coords.extend_from_slice(&ring[1..]);
    drawn.0[0] = geo::Polygon::new(geo::LineString(coords), drawn.0[0].interiors().to_vec());
    let body = serde_json::json!({
        "type": "Feature",
        "geometry": gridmap::model::geojson::geometry_to_json(&geo::Geometry::MultiPolygon(drawn)),
        "properties": {"reason": "两个实例之间的编辑"},
    })
    .to_string();
    let bearer = format!("Bearer {token}");
    let if_match = format!("\"{}\"", grid.version);
    let (status, _, answer) = http_full(
        a.addr,
        "PUT",
        &format!("/api/grids/{code}"),
        &[("Authorization", &bearer), ("If-Match", &if_match)],
        Some(("application/geo+json", body.as_bytes())),
    )
    .expect("PUT reaches instance 1");
    assert_eq!(status, 200, "the edit is accepted: {answer}\n{}", a.log_tail());
    let committed = Instant::now();
    // The grid's version is its ETag.
    let etag = format!("etag: \"{}\"", grid.version + 1);
    let mut by_edit = [Duration::ZERO; 2];
    for (i, server) in [&a, &b].iter().enumerate() {
        let seen = wait_for(WITHIN * 5, || {
            let (status, head, _) = http_full(server.addr, "GET", &format!("/api/grids/{code}"), &[], None).ok()?;
            (status == 200 && head.to_ascii_lowercase().lines().any(|l| l.trim() == etag)).then_some(())
        });
        by_edit[i] = committed.elapsed();
        assert!(seen.is_some(), "instance {} does not answer the edit:\n{}", i + 1, server.log_tail());
    }
    assert!(
        b.log_text().contains("applied other instances' edits to the snapshot"),
        "instance 2 applied instance 1's edit to its snapshot, without reloading everything:\n{}",
        b.log_tail()
    );

    println!("latency after gridmap import: instance 1 {:?}, instance 2 {:?}", by_import[0], by_import[1]);
    println!("latency after replace_all:    instance 1 {:?}, instance 2 {:?}", by_store[0], by_store[1]);
    println!("latency after an edit on 1:   instance 1 {:?}, instance 2 {:?}", by_edit[0], by_edit[1]);
    for (path, latencies) in
        [("gridmap import", by_import), ("Store::replace_all", by_store), ("PUT on instance 1", by_edit)]
    {
        for (i, latency) in latencies.iter().enumerate() {
            assert!(
                *latency <= WITHIN,
                "instance {} answered the change written by {path} after {latency:?}, more than {WITHIN:?}:\n{}",
                i + 1,
                [&a, &b][i].log_tail()
            );
        }
    }
    // Each instance moved exactly one snapshot per change: the staged start-up's two (regions,
    // then everything), two reloads, then the edit (published by instance 1, applied by 2).
    for server in [&a, &b] {
        let health = server.get_json("/healthz");
        assert_eq!(health["snapshot"]["generation"], 5, "one new snapshot per change: {health}");
        assert_eq!(health["status"], "ok", "{health}");
    }
}
