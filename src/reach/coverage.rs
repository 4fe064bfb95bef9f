//! Coverage of a region: the share of area, households, gates and building entrances that some
//! responder on duty reaches within the limit, per grid and in total, and the blind spots.
//!
//! # What is counted
//! * **Area**: the cells of a square raster (see [`ReachConfig::coverage_cell_m`](super::ReachConfig::coverage_cell_m)) whose centres
//!   lie in the grid; a cell is covered when its centre is reached (a centre inside a building
//!   when one of the building's doors is). Shares are exact at the centres.
//! * **Households**: each building's households are split evenly over its entrances and count
//!   as covered when their entrance is reached (all of them, when any corner of a building
//!   without entrances is). They belong to the grid of the building's interior point.
//! * **Gates** and **entrances**: reached when their point is (a gate from either side). They
//!   belong to the grid their point lies in (the grids' boundary rule decides ties).
//! * **Blind spots**: the cells of the region not covered, traced into valid polygons.
//!
//! # Caching
//! Snapshots are immutable and swapped whole, so results are cached across snapshots by
//! *content*: one entry per grid, keyed by a digest of the limit, the travel model, the grid's
//! outline, and every obstacle, gate (with whether each class may pass at that minute), door and
//! responder (with whether it is on duty at that minute) within the longest budget of the
//! grid. Nothing outside that distance can change the grid's result, so an edit, a responder
//! moving or a gate changing recomputes only the grids within reach of it, and two times of day
//! with the same gates open and the same responders on duty share their entries. The cache is a
//! process-wide map behind a mutex held only to look up or store (never during a computation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use geo::{InteriorPoint, MultiPolygon};

use super::canvas::{Canvas, NOT_TARGET};
use super::geom::P;
use super::hash::{mix, Hasher64, IntMap};
use super::sweep::Cone;
use super::world::{NONE, OUTSIDE};
use super::{Class, ReachError, ReachIndex};
use crate::index::Snapshot;
use crate::model::{Code, LayerKind, Level, TimeOfDay};

/// Counts of what is covered, for a grid or a whole region.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shares {
    /// Area of the raster cells counted, and of those whose centre is reached, square metres.
    pub area_m2: f64,
    pub area_covered_m2: f64,
    /// Households, and those behind a door that is reached.
    pub households: u64,
    pub households_covered: u64,
    /// Gates (access points), and those reached from either side.
    pub gates: u32,
    pub gates_covered: u32,
    /// Building entrances, and those reached.
    pub entrances: u32,
    pub entrances_covered: u32,
}

impl Shares {
    fn add(&mut self, o: &Shares) {
        self.area_m2 += o.area_m2;
        self.area_covered_m2 += o.area_covered_m2;
        self.households += o.households;
        self.households_covered += o.households_covered;
        self.gates += o.gates;
        self.gates_covered += o.gates_covered;
        self.entrances += o.entrances;
        self.entrances_covered += o.entrances_covered;
    }

    /// `covered / total`, or 1 when there is nothing to cover.
    pub fn ratio(covered: f64, total: f64) -> f64 {
        if total > 0.0 {
            covered / total
        } else {
            1.0
        }
    }
}

/// One grid's coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct GridCoverage {
    /// The grid's code and name.
    pub code: Code,
    pub name: String,
    pub shares: Shares,
}

/// A door left uncovered, by stable identity (ids survive snapshots; positions do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DoorKey {
    Entrance(u32),
    /// A building without entrances (its corners are its doors).
    Building(u32),
}

/// The cached result of one grid.
#[derive(Debug)]
struct GridResult {
    shares: Shares,
    /// Uncovered cells as runs `(row, first column, last column)`, absolute raster indices.
    blind_runs: Vec<(i64, i64, i64)>,
    /// Households left uncovered, by door.
    uncovered: Vec<(DoorKey, u32)>,
}

