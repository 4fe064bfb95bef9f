//! The brick lattice of city blocks and the district mask.
//!
//! Block row `j` spans lattice lines `j` and `j + 1`; block `i` of row `j` has its lower-left
//! corner at half-block index `k0 = 2i + (j mod 2)`, so odd rows are shifted by half a block
//! (brick bond). A block is topologically a hexagon: `BL BM BR` on line `j` at half-indices
//! `k0, k0+1, k0+2`, then `TR TM TL` on line `j+1`, counter-clockwise. Every lattice vertex is
//! shared by exactly three blocks, which is what makes unions of blocks valid polygons.
//!
//! Coordinates: local metres of [`LocalProjection`] (x east, y north) for construction; every
//! vertex is also converted once to EPSG:4326 and rounded to 7 decimals, and every polygon that
//! uses a lattice vertex takes that one rounded value.

use std::collections::VecDeque;

use geo::Coord;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::hash::{hash, signed_unit};
use crate::model::LocalProjection;

/// Block width (east-west), metres.
pub(crate) const BLOCK_W_M: f64 = 150.0;
/// Block height (north-south), metres.
pub(crate) const BLOCK_H_M: f64 = 110.0;
/// Vertex jitter as a share of the block size: keeps every block a simple hexagon
/// (vertices on a line stay 75 m ± 2×18 m apart, lines 110 m ± 2×18 m apart).
const JITTER_X: f64 = 0.12;
const JITTER_Y: f64 = 0.16;

/// "No block here."
pub(crate) const NONE: u32 = u32::MAX;

/// Rounds degrees to 7 decimals (about 1 cm), the precision of every stored coordinate.
pub(crate) fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// One city block of the district.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    /// Column within the row and row (lattice indices).
    pub i: u32,
    pub j: u32,
    /// Vertex indices `BL BM BR TR TM TL` (counter-clockwise).
    pub verts: [u32; 6],
    /// Neighbouring block across edge `e` (from `verts[e]` to `verts[e+1]`), or [`NONE`].
    pub nbr: [u32; 6],
    /// Centroid of the jittered hexagon, local metres.
    pub centre: [f64; 2],
}

impl Block {
    /// Lower-left half-block index.
    pub fn k0(&self) -> u32 {
        2 * self.i + (self.j & 1)
    }
}

/// The lattice, its vertices and the blocks inside the district.
pub(crate) struct Lattice {
    pub cols: usize,
    pub rows: usize,
    /// Jittered vertex positions, local metres; index `line * nk + k`.
    pub xy: Vec<[f64; 2]>,
    /// The same vertices in EPSG:4326, rounded to 7 decimals.
    pub ll: Vec<Coord<f64>>,
    pub blocks: Vec<Block>,
    /// Block index of every lattice cell `j * cols + i`, or [`NONE`] outside the district.
    pub cell: Vec<u32>,
    pub proj: LocalProjection,
}

/// Cells adjacent to cell `(i, j)` across its six edges, in edge order (may be out of range).
fn cell_neighbours(i: i64, j: i64) -> [(i64, i64); 6] {
    let p = j & 1;
    [(i + p - 1, j - 1), (i + p, j - 1), (i + 1, j), (i + p, j + 1), (i + p - 1, j + 1), (i - 1, j)]
}

