//! Travel, barriers, response and coverage: who can be at a point within 1, 3 or 5 minutes, and
//! where nobody can.
//!
//! # The travel model
//! A responder travels at its mode's speed after its mode's start-up delay ([`ReachConfig`]:
//! walk 1.4 m/s after 5 s, run 3.5 m/s after 10 s, e-bike 6 m/s after 20 s, car 8 m/s after
//! 30 s), along the shortest path that
//! * never passes through a building (buildings are obstacles for everyone),
//! * never crosses the wall of a gated compound except at a gate that, at that time of day, is
//!   open (its [`Schedule`]), is of the right kind (walkers and runners use
//!   `pedestrian` and `both` gates, e-bikes and cars `vehicle` and `both`) and admits the
//!   responder (`public`, or its role: police posts and patrols pass as police, joint-defence
//!   teams and service stations as staff).
//!
//! So a responder inside a compound leaves through one of its usable gates, a target inside
//! another compound is entered through one of that compound's usable gates, and a responder
//! inside the target's own compound goes there directly. A point inside a building is reached
//! at one of the building's doors (its entrances, snapped onto its outline; its corners if it
//! has none), and a responder standing inside a building leaves by a door. Ungated compounds
//! have no walls. Responders off duty at the asked time do not respond.
//!
//! # The algorithm, and why
//! Walls and buildings are polygons, so the exact shortest path is a polyline that bends only
//! at obstacle corners (and passes between rooms only at gates). gridmap searches the **reduced
//! visibility graph**: its nodes are the corners where paths can bend and the two
//! sides of every gate; its edges join nodes of one room that see each other with the line
//! tangent at both corners. Searching it is *exact*: the travel distance it gives is the true
//! shortest distance in the model, up to floating point (orientation tests are exact; crossing
//! points are rounded, far below a millimetre). The tests compare it with a brute-force
//! all-pairs search over every vertex with an independent visibility test.
//!
//! The alternatives were rejected for their error: a cost-distance raster is off by up to 8 %
//! (8 neighbours) or 2.7 % (16) in open ground plus a cell at every wall, and cannot represent a
//! gate narrower than a cell; a road graph would need a road layer gridmap does not have and
//! would ignore how compound interiors are laid out.
//!
//! Edges are not built with the snapshot: each node's edges are found by a visibility sweep
//! the first time a search reaches it, and kept. Building the index is linear
//! (projection, room assignment, a spatial hash); a query pays for the part of the city it
//! touches, not for the size of the city.
//!
//! * **Response** ([`ReachIndex::response`]): candidates come from an R-tree of responders by
//!   straight-line distance, which is a lower bound; each candidate's exact distance is found
//!   by A* over the graph from its position towards the target, pruned by its budget.
//! * **Reach areas and coverage** ([`ReachIndex::reach_area`], [`coverage()`]): a search from every responder settles every
//!   node within budget; then every sample point (raster cell centre, door) that some settled
//!   node or responder sees within its remaining budget is marked. Sample points are exact; the
//!   only error of an area is its raster outline, at most a cell (10 m by default for coverage;
//!   for a responder's area, 1/120 of its diameter).
//!
//! Coordinates: the public API takes and returns EPSG:4326 (lon, lat); everything inside is in
//! the snapshot's local metres ([`LocalProjection`]). The full account, with the figures, is
//! `docs/reach.md`.
//!
//! # Files
//! `config` (speeds, delays, classes), `world` (rooms, obstacles, nodes, doors, spatial hash),
//! `geom` (exact predicates), `sweep` (visibility with shadows), `graph` (lazy edges, A* and
//! budget searches), `canvas` (sample points and pushes), `raster` (cells to valid polygons),
//! `coverage` (per-grid shares, blind spots, the content-keyed cache), `suggest` (greedy
//! staging), `hash` and `lazy` (small utilities). [`ReachIndex`] is built by
//! [`Snapshot::build`](crate::index::Snapshot::build) from the model; coverage and suggestions
//! read the whole [`Snapshot`](crate::index::Snapshot) (for grids and their boundary rule).
//! Nothing here knows of HTTP or storage.

use geo::{MultiPolygon, Point};
use rstar::primitives::GeomWithData;
use rstar::RTree;

use crate::model::{Dataset, LocalProjection, ResponderKind, Schedule, TimeOfDay, TravelMode};

mod canvas;
pub mod config;
pub mod coverage;
mod geom;
mod graph;
mod hash;
mod lazy;
mod raster;
pub mod suggest;
mod sweep;
mod world;

pub use config::{Class, ModeParams, ReachConfig};
pub use coverage::{coverage, coverage_with, CacheUse, Coverage, GridCoverage, Shares};
pub use suggest::{suggest, Staging, Suggestions};