/// A grid to compute: its position among the region's grids, its cache key, its rings and box
/// (local metres).
struct Missing {
    pos: usize,
    key: u64,
    rings: Vec<Vec<P>>,
    bbox: [f64; 4],
}

/// The coverage of a region at one limit and time.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// The limit and local time of day asked for.
    pub minutes: u32,
    pub at: TimeOfDay,
    /// Side of the raster cells, metres.
    pub cell_m: f64,
    pub totals: Shares,
    /// Per grid of the region, in code order.
    pub grids: Vec<GridCoverage>,
    /// The uncovered places, EPSG:4326 (empty unless asked for).
    pub blind_spots: MultiPolygon<f64>,
    /// Grids computed by this call, and grids taken from the cache.
    pub computed: usize,
    pub reused: usize,
    /// Households left uncovered, by door (for staging suggestions).
    pub(crate) uncovered: Vec<(DoorKey, u32)>,
}

const CACHE_CAPACITY: usize = 20_000;
/// Bumped whenever what a grid result means changes.
const CACHE_VERSION: u64 = 1;

struct Cache {
    map: HashMap<u64, (Arc<GridResult>, u64)>,
    tick: u64,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Cache { map: HashMap::new(), tick: 0 }))
}

fn cache_get(key: u64) -> Option<Arc<GridResult>> {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    c.tick += 1;
    let tick = c.tick;
    c.map.get_mut(&key).map(|e| {
        e.1 = tick;
        e.0.clone()
    })
}

fn cache_put(key: u64, value: Arc<GridResult>) {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.map.len() >= CACHE_CAPACITY {
        // Drop the least recently used quarter.
        let mut ticks: Vec<u64> = c.map.values().map(|e| e.1).collect();
        ticks.sort_unstable();
        let cut = ticks[ticks.len() / 4];
        c.map.retain(|_, e| e.1 > cut);
    }
    c.tick += 1;
    let tick = c.tick;
    c.map.insert(key, (value, tick));
}

/// The grids (positions in the snapshot) of a region of any level.
pub(crate) fn region_grids(snap: &Snapshot, region: &Code) -> Result<Vec<usize>, ReachError> {
    let known = match region.level() {
        Level::District => *region == snap.data.district.code,
        _ => snap.region(region).is_some(),
    };
    if !known {
        return Err(ReachError::UnknownRegion(region.to_string()));
    }
    Ok(snap.data.grids.iter().enumerate().filter(|(_, g)| g.code.is_within(region)).map(|(i, _)| i).collect())
}

/// The rings of a grid in local metres, and its box.
fn grid_rings(idx: &ReachIndex, snap: &Snapshot, g: usize) -> (Vec<Vec<P>>, [f64; 4]) {
    let mut rings = Vec::new();
    for poly in &snap.data.grids[g].geometry.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            let mut r: Vec<P> = ring.coords().map(|c| idx.to_local(c.x, c.y)).collect();
            if r.len() > 1 && r.first() == r.last() {
                r.pop();
            }
            rings.push(r);
        }
    }
    let bb = rings.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, r| {
        let q = super::geom::bbox(r);
        [b[0].min(q[0]), b[1].min(q[1]), b[2].max(q[2]), b[3].max(q[3])]
    });
    (rings, bb)
}

fn grow(b: [f64; 4], by: f64) -> [f64; 4] {
    [b[0] - by, b[1] - by, b[2] + by, b[3] + by]
}

