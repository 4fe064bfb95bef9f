//! Visibility from a point: which candidate points a straight leg in the same room can reach.
//!
//! Inside a compound a room holds a few dozen candidates and each is tested exactly. The outside
//! room is the whole city, so [`sweep_outside`] walks the spatial hash in square rings around
//! the origin, nearest first, and casts **shadows**: every obstacle met records the angular
//! sector it hides beyond its farthest corner. Candidates in a shadow are rejected without a
//! test; from the third ring on, only the cells of a ring that the open (unshadowed) directions
//! pass through are visited, found by binary search along the ring; and the sweep stops once
//! every direction is in shadow. Shadows are cast only by convex pieces of obstacles (the polygon itself, or the
//! triangles of a non-convex one), shrunk by a nanoradian on each side, so a point in a shadow is
//! certainly hidden; every other candidate gets the exact test. The sweep is therefore exact,
//! shadows only save work, and its cost follows the area actually visible, not the radius.

use super::geom::{dist, locate, orient, Loc, P};
use super::hash::IntSet;
use super::world::{HashGrid, World, OUTSIDE};

/// Directions are *pseudo-angles* ([`pseudo_angle`]): a full turn is 4, a half turn 2. They
/// order directions exactly as angles do, without a trigonometric call.
const TAU: f64 = 4.0;
const PI: f64 = 2.0;
/// Margin kept clear at the edges of a shadow, in pseudo-angle units (between one and two
/// nanoradians).
const EPS_RAD: f64 = 1e-9;

/// The pseudo-angle of direction `(dx, dy)` (not both zero), in `[0, 4)`: monotonic in the true
/// angle, 0 east, 1 north, 2 west, 3 south.
#[inline]
pub(crate) fn pseudo_angle(dx: f64, dy: f64) -> f64 {
    let p = dy / (dx.abs() + dy.abs());
    if dx < 0.0 {
        2.0 - p
    } else if dy < 0.0 {
        4.0 + p
    } else {
        p
    }
}

/// `a - b` wrapped into `(-2, 2]` (pseudo-angle units).
#[inline]
fn rel(a: f64, b: f64) -> f64 {
    let d = a - b;
    if d > PI {
        d - TAU
    } else if d <= -PI {
        d + TAU
    } else {
        d
    }
}

#[inline]
fn angle(o: P, q: P) -> f64 {
    pseudo_angle(q[0] - o[0], q[1] - o[1])
}

/// A sector `(a0, a1)` (pseudo-angles, `0 <= a0 < a1 <= 4`) hidden beyond distance `d`.
#[derive(Debug, Clone, Copy)]
struct Shadow {
    a0: f64,
    a1: f64,
    d: f64,
}

/// Exact visibility from `o` within one room, with the shadows learnt so far.
pub(crate) struct Visibility<'w> {
    w: &'w World,
    pub o: P,
    pub room: u32,
    /// Merged sectors of the shadows no farther than `active_d`.
    union: Vec<(f64, f64)>,
    active_d: f64,
    /// Shadows farther than `active_d`.
    pending: Vec<Shadow>,
    cast: IntSet<u32>,
}

impl<'w> Visibility<'w> {
    pub fn new(w: &'w World, o: P, room: u32) -> Self {
        Visibility { w, o, room, union: Vec::new(), active_d: 0.0, pending: Vec::new(), cast: IntSet::default() }
    }

    /// Whether the straight leg from the origin to `q` stays in the room and clear of
    /// obstacles. `q` must lie in the room (or on its boundary).
    pub fn sees(&mut self, q: P) -> bool {
        if self.room != OUTSIDE {
            return self.w.clear(self.room, self.o, q).is_ok();
        }
        let d = dist(self.o, q);
        if d == 0.0 {
            return true;
        }
        if self.active_d < d && in_union(&self.union, angle(self.o, q)) {
            return false;
        }
        match self.w.clear(OUTSIDE, self.o, q) {
            Ok(()) => true,
            Err(poly) => {
                self.cast_shadow(poly);
                false
            }
        }
    }

