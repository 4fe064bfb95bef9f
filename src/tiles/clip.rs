//! From EPSG:4326 geometry to MVT geometry of one tile: project, clip, simplify, snap.
//!
//! The pipeline for a polygon, ring by ring:
//!
//! 1. **Project** to tile units (float, y down) with [`TileId::project`].
//! 2. **Clip** to the tile grown by [`BUFFER`] (less half a unit, see `ClipBox::new`). A ring
//!    wholly inside is kept as is. A ring that
//!    leaves the box once (one run of outside vertices, no outside edge cutting across the box)
//!    is clipped with Sutherland–Hodgman, which is exact and valid in that case. Anything else
//!    (a concave ring entering the box several times, a clipped hole) goes through a real
//!    polygon intersection (`geo::BooleanOps`), because Sutherland–Hodgman would join the pieces
//!    with zero-width bridges along the box edge, which is not a valid polygon.
//! 3. **Simplify** with Douglas–Peucker at `tolerance` tile units (only below
//!    [`super::layers::FULL_DETAIL_ZOOM`]; the caller chooses).
//! 4. **Snap** to integers, drop points that add nothing (repeats, straight runs, spikes out
//!    and back along a line), drop rings that collapsed to no area, and orient rings as MVT wants (exterior positive area in the spec's
//!    formula, holes negative).
//! 5. If simplification removed points, check the result with `geo::Validation`; if it is not
//!    valid, fall back to the unsimplified ring (valid input stays valid through steps 1, 2, 4
//!    at the zooms and sizes gridmap serves).
//!
//! Points are projected, snapped and kept when inside the buffered box.

use geo::{BooleanOps, Coord, LineString, MultiPolygon, Point, Polygon, Simplify, Validation};

use super::mercator::{TileId, BUFFER, EXTENT};
use super::mvt::{ring_area, GeometryEncoder};

type P = (f64, f64);

/// The clip box in tile units: the tile grown by [`BUFFER`].
#[derive(Debug, Clone, Copy)]
struct ClipBox {
    min: f64,
    max: f64,
}

impl ClipBox {
    /// Half a unit inside the buffer's edge: cut points then snap onto the edge itself
    /// (`round` takes -127.5 to -128), while every vertex that was not cut snaps strictly
    /// inside it, so snapping cannot make a ring touch the cut edge.
    fn new() -> ClipBox {
        ClipBox { min: 0.5 - f64::from(BUFFER), max: f64::from(EXTENT + BUFFER) - 0.5 }
    }

    /// Puts a coordinate that a polygon intersection left a hair off the box's edge back on it.
    fn onto_edge(&self, v: f64) -> f64 {
        if (v - self.min).abs() < 0.01 {
            self.min
        } else if (v - self.max).abs() < 0.01 {
            self.max
        } else {
            v
        }
    }

    #[inline]
    fn contains(&self, p: P) -> bool {
        p.0 >= self.min && p.0 <= self.max && p.1 >= self.min && p.1 <= self.max
    }

    /// Whether segment a-b passes through the box's interior (Liang–Barsky).
    fn segment_crosses(&self, a: P, b: P) -> bool {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [(-dx, a.0 - self.min), (dx, self.max - a.0), (-dy, a.1 - self.min), (dy, self.max - a.1)] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
                if t0 > t1 {
                    return false;
                }
            }
        }
        true
    }

    fn polygon(&self) -> Polygon<f64> {
        let (a, b) = (self.min, self.max);
        Polygon::new(LineString::from(vec![(a, a), (b, a), (b, b), (a, b), (a, a)]), vec![])
    }
}

/// Sutherland–Hodgman against one edge of the box. `inside(p)` and `cut(a, b)` describe it.
fn clip_edge(ring: &[P], inside: impl Fn(P) -> bool, cut: impl Fn(P, P) -> P) -> Vec<P> {
    let mut out = Vec::with_capacity(ring.len() + 4);
    let Some(&last) = ring.last() else { return out };
    let mut prev = last;
    for &cur in ring {
        match (inside(prev), inside(cur)) {
            (true, true) => out.push(cur),
            (true, false) => out.push(cut(prev, cur)),
            (false, true) => {
                out.push(cut(prev, cur));
                out.push(cur);
            }
            (false, false) => {}
        }
        prev = cur;
    }
    out
}

