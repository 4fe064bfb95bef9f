//! Grid edit planning on the embedded Karamay data: rules, snapping, split, merge, numbering
//! and the impact report, checked against brute force (a snapshot rebuilt with the plan applied).

use std::collections::{BTreeMap, BTreeSet};

use geo::{Area, BooleanOps, BoundingRect, Coord, InteriorPoint, LineString, MultiPolygon, Polygon};
use gridmap::edit::{building_point, plan, Context, EditError, EditOp, GridShape, Plan, RuleConfig, Severity};
use gridmap::index::Snapshot;
use gridmap::model::{Code, Dataset, Region};

fn karamay() -> Snapshot {
    Snapshot::build(gridmap::store::seed::karamay().expect("embedded data"), 1).expect("index builds")
}

fn used(snap: &Snapshot) -> BTreeSet<Code> {
    snap.data.grids.iter().map(|g| g.code.clone()).collect()
}

fn code(s: &str) -> Code {
    Code::parse(s).unwrap()
}

fn errors(p: &Plan) -> Vec<&'static str> {
    let mut v: Vec<&'static str> =
        p.violations.iter().filter(|v| v.severity == Severity::Error).map(|v| v.rule).collect();
    v.dedup();
    v
}

#[allow(dead_code)]
fn rules_of(p: &Plan) -> BTreeSet<&'static str> {
    p.violations.iter().map(|v| v.rule).collect()
}

/// Metres per degree (x, y) at the data.
fn scale(snap: &Snapshot) -> (f64, f64) {
    snap.projection.scale()
}

fn area_m2(snap: &Snapshot, mp: &MultiPolygon<f64>) -> f64 {
    let (kx, ky) = scale(snap);
    mp.unsigned_area() * kx * ky
}

