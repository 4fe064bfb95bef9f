//! Reverse geocoding: the building nearest to a point.
//!
//! Buildings are filed in a uniform grid of square cells (local metres) by the centre of their
//! bounding box; the cells are one compact array (counting sort), so building the index is two
//! passes over the buildings. A query visits rings of cells outwards from the point's cell,
//! measuring the exact distance to each footprint (0 inside it), and stops once no building in
//! a farther ring can be nearer: a footprint lies within `max_reach_m` of its centre, so one
//! whose centre is in ring `k` is at least `(k − 1) · cell − max_reach_m` away.

use crate::model::{Building, LocalProjection};

/// The nearest building to a point.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    /// Position in `Dataset::buildings`.
    pub building: usize,
    /// The building's representative point (EPSG:4326).
    pub lon: f64,
    pub lat: f64,
    /// From the point to the footprint, metres (0 inside it).
    pub distance_m: f64,
    /// The building's entrance nearest to the point, if near enough.
    pub entrance: Option<NearestEntrance>,
}

/// An entrance near the point.
#[derive(Debug, Clone, PartialEq)]
pub struct NearestEntrance {
    /// Position in `Dataset::entrances`.
    pub entrance: usize,
    pub distance_m: f64,
}

/// The bucket grid (see the module docs). Coordinates in local metres.
#[derive(Debug, Default)]
pub struct BuildingGrid {
    x0: f64,
    y0: f64,
    cell_m: f64,
    nx: i64,
    ny: i64,
    /// Buildings of cell `i`: `items[start[i]..start[i + 1]]`.
    start: Vec<u32>,
    items: Vec<u32>,
    /// No footprint point is farther than this from its bounding-box centre.
    max_reach_m: f64,
}