/// Indices of responders within a box.
fn responders_in(idx: &ReachIndex, b: &[f64; 4]) -> Vec<usize> {
    let env = rstar::AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
    let mut v: Vec<usize> = idx.responder_tree.locate_in_envelope(&env).map(|e| e.data as usize).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The content digest of everything that can change grid `g`'s result (see the module doc).
fn grid_key(
    idx: &ReachIndex,
    snap: &Snapshot,
    g: usize,
    minutes: u32,
    at: TimeOfDay,
    rings: &[Vec<P>],
    bb: [f64; 4],
) -> u64 {
    let w = &idx.net.world;
    let limit_s = minutes as f64 * 60.0;
    let reach = idx.config.max_budget_m(limit_s).max(0.0) + 2.0 * idx.config.coverage_cell_m;
    let mut h = Hasher64::new(CACHE_VERSION);
    h.u64(idx.config.digest());
    h.u64(minutes as u64);
    h.f64(idx.projection.lon0);
    h.f64(idx.projection.lat0);
    h.f64(w.grid.x0);
    h.f64(w.grid.y0);
    h.f64(w.grid.cell);
    h.str(snap.data.grids[g].code.as_str());
    for r in rings {
        h.u64(r.len() as u64);
        for p in r {
            h.f64(p[0]);
            h.f64(p[1]);
        }
    }
    let mut sum = 0u64;
    let (a0, b0, a1, b1) = w.grid.span(&grow(bb, reach));
    for cy in b0..=b1 {
        for cx in a0..=a1 {
            let Some(c) = w.grid.index(cx, cy) else { continue };
            for &pi in w.cell_polys.get(c) {
                let p = &w.polys[pi as usize];
                let d = if p.wall { w.room_digest[p.room as usize] } else { w.poly_digest[pi as usize] };
                sum = sum.wrapping_add(mix(d));
            }
            for &n in w.cell_nodes.get(c) {
                if let Some(gi) = w.nodes[n as usize].gate() {
                    let gate = &w.gates[gi as usize];
                    sum = sum.wrapping_add(mix(gate.digest ^ (gate.usable_bits(at) << 56)));
                }
            }
            for &d in w.cell_doors.get(c) {
                sum = sum.wrapping_add(mix(w.door_digest[d as usize]));
            }
        }
    }
    for r in responders_in(idx, &grow(bb, reach)) {
        let info = &idx.responders[r];
        sum = sum.wrapping_add(mix(info.digest ^ u64::from(info.duty.is_open(at))));
    }
    h.u64(sum);
    h.finish()
}

/// Whether [`coverage_with`] may take grid results from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// Take what is cached, compute and store the rest.
    Use,
    /// Compute every grid and store nothing (for benchmarks and cross-checks).
    Bypass,
}

/// Coverage of `region` (a district, subdistrict, community or grid code) by the responders on
/// duty at `at` within `minutes`; with `blind_spots`, the uncovered places as polygons.
pub fn coverage(
    snap: &Snapshot,
    region: &Code,
    minutes: u32,
    at: TimeOfDay,
    blind_spots: bool,
) -> Result<Coverage, ReachError> {
    coverage_with(snap, region, minutes, at, blind_spots, CacheUse::Use)
}

