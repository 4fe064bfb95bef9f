//! Sample points that reach is pushed onto: the centres of a square raster, and doors.
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
use super::sweep::{sweep_outside, Cone, Visibility};
use super::world::{World, NONE, OUTSIDE};

/// The kind of a cell whose centre is not a sample point.
pub(crate) const NOT_TARGET: u32 = u32::MAX;
/// Flag on the kind of a cell whose centre lies inside a building (the rest is the polygon).
const IN_BUILDING: u32 = 1 << 31;

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
    /// Doors to mark (indices into the world's doors), and whether each is reached.
    pub doors: Vec<u32>,
    pub door_covered: Vec<bool>,
    door_slot: IntMap<u32, u32>,
    /// Outside doors by spatial hash cell, inside doors by room (slots into `doors`).
    doors_by_cell: IntMap<u32, Vec<u32>>,
    doors_by_room: IntMap<u32, Vec<u32>>,
    /// Per compound room: the span of raster cells its wall's box covers.
    room_span: IntMap<u32, (i64, i64, i64, i64)>,
}

/// Calls `f(i, j)` (absolute raster indices within the span) for every cell whose centre lies
/// inside the rings (even-odd rule; a centre exactly on an edge counts for the side to its
/// upper right).
fn scan_fill(rings: &[&[P]], c: f64, span: (i64, i64, i64, i64), mut f: impl FnMut(i64, i64)) {
    let bb = rings.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, r| {
        let q = super::geom::bbox(r);
        [b[0].min(q[0]), b[1].min(q[1]), b[2].max(q[2]), b[3].max(q[3])]
    });
    if !bb[0].is_finite() {
        return;
    }
    let j_lo = ((bb[1] / c - 0.5).ceil() as i64).max(span.1);
    let j_hi = ((bb[3] / c - 0.5).floor() as i64).min(span.3);
    let mut xs: Vec<f64> = Vec::new();
    for j in j_lo..=j_hi {
        let y = (j as f64 + 0.5) * c;
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
                f(i, j);
            }
        }
    }
}

impl Canvas {
    /// A canvas over `bbox` (local metres) with cells of `cell_m`. With `owners`, only the
    /// cells whose centres lie in an owner's rings are sample points, owned by it; without,
    /// every cell is, owned by 0. The doors of every building a sample point falls in are added.
    pub fn new(w: &World, bbox: [f64; 4], cell_m: f64, owners: Option<&[(u32, Vec<Vec<P>>)]>) -> Canvas {
        let (i0, j0) = ((bbox[0] / cell_m).floor() as i64, (bbox[1] / cell_m).floor() as i64);
        let (i1, j1) = ((bbox[2] / cell_m).floor() as i64, (bbox[3] / cell_m).floor() as i64);
        let (ni, nj) = ((i1 - i0 + 1).max(0) as usize, (j1 - j0 + 1).max(0) as usize);
        let span = (i0, j0, i1, j1);
        let mut owner = vec![if owners.is_some() { NOT_TARGET } else { 0 }; ni * nj];
        let at = |i: i64, j: i64| (j - j0) as usize * ni + (i - i0) as usize;
        if let Some(owners) = owners {
            for (id, rings) in owners {
                let refs: Vec<&[P]> = rings.iter().map(Vec::as_slice).collect();
                scan_fill(&refs, cell_m, span, |i, j| owner[at(i, j)] = *id);
            }
        }
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
            doors: Vec::new(),
            door_covered: Vec::new(),
            door_slot: IntMap::default(),
            doors_by_cell: IntMap::default(),
            doors_by_room: IntMap::default(),
            room_span: IntMap::default(),
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
            scan_fill(&[&p.ring], cell_m, span, |i, j| {
                let k = at(i, j);
                if kind[k] != NOT_TARGET {
                    kind[k] = room;
                }
            });
            let (ra, rb) = ((p.bbox[0] / cell_m).floor() as i64, (p.bbox[1] / cell_m).floor() as i64);
            let (rc, rd) = ((p.bbox[2] / cell_m).floor() as i64, (p.bbox[3] / cell_m).floor() as i64);
            canvas.room_span.insert(room, (ra.max(i0), rb.max(j0), rc.min(i1), rd.min(j1)));
            buildings.extend_from_slice(&w.rooms[room as usize].buildings);
        }
        let mut with_cells: Vec<u32> = Vec::new();
        for &bi in &buildings {
            let p = &w.polys[bi as usize];
            let mut any = false;
            scan_fill(&[&p.ring], cell_m, span, |i, j| {
                let k = at(i, j);
                if kind[k] != NOT_TARGET {
                    kind[k] = IN_BUILDING | bi;
                    any = true;
                }
            });
            if any {
                with_cells.push(bi);
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
            if self.door_slot.contains_key(&d) {
                continue;
            }
            let slot = self.doors.len() as u32;
            self.door_slot.insert(d, slot);
            self.doors.push(d);
            self.door_covered.push(false);
            let door = &w.doors[d as usize];
            if door.room == OUTSIDE {
                let (cx, cy) = w.grid.cell_of(door.p);
                if let Some(c) = w.grid.index(cx, cy) {
                    self.doors_by_cell.entry(c as u32).or_default().push(slot);
                }
            } else {
                self.doors_by_room.entry(door.room).or_default().push(slot);
            }
        }
    }

