//! The barrier world of one snapshot, in local metres: rooms, obstacles, graph nodes, gates and
//! doors, and a spatial hash over them. Built once per snapshot, read-only afterwards.
//!
//! * A **room** is a piece of free space bounded by walls: room [`OUTSIDE`] is everything not
//!   inside a gated compound (streets, open blocks); room `k >= 1` is the inside of the `k`-th
//!   gated compound. Legs of a trip stay inside one room; the only way between rooms is a gate.
//! * **Obstacles** are the polygons a leg may not pass through: in the outside room every
//!   gated compound (its wall, seen from outside) and every building standing outside; inside a
//!   compound, everything beyond its wall and the buildings standing in it.
//! * **Nodes** are the points where shortest paths can bend or change rooms: the corners of
//!   obstacles that point into a room (convex building and wall corners outside, reflex wall
//!   corners inside) and, for each gate, a node on either side.
//! * **Doors** are building entrances, snapped onto their building's outline; a building
//!   without entrances gets its corners as doors. Households live behind doors.
//!
//! A gate is inserted into its compound's wall as a vertex at the nearest point of the wall, so
//! it lies on the wall exactly. Gates of compounds that are not gated (no wall) are ignored.
//! Holes in compound and building polygons are ignored (the outer ring is the obstacle).

use std::collections::HashMap;

use geo::TriangulateEarcut;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

use super::config::Class;
use super::geom::{bbox, dist, is_convex_ccw, locate, normalise_ring, orient, segment_may_hit, segment_meets, Loc, P};
use super::hash::Hasher64;
use super::lazy::LazyTable;
use crate::model::{Dataset, GateKind, LocalProjection, Passer, Schedule, TimeOfDay};

/// The room of everything not inside a gated compound.
pub(crate) const OUTSIDE: u32 = 0;
/// "No such index".
pub(crate) const NONE: u32 = u32::MAX;

/// An obstacle polygon. Its ring lives in [`World::coords`] (see [`World::ring`]).
pub(crate) struct Poly {
    start: u32,
    len: u32,
    pub bbox: [f64; 4],
    /// A wall: the room it encloses. A building: the room it stands in.
    pub room: u32,
    pub wall: bool,
    /// Convex (the sweep casts its shadow whole; otherwise triangle by triangle).
    pub convex: bool,
    /// Index of the compound (wall) or building in the dataset.
    pub source: u32,
}

impl Poly {
    /// The polygon whose ring was just appended to `coords` at `start`.
    fn new(coords: &[P], start: u32, room: u32, wall: bool, source: u32) -> Poly {
        let ring = &coords[start as usize..];
        Poly { start, len: ring.len() as u32, bbox: bbox(ring), room, wall, convex: is_convex_ccw(ring), source }
    }

    /// The ring, from the world's coordinates.
    #[inline]
    pub fn ring_in<'a>(&self, coords: &'a [P]) -> &'a [P] {
        &coords[self.start as usize..(self.start + self.len) as usize]
    }
}

/// A room: its wall, and what stands and lies inside it. The outside room lists no buildings or
/// nodes here (they are found through the spatial hash).
#[derive(Default)]
pub(crate) struct Room {
    pub wall: Option<u32>,
    pub buildings: Vec<u32>,
    pub nodes: Vec<u32>,
    pub doors: Vec<u32>,
}

/// A node of the visibility graph.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub p: P,
    pub room: u32,
    /// Corner: the polygon; gate side: the gate.
    a: u32,
    /// Corner: the vertex in the polygon's ring; gate side: [`NONE`].
    b: u32,
}

impl Node {
    /// The gate this node is a side of.
    pub fn gate(&self) -> Option<u32> {
        (self.b == NONE).then_some(self.a)
    }

    /// The polygon and vertex this corner node stands on.
    pub fn corner(&self) -> Option<(u32, u32)> {
        (self.b != NONE).then_some((self.a, self.b))
    }
}

/// A gate, with a node on either side of its wall.
pub(crate) struct Gate {
    pub id: u32,
    pub kind: GateKind,
    pub passes: Vec<Passer>,
    pub hours: Schedule,
    /// On the wall, local metres.
    pub p: P,
    /// The node on the outside and on the inside.
    pub outer: u32,
    pub inner: u32,
    /// Digest of everything about the gate but the hour.
    pub digest: u64,
}