/// [`coverage`], choosing whether to use the cache.
pub fn coverage_with(
    snap: &Snapshot,
    region: &Code,
    minutes: u32,
    at: TimeOfDay,
    blind_spots: bool,
    cache_use: CacheUse,
) -> Result<Coverage, ReachError> {
    let idx = &snap.reach;
    idx.limit_s(minutes)?;
    let grids = region_grids(snap, region)?;
    let mut results: Vec<Option<Arc<GridResult>>> = vec![None; grids.len()];
    let mut missing: Vec<Missing> = Vec::new();
    for (k, &g) in grids.iter().enumerate() {
        let (rings, bb) = grid_rings(idx, snap, g);
        let key = grid_key(idx, snap, g, minutes, at, &rings, bb);
        let cached = if cache_use == CacheUse::Use { cache_get(key) } else { None };
        match cached {
            Some(r) => results[k] = Some(r),
            None => missing.push(Missing { pos: k, key, rings, bbox: bb }),
        }
    }
    let computed = missing.len();
    if !missing.is_empty() {
        let fresh = compute(snap, &grids, &missing, minutes, at);
        for (m, r) in missing.iter().zip(fresh) {
            let r = Arc::new(r);
            if cache_use == CacheUse::Use {
                cache_put(m.key, r.clone());
            }
            results[m.pos] = Some(r);
        }
    }
    let mut totals = Shares::default();
    let mut out = Vec::with_capacity(grids.len());
    let mut uncovered = Vec::new();
    let mut runs: Vec<(i64, i64, i64)> = Vec::new();
    for (k, &g) in grids.iter().enumerate() {
        let Some(r) = &results[k] else { continue };
        totals.add(&r.shares);
        let grid = &snap.data.grids[g];
        out.push(GridCoverage { code: grid.code.clone(), name: grid.name.clone(), shares: r.shares });
        uncovered.extend_from_slice(&r.uncovered);
        if blind_spots {
            runs.extend_from_slice(&r.blind_runs);
        }
    }
    let cell = idx.config.coverage_cell_m;
    let blind = if runs.is_empty() { MultiPolygon(vec![]) } else { trace_runs(idx, &runs, cell) };
    Ok(Coverage {
        minutes,
        at,
        cell_m: cell,
        totals,
        grids: out,
        blind_spots: blind,
        computed,
        reused: grids.len() - computed,
        uncovered,
    })
}

/// Traces runs of cells into polygons (EPSG:4326).
fn trace_runs(idx: &ReachIndex, runs: &[(i64, i64, i64)], cell: f64) -> MultiPolygon<f64> {
    let (i0, j0) = runs.iter().fold((i64::MAX, i64::MAX), |a, r| (a.0.min(r.1), a.1.min(r.0)));
    let (i1, j1) = runs.iter().fold((i64::MIN, i64::MIN), |a, r| (a.0.max(r.2), a.1.max(r.0)));
    let (ni, nj) = ((i1 - i0 + 1) as usize, (j1 - j0 + 1) as usize);
    let mut mask = vec![false; ni * nj];
    for &(j, a, b) in runs {
        for i in a..=b {
            mask[(j - j0) as usize * ni + (i - i0) as usize] = true;
        }
    }
    idx.polygons(&mask, i0, j0, ni, nj, cell)
}

