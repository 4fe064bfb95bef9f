//! Geometry helpers shared by the edit rules, snapping, split and merge.
//!
//! Every shape stays in EPSG:4326 degrees (lon, lat) throughout an edit, so that vertices shared
//! with neighbouring grids stay bit-for-bit identical. Measures are taken in metres through the
//! snapshot's [`LocalProjection`]: it is an equirectangular (affine) map, so an area in square
//! degrees times `m_per_deg_lon * m_per_deg_lat` *is* the area in the local plane, and a
//! distance is the length of the difference vector scaled per axis.
//!
//! Boolean operations (geo's `BooleanOps`, i.e. i_overlay) snap their output to an internal
//! integer grid, so an output vertex may differ from the input vertex it came from by ~1e-11°.
//! [`restore_vertices`] puts the exact input coordinates back, so that a merged or split grid
//! still shares its vertices exactly with its neighbours.

use geo::orient::{Direction, Orient};
use geo::{unary_union, Area, BoundingRect, Coord, InteriorPoint, LineString, MultiPolygon, Point, Polygon, Rect};

use crate::model::{Building, LocalProjection};

/// Overlaps, gaps and parts outside smaller than this (per connected piece) are numerical noise
/// and are not reported (square metres).
pub const AREA_TOLERANCE_M2: f64 = 1.0;

/// Output vertices of a boolean operation this close to an input vertex get the input vertex's
/// exact coordinates back (degrees; about 1 mm).
const RESTORE_EPS_DEG: f64 = 1e-8;

/// The union of `shapes`, whatever the direction of their rings. geo's `unary_union` adds up
/// winding numbers, so a clockwise shell counts as a hole: a grid whose rings run clockwise (as
/// PostGIS's `ST_Union` and some QGIS tools write them, and as RFC 7946 readers must accept)
/// would cancel a neighbour, or vanish, from the union. Each shape is oriented first (shells
/// counter-clockwise, holes clockwise). geo's two-shape `BooleanOps` do not need this.
pub fn union_all<'a>(shapes: impl IntoIterator<Item = &'a MultiPolygon<f64>>) -> MultiPolygon<f64> {
    let oriented: Vec<MultiPolygon<f64>> = shapes.into_iter().map(|mp| mp.orient(Direction::Default)).collect();
    unary_union(&oriented)
}

/// Metric measures on EPSG:4326 coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    kx: f64,
    ky: f64,
    proj: LocalProjection,
}

impl Metric {
    /// Measures in the local plane of `proj`.
    pub fn new(proj: &LocalProjection) -> Metric {
        let (kx, ky) = proj.scale();
        Metric { kx, ky, proj: *proj }
    }

    /// Area in square metres.
    pub fn area_m2(&self, mp: &MultiPolygon<f64>) -> f64 {
        mp.unsigned_area() * self.kx * self.ky
    }

    /// Area of one polygon in square metres.
    pub fn polygon_area_m2(&self, p: &Polygon<f64>) -> f64 {
        p.unsigned_area() * self.kx * self.ky
    }

    /// Distance in metres between two points given in degrees.
    pub fn dist_m(&self, a: Coord<f64>, b: Coord<f64>) -> f64 {
        ((a.x - b.x) * self.kx).hypot((a.y - b.y) * self.ky)
    }

    /// The point (degrees) to local metres.
    pub fn to_m(&self, c: Coord<f64>) -> (f64, f64) {
        self.proj.to_local(c.x, c.y)
    }

