//! `gridmap import` and `gridmap export`, run as the real binary against both stores.
//!
//! * What is exported imports back unchanged, through the GeoPackage store and through PostGIS,
//!   in both formats (a GeoJSON directory and a GeoPackage file).
//! * The exported GeoPackage opens in GDAL's `ogrinfo` with every layer and count.
//! * A file with several bad features reports every one of them, exits non-zero, and leaves the
//!   store exactly as it was.
//! * One layer replaces that layer only.
//!
//! Needs `GRIDMAP_TEST_DATABASE_URL` (see `tests/common/pg.rs`) and `ogrinfo` (gdal-bin);
//! without them these tests fail, saying what to install.

mod common;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Command;

use gridmap::generate::{generate, GenParams};
use gridmap::model::{Dataset, LayerKind};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::{files, Store};
use process::{gridmap, gridmap_ok, text, StoreAt};
use serde_json::Value;

/// A small generated city (30 grids and everything in them), fixed seed.
fn city() -> Dataset {
    generate(&GenParams { seed: 11, grids: Some(30) }, &|_, _, _| {})
}

/// Compares two datasets layer by layer, naming the first difference (a whole-dataset
/// `assert_eq!` would print megabytes).
fn assert_same(got: &Dataset, want: &Dataset, why: &str) {
    assert_eq!(got.district, want.district, "{why}: the district");
    for kind in LayerKind::ALL {
        let (g, w) = (got.features(kind), want.features(kind));
        assert_eq!(g.len(), w.len(), "{why}: number of {}", kind.name());
        if let Some(i) = (0..g.len()).find(|&i| g[i] != w[i]) {
            panic!("{why}: {} feature #{i} differs:\n got {:?}\nwant {:?}", kind.name(), g[i], w[i]);
        }
    }
    assert_eq!(got.staff, want.staff, "{why}: the staff");
    assert!(got == want, "{why}: the datasets differ");
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Layer name → feature count, as `ogrinfo -so -al` lists them; fails clearly without GDAL.
fn ogrinfo_counts(file: &Path) -> Vec<(String, usize)> {
    let out = Command::new("ogrinfo").args(["-ro", "-so", "-al"]).arg(file).output().unwrap_or_else(|e| {
        panic!("cannot run ogrinfo ({e}); install GDAL's command-line tools: `apt-get install gdal-bin`")
    });
    assert!(out.status.success(), "ogrinfo cannot open the exported GeoPackage:\n{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut counts = Vec::new();
    let mut layer = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("Layer name: ") {
            layer = Some(name.trim().to_string());
        } else if let Some(n) = line.strip_prefix("Feature Count: ") {
            let name = layer.take().unwrap_or_default();
            counts.push((name, n.trim().parse().unwrap_or(usize::MAX)));
        }
    }
    counts.sort();
    counts
}

/// What `ogrinfo` must list for `data`: every layer, the staff table and the district row.
fn expected_counts(data: &Dataset) -> Vec<(String, usize)> {
    let mut want: Vec<(String, usize)> =
        LayerKind::ALL.iter().map(|&k| (k.name().to_string(), data.features(k).len())).collect();
    want.push(("staff".into(), data.staff.len()));
    want.push(("gridmap_district".into(), 1));
    want.sort();
    want
}

async fn load_gpkg(path: &Path) -> Dataset {
    let store = GpkgStore::open(path).await.expect("open the GeoPackage");
    let data = store.load().await.expect("load the GeoPackage");
    store.close().await;
    data
}

#[tokio::test]
async fn exports_import_back_unchanged_through_the_geopackage_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = city();
    let src = dir.path().join("src");
    files::write_dir(&src, &data).expect("write the source directory");

    let a = StoreAt::Gpkg(dir.path().join("a.gpkg"));
    let out = gridmap_ok(&a, &["import", path_str(&src)]);
    assert!(out.contains("imported") && out.contains("30 grids"), "says what it imported: {out}");
    let StoreAt::Gpkg(a_path) = &a else { unreachable!() };
    assert_same(&load_gpkg(a_path).await, &data, "a directory imported into a GeoPackage store");

    // GeoJSON out: the same bytes as the source (the format is deterministic).
    let geojson = dir.path().join("out");
    gridmap_ok(&a, &["export", "--format", "geojson", path_str(&geojson)]);
    for (name, want) in files::render(&data) {
        let got = std::fs::read_to_string(geojson.join(&name)).expect("exported file");
        assert!(got == want, "exported {name} differs from the imported one");
    }

    // GeoPackage out, which GDAL reads, and back into another store.
    let gpkg = dir.path().join("out.gpkg");
    gridmap_ok(&a, &["export", "--format", "gpkg", path_str(&gpkg)]);
    assert_eq!(ogrinfo_counts(&gpkg), expected_counts(&data), "ogrinfo lists every layer with its count");
    let b = dir.path().join("b.gpkg");
    gridmap_ok(&StoreAt::Gpkg(b.clone()), &["import", path_str(&gpkg)]);
    assert_same(&load_gpkg(&b).await, &data, "the exported GeoPackage imported into a second store");
}