/// A grid and a sibling that shares at least one whole edge with it, with the shared edges.
fn neighbours(snap: &Snapshot, a: &Region) -> Vec<(Code, usize)> {
    let edges = |r: &Region| -> BTreeSet<[u64; 4]> {
        let mut s = BTreeSet::new();
        for w in r.geometry.0[0].exterior().0.windows(2) {
            let (p, q) = ((w[0].x.to_bits(), w[0].y.to_bits()), (w[1].x.to_bits(), w[1].y.to_bits()));
            let (p, q) = if p <= q { (p, q) } else { (q, p) };
            s.insert([p.0, p.1, q.0, q.1]);
        }
        s
    };
    let ea = edges(a);
    let community = a.code.parent().unwrap();
    snap.children(&community)
        .iter()
        .filter(|c| **c != a.code)
        .map(|c| (c.clone(), edges(snap.region(c).unwrap()).intersection(&ea).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn reshape_op(snap: &Snapshot, shapes: Vec<(Code, MultiPolygon<f64>)>) -> EditOp {
    EditOp::Reshape {
        grids: shapes
            .into_iter()
            .map(|(c, g)| {
                let v = snap.region(&c).unwrap().version;
                GridShape { code: c, expected_version: v, geometry: g }
            })
            .collect(),
    }
}

/// A horizontal line through the grid's interior point, reaching 20 m past its bounding box.
fn cross_line(snap: &Snapshot, r: &Region) -> LineString<f64> {
    cross_line_at(snap, r, 0.0)
}

/// The same, moved `dy_m` metres north.
fn cross_line_at(snap: &Snapshot, r: &Region, dy_m: f64) -> LineString<f64> {
    let p = r.geometry.interior_point().unwrap();
    let b = r.geometry.bounding_rect().unwrap();
    let dx = 20.0 / scale(snap).0;
    let y = p.y() + dy_m / scale(snap).1;
    LineString::from(vec![(b.min().x - dx, y), (b.max().x + dx, y)])
}

/// Splits `g` by the first of a few horizontal lines near its interior point that does not
/// graze a vertex (which would cut off a sliver and be refused).
fn split_somewhere(ctx: &Context<'_>, g: &Region) -> Plan {
    [0.37, 3.1, -2.3, 7.9, -6.1]
        .iter()
        .find_map(|&dy| {
            plan(
                ctx,
                &EditOp::Split {
                    code: g.code.clone(),
                    expected_version: g.version,
                    line: cross_line_at(ctx.snap, g, dy),
                    assign: BTreeMap::new(),
                },
            )
            .ok()
        })
        .expect("one of the lines splits the grid")
}

/// The dataset with the plan applied (what the store commit does), indexed again.
fn applied(snap: &Snapshot, p: &Plan) -> Snapshot {
    let mut data: Dataset = snap.data.clone();
    let ended: BTreeSet<&Code> = p.retire.iter().map(|(c, _)| c).collect();
    data.grids.retain(|g| !ended.contains(&g.code));
    data.grids.extend(p.write.iter().cloned());
    for s in &p.staff {
        let i = data.staff.iter().position(|o| o.id == s.id).unwrap();
        data.staff[i] = s.clone();
    }
    Snapshot::build(data, 2).unwrap()
}

fn grid_at(snap: &Snapshot, x: f64, y: f64) -> Option<String> {
    snap.locate(x, y).map(|l| snap.data.grids[l.grid].code.to_string())
}

/// Every building, gate and entrance located in both snapshots; the moves must equal the
/// impact report, and the written grids' households must equal the recount.
fn assert_impact_matches_brute_force(before: &Snapshot, p: &Plan) {
    let after = applied(before, p);
    let mut moved_buildings = BTreeMap::new();
    let mut hh: BTreeMap<String, u64> = BTreeMap::new();
    for b in &before.data.buildings {
        let pt = building_point(b).unwrap();
        let (f, t) = (grid_at(before, pt.x(), pt.y()), grid_at(&after, pt.x(), pt.y()));
        if let Some(t) = &t {
            *hh.entry(t.clone()).or_default() += b.households as u64;
        }
        if f != t {
            moved_buildings.insert(b.id, (f, t));
        }
    }
    let reported: BTreeMap<u32, (Option<String>, Option<String>)> = p.impact["buildings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["id"].as_u64().unwrap() as u32,
                (b["from"].as_str().map(String::from), b["to"].as_str().map(String::from)),
            )
        })
        .collect();
    assert_eq!(reported, moved_buildings, "impact buildings = brute-force relocation of every building");
    for w in &p.write {
        assert_eq!(
            w.households as u64,
            hh.get(&w.code.to_string()).copied().unwrap_or(0),
            "households of {} = sum over the buildings located in it after the edit",
            w.code
        );
    }
    for (layer, pts) in [
        ("access_points", before.data.access_points.iter().map(|a| (a.id, a.location)).collect::<Vec<_>>()),
        ("entrances", before.data.entrances.iter().map(|e| (e.id, e.location)).collect::<Vec<_>>()),
    ] {
        let brute: BTreeMap<u32, (Option<String>, Option<String>)> = pts
            .iter()
            .filter_map(|(id, pt)| {
                let (f, t) = (grid_at(before, pt.x(), pt.y()), grid_at(&after, pt.x(), pt.y()));
                (f != t).then_some((*id, (f, t)))
            })
            .collect();
        let reported: BTreeMap<u32, (Option<String>, Option<String>)> = p.impact[layer]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["id"].as_u64().unwrap() as u32,
                    (b["from"].as_str().map(String::from), b["to"].as_str().map(String::from)),
                )
            })
            .collect();
        assert_eq!(reported, brute, "impact {layer} = brute-force relocation");
    }
}

#[test]
fn unchanged_grids_pass_every_rule_and_recount_their_households() {
    let snap = karamay();
    let used = used(&snap);
    let rules = RuleConfig::default();
    let ctx = Context { snap: &snap, used_codes: &used, rules: &rules };
    for g in snap.data.grids.iter().step_by(7) {
        let p = plan(&ctx, &reshape_op(&snap, vec![(g.code.clone(), g.geometry.clone())])).unwrap();
        assert!(errors(&p).is_empty(), "{}: {:?}", g.code, p.violations);
        assert_eq!(p.write[0].version, g.version + 1);
        assert_eq!(p.write[0].geometry, g.geometry, "nothing to snap: the grid already matches its neighbours");
        assert_eq!(p.write[0].households, g.households, "{}: the recount equals the generated total", g.code);
        assert_eq!(p.write[0].population, g.population);
        assert_eq!(p.retire, vec![(g.code.clone(), g.version)]);
        assert!(p.retired_codes.is_empty() && p.staff.is_empty());
        assert!(p.impact["buildings"].as_array().unwrap().is_empty());
    }
}

