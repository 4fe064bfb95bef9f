//! Planar predicates in local metres (x east, y north; see [`LocalProjection`]).
//!
//! Walls and buildings have no thickness: a path may run along a wall or touch a corner, but
//! never pass through the *interior* of an obstacle. Orientation tests use Shewchuk's adaptive
//! predicates (`robust`), so "on the line" is decided exactly; intersection parameters are
//! ordinary floating point, used only to split a segment into pieces whose midpoints are then
//! classified.
//!
//! [`LocalProjection`]: crate::model::LocalProjection

/// A point in local metres.
pub(crate) type P = [f64; 2];

/// Pieces shorter than this share of a segment are ignored when classifying it (they are
/// rounding artefacts of intersection parameters, under a micrometre on a kilometre).
const TINY_T: f64 = 1e-9;

/// > 0 when `c` is left of the directed line `a → b`, < 0 right, exactly 0 on it.
#[inline]
pub(crate) fn orient(a: P, b: P, c: P) -> f64 {
    robust::orient2d(
        robust::Coord { x: a[0], y: a[1] },
        robust::Coord { x: b[0], y: b[1] },
        robust::Coord { x: c[0], y: c[1] },
    )
}

#[inline]
pub(crate) fn dist(a: P, b: P) -> f64 {
    // Not `hypot`: coordinates are metres, far from overflow, and `hypot` is several times slower.
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    (dx * dx + dy * dy).sqrt()
}

#[inline]
pub(crate) fn lerp(a: P, b: P, t: f64) -> P {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]
}

/// Bounding box `[min_x, min_y, max_x, max_y]`.
pub(crate) fn bbox(pts: &[P]) -> [f64; 4] {
    pts.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |b, p| {
        [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])]
    })
}

/// Twice the signed area of a ring (positive when counter-clockwise).
pub(crate) fn signed_area2(ring: &[P]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// Whether `p` lies on the closed segment `a b`.
#[inline]
pub(crate) fn on_segment(a: P, b: P, p: P) -> bool {
    orient(a, b, p) == 0.0
        && p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

/// Where a point lies with respect to a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loc {
    Inside,
    Boundary,
    Outside,
}

/// Locates `p` against the closed ring `ring` (open form: the last vertex is not repeated), by
/// winding number with exact orientation tests.
pub(crate) fn locate(ring: &[P], p: P) -> Loc {
    let n = ring.len();
    let mut wn = 0i32;
    for i in 0..n {
        let (c, e) = (ring[i], ring[(i + 1) % n]);
        let o = orient(c, e, p);
        if o == 0.0 && on_segment(c, e, p) {
            return Loc::Boundary;
        }
        if c[1] <= p[1] {
            if e[1] > p[1] && o > 0.0 {
                wn += 1;
            }
        } else if e[1] <= p[1] && o < 0.0 {
            wn -= 1;
        }
    }
    if wn != 0 {
        Loc::Inside
    } else {
        Loc::Outside
    }
}

/// Whether the segment `a b` can meet the box at all (cheap rejection).
#[inline]
pub(crate) fn segment_may_hit(a: P, b: P, bb: &[f64; 4]) -> bool {
    if a[0].max(b[0]) < bb[0] || a[0].min(b[0]) > bb[2] || a[1].max(b[1]) < bb[1] || a[1].min(b[1]) > bb[3] {
        return false;
    }
    // Slab test: the box's corners must not all lie strictly on one side of the line.
    let corners = [[bb[0], bb[1]], [bb[2], bb[1]], [bb[2], bb[3]], [bb[0], bb[3]]];
    let d = [b[0] - a[0], b[1] - a[1]];
    let side = |c: &P| d[0] * (c[1] - a[1]) - d[1] * (c[0] - a[0]);
    let s = corners.map(|c| side(&c));
    // A small tolerance keeps this a conservative filter.
    let tol = 1e-9 * (d[0].abs() + d[1].abs()) * (bb[2] - bb[0] + bb[3] - bb[1] + 1.0);
    !(s.iter().all(|&v| v > tol) || s.iter().all(|&v| v < -tol))
}

/// Which parts of the ring's plane the segment `a b` passes through, besides the boundary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Meets {
    /// Some piece of the segment lies strictly inside the ring.
    pub inside: bool,
    /// Some piece lies strictly outside.
    pub outside: bool,
}