fn sutherland_hodgman(ring: &[P], b: ClipBox) -> Vec<P> {
    let x_at = |a: P, c: P, x: f64| (x, a.1 + (c.1 - a.1) * (x - a.0) / (c.0 - a.0));
    let y_at = |a: P, c: P, y: f64| (a.0 + (c.0 - a.0) * (y - a.1) / (c.1 - a.1), y);
    let r = clip_edge(ring, |p| p.0 >= b.min, |a, c| x_at(a, c, b.min));
    let r = clip_edge(&r, |p| p.0 <= b.max, |a, c| x_at(a, c, b.max));
    let r = clip_edge(&r, |p| p.1 >= b.min, |a, c| y_at(a, c, b.min));
    clip_edge(&r, |p| p.1 <= b.max, |a, c| y_at(a, c, b.max))
}

/// How a projected ring relates to the clip box.
enum RingClip {
    /// Wholly inside: keep it.
    Inside,
    /// Wholly outside and not around the box: drop it.
    Outside,
    /// Clipped exactly by Sutherland–Hodgman.
    Clipped(Vec<P>),
    /// Needs a real polygon intersection.
    Complex,
}

fn clip_ring(ring: &[P], b: ClipBox) -> RingClip {
    // Most rings of a tile lie wholly inside it: answer those without allocating.
    if ring.iter().all(|&p| b.contains(p)) {
        return RingClip::Inside;
    }
    let n = ring.len();
    let inside: Vec<bool> = ring.iter().map(|&p| b.contains(p)).collect();
    // Runs of outside vertices, counted around the ring; and outside edges that cut the box.
    let mut runs = 0;
    let mut cutting = false;
    for i in 0..n {
        let j = (i + 1) % n;
        if !inside[j] && inside[i] {
            runs += 1;
        }
        if !inside[i] && !inside[j] && b.segment_crosses(ring[i], ring[j]) {
            cutting = true;
        }
    }
    if cutting || runs > 1 {
        return RingClip::Complex;
    }
    let clipped = sutherland_hodgman(ring, b);
    if clipped.len() < 3 {
        return RingClip::Outside;
    }
    if runs == 0 {
        // Every vertex outside and no edge through the box: the ring either surrounds the box
        // (Sutherland–Hodgman gave the box itself) or misses it (it gave a degenerate ring).
        return if ring_area_f(&clipped).abs() > 0.0 { RingClip::Clipped(clipped) } else { RingClip::Outside };
    }
    RingClip::Clipped(clipped)
}

fn ring_area_f(r: &[P]) -> f64 {
    let n = r.len();
    (0..n).map(|i| r[i].0 * r[(i + 1) % n].1 - r[(i + 1) % n].0 * r[i].1).sum()
}

/// Whether `b` adds nothing between `a` and `c`: the three are collinear (this covers
/// repeated points, straight runs and spikes that go out and back along one line, such as the
/// corner Sutherland–Hodgman adds when a ring passes the box's corner outside it).
fn redundant(a: (i32, i32), b: (i32, i32), c: (i32, i32)) -> bool {
    let (ux, uy) = (i64::from(b.0 - a.0), i64::from(b.1 - a.1));
    let (vx, vy) = (i64::from(c.0 - b.0), i64::from(c.1 - b.1));
    ux * vy - uy * vx == 0
}