    /// The closest point of segment `a`–`b` to `p`: (distance in metres, parameter t in [0, 1],
    /// the point in degrees).
    pub fn closest_on_segment(&self, p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> (f64, f64, Coord<f64>) {
        let (dx, dy) = ((b.x - a.x) * self.kx, (b.y - a.y) * self.ky);
        let (px, py) = ((p.x - a.x) * self.kx, (p.y - a.y) * self.ky);
        let len2 = dx * dx + dy * dy;
        let t = if len2 > 0.0 { ((px * dx + py * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
        let q = Coord { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t };
        (self.dist_m(p, q), t, q)
    }

    /// Degrees that `m` metres span along x and y (for expanding boxes).
    pub fn deg_of_m(&self, m: f64) -> (f64, f64) {
        (m / self.kx, m / self.ky)
    }
}

/// Keeps the polygons of `mp` whose area reaches `min_m2`.
pub fn significant(mp: MultiPolygon<f64>, metric: &Metric, min_m2: f64) -> MultiPolygon<f64> {
    MultiPolygon(mp.0.into_iter().filter(|p| metric.polygon_area_m2(p) >= min_m2).collect())
}

/// The point by which a building is counted in a grid (its interior point; the first vertex
/// for a degenerate footprint). The same point is used before and after an edit.
pub fn building_point(b: &Building) -> Option<Point<f64>> {
    b.geometry.interior_point().or_else(|| b.geometry.exterior().0.first().map(|&c| Point(c)))
}

/// The representative point of a region (interior point), for numbering order.
pub fn representative_point(mp: &MultiPolygon<f64>) -> Option<Point<f64>> {
    mp.interior_point()
}

/// Bounding box of several shapes.
pub fn bbox_of<'a>(shapes: impl IntoIterator<Item = &'a MultiPolygon<f64>>) -> Option<Rect<f64>> {
    shapes.into_iter().filter_map(|m| m.bounding_rect()).reduce(|a, b| {
        Rect::new(
            (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
            (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
        )
    })
}

/// `r` grown by `dx`, `dy` degrees on every side.
pub fn expand(r: Rect<f64>, dx: f64, dy: f64) -> Rect<f64> {
    Rect::new((r.min().x - dx, r.min().y - dy), (r.max().x + dx, r.max().y + dy))
}

/// Every vertex of the shapes (closing vertices included once per ring).
pub fn vertices<'a>(shapes: impl IntoIterator<Item = &'a MultiPolygon<f64>>) -> Vec<Coord<f64>> {
    let mut out = Vec::new();
    for mp in shapes {
        for p in &mp.0 {
            for r in std::iter::once(p.exterior()).chain(p.interiors()) {
                out.extend(r.0.iter().copied());
            }
        }
    }
    out
}

/// Replaces each vertex of `mp` that lies within ~1 mm of one of `originals` by that original
/// vertex, exactly. Consecutive duplicates that result are removed.
pub fn restore_vertices(mp: MultiPolygon<f64>, originals: &[Coord<f64>]) -> MultiPolygon<f64> {
    let mut sorted: Vec<Coord<f64>> = originals.to_vec();
    sorted.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    let find = |c: Coord<f64>| -> Coord<f64> {
        let start = sorted.partition_point(|o| o.x < c.x - RESTORE_EPS_DEG);
        let mut best: Option<(f64, Coord<f64>)> = None;
        for o in &sorted[start..] {
            if o.x > c.x + RESTORE_EPS_DEG {
                break;
            }
            let d = (o.x - c.x).abs().max((o.y - c.y).abs());
            if d <= RESTORE_EPS_DEG && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, *o));
            }
        }
        best.map_or(c, |(_, o)| o)
    };
    let ring = |ls: &LineString<f64>| -> LineString<f64> {
        let mut v: Vec<Coord<f64>> = Vec::with_capacity(ls.0.len());
        for &c in &ls.0 {
            let c = find(c);
            if v.last() != Some(&c) {
                v.push(c);
            }
        }
        LineString(v)
    };
    MultiPolygon(
        mp.0.iter().map(|p| Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn area_in_square_metres_matches_the_projection() {
        let proj = LocalProjection::new(84.87, 45.6);
        let m = Metric::new(&proj);
        let (dx, dy) = m.deg_of_m(100.0);
        let sq = MultiPolygon(vec![polygon![
            (x: 84.87, y: 45.6), (x: 84.87 + dx, y: 45.6), (x: 84.87 + dx, y: 45.6 + dy), (x: 84.87, y: 45.6 + dy)
        ]]);
        assert!((m.area_m2(&sq) - 10_000.0).abs() < 1e-6, "a 100 m square has 10,000 m²");
        let (d, t, _) = m.closest_on_segment(
            Coord { x: 84.87, y: 45.6 + dy },
            Coord { x: 84.87, y: 45.6 },
            Coord { x: 84.87 + dx, y: 45.6 },
        );
        assert!((d - 100.0).abs() < 1e-6 && t == 0.0);
    }

    #[test]
    fn restore_puts_exact_vertices_back() {
        let orig = [Coord { x: 84.1234567, y: 45.7654321 }];
        let noisy = MultiPolygon(vec![polygon![
            (x: 84.1234567 + 3e-12, y: 45.7654321 - 2e-12), (x: 84.2, y: 45.7), (x: 84.2, y: 45.8)
        ]]);
        let back = restore_vertices(noisy, &orig);
        assert_eq!(back.0[0].exterior().0[0], orig[0]);
        assert_eq!(back.0[0].exterior().0[1], Coord { x: 84.2, y: 45.7 }, "other vertices are untouched");
    }
}
