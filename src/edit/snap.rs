//! Snapping hand-drawn boundaries onto their neighbours, so that edits close cleanly.
//!
//! A planner drags vertices on a web map; a shared boundary drawn by hand is never exactly on
//! the neighbour's boundary, and the gap and overlap rules would then see slivers. Before the
//! rules run, every vertex of an edited grid that lies within `snap_tolerance_m` of a
//! neighbour's boundary is moved onto it:
//!
//! 1. onto the nearest neighbour **vertex** within the tolerance (its exact coordinates), else
//! 2. onto the nearest point of the nearest neighbour **segment** within the tolerance;
//! 3. then every neighbour vertex within the tolerance of an edge of the edited ring (strictly
//!    between the edge's ends) is **inserted** into that edge, in order along it, so that a
//!    shared edge has the same vertices on both sides.
//!
//! The neighbours are the sibling grids (same community) that the same edit does not change,
//! and the community's own boundary. Grids changed together (a shared-boundary move) are not
//! snapped to each other: the editor sends their common boundary once, for both.
//! Coordinates are EPSG:4326; distances are metres in the snapshot's local projection.

use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon, Rect};

use super::geom::{expand, Metric};

/// The boundaries an edited grid may snap to.
#[derive(Debug, Default, Clone)]
pub struct Neighbours {
    vertices: Vec<Coord<f64>>,
    segments: Vec<(Coord<f64>, Coord<f64>)>,
}

impl Neighbours {
    /// Adds the rings of `mp` whose parts come near `area` (degrees).
    pub fn add(&mut self, mp: &MultiPolygon<f64>, area: Rect<f64>) {
        let near = |a: Coord<f64>, b: Coord<f64>| {
            a.x.min(b.x) <= area.max().x
                && a.x.max(b.x) >= area.min().x
                && a.y.min(b.y) <= area.max().y
                && a.y.max(b.y) >= area.min().y
        };
        for p in &mp.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                for w in r.0.windows(2) {
                    if w[0] != w[1] && near(w[0], w[1]) {
                        self.segments.push((w[0], w[1]));
                        self.vertices.push(w[0]);
                    }
                }
            }
        }
        self.vertices.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        self.vertices.dedup();
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }
}

/// The box around `mp` within which neighbours matter for snapping with `tol_m`.
pub fn reach_of(mp: &MultiPolygon<f64>, metric: &Metric, tol_m: f64) -> Option<Rect<f64>> {
    let (dx, dy) = metric.deg_of_m(tol_m * 2.0 + 0.01);
    mp.bounding_rect().map(|r| expand(r, dx, dy))
}

fn snap_vertex(c: Coord<f64>, nb: &Neighbours, metric: &Metric, tol_m: f64) -> Coord<f64> {
    let mut best: Option<(f64, Coord<f64>)> = None;
    for &v in &nb.vertices {
        let d = metric.dist_m(c, v);
        if d <= tol_m && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, v));
        }
    }
    if let Some((_, v)) = best {
        return v;
    }
    for &(a, b) in &nb.segments {
        let (d, _, q) = metric.closest_on_segment(c, a, b);
        if d <= tol_m && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, q));
        }
    }
    best.map_or(c, |(_, q)| q)
}

fn snap_ring(ring: &LineString<f64>, nb: &Neighbours, metric: &Metric, tol_m: f64) -> LineString<f64> {
    let mut open: Vec<Coord<f64>> = ring.0.clone();
    if open.len() > 1 && open.first() == open.last() {
        open.pop();
    }
    let mut snapped: Vec<Coord<f64>> = Vec::with_capacity(open.len());
    for c in open {
        let s = snap_vertex(c, nb, metric, tol_m);
        if snapped.last() != Some(&s) {
            snapped.push(s);
        }
    }
    while snapped.len() > 1 && snapped.first() == snapped.last() {
        snapped.pop();
    }
    let n = snapped.len();
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(n * 2);
    for i in 0..n {
        let (p, q) = (snapped[i], snapped[(i + 1) % n]);
        out.push(p);
        if n < 2 || p == q {
            continue;
        }
        let mut on: Vec<(f64, Coord<f64>)> = nb
            .vertices
            .iter()
            .filter(|&&w| w != p && w != q)
            .filter(|&&w| {
                w.x >= p.x.min(q.x) - 1e-5
                    && w.x <= p.x.max(q.x) + 1e-5
                    && w.y >= p.y.min(q.y) - 1e-5
                    && w.y <= p.y.max(q.y) + 1e-5
            })
            .filter_map(|&w| {
                let (d, t, _) = metric.closest_on_segment(w, p, q);
                (d <= tol_m && t > 0.0 && t < 1.0).then_some((t, w))
            })
            .collect();
        on.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, w) in on {
            if out.last() != Some(&w) {
                out.push(w);
            }
        }
    }
    if let Some(&first) = out.first() {
        out.push(first);
    }
    LineString(out)
}

