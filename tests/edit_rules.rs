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
        .into_iter()
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

/// Rings that run clockwise (PostGIS's `ST_Union` writes them so, and RFC 7946 readers must
/// accept them) mean the same area: with every other grid of Karamay clockwise, a grid reshaped
/// to itself passes every rule, and a clockwise grid merged with its neighbour covers both.
#[test]
fn clockwise_rings_mean_the_same_grids() {
    use geo::orient::{Direction, Orient};
    use geo::Winding;
    let mut data: Dataset = gridmap::store::seed::karamay().expect("embedded data");
    for g in data.grids.iter_mut().step_by(2) {
        g.geometry = g.geometry.orient(Direction::Reversed);
    }
    let snap = Snapshot::build(data, 1).expect("index builds");
    let used = used(&snap);
    let rules = RuleConfig::default();
    let ctx = Context { snap: &snap, used_codes: &used, rules: &rules };
    let clockwise = |r: &Region| r.geometry.0[0].exterior().is_cw();
    assert!(snap.data.grids.iter().any(clockwise) && !snap.data.grids.iter().all(clockwise));
    for g in snap.data.grids.iter().step_by(5) {
        let p = plan(&ctx, &reshape_op(&snap, vec![(g.code.clone(), g.geometry.clone())])).unwrap();
        assert!(errors(&p).is_empty(), "{} (clockwise: {}): {:?}", g.code, clockwise(g), p.violations);
    }
    let a = snap.data.grids.iter().find(|g| clockwise(g)).expect("a clockwise grid");
    let (b, _) = neighbours(&snap, a).into_iter().next().expect("every grid has a neighbour");
    let b = snap.region(&b).unwrap();
    let m = plan(&ctx, &EditOp::Merge { grids: vec![(a.code.clone(), 1), (b.code.clone(), 1)], name: None }).unwrap();
    assert!(errors(&m).is_empty(), "{:?}", m.violations);
    let want = area_m2(&snap, &a.geometry) + area_m2(&snap, &b.geometry);
    let got = area_m2(&snap, &m.write[0].geometry);
    assert!((got - want).abs() < 0.01, "the merged grid covers both: {got:.2} m², want {want:.2} m²");
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
    if let Some(far) = snap.children(&community).into_iter().find(|c| **c != a.code && !nbs.contains(c)) {
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

// ---- fixtures: one broken rule each ---------------------------------------------------------

struct Fx {
    snap: Snapshot,
    used: BTreeSet<Code>,
    rules: RuleConfig,
}

impl Fx {
    fn new() -> Fx {
        let snap = karamay();
        let used = used(&snap);
        Fx { snap, used, rules: RuleConfig::default() }
    }

    fn ctx(&self) -> Context<'_> {
        Context { snap: &self.snap, used_codes: &self.used, rules: &self.rules }
    }

    fn plan(&self, op: &EditOp) -> Plan {
        plan(&self.ctx(), op).unwrap()
    }

    /// The degrees of (dx, dy) metres added to `c`.
    fn offset(&self, c: Coord<f64>, dx_m: f64, dy_m: f64) -> Coord<f64> {
        let (kx, ky) = scale(&self.snap);
        Coord { x: c.x + dx_m / kx, y: c.y + dy_m / ky }
    }

    /// Unit vector (metres) from `from` towards `to`.
    fn towards(&self, from: Coord<f64>, to: Coord<f64>) -> (f64, f64) {
        let (kx, ky) = scale(&self.snap);
        let (x, y) = ((to.x - from.x) * kx, (to.y - from.y) * ky);
        let l = x.hypot(y);
        (x / l, y / l)
    }

    /// Grids whose staff can serve their households (so the load rule stays quiet).
    fn well_staffed(&self) -> impl Iterator<Item = &Region> {
        self.snap.data.grids.iter().filter(|g| {
            let staff = self.snap.staff_of_grid(&g.code).count() as u32;
            g.households <= staff * self.rules.households_per_worker
        })
    }

    fn staffed(&self, code: &Code) -> bool {
        let g = self.snap.region(code).unwrap();
        g.households <= self.snap.staff_of_grid(code).count() as u32 * self.rules.households_per_worker
    }

    fn vertices_of_others(&self, a: &Region, except: &[&Code]) -> BTreeSet<(u64, u64)> {
        let community = a.code.parent().unwrap();
        let mut out = BTreeSet::new();
        for c in self.snap.children(&community) {
            if *c != a.code && !except.contains(&c) {
                for v in &self.snap.region(c).unwrap().geometry.0[0].exterior().0 {
                    out.insert((v.x.to_bits(), v.y.to_bits()));
                }
            }
        }
        out
    }

    fn community_vertices(&self, a: &Region) -> BTreeSet<(u64, u64)> {
        let com = self.snap.region(&a.code.parent().unwrap()).unwrap();
        com.geometry.0.iter().flat_map(|p| p.exterior().0.iter()).map(|v| (v.x.to_bits(), v.y.to_bits())).collect()
    }

    /// A neighbour `b` of `a` and an edge (v, w) of their common boundary whose ends belong to
    /// no other grid and not to the community outline, with the length of the edge in metres.
    fn inner_edges(&self, a: &Region) -> Vec<(Code, Coord<f64>, Coord<f64>)> {
        let com = self.community_vertices(a);
        let mut out = Vec::new();
        for (b, _) in neighbours(&self.snap, a) {
            let others = self.vertices_of_others(a, &[&b]);
            let bring: BTreeSet<(u64, u64)> = self.snap.region(&b).unwrap().geometry.0[0]
                .exterior()
                .0
                .iter()
                .map(|v| (v.x.to_bits(), v.y.to_bits()))
                .collect();
            let key = |c: &Coord<f64>| (c.x.to_bits(), c.y.to_bits());
            for w in a.geometry.0[0].exterior().0.windows(2) {
                let (v, x) = (w[0], w[1]);
                let inner =
                    |c: &Coord<f64>| bring.contains(&key(c)) && !others.contains(&key(c)) && !com.contains(&key(c));
                if inner(&v) && inner(&x) {
                    out.push((b.clone(), v, x));
                }
            }
        }
        out
    }
}

/// Unit vector (metres) into `a` from its exterior vertex `v`, along the bisector of the angle
/// at `v` (so that moving `v` a few metres keeps clear of the neighbouring edges).
fn inward(fx: &Fx, a: &Region, v: Coord<f64>) -> (f64, f64) {
    let ring = &a.geometry.0[0].exterior().0;
    let n = ring.len() - 1;
    let i = ring[..n].iter().position(|&c| c == v).unwrap();
    let (p, q) = (ring[(i + n - 1) % n], ring[(i + 1) % n]);
    let (ax, ay) = fx.towards(v, p);
    let (bx, by) = fx.towards(v, q);
    let (mut x, mut y) = (ax + bx, ay + by);
    let l = x.hypot(y);
    (x, y) = (x / l, y / l);
    let probe = geo::Point(fx.offset(v, x, y));
    if geo::Contains::contains(&a.geometry, &probe) {
        (x, y)
    } else {
        (-x, -y)
    }
}

fn map_coords(mp: &MultiPolygon<f64>, f: impl Fn(Coord<f64>) -> Coord<f64>) -> MultiPolygon<f64> {
    MultiPolygon(
        mp.0.iter()
            .map(|p| {
                Polygon::new(
                    LineString(p.exterior().0.iter().map(|&c| f(c)).collect()),
                    p.interiors().iter().map(|h| LineString(h.0.iter().map(|&c| f(c)).collect())).collect(),
                )
            })
            .collect(),
    )
}

fn move_vertex(mp: &MultiPolygon<f64>, from: Coord<f64>, to: Coord<f64>) -> MultiPolygon<f64> {
    map_coords(mp, |c| if c == from { to } else { c })
}

/// Inserts `pts` (listed in the direction v → w) between consecutive vertices v and w of the
/// exterior ring, whichever way the ring runs.
fn insert_between(mp: &MultiPolygon<f64>, v: Coord<f64>, w: Coord<f64>, pts: &[Coord<f64>]) -> MultiPolygon<f64> {
    let ring = &mp.0[0].exterior().0;
    let mut out = Vec::new();
    for i in 0..ring.len() {
        out.push(ring[i]);
        if i + 1 < ring.len() {
            if ring[i] == v && ring[i + 1] == w {
                out.extend(pts.iter().copied());
            } else if ring[i] == w && ring[i + 1] == v {
                out.extend(pts.iter().rev().copied());
            }
        }
    }
    assert!(out.len() > ring.len(), "the edge is in the ring");
    let mut polys = mp.0.clone();
    polys[0] = Polygon::new(LineString(out), polys[0].interiors().to_vec());
    MultiPolygon(polys)
}

#[test]
fn valid_shared_boundary_move_of_two_neighbours_passes_and_moves_what_it_should() {
    let fx = Fx::new();
    let mut tried = 0;
    for a in fx.well_staffed().step_by(5) {
        let Some((b, v, _)) = fx.inner_edges(a).into_iter().find(|(b, _, _)| fx.staffed(b)) else { continue };
        let ra = fx.snap.region(&b).unwrap();
        let (ux, uy) = inward(&fx, a, v);
        // 30 m into a: b grows by a triangle, a shrinks by the same.
        let to = fx.offset(v, ux * 30.0, uy * 30.0);
        let op = reshape_op(
            &fx.snap,
            vec![(a.code.clone(), move_vertex(&a.geometry, v, to)), (b.clone(), move_vertex(&ra.geometry, v, to))],
        );
        let p = fx.plan(&op);
        if rules_of(&p).contains("building-cut") {
            continue; // the new boundary happens to cross a building; try another grid
        }
        assert!(errors(&p).is_empty(), "{}/{}: {:?}", a.code, b, p.violations);
        let total_before = area_m2(&fx.snap, &a.geometry) + area_m2(&fx.snap, &ra.geometry);
        let total_after: f64 = p.write.iter().map(|r| area_m2(&fx.snap, &r.geometry)).sum();
        assert!((total_before - total_after).abs() < 1e-3, "area only moves between the two grids");
        assert!(area_m2(&fx.snap, &p.write[0].geometry) < area_m2(&fx.snap, &a.geometry));
        assert_eq!(p.write.iter().map(|r| r.households).sum::<u32>(), a.households + ra.households);
        assert_impact_matches_brute_force(&fx.snap, &p);
        tried += 1;
        if tried == 3 {
            break;
        }
    }
    assert_eq!(tried, 3, "three boundary moves were checked");
}

/// Runs `make` on candidate grids until it builds a fixture; asserts the plan breaks exactly
/// `rule` on the first three fixtures built.
fn exactly(fx: &Fx, rule: &str, make: impl Fn(&Region) -> Option<EditOp>) {
    let mut n = 0;
    for a in fx.well_staffed().step_by(3) {
        let Some(op) = make(a) else { continue };
        let p = plan(&fx.ctx(), &op).unwrap();
        let got = rules_of(&p);
        assert_eq!(got, BTreeSet::from([rule]), "{}: {:#?}", a.code, p.violations);
        let v = p.violations.iter().find(|v| v.rule == rule).unwrap();
        assert!(!v.message_zh.is_empty() && !v.message_en.is_empty());
        assert!(v.codes.iter().any(|c| c == &a.code || p.write.iter().any(|w| &w.code == c)), "{:?}", v.codes);
        let f = v.to_feature().to_json();
        assert_eq!(f["properties"]["rule"], rule);
        assert!(f["geometry"]["type"].is_string());
        n += 1;
        if n == 3 {
            return;
        }
    }
    panic!("only {n} fixtures for {rule}");
}

#[test]
fn overlap_with_a_sibling_is_an_error_where_it_overlaps() {
    let fx = Fx::new();
    exactly(&fx, "overlaps-sibling", |a| {
        let (_, v, _) = fx.inner_edges(a).into_iter().next()?;
        let (ux, uy) = inward(&fx, a, v);
        // 3 m away from a's inside: into the neighbour.
        let to = fx.offset(v, -ux * 3.0, -uy * 3.0);
        Some(reshape_op(&fx.snap, vec![(a.code.clone(), move_vertex(&a.geometry, v, to))]))
    });
}

#[test]
fn a_gap_is_an_error_where_the_gap_is() {
    let fx = Fx::new();
    exactly(&fx, "gap", |a| {
        let (_, v, _) = fx.inner_edges(a).into_iter().next()?;
        let (ux, uy) = inward(&fx, a, v);
        let to = fx.offset(v, ux * 3.0, uy * 3.0);
        Some(reshape_op(&fx.snap, vec![(a.code.clone(), move_vertex(&a.geometry, v, to))]))
    });
}

#[test]
fn a_part_outside_the_community_is_an_error() {
    let fx = Fx::new();
    exactly(&fx, "outside-community", |a| {
        let com = fx.community_vertices(a);
        let others = fx.vertices_of_others(a, &[]);
        let ring = &a.geometry.0[0].exterior().0;
        let key = |c: &Coord<f64>| (c.x.to_bits(), c.y.to_bits());
        let v = *ring.iter().find(|c| com.contains(&key(c)) && !others.contains(&key(c)))?;
        let (ux, uy) = inward(&fx, a, v);
        let to = fx.offset(v, -ux * 4.0, -uy * 4.0);
        Some(reshape_op(&fx.snap, vec![(a.code.clone(), move_vertex(&a.geometry, v, to))]))
    });
}

#[test]
fn out_of_range_coordinates_are_reported_alone() {
    let fx = Fx::new();
    exactly(&fx, "invalid-coordinates", |a| {
        let v = a.geometry.0[0].exterior().0[1];
        Some(reshape_op(&fx.snap, vec![(a.code.clone(), move_vertex(&a.geometry, v, Coord { x: 190.0, y: v.y }))]))
    });
}

#[test]
fn a_degenerate_ring_is_reported_alone() {
    let fx = Fx::new();
    exactly(&fx, "invalid-ring", |a| {
        // Two distinct positions only (geo closes open rings itself, so "open" cannot be built).
        let r = &a.geometry.0[0].exterior().0;
        let ring = vec![r[0], r[1], r[0]];
        Some(reshape_op(&fx.snap, vec![(a.code.clone(), MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]))]))
    });
}

