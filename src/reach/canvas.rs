//! Sample points that reach is pushed onto: the centres of a square raster, doors and other
//! points.
//!
//! Raster cell `(i, j)` covers `[i c, (i + 1) c) × [j c, (j + 1) c)` in local metres (`c` the
//! cell side), so rasters of different extents line up. Each cell takes the room its centre lies
//! in, or, when the centre lies inside a building, stands for that building: such a cell counts
//! as reached when one of the building's doors is (a response ends at the door).
//!
//! A *push* from an origin with `r` metres left marks every sample point of the origin's room
//! within `r` that the origin sees (and that lies in its cone, see [`Cone`]). Pushing from every
//! responder and from every node its search settles marks exactly the sample points within the
//! budget: the last leg of a shortest path is a straight leg from its last node.

use super::geom::{dist, P};
use super::graph::Net;
use super::hash::IntMap;
use super::sweep::{rect_distance, sweep_outside, Cone, Visibility};
use super::world::{World, NONE, OUTSIDE};

/// The kind of a cell whose centre is not a sample point.
pub(crate) const NOT_TARGET: u32 = u32::MAX;
/// Flag on the kind of a cell whose centre lies inside a building (the rest is the polygon).
const IN_BUILDING: u32 = 1 << 31;

/// Side of a block of spatial-hash cells in [`Pending`].
const BLOCK: i64 = 8;

/// How many sample points are still unmarked, per spatial-hash cell and per block of cells (in
/// the outside room) and per compound room, so that a push that can mark nothing returns at
/// once and a sweep does not look at cells with nothing left to mark.
#[derive(Default)]
struct Pending {
    cells: IntMap<u64, u32>,
    blocks: IntMap<u64, u32>,
    rooms: IntMap<u32, u32>,
}

/// A map key for cell coordinates (which may be negative: points beyond the spatial hash).
#[inline]
fn key(x: i64, y: i64) -> u64 {
    ((x as u32 as u64) << 32) | (y as u32 as u64)
}

/// The coordinates of a [`key`].
#[inline]
fn unkey(k: u64) -> (i64, i64) {
    ((k >> 32) as u32 as i32 as i64, k as u32 as i32 as i64)
}

impl Pending {
    fn add(&mut self, w: &World, p: P, room: u32) {
        if room != OUTSIDE {
            *self.rooms.entry(room).or_default() += 1;
            return;
        }
        let (cx, cy) = w.grid.cell_of(p);
        *self.cells.entry(key(cx, cy)).or_default() += 1;
        *self.blocks.entry(key(cx.div_euclid(BLOCK), cy.div_euclid(BLOCK))).or_default() += 1;
    }

    fn remove(&mut self, w: &World, p: P, room: u32) {
        fn dec(m: &mut IntMap<u64, u32>, k: u64) {
            if let Some(c) = m.get_mut(&k) {
                *c -= 1;
                if *c == 0 {
                    m.remove(&k);
                }
            }
        }
        if room != OUTSIDE {
            if let Some(c) = self.rooms.get_mut(&room) {
                *c -= 1;
                if *c == 0 {
                    self.rooms.remove(&room);
                }
            }
            return;
        }
        let (cx, cy) = w.grid.cell_of(p);
        dec(&mut self.cells, key(cx, cy));
        dec(&mut self.blocks, key(cx.div_euclid(BLOCK), cy.div_euclid(BLOCK)));
    }

    fn in_cell(&self, cx: i64, cy: i64) -> bool {
        self.cells.contains_key(&key(cx, cy))
    }