/// `mp` with its vertices snapped onto the neighbours' boundaries and the neighbours' vertices
/// inserted along its edges (see the module docs). A shape with no neighbour near is returned
/// unchanged except for closing its rings.
pub fn snap_shape(mp: &MultiPolygon<f64>, nb: &Neighbours, metric: &Metric, tol_m: f64) -> MultiPolygon<f64> {
    if nb.is_empty() || tol_m <= 0.0 {
        return mp.clone();
    }
    MultiPolygon(
        mp.0.iter()
            .map(|p| {
                Polygon::new(
                    snap_ring(p.exterior(), nb, metric, tol_m),
                    p.interiors().iter().map(|h| snap_ring(h, nb, metric, tol_m)).collect(),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LocalProjection;
    use geo::polygon;

    #[test]
    fn vertices_snap_to_vertices_then_segments_and_neighbour_vertices_are_inserted() {
        let proj = LocalProjection::new(84.87, 45.6);
        let m = Metric::new(&proj);
        let (dx, dy) = m.deg_of_m(1.0); // degrees per metre
        let at = |x: f64, y: f64| (84.87 + x * dx, 45.6 + y * dy);
        // The neighbour: a 100 m square west of x = 0, with an extra vertex at (0, 50).
        let (a, b, c, d, e) = (at(-100.0, 0.0), at(0.0, 0.0), at(0.0, 50.0), at(0.0, 100.0), at(-100.0, 100.0));
        let west = MultiPolygon(vec![polygon![
            (x: a.0, y: a.1), (x: b.0, y: b.1), (x: c.0, y: c.1), (x: d.0, y: d.1), (x: e.0, y: e.1)
        ]]);
        let mut nb = Neighbours::default();
        nb.add(&west, Rect::new(at(-1000.0, -1000.0), at(1000.0, 1000.0)));
        // The edited grid east of it, drawn 0.3 m off: its west edge lacks the (0, 50) vertex.
        let (p, q, r, s) = (at(0.3, -0.2), at(100.0, 0.0), at(100.0, 100.0), at(-0.3, 99.8));
        let drawn = MultiPolygon(vec![polygon![
            (x: p.0, y: p.1), (x: q.0, y: q.1), (x: r.0, y: r.1), (x: s.0, y: s.1)
        ]]);
        let out = snap_shape(&drawn, &nb, &m, 0.5);
        let ring = &out.0[0].exterior().0;
        assert_eq!(
            ring[0],
            Coord { x: b.0, y: b.1 },
            "(0.3, -0.2) is 0.36 m from vertex (0, 0): snapped onto it exactly"
        );
        assert_eq!(ring[3], Coord { x: d.0, y: d.1 });
        assert_eq!(
            ring[4],
            Coord { x: c.0, y: c.1 },
            "the neighbour's vertex (0, 50) is inserted into the shared edge"
        );
        assert_eq!(ring.len(), 6, "closed ring of five vertices");
        // 2 m off: nothing moves.
        let (p2, s2) = (at(2.0, 0.0), at(2.0, 100.0));
        let far = MultiPolygon(vec![polygon![
            (x: p2.0, y: p2.1), (x: q.0, y: q.1), (x: r.0, y: r.1), (x: s2.0, y: s2.1)
        ]]);
        let out = snap_shape(&far, &nb, &m, 0.5);
        assert_eq!(out, far);
    }
}