/// Points along edge v → w of the shared boundary, `along` metres from v and `side` metres to
/// the left of it.
fn along(fx: &Fx, v: Coord<f64>, w: Coord<f64>, pts: &[(f64, f64)]) -> Vec<Coord<f64>> {
    let (ux, uy) = fx.towards(v, w);
    pts.iter().map(|&(t, s)| fx.offset(v, ux * t - uy * s, uy * t + ux * s)).collect()
}

#[test]
fn a_self_intersecting_boundary_is_an_error_at_the_crossing() {
    let fx = Fx::new();
    exactly(&fx, "self-intersection", |a| {
        // A tiny bow-tie in the middle of the boundary shared with b; both grids take it, so
        // nothing overlaps and nothing is left uncovered (the lobes are well under 1 m²).
        let (b, v, w) = fx.inner_edges(a).into_iter().find(|(b, _, _)| fx.staffed(b))?;
        let m = 10.0;
        let h = 0.2;
        let d = 0.4;
        let pts = along(&fx, v, w, &[(m, h), (m + d, -h), (m + d, h), (m, -h)]);
        let rb = fx.snap.region(&b).unwrap();
        Some(reshape_op(
            &fx.snap,
            vec![
                (a.code.clone(), insert_between(&a.geometry, v, w, &pts)),
                (b.clone(), insert_between(&rb.geometry, v, w, &pts)),
            ],
        ))
    });
}

