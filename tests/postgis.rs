//! What only the PostGIS store has: its schema's constraints, history tables, the change-log
//! notification, the start-up check for PostGIS, and bulk-load speed. The behaviour every store
//! shares is tested by the store suite in `tests/stores.rs`.
//!
//! Needs `GRIDMAP_TEST_DATABASE_URL` (see `tests/common/pg.rs`); without it these tests fail.

mod common;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::pg::{admin_url, empty_database, fresh_database, with_user};
use geo::{LineString, MultiPolygon, Point, Polygon};
use gridmap::index::Snapshot;
use gridmap::model::{
    AccessPoint, Building, Code, Compound, Dataset, DistrictInfo, Entrance, Force, GateKind, Passer, Region, Responder,
    ResponderKind, Schedule, Staff, StaffRole, StandardAddress, TravelMode,
};
use gridmap::store::postgis::PgStore;
use gridmap::store::{Store, StoreError};
use sqlx::postgres::PgListener;
use sqlx::Connection;

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

/// An axis-aligned rectangle, EPSG:4326, counter-clockwise and closed.
fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    let ring = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
    Polygon::new(LineString::from(ring), vec![])
}

fn region(code_text: &str, name: &str, geometry: Polygon<f64>) -> Region {
    Region {
        code: code(code_text),
        name: name.into(),
        households: 210,
        population: 548,
        valid_from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        valid_to: None,
        version: 1,
        geometry: MultiPolygon(vec![geometry]),
    }
}

fn karamay() -> DistrictInfo {
    DistrictInfo {
        code: code("650203"),
        name: "克拉玛依区".into(),
        prefix: "新疆维吾尔自治区克拉玛依市".into(),
        grid_width: 2,
    }
}

/// One of every layer, with coordinates that are not round numbers (so that a lossy float
/// conversion anywhere would show) and layers deliberately not in id order (so that a store
/// sorting by id instead of keeping the written order would show).
fn small_dataset() -> Dataset {
    let (x0, y0, xm, x1, y1) = (84.812_345_678_901_23, 45.551_234_567_890_1, 84.85, 84.9, 45.65);
    let mut d = Dataset::empty(karamay());
    d.subdistricts = vec![region("650203001", "胜利路街道", rect(x0, y0, x1, y1))].into();
    d.communities = vec![region("650203001001", "前进社区", rect(x0, y0, x1, y1))].into();
    d.grids = vec![
        region("65020300100102", "前进社区第二网格", rect(xm, y0, x1, y1)),
        region("65020300100101", "前进社区第一网格", rect(x0, y0, xm, y1)),
    ]
    .into();
    d.compounds = vec![Compound {
        id: 7,
        community: code("650203001001"),
        name: "阳光小区".into(),
        gated: true,
        geometry: rect(84.82, 45.56, 84.83, 45.57),
    }]
    .into();
    d.access_points = vec![AccessPoint {
        id: 3,
        compound_id: 7,
        name: "南门".into(),
        kind: GateKind::Pedestrian,
        passes: vec![Passer::Residents, Passer::Police],
        hours: Schedule::parse("06:00-23:00").unwrap(),
        has_device: true,
        location: Point::new(84.825, 45.56),
    }]
    .into();
    let address = |compound: Option<&str>, building_number| StandardAddress {
        road: "准噶尔路".into(),
        door_number: 58,
        compound: compound.map(str::to_string),
        building_number,
    };
    d.buildings = vec![
        Building {
            id: 12,
            compound_id: Some(7),
            address: address(Some("阳光小区"), Some(3)),
            address_text: "克拉玛依区准噶尔路58号阳光小区3栋".into(),
            floors: 6,
            units: 2,
            households: 24,
            population: 60,
            geometry: rect(84.822, 45.562, 84.823, 45.563),
        },
        Building {
            id: 11,
            compound_id: None,
            address: address(None, None),
            address_text: "克拉玛依区准噶尔路58号".into(),
            floors: 2,
            units: 1,
            households: 0,
            population: 0,
            geometry: rect(84.86, 45.6, 84.861, 45.601),
        },
    ]
    .into();
    d.entrances = vec![Entrance { id: 1, building_id: 12, unit: 1, location: Point::new(84.8225, 45.562) }].into();
    d.responders = vec![Responder {
        id: 2,
        kind: ResponderKind::PolicePost,
        name: "前进警务站".into(),
        mode: TravelMode::Ebike,
        headcount: 3,
        duty: Schedule::parse("22:00-06:00").unwrap(),
        location: Point::new(84.84, 45.6),
    }]
    .into();
    d.staff = vec![
        Staff {
            id: 5,
            name: "张三".into(),
            role: StaffRole::GridLeader,
            force: Force::CommunityWorker,
            phone: "13800000000".into(),
            grids: vec![code("65020300100102"), code("65020300100101")],
        },
        Staff {
            id: 4,
            name: "李四".into(),
            role: StaffRole::GridStaff,
            force: Force::PartyVolunteer,
            phone: "13900000000".into(),
            grids: vec![],
        },
    ]
    .into();
    d
}