    /// The spatial-hash cells within `r` of `o` (and touching `cone`) that hold unmarked outside
    /// points: [`Near::Few`] with the cells when they hold at most `limit` points in all.
    fn outside_near(&self, w: &World, o: P, r: f64, cone: Option<&Cone>, limit: u32) -> Near {
        let g = &w.grid;
        let bs = g.cell * BLOCK as f64;
        let near = |rect: &[f64; 4]| rect_distance(o, rect) <= r && cone.is_none_or(|c| c.admits_rect(rect));
        let block_rect = |bx: i64, by: i64| {
            let (x, y) = (g.x0 + bx as f64 * bs, g.y0 + by as f64 * bs);
            [x, y, x + bs, y + bs]
        };
        let (bx0, by0) = (((o[0] - r - g.x0) / bs).floor() as i64, ((o[1] - r - g.y0) / bs).floor() as i64);
        let (bx1, by1) = (((o[0] + r - g.x0) / bs).floor() as i64, ((o[1] + r - g.y0) / bs).floor() as i64);
        let mut blocks: Vec<(i64, i64)> = Vec::new();
        if ((bx1 - bx0 + 1) * (by1 - by0 + 1)) as usize > self.blocks.len() {
            for &k in self.blocks.keys() {
                let (bx, by) = unkey(k);
                if bx >= bx0 && bx <= bx1 && by >= by0 && by <= by1 {
                    blocks.push((bx, by));
                }
            }
        } else {
            for bx in bx0..=bx1 {
                for by in by0..=by1 {
                    if self.blocks.contains_key(&key(bx, by)) {
                        blocks.push((bx, by));
                    }
                }
            }
        }
        let mut cells = Vec::new();
        let mut count = 0u32;
        for (bx, by) in blocks {
            if !near(&block_rect(bx, by)) {
                continue;
            }
            for cx in bx * BLOCK..(bx + 1) * BLOCK {
                for cy in by * BLOCK..(by + 1) * BLOCK {
                    if let Some(&n) = self.cells.get(&key(cx, cy)) {
                        if near(&g.rect(cx, cy)) {
                            count += n;
                            if count > limit {
                                return Near::Many;
                            }
                            cells.push((cx, cy));
                        }
                    }
                }
            }
        }
        if cells.is_empty() {
            Near::None
        } else {
            Near::Few(cells)
        }
    }
}

/// What a push may still mark outside.
enum Near {
    None,
    /// These spatial-hash cells, holding few points: test them directly.
    Few(Vec<(i64, i64)>),
    /// Enough to sweep.
    Many,
}

/// Up to this many unmarked points within reach are tested one by one instead of sweeping.
const DIRECT_LIMIT: u32 = 24;

/// Who owns which sample cells: rings per owner id, and the exact owner of a point (for
/// centres on an outline).
pub(crate) type Owners<'a> = (&'a [(u32, Vec<Vec<P>>)], &'a dyn Fn(P) -> Option<u32>);

/// A raster of sample points and a list of doors, each marked when reached.
pub(crate) struct Canvas {
    pub cell_m: f64,
    /// Raster index of the first column and row.
    pub i0: i64,
    pub j0: i64,
    pub ni: usize,
    pub nj: usize,
    /// Per cell: [`NOT_TARGET`], the room of its centre, or [`IN_BUILDING`] | building polygon.
    kind: Vec<u32>,
    /// Per cell: who it is counted for (caller-defined), or [`NOT_TARGET`].
    pub owner: Vec<u32>,
    pub covered: Vec<bool>,
    /// Points to mark (doors and others) with their rooms, and whether each is reached.
    points: Vec<(P, u32)>,
    pub point_covered: Vec<bool>,
    /// The slot of each door added (world door index → slot in `points`), and back.
    door_slot: IntMap<u32, u32>,
    slot_door: Vec<u32>,
    /// Outside points by spatial hash cell, inside points by room (slots into `points`).
    points_by_cell: IntMap<u32, Vec<u32>>,
    points_by_room: IntMap<u32, Vec<u32>>,
    /// Per compound room: the span of raster cells its wall's box covers.
    room_span: IntMap<u32, (i64, i64, i64, i64)>,
    pending: Pending,
    /// Outside sample cells and points beyond the spatial hash (where no obstacle stands, so no
    /// sweep visits them): tested one by one.
    beyond_cells: Vec<usize>,
    beyond_points: Vec<u32>,
}

/// Centres closer than this to an outline (metres) are classified by the exact point queries
/// instead of the scanline, so that a centre on an edge gets the same answer as a point query.
const EDGE_EPS_M: f64 = 1e-6;