impl Gate {
    /// Whether `class` may pass at `t`: open, of the right kind, admitting it.
    pub fn usable(&self, class: Class, t: TimeOfDay) -> bool {
        let kind_ok = match self.kind {
            GateKind::Both => true,
            GateKind::Pedestrian => !class.vehicle,
            GateKind::Vehicle => class.vehicle,
        };
        kind_ok
            && (self.passes.contains(&Passer::Public) || self.passes.contains(&class.passer()))
            && self.hours.is_open(t)
    }

    /// One bit per class: which classes may pass at `t`.
    pub fn usable_bits(&self, t: TimeOfDay) -> u64 {
        Class::ALL.iter().enumerate().map(|(i, &c)| u64::from(self.usable(c, t)) << i).sum()
    }
}

/// A building door (entrance), or a corner of a building that has no entrance.
pub(crate) struct Door {
    pub p: P,
    pub room: u32,
    /// Index of the building in the dataset.
    pub building: u32,
    /// Index of the entrance in the dataset; `None` for a corner standing in for a door.
    pub entrance: Option<u32>,
    /// Households behind this door: the building's households split evenly over its entrances
    /// (all of them on the first corner of a building without entrances).
    pub households: u32,
}

/// A square spatial hash over the world's bounding box.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HashGrid {
    pub x0: f64,
    pub y0: f64,
    pub cell: f64,
    pub nx: i64,
    pub ny: i64,
}

impl HashGrid {
    #[inline]
    pub fn cell_of(&self, p: P) -> (i64, i64) {
        (((p[0] - self.x0) / self.cell).floor() as i64, ((p[1] - self.y0) / self.cell).floor() as i64)
    }

    #[inline]
    pub fn index(&self, cx: i64, cy: i64) -> Option<usize> {
        (cx >= 0 && cy >= 0 && cx < self.nx && cy < self.ny).then(|| (cy * self.nx + cx) as usize)
    }

    /// `[min_x, min_y, max_x, max_y]` of a cell.
    #[inline]
    pub fn rect(&self, cx: i64, cy: i64) -> [f64; 4] {
        let x = self.x0 + cx as f64 * self.cell;
        let y = self.y0 + cy as f64 * self.cell;
        [x, y, x + self.cell, y + self.cell]
    }

    /// The cells a box overlaps, clamped to the grid: `(cx0, cy0, cx1, cy1)` inclusive.
    pub fn span(&self, b: &[f64; 4]) -> (i64, i64, i64, i64) {
        let (a0, b0) = self.cell_of([b[0], b[1]]);
        let (a1, b1) = self.cell_of([b[2], b[3]]);
        (a0.clamp(0, self.nx - 1), b0.clamp(0, self.ny - 1), a1.clamp(0, self.nx - 1), b1.clamp(0, self.ny - 1))
    }
}

