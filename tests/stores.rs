//! The store conformance suite: the same checks run against every [`Store`].
//!
//! Each check is a generic `async fn(&dyn Store)` in [`checks`]; `store_suite!(name, fresh)`
//! expands to `mod name` with one `#[tokio::test]` per check, each on its own fresh, empty store.
//! Adding a store is one line, for example
//!
//! ```ignore
//! store_suite!(postgis, common::pg::fresh_database().await);
//! ```
//!
//! where the second argument is an expression, evaluated inside each `async` test (so it may
//! `.await`), that gives a [`Fresh`] or a `(store, guard)` pair: the guard is whatever must outlive
//! the store (a temporary directory, a throw-away database). Everything in this file is in scope.
//!
//! The fixture is hand-made (two grids, one feature of each kind, Chinese names, coordinates whose
//! decimal forms are long) so that it does not depend on the generator.
//! GeoPackage-only behaviour (seeding, the file format) is tested at the end of the file.

use chrono::{DateTime, TimeZone, Utc};
use geo::{LineString, MultiPolygon, Point, Polygon};
use gridmap::model::{
    AccessPoint, Building, Code, Compound, Dataset, DistrictInfo, Entrance, Force, GateKind, Passer, Region, Responder,
    ResponderKind, Schedule, Staff, StaffRole, StandardAddress, TravelMode,
};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::{Store, StoreError};

// Throw-away PostGIS databases (`common::pg`), for the PostGIS instance of the suite.
#[allow(dead_code)]
mod common;

/// A store under test and whatever must live as long as it (a temp dir, a test database guard;
/// `()` when nothing must).
pub struct Fresh {
    pub store: Box<dyn Store>,
    _guard: Box<dyn std::any::Any + Send>,
}

impl Fresh {
    /// A store with `guard` dropped only after the test (e.g. a `tempfile::TempDir`).
    pub fn with_guard(store: impl Store, guard: impl std::any::Any + Send) -> Fresh {
        Fresh { store: Box::new(store), _guard: Box::new(guard) }
    }
}

impl<S: Store, G: std::any::Any + Send> From<(S, G)> for Fresh {
    fn from((store, guard): (S, G)) -> Fresh {
        Fresh::with_guard(store, guard)
    }
}

/// Expands to `mod $name` with one `#[tokio::test]` per check in [`checks`], each calling the
/// check on the store that `$fresh` (an expression that may `.await`) creates for it.
macro_rules! store_suite {
    ($name:ident, $fresh:expr) => {
        store_suite!(@expand $name, $fresh;
            ping_answers,
            load_of_empty_store_is_an_empty_error,
            empty_dataset_round_trips,
            replace_all_then_load_round_trips,
            replace_all_replaces_everything,
            replace_all_is_atomic_on_bad_data,
            unicode_names_survive,
            load_returns_current_region_versions,
        );
    };
    (@expand $name:ident, $fresh:expr; $($check:ident),+ $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $check() {
                    let fresh: Fresh = ($fresh).into();
                    super::checks::$check(&*fresh.store).await;
                }
            )+
        }
    };
}

/// A fresh GeoPackage in its own temporary directory (removed when the test ends).
async fn fresh_gpkg() -> (GpkgStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = GpkgStore::open(&dir.path().join("gridmap.gpkg")).await.expect("a new GeoPackage opens");
    (store, dir)
}

store_suite!(gpkg, fresh_gpkg().await);

// ---------------------------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------------------------

fn code(s: &str) -> Code {
    Code::parse(s).expect("fixture codes are valid")
}

fn at(y: i32, mo: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, 0, 0, 0).single().expect("a valid date")
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    Polygon::new(LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]), vec![])
}

fn region(c: &str, name: &str, households: u32, geometry: MultiPolygon<f64>) -> Region {
    Region {
        code: code(c),
        name: name.into(),
        households,
        population: households * 5 / 2,
        valid_from: at(2026, 1, 1),
        valid_to: None,
        version: 1,
        geometry,
    }
}