/// Calls `f(i, j, sure)` (absolute raster indices within the span) for every cell whose centre
/// lies inside the rings (even-odd rule), with `sure` false for centres within
/// [`EDGE_EPS_M`] of the outline (those may be inside or not; the caller decides exactly).
fn scan_fill(rings: &[&[P]], c: f64, span: (i64, i64, i64, i64), mut f: impl FnMut(i64, i64, bool)) {
    let bb = rings.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, r| {
        let q = super::geom::bbox(r);
        [b[0].min(q[0]), b[1].min(q[1]), b[2].max(q[2]), b[3].max(q[3])]
    });
    if !bb[0].is_finite() {
        return;
    }
    let j_lo = ((bb[1] / c - 0.5).floor() as i64).max(span.1);
    let j_hi = ((bb[3] / c - 0.5).ceil() as i64).min(span.3);
    let (i_lo_all, i_hi_all) =
        (((bb[0] / c - 0.5).floor() as i64).max(span.0), ((bb[2] / c - 0.5).ceil() as i64).min(span.2));
    let mut xs: Vec<f64> = Vec::new();
    for j in j_lo..=j_hi {
        let y = (j as f64 + 0.5) * c;
        // A vertex on the row: the whole row is decided exactly.
        if rings.iter().any(|r| r.iter().any(|v| (v[1] - y).abs() <= EDGE_EPS_M)) {
            for i in i_lo_all..=i_hi_all {
                f(i, j, false);
            }
            continue;
        }
        xs.clear();
        for r in rings {
            let n = r.len();
            for k in 0..n {
                let (a, b) = (r[k], r[(k + 1) % n]);
                if (a[1] > y) != (b[1] > y) {
                    xs.push(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
                }
            }
        }
        xs.sort_by(f64::total_cmp);
        for pair in xs.chunks_exact(2) {
            let i_lo = ((pair[0] / c - 0.5).ceil() as i64).max(span.0);
            let i_hi = ((pair[1] / c - 0.5).ceil() as i64 - 1).min(span.2);
            for i in i_lo..=i_hi {
                f(i, j, true);
            }
        }
        // Centres right on a crossing.
        for &x in &xs {
            let i = (x / c - 0.5).round() as i64;
            if i >= span.0 && i <= span.2 && ((i as f64 + 0.5) * c - x).abs() <= EDGE_EPS_M {
                f(i, j, false);
            }
        }
    }
}