/// `count` grids of 0.001° squares in rows, 80 per community, 250 communities per
/// subdistrict: the shape of a large city.
fn big_dataset(count: usize) -> Dataset {
    let mut d = Dataset::empty(karamay());
    let (per_community, per_subdistrict) = (80, 250);
    for i in 0..count {
        let (g, c) = (i % per_community, i / per_community);
        let (s, c) = (c / per_subdistrict, c % per_subdistrict);
        let sub = format!("650203{:03}", s + 1);
        let com = format!("{sub}{:03}", c + 1);
        if g == 0 {
            if c == 0 {
                d.subdistricts.push(region(&sub, "街道", rect(84.0, 45.0, 85.0, 46.0)));
            }
            d.communities.push(region(&com, "社区", rect(84.0, 45.0, 85.0, 46.0)));
        }
        let (x, y) = (84.0 + (i % 500) as f64 * 0.001, 45.0 + (i / 500) as f64 * 0.001);
        let grid = region(&format!("{com}{:02}", g + 1), "网格", rect(x, y, x + 0.001, y + 0.001));
        d.grids.push(grid);
    }
    d
}

/// The constraint a raw SQL statement violated, or a description of what else happened.
async fn violated(store: &PgStore, sql: &str) -> String {
    match sqlx::query(sql).execute(store.pool()).await {
        Ok(_) => "nothing: the row was accepted".into(),
        Err(sqlx::Error::Database(e)) => e.constraint().unwrap_or(e.message()).to_string(),
        Err(e) => e.to_string(),
    }
}