/// Computes the missing grids together: one search per class over every responder that can
/// reach them, one push per responder and settled node.
fn compute(snap: &Snapshot, grids: &[usize], missing: &[Missing], minutes: u32, at: TimeOfDay) -> Vec<GridResult> {
    let idx = &snap.reach;
    let w = &idx.net.world;
    let cell = idx.config.coverage_cell_m;
    let limit_s = minutes as f64 * 60.0;
    let bbox = missing.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, m| {
        [b[0].min(m.bbox[0]), b[1].min(m.bbox[1]), b[2].max(m.bbox[2]), b[3].max(m.bbox[3])]
    });
    // Which grid (slot) each cell, building, entrance and gate of the batch belongs to.
    let slot_of: IntMap<usize, u32> = missing.iter().enumerate().map(|(s, m)| (grids[m.pos], s as u32)).collect();
    let owners: Vec<(u32, Vec<Vec<P>>)> =
        missing.iter().enumerate().map(|(s, m)| (s as u32, m.rings.clone())).collect();
    let exact = |q: P| {
        let (lon, lat) = idx.projection.to_lon_lat(q[0], q[1]);
        snap.locate(lon, lat).and_then(|l| slot_of.get(&l.grid).copied())
    };
    let mut canvas = Canvas::new(w, bbox, cell, Some((&owners, &exact)));

    let (lo_lon, lo_lat) = idx.projection.to_lon_lat(bbox[0] - 1.0, bbox[1] - 1.0);
    let (hi_lon, hi_lat) = idx.projection.to_lon_lat(bbox[2] + 1.0, bbox[3] + 1.0);
    let rect = geo::Rect::new((lo_lon, lo_lat), (hi_lon, hi_lat));
    let slot_at = |lon: f64, lat: f64| snap.locate(lon, lat).and_then(|l| slot_of.get(&l.grid).copied());
    let mut buildings: Vec<(usize, u32)> = Vec::new();
    for b in snap.layer_in_bbox(LayerKind::Buildings, rect) {
        let poly = w.building_poly[b];
        if poly == NONE {
            continue;
        }
        if let Some(ip) = snap.data.buildings[b].geometry.interior_point() {
            if let Some(s) = slot_at(ip.x(), ip.y()) {
                buildings.push((b, s));
                canvas.add_doors(w, w.doors_of_poly(poly).map(|d| d as u32));
            }
        }
    }
    let mut entrances: Vec<(usize, u32)> = Vec::new();
    for e in snap.layer_in_bbox(LayerKind::Entrances, rect) {
        let loc = snap.data.entrances[e].location;
        if let Some(s) = slot_at(loc.x(), loc.y()) {
            let d = w.entrance_door[e];
            if d != NONE {
                canvas.add_doors(w, [d]);
            }
            entrances.push((e, s));
        }
    }
    // Gates with a wall are judged by their graph nodes; others by their point.
    let mut gates: Vec<(u32, u32, u32)> = Vec::new(); // (gate or NONE, point slot or NONE, grid slot)
    for a in snap.layer_in_bbox(LayerKind::AccessPoints, rect) {
        let loc = snap.data.access_points[a].location;
        if let Some(s) = slot_at(loc.x(), loc.y()) {
            let g = w.access_point_gate[a];
            let point = if g == NONE { canvas.add_point(w, idx.to_local(loc.x(), loc.y()), OUTSIDE) } else { NONE };
            gates.push((g, point, s));
        }
    }

    // Searches per class; pushes merged over classes (see `merge`).
    let reach = idx.config.max_budget_m(limit_s).max(0.0) + 2.0 * cell;
    let mut by_class: [Vec<(usize, f64)>; 4] = Default::default();
    for r in responders_in(idx, &grow(bbox, reach)) {
        let info = &idx.responders[r];
        let b = idx.config.budget_m(info.mode, limit_s);
        if info.duty.is_open(at) && b >= 0.0 {
            by_class[Class::of(info.kind, info.mode).index()].push((r, b));
        }
    }
    let mut merged: IntMap<u32, (f64, Option<Cone>)> = IntMap::default();
    for (ci, sources) in by_class.iter().enumerate() {
        if sources.is_empty() {
            continue;
        }
        for (v, left, cone) in idx.settle(sources, Class::ALL[ci], at) {
            merge(&mut merged, v, left, cone);
        }
        for &(r, b) in sources {
            for e in &idx.responders[r].endpoints {
                canvas.push(&idx.net, e.p, e.room, b, None);
            }
        }
    }
    for (&v, &(left, cone)) in &merged {
        let n = &w.nodes[v as usize];
        canvas.push(&idx.net, n.p, n.room, left, cone);
    }
    canvas.resolve_buildings(w);

    // Tally per grid.
    let mut results: Vec<GridResult> = (0..missing.len())
        .map(|_| GridResult { shares: Shares::default(), blind_runs: Vec::new(), uncovered: Vec::new() })
        .collect();
    let area = cell * cell;
    for j in 0..canvas.nj {
        let mut run: Option<(u32, i64, i64)> = None;
        for i in 0..canvas.ni {
            let k = j * canvas.ni + i;
            let o = canvas.owner[k];
            let blind = o != NOT_TARGET && !canvas.covered[k];
            if o != NOT_TARGET {
                let sh = &mut results[o as usize].shares;
                sh.area_m2 += area;
                if canvas.covered[k] {
                    sh.area_covered_m2 += area;
                }
            }
            let (ai, aj) = (canvas.i0 + i as i64, canvas.j0 + j as i64);
            match (run, blind) {
                (Some((ro, a, _)), true) if ro == o => run = Some((ro, a, ai)),
                (prev, now) => {
                    if let Some((ro, a, b)) = prev {
                        results[ro as usize].blind_runs.push((aj, a, b));
                    }
                    run = now.then_some((o, ai, ai));
                }
            }
        }
        if let Some((ro, a, b)) = run {
            results[ro as usize].blind_runs.push((canvas.j0 + j as i64, a, b));
        }
    }
    for &(b, s) in &buildings {
        let building = &snap.data.buildings[b];
        let sh = &mut results[s as usize];
        sh.shares.households += building.households as u64;
        let doors = w.doors_of_poly(w.building_poly[b]);
        let with_entrances = doors.clone().any(|d| w.doors[d].entrance.is_some());
        if with_entrances {
            for d in doors {
                let door = &w.doors[d];
                let e = door.entrance.map_or(0, |e| snap.data.entrances[e as usize].id);
                if canvas.door_reached(d as u32) {
                    sh.shares.households_covered += door.households as u64;
                } else if door.households > 0 {
                    sh.uncovered.push((DoorKey::Entrance(e), door.households));
                }
            }
        } else if doors.clone().any(|d| canvas.door_reached(d as u32)) {
            sh.shares.households_covered += building.households as u64;
        } else if building.households > 0 {
            sh.uncovered.push((DoorKey::Building(building.id), building.households));
        }
    }
    for &(e, s) in &entrances {
        let sh = &mut results[s as usize].shares;
        sh.entrances += 1;
        let d = w.entrance_door[e];
        if d != NONE && canvas.door_reached(d) {
            sh.entrances_covered += 1;
        }
    }
    for &(g, point, s) in &gates {
        let sh = &mut results[s as usize].shares;
        sh.gates += 1;
        let reached = if g == NONE {
            canvas.point_covered[point as usize]
        } else {
            let gate = &w.gates[g as usize];
            merged.contains_key(&gate.outer) || merged.contains_key(&gate.inner)
        };
        if reached {
            sh.gates_covered += 1;
        }
    }
    results
}