impl Canvas {
    /// A canvas over `bbox` (local metres) with cells of `cell_m`. With `owners` (rings per
    /// owner, and the exact owner of a point, used for centres on an outline), only the cells
    /// whose centres lie in an owner's rings are sample points, owned by it; without, every cell
    /// is, owned by 0. The doors of every building a sample point falls in are added.
    pub fn new(w: &World, bbox: [f64; 4], cell_m: f64, owners: Option<Owners>) -> Canvas {
        let (i0, j0) = ((bbox[0] / cell_m).floor() as i64, (bbox[1] / cell_m).floor() as i64);
        let (i1, j1) = ((bbox[2] / cell_m).floor() as i64, (bbox[3] / cell_m).floor() as i64);
        let (ni, nj) = ((i1 - i0 + 1).max(0) as usize, (j1 - j0 + 1).max(0) as usize);
        let span = (i0, j0, i1, j1);
        let mut owner = vec![if owners.is_some() { NOT_TARGET } else { 0 }; ni * nj];
        let at = |i: i64, j: i64| (j - j0) as usize * ni + (i - i0) as usize;
        let centre = |i: i64, j: i64| [(i as f64 + 0.5) * cell_m, (j as f64 + 0.5) * cell_m];
        if let Some((owners, exact)) = owners {
            for (id, rings) in owners {
                let refs: Vec<&[P]> = rings.iter().map(Vec::as_slice).collect();
                scan_fill(&refs, cell_m, span, |i, j, sure| {
                    let k = at(i, j);
                    if sure {
                        owner[k] = *id;
                    } else {
                        owner[k] = exact(centre(i, j)).unwrap_or(NOT_TARGET);
                    }
                });
            }
        }
        let mut unsure: Vec<usize> = Vec::new();
        let mut kind: Vec<u32> = owner.iter().map(|&o| if o == NOT_TARGET { NOT_TARGET } else { OUTSIDE }).collect();
        let mut canvas = Canvas {
            cell_m,
            i0,
            j0,
            ni,
            nj,
            kind: Vec::new(),
            owner,
            covered: vec![false; ni * nj],
            points: Vec::new(),
            point_covered: Vec::new(),
            door_slot: IntMap::default(),
            slot_door: Vec::new(),
            points_by_cell: IntMap::default(),
            points_by_room: IntMap::default(),
            room_span: IntMap::default(),
            pending: Pending::default(),
            beyond_cells: Vec::new(),
            beyond_points: Vec::new(),
        };
        if ni == 0 || nj == 0 {
            canvas.kind = kind;
            return canvas;
        }
        // Walls, then the buildings outside and inside them.
        let (a0, b0, a1, b1) = w.grid.span(&bbox);
        let mut polys: Vec<u32> = Vec::new();
        for cy in b0..=b1 {
            for cx in a0..=a1 {
                if let Some(c) = w.grid.index(cx, cy) {
                    polys.extend_from_slice(w.cell_polys.get(c));
                }
            }
        }
        polys.sort_unstable();
        polys.dedup();
        let mut buildings: Vec<u32> = Vec::new();
        for &pi in &polys {
            let p = &w.polys[pi as usize];
            if !p.wall {
                buildings.push(pi);
                continue;
            }
            let room = p.room;
            scan_fill(&[w.ring(pi)], cell_m, span, |i, j, sure| {
                let k = at(i, j);
                if kind[k] != NOT_TARGET {
                    if sure {
                        kind[k] = room;
                    } else {
                        unsure.push(k);
                    }
                }
            });
            let (ra, rb) = ((p.bbox[0] / cell_m).floor() as i64, (p.bbox[1] / cell_m).floor() as i64);
            let (rc, rd) = ((p.bbox[2] / cell_m).floor() as i64, (p.bbox[3] / cell_m).floor() as i64);
            canvas.room_span.insert(room, (ra.max(i0), rb.max(j0), rc.min(i1), rd.min(j1)));
            buildings.extend_from_slice(&w.rooms[room as usize].buildings);
        }
        let mut with_cells: Vec<u32> = Vec::new();
        for &bi in &buildings {
            let mut any = false;
            scan_fill(&[w.ring(bi)], cell_m, span, |i, j, sure| {
                let k = at(i, j);
                if kind[k] != NOT_TARGET {
                    if sure {
                        kind[k] = IN_BUILDING | bi;
                        any = true;
                    } else {
                        unsure.push(k);
                    }
                }
            });
            if any {
                with_cells.push(bi);
            }
        }
        // Centres on a wall or a building's outline: exactly as a point query sees them.
        for k in unsure {
            let q = centre(i0 + (k % ni) as i64, j0 + (k / ni) as i64);
            let room = w.room_of(q);
            kind[k] = match w.building_at(room, q) {
                Some(b) => {
                    with_cells.push(b);
                    IN_BUILDING | b
                }
                None => room,
            };
        }
        with_cells.sort_unstable();
        with_cells.dedup();
        for j in 0..nj {
            for i in 0..ni {
                let kd = kind[j * ni + i];
                if kd != NOT_TARGET && kd & IN_BUILDING == 0 {
                    let c = [((i0 + i as i64) as f64 + 0.5) * cell_m, ((j0 + j as i64) as f64 + 0.5) * cell_m];
                    canvas.pending.add(w, c, kd);
                    let (cx, cy) = w.grid.cell_of(c);
                    if kd == OUTSIDE && w.grid.index(cx, cy).is_none() {
                        canvas.beyond_cells.push(j * ni + i);
                    }
                }
            }
        }
        canvas.kind = kind;
        for bi in with_cells {
            canvas.add_doors(w, w.doors_of_poly(bi).map(|d| d as u32));
        }
        canvas
    }

    /// Adds doors to mark (repeats are ignored).
    pub fn add_doors(&mut self, w: &World, doors: impl IntoIterator<Item = u32>) {
        for d in doors {
            if !self.door_slot.contains_key(&d) {
                let door = &w.doors[d as usize];
                let slot = self.add_point(w, door.p, door.room);
                self.door_slot.insert(d, slot);
                self.slot_door[slot as usize] = d;
            }
        }
    }