fn invalid_message(result: Result<(), StoreError>) -> String {
    match result {
        Err(StoreError::Invalid(m)) => m,
        other => panic!("expected StoreError::Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn layers_come_back_in_written_order_not_id_order() {
    let (store, _db) = fresh_database().await;
    assert_eq!(store.kind(), "postgis");
    store.ping().await.unwrap();
    let data = small_dataset();
    store.replace_all(&data).await.unwrap();
    let back = store.load().await.unwrap();
    assert_eq!(back, data, "WKB is exact and `ord` keeps the order, so load gives back the input");
    // Replacing again (with less) leaves exactly the new data.
    let mut less = data.clone();
    less.staff.clear();
    less.buildings.remove(1);
    store.replace_all(&less).await.unwrap();
    assert_eq!(store.load().await.unwrap(), less);
}

#[tokio::test]
async fn history_keeps_every_version_and_load_returns_the_current_ones() {
    let (store, _db) = fresh_database().await;
    let mut data = small_dataset();
    let t = |y| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap();
    // Grid 01 had a first version until 2026; grid 03 existed 2025-2026 and was retired.
    let mut old = data.grids[1].clone();
    (old.valid_from, old.valid_to) = (t(2025), Some(t(2026)));
    data.grids[1].version = 2;
    let mut retired = region("65020300100103", "旧网格", rect(84.8, 45.5, 84.81, 45.51));
    (retired.valid_from, retired.valid_to) = (t(2025), Some(t(2026)));
    data.grids.push(old);
    data.grids.push(retired);
    store.replace_all(&data).await.unwrap();

    let loaded = store.load().await.unwrap();
    let codes: Vec<_> = loaded.grids.iter().map(|g| (g.code.to_string(), g.version)).collect();
    assert_eq!(
        codes,
        [("65020300100102".to_string(), 1), ("65020300100101".to_string(), 2)],
        "load returns current versions only"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM grids").fetch_one(store.pool()).await.unwrap();
    assert_eq!(rows, 4, "all versions are stored");
    let retired_at: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT retired_at FROM grid_codes WHERE code = '65020300100103'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(retired_at, Some(t(2026)), "a code with no current version is retired at its end");
    // As-of query: which version was in force in mid-2025.
    let as_of: Vec<(String, i32)> = sqlx::query_as(
        "SELECT code, version FROM grids
         WHERE valid_from <= '2025-06-01' AND (valid_to IS NULL OR valid_to > '2025-06-01')
         ORDER BY code",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(as_of, [("65020300100101".into(), 1), ("65020300100103".into(), 1)]);

    // A retired code never gets a current version again.
    let reuse = "INSERT INTO grids (code, version, community_code, name, households, population,
                                    valid_from, ord, geom)
                 VALUES ('65020300100103', 2, '650203001001', 'x', 0, 0, '2027-01-01', 9,
                         ST_GeomFromText('MULTIPOLYGON(((84.8 45.5,84.81 45.5,84.81 45.51,84.8 45.5)))', 4326))";
    assert_eq!(violated(&store, reuse).await, "grids_code_not_retired");
    // Two versions valid at once.
    let overlap = "INSERT INTO grids (code, version, community_code, name, households, population,
                                      valid_from, valid_to, ord, geom)
                   VALUES ('65020300100101', 3, '650203001001', 'x', 0, 0, '2025-06-01', '2025-07-01', 9,
                           ST_GeomFromText('MULTIPOLYGON(((84.8 45.5,84.81 45.5,84.81 45.51,84.8 45.5)))', 4326))";
    assert_eq!(violated(&store, overlap).await, "grids_no_overlapping_versions");
}

#[tokio::test]
async fn constraints_keep_bad_rows_out_and_are_named() {
    let (store, _db) = fresh_database().await;
    store.replace_all(&small_dataset()).await.unwrap();
    // A new current version 2 of `code` (version 1 being current already, a valid one is refused
    // too: see the last case).
    let grid = |code: &str, community: &str, wkt: &str| {
        format!(
            "INSERT INTO grids (code, version, community_code, name, households, population,
                                valid_from, ord, geom)
             VALUES ('{code}', 2, '{community}', 'x', 0, 0, now(), 9, ST_GeomFromText('{wkt}', 4326))"
        )
    };
    let square = "MULTIPOLYGON(((84.8 45.5,84.81 45.5,84.81 45.51,84.8 45.51,84.8 45.5)))";
    let bowtie = "MULTIPOLYGON(((84.8 45.5,84.81 45.51,84.81 45.5,84.8 45.51,84.8 45.5)))";
    let cases = [
        // Registry rows: the code's form, its parent's existence, the district's grid width.
        ("INSERT INTO community_codes VALUES ('650203001000', '650203001')", "community_codes_code_format"),
        (
            "INSERT INTO grid_codes (code, community_code) VALUES ('65020300900101', '650203009001')",
            "grid_codes_community_known",
        ),
        (
            "INSERT INTO grid_codes (code, community_code) VALUES ('65020300100201', '650203001001')",
            "grid_codes_in_community",
        ),
        (
            "INSERT INTO grid_codes (code, community_code) VALUES ('650203001001003', '650203001001')",
            "grid_codes_width_matches_district",
        ),
        ("INSERT INTO subdistrict_codes VALUES ('650204001', '650204')", "subdistrict_codes_district_known"),
        // Region rows.
        (&grid("65020300100109", "650203001001", square), "grids_code_registered"),
        (&grid("65020300100101", "650203001002", square), "grids_code_in_community"),
        (&grid("65020300100101", "650203001001", bowtie), "grids_geom_valid"),
        (&grid("65020300100101", "650203001001", "MULTIPOLYGON EMPTY"), "grids_geom_not_empty"),
        (&grid("65020300100101", "650203001001", "MULTIPOLYGON(((45 84,46 84,46 95,45 84)))"), "grids_geom_in_range"),
        (&grid("65020300100101", "650203001001", square), "grids_one_current"),
        // Feature rows.
        (
            "INSERT INTO compounds VALUES (8, '650203001009', 'x', true, 0,
                 ST_GeomFromText('POLYGON((84.8 45.5,84.81 45.5,84.81 45.51,84.8 45.5))', 4326))",
            "compounds_community_known",
        ),
        (
            "INSERT INTO access_points VALUES (9, 7, 'x', 'pedestrian', '{public,aliens}', '24h', false, 0,
                 ST_GeomFromText('POINT(84.8 45.5)', 4326))",
            "access_points_passes_known",
        ),
        (
            "INSERT INTO access_points VALUES (9, 7, 'x', 'pedestrian', '{public}', 'always', false, 0,
                 ST_GeomFromText('POINT(84.8 45.5)', 4326))",
            "access_points_hours_format",
        ),
        (
            "INSERT INTO access_points VALUES (9, 99, 'x', 'pedestrian', '{public}', '24h', false, 0,
                 ST_GeomFromText('POINT(84.8 45.5)', 4326))",
            "access_points_compound_known",
        ),
        (
            "INSERT INTO entrances VALUES (9, 99, 1, 0, ST_GeomFromText('POINT(84.8 45.5)', 4326))",
            "entrances_building_known",
        ),
        (
            "INSERT INTO responders VALUES (9, 'army', 'x', 'walk', 1, '24h', 0,
                 ST_GeomFromText('POINT(84.8 45.5)', 4326))",
            "responders_kind_known",
        ),
        ("INSERT INTO staff_grids VALUES (5, '65020300100199', 5)", "staff_grids_grid_known"),
        ("INSERT INTO district VALUES ('650204', 'x', '', 2)", "district_single_row"),
    ];
    for (sql, constraint) in cases {
        assert_eq!(violated(&store, sql).await, constraint, "{sql}");
    }
    // A grid geometry of the wrong type is refused by the typed column.
    let polygon = grid("65020300100101", "650203001001", "POLYGON((84.8 45.5,84.81 45.5,84.81 45.51,84.8 45.5))");
    assert!(violated(&store, &polygon).await.contains("does not match column type"));
    assert_eq!(store.load().await.unwrap(), small_dataset(), "none of the bad rows got in");
}