/// Classifies the segment `a b` against the closed ring: it is cut at every crossing and
/// touching point, and each piece is classified by its midpoint (pieces running along an edge
/// are boundary). Exact up to the rounding of crossing parameters.
pub(crate) fn segment_meets(ring: &[P], a: P, b: P) -> Meets {
    let n = ring.len();
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    if len2 == 0.0 {
        return match locate(ring, a) {
            Loc::Inside => Meets { inside: true, outside: false },
            Loc::Outside => Meets { inside: false, outside: true },
            Loc::Boundary => Meets::default(),
        };
    }
    let param = |p: P| ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2;
    let mut ts: Vec<f64> = Vec::with_capacity(8);
    ts.push(0.0);
    ts.push(1.0);
    let mut along: Vec<(f64, f64)> = Vec::new();
    for i in 0..n {
        let (c, e) = (ring[i], ring[(i + 1) % n]);
        let o1 = orient(a, b, c);
        let o2 = orient(a, b, e);
        if o1 == 0.0 && o2 == 0.0 {
            let (tc, te) = (param(c), param(e));
            let (lo, hi) = if tc <= te { (tc, te) } else { (te, tc) };
            if hi >= 0.0 && lo <= 1.0 {
                along.push((lo.max(0.0), hi.min(1.0)));
                ts.push(lo.clamp(0.0, 1.0));
                ts.push(hi.clamp(0.0, 1.0));
            }
            continue;
        }
        if o1 == 0.0 {
            let t = param(c);
            if (0.0..=1.0).contains(&t) {
                ts.push(t);
            }
        }
        if o2 == 0.0 {
            let t = param(e);
            if (0.0..=1.0).contains(&t) {
                ts.push(t);
            }
        }
        if (o1 > 0.0 && o2 < 0.0) || (o1 < 0.0 && o2 > 0.0) {
            let o3 = orient(c, e, a);
            let o4 = orient(c, e, b);
            if (o3 > 0.0 && o4 < 0.0) || (o3 < 0.0 && o4 > 0.0) {
                ts.push((o3 / (o3 - o4)).clamp(0.0, 1.0));
            }
        }
    }
    ts.sort_by(f64::total_cmp);
    let mut out = Meets::default();
    for w in ts.windows(2) {
        let (t0, t1) = (w[0], w[1]);
        if t1 - t0 <= TINY_T {
            continue;
        }
        if along.iter().any(|&(lo, hi)| lo <= t0 + TINY_T && t1 <= hi + TINY_T) {
            continue;
        }
        match locate(ring, lerp(a, b, 0.5 * (t0 + t1))) {
            Loc::Inside => out.inside = true,
            Loc::Outside => out.outside = true,
            Loc::Boundary => {}
        }
        if out.inside && out.outside {
            break;
        }
    }
    out
}

/// Whether the ring is convex (counter-clockwise, collinear vertices allowed).
pub(crate) fn is_convex_ccw(ring: &[P]) -> bool {
    let n = ring.len();
    (0..n).all(|i| orient(ring[(i + n - 1) % n], ring[i], ring[(i + 1) % n]) >= 0.0)
}

/// Writes the ring into `out` in counter-clockwise open form without repeated points; false
/// (and `out` unspecified) when it is degenerate or not finite.
pub(crate) fn normalise_ring(out: &mut Vec<P>, pts: impl IntoIterator<Item = P>) -> bool {
    out.clear();
    for p in pts {
        if !(p[0].is_finite() && p[1].is_finite()) {
            return false;
        }
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    if out.len() < 3 {
        return false;
    }
    let a = signed_area2(out);
    if a == 0.0 {
        return false;
    }
    if a < 0.0 {
        out.reverse();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> Vec<P> {
        vec![[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
    }

    #[test]
    fn locate_is_exact_on_edges_and_corners() {
        let s = square();
        assert_eq!(locate(&s, [5.0, 5.0]), Loc::Inside);
        assert_eq!(locate(&s, [10.0, 5.0]), Loc::Boundary);
        assert_eq!(locate(&s, [0.0, 0.0]), Loc::Boundary);
        assert_eq!(locate(&s, [10.000001, 5.0]), Loc::Outside);
    }

    #[test]
    fn segments_along_walls_and_past_corners_do_not_enter() {
        let s = square();
        // Along an edge, from corner to corner.
        assert_eq!(segment_meets(&s, [0.0, 0.0], [10.0, 0.0]), Meets { inside: false, outside: false });
        // Grazing a corner from outside.
        assert_eq!(segment_meets(&s, [-5.0, 5.0], [5.0, -5.0]), Meets { inside: false, outside: true });
        // The diagonal runs through the interior although it only meets the boundary at corners.
        assert_eq!(segment_meets(&s, [0.0, 0.0], [10.0, 10.0]), Meets { inside: true, outside: false });
        // Straight through.
        let m = segment_meets(&s, [-1.0, 5.0], [11.0, 5.0]);
        assert!(m.inside && m.outside);
        // From a boundary point outward and inward.
        assert_eq!(segment_meets(&s, [10.0, 5.0], [20.0, 5.0]), Meets { inside: false, outside: true });
        assert_eq!(segment_meets(&s, [10.0, 5.0], [5.0, 5.0]), Meets { inside: true, outside: false });
    }

    #[test]
    fn rings_are_normalised_counter_clockwise() {
        let mut r = Vec::new();
        assert!(normalise_ring(&mut r, [[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]));
        assert!(signed_area2(&r) > 0.0 && r.len() == 4 && is_convex_ccw(&r));
        assert!(!normalise_ring(&mut r, [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]));
    }
}