impl Lattice {
    /// Builds a lattice holding about `target_blocks` blocks inside a blobby district outline
    /// centred on `proj`'s centre.
    pub fn new(seed: u64, target_blocks: usize, proj: LocalProjection, rng: &mut ChaCha8Rng) -> Lattice {
        let target = target_blocks.max(7);
        let r0 = (target as f64 * BLOCK_W_M * BLOCK_H_M / std::f64::consts::PI).sqrt();
        // Slightly longer east-west than north-south, with a few low harmonics for lobes.
        let (ax, ay) = (1.15, 1.0 / 1.15);
        let harmonics: Vec<(f64, f64, f64)> = (2..=6)
            .map(|m| {
                let m = m as f64;
                (m, rng.random_range(0.0..0.28 / m.powf(1.1)), rng.random_range(0.0..std::f64::consts::TAU))
            })
            .collect();
        let reach = r0 * 1.7;
        let cols = (2.0 * reach * ax / BLOCK_W_M).ceil() as usize + 3;
        let rows = (2.0 * reach / BLOCK_H_M).ceil() as usize + 3;
        let nk = 2 * cols + 2;
        let (ox, oy) = ((2 * cols + 1) as f64 * BLOCK_W_M / 4.0, rows as f64 * BLOCK_H_M / 2.0);

        // Each cell's "radius ratio": how far out its centre lies relative to the outline.
        let mut ratio: Vec<(f64, u32)> = Vec::with_capacity(rows * cols);
        for j in 0..rows {
            for i in 0..cols {
                let k0 = 2 * i + (j & 1);
                let x = (k0 + 1) as f64 * BLOCK_W_M / 2.0 - ox;
                let y = (j as f64 + 0.5) * BLOCK_H_M - oy;
                let theta = y.atan2(x);
                let r = 1.0 + harmonics.iter().map(|&(m, a, ph)| a * (m * theta + ph).cos()).sum::<f64>();
                let noise = 1.0 + 0.03 * signed_unit(hash(seed, &[11, i as i64, j as i64]));
                let rho = (x / ax).hypot(y / ay) / (r0 * r) * noise;
                ratio.push((rho, (j * cols + i) as u32));
            }
        }
        let n = target.min(ratio.len());
        ratio.select_nth_unstable_by(n - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut inside = vec![false; rows * cols];
        for &(_, c) in &ratio[..n] {
            inside[c as usize] = true;
        }
        let inside = keep_largest_filled(inside, cols, rows);

        let mut xy = Vec::with_capacity(nk * (rows + 1));
        for line in 0..=rows {
            for k in 0..nk {
                let dx = signed_unit(hash(seed, &[1, k as i64, line as i64])) * JITTER_X * BLOCK_W_M;
                let dy = signed_unit(hash(seed, &[2, k as i64, line as i64])) * JITTER_Y * BLOCK_H_M;
                xy.push([k as f64 * BLOCK_W_M / 2.0 + dx - ox, line as f64 * BLOCK_H_M + dy - oy]);
            }
        }
        let ll = xy
            .iter()
            .map(|&[x, y]| {
                let (lon, lat) = proj.to_lon_lat(x, y);
                Coord { x: round7(lon), y: round7(lat) }
            })
            .collect();

        let mut cell = vec![NONE; rows * cols];
        let mut blocks = Vec::new();
        for j in 0..rows {
            for i in 0..cols {
                if inside[j * cols + i] {
                    cell[j * cols + i] = blocks.len() as u32;
                    let k0 = 2 * i + (j & 1);
                    let v = |k: usize, line: usize| (line * nk + k) as u32;
                    let verts =
                        [v(k0, j), v(k0 + 1, j), v(k0 + 2, j), v(k0 + 2, j + 1), v(k0 + 1, j + 1), v(k0, j + 1)];
                    blocks.push(Block { i: i as u32, j: j as u32, verts, nbr: [NONE; 6], centre: [0.0; 2] });
                }
            }
        }
        let mut lattice = Lattice { cols, rows, xy, ll, blocks, cell, proj };
        for b in 0..lattice.blocks.len() {
            let (i, j) = (lattice.blocks[b].i as i64, lattice.blocks[b].j as i64);
            let nbr = cell_neighbours(i, j).map(|(ni, nj)| lattice.cell_at(ni, nj));
            let centre = polygon_centroid(&lattice.hexagon(b as u32));
            let blk = &mut lattice.blocks[b];
            blk.nbr = nbr;
            blk.centre = centre;
        }
        lattice
    }

    /// The block at cell `(i, j)`, or [`NONE`].
    pub fn cell_at(&self, i: i64, j: i64) -> u32 {
        if i < 0 || j < 0 || i >= self.cols as i64 || j >= self.rows as i64 {
            return NONE;
        }
        self.cell[j as usize * self.cols + i as usize]
    }

    /// A block's jittered hexagon in local metres, `BL BM BR TR TM TL`.
    pub fn hexagon(&self, b: u32) -> [[f64; 2]; 6] {
        self.blocks[b as usize].verts.map(|v| self.xy[v as usize])
    }

    /// Local metres → EPSG:4326, rounded to 7 decimals.
    pub fn lon_lat(&self, p: [f64; 2]) -> Coord<f64> {
        let (lon, lat) = self.proj.to_lon_lat(p[0], p[1]);
        Coord { x: round7(lon), y: round7(lat) }
    }

    /// `(imin, imax, jmin, jmax)`: the columns and rows the district's blocks occupy (for
    /// naming roads from the district's edge).
    pub fn extent(&self) -> (u32, u32, u32, u32) {
        let (mut imin, mut imax, mut jmin, mut jmax) = (u32::MAX, 0, u32::MAX, 0);
        for b in &self.blocks {
            imin = imin.min(b.i);
            imax = imax.max(b.i);
            jmin = jmin.min(b.j);
            jmax = jmax.max(b.j);
        }
        (imin, imax, jmin, jmax)
    }
}

/// Keeps the largest edge-connected group of cells and fills any cells it encloses.
fn keep_largest_filled(inside: Vec<bool>, cols: usize, rows: usize) -> Vec<bool> {
    let idx = |i: i64, j: i64| {
        (i >= 0 && j >= 0 && (i as usize) < cols && (j as usize) < rows).then(|| j as usize * cols + i as usize)
    };
    // Components of the inside cells.
    let mut comp = vec![u32::MAX; rows * cols];
    let mut sizes = Vec::new();
    let mut queue = VecDeque::new();
    for start in 0..rows * cols {
        if !inside[start] || comp[start] != u32::MAX {
            continue;
        }
        let id = sizes.len() as u32;
        let mut size = 0usize;
        comp[start] = id;
        queue.push_back(start);
        while let Some(c) = queue.pop_front() {
            size += 1;
            for (ni, nj) in cell_neighbours((c % cols) as i64, (c / cols) as i64) {
                if let Some(n) = idx(ni, nj) {
                    if inside[n] && comp[n] == u32::MAX {
                        comp[n] = id;
                        queue.push_back(n);
                    }
                }
            }
        }
        sizes.push(size);
    }
    let best = (0..sizes.len()).max_by_key(|&c| (sizes[c], std::cmp::Reverse(c))).unwrap_or(0) as u32;
    let keep: Vec<bool> = comp.iter().map(|&c| c == best).collect();
    // Everything not reachable from the border without crossing kept cells is enclosed.
    let mut outside = vec![false; rows * cols];
    for c in 0..rows * cols {
        let (i, j) = (c % cols, c / cols);
        if (i == 0 || j == 0 || i + 1 == cols || j + 1 == rows) && !keep[c] {
            outside[c] = true;
            queue.push_back(c);
        }
    }
    while let Some(c) = queue.pop_front() {
        for (ni, nj) in cell_neighbours((c % cols) as i64, (c / cols) as i64) {
            if let Some(n) = idx(ni, nj) {
                if !keep[n] && !outside[n] {
                    outside[n] = true;
                    queue.push_back(n);
                }
            }
        }
    }
    outside.iter().map(|&o| !o).collect()
}

/// Area-weighted centroid of a simple polygon (local metres).
pub(crate) fn polygon_centroid(pts: &[[f64; 2]]) -> [f64; 2] {
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    let o = pts[0];
    for w in 0..pts.len() {
        let p = [pts[w][0] - o[0], pts[w][1] - o[1]];
        let q = pts[(w + 1) % pts.len()];
        let q = [q[0] - o[0], q[1] - o[1]];
        let cross = p[0] * q[1] - q[0] * p[1];
        a += cross;
        cx += (p[0] + q[0]) * cross;
        cy += (p[1] + q[1]) * cross;
    }
    [o[0] + cx / (3.0 * a), o[1] + cy / (3.0 * a)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::hash::stream;

    fn small() -> Lattice {
        Lattice::new(5, 300, LocalProjection::new(84.87, 45.6), &mut stream(5, "lattice"))
    }

    #[test]
    fn neighbours_are_symmetric_and_share_the_edge_reversed() {
        let l = small();
        assert!(l.blocks.len() >= 280 && l.blocks.len() <= 330, "{} blocks", l.blocks.len());
        for (b, blk) in l.blocks.iter().enumerate() {
            for e in 0..6 {
                let n = blk.nbr[e];
                if n == NONE {
                    continue;
                }
                let other = &l.blocks[n as usize];
                let (a, z) = (blk.verts[e], blk.verts[(e + 1) % 6]);
                let back = (0..6).find(|&f| other.nbr[f] == b as u32).expect("adjacency is symmetric");
                assert_eq!((other.verts[back], other.verts[(back + 1) % 6]), (z, a), "a shared edge runs both ways");
            }
        }
    }

    #[test]
    fn every_vertex_is_shared_by_at_most_three_blocks() {
        let l = small();
        let mut count = std::collections::BTreeMap::new();
        for blk in &l.blocks {
            for v in blk.verts {
                *count.entry(v).or_insert(0) += 1;
            }
        }
        assert!(count.values().all(|&c| c <= 3));
        assert!(count.values().any(|&c| c == 3));
    }

    #[test]
    fn hexagons_are_counter_clockwise() {
        let l = small();
        for b in 0..l.blocks.len() as u32 {
            let h = l.hexagon(b);
            let area: f64 =
                (0..6).map(|w| h[w][0] * h[(w + 1) % 6][1] - h[(w + 1) % 6][0] * h[w][1]).sum::<f64>() / 2.0;
            assert!(area > 0.5 * BLOCK_W_M * BLOCK_H_M, "block {b} area {area}");
        }
    }
}