#[tokio::test]
async fn replace_all_maps_violations_to_invalid_and_changes_nothing() {
    let (store, _db) = fresh_database().await;
    let good = small_dataset();
    store.replace_all(&good).await.unwrap();

    let mut bowtie = good.clone();
    bowtie.grids[0].geometry = MultiPolygon(vec![Polygon::new(
        LineString::from(vec![(84.85, 45.55), (84.9, 45.65), (84.9, 45.55), (84.85, 45.65), (84.85, 45.55)]),
        vec![],
    )]);
    let m = invalid_message(store.replace_all(&bowtie).await);
    assert!(m.starts_with("grids_geom_valid: "), "{m}");
    assert!(m.contains("65020300100102"), "the message names the grid: {m}");

    let mut orphan = good.clone();
    orphan.grids.push(region("65020300100901", "孤儿网格", rect(84.8, 45.5, 84.81, 45.51)));
    let m = invalid_message(store.replace_all(&orphan).await);
    assert!(m.starts_with("grid_codes_community_known: "), "{m}");
    assert!(m.contains("650203001009"), "the message names the missing community: {m}");

    let mut dangling = good.clone();
    dangling.entrances[0].building_id = 99;
    let m = invalid_message(store.replace_all(&dangling).await);
    assert!(m.starts_with("entrances_building_known: "), "{m}");

    let mut too_big = good.clone();
    too_big.grids[0].households = u32::MAX;
    let m = invalid_message(store.replace_all(&too_big).await);
    assert!(m.contains("households"), "{m}");

    assert_eq!(store.load().await.unwrap(), good, "a failed replace_all changes nothing");
}