#[test]
fn a_spike_is_an_error_at_its_tip() {
    let fx = Fx::new();
    exactly(&fx, "spike", |a| {
        // From v 8 m straight into a and back to 0.1 m along the edge: a needle (0.7°) that b
        // fills, so the two grids still tile.
        let (b, v, w) = fx.inner_edges(a).into_iter().find(|(b, _, _)| fx.staffed(b))?;
        let (ux, uy) = inward(&fx, a, v);
        let tip = fx.offset(v, ux * 8.0, uy * 8.0);
        let back = along(&fx, v, w, &[(0.1, 0.0)])[0];
        let pts = [tip, back];
        let rb = fx.snap.region(&b).unwrap();
        Some(reshape_op(
            &fx.snap,
            vec![
                (a.code.clone(), insert_between(&a.geometry, v, w, &pts)),
                (b.clone(), insert_between(&rb.geometry, v, w, &pts)),
            ],
        ))
    });
}

/// A point of `a` at least 20 m from any building, near its interior point.
fn empty_spot(fx: &Fx, a: &Region) -> Option<Coord<f64>> {
    let ip = a.geometry.interior_point().unwrap().0;
    for k in 0..40 {
        let c = fx.offset(ip, (k % 7) as f64 * 9.0 - 27.0, (k / 7) as f64 * 9.0 - 27.0);
        let probe = geo::Rect::new(fx.offset(c, -20.0, -20.0), fx.offset(c, 20.0, 20.0));
        let pt = geo::Point(c);
        if geo::Contains::contains(&a.geometry, &pt)
            && fx.snap.layer_in_bbox(gridmap::model::LayerKind::Buildings, probe).is_empty()
            && fx.snap.layer_in_bbox(gridmap::model::LayerKind::AccessPoints, probe).is_empty()
            && fx.snap.layer_in_bbox(gridmap::model::LayerKind::Entrances, probe).is_empty()
        {
            let d = a.geometry.0[0].exterior().lines().map(|l| {
                let p = fx.snap.projection.to_local(c.x, c.y);
                let (s, e) =
                    (fx.snap.projection.to_local(l.start.x, l.start.y), fx.snap.projection.to_local(l.end.x, l.end.y));
                seg_dist(p, s, e)
            });
            if d.fold(f64::INFINITY, f64::min) > 10.0 {
                return Some(c);
            }
        }
    }
    None
}