    /// Records the shadow of polygon `poly` (once).
    pub fn cast_shadow(&mut self, poly: u32) {
        if !self.cast.insert(poly) {
            return;
        }
        let w = self.w;
        w.for_each_piece(poly, |piece| self.cast_piece(piece));
    }

    /// Records the shadow of a convex polygon.
    fn cast_piece(&mut self, pts: &[P]) {
        let o = self.o;
        let d = match locate(pts, o) {
            Loc::Inside => return,
            // Standing on it: every direction into it is blocked at once.
            Loc::Boundary => 0.0,
            Loc::Outside => pts.iter().map(|&v| dist(o, v)).fold(0.0, f64::max),
        };
        let n = pts.len() as f64;
        let c = pts.iter().fold([0.0, 0.0], |s, v| [s[0] + v[0] / n, s[1] + v[1] / n]);
        let r = [c[0] - o[0], c[1] - o[1]];
        if r == [0.0, 0.0] {
            return;
        }
        let base = pseudo_angle(r[0], r[1]);
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for v in pts {
            let w = [v[0] - o[0], v[1] - o[1]];
            if w == [0.0, 0.0] {
                continue;
            }
            let a = rel(pseudo_angle(w[0], w[1]), base);
            lo = lo.min(a);
            hi = hi.max(a);
        }
        let (a0, a1) = (base + lo + EPS_RAD, base + hi - EPS_RAD);
        if a1 <= a0 {
            return;
        }
        let (arcs, n) = shadow_arcs(a0, a1);
        for &(s, e) in &arcs[..n] {
            let sh = Shadow { a0: s, a1: e, d };
            if d <= self.active_d {
                merge_into(&mut self.union, sh.a0, sh.a1);
            } else {
                self.pending.push(sh);
            }
        }
    }

    /// Makes the shadows no farther than `d` active.
    fn activate(&mut self, d: f64) {
        self.active_d = d;
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].d <= d {
                let s = self.pending.swap_remove(i);
                merge_into(&mut self.union, s.a0, s.a1);
            } else {
                i += 1;
            }
        }
    }
}

/// Inserts the open sector `(a0, a1)` into sorted, merged sectors.
fn merge_into(union: &mut Vec<(f64, f64)>, a0: f64, a1: f64) {
    let i = union.partition_point(|u| u.1 <= a0);
    let mut j = i;
    let (mut s, mut e) = (a0, a1);
    // Open sectors that merely touch stay apart: the touching direction is visible.
    while j < union.len() && union[j].0 < e && s < union[j].1 {
        s = s.min(union[j].0);
        e = e.max(union[j].1);
        j += 1;
    }
    union.splice(i..j, [(s, e)]);
}

/// Whether direction `a` lies strictly inside one of the merged sectors.
fn in_union(union: &[(f64, f64)], a: f64) -> bool {
    let i = union.partition_point(|u| u.1 <= a);
    union.get(i).is_some_and(|u| u.0 < a && a < u.1)
}

/// The arc from `a0` to `a1` (`a1 - a0 <= 4`) as one or two sectors within `[0, 4]`.
fn normalise_arc(a0: f64, a1: f64) -> ([(f64, f64); 2], usize) {
    if a1 - a0 >= TAU {
        return ([(0.0, TAU), (0.0, 0.0)], 1);
    }
    // Arcs start within a turn of [0, 4): no need for a general remainder.
    let s = if a0 < 0.0 {
        a0 + TAU
    } else if a0 >= TAU {
        a0 - TAU
    } else {
        a0
    };
    let s = if (0.0..TAU).contains(&s) { s } else { a0.rem_euclid(TAU) };
    let e = s + (a1 - a0);
    if e <= TAU {
        ([(s, e), (0.0, 0.0)], 1)
    } else {
        ([(s, TAU), (0.0, e - TAU)], 2)
    }
}

/// Like [`normalise_arc`] for an open shadow sector, except that where a sector is cut at
/// direction 0 its pieces reach past the cut, so that the cut itself counts as covered.
fn shadow_arcs(a0: f64, a1: f64) -> ([(f64, f64); 2], usize) {
    if a1 - a0 >= TAU {
        return ([(-1.0, TAU + 1.0), (0.0, 0.0)], 1);
    }
    let (mut v, n) = normalise_arc(a0, a1);
    if n == 2 {
        v[0].1 = TAU + 1.0;
        v[1].0 = -1.0;
    }
    (v, n)
}