#[tokio::test]
async fn replace_all_logs_the_change_and_notifies_listeners() {
    let (store, db) = fresh_database().await;
    let mut listener = PgListener::connect(&db.url).await.unwrap();
    listener.listen("gridmap_changes").await.unwrap();
    store.replace_all(&small_dataset()).await.unwrap();
    let note = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a NOTIFY arrives when replace_all commits")
        .unwrap();
    let (id, kind, grids): (i64, String, String) =
        sqlx::query_as("SELECT id, kind, detail->>'grids' FROM change_log ORDER BY id DESC LIMIT 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(note.payload(), id.to_string(), "the payload is the change_log id to catch up from");
    assert_eq!((kind.as_str(), grids.as_str()), ("replace_all", "2"));
}

/// The change-log rows after id `after`: (kind, layer, detail->>'operation').
async fn changes_after(store: &PgStore, after: i64) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query_as("SELECT kind, layer, detail->>'operation' FROM change_log WHERE id > $1 ORDER BY id")
        .bind(after)
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// Planners also write the tables directly (QGIS, psql). Such a write appends one 'direct'
/// change per transaction (whatever it wrote, TRUNCATE included), none when it rolls back, and
/// gridmap's own writes log only themselves. (That an edit logs nothing but its 'edit' entry
/// is also what lets `tests/edit_store.rs` catch up: any other kind makes `edits_after` refuse.)
#[tokio::test]
async fn writes_from_outside_gridmap_are_logged_once_per_transaction() {
    let (store, db) = fresh_database().await;
    store.replace_all(&small_dataset()).await.unwrap();
    assert_eq!(changes_after(&store, 0).await, vec![("replace_all".into(), None, None)]);

    let mut qgis = sqlx::postgres::PgConnection::connect(&format!("{}?application_name=QGIS", db.url)).await.unwrap();
    let mut tx = qgis.begin().await.unwrap();
    sqlx::query("UPDATE buildings SET floors = 7 WHERE id = 12").execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE grids SET name = '前进社区一网格' WHERE code = '65020300100101' AND valid_to IS NULL")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("DELETE FROM entrances WHERE id = 1").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        changes_after(&store, 1).await,
        vec![("direct".into(), Some("buildings".into()), Some("UPDATE".into()))],
        "one entry for the whole transaction, naming the first table it wrote"
    );
    let (user, application): (String, String) =
        sqlx::query_as("SELECT detail->>'user', detail->>'application' FROM change_log WHERE kind = 'direct'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!((user.as_str(), application.as_str()), ("gridmap", "QGIS"), "the log says who wrote");

    // Rolled back: nothing changed, nothing logged.
    let mut tx = qgis.begin().await.unwrap();
    sqlx::query("UPDATE staff SET name = '王五' WHERE id = 5").execute(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(changes_after(&store, 2).await, vec![]);

    // A later transaction on the same connection is logged again; TRUNCATE counts too. (The
    // rolled-back entry used up an id: numbers may skip, never go back.)
    sqlx::query("TRUNCATE staff_grids").execute(&mut qgis).await.unwrap();
    assert_eq!(
        changes_after(&store, 2).await,
        vec![("direct".into(), Some("staff_grids".into()), Some("TRUNCATE".into()))]
    );

    // And the data gridmap loads is what the direct writes left.
    let loaded = store.load().await.unwrap();
    assert_eq!(loaded.buildings.iter().find(|b| b.id == 12).map(|b| b.floors), Some(7));
    assert!(loaded.entrances.is_empty());
    assert!(loaded.staff.iter().all(|s| s.grids.is_empty()));

    // An import after them logs itself only.
    let before: i64 = sqlx::query_scalar("SELECT max(id) FROM change_log").fetch_one(store.pool()).await.unwrap();
    store.replace_all(&small_dataset()).await.unwrap();
    assert_eq!(changes_after(&store, before).await, vec![("replace_all".into(), None, None)]);
}

/// A running instance answers what a direct write (QGIS, psql) committed: the 'direct' entry's
/// notice makes the follower load everything again.
#[tokio::test]
async fn an_instance_reloads_after_a_direct_write() {
    let (store, db) = fresh_database().await;
    store.replace_all(&small_dataset()).await.unwrap();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);
    let (live, applied) = gridmap::sync::start(&*store).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(gridmap::sync::follow(store.clone(), live.clone(), applied, async {
        let _ = stopped.await;
    }));
    let grid = code("65020300100101");
    assert_eq!(live.load().region(&grid).map(|g| g.name.as_str()), Some("前进社区第一网格"));

    let mut psql = sqlx::postgres::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE grids SET name = '前进社区一网格' WHERE code = '65020300100101' AND valid_to IS NULL")
        .execute(&mut psql)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while live.load().region(&grid).map(|g| g.name.as_str()) != Some("前进社区一网格") {
        assert!(Instant::now() < deadline, "the instance never loaded the direct write");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = live.load();
    assert_eq!((now.generation, now.change_seq), (2, Some(2)), "one reload, for change 2");
    assert_eq!(now.counts(), Snapshot::build(store.load().await.unwrap(), 1).unwrap().counts());
    let _ = stop.send(());
    follower.await.unwrap();
}

/// After a bulk load the planner has statistics (QGIS's queries and gridmap's are planned on
/// real numbers) and the rows are vacuumed: `replace_all` runs VACUUM (ANALYZE) once committed.
#[tokio::test]
async fn replace_all_leaves_the_tables_analyzed() {
    let (store, _db) = fresh_database().await;
    let stats = |table: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() AND tablename = $1",
        )
        .bind(table)
        .fetch_one(store.pool())
    };
    assert_eq!(stats("grids").await.unwrap(), 0, "a fresh database has no statistics yet");
    store.replace_all(&small_dataset()).await.unwrap();
    for table in ["subdistricts", "communities", "grids", "buildings", "entrances", "staff"] {
        assert!(stats(table).await.unwrap() > 0, "{table} has no planner statistics after the import");
    }
}