/// Items per cell, in compressed rows.
pub(crate) struct Csr {
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Csr {
    fn build(cells: usize, entries: &[(u32, u32)]) -> Csr {
        let mut start = vec![0u32; cells + 1];
        for &(c, _) in entries {
            start[c as usize + 1] += 1;
        }
        for i in 0..cells {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut items = vec![0u32; entries.len()];
        for &(c, item) in entries {
            items[fill[c as usize] as usize] = item;
            fill[c as usize] += 1;
        }
        Csr { start, items }
    }

    #[inline]
    pub fn get(&self, cell: usize) -> &[u32] {
        &self.items[self.start[cell] as usize..self.start[cell + 1] as usize]
    }
}

/// The last few items looked at, to skip repeats while walking cells along a segment.
struct Seen {
    buf: [u32; 32],
    len: usize,
    pos: usize,
}

impl Seen {
    fn new() -> Self {
        Seen { buf: [NONE; 32], len: 0, pos: 0 }
    }

    /// Records `x`; false when it was seen recently.
    fn insert(&mut self, x: u32) -> bool {
        if self.buf[..self.len].contains(&x) {
            return false;
        }
        self.buf[self.pos] = x;
        self.pos = (self.pos + 1) % self.buf.len();
        self.len = (self.len + 1).min(self.buf.len());
        true
    }
}

/// The barrier world; see the module doc.
pub(crate) struct World {
    pub polys: Vec<Poly>,
    /// Every ring, counter-clockwise, open (last vertex not repeated), local metres.
    coords: Vec<P>,
    /// Triangles of the non-convex rings, made on first use.
    pieces: LazyTable<Box<[[P; 3]]>>,
    pub rooms: Vec<Room>,
    pub nodes: Vec<Node>,
    pub gates: Vec<Gate>,
    pub doors: Vec<Door>,
    /// Per dataset building: its polygon ([`NONE`] when degenerate) and its doors' range.
    pub building_poly: Vec<u32>,
    pub building_doors: Vec<(u32, u32)>,
    /// Per dataset entrance: its door ([`NONE`] when its building is missing).
    pub entrance_door: Vec<u32>,
    /// Per dataset access point: its gate ([`NONE`] when its compound has no wall).
    pub access_point_gate: Vec<u32>,
    pub grid: HashGrid,
    /// Walls and the buildings standing outside, by the cells their boxes overlap.
    pub cell_polys: Csr,
    /// Nodes of the outside room.
    pub cell_nodes: Csr,
    /// All doors.
    pub cell_doors: Csr,
    /// Per room: digest of its wall, buildings, doors and gates (not the hour).
    pub room_digest: Vec<u64>,
    /// Per polygon standing outside: digest of its ring.
    pub poly_digest: Vec<u64>,
    pub door_digest: Vec<u64>,
}

fn ring_digest(ring: &[P]) -> u64 {
    let mut h = Hasher64::new(ring.len() as u64);
    for p in ring {
        h.f64(p[0]);
        h.f64(p[1]);
    }
    h.finish()
}

fn triangles(ring: &[P]) -> Box<[[P; 3]]> {
    let poly = geo::Polygon::new(geo::LineString::from(ring.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>()), vec![]);
    poly.earcut_triangles_iter().map(|t| [[t.v1().x, t.v1().y], [t.v2().x, t.v2().y], [t.v3().x, t.v3().y]]).collect()
}

/// The nearest point to `p` on the segment `a b`, and its parameter.
fn project(a: P, b: P, p: P) -> (P, f64) {
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    let t = if len2 == 0.0 { 0.0 } else { (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2).clamp(0.0, 1.0) };
    ([a[0] + t * d[0], a[1] + t * d[1]], t)
}

/// The nearest point of a ring to `p`: `(edge index, parameter, point)`.
fn nearest_on_ring(ring: &[P], p: P) -> (usize, f64, P) {
    let n = ring.len();
    let mut best = (0, 0.0, ring[0], f64::INFINITY);
    for i in 0..n {
        let (q, t) = project(ring[i], ring[(i + 1) % n], p);
        let d = dist(p, q);
        if d < best.3 {
            best = (i, t, q, d);
        }
    }
    (best.0, best.1, best.2)
}

/// Inserts `points` (edge index, parameter, gate) into `ring` as vertices; returns the new ring
/// and, per gate, its vertex index. Points within a millimetre of a vertex become that vertex.
fn insert_gates(ring: &[P], mut points: Vec<(usize, f64, P, usize)>) -> (Vec<P>, Vec<(usize, usize)>) {
    const SNAP_M: f64 = 1e-3;
    let n = ring.len();
    let mut at_vertex: Vec<(usize, usize)> = Vec::new();
    points.retain(|&(e, _, q, g)| {
        if dist(q, ring[e]) <= SNAP_M {
            at_vertex.push((e, g));
            false
        } else if dist(q, ring[(e + 1) % n]) <= SNAP_M {
            at_vertex.push(((e + 1) % n, g));
            false
        } else {
            true
        }
    });
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<P> = Vec::with_capacity(n + points.len());
    let mut new_index = vec![0usize; n];
    let mut gate_vertex: Vec<(usize, usize)> = Vec::new();
    let mut k = 0;
    for (i, &v) in ring.iter().enumerate() {
        new_index[i] = out.len();
        out.push(v);
        while k < points.len() && points[k].0 == i {
            let q = points[k].2;
            if out.last().is_some_and(|&l| dist(l, q) <= SNAP_M) {
                gate_vertex.push((points[k].3, out.len() - 1));
            } else {
                gate_vertex.push((points[k].3, out.len()));
                out.push(q);
            }
            k += 1;
        }
    }
    gate_vertex.extend(at_vertex.into_iter().map(|(v, g)| (g, new_index[v])));
    (out, gate_vertex)
}

impl World {
    /// Builds the world from `data`, projecting with `proj`; `cell_m` is the spatial hash's
    /// cell side (widened for very large extents to bound memory).
    pub fn build(data: &Dataset, proj: &LocalProjection, cell_m: f64) -> World {
        let to_m = |c: geo::Coord<f64>| -> P {
            let (x, y) = proj.to_local(c.x, c.y);
            [x, y]
        };
        let mut compound_index: HashMap<u32, u32> = HashMap::with_capacity(data.compounds.len());
        for (i, c) in data.compounds.iter().enumerate() {
            compound_index.insert(c.id, i as u32);
        }
        // Access points grouped by compound (sorted pairs: no map of vectors).
        let mut gates_by: Vec<(u32, u32)> = data
            .access_points
            .iter()
            .enumerate()
            .filter_map(|(i, a)| compound_index.get(&a.compound_id).map(|&c| (c, i as u32)))
            .collect();
        gates_by.sort_unstable();

        // Walls: one room per gated compound, gates inserted as vertices.
        let mut polys: Vec<Poly> = Vec::new();
        let mut coords: Vec<P> = Vec::new();
        let mut rooms: Vec<Room> = vec![Room::default()];
        let mut gate_vertices: Vec<(u32, u32, usize)> = Vec::new(); // (room, access point, vertex)
        let mut room_of_compound = vec![OUTSIDE; data.compounds.len()];
        let mut scratch: Vec<P> = Vec::new();
        let mut g = 0;
        for (ci, c) in data.compounds.iter().enumerate() {
            let gs = g;
            while g < gates_by.len() && gates_by[g].0 == ci as u32 {
                g += 1;
            }
            if !c.gated || !normalise_ring(&mut scratch, c.geometry.exterior().coords().map(|&q| to_m(q))) {
                continue;
            }
            let pts: Vec<(usize, f64, P, usize)> = gates_by[gs..g]
                .iter()
                .map(|&(_, a)| {
                    let (e, t, q) = nearest_on_ring(&scratch, to_m(data.access_points[a as usize].location.0));
                    (e, t, q, a as usize)
                })
                .collect();
            let room = rooms.len() as u32;
            room_of_compound[ci] = room;
            let pi = polys.len() as u32;
            rooms.push(Room { wall: Some(pi), ..Room::default() });
            let start = coords.len() as u32;
            if pts.is_empty() {
                coords.extend_from_slice(&scratch);
            } else {
                let (ring, gv) = insert_gates(&scratch, pts);
                gate_vertices.extend(gv.into_iter().map(|(g, v)| (room, g as u32, v)));
                coords.extend_from_slice(&ring);
            }
            polys.push(Poly::new(&coords, start, room, true, ci as u32));
        }
        let walls = polys.len();
        let wall_tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>> = RTree::bulk_load(
            polys
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    GeomWithData::new(Rectangle::from_corners([p.bbox[0], p.bbox[1]], [p.bbox[2], p.bbox[3]]), i as u32)
                })
                .collect(),
        );
        let room_at = |polys: &[Poly], coords: &[P], p: P| -> u32 {
            wall_tree
                .locate_all_at_point(&p)
                .map(|e| &polys[e.data as usize])
                .find(|w| locate(w.ring_in(coords), p) == Loc::Inside)
                .map_or(OUTSIDE, |w| w.room)
        };

        // Buildings, each in the room of its compound or of where it stands.
        let mut building_poly = vec![NONE; data.buildings.len()];
        for (bi, b) in data.buildings.iter().enumerate() {
            if !normalise_ring(&mut scratch, b.geometry.exterior().coords().map(|&q| to_m(q))) {
                continue;
            }
            let room = b
                .compound_id
                .and_then(|id| compound_index.get(&id))
                .map(|&ci| room_of_compound[ci as usize])
                .filter(|&r| r != OUTSIDE)
                .unwrap_or_else(|| {
                    let n = scratch.len() as f64;
                    let c = scratch.iter().fold([0.0, 0.0], |s, p| [s[0] + p[0] / n, s[1] + p[1] / n]);
                    room_at(&polys, &coords, c)
                });
            building_poly[bi] = polys.len() as u32;
            if room != OUTSIDE {
                rooms[room as usize].buildings.push(polys.len() as u32);
            }
            let start = coords.len() as u32;
            coords.extend_from_slice(&scratch);
            polys.push(Poly::new(&coords, start, room, false, bi as u32));
        }

        // The spatial hash covers every obstacle, every point of interest and every grid.
        let mut ext =
            polys.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, p| {
                [b[0].min(p.bbox[0]), b[1].min(p.bbox[1]), b[2].max(p.bbox[2]), b[3].max(p.bbox[3])]
            });
        let region_corners = data
            .grids
            .iter()
            .filter_map(|g| geo::BoundingRect::bounding_rect(&g.geometry))
            .flat_map(|r| [r.min(), r.max()]);
        for q in data
            .entrances
            .iter()
            .map(|e| e.location.0)
            .chain(data.responders.iter().map(|r| r.location.0))
            .chain(region_corners)
        {
            let q = to_m(q);
            ext = [ext[0].min(q[0]), ext[1].min(q[1]), ext[2].max(q[0]), ext[3].max(q[1])];
        }
        if !ext[0].is_finite() {
            ext = [0.0, 0.0, 1.0, 1.0];
        }
        let area = (ext[2] - ext[0]) * (ext[3] - ext[1]);
        // At most about four million cells, whatever the extent.
        let cell = cell_m.max((area / 4.0e6).sqrt());
        let grid = HashGrid {
            x0: ext[0] - cell,
            y0: ext[1] - cell,
            cell,
            nx: ((ext[2] - ext[0]) / cell).ceil() as i64 + 3,
            ny: ((ext[3] - ext[1]) / cell).ceil() as i64 + 3,
        };
        let ncells = (grid.nx * grid.ny) as usize;
        let mut entries: Vec<(u32, u32)> = Vec::new();
        for (i, p) in polys.iter().enumerate() {
            if p.wall || p.room == OUTSIDE {
                let (a0, b0, a1, b1) = grid.span(&p.bbox);
                for cy in b0..=b1 {
                    for cx in a0..=a1 {
                        entries.push(((cy * grid.nx + cx) as u32, i as u32));
                    }
                }
            }
        }
        let cell_polys = Csr::build(ncells, &entries);