fn seg_dist(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    (p.0 - a.0 - t * dx).hypot(p.1 - a.1 - t * dy)
}

#[test]
fn a_degenerate_hole_is_a_zero_area_error() {
    let fx = Fx::new();
    exactly(&fx, "zero-area", |a| {
        let c = empty_spot(&fx, a)?;
        // A hole of 0.005 m² (a 10 cm right triangle).
        let hole = LineString(vec![c, fx.offset(c, 0.1, 0.0), fx.offset(c, 0.0, 0.1), c]);
        let shell = a.geometry.0[0].exterior().clone();
        Some(reshape_op(&fx.snap, vec![(a.code.clone(), MultiPolygon(vec![Polygon::new(shell, vec![hole])]))]))
    });
}

#[test]
fn overlapping_parts_of_one_grid_are_an_invalid_polygon() {
    let fx = Fx::new();
    exactly(&fx, "invalid-polygon", |a| {
        let c = empty_spot(&fx, a)?;
        // A second part of 0.5 m² lying inside the first.
        let extra = Polygon::new(LineString(vec![c, fx.offset(c, 1.0, 0.0), fx.offset(c, 0.0, 1.0), c]), vec![]);
        let mut parts = a.geometry.0.clone();
        parts.push(extra);
        Some(reshape_op(&fx.snap, vec![(a.code.clone(), MultiPolygon(parts))]))
    });
}

fn split_op(g: &Region, line: LineString<f64>, assign: BTreeMap<u32, usize>) -> EditOp {
    EditOp::Split { code: g.code.clone(), expected_version: g.version, line, assign }
}

