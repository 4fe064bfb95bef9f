//! The GeoPackage as real GIS clients see it: GDAL's `ogrinfo` (Debian `gdal-bin`, GDAL 3.6) must
//! list every layer with its geometry type and feature count, read the attribute values back
//! (Chinese text included) without a warning, and GDAL's own GeoPackage validator must accept
//! the file. QGIS reads GeoPackages through the same GDAL driver.
//!
//! These tests need `ogrinfo`; where it is missing they fail and say how to install it, rather
//! than pass without checking anything.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{TimeZone, Utc};
use geo::{LineString, MultiPolygon, Point, Polygon};
use gridmap::model::{
    AccessPoint, Building, Code, Compound, Dataset, DistrictInfo, Entrance, Force, GateKind, Passer, Region, Responder,
    ResponderKind, Schedule, Staff, StaffRole, StandardAddress, TravelMode,
};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::Store;

const INSTALL: &str = "install GDAL's command-line tools: `apt-get install gdal-bin`";

fn code(s: &str) -> Code {
    Code::parse(s).expect("fixture codes are valid")
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    Polygon::new(LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]), vec![])
}

fn region(c: &str, name: &str, geometry: Polygon<f64>) -> Region {
    Region {
        code: code(c),
        name: name.into(),
        households: 100,
        population: 250,
        valid_from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("a valid date"),
        valid_to: None,
        version: 1,
        geometry: MultiPolygon(vec![geometry]),
    }
}

/// A small dataset with one feature per layer (two grids), EPSG:4326 around Karamay.
/// (tests/stores.rs has the fuller fixture; this one only needs to reach GDAL.)
fn dataset() -> Dataset {
    let mut ds = Dataset::empty(DistrictInfo {
        code: code("650203"),
        name: "克拉玛依区".into(),
        prefix: "新疆维吾尔自治区克拉玛依市".into(),
        grid_width: 2,
    });
    ds.subdistricts = vec![region("650203001", "昆仑路街道", rect(84.85, 45.58, 84.90, 45.62))].into();
    ds.communities = vec![region("650203001001", "前进社区", rect(84.85, 45.58, 84.90, 45.62))].into();
    ds.grids = vec![
        region("65020300100101", "前进社区第一网格", rect(84.85, 45.58, 84.875, 45.62)),
        region("65020300100102", "前进社区第二网格", rect(84.875, 45.58, 84.90, 45.62)),
    ]
    .into();
    ds.compounds = vec![Compound {
        id: 1,
        community: code("650203001001"),
        name: "阳光小区".into(),
        gated: true,
        geometry: rect(84.86, 45.59, 84.87, 45.60),
    }]
    .into();
    ds.access_points = vec![AccessPoint {
        id: 1,
        compound_id: 1,
        name: "南门".into(),
        kind: GateKind::Pedestrian,
        passes: vec![Passer::Residents, Passer::Police],
        hours: Schedule::parse("06:00-23:00").expect("a valid schedule"),
        has_device: true,
        location: Point::new(84.865, 45.59),
    }]
    .into();
    ds.buildings = vec![Building {
        id: 1,
        compound_id: Some(1),
        address: StandardAddress {
            road: "准噶尔路".into(),
            door_number: 58,
            compound: Some("阳光小区".into()),
            building_number: Some(3),
        },
        address_text: "克拉玛依区准噶尔路58号阳光小区3栋".into(),
        floors: 6,
        units: 1,
        households: 18,
        population: 45,
        geometry: rect(84.861, 45.591, 84.862, 45.5915),
    }]
    .into();
    ds.entrances = vec![Entrance { id: 1, building_id: 1, unit: 1, location: Point::new(84.8615, 45.591) }].into();
    ds.responders = vec![Responder {
        id: 1,
        kind: ResponderKind::PolicePost,
        name: "前进警务站".into(),
        mode: TravelMode::Run,
        headcount: 2,
        duty: Schedule::always(),
        location: Point::new(84.87, 45.60),
    }]
    .into();
    ds.staff = vec![Staff {
        id: 1,
        name: "王建国".into(),
        role: StaffRole::GridLeader,
        force: Force::CommunityWorker,
        phone: "13900000001".into(),
        grids: vec![code("65020300100101")],
    }]
    .into();
    ds
}

/// Writes the dataset into a new GeoPackage and returns the open store (still open, as in a
/// running server: GDAL must read the file meanwhile) and the file.
async fn written() -> (tempfile::TempDir, GpkgStore, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("gridmap.gpkg");
    let store = GpkgStore::open(&path).await.expect("a new GeoPackage");
    store.replace_all(&dataset()).await.expect("the dataset is written");
    (dir, store, path)
}