#[test]
fn split_then_merge_round_trip_keeps_area_households_and_numbers_new_codes() {
    let snap = karamay();
    let used = used(&snap);
    let rules = RuleConfig::default();
    let ctx = Context { snap: &snap, used_codes: &used, rules: &rules };
    let g = &snap.data.grids[10];
    let community = g.code.parent().unwrap();
    let siblings = snap.children(&community).len() as u32;
    let p = split_somewhere(&ctx, g);
    assert!(errors(&p).is_empty(), "{:?}", p.violations);
    assert!(p.write.len() >= 2);
    let area: f64 = p.write.iter().map(|r| area_m2(&snap, &r.geometry)).sum();
    assert!((area - area_m2(&snap, &g.geometry)).abs() < 0.01, "the parts cover the grid exactly: {area}");
    let hh: u32 = p.write.iter().map(|r| r.households).sum();
    assert_eq!(hh, g.households, "households are only redistributed");
    for (k, r) in p.write.iter().enumerate() {
        assert_eq!(r.code.parent().unwrap(), community);
        assert_eq!(r.code.local_number(), siblings + 1 + k as u32, "next unused numbers, in order");
        assert_eq!(r.version, 1);
    }
    assert_eq!(p.retired_codes, vec![g.code.clone()]);
    let staff: Vec<u32> = snap.staff_of_grid(&g.code).map(|s| s.id).collect();
    let to_decide: Vec<u32> =
        p.impact["staff_to_decide"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    assert_eq!(to_decide, staff, "nobody was assigned, so everyone is to be decided");
    for s in &p.staff {
        for r in &p.write {
            assert!(s.grids.contains(&r.code), "unassigned staff keep every part provisionally");
        }
        assert!(!s.grids.contains(&g.code));
    }
    assert_impact_matches_brute_force(&snap, &p);

    // Merge the parts back: one new code again (not the retired one), households sum.
    let after = applied(&snap, &p);
    let mut used2 = used.clone();
    used2.extend(p.write.iter().map(|r| r.code.clone()));
    let ctx2 = Context { snap: &after, used_codes: &used2, rules: &rules };
    let m = plan(&ctx2, &EditOp::Merge { grids: p.write.iter().map(|r| (r.code.clone(), 1)).collect(), name: None })
        .unwrap();
    assert!(errors(&m).is_empty(), "{:?}", m.violations);
    assert_eq!(m.write.len(), 1);
    assert_eq!(m.write[0].households, g.households);
    assert_ne!(m.write[0].code, g.code, "a retired code is never given out again");
    assert!((area_m2(&snap, &m.write[0].geometry) - area_m2(&snap, &g.geometry)).abs() < 0.01);
    let sym = m.write[0].geometry.xor(&g.geometry);
    assert!(area_m2(&snap, &sym) < 0.01, "merging the parts gives back the original shape");
    assert_impact_matches_brute_force(&after, &m);
}

#[test]
fn merge_of_neighbours_and_refusals() {
    let snap = karamay();
    let used = used(&snap);
    let rules = RuleConfig::default();
    let ctx = Context { snap: &snap, used_codes: &used, rules: &rules };
    let a = &snap.data.grids[20];
    let (b, _) = neighbours(&snap, a).into_iter().next().expect("every grid has a neighbour");
    let b = snap.region(&b).unwrap();
    let p = plan(
        &ctx,
        &EditOp::Merge { grids: vec![(a.code.clone(), 1), (b.code.clone(), 1)], name: Some("合并网格".into()) },
    )
    .unwrap();
    assert!(errors(&p).is_empty(), "{:?}", p.violations);
    assert_eq!(p.write[0].name, "合并网格");
    assert_eq!(p.write[0].households, a.households + b.households);
    let mut sources = vec![a.code.clone(), b.code.clone()];
    sources.sort();
    let mut retired = p.retired_codes.clone();
    retired.sort();
    assert_eq!(retired, sources);
    for s in snap.staff_of_grid(&a.code).chain(snap.staff_of_grid(&b.code)) {
        let new = p.staff.iter().find(|n| n.id == s.id).expect("every source staff member is listed");
        assert!(new.grids.contains(&p.write[0].code) && !new.grids.contains(&a.code) && !new.grids.contains(&b.code));
    }
    assert_impact_matches_brute_force(&snap, &p);

    // Not neighbours: a grid of the same community sharing no edge with a.
    let community = a.code.parent().unwrap();
    let nbs: Vec<Code> = neighbours(&snap, a).into_iter().map(|(c, _)| c).collect();
    if let Some(far) = snap.children(&community).iter().find(|c| **c != a.code && !nbs.contains(c)) {
        let err =
            plan(&ctx, &EditOp::Merge { grids: vec![(a.code.clone(), 1), (far.clone(), 1)], name: None }).unwrap_err();
        assert!(matches!(&err, EditError::Invalid(m) if m.contains("not neighbours")), "{err}");
    }
    // Different communities.
    let other = snap.data.grids.iter().find(|g| g.code.parent() != Some(community.clone())).unwrap();
    let err = plan(&ctx, &EditOp::Merge { grids: vec![(a.code.clone(), 1), (other.code.clone(), 1)], name: None })
        .unwrap_err();
    assert!(matches!(&err, EditError::Invalid(m) if m.contains("different communities")), "{err}");
    // Stale version and unknown grid.
    let err =
        plan(&ctx, &EditOp::Merge { grids: vec![(a.code.clone(), 2), (b.code.clone(), 1)], name: None }).unwrap_err();
    assert!(matches!(err, EditError::Stale { current: 1, expected: 2, .. }));
    let err = plan(&ctx, &EditOp::Merge { grids: vec![(a.code.clone(), 1), (code("65020300100199"), 1)], name: None })
        .unwrap_err();
    assert!(matches!(err, EditError::UnknownGrid(_)));
}

#[test]
fn split_line_must_cross_the_grid() {
    let snap = karamay();
    let used = used(&snap);
    let rules = RuleConfig::default();
    let ctx = Context { snap: &snap, used_codes: &used, rules: &rules };
    // A grid whose west half of the crossing line meets the boundary once (no notch).
    let crossings = |r: &Region, l: &LineString<f64>| {
        r.geometry.0[0]
            .exterior()
            .lines()
            .filter(|e| geo::Intersects::intersects(e, &l.lines().next().unwrap()))
            .count()
    };
    let (g, half) = snap
        .data
        .grids
        .iter()
        .find_map(|g| {
            let full = cross_line(&snap, g);
            let p = g.geometry.interior_point().unwrap();
            let half = LineString::from(vec![full.0[0], Coord { x: p.x(), y: p.y() }]);
            (crossings(g, &half) == 1).then_some((g, half))
        })
        .unwrap();
    let split = |line| EditOp::Split { code: g.code.clone(), expected_version: 1, line, assign: BTreeMap::new() };
    let err = plan(&ctx, &split(half)).unwrap_err();
    assert!(matches!(&err, EditError::Invalid(m) if m.contains("ends inside the grid")), "{err}");
    let b = g.geometry.bounding_rect().unwrap();
    let outside = LineString::from(vec![(b.min().x - 0.01, b.min().y - 0.01), (b.max().x + 0.01, b.min().y - 0.01)]);
    let err = plan(&ctx, &split(outside)).unwrap_err();
    assert!(matches!(&err, EditError::Invalid(m) if m.contains("does not cross")), "{err}");
    let err = plan(&ctx, &split(LineString::from(vec![(84.0, 45.0)]))).unwrap_err();
    assert!(matches!(&err, EditError::Invalid(m) if m.contains("at least 2")), "{err}");
}

#[allow(dead_code)]
fn polygon_of(coords: Vec<Coord<f64>>) -> MultiPolygon<f64> {
    MultiPolygon(vec![Polygon::new(LineString(coords), vec![])])
}