    /// Whether the door (world index) has been reached.
    pub fn door_reached(&self, door: u32) -> bool {
        self.door_slot.get(&door).is_some_and(|&s| self.door_covered[s as usize])
    }

    /// The centre of raster cell `(i, j)` (absolute indices), local metres.
    #[inline]
    pub fn centre(&self, i: i64, j: i64) -> P {
        [(i as f64 + 0.5) * self.cell_m, (j as f64 + 0.5) * self.cell_m]
    }

    /// Marks what `o` (in `room`, `r_m` metres left, bending into `cone`) reaches.
    pub fn push(&mut self, net: &Net, o: P, room: u32, r_m: f64, cone: Option<Cone>) {
        if r_m < 0.0 {
            return;
        }
        let w = &net.world;
        let c = self.cell_m;
        let ok = |q: P| dist(o, q) <= r_m && cone.as_ref().is_none_or(|k| k.admits(q));
        let (i0, j0, ni) = (self.i0, self.j0, self.ni);
        let (kind, covered) = (&self.kind, &mut self.covered);
        let (doors, door_covered) = (&self.doors, &mut self.door_covered);
        let mut cells = |vis: &mut Visibility, span: (i64, i64, i64, i64), want: u32| {
            let (a, b, x, y) = span;
            for j in b.max(j0)..=y.min(j0 + self.nj as i64 - 1) {
                for i in a.max(i0)..=x.min(i0 + ni as i64 - 1) {
                    let k = (j - j0) as usize * ni + (i - i0) as usize;
                    if kind[k] == want && !covered[k] {
                        let q = [(i as f64 + 0.5) * c, (j as f64 + 0.5) * c];
                        if ok(q) && vis.sees(q) {
                            covered[k] = true;
                        }
                    }
                }
            }
        };
        let disk = ((((o[0] - r_m) / c).floor() as i64), (((o[1] - r_m) / c).floor() as i64), (((o[0] + r_m) / c).floor() as i64), (((o[1] + r_m) / c).floor() as i64));
        let mut door_list = |vis: &mut Visibility, slots: Option<&Vec<u32>>| {
            for &s in slots.into_iter().flatten() {
                let q = w.doors[doors[s as usize] as usize].p;
                if !door_covered[s as usize] && ok(q) && vis.sees(q) {
                    door_covered[s as usize] = true;
                }
            }
        };
        if room != OUTSIDE {
            let mut vis = Visibility::new(w, o, room);
            if let Some(&(a, b, x, y)) = self.room_span.get(&room) {
                cells(&mut vis, (a.max(disk.0), b.max(disk.1), x.min(disk.2), y.min(disk.3)), room);
            }
            door_list(&mut vis, self.doors_by_room.get(&room));
            return;
        }
        let g = w.grid;
        let by_cell = &self.doors_by_cell;
        sweep_outside(w, o, r_m, cone, |vis, hc| {
            let cx = hc as i64 % g.nx;
            let cy = hc as i64 / g.nx;
            let r = g.rect(cx, cy);
            // Centres inside the hash cell: (i + 0.5) c in [r0, r2).
            let span = (
                ((r[0] / c - 0.5).ceil() as i64).max(disk.0),
                ((r[1] / c - 0.5).ceil() as i64).max(disk.1),
                ((r[2] / c - 0.5).ceil() as i64 - 1).min(disk.2),
                ((r[3] / c - 0.5).ceil() as i64 - 1).min(disk.3),
            );
            cells(vis, span, OUTSIDE);
            door_list(vis, by_cell.get(&(hc as u32)));
        });
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
            let hit = *reached
                .entry(b)
                .or_insert_with(|| w.doors_of_poly(b).any(|d| self.door_reached(d as u32)));
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