/// Runs a GDAL tool; fails (never skips) when it is missing, and on any GDAL warning or error,
/// since those mean the file is not quite what the standard says.
fn run(program: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}); {INSTALL}"));
    let stdout = String::from_utf8(out.stdout).expect("GDAL prints UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}); if GDAL is missing, {INSTALL}:\n{stderr}\n{stdout}",
        out.status
    );
    assert!(!stderr.contains("Warning") && !stderr.contains("ERROR"), "GDAL complained about the file:\n{stderr}");
    stdout
}

/// `ogrinfo -so -al` output split into (layer name, geometry, feature count).
fn layer_summaries(text: &str) -> Vec<(String, String, u64)> {
    text.split("Layer name: ")
        .skip(1)
        .map(|block| {
            let name = block.lines().next().unwrap_or_default().trim().to_string();
            let field = |key: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .unwrap_or_else(|| panic!("layer {name}: no {key:?} line in\n{block}"))
                    .trim()
                    .to_string()
            };
            let count = field("Feature Count:").parse().expect("a feature count");
            let geometry = field("Geometry:");
            (name, geometry, count)
        })
        .collect()
}

#[tokio::test]
async fn ogrinfo_lists_every_layer_with_its_geometry_type() {
    let (_dir, _store, path) = written().await;
    let out = run("ogrinfo", &["-ro", "-so"], &path);
    for (layer, geometry) in [
        ("subdistricts", "Multi Polygon"),
        ("communities", "Multi Polygon"),
        ("grids", "Multi Polygon"),
        ("compounds", "Polygon"),
        ("access_points", "Point"),
        ("buildings", "Polygon"),
        ("entrances", "Point"),
        ("responders", "Point"),
        ("staff", "None"),
        ("gridmap_district", "None"),
    ] {
        let line = format!(": {layer} ({geometry})");
        assert!(out.lines().any(|l| l.ends_with(&line)), "ogrinfo should list {line:?}:\n{out}");
    }
    assert!(out.contains("using driver `GPKG'"), "GDAL reads it as a GeoPackage:\n{out}");
}

#[tokio::test]
async fn ogrinfo_counts_the_features_of_every_layer() {
    let (_dir, _store, path) = written().await;
    let summaries = layer_summaries(&run("ogrinfo", &["-ro", "-so", "-al"], &path));
    let s = |n: &str, g: &str, c: u64| (n.to_string(), g.to_string(), c);
    assert_eq!(
        summaries,
        [
            s("subdistricts", "Multi Polygon", 1),
            s("communities", "Multi Polygon", 1),
            s("grids", "Multi Polygon", 2),
            s("compounds", "Polygon", 1),
            s("access_points", "Point", 1),
            s("buildings", "Polygon", 1),
            s("entrances", "Point", 1),
            s("responders", "Point", 1),
            s("staff", "None", 1),
            s("gridmap_district", "None", 1),
        ],
        "one row per feature of the dataset, in layer order"
    );
}

#[tokio::test]
async fn ogrinfo_reads_attribute_values_and_geometries() {
    let (_dir, _store, path) = written().await;
    let out = run("ogrinfo", &["-ro", "-al", "-q"], &path);
    for expected in [
        "name (String) = 前进社区第二网格",
        "code (String) = 65020300100102",
        "parent (String) = 650203001001",
        "valid_from (DateTime) = 2026/01/01 00:00:00+00",
        "address_text (String) = 克拉玛依区准噶尔路58号阳光小区3栋",
        "gated (Integer(Boolean)) = 1",
        r#"passes (String) = ["residents","police"]"#,
        "kind (String) = police_post",
        "name (String) = 王建国",
        "prefix (String) = 新疆维吾尔自治区克拉玛依市",
        "MULTIPOLYGON (((84.875 45.58,84.9 45.58,84.9 45.62,84.875 45.62,84.875 45.58)))",
        "POINT (84.865 45.59)",
    ] {
        assert!(out.contains(expected), "ogrinfo should show `{expected}`:\n{out}");
    }
}

#[tokio::test]
async fn gdal_geopackage_validator_accepts_the_file() {
    let (_dir, store, path) = written().await;
    store.close().await;
    // Ships with gdal-bin (in its dependency python3-gdal), for Debian's own Python: name it,
    // since a python3 earlier on PATH (pyenv, venv) lacks the GDAL bindings.
    let out = run("/usr/bin/python3", &["-m", "osgeo_utils.samples.validate_gpkg"], &path);
    assert!(out.trim().is_empty(), "validate_gpkg prints nothing for a valid file:\n{out}");
}
