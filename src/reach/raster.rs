//! Raster cells to valid polygons.
//!
//! [`trace`] follows the boundary between marked and unmarked cells, marked cells on the left,
//! so outer rings come out counter-clockwise and holes clockwise (RFC 7946). Marked cells that
//! touch only at a corner belong to different rings (4-connectivity): at such a *pinch* vertex
//! the tracer turns left, hugging the cell it came along, and moves the vertex a thousandth of a
//! cell towards that cell's centre, so that no ring touches itself or another. Every ring is
//! therefore simple, holes lie strictly inside their shell, and the result is a valid
//! (OGC Simple Features) multipolygon, however small: a single cell is a square.

use super::geom::{locate, signed_area2, Loc, P};

/// Directions of boundary edges: east, north, west, south.
const DIRS: [(i64, i64); 4] = [(1, 0), (0, 1), (-1, 0), (0, -1)];
/// How far a pinch vertex moves towards the cell it belongs to, in cells.
const NUDGE: f64 = 1e-3;

/// A polygon in raster units: the exterior ring and its holes, each open (first vertex not
/// repeated). Cell `(i, j)` spans `[i, i + 1] × [j, j + 1]`.
pub(crate) type RasterPolygon = (Vec<P>, Vec<Vec<P>>);

/// Traces the marked cells of a `ni × nj` mask (row-major, `mask[j * ni + i]`).
pub(crate) fn trace(mask: &[bool], ni: usize, nj: usize) -> Vec<RasterPolygon> {
    let at = |i: i64, j: i64| {
        i >= 0 && j >= 0 && (i as usize) < ni && (j as usize) < nj && mask[j as usize * ni + i as usize]
    };
    let vw = ni + 1;
    let vid = |x: i64, y: i64| y as usize * vw + x as usize;
    // Up to two outgoing edges per vertex (two only at a pinch); `u8::MAX` = none.
    let mut out = vec![[u8::MAX; 2]; vw * (nj + 1)];
    let mut edges: Vec<(i64, i64, u8)> = Vec::new();
    let mut add = |x: i64, y: i64, d: u8, out: &mut Vec<[u8; 2]>| {
        let slot = &mut out[vid(x, y)];
        if slot[0] == u8::MAX {
            slot[0] = d;
        } else {
            slot[1] = d;
        }
        edges.push((x, y, d));
    };
    for j in 0..nj as i64 {
        for i in 0..ni as i64 {
            if !at(i, j) {
                continue;
            }
            if !at(i, j - 1) {
                add(i, j, 0, &mut out);
            }
            if !at(i + 1, j) {
                add(i + 1, j, 1, &mut out);
            }
            if !at(i, j + 1) {
                add(i + 1, j + 1, 2, &mut out);
            }
            if !at(i - 1, j) {
                add(i, j + 1, 3, &mut out);
            }
        }
    }
    let mut used = vec![[false; 2]; vw * (nj + 1)];
    let mut rings: Vec<Vec<P>> = Vec::new();
    for &(sx, sy, sd) in &edges {
        let s_slot = usize::from(out[vid(sx, sy)][0] != sd);
        if used[vid(sx, sy)][s_slot] {
            continue;
        }
        let mut ring: Vec<P> = Vec::new();
        let (mut x, mut y, mut d) = (sx, sy, sd);
        let mut slot = s_slot;
        loop {
            used[vid(x, y)][slot] = true;
            let (dx, dy) = DIRS[d as usize];
            let (nx, ny) = (x + dx, y + dy);
            let o = out[vid(nx, ny)];
            // At a pinch, turn left: keep hugging the cell on the left.
            let (next, nslot) = if o[1] != u8::MAX {
                let left = (d + 1) % 4;
                if o[0] == left {
                    (o[0], 0)
                } else {
                    (o[1], 1)
                }
            } else {
                (o[0], 0)
            };
            let (ex, ey) = DIRS[next as usize];
            if o[1] != u8::MAX {
                ring.push([nx as f64 + NUDGE * (ex - dx) as f64, ny as f64 + NUDGE * (ey - dy) as f64]);
            } else if next != d {
                ring.push([nx as f64, ny as f64]);
            }
            x = nx;
            y = ny;
            d = next;
            slot = nslot;
            if used[vid(x, y)][slot] {
                break;
            }
        }
        if ring.len() >= 3 {
            rings.push(ring);
        }
    }
    let (mut shells, holes): (Vec<Vec<P>>, Vec<Vec<P>>) = rings.into_iter().partition(|r| signed_area2(r) > 0.0);
    let areas: Vec<f64> = shells.iter().map(|r| signed_area2(r)).collect();
    let boxes: Vec<[f64; 4]> = shells.iter().map(|r| super::geom::bbox(r)).collect();
    let mut polys: Vec<RasterPolygon> = shells.drain(..).map(|s| (s, Vec::new())).collect();
    for hole in holes {
        // The midpoint of a hole's first edge lies on a cell side that belongs to no other ring.
        let (a, b) = (hole[0], hole[1 % hole.len()]);
        let m = [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5];
        let owner = (0..polys.len())
            .filter(|&k| {
                let bb = &boxes[k];
                m[0] > bb[0] && m[0] < bb[2] && m[1] > bb[1] && m[1] < bb[3] && locate(&polys[k].0, m) == Loc::Inside
            })
            .min_by(|&x, &y| areas[x].total_cmp(&areas[y]));
        if let Some(k) = owner {
            polys[k].1.push(hole);
        }
    }
    polys
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Validation};

    fn to_geo(polys: &[RasterPolygon]) -> geo::MultiPolygon<f64> {
        let ring = |r: &Vec<P>| {
            let mut c: Vec<(f64, f64)> = r.iter().map(|p| (p[0], p[1])).collect();
            c.push(c[0]);
            geo::LineString::from(c)
        };
        geo::MultiPolygon(polys.iter().map(|(s, h)| geo::Polygon::new(ring(s), h.iter().map(ring).collect())).collect())
    }

    fn mask(rows: &[&str]) -> (Vec<bool>, usize, usize) {
        // Rows are written top (north) first.
        let nj = rows.len();
        let ni = rows[0].len();
        let mut m = vec![false; ni * nj];
        for (r, row) in rows.iter().enumerate() {
            for (i, ch) in row.chars().enumerate() {
                m[(nj - 1 - r) * ni + i] = ch == '#';
            }
        }
        (m, ni, nj)
    }

    #[test]
    fn a_single_cell_is_a_valid_square() {
        let (m, ni, nj) = mask(&["#"]);
        let p = to_geo(&trace(&m, ni, nj));
        assert!(p.is_valid(), "{p:?}");
        assert!((p.unsigned_area() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn holes_pinches_and_islands_stay_valid_and_keep_their_area() {
        for rows in [
            vec!["###", "#.#", "###"],
            vec!["#.", ".#"],
            vec!["##.", "#.#", ".##"],
            vec!["#####", "#...#", "#.#.#", "#...#", "#####"],
            vec!["#.#.#", ".#.#.", "#.#.#"],
            vec!["###.", "#.##", "##.#", ".###"],
        ] {
            let (m, ni, nj) = mask(&rows);
            let marked = m.iter().filter(|&&b| b).count() as f64;
            let p = to_geo(&trace(&m, ni, nj));
            assert!(p.is_valid(), "{rows:?}: {:?}", p.validation_errors());
            // Each pinch nudge trims about a thousandth of a cell.
            assert!((p.unsigned_area() - marked).abs() < 0.05, "{rows:?}: {} vs {marked}", p.unsigned_area());
        }
    }
}