/// Whether the merged sectors cover the closed arc `[a0, a1]`.
fn covers(union: &[(f64, f64)], a0: f64, a1: f64) -> bool {
    let (arcs, n) = normalise_arc(a0, a1);
    arcs[..n].iter().all(|&(s, e)| {
        let i = union.partition_point(|u| u.1 <= e);
        union.get(i).is_some_and(|u| u.0 < s)
    })
}

/// The half-plane beyond a bend: points `q` with `orient(from, apex, q) * side >= 0`. A shortest
/// path that bends at a corner turns towards the obstacle, so the points whose last bend is
/// that corner lie on the obstacle's side of the line the path arrived on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cone {
    pub from: P,
    pub apex: P,
    pub side: f64,
}

impl Cone {
    /// Whether `q` lies in the cone (generously: within a millimetre-scale tolerance).
    #[inline]
    pub fn admits(&self, q: P) -> bool {
        let o = orient(self.from, self.apex, q) * self.side;
        o >= -1e-9 * (dist(self.from, self.apex) * dist(self.apex, q) + 1.0)
    }

    /// Whether some point of the box lies in the cone.
    pub fn admits_rect(&self, r: &[f64; 4]) -> bool {
        [[r[0], r[1]], [r[2], r[1]], [r[2], r[3]], [r[0], r[3]]].iter().any(|&c| self.admits(c))
    }

    /// The directions of the half-plane, as an arc.
    fn arc(&self) -> (f64, f64) {
        let f = angle(self.from, self.apex);
        if self.side > 0.0 {
            (f, f + PI)
        } else {
            (f - PI, f)
        }
    }
}

/// Distance from `o` to the nearest point of a box.
pub(crate) fn rect_distance(o: P, r: &[f64; 4]) -> f64 {
    let dx = (r[0] - o[0]).max(o[0] - r[2]).max(0.0);
    let dy = (r[1] - o[1]).max(o[1] - r[3]).max(0.0);
    (dx * dx + dy * dy).sqrt()
}

/// The arc a rectangle spans seen from `o` (outside it).
fn rect_arc(o: P, r: &[f64; 4]) -> (f64, f64) {
    let c = [(r[0] + r[2]) * 0.5 - o[0], (r[1] + r[3]) * 0.5 - o[1]];
    let base = pseudo_angle(c[0], c[1]);
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for q in [[r[0], r[1]], [r[2], r[1]], [r[2], r[3]], [r[0], r[3]]] {
        let a = rel(pseudo_angle(q[0] - o[0], q[1] - o[1]), base);
        lo = lo.min(a);
        hi = hi.max(a);
    }
    (base + lo, base + hi)
}