use canvas::Canvas;
use geom::{dist, P};
use graph::{Endpoint, Net};
use hash::{Hasher64, IntMap};
use lazy::LazyTable;
use sweep::Cone;
use world::World;

/// Why a reach query cannot be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReachError {
    /// A time limit that is not offered.
    #[error("minutes={minutes} is not offered; ask for one of {allowed:?}")]
    BadMinutes { minutes: u32, allowed: Vec<u32> },
    /// A well-formed code that names no region of the district.
    #[error("there is no region with code {0} in this district")]
    UnknownRegion(String),
    /// More staging points asked for than one request may.
    #[error("add={asked} is more than the {max} staging points one request may ask for")]
    TooManySuggestions { asked: usize, max: usize },
}

/// A responder as the travel model sees it.
struct ResponderInfo {
    id: u32,
    kind: ResponderKind,
    mode: TravelMode,
    duty: Schedule,
    p: P,
    endpoints: Vec<Endpoint>,
    digest: u64,
}

/// One responder's trip to a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Position of the responder in the dataset's responder layer, and its id.
    pub responder: usize,
    pub id: u32,
    /// From the call to arrival, seconds (start-up delay included).
    pub travel_s: f64,
    /// Length of the path, metres.
    pub distance_m: f64,
    /// Ids of the gates passed, in travel order.
    pub via_gates: Vec<u32>,
}

/// The travel network of one snapshot (see the module doc).
pub struct ReachIndex {
    config: ReachConfig,
    projection: LocalProjection,
    net: Net,
    responders: Vec<ResponderInfo>,
    /// Responders by the points their trips start from (their position, or the doors of the
    /// building they stand in), local metres.
    responder_tree: RTree<GeomWithData<[f64; 2], u32>>,
    /// Per responder, per endpoint: the nodes it sees within the horizon.
    stars: LazyTable<Vec<Vec<(u32, f64)>>>,
}

impl std::fmt::Debug for ReachIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReachIndex")
            .field("nodes", &self.net.world.nodes.len())
            .field("obstacles", &self.net.world.polys.len())
            .field("rooms", &self.net.world.rooms.len())
            .field("responders", &self.responders.len())
            .finish()
    }
}

impl ReachIndex {
    /// Builds the travel network of `data` with the default [`ReachConfig`]; `projection` gives
    /// local metres. Linear in the size of the data; graph edges are built lazily.
    pub fn build(data: &Dataset, projection: &LocalProjection) -> ReachIndex {
        ReachIndex::build_with(data, projection, ReachConfig::default())
    }

    /// [`ReachIndex::build`] with a given configuration.
    pub fn build_with(data: &Dataset, projection: &LocalProjection, config: ReachConfig) -> ReachIndex {
        let world = World::build(data, projection, config.index_cell_m);
        let net = Net::new(world, config.horizon_m());
        let responders: Vec<ResponderInfo> = data
            .responders
            .iter()
            .map(|r| {
                let (x, y) = projection.to_local(r.location.x(), r.location.y());
                let mut h = Hasher64::new(r.id as u64);
                h.f64(x);
                h.f64(y);
                h.str(&format!("{:?}{:?}", r.kind, r.mode));
                ResponderInfo {
                    id: r.id,
                    kind: r.kind,
                    mode: r.mode,
                    duty: r.duty.clone(),
                    p: [x, y],
                    endpoints: net.endpoints([x, y]),
                    digest: h.finish(),
                }
            })
            .collect();
        let responder_tree = RTree::bulk_load(
            responders
                .iter()
                .enumerate()
                .flat_map(|(i, r)| r.endpoints.iter().map(move |e| GeomWithData::new(e.p, i as u32)))
                .collect(),
        );
        let stars = LazyTable::new(responders.len());
        ReachIndex { config, projection: *projection, net, responders, responder_tree, stars }
    }

    /// The travel model in use.
    pub fn config(&self) -> &ReachConfig {
        &self.config
    }

    /// The time limit in seconds for `minutes`, if it is one of the allowed limits.
    pub fn limit_s(&self, minutes: u32) -> Result<f64, ReachError> {
        if self.config.allowed_minutes.contains(&minutes) {
            Ok(minutes as f64 * 60.0)
        } else {
            Err(ReachError::BadMinutes { minutes, allowed: self.config.allowed_minutes.clone() })
        }
    }

    /// Size of the network: (graph nodes, obstacle polygons, rooms).
    pub fn stats(&self) -> (usize, usize, usize) {
        let w = &self.net.world;
        (w.nodes.len(), w.polys.len(), w.rooms.len())
    }

    fn to_local(&self, lon: f64, lat: f64) -> P {
        let (x, y) = self.projection.to_local(lon, lat);
        [x, y]
    }

