//! The store side of grid edits, one conformance suite run against both stores: committing a
//! planned edit in one transaction, the version check, history, as-of reads from the store
//! compared with the in-memory snapshot (and, for PostGIS, with PostGIS's own `ST_Contains`).
//!
//! Plans are made by hand here (the rules are `src/edit`'s business, tested there); the HTTP
//! path is in `tests/edit.rs`.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use geo::{LineString, MultiPolygon, Polygon};
use gridmap::index::Snapshot;
use gridmap::model::{Code, Dataset, DistrictInfo, Force, Region, Staff, StaffRole};
use gridmap::store::gpkg::GpkgStore;
use gridmap::store::{GridEdit, Store, StoreError};

#[allow(dead_code)]
mod common;

pub struct Fresh {
    pub store: Box<dyn Store>,
    _guard: Box<dyn std::any::Any + Send>,
}

impl<S: Store, G: std::any::Any + Send> From<(S, G)> for Fresh {
    fn from((store, guard): (S, G)) -> Fresh {
        Fresh { store: Box::new(store), _guard: Box::new(guard) }
    }
}

/// `mod $name` with one test per check, each on a fresh store holding [`fixture`].
macro_rules! edit_suite {
    ($name:ident, $fresh:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            edit_suite!(@tests $fresh;
                reshape_ends_the_old_version_and_writes_the_new,
                stale_versions_are_conflicts_and_write_nothing,
                split_registers_new_codes_retires_old_and_moves_staff,
                retired_and_used_codes_are_never_given_again,
                a_failing_edit_writes_nothing,
                history_and_as_of_reads_agree_with_the_snapshot,
                back_to_back_edits_get_increasing_instants,
            );
        }
    };
    (@tests $fresh:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let fresh: Fresh = ($fresh).into();
                fresh.store.replace_all(&fixture()).await.expect("the fixture is written");
                super::checks::$check(&*fresh.store).await;
            }
        )+
    };
}

async fn fresh_gpkg() -> (GpkgStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = GpkgStore::open(&dir.path().join("edit.gpkg")).await.expect("a new GeoPackage opens");
    (store, dir)
}

edit_suite!(gpkg, fresh_gpkg().await);
edit_suite!(postgis, common::pg::fresh_database().await);

// ---------------------------------------------------------------------------------------------
// The fixture: one community of two grids, west and east of lon 84.875
// ---------------------------------------------------------------------------------------------

fn code(s: &str) -> Code {
    Code::parse(s).expect("fixture codes are valid")
}

fn at(y: i32, mo: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, 0, 0, 0).single().expect("a valid date")
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]), vec![])])
}

fn region(c: &str, name: &str, geometry: MultiPolygon<f64>) -> Region {
    Region {
        code: code(c),
        name: name.into(),
        households: 100,
        population: 250,
        valid_from: at(2026, 1, 1),
        valid_to: None,
        version: 1,
        geometry,
    }
}

const WEST: &str = "65020300100101";
const EAST: &str = "65020300100102";

fn fixture() -> Dataset {
    let mut ds = Dataset::empty(DistrictInfo {
        code: code("650203"),
        name: "克拉玛依区".into(),
        prefix: "新疆维吾尔自治区克拉玛依市".into(),
        grid_width: 2,
    });
    let whole = rect(84.85, 45.58, 84.90, 45.62);
    ds.subdistricts = vec![region("650203001", "昆仑路街道", whole.clone())].into();
    ds.communities = vec![region("650203001001", "前进社区", whole)].into();
    ds.grids = vec![
        region(WEST, "前进社区第一网格", rect(84.85, 45.58, 84.875, 45.62)),
        region(EAST, "前进社区第二网格", rect(84.875, 45.58, 84.90, 45.62)),
    ]
    .into();
    ds.staff = vec![
        Staff {
            id: 1,
            name: "王建国".into(),
            role: StaffRole::GridLeader,
            force: Force::CommunityWorker,
            phone: "13900000001".into(),
            grids: vec![code(WEST), code(EAST)],
        },
        Staff {
            id: 2,
            name: "李娜".into(),
            role: StaffRole::GridStaff,
            force: Force::CommunityPolice,
            phone: "13900000002".into(),
            grids: vec![code(EAST)],
        },
    ]
    .into();
    ds
}