/// Sweeps the outside room from `o` out to `radius` metres: calls `visit(vis, cell)` for every
/// cell of the spatial hash that may hold points visible from `o` (in `cone`, if given), nearest
/// rings first. `visit` tests its candidates with `vis.sees`, which also teaches the sweep the
/// shadows it uses to skip cells and to stop.
pub(crate) fn sweep_outside(
    w: &World,
    o: P,
    radius: f64,
    cone: Option<Cone>,
    mut visit: impl FnMut(&mut Visibility, usize),
) {
    let g = w.grid;
    let mut vis = Visibility::new(w, o, OUTSIDE);
    let (ox, oy) = g.cell_of(o);
    let full = cone.map_or((0.0, TAU), |c| c.arc());
    // How far rings can go before they leave the grid for good.
    let reach = (ox.max(g.nx - 1 - ox)).max(oy.max(g.ny - 1 - oy)).max(0);
    let mut k: i64 = 0;
    loop {
        let inner = (k - 1).max(0) as f64 * g.cell;
        if inner > radius || k > reach + 1 {
            break;
        }
        if k >= 2 {
            vis.activate(inner);
            if !vis.union.is_empty() && covers(&vis.union, full.0, full.1) {
                break;
            }
        }
        let mut cell = |cx: i64, cy: i64, vis: &mut Visibility| {
            let Some(idx) = g.index(cx, cy) else { return };
            let r = g.rect(cx, cy);
            let dmin = rect_distance(o, &r);
            if dmin > radius {
                return;
            }
            if let Some(c) = &cone {
                if !c.admits_rect(&r) {
                    return;
                }
            }
            if k >= 2 && !vis.union.is_empty() {
                let (a0, a1) = rect_arc(o, &r);
                if covers(&vis.union, a0, a1) {
                    return;
                }
            }
            // Every obstacle here casts its shadow, seen or not: shadows are what let the
            // sweep skip hidden cells and stop.
            for &poly in w.cell_polys.get(idx) {
                vis.cast_shadow(poly);
            }
            visit(vis, idx);
        };
        if k == 0 {
            cell(ox, oy, &mut vis);
        } else if k == 1 || vis.union.is_empty() {
            for s in 0..8 * k {
                let (cx, cy) = ring_cell(ox, oy, k, s);
                cell(cx, cy, &mut vis);
            }
        } else {
            // Only the cells the open (unshadowed) directions pass through.
            for (a, b) in ring_ranges(o, &g, ox, oy, k, &open_arcs(&vis.union, full)) {
                for s in a..=b {
                    let (cx, cy) = ring_cell(ox, oy, k, s);
                    cell(cx, cy, &mut vis);
                }
            }
        }
        k += 1;
    }
}

/// The cell at position `s` (`0..8k`) of the square ring `k` around cell `(ox, oy)`, counter-
/// clockwise from the south-east corner. For `k >= 1` the directions from any point of the
/// centre cell to the ring's cells increase with `s`.
#[inline]
fn ring_cell(ox: i64, oy: i64, k: i64, s: i64) -> (i64, i64) {
    let t = s % (2 * k);
    match s / (2 * k) {
        0 => (ox + k, oy - k + t),
        1 => (ox + k - t, oy + k),
        2 => (ox - k, oy + k - t),
        _ => (ox - k + t, oy - k),
    }
}

/// The directions of the arc `full` that no shadow of `union` covers, as closed arcs (possibly
/// single directions, where two shadows touch).
fn open_arcs(union: &[(f64, f64)], full: (f64, f64)) -> Vec<(f64, f64)> {
    let (pieces, n) = normalise_arc(full.0 - 1e-6, full.1 + 1e-6);
    let mut out = Vec::new();
    for &(s, e) in &pieces[..n] {
        let mut cursor = s;
        let first = union.partition_point(|u| u.1 <= s);
        for &(u0, u1) in &union[first..] {
            if u0 >= e {
                break;
            }
            if u0 >= cursor {
                out.push((cursor, u0));
            }
            cursor = cursor.max(u1);
            if cursor >= e {
                break;
            }
        }
        if cursor <= e {
            out.push((cursor, e));
        }
    }
    out
}