/// Distance from `(px, py)` to a polygon in local metres: 0 inside, else to the nearest edge.
fn distance_to_polygon(proj: &LocalProjection, poly: &geo::Polygon<f64>, px: f64, py: f64) -> f64 {
    let mut inside = false;
    let mut best = f64::INFINITY;
    for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
        let pts = &ring.0;
        if pts.len() < 2 {
            continue;
        }
        let mut prev = proj.to_local(pts[pts.len() - 1].x, pts[pts.len() - 1].y);
        for c in pts {
            let cur = proj.to_local(c.x, c.y);
            let ((ax, ay), (bx, by)) = (prev, cur);
            // Even-odd crossing test (holes flip it back).
            if (ay > py) != (by > py) && px < ax + (py - ay) * (bx - ax) / (by - ay) {
                inside = !inside;
            }
            let (dx, dy) = (bx - ax, by - ay);
            let len2 = dx * dx + dy * dy;
            let t = if len2 > 0.0 { (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
            best = best.min((ax + t * dx - px).hypot(ay + t * dy - py));
            prev = cur;
        }
    }
    if inside {
        0.0
    } else {
        best
    }
}

impl BuildingGrid {
    /// Files `buildings` (EPSG:4326 footprints); returns the grid and the local projection it
    /// uses (`None` when there are no buildings).
    pub fn build(buildings: &[Building]) -> (BuildingGrid, Option<LocalProjection>) {
        let boxes: Vec<Option<(f64, f64, f64, f64)>> = buildings
            .iter()
            .map(|b| {
                let pts = &b.geometry.exterior().0;
                let first = pts.first()?;
                Some(pts.iter().fold((first.x, first.y, first.x, first.y), |(a, b, c, d), p| {
                    (a.min(p.x), b.min(p.y), c.max(p.x), d.max(p.y))
                }))
            })
            .collect();
        let Some(all) =
            boxes.iter().flatten().copied().reduce(|a, b| (a.0.min(b.0), a.1.min(b.1), a.2.max(b.2), a.3.max(b.3)))
        else {
            return (BuildingGrid::default(), None);
        };
        let proj = LocalProjection::new((all.0 + all.2) / 2.0, (all.1 + all.3) / 2.0);
        let (x0, y0) = proj.to_local(all.0, all.1);
        let (x1, y1) = proj.to_local(all.2, all.3);
        let n = boxes.len().max(1) as f64;
        // About two buildings a cell, but never more cells than four per building.
        let area = ((x1 - x0) * (y1 - y0)).max(1.0);
        let cell_m = (area / n * 2.0).sqrt().max((area / (4.0 * n)).sqrt()).clamp(25.0, 2000.0);
        let nx = ((x1 - x0) / cell_m).floor() as i64 + 1;
        let ny = ((y1 - y0) / cell_m).floor() as i64 + 1;
        let mut max_reach_m: f64 = 0.0;
        let cells: Vec<Option<usize>> = boxes
            .iter()
            .map(|b| {
                let (a, b, c, d) = (*b)?;
                let (ax, ay) = proj.to_local(a, b);
                let (cx, cy) = proj.to_local(c, d);
                max_reach_m = max_reach_m.max((cx - ax).hypot(cy - ay) / 2.0);
                let (mx, my) = ((ax + cx) / 2.0, (ay + cy) / 2.0);
                let i = (((mx - x0) / cell_m) as i64).clamp(0, nx - 1);
                let j = (((my - y0) / cell_m) as i64).clamp(0, ny - 1);
                Some((j * nx + i) as usize)
            })
            .collect();
        let mut start = vec![0u32; (nx * ny) as usize + 1];
        for c in cells.iter().flatten() {
            start[c + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut fill = start.clone();
        let mut items = vec![0u32; start[start.len() - 1] as usize];
        for (b, c) in cells.iter().enumerate() {
            if let Some(c) = *c {
                items[fill[c] as usize] = b as u32;
                fill[c] += 1;
            }
        }
        (BuildingGrid { x0, y0, cell_m, nx, ny, start, items, max_reach_m }, Some(proj))
    }

    /// The building nearest to `(x, y)` (local metres of `proj`) within `radius_m` of its
    /// footprint: `(position, distance in metres)`. Ties go to the lower position.
    pub fn nearest(
        &self,
        buildings: &[Building],
        proj: &LocalProjection,
        x: f64,
        y: f64,
        radius_m: f64,
    ) -> Option<(u32, f64)> {
        if self.items.is_empty() {
            return None;
        }
        let ci = ((x - self.x0) / self.cell_m).floor() as i64;
        let cj = ((y - self.y0) / self.cell_m).floor() as i64;
        // Rings before the grid's edge is within reach hold nothing: start there.
        let gap_i = if ci < 0 { -ci } else { (ci - self.nx + 1).max(0) };
        let gap_j = if cj < 0 { -cj } else { (cj - self.ny + 1).max(0) };
        let first = gap_i.max(gap_j);
        if ((first - 1).max(0) as f64) * self.cell_m - self.max_reach_m > radius_m {
            return None;
        }
        let last = first + ((radius_m + self.max_reach_m) / self.cell_m).ceil() as i64 + 1;
        let mut best: Option<(u32, f64)> = None;
        for ring in first..=last {
            let bound = ((ring - 1).max(0) as f64) * self.cell_m - self.max_reach_m;
            if best.is_some_and(|(_, d)| d <= bound) || bound > radius_m {
                break;
            }
            let mut visit = |i: i64, j: i64| {
                if i < 0 || j < 0 || i >= self.nx || j >= self.ny {
                    return;
                }
                let c = (j * self.nx + i) as usize;
                for &b in &self.items[self.start[c] as usize..self.start[c + 1] as usize] {
                    let d = distance_to_polygon(proj, &buildings[b as usize].geometry, x, y);
                    if d <= radius_m && best.is_none_or(|(bb, bd)| d < bd || (d == bd && b < bb)) {
                        best = Some((b, d));
                    }
                }
            };
            if ring == 0 {
                visit(ci, cj);
                continue;
            }
            for i in ci - ring..=ci + ring {
                visit(i, cj - ring);
                visit(i, cj + ring);
            }
            for j in cj - ring + 1..cj + ring {
                visit(ci - ring, j);
                visit(ci + ring, j);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_zero_inside_and_to_the_edge_outside() {
        let proj = LocalProjection::new(0.0, 0.0);
        let d = 0.001; // about 111 m
        let sq =
            geo::Polygon::new(geo::LineString::from(vec![(0.0, 0.0), (d, 0.0), (d, d), (0.0, d), (0.0, 0.0)]), vec![]);
        let (cx, cy) = proj.to_local(d / 2.0, d / 2.0);
        assert_eq!(distance_to_polygon(&proj, &sq, cx, cy), 0.0);
        let (ox, oy) = proj.to_local(2.0 * d, d / 2.0);
        let (ex, _) = proj.to_local(d, 0.0);
        assert!((distance_to_polygon(&proj, &sq, ox, oy) - (ox - ex)).abs() < 1e-6);
    }
}