#[tokio::test]
async fn connect_reports_no_postgis_with_what_to_do() {
    // A database without the extension, and a role that is not a superuser and so may not
    // create it: exactly the situation of a production database nobody prepared.
    let db = empty_database().await;
    let role = format!("gridmap_test_role_{:08x}", rand::random::<u32>());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url()).await.unwrap();
    sqlx::query(&format!("CREATE ROLE {role} LOGIN PASSWORD 'pw'")).execute(&mut admin).await.unwrap();
    let result = PgStore::connect(&with_user(&db.url, &role, "pw")).await;
    drop(db);
    sqlx::query(&format!("DROP ROLE {role}")).execute(&mut admin).await.unwrap();
    match result {
        Err(StoreError::NoPostgis(m)) => {
            assert!(m.contains("CREATE EXTENSION postgis"), "says what to run: {m}");
            assert!(m.contains("superuser") && m.contains(&role), "says why not done: {m}");
        }
        other => panic!("expected NoPostgis, got {:?}", other.map(|_| "a store")),
    }
}

#[tokio::test]
async fn connect_to_nothing_is_unavailable_quickly() {
    let start = Instant::now();
    let result = PgStore::connect("postgres://gridmap:secret@127.0.0.1:1/gridmap").await;
    match result {
        Err(StoreError::Unavailable(m)) => assert!(!m.contains("secret"), "the password is redacted: {m}"),
        other => panic!("expected Unavailable, got {:?}", other.map(|_| "a store")),
    }
    assert!(start.elapsed() < Duration::from_secs(10), "gives up within the acquire timeout");
}

#[tokio::test]
async fn a_hundred_thousand_grids_load_in_seconds() {
    let (store, _db) = fresh_database().await;
    let data = big_dataset(100_000);
    let start = Instant::now();
    store.replace_all(&data).await.unwrap();
    let written = start.elapsed();
    let start = Instant::now();
    let back = store.load().await.unwrap();
    let read = start.elapsed();
    assert_eq!(back.grids.len(), 100_000);
    assert!(back == data, "the big dataset round-trips too");
    // Replacing a full database empties 100,000 rows first.
    let start = Instant::now();
    store.replace_all(&data).await.unwrap();
    let rewritten = start.elapsed();
    eprintln!("100,000 grids: replace_all {written:.2?}, load {read:.2?}, replace_all again {rewritten:.2?}");
    // Generous bounds for a busy 2-core CI machine; typical figures are in the log line.
    let slowest = written.max(rewritten);
    assert!(slowest < Duration::from_secs(60), "replace_all took {slowest:?}");
    assert!(read < Duration::from_secs(30), "load took {read:?}");
}