#[tokio::test]
async fn exports_import_back_unchanged_through_postgis() {
    let (store, db) = common::pg::fresh_database().await;
    let pg = StoreAt::Postgis(db.url.clone());
    let dir = tempfile::tempdir().expect("temp dir");
    let data = city();
    let src = dir.path().join("src");
    files::write_dir(&src, &data).expect("write the source directory");

    gridmap_ok(&pg, &["import", path_str(&src)]);
    assert_same(&store.load().await.expect("load"), &data, "a directory imported into PostGIS");

    let geojson = dir.path().join("out");
    gridmap_ok(&pg, &["export", path_str(&geojson)]);
    assert_same(&files::read_dir(&geojson).expect("read the export"), &data, "PostGIS exported as GeoJSON");

    let gpkg = dir.path().join("out.gpkg");
    gridmap_ok(&pg, &["export", path_str(&gpkg)]);
    assert_eq!(ogrinfo_counts(&gpkg), expected_counts(&data), "ogrinfo lists every layer with its count");
    assert_same(&load_gpkg(&gpkg).await, &data, "PostGIS exported as a GeoPackage");

    // Back in, over different data: the GeoPackage replaces it entirely.
    let other = generate(&GenParams { seed: 12, grids: Some(12) }, &|_, _, _| {});
    store.replace_all(&other).await.expect("write other data");
    gridmap_ok(&pg, &["import", path_str(&gpkg)]);
    assert_same(&store.load().await.expect("load"), &data, "the GeoPackage imported back into PostGIS");
}

#[tokio::test]
async fn one_layer_replaces_only_that_layer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = city();
    let gpkg = dir.path().join("store.gpkg");
    let store = GpkgStore::open(&gpkg).await.expect("open");
    store.replace_all(&data).await.expect("seed the store");
    store.close().await;

    let mut renamed = data.clone();
    for g in &mut renamed.grids {
        g.name = format!("{}（新）", g.name);
    }
    let file = dir.path().join("grids.geojson");
    let text = gridmap::model::geojson::write_feature_collection(renamed.features(LayerKind::Grids));
    std::fs::write(&file, text).expect("write grids.geojson");
    // No --layer: the file name says it.
    let out = gridmap_ok(&StoreAt::Gpkg(gpkg.clone()), &["import", path_str(&file)]);
    assert!(out.starts_with("imported grids into gpkg"), "{out}");
    assert_same(&load_gpkg(&gpkg).await, &renamed, "only the grids changed");
}