#[test]
fn a_boundary_through_a_building_cuts_it() {
    let fx = Fx::new();
    exactly(&fx, "building-cut", |a| {
        // A split line through the middle of a building near the middle of the grid.
        let ip = a.geometry.interior_point().unwrap().0;
        let b = a.geometry.bounding_rect().unwrap();
        let probe = geo::Rect::new(fx.offset(ip, -60.0, -60.0), fx.offset(ip, 60.0, 60.0));
        let dx = 20.0 / scale(&fx.snap).0;
        fx.snap.layer_in_bbox(gridmap::model::LayerKind::Buildings, probe).into_iter().find_map(|i| {
            let bp = building_point(&fx.snap.data.buildings[i]).unwrap();
            let line = LineString::from(vec![(b.min().x - dx, bp.y()), (b.max().x + dx, bp.y())]);
            let p = plan(&fx.ctx(), &split_op(a, line.clone(), BTreeMap::new())).ok()?;
            // Only a line that cuts this one building and nothing else unusual.
            (p.violations.len() == 1 && p.violations[0].rule == "building-cut")
                .then(|| split_op(a, line, BTreeMap::new()))
        })
    });
}

/// A split of `a` by one of several horizontal lines for which `accept` holds.
fn split_with(fx: &Fx, a: &Region, assign: &BTreeMap<u32, usize>, accept: impl Fn(&Plan) -> bool) -> Option<EditOp> {
    let b = a.geometry.bounding_rect()?;
    let dx = 20.0 / scale(&fx.snap).0;
    (1..20).find_map(|k| {
        let y = b.min().y + b.height() * k as f64 / 20.0;
        let op = split_op(a, LineString::from(vec![(b.min().x - dx, y), (b.max().x + dx, y)]), assign.clone());
        let p = plan(&fx.ctx(), &op).ok()?;
        accept(&p).then_some(op)
    })
}

#[test]
fn a_much_smaller_part_than_usual_is_an_area_warning() {
    let fx = Fx::new();
    exactly(&fx, "area-unusual", |a| {
        // A line near the southern edge: the southern part is under 1/4 of the median grid.
        split_with(&fx, a, &BTreeMap::new(), |p| {
            p.violations.iter().any(|v| v.rule == "area-unusual")
                && p.violations.iter().all(|v| v.rule == "area-unusual")
        })
    });
    // And it is only a warning.
    let a = fx.well_staffed().next().unwrap();
    let op = split_with(&fx, a, &BTreeMap::new(), |p| p.violations.iter().any(|v| v.rule == "area-unusual")).unwrap();
    let p = fx.plan(&op);
    let v = p.violations.iter().find(|v| v.rule == "area-unusual").unwrap();
    assert_eq!(v.severity, Severity::Warning);
}

#[test]
fn a_part_left_without_enough_staff_is_a_load_warning() {
    let fx = Fx::new();
    exactly(&fx, "understaffed", |a| {
        // Every staff member goes to part 0; part 1 keeps its households and has nobody.
        let assign: BTreeMap<u32, usize> = fx.snap.staff_of_grid(&a.code).map(|s| (s.id, 0)).collect();
        split_with(&fx, a, &assign, |p| {
            p.violations.iter().all(|v| v.rule == "understaffed") && p.write[1].households > 0
        })
    });
}

#[test]
fn a_building_cut_is_a_warning_when_so_configured() {
    let mut fx = Fx::new();
    let a = fx.well_staffed().next().unwrap().clone();
    let op = split_with(&fx, &a, &BTreeMap::new(), |p| p.violations.iter().any(|v| v.rule == "building-cut")).unwrap();
    let p = fx.plan(&op);
    assert!(!p.is_acceptable());
    fx.rules.building_cut_is_error = false;
    let p = fx.plan(&op);
    let cut: Vec<_> = p.violations.iter().filter(|v| v.rule == "building-cut").collect();
    assert!(!cut.is_empty() && cut.iter().all(|v| v.severity == Severity::Warning));
    let f = cut[0].to_feature().to_json();
    assert_eq!(f["properties"]["severity"], "warning");
    assert_eq!(f["geometry"]["type"], "Polygon", "the cut building is drawn");
}

