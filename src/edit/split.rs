//! Cutting a grid in parts along a line.
//!
//! The line (EPSG:4326) must cross the grid completely: every stretch of it inside the grid must
//! run from the boundary to the boundary, so that the grid falls apart in two or more parts.
//! The cut is done by i_overlay's polygon slicing (the engine behind geo's boolean operations);
//! its output vertices are put back on the exact input coordinates, so each part shares its
//! outer vertices bit for bit with the neighbours (only the new points where the line meets the
//! boundary are computed). A multi-polygon grid is sliced as a whole; each resulting polygon is
//! one part (an untouched island becomes a part of its own).

use geo::{Coord, LineString, MultiPolygon, Polygon};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::float::slice::FloatSlice;

use super::geom::{restore_vertices, vertices, Metric, AREA_TOLERANCE_M2};
use super::EditError;
use crate::index::pip::{claims, edges_of};
use crate::model::Code;

fn open_ring(ls: &LineString<f64>) -> Vec<[f64; 2]> {
    let mut v: Vec<[f64; 2]> = ls.0.iter().map(|c| [c.x, c.y]).collect();
    if v.len() > 1 && v.first() == v.last() {
        v.pop();
    }
    v
}

fn closed(path: &[[f64; 2]]) -> LineString<f64> {
    let mut v: Vec<Coord<f64>> = path.iter().map(|p| Coord { x: p[0], y: p[1] }).collect();
    if let Some(&f) = v.first() {
        v.push(f);
    }
    LineString(v)
}

/// Checks the line's coordinates.
pub fn check_line(code: &Code, line: &LineString<f64>) -> Result<(), EditError> {
    if line.0.len() < 2 {
        return Err(EditError::Invalid(format!(
            "the split line for grid {code} needs at least 2 positions, it has {}",
            line.0.len()
        )));
    }
    for (i, c) in line.0.iter().enumerate() {
        crate::model::crs::check_lon_lat(c.x, c.y)
            .map_err(|m| EditError::Invalid(format!("split line, position {i}: {m}")))?;
    }
    Ok(())
}

/// The parts of `grid` cut along `line`, each a one-polygon multipolygon, in no particular order.
pub fn cut(
    code: &Code,
    grid: &MultiPolygon<f64>,
    line: &LineString<f64>,
    metric: &Metric,
) -> Result<Vec<MultiPolygon<f64>>, EditError> {
    check_line(code, line)?;
    let shapes: Vec<Vec<Vec<[f64; 2]>>> =
        grid.0.iter().map(|p| std::iter::once(p.exterior()).chain(p.interiors()).map(open_ring).collect()).collect();
    let path: Vec<[f64; 2]> = line.0.iter().map(|c| [c.x, c.y]).collect();
    let sliced = shapes.slice_by(&path, FillRule::EvenOdd);
    let mut originals = vertices([grid]);
    originals.extend(line.0.iter().copied());
    let parts: Vec<MultiPolygon<f64>> = sliced
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut rings = s.iter().map(|r| closed(r));
            let exterior = rings.next().unwrap_or_else(|| LineString(vec![]));
            restore_vertices(MultiPolygon(vec![Polygon::new(exterior, rings.collect())]), &originals)
        })
        .collect();
    if parts.len() < 2 {
        let edges = edges_of(grid);
        let inside = |c: &Coord<f64>| claims(&edges, c.x, c.y);
        let (first, last) = (line.0[0], line.0[line.0.len() - 1]);
        let why = match (inside(&first), inside(&last)) {
            (true, true) => "both of its ends lie inside the grid",
            (true, false) => "it starts inside the grid",
            (false, true) => "it ends inside the grid",
            (false, false) => "it does not cross the grid from one side of its boundary to another",
        };
        return Err(EditError::Invalid(format!(
            "the split line does not cut grid {code} in two: {why}; draw it across the whole grid, \
             starting and ending outside it"
        )));
    }
    for p in &parts {
        let a = metric.area_m2(p);
        if a < AREA_TOLERANCE_M2 * 10.0 {
            return Err(EditError::Invalid(format!(
                "the split line cuts off a sliver of {a:.1} m² from grid {code}; draw it clear of the boundary"
            )));
        }
    }
    Ok(parts)
}