/// Snaps to integers and removes points that add nothing (see [`redundant`]); `None` when
/// nothing with area is left.
fn snap_ring(ring: &[P]) -> Option<Vec<(i32, i32)>> {
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(ring.len());
    for &(x, y) in ring {
        let p = (x.round() as i32, y.round() as i32);
        while out.len() >= 2 && redundant(out[out.len() - 2], out[out.len() - 1], p) {
            out.pop();
        }
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    // The same across the seam between the last point and the first.
    loop {
        let n = out.len();
        if n < 3 {
            return None;
        }
        if out[0] == out[n - 1] || redundant(out[n - 2], out[n - 1], out[0]) {
            out.pop();
        } else if redundant(out[n - 1], out[0], out[1]) {
            out.remove(0);
        } else {
            break;
        }
    }
    (ring_area(&out) != 0).then_some(out)
}

/// Douglas–Peucker on a closed ring (the first point stays). Returns the input when
/// simplifying would leave fewer than three points.
fn simplify_ring(ring: &[P], tolerance: f64) -> Vec<P> {
    if tolerance <= 0.0 || ring.len() <= 4 {
        return ring.to_vec();
    }
    let mut coords: Vec<Coord<f64>> = ring.iter().map(|&(x, y)| Coord { x, y }).collect();
    coords.push(coords[0]);
    let simplified = LineString::new(coords).simplify(tolerance);
    if simplified.0.len() < 4 {
        return ring.to_vec();
    }
    let n = simplified.0.len() - 1;
    simplified.0[..n].iter().map(|c| (c.x, c.y)).collect()
}

/// A polygon's rings in tile units, ready to write: exteriors then their holes.
type TilePolygon = Vec<Vec<(i32, i32)>>;

fn orient(mut ring: Vec<(i32, i32)>, exterior: bool) -> Vec<(i32, i32)> {
    if (ring_area(&ring) > 0) != exterior {
        ring.reverse();
    }
    ring
}

fn to_geo(poly: &[Vec<(i32, i32)>]) -> Polygon<f64> {
    let ring = |r: &Vec<(i32, i32)>| {
        let mut c: Vec<Coord<f64>> = r.iter().map(|&(x, y)| Coord { x: f64::from(x), y: f64::from(y) }).collect();
        c.push(c[0]);
        LineString::new(c)
    };
    Polygon::new(ring(&poly[0]), poly[1..].iter().map(ring).collect())
}

/// Simplifies and snaps one clipped polygon (exterior and holes in tile floats).
fn finish_polygon(exterior: &[P], holes: &[Vec<P>], tolerance: f64) -> Option<TilePolygon> {
    let ring = |r: &[P], tol: f64| if tol > 0.0 { snap_ring(&simplify_ring(r, tol)) } else { snap_ring(r) };
    let build = |tol: f64| -> Option<TilePolygon> {
        let mut rings = vec![orient(ring(exterior, tol)?, true)];
        rings.extend(holes.iter().filter_map(|h| ring(h, tol)).map(|h| orient(h, false)));
        Some(rings)
    };
    let exact = || build(0.0);
    if tolerance <= 0.0 {
        return exact();
    }
    let simplified = build(tolerance)?;
    let points = |p: &TilePolygon| p.iter().map(Vec::len).sum::<usize>();
    let full = exact()?;
    if points(&simplified) == points(&full) {
        return Some(full);
    }
    // Douglas–Peucker can make a ring cross itself or a hole; keep it only if still valid.
    if to_geo(&simplified).is_valid() {
        Some(simplified)
    } else {
        Some(full)
    }
}

fn project_ring(tile: TileId, ls: &LineString<f64>) -> Vec<P> {
    let c = &ls.0;
    // GeoJSON rings repeat their first point at the end; MVT rings do not.
    let n = if c.len() > 1 && c[0] == c[c.len() - 1] { c.len() - 1 } else { c.len() };
    c[..n].iter().map(|p| tile.project(p.x, p.y)).collect()
}

/// Writes a (multi)polygon's clipped, simplified parts into `enc`. Returns whether anything
/// was written.
pub fn polygons(tile: TileId, parts: &[Polygon<f64>], tolerance: f64, enc: &mut GeometryEncoder) -> bool {
    let b = ClipBox::new();
    let mut wrote = false;
    for poly in parts {
        let mut exterior = project_ring(tile, poly.exterior());
        if exterior.len() < 3 {
            continue;
        }
        let holes: Vec<Vec<P>> = poly.interiors().iter().map(|h| project_ring(tile, h)).collect();
        let mut pieces: Vec<(Vec<P>, Vec<Vec<P>>)> = Vec::new();
        let mut complex = false;
        let ext = match clip_ring(&exterior, b) {
            RingClip::Outside => continue,
            RingClip::Complex => {
                complex = true;
                None
            }
            // Moved out when no hole can send us down the intersection path, which needs it.
            RingClip::Inside if holes.is_empty() => Some(std::mem::take(&mut exterior)),
            RingClip::Inside => Some(exterior.clone()),
            RingClip::Clipped(r) => Some(r),
        };
        if let Some(ext) = ext {
            let mut kept_holes = Vec::new();
            for h in &holes {
                match clip_ring(h, b) {
                    RingClip::Inside => kept_holes.push(h.clone()),
                    RingClip::Outside => {}
                    // A clipped hole becomes part of the outline: let the real
                    // intersection work it out.
                    RingClip::Clipped(_) | RingClip::Complex => complex = true,
                }
            }
            if !complex {
                pieces.push((ext, kept_holes));
            }
        }
        if complex {
            let to_ls = |r: &Vec<P>| {
                let mut c: Vec<Coord<f64>> = r.iter().map(|&(x, y)| Coord { x, y }).collect();
                c.push(c[0]);
                LineString::new(c)
            };
            let projected = Polygon::new(to_ls(&exterior), holes.iter().map(to_ls).collect());
            let MultiPolygon(clipped) = projected.intersection(&b.polygon());
            for p in clipped {
                let strip = |ls: &LineString<f64>| -> Vec<P> {
                    let c = &ls.0;
                    let n = if c.len() > 1 && c[0] == c[c.len() - 1] { c.len() - 1 } else { c.len() };
                    c[..n].iter().map(|c| (b.onto_edge(c.x), b.onto_edge(c.y))).collect()
                };
                pieces.push((strip(p.exterior()), p.interiors().iter().map(strip).collect()));
            }
        }
        for (ext, hs) in pieces {
            if let Some(rings) = finish_polygon(&ext, &hs, tolerance) {
                for r in &rings {
                    enc.ring(r);
                }
                wrote = true;
            }
        }
    }
    wrote
}

/// Writes a point if it lies inside the buffered tile. Returns whether it did.
pub fn point(tile: TileId, p: Point<f64>, enc: &mut GeometryEncoder) -> bool {
    let (x, y) = tile.project(p.x(), p.y());
    if !ClipBox::new().contains((x, y)) {
        return false;
    }
    enc.point((x.round() as i32, y.round() as i32));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::mvt::{decode, GeomType, LayerWriter, TileWriter};

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<P> {
        vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    }

    /// Encodes tile-unit polygons through the pipeline by unprojecting them first.
    fn through(rings: &[Vec<P>], tolerance: f64) -> Vec<Vec<(i32, i32)>> {
        let tile = TileId::new(14, 12055, 5800).unwrap();
        let ls = |r: &Vec<P>| {
            let mut c: Vec<Coord<f64>> = r
                .iter()
                .map(|&(x, y)| {
                    let (lon, lat) = tile.unproject(x, y);
                    Coord { x: lon, y: lat }
                })
                .collect();
            c.push(c[0]);
            LineString::new(c)
        };
        let poly = Polygon::new(ls(&rings[0]), rings[1..].iter().map(ls).collect());
        let mut enc = GeometryEncoder::new();
        polygons(tile, &[poly], tolerance, &mut enc);
        let mut layer = LayerWriter::new("t", EXTENT);
        layer.add(None, GeomType::Polygon, &enc.finish(), &[]);
        let mut t = TileWriter::new();
        t.add_layer(&layer);
        decode(&t.finish()).unwrap().first().map(|l| l.features[0].parts.clone()).unwrap_or_default()
    }

    #[test]
    fn a_ring_inside_is_kept_exactly_and_oriented_for_mvt() {
        // Counter-clockwise on screen: must come out clockwise (positive spec area).
        let parts = through(&[vec![(100.0, 100.0), (100.0, 300.0), (300.0, 300.0), (300.0, 100.0)]], 0.0);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].len(), 4);
        assert!(ring_area(&parts[0]) > 0, "exterior rings have positive area: {parts:?}");
    }

    #[test]
    fn a_ring_crossing_one_edge_is_cut_at_the_buffer() {
        let parts = through(&[square(4000.0, 100.0, 5000.0, 200.0)], 0.0);
        let max_x = parts[0].iter().map(|p| p.0).max().unwrap();
        assert_eq!(max_x, (EXTENT + BUFFER) as i32, "cut at the buffer edge: {parts:?}");
        assert!(to_geo(&parts).is_valid());
    }

    #[test]
    fn a_u_shape_entering_twice_is_split_into_two_valid_parts() {
        // A U whose arms reach into the tile from above the buffer, joined outside it.
        let u = vec![
            (100.0, -500.0),
            (1000.0, -500.0),
            (1000.0, 400.0),
            (800.0, 400.0),
            (800.0, -400.0),
            (300.0, -400.0),
            (300.0, 400.0),
            (100.0, 400.0),
        ];
        let parts = through(&[u], 0.0);
        assert_eq!(parts.len(), 2, "two separate arms, no bridge along the buffer edge: {parts:?}");
        for p in &parts {
            assert!(ring_area(p) > 0);
            assert!(to_geo(std::slice::from_ref(p)).is_valid(), "{p:?}");
        }
    }

    #[test]
    fn a_polygon_around_the_tile_becomes_the_buffered_box() {
        let parts = through(&[square(-10_000.0, -10_000.0, 20_000.0, 20_000.0)], 0.0);
        assert_eq!(parts.len(), 1);
        assert_eq!(ring_area(&parts[0]), 2 * i64::from(EXTENT + 2 * BUFFER).pow(2));
    }

    #[test]
    fn a_hole_cut_by_the_buffer_opens_into_the_outline() {
        let outer = square(-1000.0, 1000.0, 5000.0, 3000.0);
        let hole: Vec<P> = square(3800.0, 1500.0, 4600.0, 2500.0).into_iter().rev().collect();
        let parts = through(&[outer, hole], 0.0);
        assert!(to_geo(&parts[..1]).is_valid(), "one valid outline with a notch: {parts:?}");
    }

    #[test]
    fn simplification_keeps_polygons_valid_and_close() {
        // A zig-zag edge with 1-unit teeth disappears at tolerance 4; the polygon stays valid.
        let mut ring: Vec<P> = (0..=100).map(|i| (f64::from(i) * 20.0, if i % 2 == 0 { 0.0 } else { 1.0 })).collect();
        ring.extend([(2000.0, 2000.0), (0.0, 2000.0)]);
        let parts = through(&[ring.clone()], 4.0);
        assert!(parts[0].len() < 10, "teeth simplified away: {}", parts[0].len());
        assert!(to_geo(&parts).is_valid());
        let exact = through(&[ring], 0.0);
        assert!(exact[0].len() > 100, "no simplification at tolerance 0");
    }

    #[test]
    fn spikes_and_repeats_collapse() {
        assert_eq!(
            snap_ring(&[(0.0, 0.0), (10.0, 0.0), (10.2, 0.1), (20.0, 0.0), (10.0, 0.0), (0.0, 10.0)]).unwrap().len(),
            3
        );
        // Up the box's edge to its corner and back down: the corner goes.
        let r =
            snap_ring(&[(-128.0, 279.0), (-128.0, -128.0), (-128.0, -99.0), (-88.0, -87.0), (-103.0, 276.0)]).unwrap();
        assert_eq!(r, vec![(-128, 279), (-128, -99), (-88, -87), (-103, 276)]);
        assert!(snap_ring(&[(0.0, 0.0), (0.2, 0.2), (0.1, 0.4)]).is_none(), "a sub-unit triangle has no area");
    }
}