    fn stars_of(&self, r: usize) -> &Vec<Vec<(u32, f64)>> {
        self.stars.get_or_init(r, || {
            self.responders[r].endpoints.iter().map(|e| self.net.star(e, self.net.horizon_m)).collect()
        })
    }

    /// The class of responder `r`.
    fn class_of(&self, r: usize) -> Class {
        Class::of(self.responders[r].kind, self.responders[r].mode)
    }

    /// Seeds of a search from responder `r`: the nodes its endpoints see, within `budget_m`.
    fn seeds(&self, r: usize, budget_m: f64) -> Vec<(u32, f64, P)> {
        let info = &self.responders[r];
        let mut seeds = Vec::new();
        for (e, star) in info.endpoints.iter().zip(self.stars_of(r)) {
            for &(v, d) in star {
                if d <= budget_m {
                    seeds.push((v, d, e.p));
                }
            }
        }
        seeds
    }

    /// The shortest trip of responder `r` to the target endpoints within `budget_m`:
    /// (metres, gates passed).
    fn trip(
        &self,
        r: usize,
        targets: &[Endpoint],
        target_star: &IntMap<u32, f64>,
        budget_m: f64,
        at: TimeOfDay,
    ) -> Option<(f64, Vec<u32>)> {
        let info = &self.responders[r];
        let mut best: Option<(f64, Vec<u32>)> = None;
        for s in &info.endpoints {
            for t in targets {
                if let Some(d) = self.net.direct(s, t) {
                    if d <= budget_m && best.as_ref().is_none_or(|b| d < b.0) {
                        best = Some((d, Vec::new()));
                    }
                }
            }
        }
        let limit = best.as_ref().map_or(budget_m, |b| b.0.min(budget_m));
        let seeds = self.seeds(r, limit);
        // Straight distance to the nearest target endpoint never overestimates.
        let h = |q: P| targets.iter().map(|t| dist(q, t.p)).fold(f64::INFINITY, f64::min);
        let (tree, found) = self.net.search(&seeds, self.class_of(r), at, limit, Some((target_star, &h)));
        if let Some((d, last)) = found {
            if best.as_ref().is_none_or(|b| d < b.0) {
                best = Some((d, self.net.gates_on_path(&tree, last)));
            }
        }
        best
    }

    fn target_star(&self, targets: &[Endpoint], radius_m: f64) -> IntMap<u32, f64> {
        let mut m: IntMap<u32, f64> = IntMap::default();
        for t in targets {
            for (v, d) in self.net.star(t, radius_m) {
                m.entry(v).and_modify(|x| *x = x.min(d)).or_insert(d);
            }
        }
        m
    }

    /// Straight distance between the nearest endpoints of responder `r` and the targets: no
    /// trip is shorter.
    fn lower_bound(&self, r: usize, targets: &[Endpoint]) -> f64 {
        let mut lb = f64::INFINITY;
        for s in &self.responders[r].endpoints {
            for t in targets {
                lb = lb.min(dist(s.p, t.p));
            }
        }
        lb
    }

    /// The responders on duty at `at` that reach `(lon, lat)` (EPSG:4326) within `limit_s`
    /// seconds, fastest first.
    pub fn response(&self, lon: f64, lat: f64, limit_s: f64, at: TimeOfDay) -> Vec<Arrival> {
        let p = self.to_local(lon, lat);
        let max_b = self.config.max_budget_m(limit_s);
        if max_b < 0.0 {
            return Vec::new();
        }
        let targets = self.net.endpoints(p);
        // The tree holds responders' endpoints; a target inside a building ends at its doors.
        let spread = targets.iter().map(|t| dist(t.p, p)).fold(0.0, f64::max);
        let radius = max_b + spread;
        let mut cands: Vec<usize> =
            self.responder_tree.locate_within_distance(p, radius * radius).map(|e| e.data as usize).collect();
        cands.sort_unstable();
        cands.dedup();
        let mut star: Option<IntMap<u32, f64>> = None;
        let mut out: Vec<Arrival> = Vec::new();
        for r in cands {
            let info = &self.responders[r];
            let b = self.config.budget_m(info.mode, limit_s);
            if !info.duty.is_open(at) || self.lower_bound(r, &targets) > b {
                continue;
            }
            let star = star.get_or_insert_with(|| self.target_star(&targets, max_b));
            if let Some((d, gates)) = self.trip(r, &targets, star, b, at) {
                out.push(Arrival {
                    responder: r,
                    id: info.id,
                    travel_s: self.config.travel_s(info.mode, d),
                    distance_m: d,
                    via_gates: gates,
                });
            }
        }
        out.sort_by(|a, b| a.travel_s.total_cmp(&b.travel_s).then(a.id.cmp(&b.id)));
        out
    }