#[test]
fn a_boundary_drawn_0_3_m_off_snaps_and_validates_2_m_off_does_not() {
    use rand::{Rng, SeedableRng};
    let fx = Fx::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for a in fx.well_staffed().step_by(11).take(8) {
        let jitter = |r: f64, rng: &mut rand_chacha::ChaCha8Rng| {
            let ring = &a.geometry.0[0].exterior().0;
            let moved: Vec<Coord<f64>> = ring[..ring.len() - 1]
                .iter()
                .map(|&c| {
                    let t: f64 = rng.random::<f64>() * std::f64::consts::TAU;
                    fx.offset(c, r * t.cos(), r * t.sin())
                })
                .collect();
            let mut closed = moved.clone();
            closed.push(moved[0]);
            MultiPolygon(vec![Polygon::new(LineString(closed), vec![])])
        };
        let near = jitter(0.3, &mut rng);
        let p = fx.plan(&reshape_op(&fx.snap, vec![(a.code.clone(), near)]));
        assert!(p.is_acceptable(), "{}: {:?}", a.code, p.violations);
        assert_eq!(p.write[0].geometry, a.geometry, "every vertex snapped back onto its neighbours' vertex");
        let far = jitter(2.0, &mut rng);
        let p = fx.plan(&reshape_op(&fx.snap, vec![(a.code.clone(), far)]));
        let e = errors(&p);
        assert!(e.contains(&"overlaps-sibling") || e.contains(&"gap") || e.contains(&"outside-community"), "{e:?}");
    }
}

#[test]
fn new_codes_skip_retired_numbers_and_run_out_with_a_clear_error() {
    let fx = Fx::new();
    let a = fx.well_staffed().next().unwrap();
    let community = a.code.parent().unwrap();
    let n = fx.snap.children(&community).len() as u32;
    let scheme = gridmap::model::CodeScheme::default();
    // Numbers n+1 and n+3 were used by grids that are retired now.
    let mut used = fx.used.clone();
    used.insert(scheme.grid_code(&community, n + 1).unwrap());
    used.insert(scheme.grid_code(&community, n + 3).unwrap());
    let ctx = Context { snap: &fx.snap, used_codes: &used, rules: &fx.rules };
    let p = split_somewhere(&ctx, a);
    let numbers: Vec<u32> = p.write.iter().map(|r| r.code.local_number()).collect();
    let mut expected = vec![n + 2, n + 4, n + 5, n + 6];
    expected.truncate(numbers.len());
    assert_eq!(numbers, expected, "retired numbers n+1 and n+3 are skipped");
    assert!(
        p.write[0].name.ends_with("网格") && p.write[0].name.starts_with(&fx.snap.region(&community).unwrap().name)
    );

    // All 99 numbers used: no code left.
    let mut used = fx.used.clone();
    for k in 1..=99 {
        used.insert(scheme.grid_code(&community, k).unwrap());
    }
    let ctx = Context { snap: &fx.snap, used_codes: &used, rules: &fx.rules };
    let b = neighbours(&fx.snap, a)[0].0.clone();
    let err = plan(&ctx, &EditOp::Merge { grids: vec![(a.code.clone(), 1), (b, 1)], name: None }).unwrap_err();
    assert!(matches!(&err, EditError::Invalid(m) if m.contains("no unused grid numbers")), "{err}");
}

#[test]
fn three_digit_districts_number_past_99() {
    // The Karamay data re-coded with 3-digit grid numbers, and numbers 1-150 of one community used.
    let mut data = gridmap::store::seed::karamay().unwrap();
    let scheme3 = gridmap::model::CodeScheme::new(3).unwrap();
    let recode = |c: &Code| scheme3.grid_code(&c.parent().unwrap(), c.local_number()).unwrap();
    data.district.grid_width = 3;
    for g in &mut data.grids {
        g.code = recode(&g.code);
    }
    for s in &mut data.staff {
        s.grids = s.grids.iter().map(recode).collect();
    }
    let snap = Snapshot::build(data, 1).unwrap();
    let a = snap.data.grids[30].clone();
    let community = a.code.parent().unwrap();
    let mut used: BTreeSet<Code> = snap.data.grids.iter().map(|g| g.code.clone()).collect();
    for k in 1..=150 {
        used.insert(scheme3.grid_code(&community, k).unwrap());
    }
    let rules = RuleConfig::default();
    let ctx = Context { snap: &snap, used_codes: &used, rules: &rules };
    let p = split_somewhere(&ctx, &a);
    assert_eq!(p.write[0].code.as_str().len(), 15);
    assert_eq!(p.write[0].code.local_number(), 151);
    assert_eq!(p.write[1].code.local_number(), 152);
    assert!(p.write[0].name.contains("第一百五十一网格"), "{}", p.write[0].name);
}

#[test]
fn split_parts_are_numbered_in_reading_order() {
    let fx = Fx::new();
    for a in fx.snap.data.grids.iter().step_by(17).take(10) {
        let p = split_somewhere(&fx.ctx(), a);
        for k in 1..p.write.len() {
            assert!(p.write[k - 1].code < p.write[k].code, "codes ascend in the order of `write`");
        }
        // The documented order: rows of height sqrt(area / parts) from north to south, west to
        // east within a row, by interior point in local metres.
        let pts: Vec<(f64, f64)> = p
            .write
            .iter()
            .map(|r| {
                let q = r.geometry.interior_point().unwrap();
                fx.snap.projection.to_local(q.x(), q.y())
            })
            .collect();
        let total: f64 = p.write.iter().map(|r| area_m2(&fx.snap, &r.geometry)).sum();
        let band = (total / p.write.len() as f64).sqrt();
        let key = |q: (f64, f64)| ((-q.1 / band).floor() as i64, q.0);
        for k in 1..pts.len() {
            let (r0, x0) = key(pts[k - 1]);
            let (r1, x1) = key(pts[k]);
            assert!(
                r0 < r1 || (r0 == r1 && x0 <= x1),
                "{}: part {k} comes after part {} in reading order",
                a.code,
                k - 1
            );
        }
    }
}