/// A copy of `data`'s grids layer with five bad features; returns the file's text and the
/// labels `gridmap import` must name.
fn bad_grids(data: &Dataset) -> (String, Vec<String>) {
    let mut features: Vec<Value> = data.features(LayerKind::Grids).iter().map(|f| f.to_json()).collect();
    let label = |f: &Value| format!("feature {}", f["id"]);
    let mut labels = Vec::new();
    // 0: a bow-tie, whose edges cross.
    features[0]["geometry"] = serde_json::json!({"type": "MultiPolygon", "coordinates":
        [[[[84.80, 45.50], [84.81, 45.51], [84.81, 45.50], [84.80, 45.51], [84.80, 45.50]]]]});
    labels.push(format!("{}: invalid geometry", label(&features[0])));
    // 1: a property missing.
    features[1]["properties"].as_object_mut().map(|p| p.remove("households"));
    labels.push(format!("{}: properties: missing field `households`", label(&features[1])));
    // 2: a ring that is not closed.
    let ring = &mut features[2]["geometry"]["coordinates"][0][0];
    let first = ring[0].clone();
    if let Some(ring) = ring.as_array_mut() {
        ring.push(serde_json::json!([first[0].as_f64().map(|x| x + 0.001), first[1]]));
    }
    labels.push(format!("{}: MultiPolygon, polygon 0, ring 0: a ring must be closed", label(&features[2])));
    // 3: the code of grid 4, twice in the layer.
    let (code4, id4) = (features[4]["properties"]["code"].clone(), features[4]["id"].clone());
    features[3]["properties"]["code"] = code4;
    features[3]["id"] = id4;
    labels.push(format!("{}: appears 2 times", label(&features[4])));
    // 5: under a community that does not exist.
    // Community 399 of subdistrict 001: a well-formed code nobody uses.
    let orphan = format!("{}00139901", data.district.code);
    features[5]["properties"]["code"] = orphan.clone().into();
    features[5]["id"] = orphan.clone().into();
    labels.push(format!("feature \"{orphan}\": its community {} does not exist", &orphan[..12]));
    let text = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
    (text, labels)
}

/// Imports the bad grids into `at`, which holds `data`: every planted problem is named, the
/// exit status is non-zero, and stdout claims nothing.
fn import_bad_grids(at: &StoreAt, data: &Dataset, dir: &Path) {
    let (bad, labels) = bad_grids(data);
    let file = dir.join("grids.geojson");
    std::fs::write(&file, bad).expect("write the bad file");
    let out = gridmap(at, &["import", path_str(&file), "--layer", "grids"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a file with bad features must fail:\n{}", text(&out));
    assert!(stderr.contains("nothing was written"), "says nothing was written:\n{stderr}");
    for label in &labels {
        assert!(stderr.contains(label), "the problem of {label:?} is reported:\n{stderr}");
    }
    assert!(out.stdout.is_empty(), "nothing claims success:\n{}", text(&out));
}

#[tokio::test]
async fn every_bad_feature_is_reported_and_the_geopackage_is_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = city();
    let gpkg = dir.path().join("store.gpkg");
    let store = GpkgStore::open(&gpkg).await.expect("open");
    store.replace_all(&data).await.expect("seed the store");
    store.close().await;

    import_bad_grids(&StoreAt::Gpkg(gpkg.clone()), &data, dir.path());
    assert_same(&load_gpkg(&gpkg).await, &data, "the GeoPackage holds what it held");
}

#[tokio::test]
async fn every_bad_feature_is_reported_and_postgis_is_unchanged() {
    let (store, db) = common::pg::fresh_database().await;
    let data = city();
    store.replace_all(&data).await.expect("seed the database");
    let changes = |store: &gridmap::store::postgis::PgStore| {
        let pool = store.pool().clone();
        async move { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM change_log").fetch_one(&pool).await }
    };
    let before = changes(&store).await.expect("count changes");
    let dir = tempfile::tempdir().expect("temp dir");

    import_bad_grids(&StoreAt::Postgis(db.url.clone()), &data, dir.path());
    assert_same(&store.load().await.expect("load"), &data, "the database holds what it held");
    assert_eq!(changes(&store).await.expect("count changes"), before, "no change was logged (nor notified)");
}

#[tokio::test]
async fn export_never_overwrites_a_geopackage_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = city();
    let gpkg = dir.path().join("store.gpkg");
    let store = GpkgStore::open(&gpkg).await.expect("open");
    store.replace_all(&data).await.expect("seed the store");
    store.close().await;
    let at = StoreAt::Gpkg(gpkg);

    let target = dir.path().join("taken.gpkg");
    std::fs::write(&target, "precious").expect("write");
    let out = gridmap(&at, &["export", path_str(&target)]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--force"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "precious", "the file is untouched");
    gridmap_ok(&at, &["export", "--force", path_str(&target)]);
    assert_same(&load_gpkg(&target).await, &data, "with --force the file is replaced");

    let missing = StoreAt::Gpkg(dir.path().join("nowhere.gpkg"));
    let out = gridmap(&missing, &["export", path_str(&dir.path().join("x"))]);
    assert!(!out.status.success(), "exporting a store that does not exist fails:\n{}", text(&out));
    assert!(!dir.path().join("nowhere.gpkg").exists(), "and does not create it");
}