/// One district, one subdistrict, one community of two grids, and one feature of every other kind.
/// Coordinates are EPSG:4326 around Karamay (84.87 E, 45.60 N); some have 17 significant digits
/// so that any decimal rounding on the way would show.
pub fn fixture() -> Dataset {
    let west = rect(84.85, 45.58, 84.873_456_789_012_34, 45.62);
    let east = rect(84.873_456_789_012_34, 45.58, 84.90, 45.62);
    let whole = rect(84.85, 45.58, 84.90, 45.62);
    // A compound with a courtyard hole, to carry an interior ring.
    let compound = Polygon::new(
        LineString::from(vec![(84.86, 45.59), (84.87, 45.59), (84.87, 45.60), (84.86, 45.60), (84.86, 45.59)]),
        vec![LineString::from(vec![(84.864, 45.594), (84.866, 45.594), (84.866, 45.596), (84.864, 45.594)])],
    );
    let mut ds = Dataset::empty(DistrictInfo {
        code: code("650203"),
        name: "克拉玛依区".into(),
        prefix: "新疆维吾尔自治区克拉玛依市".into(),
        grid_width: 2,
    });
    ds.subdistricts = vec![region("650203001", "昆仑路街道", 420, MultiPolygon(vec![whole.clone()]))].into();
    ds.communities = vec![region("650203001001", "前进社区", 420, MultiPolygon(vec![whole]))].into();
    ds.grids = vec![
        // Two parts, to carry a real MultiPolygon.
        region("65020300100101", "前进社区第一网格", 210, MultiPolygon(vec![west, rect(84.80, 45.50, 84.81, 45.51)])),
        region("65020300100102", "前进社区第二网格", 210, MultiPolygon(vec![east])),
    ]
    .into();
    ds.compounds = vec![Compound {
        id: 1,
        community: code("650203001001"),
        name: "阳光小区".into(),
        gated: true,
        geometry: compound,
    }]
    .into();
    ds.access_points = vec![
        AccessPoint {
            id: 1,
            compound_id: 1,
            name: "南门".into(),
            kind: GateKind::Both,
            passes: vec![Passer::Residents, Passer::Police],
            hours: Schedule::parse("06:00-23:00").expect("a valid schedule"),
            has_device: true,
            location: Point::new(84.865, 45.59),
        },
        AccessPoint {
            id: 2,
            compound_id: 1,
            name: "北门（消防通道）".into(),
            kind: GateKind::Vehicle,
            passes: vec![],
            hours: Schedule::never(),
            has_device: false,
            location: Point::new(84.865, 45.60),
        },
    ]
    .into();
    ds.buildings = vec![
        Building {
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
            units: 2,
            households: 36,
            population: 90,
            geometry: rect(84.861, 45.591, 84.862, 45.5915),
        },
        // Along a road: every optional field is None.
        Building {
            id: 2,
            compound_id: None,
            address: StandardAddress {
                road: "友谊路".into(), door_number: 7, compound: None, building_number: None
            },
            address_text: "克拉玛依区友谊路7号".into(),
            floors: 2,
            units: 1,
            households: 4,
            population: 9,
            geometry: rect(84.88, 45.61, 84.8805, 45.6103),
        },
    ]
    .into();
    ds.entrances = vec![Entrance { id: 1, building_id: 1, unit: 1, location: Point::new(84.8615, 45.591) }].into();
    ds.responders = vec![Responder {
        id: 1,
        kind: ResponderKind::JointDefence,
        name: "前进社区联防队".into(),
        mode: TravelMode::Ebike,
        headcount: 4,
        duty: Schedule::parse("20:00-06:00").expect("a valid schedule"),
        // Neither coordinate has a short decimal form: 84.80000000000001 and one ulp above 45.6.
        location: Point::new(0.1 + 0.2 + 84.5, f64::from_bits(45.6_f64.to_bits() + 1)),
    }]
    .into();
    ds.staff = vec![
        Staff {
            id: 1,
            name: "王建国".into(),
            role: StaffRole::GridLeader,
            force: Force::CommunityWorker,
            phone: "13900000001".into(),
            grids: vec![code("65020300100101"), code("65020300100102")],
        },
        Staff {
            id: 2,
            name: "阿依古丽·买买提".into(),
            role: StaffRole::GridStaff,
            force: Force::CommunityPolice,
            phone: "13900000002".into(),
            grids: vec![code("65020300100102")],
        },
    ]
    .into();
    ds
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

/// The contract every store meets. Each check starts from a fresh, empty store.
pub mod checks {
    use super::*;

    pub async fn ping_answers(store: &dyn Store) {
        store.ping().await.expect("a freshly opened store answers ping");
        assert!(!store.kind().is_empty(), "kind() names the store for logs and /healthz");
    }

    /// Nothing written yet: `load` is an `Empty` error (not a panic, not a made-up dataset),
    /// so the caller can tell it to seed or import.
    pub async fn load_of_empty_store_is_an_empty_error(store: &dyn Store) {
        match store.load().await {
            Err(StoreError::Empty(msg)) => assert!(msg.contains("import"), "the message says what to do: {msg}"),
            other => panic!("an empty store must fail with StoreError::Empty, got {other:?}"),
        }
    }

    pub async fn empty_dataset_round_trips(store: &dyn Store) {
        let empty = Dataset::empty(fixture().district);
        store.replace_all(&empty).await.expect("an empty dataset is written");
        assert_eq!(store.load().await.expect("load"), empty, "a district without features is still a dataset");
    }

    pub async fn replace_all_then_load_round_trips(store: &dyn Store) {
        let ds = fixture();
        store.replace_all(&ds).await.expect("the fixture is written");
        let back = store.load().await.expect("the fixture is read back");
        // Field by field first, for a readable failure; then the whole.
        assert_eq!(back.district, ds.district);
        assert_eq!(back.grids, ds.grids, "grids, with both parts of grid 01 and exact coordinates");
        assert_eq!(back.compounds, ds.compounds, "the compound keeps its interior ring");
        assert_eq!(back.access_points, ds.access_points, "gate lists, schedules and booleans survive");
        assert_eq!(back.buildings, ds.buildings, "optional address fields stay None where None");
        assert_eq!(back.responders, ds.responders);
        assert_eq!(back.staff, ds.staff, "staff with several grids");
        assert_eq!(back, ds, "load gives back exactly what replace_all wrote, in the same order");
        let x = back.responders[0].location.x();
        assert_eq!(x.to_bits(), ds.responders[0].location.x().to_bits(), "coordinates are bit-exact");
    }

    /// A second write leaves nothing of the first behind.
    pub async fn replace_all_replaces_everything(store: &dyn Store) {
        store.replace_all(&fixture()).await.expect("first write");
        let mut smaller = fixture();
        smaller.district.name = "独山子区".into();
        smaller.grids.truncate(1);
        smaller.buildings.clear();
        smaller.entrances.clear();
        smaller.staff.truncate(1);
        smaller.staff[0].grids.truncate(1);
        store.replace_all(&smaller).await.expect("second write");
        assert_eq!(store.load().await.expect("load"), smaller, "only the second dataset remains");
    }

    /// A write that fails part-way (a duplicate key, found by the database only after earlier
    /// layers were already rewritten) changes nothing: the first dataset is still all there.
    pub async fn replace_all_is_atomic_on_bad_data(store: &dyn Store) {
        let good = fixture();
        store.replace_all(&good).await.expect("the good dataset is written");

        let mut renamed = fixture();
        renamed.district.name = "不应写入".into();
        renamed.grids[0].name = "不应写入的网格".into();
        // Staff come last in the GeoPackage: everything else is rewritten before this fails.
        let mut dup_staff = renamed.clone();
        dup_staff.staff[1].id = dup_staff.staff[0].id;
        // The same grid code and version twice: the key of a region layer.
        let mut dup_grid = renamed.clone();
        dup_grid.grids[1].code = dup_grid.grids[0].code.clone();
        let mut dup_entrance = renamed;
        let first = dup_entrance.entrances[0].clone();
        dup_entrance.entrances.push(first);

        for (what, bad) in [("staff id", dup_staff), ("grid code", dup_grid), ("entrance id", dup_entrance)] {
            let result = store.replace_all(&bad).await;
            assert!(result.is_err(), "a duplicate {what} must be refused");
            let back = store.load().await.expect("the store still loads after a failed write");
            assert_eq!(back, good, "after a refused write (duplicate {what}) the first dataset is intact");
        }
    }

    pub async fn unicode_names_survive(store: &dyn Store) {
        let mut ds = fixture();
        // CJK extension B (4-byte UTF-8), a combining mark, an emoji, quotes and SQL-looking text.
        let names =
            ["𠀀𪚥网格", "é́ 社区", "🚒 消防站", "O'Brien \"引号\" 小区", "'); DROP TABLE grids; --", "换行\n制表\t"];
        ds.grids[0].name = names[0].into();
        ds.communities[0].name = names[1].into();
        ds.responders[0].name = names[2].into();
        ds.compounds[0].name = names[3].into();
        ds.access_points[0].name = names[4].into();
        ds.staff[0].name = names[5].into();
        ds.district.prefix = "新疆维吾尔自治区克拉玛依市 ئۈرۈمچی".into();
        store.replace_all(&ds).await.expect("unicode names are written");
        let back = store.load().await.expect("load");
        assert_eq!(back.grids[0].name, names[0]);
        assert_eq!(back.staff[0].name, names[5]);
        assert_eq!(back, ds, "every name comes back byte for byte");
    }

    /// Region layers keep history: a dataset may hold closed versions (`valid_to` set) beside
    /// the current one. They are accepted, `load` returns the current versions only (the map as
    /// it is now), and two current versions of one code are refused. Timestamps carry
    /// microseconds, the finest PostgreSQL keeps.
    pub async fn load_returns_current_region_versions(store: &dyn Store) {
        let mut ds = fixture();
        let changed = at(2026, 3, 1) + chrono::Duration::microseconds(123_456);
        let old =
            Region { valid_to: Some(changed), name: "前进社区第一网格（旧）".into(), ..ds.grids[0].clone() };
        ds.grids[0].version = 2;
        ds.grids[0].valid_from = changed;
        let current = ds.clone();
        ds.grids.insert(0, old);
        store.replace_all(&ds).await.expect("two versions of one grid are written");
        assert_eq!(store.load().await.expect("load"), current, "the closed version is history, not the map");

        let mut two_current = ds.clone();
        two_current.grids[0].valid_to = None;
        assert!(store.replace_all(&two_current).await.is_err(), "a code has at most one current version");
        assert_eq!(store.load().await.expect("load"), current, "and the refused write changed nothing");
    }
}

// ---------------------------------------------------------------------------------------------
// GeoPackage only: seeding and the file itself
// ---------------------------------------------------------------------------------------------

mod gpkg_file {
    use super::*;
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection, Row};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn open_or_seed_seeds_once_and_keeps_edits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("var/gridmap.gpkg");
        let calls = AtomicUsize::new(0);
        let seed = || {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(fixture())
        };
        let store = GpkgStore::open_or_seed(&path, seed).await.expect("first start creates the file");
        assert_eq!(store.load().await.expect("load"), fixture());
        let mut edited = fixture();
        edited.grids[1].name = "编辑后的网格".into();
        store.replace_all(&edited).await.expect("edit");
        store.close().await;

        let again = GpkgStore::open_or_seed(&path, seed).await.expect("second start opens the file");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the seed runs on first start only");
        assert_eq!(again.load().await.expect("load"), edited, "edits survive a restart");
    }

    #[tokio::test]
    async fn a_failing_seed_leaves_an_empty_file_that_seeds_next_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gridmap.gpkg");
        let err = GpkgStore::open_or_seed(&path, || Err(StoreError::Invalid("generator failed".into())))
            .await
            .expect_err("the seed's error is returned");
        assert!(err.to_string().contains("generator failed"), "{err}");
        let store = GpkgStore::open_or_seed(&path, || Ok(fixture())).await.expect("retry");
        assert_eq!(store.load().await.expect("load"), fixture());
    }

    #[tokio::test]
    async fn the_file_is_a_geopackage_with_registered_layers_and_extents() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gridmap.gpkg");
        let store = GpkgStore::open(&path).await.expect("open");
        store.replace_all(&fixture()).await.expect("write");
        store.close().await;

        let mut conn = SqliteConnectOptions::new().filename(&path).read_only(true).connect().await.expect("raw open");
        let app_id: i64 = sqlx::query_scalar("PRAGMA application_id").fetch_one(&mut conn).await.expect("pragma");
        assert_eq!(app_id, 0x4750_4B47, "application_id spells GPKG");
        let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut conn).await.expect("pragma");
        assert_eq!(version, 10300, "GeoPackage 1.3.0");
        let srs: Vec<i64> = sqlx::query_scalar("SELECT srs_id FROM gpkg_spatial_ref_sys ORDER BY srs_id")
            .fetch_all(&mut conn)
            .await
            .expect("srs");
        assert_eq!(srs, [-1, 0, 4326], "the three rows GeoPackage requires");
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut conn).await.expect("pragma");
        assert_eq!(journal, "delete", "one self-contained file, no -wal beside it");

        let rows = sqlx::query(
            "SELECT c.table_name, c.data_type, g.geometry_type_name, g.srs_id, c.min_x, c.max_x, c.min_y, c.max_y
             FROM gpkg_contents c LEFT JOIN gpkg_geometry_columns g USING (table_name) ORDER BY c.table_name",
        )
        .fetch_all(&mut conn)
        .await
        .expect("contents");
        let listed: Vec<(String, String, Option<String>)> =
            rows.iter().map(|r| (r.get("table_name"), r.get("data_type"), r.get("geometry_type_name"))).collect();
        let want = |t: &str, d: &str, g: Option<&str>| (t.to_string(), d.to_string(), g.map(str::to_string));
        assert_eq!(
            listed,
            [
                want("access_points", "features", Some("POINT")),
                want("buildings", "features", Some("POLYGON")),
                want("communities", "features", Some("MULTIPOLYGON")),
                want("compounds", "features", Some("POLYGON")),
                want("entrances", "features", Some("POINT")),
                want("gridmap_district", "attributes", None),
                want("grids", "features", Some("MULTIPOLYGON")),
                want("responders", "features", Some("POINT")),
                want("staff", "attributes", None),
                want("subdistricts", "features", Some("MULTIPOLYGON")),
            ]
        );
        let grids = rows.iter().find(|r| r.get::<String, _>("table_name") == "grids").expect("grids row");
        let extent: [f64; 4] = [grids.get("min_x"), grids.get("max_x"), grids.get("min_y"), grids.get("max_y")];
        assert_eq!(extent, [84.80, 84.90, 45.50, 45.62], "the extent covers both parts of grid 01");
        assert_eq!(grids.get::<i64, _>("srs_id"), 4326);
    }

    #[tokio::test]
    async fn files_that_are_not_geopackages_are_refused_clearly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = dir.path().join("notes.gpkg");
        std::fs::write(&text, "这不是数据库, just text that is long enough to look like a header....").expect("write");
        let err = GpkgStore::open(&text).await.expect_err("a text file is not a GeoPackage");
        assert!(matches!(err, StoreError::File { .. }), "{err:?}");

        let other = dir.path().join("other.sqlite");
        let mut conn =
            SqliteConnectOptions::new().filename(&other).create_if_missing(true).connect().await.expect("sqlite");
        sqlx::query("CREATE TABLE t (x)").execute(&mut conn).await.expect("create");
        conn.close().await.expect("close");
        let err = GpkgStore::open(&other).await.expect_err("an unrelated SQLite database is not ours to change");
        assert!(err.to_string().contains("not a GeoPackage"), "{err}");
    }
}

store_suite!(postgis, common::pg::fresh_database().await);