#[test]
fn split_staff_follow_assign_and_bad_assignments_are_refused() {
    let fx = Fx::new();
    let a = fx.snap.data.grids.iter().find(|g| fx.snap.staff_of_grid(&g.code).count() >= 2).unwrap();
    let staff: Vec<u32> = fx.snap.staff_of_grid(&a.code).map(|s| s.id).collect();
    let assign = BTreeMap::from([(staff[0], 1usize)]);
    let op = split_with(&fx, a, &assign, |p| !p.write.is_empty()).unwrap();
    let p = fx.plan(&op);
    let leader = p.staff.iter().find(|s| s.id == staff[0]).unwrap();
    assert!(leader.grids.contains(&p.write[1].code) && !leader.grids.contains(&p.write[0].code));
    assert!(!leader.grids.contains(&a.code));
    let to_decide: Vec<u64> =
        p.impact["staff_to_decide"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(to_decide, staff[1..].iter().map(|&i| i as u64).collect::<Vec<_>>());
    let text = p.impact.to_string();
    for s in fx.snap.staff_of_grid(&a.code) {
        assert!(!text.contains(&s.name) && !text.contains(&s.phone), "no personal data in the impact report");
    }
    let EditOp::Split { line, .. } = op else { unreachable!() };
    let bad = |assign| plan(&fx.ctx(), &split_op(a, line.clone(), assign)).unwrap_err().to_string();
    assert!(bad(BTreeMap::from([(staff[0], 9)])).contains("part 9"));
    assert!(bad(BTreeMap::from([(999_999, 0)])).contains("does not serve"));
}

#[test]
fn random_splits_keep_the_area_and_leave_no_gap_or_overlap_and_merges_sum_households() {
    use rand::{Rng, SeedableRng};
    let fx = Fx::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let (mut done, mut refused) = (0, 0);
    for case in 0..60 {
        let a = &fx.snap.data.grids[rng.random_range(0..fx.snap.data.grids.len())];
        // A random direction through a random point of the grid, reaching past its box.
        let b = a.geometry.bounding_rect().unwrap();
        let c = loop {
            let p = geo::Point::new(
                b.min().x + rng.random::<f64>() * b.width(),
                b.min().y + rng.random::<f64>() * b.height(),
            );
            if geo::Contains::contains(&a.geometry, &p) {
                break p.0;
            }
        };
        let t: f64 = rng.random::<f64>() * std::f64::consts::PI;
        let (kx, ky) = scale(&fx.snap);
        let r = 2000.0;
        let line = LineString(vec![
            Coord { x: c.x - r * t.cos() / kx, y: c.y - r * t.sin() / ky },
            Coord { x: c.x + r * t.cos() / kx, y: c.y + r * t.sin() / ky },
        ]);
        let p = match plan(&fx.ctx(), &split_op(a, line, BTreeMap::new())) {
            Ok(p) => p,
            Err(EditError::Invalid(m)) if m.contains("sliver") => {
                refused += 1;
                continue;
            }
            Err(e) => panic!("case {case}: {e}"),
        };
        let e = errors(&p);
        for rule in ["gap", "overlaps-sibling", "outside-community", "self-intersection", "invalid-polygon", "spike"] {
            assert!(!e.contains(&rule), "case {case} ({}): {rule}: {:?}", a.code, p.violations);
        }
        let area: f64 = p.write.iter().map(|r| area_m2(&fx.snap, &r.geometry)).sum();
        assert!((area - area_m2(&fx.snap, &a.geometry)).abs() < 0.01, "case {case}: area kept");
        assert_eq!(p.write.iter().map(|r| r.households).sum::<u32>(), a.households, "case {case}");
        // Merging the parts again (on the snapshot with the split applied) sums households.
        if case % 6 == 0 {
            assert_impact_matches_brute_force(&fx.snap, &p);
            let after = applied(&fx.snap, &p);
            let mut used = fx.used.clone();
            used.extend(p.write.iter().map(|r| r.code.clone()));
            let ctx = Context { snap: &after, used_codes: &used, rules: &fx.rules };
            let m =
                plan(&ctx, &EditOp::Merge { grids: p.write.iter().map(|r| (r.code.clone(), 1)).collect(), name: None })
                    .unwrap();
            assert!(errors(&m).iter().all(|r| *r == "building-cut"), "case {case}: {:?}", m.violations);
            assert_eq!(m.write[0].households, a.households);
        }
        done += 1;
    }
    assert!(done >= 50, "{done} splits checked, {refused} refused as slivers");
}

#[test]
fn overlap_and_gap_are_located_where_the_boundary_moved() {
    let fx = Fx::new();
    let a = fx.well_staffed().find(|a| !fx.inner_edges(a).is_empty()).unwrap();
    let (b, v, _) = fx.inner_edges(a).into_iter().next().unwrap();
    let rb = fx.snap.region(&b).unwrap();
    let (ux, uy) = inward(&fx, a, v);
    for (sign, rule) in [(-1.0, "overlaps-sibling"), (1.0, "gap")] {
        let moved = move_vertex(&a.geometry, v, fx.offset(v, sign * ux * 5.0, sign * uy * 5.0));
        let p = fx.plan(&reshape_op(&fx.snap, vec![(a.code.clone(), moved.clone())]));
        let viol = p.violations.iter().find(|x| x.rule == rule).unwrap();
        let geo::Geometry::MultiPolygon(where_) = &viol.geometry else { panic!("{rule} is an area") };
        let changed = (area_m2(&fx.snap, &moved) - area_m2(&fx.snap, &a.geometry)).abs();
        assert!((area_m2(&fx.snap, where_) - changed).abs() < 0.05, "{rule}: the area a gained or lost");
        if rule == "overlaps-sibling" {
            assert_eq!(viol.codes, vec![a.code.clone(), b.clone()]);
            let outside_b = where_.difference(&rb.geometry);
            assert!(area_m2(&fx.snap, &outside_b) < 0.01, "the overlap lies in the neighbour");
        } else {
            let in_a = where_.intersection(&moved);
            assert!(area_m2(&fx.snap, &in_a) < 0.01, "the gap lies outside the new shape");
        }
    }
}

#[test]
fn reshape_refusals() {
    let fx = Fx::new();
    let a = &fx.snap.data.grids[3];
    let shape = |v| GridShape { code: a.code.clone(), expected_version: v, geometry: a.geometry.clone() };
    let err = plan(&fx.ctx(), &EditOp::Reshape { grids: vec![shape(7)] }).unwrap_err();
    assert!(matches!(err, EditError::Stale { expected: 7, current: 1, .. }), "{err}");
    assert!(err.to_string().contains("reload"));
    let err = plan(&fx.ctx(), &EditOp::Reshape { grids: vec![shape(1), shape(1)] }).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let err = plan(&fx.ctx(), &EditOp::Reshape { grids: vec![] }).unwrap_err();
    assert!(matches!(err, EditError::Invalid(_)));
    let community = a.code.parent().unwrap();
    let err = plan(
        &fx.ctx(),
        &EditOp::Reshape {
            grids: vec![GridShape { code: community, expected_version: 1, geometry: a.geometry.clone() }],
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a grid code"), "{err}");
    let err = plan(
        &fx.ctx(),
        &EditOp::Reshape {
            grids: vec![GridShape { code: code("65020300100199"), expected_version: 1, geometry: a.geometry.clone() }],
        },
    )
    .unwrap_err();
    assert!(matches!(err, EditError::UnknownGrid(_)));
}

#[test]
fn random_boundary_moves_never_panic_and_accepted_ones_tile_exactly() {
    use rand::{Rng, SeedableRng};
    let fx = Fx::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..40 {
        let a = &fx.snap.data.grids[rng.random_range(0..fx.snap.data.grids.len())];
        let edges = fx.inner_edges(a);
        if edges.is_empty() {
            continue;
        }
        let (b, v, _) = edges[rng.random_range(0..edges.len())].clone();
        let rb = fx.snap.region(&b).unwrap();
        let (r, t): (f64, f64) = (rng.random::<f64>() * 25.0, rng.random::<f64>() * std::f64::consts::TAU);
        let to = fx.offset(v, r * t.cos(), r * t.sin());
        // Both grids (a valid shared move unless it cuts a building or folds an edge), or a
        // alone (an overlap or a gap unless the move is within the snapping tolerance).
        let both = case % 2 == 0;
        let mut shapes = vec![(a.code.clone(), move_vertex(&a.geometry, v, to))];
        if both {
            shapes.push((b.clone(), move_vertex(&rb.geometry, v, to)));
        }
        let p = fx.plan(&reshape_op(&fx.snap, shapes));
        let e = errors(&p);
        if both {
            assert!(
                !e.contains(&"gap") && !e.contains(&"overlaps-sibling") || e.contains(&"self-intersection"),
                "case {case}: {e:?}"
            );
        } else if r > 1.0 {
            assert!(e.contains(&"gap") || e.contains(&"overlaps-sibling"), "case {case}: moved {r:.1} m alone: {e:?}");
        }
        if p.is_acceptable() {
            accepted += 1;
            if accepted <= 4 {
                assert_impact_matches_brute_force(&fx.snap, &p);
            }
        } else {
            refused += 1;
        }
    }
    assert!(accepted >= 5 && refused >= 5, "{accepted} accepted, {refused} refused");
}