/// Ranges of ring positions (inclusive) whose cells the arcs may pass through, merged.
fn ring_ranges(o: P, g: &HashGrid, ox: i64, oy: i64, k: i64, arcs: &[(f64, f64)]) -> Vec<(i64, i64)> {
    let n = 8 * k;
    let centre = |s: i64| {
        let (cx, cy) = ring_cell(ox, oy, k, s);
        let r = g.rect(cx, cy);
        angle(o, [(r[0] + r[2]) * 0.5, (r[1] + r[3]) * 0.5])
    };
    let start = centre(0);
    // Direction of a ring position's centre, unwrapped to increase from 0 along the ring.
    let wrap = |d: f64| if d < 0.0 { d + TAU } else { d };
    let unwrapped = |s: i64| wrap(centre(s) - start);
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for &(a, b) in arcs {
        let ua = wrap(a - start);
        let ub = ua + (b - a);
        for (lo, hi) in [(ua, ub), (ua - TAU, ub - TAU)] {
            if hi < -1.0 || lo > TAU + 1.0 {
                continue;
            }
            // Cells are about a cell wide in direction: search by centres, then widen by one
            // position on each side to take in cells that only their edge brings into the arc.
            let first = partition(n, |s| unwrapped(s) < lo);
            let last = partition(n, |s| unwrapped(s) <= hi);
            let (from, to) = ((first - 1).max(0), last.min(n - 1));
            if from <= to {
                ranges.push((from, to));
            }
            // The ring is cyclic: an arc running past either end also touches the other end.
            if last >= n && lo <= TAU {
                ranges.push((0, 0));
            }
            if first == 0 && hi >= 0.0 {
                ranges.push((n - 1, n - 1));
            }
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(m) if a <= m.1 + 1 => m.1 = m.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// The first `s` in `0..n` for which `pred` is false (`pred` true then false along `0..n`).
fn partition(n: i64, pred: impl Fn(i64) -> bool) -> i64 {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reach::geom::dist;
    use rand::{Rng, SeedableRng};

    /// The sweep skips cells and stops early; it must still find exactly the nodes a test of
    /// every node finds. Karamay, random origins, with and without a cone.
    #[test]
    fn sweeps_find_exactly_the_visible_nodes() {
        let snap = crate::index::Snapshot::build(crate::store::seed::karamay().unwrap(), 1).unwrap();
        let w = &snap.reach.net.world;
        let outside: Vec<u32> = (0..w.nodes.len() as u32).filter(|&v| w.nodes[v as usize].room == OUTSIDE).collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (mut origins, mut seen) = (0, 0);
        while origins < 200 {
            let o = [rng.random_range(-3000.0..3000.0), rng.random_range(-2000.0..2000.0)];
            if w.room_of(o) != OUTSIDE || w.building_at(OUTSIDE, o).is_some() {
                continue;
            }
            origins += 1;
            let radius = rng.random_range(50.0..2000.0);
            let cone = rng.random_bool(0.5).then(|| Cone {
                from: [o[0] - 3.0, o[1] - 1.0],
                apex: o,
                side: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
            });
            let mut found: Vec<u32> = Vec::new();
            sweep_outside(w, o, radius, cone, |vis, cell| {
                for &v in w.cell_nodes.get(cell) {
                    let p = w.nodes[v as usize].p;
                    if dist(o, p) <= radius && cone.as_ref().is_none_or(|c| c.admits(p)) && vis.sees(p) {
                        found.push(v);
                    }
                }
            });
            found.sort_unstable();
            let want: Vec<u32> = outside
                .iter()
                .copied()
                .filter(|&v| {
                    let p = w.nodes[v as usize].p;
                    dist(o, p) <= radius && cone.as_ref().is_none_or(|c| c.admits(p)) && w.clear(OUTSIDE, o, p).is_ok()
                })
                .collect();
            assert_eq!(found, want, "origin {o:?}, radius {radius}, cone {cone:?}");
            seen += want.len();
        }
        assert!(seen > 500, "the origins must see something: {seen}");
    }

    #[test]
    fn pseudo_angles_order_directions() {
        let dirs: Vec<f64> = (0..16).map(|k| k as f64 * std::f64::consts::TAU / 16.0).collect();
        let p: Vec<f64> = dirs.iter().map(|a| pseudo_angle(a.cos(), a.sin())).collect();
        assert!(p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
        assert!((pseudo_angle(0.0, -1.0) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn arcs_wrap_and_cover() {
        assert_eq!(normalise_arc(-0.5, 0.5).1, 2);
        let u = vec![(0.0, 1.0), (TAU - 1.0, TAU)];
        // Open sectors merely touching at 0 leave direction 0 visible...
        assert!(!covers(&u, -0.2, 0.2));
        assert!(covers(&u, 0.1, 0.2));
        // ...but one shadow cut at 0 covers it.
        let (arcs, n) = shadow_arcs(-1.0, 1.0);
        let mut union = Vec::new();
        for &(a, b) in &arcs[..n] {
            merge_into(&mut union, a, b);
        }
        assert!(covers(&union, -0.2, 0.2));
        let c = Cone { from: [0.0, 0.0], apex: [1.0, 0.0], side: 1.0 };
        assert!(c.admits([2.0, 1.0]) && !c.admits([2.0, -1.0]));
        let (a0, a1) = c.arc();
        assert!(a0.abs() < 1e-12 && (a1 - PI).abs() < 1e-12);
    }
}