/// Moves the west/east boundary to `x`: new versions of both grids.
fn move_boundary(data: &Dataset, x: f64, reason: &str) -> GridEdit {
    let mut west = data.grids.iter().find(|g| g.code == code(WEST)).expect("west is current").clone();
    let mut east = data.grids.iter().find(|g| g.code == code(EAST)).expect("east is current").clone();
    let retire = vec![(west.code.clone(), west.version), (east.code.clone(), east.version)];
    west.version += 1;
    east.version += 1;
    west.geometry = rect(84.85, 45.58, x, 45.62);
    east.geometry = rect(x, 45.58, 84.90, 45.62);
    GridEdit {
        retire,
        write: vec![west, east],
        retired_codes: vec![],
        staff: vec![],
        changed_by: "planner-a".into(),
        reason: reason.into(),
    }
}

fn sorted(mut grids: Vec<Region>) -> Vec<Region> {
    grids.sort_by(|a, b| a.code.cmp(&b.code));
    grids
}

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

pub mod checks {
    use super::*;

    pub async fn reshape_ends_the_old_version_and_writes_the_new(store: &dyn Store) {
        let before = store.load().await.expect("load");
        let edit = move_boundary(&before, 84.88, "东移边界以纳入新建小区");
        let done = store.commit_grid_edit(&edit).await.expect("a current-version edit commits");
        let after = store.load().await.expect("load after the edit");
        let west = after.grids.iter().find(|g| g.code == code(WEST)).expect("west still current");
        assert_eq!(west.version, 2, "the edit wrote version 2");
        assert_eq!(west.geometry, rect(84.85, 45.58, 84.88, 45.62), "with the new boundary, exactly");
        assert_eq!(west.valid_from, done.at, "valid from the commit instant");
        assert_eq!(after.grids.len(), 2, "load returns current versions only");
        assert_eq!(after.staff, before.staff, "an edit without staff changes leaves staff alone");

        let history = store.grid_history(&code(WEST)).await.expect("history");
        assert_eq!(history.len(), 2, "both versions are kept");
        assert_eq!(history[0].region.version, 1);
        assert_eq!(history[0].region.valid_to, Some(done.at), "v1 ends when v2 begins");
        assert_eq!(history[0].changed_by, None, "imported versions have no editor");
        assert_eq!(history[1].changed_by.as_deref(), Some("planner-a"));
        assert_eq!(history[1].reason.as_deref(), Some("东移边界以纳入新建小区"), "Chinese reasons survive");
        assert_eq!(history[1].region.valid_to, None);

        let ended = store.ended_grid_versions().await.expect("ended versions");
        let ended_keys: Vec<(String, u32)> = ended.iter().map(|r| (r.code.to_string(), r.version)).collect();
        assert_eq!(ended_keys, vec![(WEST.to_string(), 1), (EAST.to_string(), 1)], "in code order");
        assert_eq!(ended[0].geometry, rect(84.85, 45.58, 84.875, 45.62), "the old geometry is kept exactly");
        if let Some(seq) = done.seq {
            assert!(done.previous.is_some_and(|p| p < seq), "the edit's number follows the previous change");
            let (_, loaded_seq) = store.load_with_seq().await.expect("load_with_seq");
            assert_eq!(loaded_seq, Some(seq), "the edit is the last change in the log");
        }
    }

    pub async fn stale_versions_are_conflicts_and_write_nothing(store: &dyn Store) {
        let before = store.load().await.expect("load");
        let first = move_boundary(&before, 84.88, "first");
        store.commit_grid_edit(&first).await.expect("the first edit commits");
        let after_first = store.load().await.expect("load");
        // The same edit again: it was planned against version 1, which has ended.
        match store.commit_grid_edit(&first).await {
            Err(StoreError::Conflict { code: c, current_version }) => {
                assert_eq!(c, code(WEST), "the first stale grid is named");
                assert_eq!(current_version, Some(2), "with its current version for the 412");
            }
            other => panic!("a stale edit must be a Conflict, got {other:?}"),
        }
        assert_eq!(store.load().await.expect("load"), after_first, "the refused edit wrote nothing");
        assert_eq!(store.grid_history(&code(WEST)).await.expect("history").len(), 2, "no third version");
    }