/// Folds one class's settled node into the merged pushes: the most metres left, and the cone
/// only if every class that settled the node bends into the same one (otherwise the push goes
/// everywhere). A point is covered when some class reaches it; that class's last bend pushes
/// with at least as many metres left and a cone that contains the point, so nothing is lost.
fn merge(merged: &mut IntMap<u32, (f64, Option<Cone>)>, v: u32, left: f64, cone: Option<Cone>) {
    match merged.get_mut(&v) {
        None => {
            merged.insert(v, (left, cone));
        }
        Some(e) => {
            e.0 = e.0.max(left);
            let same = match (&e.1, &cone) {
                (Some(a), Some(b)) => a.from == b.from && a.side == b.side,
                _ => false,
            };
            if !same {
                e.1 = None;
            }
        }
    }
}

impl ReachIndex {
    /// One budget search from several responders of `class` (each with its budget in metres):
    /// every node reached, with the metres left there and the cone it pushes into.
    pub(crate) fn settle(
        &self,
        sources: &[(usize, f64)],
        class: Class,
        at: TimeOfDay,
    ) -> Vec<(u32, f64, Option<Cone>)> {
        let mut seeds: Vec<(u32, f64, P)> = Vec::new();
        for &(r, b) in sources {
            // Costs are metres travelled minus the budget: one pass serves all budgets.
            seeds.extend(self.seeds(r, b).into_iter().map(|(v, c, from)| (v, c - b, from)));
        }
        let (tree, _) = self.net.search(&seeds, class, at, 0.0, None);
        let nodes = &self.net.world.nodes;
        tree.iter()
            .map(|(&v, l)| {
                let from = if l.parent == NONE { l.seed_from } else { nodes[l.parent as usize].p };
                (v, -l.cost, self.cone_of(v, from))
            })
            .collect()
    }
}