/// `replace_all` empties tables with TRUNCATE, which older snapshots would see as empty: a
/// `load` running meanwhile must still see the old dataset or the new one, whole.
#[tokio::test]
async fn load_during_replace_all_sees_old_or_new_never_a_mix() {
    let (store, _db) = fresh_database().await;
    let old = big_dataset(20_000);
    let mut new = old.clone();
    new.grids.truncate(10_000);
    new.district.name = "新数据".into();
    store.replace_all(&old).await.unwrap();
    let writer = {
        let (store, new) = (store.clone(), new.clone());
        tokio::spawn(async move { store.replace_all(&new).await })
    };
    let mut seen = (0, 0);
    while !writer.is_finished() || seen == (0, 0) {
        let d = store.load().await.unwrap();
        if d == old {
            seen.0 += 1;
        } else {
            assert!(d == new, "a load saw neither dataset: {} grids", d.grids.len());
            seen.1 += 1;
        }
    }
    writer.await.unwrap().unwrap();
    assert!(store.load().await.unwrap() == new);
    eprintln!("loads during replace_all: {} saw the old data, {} the new", seen.0, seen.1);
}

/// Status, `Retry-After` and body of `GET uri` through `app`.
async fn get_status(app: &axum::Router, uri: &str) -> (u16, Option<String>, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(uri).body(axum::body::Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, retry, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn a_staged_start_answers_locate_at_once_and_everything_once_complete() {
    use gridmap::api::{router, ApiConfig, AppState};
    let (store, _db) = fresh_database().await;
    let data = gridmap::store::seed::karamay().unwrap();
    store.replace_all(&data).await.unwrap();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(store);

    let (live, applied) = gridmap::sync::start_staged(&*store).await.unwrap();
    let first = live.load();
    assert!(!first.complete, "PostGIS starts in stages");
    assert_eq!(first.data.grids.len(), data.grids.len());
    assert_eq!(first.data.staff.len(), data.staff.len());
    assert!(first.data.buildings.is_empty() && first.data.entrances.is_empty() && first.data.compounds.is_empty());
    let app = router(AppState::new(live.clone(), store.clone(), ApiConfig::default()));

    // Locating a point inside a grid works from the partial snapshot...
    let grid = &data.grids[17];
    let p = geo::InteriorPoint::interior_point(&grid.geometry).unwrap();
    let (status, _, body) = get_status(&app, &format!("/api/locate?lon={}&lat={}", p.x(), p.y())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["grid"]["code"], grid.code.to_string());
    let (status, _, body) = get_status(&app, &format!("/api/grids/{}", grid.code)).await;
    assert_eq!((status, body["properties"]["name"].as_str()), (200, Some(grid.name.as_str())));
    // ...while what needs the other layers says to come back, rather than answer from nothing.
    for uri in
        ["/api/layers/buildings?bbox=84.86,45.58,84.88,45.60", "/api/geocode?q=克拉玛依区", "/tiles/14/12345/5678"]
    {
        let (status, retry, body) = get_status(&app, uri).await;
        assert_eq!((status, retry.as_deref()), (503, Some("5")), "{uri}: {body}");
        assert_eq!(body["status"], 503, "{uri}: problem+json");
    }
    let (status, _, health) = get_status(&app, "/healthz").await;
    assert_eq!((status, health["status"].as_str(), health["complete"].as_bool()), (200, Some("loading"), Some(false)));

    // The follower loads the rest and publishes a complete snapshot.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(gridmap::sync::follow(store.clone(), live.clone(), applied, async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !live.load().complete {
        assert!(Instant::now() < deadline, "the complete snapshot never came");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let full = live.load();
    assert_eq!(full.counts(), Snapshot::build(data, 1).unwrap().counts());
    assert_eq!(full.generation, 2);
    let (status, _, body) = get_status(&app, "/api/layers/buildings?bbox=84.86,45.58,84.88,45.60").await;
    assert_eq!(status, 200, "{body}");
    assert!(!body["features"].as_array().unwrap().is_empty());
    let (_, _, health) = get_status(&app, "/healthz").await;
    assert_eq!((health["status"].as_str(), health["complete"].as_bool()), (Some("ok"), Some(true)));
    let _ = stop.send(());
    follower.await.unwrap();
}

#[tokio::test]
async fn the_embedded_store_starts_complete() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        gridmap::store::gpkg::GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), gridmap::store::seed::karamay)
            .await
            .unwrap();
    let (live, _) = gridmap::sync::start_staged(&store).await.unwrap();
    assert!(live.load().complete);
    assert!(!live.load().data.buildings.is_empty());
}