    pub async fn split_registers_new_codes_retires_old_and_moves_staff(store: &dyn Store) {
        let before = store.load().await.expect("load");
        let east = before.grids.iter().find(|g| g.code == code(EAST)).expect("east").clone();
        let north = Region {
            code: code("65020300100103"),
            name: "前进社区第三网格".into(),
            geometry: rect(84.875, 45.60, 84.90, 45.62),
            households: 40,
            ..east.clone()
        };
        let south = Region {
            code: code("65020300100104"),
            name: "前进社区第四网格".into(),
            geometry: rect(84.875, 45.58, 84.90, 45.60),
            households: 60,
            ..east.clone()
        };
        let mut staff = before.staff.clone();
        staff[0].grids = vec![code(WEST), code("65020300100103")];
        staff[1].grids = vec![code("65020300100104")];
        let edit = GridEdit {
            retire: vec![(code(EAST), 1)],
            write: vec![north, south],
            retired_codes: vec![code(EAST)],
            staff: staff.to_vec(),
            changed_by: "planner-b".into(),
            reason: "拆分第二网格".into(),
        };
        let done = store.commit_grid_edit(&edit).await.expect("the split commits");
        let after = store.load().await.expect("load");
        let codes: Vec<String> = sorted(after.grids.to_vec()).iter().map(|g| g.code.to_string()).collect();
        assert_eq!(codes, [WEST, "65020300100103", "65020300100104"], "east ended without successor");
        let mut back_staff = after.staff.clone();
        back_staff.sort_by_key(|s| s.id);
        assert_eq!(back_staff, staff, "both people serve exactly their new grids");
        let used = store.grid_codes_ever().await.expect("codes ever");
        let expected: BTreeSet<Code> = [WEST, EAST, "65020300100103", "65020300100104"].into_iter().map(code).collect();
        assert_eq!(used, expected, "the retired code stays registered");
        let east_history = store.grid_history(&code(EAST)).await.expect("history");
        assert_eq!(east_history.len(), 1);
        assert_eq!(east_history[0].region.valid_to, Some(done.at), "the retired grid ended at the split");
        let new_history = store.grid_history(&code("65020300100103")).await.expect("history");
        assert_eq!(new_history.len(), 1);
        assert_eq!(new_history[0].region.version, 1, "a new code starts at version 1");
        assert_eq!(new_history[0].reason.as_deref(), Some("拆分第二网格"));
    }

    pub async fn retired_and_used_codes_are_never_given_again(store: &dyn Store) {
        let before = store.load().await.expect("load");
        let east = before.grids.iter().find(|g| g.code == code(EAST)).expect("east").clone();
        let merged = Region {
            code: code("65020300100103"),
            name: "合并网格".into(),
            geometry: rect(84.85, 45.58, 84.90, 45.62),
            ..east.clone()
        };
        let mut staff = before.staff.clone();
        staff[0].grids = vec![code("65020300100103")];
        staff[1].grids = vec![code("65020300100103")];
        let merge = GridEdit {
            retire: vec![(code(WEST), 1), (code(EAST), 1)],
            write: vec![merged.clone()],
            retired_codes: vec![code(WEST), code(EAST)],
            staff: staff.to_vec(),
            changed_by: "planner".into(),
            reason: "合并".into(),
        };
        store.commit_grid_edit(&merge).await.expect("the merge commits");
        let after = store.load().await.expect("load");
        // A new grid under a retired code: someone already used it.
        let reuse = GridEdit {
            retire: vec![(code("65020300100103"), 1)],
            write: vec![Region { code: code(WEST), version: 1, ..merged.clone() }],
            retired_codes: vec![code("65020300100103")],
            staff: vec![],
            changed_by: "planner".into(),
            reason: "reuse a retired code".into(),
        };
        match store.commit_grid_edit(&reuse).await {
            Err(StoreError::Conflict { code: c, current_version: None }) => assert_eq!(c, code(WEST)),
            other => panic!("a retired code must not be given again, got {other:?}"),
        }
        // A retired grid cannot get a new version either.
        let revive = GridEdit {
            retire: vec![(code(EAST), 1)],
            write: vec![Region { version: 2, ..east }],
            retired_codes: vec![],
            staff: vec![],
            changed_by: "planner".into(),
            reason: "revive".into(),
        };
        assert!(
            matches!(store.commit_grid_edit(&revive).await, Err(StoreError::Conflict { current_version: None, .. })),
            "version 1 of a retired grid is no longer current"
        );
        assert_eq!(store.load().await.expect("load"), after, "refused edits wrote nothing");
    }