        let pieces = LazyTable::new(polys.len());
        let mut world = World {
            polys,
            coords,
            pieces,
            rooms,
            nodes: Vec::new(),
            gates: Vec::new(),
            doors: Vec::new(),
            building_poly,
            building_doors: vec![(0, 0); data.buildings.len()],
            entrance_door: vec![NONE; data.entrances.len()],
            access_point_gate: vec![NONE; data.access_points.len()],
            grid,
            cell_polys,
            cell_nodes: Csr { start: vec![0; ncells + 1], items: Vec::new() },
            cell_doors: Csr { start: vec![0; ncells + 1], items: Vec::new() },
            room_digest: Vec::new(),
            poly_digest: Vec::new(),
            door_digest: Vec::new(),
        };
        world.add_gates(data, &gate_vertices, walls);
        world.add_corners();
        world.add_doors(data, &to_m);
        world.index_points();
        world.digest();
        world
    }

    fn add_gates(&mut self, data: &Dataset, gate_vertices: &[(u32, u32, usize)], walls: usize) {
        debug_assert!(gate_vertices.iter().all(|&(r, _, _)| (r as usize) <= walls));
        for &(room, ap, v) in gate_vertices {
            let a = &data.access_points[ap as usize];
            let p = self.ring(room - 1)[v];
            let g = self.gates.len() as u32;
            self.access_point_gate[ap as usize] = g;
            let outer = self.nodes.len() as u32;
            self.nodes.push(Node { p, room: OUTSIDE, a: g, b: NONE });
            self.nodes.push(Node { p, room, a: g, b: NONE });
            self.rooms[room as usize].nodes.push(outer + 1);
            let mut h = Hasher64::new(a.id as u64);
            h.f64(p[0]);
            h.f64(p[1]);
            h.u64(a.kind as u64);
            for &who in &a.passes {
                h.u64(who as u64);
            }
            h.str(a.hours.as_str());
            self.gates.push(Gate {
                id: a.id,
                kind: a.kind,
                passes: a.passes.clone(),
                hours: a.hours.clone(),
                p,
                outer,
                inner: outer + 1,
                digest: h.finish(),
            });
        }
    }

    /// Corner nodes. A corner that lies inside another obstacle (overlapping data) is kept: no
    /// leg can start or end strictly inside an obstacle, so it simply has no edges.
    fn add_corners(&mut self) {
        for pi in 0..self.polys.len() {
            let poly = &self.polys[pi];
            let (wall, own) = (poly.wall, poly.room);
            let ring = poly.ring_in(&self.coords);
            let n = ring.len();
            for v in 0..n {
                let o = orient(ring[(v + n - 1) % n], ring[v], ring[(v + 1) % n]);
                // Outside a polygon, paths bend at its convex corners; inside a wall, at its
                // reflex ones.
                let room = match (wall, o > 0.0, o < 0.0) {
                    (true, true, _) => OUTSIDE,
                    (true, _, true) => own,
                    (false, true, _) => own,
                    _ => continue,
                };
                let id = self.nodes.len() as u32;
                self.nodes.push(Node { p: ring[v], room, a: pi as u32, b: v as u32 });
                if room != OUTSIDE {
                    self.rooms[room as usize].nodes.push(id);
                }
            }
        }
    }

    fn add_doors(&mut self, data: &Dataset, to_m: &dyn Fn(geo::Coord<f64>) -> P) {
        let mut building_index: HashMap<u32, u32> = HashMap::with_capacity(data.buildings.len());
        for (i, b) in data.buildings.iter().enumerate() {
            building_index.insert(b.id, i as u32);
        }
        // Entrances grouped by building, in unit order.
        let mut by: Vec<(u32, u32, u32, u32)> = data
            .entrances
            .iter()
            .enumerate()
            .filter_map(|(i, e)| building_index.get(&e.building_id).map(|&b| (b, e.unit, e.id, i as u32)))
            .collect();
        by.sort_unstable();
        let mut k = 0;
        for (bi, b) in data.buildings.iter().enumerate() {
            let ks = k;
            while k < by.len() && by[k].0 == bi as u32 {
                k += 1;
            }
            let pi = self.building_poly[bi];
            if pi == NONE {
                continue;
            }
            let room = self.polys[pi as usize].room;
            let ring = self.polys[pi as usize].ring_in(&self.coords);
            let start = self.doors.len() as u32;
            let ents = &by[ks..k];
            if ents.is_empty() {
                for (v, &p) in ring.iter().enumerate() {
                    let households = if v == 0 { b.households } else { 0 };
                    self.doors.push(Door { p, room, building: bi as u32, entrance: None, households });
                }
            } else {
                let n = ents.len() as u32;
                for (j, &(_, _, _, e)) in ents.iter().enumerate() {
                    let (_, _, p) = nearest_on_ring(ring, to_m(data.entrances[e as usize].location.0));
                    let households = b.households / n + u32::from((j as u32) < b.households % n);
                    self.doors.push(Door { p, room, building: bi as u32, entrance: Some(e), households });
                    self.entrance_door[e as usize] = start + j as u32;
                }
            }
            let end = self.doors.len() as u32;
            self.building_doors[bi] = (start, end);
            if room != OUTSIDE {
                self.rooms[room as usize].doors.extend(start..end);
            }
        }
    }

    fn index_points(&mut self) {
        let ncells = (self.grid.nx * self.grid.ny) as usize;
        let node_entries: Vec<(u32, u32)> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.room == OUTSIDE)
            .filter_map(|(i, n)| {
                let (cx, cy) = self.grid.cell_of(n.p);
                self.grid.index(cx, cy).map(|c| (c as u32, i as u32))
            })
            .collect();
        self.cell_nodes = Csr::build(ncells, &node_entries);
        let door_entries: Vec<(u32, u32)> = self
            .doors
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let (cx, cy) = self.grid.cell_of(d.p);
                self.grid.index(cx, cy).map(|c| (c as u32, i as u32))
            })
            .collect();
        self.cell_doors = Csr::build(ncells, &door_entries);
    }

    fn digest(&mut self) {
        self.poly_digest =
            self.polys.iter().map(|p| ring_digest(p.ring_in(&self.coords)) ^ u64::from(p.wall)).collect();
        self.door_digest = self
            .doors
            .iter()
            .map(|d| {
                let mut h = Hasher64::new(d.households as u64);
                h.f64(d.p[0]);
                h.f64(d.p[1]);
                h.u64(d.building as u64);
                h.finish()
            })
            .collect();
        let mut room_digest = vec![0u64; self.rooms.len()];
        for (r, room) in self.rooms.iter().enumerate() {
            let mut h = Hasher64::new(r as u64);
            for &b in room.wall.iter().chain(&room.buildings) {
                h.u64(self.poly_digest[b as usize]);
            }
            for &d in &room.doors {
                h.u64(self.door_digest[d as usize]);
            }
            room_digest[r] = h.finish();
        }
        for g in &self.gates {
            let r = self.nodes[g.inner as usize].room as usize;
            room_digest[r] = super::hash::mix(room_digest[r] ^ g.digest);
        }
        self.room_digest = room_digest;
    }

    /// The ring of polygon `pi`.
    #[inline]
    pub fn ring(&self, pi: u32) -> &[P] {
        self.polys[pi as usize].ring_in(&self.coords)
    }

    /// Convex pieces of polygon `pi` whose shadows the sweep may cast: the ring itself when
    /// convex, else its triangles (computed on first use).
    pub fn for_each_piece(&self, pi: u32, mut f: impl FnMut(&[P])) {
        let p = &self.polys[pi as usize];
        if p.convex {
            f(self.ring(pi));
        } else {
            for t in self.pieces.get_or_init(pi as usize, || triangles(self.ring(pi))).iter() {
                f(t);
            }
        }
    }

    /// The room `p` lies in (a point on a wall is outside).
    pub fn room_of(&self, p: P) -> u32 {
        let (cx, cy) = self.grid.cell_of(p);
        let Some(c) = self.grid.index(cx, cy) else { return OUTSIDE };
        self.cell_polys
            .get(c)
            .iter()
            .map(|&i| &self.polys[i as usize])
            .find(|w| {
                w.wall
                    && p[0] >= w.bbox[0]
                    && p[0] <= w.bbox[2]
                    && p[1] >= w.bbox[1]
                    && p[1] <= w.bbox[3]
                    && locate(w.ring_in(&self.coords), p) == Loc::Inside
            })
            .map_or(OUTSIDE, |w| w.room)
    }

    /// The building (polygon index) of `room` that `p` lies strictly inside.
    pub fn building_at(&self, room: u32, p: P) -> Option<u32> {
        let inside = |i: u32| {
            let q = &self.polys[i as usize];
            !q.wall
                && q.room == room
                && p[0] >= q.bbox[0]
                && p[0] <= q.bbox[2]
                && p[1] >= q.bbox[1]
                && p[1] <= q.bbox[3]
                && locate(q.ring_in(&self.coords), p) == Loc::Inside
        };
        if room == OUTSIDE {
            let (cx, cy) = self.grid.cell_of(p);
            let c = self.grid.index(cx, cy)?;
            self.cell_polys.get(c).iter().copied().find(|&i| inside(i))
        } else {
            self.rooms[room as usize].buildings.iter().copied().find(|&i| inside(i))
        }
    }

    /// The doors of the building with polygon index `poly`.
    pub fn doors_of_poly(&self, poly: u32) -> std::ops::Range<usize> {
        let (a, b) = self.building_doors[self.polys[poly as usize].source as usize];
        a as usize..b as usize
    }

    /// Whether the straight leg `a → b` stays in `room` without entering an obstacle; on
    /// failure, the polygon in the way (exact; see [`segment_meets`]).
    pub fn clear(&self, room: u32, a: P, b: P) -> Result<(), u32> {
        if room != OUTSIDE {
            let r = &self.rooms[room as usize];
            if let Some(w) = r.wall {
                if segment_meets(self.ring(w), a, b).outside {
                    return Err(w);
                }
            }
            for &i in &r.buildings {
                let q = &self.polys[i as usize];
                if segment_may_hit(a, b, &q.bbox) && segment_meets(q.ring_in(&self.coords), a, b).inside {
                    return Err(i);
                }
            }
            return Ok(());
        }
        let mut seen = Seen::new();
        let mut result = Ok(());
        self.walk_cells(a, b, |c| {
            for &i in self.cell_polys.get(c) {
                if !seen.insert(i) {
                    continue;
                }
                let q = &self.polys[i as usize];
                if segment_may_hit(a, b, &q.bbox) && segment_meets(q.ring_in(&self.coords), a, b).inside {
                    result = Err(i);
                    return false;
                }
            }
            true
        });
        result
    }

    /// Calls `f` with every grid cell the segment `a b` may pass through, from `a` towards `b`,
    /// until `f` returns false. Conservative: a cell the segment only touches is included.
    fn walk_cells(&self, a: P, b: P, mut f: impl FnMut(usize) -> bool) {
        let g = &self.grid;
        let (_, cy0) = g.cell_of(a);
        let (_, cy1) = g.cell_of(b);
        let step = if cy1 >= cy0 { 1 } else { -1 };
        let dy = b[1] - a[1];
        let x_at = |y: f64| if dy == 0.0 { a[0] } else { a[0] + (b[0] - a[0]) * ((y - a[1]) / dy).clamp(0.0, 1.0) };
        let eps = 1e-7 * g.cell;
        let mut cy = cy0;
        loop {
            if cy >= 0 && cy < g.ny {
                let (ylo, yhi) = (g.y0 + cy as f64 * g.cell, g.y0 + (cy + 1) as f64 * g.cell);
                let (y_in, y_out) =
                    if step > 0 { (a[1].max(ylo), b[1].min(yhi)) } else { (a[1].min(yhi), b[1].max(ylo)) };
                let (xa, xb) = if dy == 0.0 { (a[0], b[0]) } else { (x_at(y_in), x_at(y_out)) };
                let (ca, _) = g.cell_of([xa - eps.copysign(xb - xa), 0.0]);
                let (cb, _) = g.cell_of([xb + eps.copysign(xb - xa), 0.0]);
                let sx = if cb >= ca { 1 } else { -1 };
                let mut cx = ca;
                loop {
                    if let Some(c) = g.index(cx, cy) {
                        if !f(c) {
                            return;
                        }
                    }
                    if cx == cb {
                        break;
                    }
                    cx += sx;
                }
            }
            if cy == cy1 {
                break;
            }
            cy += step;
        }
    }

    /// Whether the line through corner node `n` towards `q` only touches its polygon at the
    /// corner (both neighbouring vertices on one side): only such lines can carry a shortest
    /// path through the corner. Gate nodes always pass.
    #[inline]
    pub fn tangent(&self, n: &Node, q: P) -> bool {
        let Some((pi, v)) = n.corner() else { return true };
        let ring = self.ring(pi);
        let k = ring.len();
        let (prev, next) = (ring[(v as usize + k - 1) % k], ring[(v as usize + 1) % k]);
        let (o1, o2) = (orient(n.p, q, prev), orient(n.p, q, next));
        !((o1 > 0.0 && o2 < 0.0) || (o1 < 0.0 && o2 > 0.0))
    }

    /// For a corner node reached along `from → n`: the side (+1 left, -1 right) of that line
    /// on which its polygon lies, when the line is tangent there; `None` otherwise.
    pub fn obstacle_side(&self, n: &Node, from: P) -> Option<f64> {
        let (pi, v) = n.corner()?;
        let ring = self.ring(pi);
        let k = ring.len();
        let (prev, next) = (ring[(v as usize + k - 1) % k], ring[(v as usize + 1) % k]);
        let (o1, o2) = (orient(from, n.p, prev), orient(from, n.p, next));
        if o1 >= 0.0 && o2 >= 0.0 && (o1 > 0.0 || o2 > 0.0) {
            Some(1.0)
        } else if o1 <= 0.0 && o2 <= 0.0 && (o1 < 0.0 || o2 < 0.0) {
            Some(-1.0)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_become_wall_vertices() {
        let ring = vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        let (e, t, q) = nearest_on_ring(&ring, [5.0, -0.2]);
        assert_eq!((e, q), (0, [5.0, 0.0]));
        let (out, gv) = insert_gates(&ring, vec![(e, t, q, 7), (2, 1.0, [0.0, 10.0], 8)]);
        assert_eq!(out.len(), 5);
        assert!(gv.contains(&(7, 1)) && gv.contains(&(8, 4)), "{gv:?}");
    }

    #[test]
    fn csr_groups_items_by_cell() {
        let c = Csr::build(3, &[(2, 5), (0, 1), (2, 6)]);
        assert_eq!(c.get(0), &[1]);
        assert!(c.get(1).is_empty());
        assert_eq!(c.get(2), &[5, 6]);
    }
}