    /// Adds a point of `room` to mark; returns its slot.
    pub fn add_point(&mut self, w: &World, p: P, room: u32) -> u32 {
        let slot = self.points.len() as u32;
        self.points.push((p, room));
        self.point_covered.push(false);
        self.pending.add(w, p, room);
        self.slot_door.push(NONE);
        if room == OUTSIDE {
            let (cx, cy) = w.grid.cell_of(p);
            match w.grid.index(cx, cy) {
                Some(c) => self.points_by_cell.entry(c as u32).or_default().push(slot),
                None => self.beyond_points.push(slot),
            }
        } else {
            self.points_by_room.entry(room).or_default().push(slot);
        }
        slot
    }

    /// Whether the door (world index) has been reached.
    pub fn door_reached(&self, door: u32) -> bool {
        self.door_slot.get(&door).is_some_and(|&s| self.point_covered[s as usize])
    }

    /// Slots of the points reached so far.
    pub fn points_reached(&self) -> impl Iterator<Item = u32> + '_ {
        self.point_covered.iter().enumerate().filter(|(_, &c)| c).map(|(s, _)| s as u32)
    }

    /// The world door at a slot, if the point is a door.
    pub fn door_of_slot(&self, slot: u32) -> Option<u32> {
        self.slot_door.get(slot as usize).copied().filter(|&d| d != NONE)
    }

    /// Marks what `o` (in `room`, `r_m` metres left, bending into `cone`) reaches.
    pub fn push(&mut self, net: &Net, o: P, room: u32, r_m: f64, cone: Option<Cone>) {
        if r_m < 0.0 {
            return;
        }
        let w = &net.world;
        let near = if room == OUTSIDE {
            self.pending.outside_near(w, o, r_m, cone.as_ref(), DIRECT_LIMIT)
        } else if self.pending.rooms.contains_key(&room) {
            Near::Many
        } else {
            Near::None
        };
        if matches!(near, Near::None) {
            return;
        }
        let c = self.cell_m;
        let ok = |q: P| dist(o, q) <= r_m && cone.as_ref().is_none_or(|k| k.admits(q));
        let (i0, j0, ni) = (self.i0, self.j0, self.ni);
        if room == OUTSIDE && !(self.beyond_cells.is_empty() && self.beyond_points.is_empty()) {
            let mut vis = Visibility::new(w, o, OUTSIDE);
            for &k in &self.beyond_cells {
                let (i, j) = (i0 + (k % ni) as i64, j0 + (k / ni) as i64);
                let q = [(i as f64 + 0.5) * c, (j as f64 + 0.5) * c];
                if !self.covered[k] && ok(q) && vis.sees(q) {
                    self.covered[k] = true;
                    self.pending.remove(w, q, OUTSIDE);
                }
            }
            for &s in &self.beyond_points {
                let q = self.points[s as usize].0;
                if !self.point_covered[s as usize] && ok(q) && vis.sees(q) {
                    self.point_covered[s as usize] = true;
                    self.pending.remove(w, q, OUTSIDE);
                }
            }
        }
        let nj = self.nj as i64;
        let (kind, covered) = (&self.kind, &mut self.covered);
        let (points, point_covered) = (&self.points, &mut self.point_covered);
        let pending = &mut self.pending;
        let mut cells = |vis: &mut Visibility, span: (i64, i64, i64, i64), want: u32, pending: &mut Pending| {
            let (a, b, x, y) = span;
            for j in b.max(j0)..=y.min(j0 + nj - 1) {
                for i in a.max(i0)..=x.min(i0 + ni as i64 - 1) {
                    let k = (j - j0) as usize * ni + (i - i0) as usize;
                    if kind[k] == want && !covered[k] {
                        let q = [(i as f64 + 0.5) * c, (j as f64 + 0.5) * c];
                        if ok(q) && vis.sees(q) {
                            covered[k] = true;
                            pending.remove(w, q, want);
                        }
                    }
                }
            }
        };
        let disk = (
            ((o[0] - r_m) / c).floor() as i64,
            ((o[1] - r_m) / c).floor() as i64,
            ((o[0] + r_m) / c).floor() as i64,
            ((o[1] + r_m) / c).floor() as i64,
        );
        let mut point_list = |vis: &mut Visibility, slots: Option<&Vec<u32>>, pending: &mut Pending| {
            for &s in slots.into_iter().flatten() {
                let (q, qr) = points[s as usize];
                if !point_covered[s as usize] && ok(q) && vis.sees(q) {
                    point_covered[s as usize] = true;
                    pending.remove(w, q, qr);
                }
            }
        };
        if room != OUTSIDE {
            let mut vis = Visibility::new(w, o, room);
            if let Some(&(a, b, x, y)) = self.room_span.get(&room) {
                cells(&mut vis, (a.max(disk.0), b.max(disk.1), x.min(disk.2), y.min(disk.3)), room, pending);
            }
            point_list(&mut vis, self.points_by_room.get(&room), pending);
            return;
        }
        let g = w.grid;
        let by_cell = &self.points_by_cell;
        let mut visit = |vis: &mut Visibility, hc: usize, pending: &mut Pending| {
            let cx = hc as i64 % g.nx;
            let cy = hc as i64 / g.nx;
            if !pending.in_cell(cx, cy) {
                return;
            }
            let r = g.rect(cx, cy);
            // Centres inside the hash cell: (i + 0.5) c in [r0, r2).
            let span = (
                ((r[0] / c - 0.5).ceil() as i64).max(disk.0),
                ((r[1] / c - 0.5).ceil() as i64).max(disk.1),
                ((r[2] / c - 0.5).ceil() as i64 - 1).min(disk.2),
                ((r[3] / c - 0.5).ceil() as i64 - 1).min(disk.3),
            );
            cells(vis, span, OUTSIDE, pending);
            point_list(vis, by_cell.get(&(hc as u32)), pending);
        };
        match near {
            Near::Few(list) => {
                let mut vis = Visibility::new(w, o, OUTSIDE);
                for (cx, cy) in list {
                    if let Some(hc) = g.index(cx, cy) {
                        visit(&mut vis, hc, pending);
                    }
                }
            }
            _ => sweep_outside(w, o, r_m, cone, |vis, hc| visit(vis, hc, pending)),
        }
    }

    /// Marks the cells inside buildings whose doors have been reached.
    pub fn resolve_buildings(&mut self, w: &World) {
        let mut reached: IntMap<u32, bool> = IntMap::default();
        for k in 0..self.kind.len() {
            let kd = self.kind[k];
            if kd == NOT_TARGET || kd & IN_BUILDING == 0 {
                continue;
            }
            let b = kd & !IN_BUILDING;
            let hit = *reached.entry(b).or_insert_with(|| w.doors_of_poly(b).any(|d| self.door_reached(d as u32)));
            if hit {
                self.covered[k] = true;
            }
        }
    }

    /// The building polygon a cell stands for, if any.
    #[allow(dead_code)]
    pub fn building_of(&self, k: usize) -> u32 {
        let kd = self.kind[k];
        if kd != NOT_TARGET && kd & IN_BUILDING != 0 {
            kd & !IN_BUILDING
        } else {
            NONE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_keys_round_trip_negative_coordinates() {
        for (x, y) in [(0, 0), (-1, 5), (7, -3), (-40_000, -2), (123_456, 654_321)] {
            assert_eq!(unkey(key(x, y)), (x, y));
        }
    }

    #[test]
    fn scanline_fills_centres_inside_and_defers_centres_on_edges() {
        // A 20 m square with cells of 10 m: centres at 5 and 15 are inside; with the square
        // moved to start at 5 m, centres on its west and south edges are deferred.
        let sq = [[0.0, 0.0], [20.0, 0.0], [20.0, 20.0], [0.0, 20.0]];
        let mut sure = Vec::new();
        scan_fill(&[&sq], 10.0, (-5, -5, 5, 5), |i, j, s| sure.push((i, j, s)));
        sure.sort();
        assert_eq!(sure, vec![(0, 0, true), (0, 1, true), (1, 0, true), (1, 1, true)]);
        let moved = [[5.0, 5.0], [25.0, 5.0], [25.0, 25.0], [5.0, 25.0]];
        let mut got = Vec::new();
        scan_fill(&[&moved], 10.0, (-5, -5, 5, 5), |i, j, s| got.push((i, j, s)));
        assert!(got.iter().any(|&(i, j, s)| (i, j) == (0, 0) && !s), "the corner centre (5, 5) is deferred: {got:?}");
        assert!(got.contains(&(1, 1, true)), "(15, 15) is inside: {got:?}");
    }
}