    /// Responder `responder`'s trip to `(lon, lat)` (EPSG:4326) if it arrives within `limit_s`,
    /// whether or not it is on duty at `at` (`at` decides which gates are open).
    pub fn travel(&self, responder: usize, lon: f64, lat: f64, limit_s: f64, at: TimeOfDay) -> Option<Arrival> {
        let info = self.responders.get(responder)?;
        let p = self.to_local(lon, lat);
        let b = self.config.budget_m(info.mode, limit_s);
        let targets = self.net.endpoints(p);
        if b < 0.0 || self.lower_bound(responder, &targets) > b {
            return None;
        }
        let star = self.target_star(&targets, b);
        let (d, gates) = self.trip(responder, &targets, &star, b, at)?;
        Some(Arrival {
            responder,
            id: info.id,
            travel_s: self.config.travel_s(info.mode, d),
            distance_m: d,
            via_gates: gates,
        })
    }

    /// The cone a settled node pushes into: the half-plane its path bends towards (see
    /// [`Cone`]); `None` (everywhere) for gates and untaut arrivals.
    fn cone_of(&self, v: u32, from: P) -> Option<Cone> {
        let n = &self.net.world.nodes[v as usize];
        if from == n.p {
            return None;
        }
        self.net.world.obstacle_side(n, from).map(|side| Cone { from, apex: n.p, side })
    }

    /// Where responder `responder` gets within `limit_s` seconds at `at` (whether or not on
    /// duty), as a valid multipolygon in EPSG:4326. Its outline follows a raster of 120 cells
    /// across the area's diameter (at least 0.25 m, at most 25 m a cell); the responder's own
    /// cell is always in it, so a short limit gives a tiny square, never an error. Empty when the
    /// start-up alone takes longer than the limit.
    pub fn reach_area(&self, responder: usize, limit_s: f64, at: TimeOfDay) -> MultiPolygon<f64> {
        let Some(info) = self.responders.get(responder) else { return MultiPolygon(vec![]) };
        let b = self.config.budget_m(info.mode, limit_s);
        if b < 0.0 {
            return MultiPolygon(vec![]);
        }
        let cell = (2.0 * b / 120.0).clamp(0.25, 25.0);
        let pad = b + cell;
        let bbox = info.endpoints.iter().fold([info.p[0], info.p[1], info.p[0], info.p[1]], |bb, e| {
            [bb[0].min(e.p[0]), bb[1].min(e.p[1]), bb[2].max(e.p[0]), bb[3].max(e.p[1])]
        });
        let bbox = [bbox[0] - pad, bbox[1] - pad, bbox[2] + pad, bbox[3] + pad];
        let mut canvas = Canvas::new(&self.net.world, bbox, cell, None);
        for e in &info.endpoints {
            canvas.push(&self.net, e.p, e.room, b, None);
        }
        for (v, left, cone) in self.settle(&[(responder, b)], self.class_of(responder), at) {
            let n = &self.net.world.nodes[v as usize];
            canvas.push(&self.net, n.p, n.room, left, cone);
        }
        canvas.resolve_buildings(&self.net.world);
        let (i, j) = ((info.p[0] / cell).floor() as i64, (info.p[1] / cell).floor() as i64);
        if i >= canvas.i0 && j >= canvas.j0 && i < canvas.i0 + canvas.ni as i64 && j < canvas.j0 + canvas.nj as i64 {
            let k = (j - canvas.j0) as usize * canvas.ni + (i - canvas.i0) as usize;
            canvas.covered[k] = true;
        }
        self.polygons(&canvas.covered, canvas.i0, canvas.j0, canvas.ni, canvas.nj, cell)
    }

    /// Traces the marked cells of an `ni × nj` mask whose first cell is raster cell `(i0, j0)`
    /// (cells of `c` metres) into a multipolygon in EPSG:4326.
    fn polygons(&self, mask: &[bool], i0: i64, j0: i64, ni: usize, nj: usize, c: f64) -> MultiPolygon<f64> {
        let to_ll = |q: &P| {
            let (lon, lat) = self.projection.to_lon_lat((i0 as f64 + q[0]) * c, (j0 as f64 + q[1]) * c);
            geo::Coord { x: lon, y: lat }
        };
        let ring = |r: &Vec<P>| {
            let mut v: Vec<geo::Coord<f64>> = r.iter().map(to_ll).collect();
            v.push(v[0]);
            geo::LineString(v)
        };
        MultiPolygon(
            raster::trace(mask, ni, nj)
                .iter()
                .map(|(s, holes)| geo::Polygon::new(ring(s), holes.iter().map(ring).collect()))
                .collect(),
        )
    }

    /// The responder's location, EPSG:4326.
    pub fn responder_location(&self, responder: usize) -> Option<Point<f64>> {
        let p = self.responders.get(responder)?.p;
        let (lon, lat) = self.projection.to_lon_lat(p[0], p[1]);
        Some(Point::new(lon, lat))
    }
}
