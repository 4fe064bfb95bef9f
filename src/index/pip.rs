//! Point-in-polygon with gridmap's boundary rule.
//!
//! # The boundary rule
//! A point belongs to the polygon that contains the point displaced an infinitesimal step
//! **east**, and then an even smaller step **north**: `p + (δ, ε)` with `0 < ε ≪ δ`.
//! So a point on a north-south (or slanted) shared edge belongs to the grid east of the edge;
//! a point on an east-west edge belongs to the grid north of it; a vertex goes to the grid
//! that lies just east-north-east of it. Points on the district's own outline belong to the
//! district only where the district lies east (north) of them. Every point of a tiling is thus
//! claimed by exactly one polygon, and the rule needs no tolerance.
//!
//! # How it is implemented
//! The crossing-number test with a ray to +x, made half-open so it is consistent:
//! an edge `(a, b)` with `a.y <= b.y` counts as crossed iff `a.y <= p.y < b.y` (half-open in y:
//! a vertex counts once for the edge whose lower end it is; horizontal edges never count) and
//! `p` is strictly left of the upward edge `a → b` (exact `orient2d > 0`; a point exactly on the
//! edge does not count, which is the "east" part). Each edge is stored with its lower end first,
//! so two polygons sharing an edge evaluate the identical predicate on identical numbers, and
//! `orient2d` (Shewchuk's adaptive exact predicate) makes the answer exact for the stored floats.
//! Coordinates are EPSG:4326 degrees; the rule is the same in any affine coordinates.

use geo::{LineString, MultiPolygon};

/// One polygon edge, lower endpoint first: `(ax, ay)` with `ay <= by`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub ax: f64,
    pub ay: f64,
    pub bx: f64,
    pub by: f64,
}

impl Edge {
    /// The edge between two vertices, stored lower end first (ties broken by x so that the
    /// same segment always gets the same orientation).
    pub fn new(p: (f64, f64), q: (f64, f64)) -> Edge {
        let (a, b) = if (p.1, p.0) <= (q.1, q.0) { (p, q) } else { (q, p) };
        Edge { ax: a.0, ay: a.1, bx: b.0, by: b.1 }
    }

    /// Whether a ray from `(x, y)` to +x crosses this edge under the half-open rule.
    #[inline]
    pub fn crossed_by_ray(&self, x: f64, y: f64) -> bool {
        if !(self.ay <= y && y < self.by) {
            return false;
        }
        // Quick reject/accept by x before the exact predicate.
        if x < self.ax.min(self.bx) {
            return true;
        }
        if x > self.ax.max(self.bx) {
            return false;
        }
        robust::orient2d(
            robust::Coord { x: self.ax, y: self.ay },
            robust::Coord { x: self.bx, y: self.by },
            robust::Coord { x, y },
        ) > 0.0
    }
}

/// Every edge of every ring of a (multi)polygon, lower end first. Zero-length edges are dropped.
pub fn edges_of(mp: &MultiPolygon<f64>) -> Vec<Edge> {
    let mut out = Vec::new();
    let mut ring = |ls: &LineString<f64>| {
        for w in ls.0.windows(2) {
            if w[0] != w[1] {
                out.push(Edge::new((w[0].x, w[0].y), (w[1].x, w[1].y)));
            }
        }
        // Tolerate unclosed rings (the model closes them, but be safe).
        if let (Some(f), Some(l)) = (ls.0.first(), ls.0.last()) {
            if f != l {
                out.push(Edge::new((l.x, l.y), (f.x, f.y)));
            }
        }
    };
    for p in &mp.0 {
        ring(p.exterior());
        for h in p.interiors() {
            ring(h);
        }
    }
    out
}

/// Whether `(x, y)` belongs to the polygon with these edges under the boundary rule.
#[inline]
pub fn claims(edges: &[Edge], x: f64, y: f64) -> bool {
    let mut inside = false;
    for e in edges {
        if e.crossed_by_ray(x, y) {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn square(x0: f64, y0: f64, s: f64) -> Vec<Edge> {
        edges_of(&MultiPolygon(vec![polygon![
            (x: x0, y: y0), (x: x0 + s, y: y0), (x: x0 + s, y: y0 + s), (x: x0, y: y0 + s), (x: x0, y: y0)
        ]]))
    }

    #[test]
    fn east_then_north_on_four_squares() {
        // Four unit squares meeting at (1,1): SW, SE, NW, NE.
        let sw = square(0.0, 0.0, 1.0);
        let se = square(1.0, 0.0, 1.0);
        let nw = square(0.0, 1.0, 1.0);
        let ne = square(1.0, 1.0, 1.0);
        let owners = |x, y| {
            [&sw, &se, &nw, &ne].iter().enumerate().filter(|(_, e)| claims(e, x, y)).map(|(i, _)| i).collect::<Vec<_>>()
        };
        assert_eq!(owners(1.0, 0.5), vec![1], "vertical shared edge → the square to the east");
        assert_eq!(owners(0.5, 1.0), vec![2], "horizontal shared edge → the square to the north");
        assert_eq!(owners(1.0, 1.0), vec![3], "shared vertex → the north-east square");
        assert_eq!(owners(0.0, 0.5), vec![0], "west outline → inside");
        assert_eq!(owners(2.0, 0.5), Vec::<usize>::new(), "east outline → outside");
        assert_eq!(owners(0.5, 0.0), vec![0], "south outline → inside");
        assert_eq!(owners(0.5, 2.0), Vec::<usize>::new(), "north outline → outside");
        assert_eq!(owners(0.5, 0.5), vec![0]);
    }

    #[test]
    fn edge_orientation_does_not_depend_on_ring_direction() {
        assert_eq!(Edge::new((0.0, 0.0), (1.0, 2.0)), Edge::new((1.0, 2.0), (0.0, 0.0)));
        assert_eq!(Edge::new((0.0, 1.0), (3.0, 1.0)), Edge::new((3.0, 1.0), (0.0, 1.0)));
    }

    #[test]
    fn slanted_shared_edge_is_claimed_once() {
        // Two triangles sharing the slanted edge (0,0)-(1,1), split off a unit square.
        let lower = edges_of(&MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)],
        ]));
        let upper = edges_of(&MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)],
        ]));
        for i in 1..100 {
            let t = i as f64 / 100.0;
            let n = claims(&lower, t, t) as u8 + claims(&upper, t, t) as u8;
            assert_eq!(n, 1, "point ({t},{t}) on the shared diagonal must have one owner");
            assert!(claims(&lower, t, t), "the lower-right triangle lies east of the diagonal");
        }
    }
}
