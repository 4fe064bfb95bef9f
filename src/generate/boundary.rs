//! Region outlines from block sets, exactly.
//!
//! A region's boundary is the set of hexagon edges it uses once (the neighbour across the edge
//! is outside the region). Taking every block's edges in its counter-clockwise order leaves
//! the region on the left of each boundary edge, so chaining them gives counter-clockwise
//! exteriors and clockwise holes (RFC 7946). Because exactly three blocks meet at every
//! lattice vertex, each boundary vertex has one edge in and one edge out: the chaining is
//! unambiguous and rings never touch. Vertices come from the lattice's single rounded table,
//! so neighbouring regions share bit-identical vertices along their common edges.

use geo::{Contains, Coord, LineString, MultiPolygon, Point, Polygon};

use super::lattice::{Lattice, NONE};

/// The outline (EPSG:4326) of the blocks `blocks`, where `inside(nb)` tells whether a
/// neighbouring block belongs to the same region.
pub(crate) fn region_outline(lat: &Lattice, blocks: &[u32], inside: impl Fn(u32) -> bool) -> MultiPolygon<f64> {
    let mut edges: Vec<(u32, u32)> = Vec::with_capacity(blocks.len() * 3);
    for &b in blocks {
        let blk = &lat.blocks[b as usize];
        for e in 0..6 {
            let nb = blk.nbr[e];
            if nb == NONE || !inside(nb) {
                edges.push((blk.verts[e], blk.verts[(e + 1) % 6]));
            }
        }
    }
    edges.sort_unstable();
    let mut used = vec![false; edges.len()];
    let mut exteriors: Vec<LineString<f64>> = Vec::new();
    let mut holes: Vec<LineString<f64>> = Vec::new();
    for start in 0..edges.len() {
        if used[start] {
            continue;
        }
        // Edges are sorted by their start vertex, so each ring starts at its lowest vertex id
        // (southernmost line, then westernmost): a canonical, deterministic form.
        let mut ring: Vec<Coord<f64>> = Vec::new();
        let mut at = start;
        loop {
            used[at] = true;
            let (from, to) = edges[at];
            ring.push(lat.ll[from as usize]);
            let next = edges.partition_point(|e| e.0 < to);
            debug_assert!(next < edges.len() && edges[next].0 == to, "boundary vertex without an outgoing edge");
            if next >= edges.len() || used[next] {
                break;
            }
            at = next;
        }
        ring.push(ring[0]);
        if signed_area(&ring) > 0.0 {
            exteriors.push(LineString(ring));
        } else {
            holes.push(LineString(ring));
        }
    }
    let mut polygons: Vec<(LineString<f64>, Vec<LineString<f64>>)> =
        exteriors.into_iter().map(|e| (e, vec![])).collect();
    for hole in holes {
        let probe = Point(hole.0[0]);
        let owner = if polygons.len() == 1 {
            0
        } else {
            // The innermost exterior around the hole (smallest area among those containing it).
            (0..polygons.len())
                .filter(|&p| Polygon::new(polygons[p].0.clone(), vec![]).contains(&probe))
                .min_by(|&a, &b| signed_area(&polygons[a].0 .0).total_cmp(&signed_area(&polygons[b].0 .0)))
                .unwrap_or(0)
        };
        if let Some(p) = polygons.get_mut(owner) {
            p.1.push(hole);
        }
    }
    MultiPolygon(polygons.into_iter().map(|(e, h)| Polygon::new(e, h)).collect())
}

/// Twice the signed area of a closed ring (positive when counter-clockwise).
fn signed_area(ring: &[Coord<f64>]) -> f64 {
    let o = ring[0];
    ring.windows(2).map(|w| (w[0].x - o.x) * (w[1].y - o.y) - (w[1].x - o.x) * (w[0].y - o.y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::hash::stream;
    use crate::model::LocalProjection;
    use geo::{Area, Validation};

    #[test]
    fn halves_tile_the_whole_and_share_vertices() {
        let lat = Lattice::new(9, 250, LocalProjection::new(84.87, 45.6), &mut stream(9, "lattice"));
        let all: Vec<u32> = (0..lat.blocks.len() as u32).collect();
        let west = |b: u32| lat.blocks[b as usize].centre[0] < 0.0;
        let whole = region_outline(&lat, &all, |_| true);
        let (w, e): (Vec<u32>, Vec<u32>) = all.iter().partition(|&&b| west(b));
        let west_mp = region_outline(&lat, &w, west);
        let east_mp = region_outline(&lat, &e, |b| !west(b));
        for mp in [&whole, &west_mp, &east_mp] {
            assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        }
        assert_eq!(whole.0.len(), 1, "the district is one piece");
        let sum = west_mp.unsigned_area() + east_mp.unsigned_area();
        assert!((sum - whole.unsigned_area()).abs() <= 1e-12 * whole.unsigned_area(), "halves add up to the whole");
    }

    #[test]
    fn a_ring_around_a_block_has_a_clockwise_hole() {
        let lat = Lattice::new(9, 250, LocalProjection::new(84.87, 45.6), &mut stream(9, "lattice"));
        let centre =
            (0..lat.blocks.len() as u32).find(|&b| lat.blocks[b as usize].nbr.iter().all(|&n| n != NONE)).unwrap();
        let ring: Vec<u32> = lat.blocks[centre as usize].nbr.to_vec();
        let mp = region_outline(&lat, &ring, |b| ring.contains(&b));
        assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1, "the middle block is a hole");
        assert!(signed_area(&mp.0[0].interiors()[0].0) < 0.0, "holes run clockwise");
    }
}