    pub async fn a_failing_edit_writes_nothing(store: &dyn Store) {
        let before = store.load().await.expect("load");
        // Fails late: the grids are written, then staff 99 does not exist.
        let mut edit = move_boundary(&before, 84.88, "with a person who does not exist");
        let mut ghost = before.staff[0].clone();
        ghost.id = 99;
        edit.staff = vec![ghost];
        assert!(store.commit_grid_edit(&edit).await.is_err(), "an unknown person fails the edit");
        assert_eq!(store.load().await.expect("load"), before, "grid updates made before the failure are rolled back");
        assert_eq!(store.ended_grid_versions().await.expect("ended").len(), 0, "no version ended");
        // Bad reasons are refused before anything is written.
        for reason in ["", "   ", &"长".repeat(501)] {
            let edit = move_boundary(&before, 84.88, reason);
            assert!(
                matches!(store.commit_grid_edit(&edit).await, Err(StoreError::Invalid(_))),
                "reason of {} chars is refused",
                reason.chars().count()
            );
        }
        // An invalid geometry (a bow tie) is refused by the store (PostGIS: the CHECK; both: the
        // transaction is rolled back).
        let mut bow = move_boundary(&before, 84.88, "bow tie");
        bow.write[0].geometry = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(84.85, 45.58), (84.88, 45.62), (84.88, 45.58), (84.85, 45.62), (84.85, 45.58)]),
            vec![],
        )]);
        let _ = store.commit_grid_edit(&bow).await;
        let now = store.load().await.expect("load");
        assert!(
            now == before || now.grids.iter().all(|g| g.version == 2),
            "either refused whole (PostGIS) or written whole (the GeoPackage has no geometry check)"
        );
    }

    pub async fn history_and_as_of_reads_agree_with_the_snapshot(store: &dyn Store) {
        let base = store.load().await.expect("load");
        let mut snap = Snapshot::build(base.clone(), 1).expect("index").with_history(vec![]);
        let base_shared = snap.data.clone();
        let mut instants = vec![];
        // Three boundary moves, each applied to the snapshot the way the API does.
        for (i, x) in [84.88, 84.86, 84.87].into_iter().enumerate() {
            let edit = move_boundary(&snap.data, x, &format!("move {i}"));
            let done = store.commit_grid_edit(&edit).await.expect("commit");
            snap = snap
                .with_grid_edit(&edit.retire, &edit.write, &edit.staff, done.at, snap.generation + 1, done.seq)
                .expect("the next snapshot builds");
            instants.push(done.at);
        }
        // Only grids and staff were copied; every other layer is the one loaded first.
        assert!(
            snap.data.buildings.shares(&base_shared.buildings) && snap.data.entrances.shares(&base_shared.entrances)
        );
        assert!(!snap.data.grids.shares(&base_shared.grids));
        // The snapshot derived edit by edit equals one built from the store.
        let loaded = store.load().await.expect("load");
        let ended = store.ended_grid_versions().await.expect("ended");
        let rebuilt = Snapshot::build(loaded, 9).expect("index").with_history(ended.clone());
        assert_eq!(rebuilt.data.grids, snap.data.grids, "current grids agree");
        assert_eq!(rebuilt.history().versions(), snap.history().versions(), "history agrees, exactly");
        assert_eq!(rebuilt.used_grid_codes(), &store.grid_codes_ever().await.expect("codes"));
        // The derived snapshot (grid parts rebuilt, the rest shared) answers like the full build.
        for k in 0..=60 {
            let (lon, lat) = (84.849 + 0.00085 * f64::from(k), 45.579 + 0.0007 * f64::from(k));
            let code_of = |s: &Snapshot| s.locate(lon, lat).map(|l| s.data.grids[l.grid].code.clone());
            assert_eq!(code_of(&snap), code_of(&rebuilt), "locate ({lon}, {lat})");
        }
        for g in &rebuilt.data.grids {
            let ids = |s: &Snapshot| s.staff_of_grid(&g.code).map(|p| p.id).collect::<Vec<_>>();
            assert_eq!(ids(&snap), ids(&rebuilt), "staff of {}", g.code);
            assert_eq!(
                snap.children(&g.code.parent().expect("parent")),
                rebuilt.children(&g.code.parent().expect("parent"))
            );
        }

        // As-of locate on a line of points across the moving boundary, at instants around each
        // edit, against the brute-force answer from the store's versions.
        let mut all: Vec<Region> = ended;
        all.extend(rebuilt.data.grids.iter().cloned());
        let probe_times: Vec<DateTime<Utc>> = std::iter::once(at(2026, 6, 1))
            .chain(instants.iter().flat_map(|t| [*t - chrono::Duration::microseconds(1), *t]))
            .chain(std::iter::once(Utc::now()))
            .collect();
        for t in &probe_times {
            for k in 0..=40 {
                let lon = 84.855 + 0.001 * f64::from(k);
                let lat = 45.6;
                let want: Option<(String, u32)> = all
                    .iter()
                    .filter(|r| r.valid_from <= *t && r.valid_to.is_none_or(|e| *t < e))
                    .filter(|r| {
                        let edges = gridmap::index::pip::edges_of(&r.geometry);
                        gridmap::index::pip::claims(&edges, lon, lat)
                    })
                    .map(|r| (r.code.to_string(), r.version))
                    .min();
                let got = rebuilt.locate_at(lon, lat, *t).map(|g| (g.grid.code.to_string(), g.grid.version));
                assert_eq!(got, want, "as-of locate at {t} of ({lon}, {lat})");
            }
        }
        // Before the first edit, west ends at 84.875; after the last, at 84.87.
        let t0 = instants[0] - chrono::Duration::microseconds(1);
        assert_eq!(rebuilt.locate_at(84.874, 45.6, t0).map(|g| g.grid.code.to_string()), Some(WEST.into()));
        assert_eq!(rebuilt.locate_at(84.874, 45.6, Utc::now()).map(|g| g.grid.code.to_string()), Some(EAST.into()));
        // grid_at gives the version in force; before the data began, nothing.
        assert_eq!(rebuilt.grid_at(&code(WEST), t0).map(|g| g.grid.version), Some(1));
        assert_eq!(rebuilt.grid_at(&code(WEST), instants[1]).map(|g| g.grid.version), Some(3));
        assert!(rebuilt.grid_at(&code(WEST), at(2025, 1, 1)).is_none(), "no version before 2026");
    }

    pub async fn back_to_back_edits_get_increasing_instants(store: &dyn Store) {
        let mut data = store.load().await.expect("load");
        let mut last = None;
        for i in 0..5 {
            let edit = move_boundary(&data, 84.875 + 0.001 * f64::from(i % 2), "quick");
            let done = store.commit_grid_edit(&edit).await.expect("commit");
            assert!(last.is_none_or(|l| done.at > l), "every edit starts after the one before");
            last = Some(done.at);
            data = store.load().await.expect("load");
        }
        let history = store.grid_history(&code(WEST)).await.expect("history");
        assert_eq!(history.len(), 6);
        for w in history.windows(2) {
            assert_eq!(w[0].region.valid_to, Some(w[1].region.valid_from), "versions follow without gap or overlap");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostGIS only: as-of reads against PostGIS's own ST_Contains with the validity filter
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn postgis_as_of_matches_st_contains_with_the_validity_filter() {
    let (store, _db) = common::pg::fresh_database().await;
    store.replace_all(&fixture()).await.expect("fixture");
    let mut instants = vec![];
    for x in [84.88, 84.86] {
        let data = store.load().await.expect("load");
        instants.push(store.commit_grid_edit(&move_boundary(&data, x, "move")).await.expect("commit").at);
    }
    let loaded = store.load().await.expect("load");
    let snap =
        Snapshot::build(loaded, 1).expect("index").with_history(store.ended_grid_versions().await.expect("ended"));
    for t in [instants[0] - chrono::Duration::seconds(1), instants[0], instants[1], Utc::now()] {
        for k in 0..40 {
            // Interior points only: ST_Contains and the boundary rule agree away from edges.
            let lon = 84.8555 + 0.001 * f64::from(k);
            let lat = 45.6;
            let pg: Option<String> = sqlx::query_scalar(
                "SELECT code FROM grids
                 WHERE valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)
                   AND ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))
                 ORDER BY code LIMIT 1",
            )
            .bind(lon)
            .bind(lat)
            .bind(t)
            .fetch_optional(store.pool())
            .await
            .expect("query");
            let ours = snap.locate_at(lon, lat, t).map(|g| g.grid.code.to_string());
            assert_eq!(ours, pg, "as-of locate of ({lon}, {lat}) at {t} agrees with PostGIS");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostGIS only: a follower catches up on other writers' edits without reloading
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn postgis_catch_up_applies_other_writers_edits_exactly_like_a_full_reload() {
    let (store, _db) = common::pg::fresh_database().await;
    store.replace_all(&fixture()).await.expect("fixture");
    let (first, _) = gridmap::sync::load_snapshot(&store, 1).await.expect("first snapshot");
    let first = std::sync::Arc::new(first);
    let start = first.change_seq.expect("PostGIS numbers its changes");

    // Three edits by "another instance": two boundary moves (the second ends a version the
    // first wrote) and a split of the east grid that moves both people.
    let mut done = vec![];
    for x in [84.88, 84.86] {
        let data = store.load().await.expect("load");
        done.push(store.commit_grid_edit(&move_boundary(&data, x, "move")).await.expect("commit"));
    }
    let data = store.load().await.expect("load");
    let east = data.grids.iter().find(|g| g.code == code(EAST)).expect("east").clone();
    let part = |c: &str, y0: f64, y1: f64| Region {
        code: code(c),
        version: 1,
        geometry: rect(84.86, y0, 84.90, y1),
        ..east.clone()
    };
    let mut staff = data.staff.to_vec();
    staff[0].grids = vec![code(WEST), code("65020300100103")];
    staff[1].grids = vec![code("65020300100104")];
    let split = GridEdit {
        retire: vec![(code(EAST), east.version)],
        write: vec![part("65020300100103", 45.60, 45.62), part("65020300100104", 45.58, 45.60)],
        retired_codes: vec![code(EAST)],
        staff: staff.clone(),
        changed_by: "planner-b".into(),
        reason: "拆分".into(),
    };
    done.push(store.commit_grid_edit(&split).await.expect("split"));

    let edits = store.edits_after(start, 100).await.expect("read").expect("only edits: they can be read back");
    assert_eq!(
        edits.iter().map(|e| e.seq).collect::<Vec<_>>(),
        done.iter().map(|d| d.seq.expect("seq")).collect::<Vec<_>>()
    );
    assert_eq!(edits.iter().map(|e| e.at).collect::<Vec<_>>(), done.iter().map(|d| d.at).collect::<Vec<_>>());
    assert_eq!(edits[1].retire, vec![(code(WEST), 2), (code(EAST), 2)], "the second move ends what the first wrote");
    assert_eq!(edits[0].write[0].valid_to, Some(done[1].at), "versions are as stored: ended by the second move");
    assert_eq!(edits[2].staff, staff, "the split's people with their new grids");
    assert!(store.edits_after(start, 2).await.expect("read").is_none(), "more than the limit: reload instead");

    let caught =
        gridmap::sync::catch_up(&store, first.clone(), 2).await.expect("catch up").expect("edits only: applied");
    let (full, _) = gridmap::sync::load_snapshot(&store, 2).await.expect("full reload");
    assert_eq!(caught.change_seq, full.change_seq, "both include exactly the last edit");
    assert_eq!(caught.data.grids, full.data.grids, "current grids");
    assert_eq!(caught.data.staff, full.data.staff, "staff");
    assert_eq!(caught.history().versions(), full.history().versions(), "history, with every end instant");
    assert_eq!(caught.used_grid_codes(), full.used_grid_codes());
    assert!(caught.data.compounds.shares(&first.data.compounds), "the other layers were not reloaded");
    for i in 0..=50 {
        for j in 0..=40 {
            let (lon, lat) = (84.849 + 0.001 * f64::from(i), 45.579 + 0.001 * f64::from(j));
            let now = |s: &Snapshot| s.locate(lon, lat).map(|l| s.data.grids[l.grid].code.clone());
            assert_eq!(now(&caught), now(&full), "locate ({lon}, {lat})");
            for t in done.iter().map(|d| d.at) {
                let then = |s: &Snapshot| s.locate_at(lon, lat, t).map(|g| (g.grid.code.clone(), g.grid.version));
                assert_eq!(then(&caught), then(&full), "locate ({lon}, {lat}) at {t}");
            }
        }
    }
    for g in &full.data.grids {
        let ids = |s: &Snapshot| s.staff_of_grid(&g.code).map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(&caught), ids(&full), "staff of {}", g.code);
    }

    // Nothing newer: nothing to apply.
    let latest = std::sync::Arc::new(caught);
    assert_eq!(store.edits_after(latest.change_seq.expect("seq"), 100).await.expect("read"), Some(vec![]));
    assert!(gridmap::sync::catch_up(&store, latest.clone(), 3).await.expect("catch up").is_none());
    // An import among the changes: only a full reload will do.
    store.replace_all(&fixture()).await.expect("import");
    assert!(store.edits_after(start, 100).await.expect("read").is_none(), "an import is not an edit");
    assert!(gridmap::sync::catch_up(&store, latest, 3).await.expect("catch up").is_none());
}
