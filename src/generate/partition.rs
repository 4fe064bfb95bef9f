//! Seeded region growing over block adjacency: subdistricts, communities and grids.
//!
//! Seeds are spread evenly along a Hilbert curve and relaxed by two Lloyd steps. Regions then grow one
//! block at a time, the lightest region (by block weight) first, each taking the frontier block
//! with the lowest key `distance to its seed + random noise`. Growth only ever adds a block
//! adjacent to the region, so every region is edge-connected; it runs until no free block
//! touches any region, so every member block is taken.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::lattice::{Lattice, BLOCK_W_M, NONE};

const FREE: u32 = NONE - 1;
/// Random part of a frontier key, in block widths: how ragged boundaries get.
const NOISE_BLOCKS: f64 = 1.6;

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Position of cell `(x, y)` along a Hilbert curve over a 2^16 × 2^16 grid.
fn hilbert(mut x: u32, mut y: u32) -> u64 {
    let mut d = 0u64;
    let mut s = 1u32 << 15;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d += s as u64 * s as u64 * ((3 * rx) ^ ry) as u64;
        if ry == 0 {
            if rx == 1 {
                x = s.wrapping_mul(2).wrapping_sub(1).wrapping_sub(x) & 0xFFFF;
                y = s.wrapping_mul(2).wrapping_sub(1).wrapping_sub(y) & 0xFFFF;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s >>= 1;
    }
    d
}

/// Picks `k` well-spread seed positions (indices into `members`) in O(n log n): evenly spaced
/// stops along a Hilbert curve through the members, then two Lloyd steps in which each member
/// joins its nearest seed by block steps (a breadth-first search from all seeds) and each seed
/// moves to the member nearest its cluster's centroid.
/// Expects `scratch[members[m]] == m` for every member and [`NONE`] elsewhere.
fn seeds(lat: &Lattice, members: &[u32], k: usize, rng: &mut ChaCha8Rng, scratch: &[u32]) -> Vec<usize> {
    let n = members.len();
    let c = |m: usize| lat.blocks[members[m] as usize].centre;
    let mut along: Vec<(u64, usize)> =
        (0..n).map(|m| (hilbert(lat.blocks[members[m] as usize].i, lat.blocks[members[m] as usize].j), m)).collect();
    along.sort_unstable();
    let step = n as f64 / k as f64;
    let offset = rng.random::<f64>() * step;
    let mut chosen: Vec<usize> = (0..k).map(|t| along[((offset + t as f64 * step) as usize).min(n - 1)].1).collect();
    chosen.sort_unstable();
    chosen.dedup();
    let mut label = vec![u32::MAX; n];
    let mut queue = std::collections::VecDeque::with_capacity(n);
    for _ in 0..2 {
        label.fill(u32::MAX);
        queue.clear();
        for (s, &m) in chosen.iter().enumerate() {
            label[m] = s as u32;
            queue.push_back(m);
        }
        while let Some(m) = queue.pop_front() {
            for nb in lat.blocks[members[m] as usize].nbr {
                if nb == NONE {
                    continue;
                }
                let p = scratch[nb as usize];
                if p != NONE && label[p as usize] == u32::MAX {
                    label[p as usize] = label[m];
                    queue.push_back(p as usize);
                }
            }
        }
        let mut sum = vec![[0.0f64; 3]; chosen.len()];
        for (m, &s) in label.iter().enumerate() {
            let (s, p) = (s as usize, c(m));
            sum[s][0] += p[0];
            sum[s][1] += p[1];
            sum[s][2] += 1.0;
        }
        let target: Vec<[f64; 2]> = sum.iter().map(|t| [t[0] / t[2], t[1] / t[2]]).collect();
        let mut best: Vec<(f64, usize)> =
            chosen.iter().enumerate().map(|(s, &m)| (dist2(c(m), target[s]), m)).collect();
        for (m, &s) in label.iter().enumerate() {
            let s = s as usize;
            let d = dist2(c(m), target[s]);
            if d < best[s].0 {
                best[s] = (d, m);
            }
        }
        chosen = best.into_iter().map(|b| b.1).collect();
    }
    chosen
}

/// Splits the connected block set `members` into `k` connected regions, balanced by `weight`.
/// Returns each member's region (`0..k`, in the order of `members`). Makes `attempts` tries
/// with fresh seeds and keeps the most even one (lightest region over heaviest) among those
/// whose regions all have at least `min_size` blocks.
/// `scratch` is a per-block array that must hold [`NONE`] everywhere and is left that way.
#[allow(clippy::too_many_arguments)]
pub(crate) fn partition(
    lat: &Lattice,
    members: &[u32],
    k: usize,
    weight: &[f64],
    min_size: usize,
    attempts: usize,
    rng: &mut ChaCha8Rng,
    scratch: &mut [u32],
) -> Vec<u32> {
    let k = k.clamp(1, members.len().max(1));
    // (all regions big enough, evenness, labels); higher is better.
    let mut best: Option<(bool, f64, Vec<u32>)> = None;
    let mut tries = 0;
    while tries < attempts.max(1) || (tries < 30 && !best.as_ref().is_some_and(|b| b.0)) {
        tries += 1;
        let labels = grow(lat, members, k, weight, rng, scratch);
        let mut sizes = vec![0usize; k];
        let mut loads = vec![0.0f64; k];
        for (&b, &l) in members.iter().zip(&labels) {
            sizes[l as usize] += 1;
            loads[l as usize] += weight[b as usize];
        }
        let big_enough = sizes.iter().all(|&s| s >= min_size);
        let heaviest = loads.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
        let evenness = loads.iter().copied().fold(f64::MAX, f64::min) / heaviest;
        if best.as_ref().is_none_or(|(ok, even, _)| (big_enough, evenness) > (*ok, *even)) {
            best = Some((big_enough, evenness, labels));
        }
    }
    best.map(|(_, _, l)| l).unwrap_or_default()
}

fn grow(
    lat: &Lattice,
    members: &[u32],
    k: usize,
    weight: &[f64],
    rng: &mut ChaCha8Rng,
    scratch: &mut [u32],
) -> Vec<u32> {
    for (m, &b) in members.iter().enumerate() {
        scratch[b as usize] = m as u32;
    }
    let seed_pos = seeds(lat, members, k, rng, scratch);
    for &b in members {
        scratch[b as usize] = FREE;
    }
    let seed_centre: Vec<[f64; 2]> = seed_pos.iter().map(|&m| lat.blocks[members[m] as usize].centre).collect();
    let k = seed_pos.len();
    let mut frontier: Vec<BinaryHeap<Reverse<(u64, u32)>>> = vec![BinaryHeap::new(); k];
    let mut load = vec![0.0f64; k];
    let mut turn: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();

    let mut claim = |b: u32,
                     r: usize,
                     scratch: &mut [u32],
                     frontier: &mut Vec<BinaryHeap<Reverse<(u64, u32)>>>,
                     rng: &mut ChaCha8Rng| {
        scratch[b as usize] = r as u32;
        load[r] += weight[b as usize];
        for nb in lat.blocks[b as usize].nbr {
            if nb != NONE && scratch[nb as usize] == FREE {
                let d = dist2(lat.blocks[nb as usize].centre, seed_centre[r]).sqrt() / BLOCK_W_M;
                let key = d + NOISE_BLOCKS * rng.random::<f64>();
                frontier[r].push(Reverse((key.to_bits(), nb)));
            }
        }
        load[r]
    };
    for (r, &m) in seed_pos.iter().enumerate() {
        let w = claim(members[m], r, scratch, &mut frontier, rng);
        turn.push(Reverse((w.to_bits(), r as u32)));
    }
    while let Some(Reverse((_, r))) = turn.pop() {
        let r = r as usize;
        while let Some(Reverse((_, b))) = frontier[r].pop() {
            if scratch[b as usize] == FREE {
                let w = claim(b, r, scratch, &mut frontier, rng);
                turn.push(Reverse((w.to_bits(), r as u32)));
                break;
            }
        }
    }
    let labels = members.iter().map(|&b| scratch[b as usize]).collect();
    for &b in members {
        scratch[b as usize] = NONE;
    }
    labels
}

/// Splits `total` into whole parts roughly proportional to `weights`, part `i` within
/// `lo[i]..=hi[i]` (as far as the bounds allow).
pub(crate) fn apportion(total: usize, weights: &[f64], lo: &[usize], hi: &[usize]) -> Vec<usize> {
    let wsum: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let ideal: Vec<f64> = weights.iter().map(|w| total as f64 * w / wsum).collect();
    let mut parts: Vec<usize> =
        ideal.iter().enumerate().map(|(i, q)| (q.round() as usize).clamp(lo[i], hi[i].max(lo[i]))).collect();
    let mut sum: usize = parts.iter().sum();
    while sum < total {
        let Some(i) = (0..parts.len())
            .filter(|&i| parts[i] < hi[i])
            .max_by(|&a, &b| (ideal[a] - parts[a] as f64).total_cmp(&(ideal[b] - parts[b] as f64)).then(b.cmp(&a)))
        else {
            break;
        };
        parts[i] += 1;
        sum += 1;
    }
    while sum > total {
        let Some(i) = (0..parts.len())
            .filter(|&i| parts[i] > lo[i])
            .min_by(|&a, &b| (ideal[a] - parts[a] as f64).total_cmp(&(ideal[b] - parts[b] as f64)).then(a.cmp(&b)))
        else {
            break;
        };
        parts[i] -= 1;
        sum -= 1;
    }
    parts
}

/// Reading order (north to south in bands of `band` metres, west to east within a band) of
/// points in local metres. Returns the indices in that order.
pub(crate) fn reading_order(centres: &[[f64; 2]], band: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..centres.len()).collect();
    let row = |c: [f64; 2]| (-c[1] / band).floor() as i64;
    order.sort_by(|&a, &b| {
        row(centres[a]).cmp(&row(centres[b])).then(centres[a][0].total_cmp(&centres[b][0])).then(a.cmp(&b))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::hash::stream;
    use crate::model::LocalProjection;

    #[test]
    fn regions_are_connected_cover_everything_and_are_balanced() {
        let lat = Lattice::new(3, 400, LocalProjection::new(84.87, 45.6), &mut stream(3, "lattice"));
        let members: Vec<u32> = (0..lat.blocks.len() as u32).collect();
        let weight = vec![1.0; members.len()];
        let mut scratch = vec![NONE; members.len()];
        let labels = partition(&lat, &members, 8, &weight, 10, 3, &mut stream(3, "p"), &mut scratch);
        assert!(scratch.iter().all(|&s| s == NONE), "scratch is handed back clean");
        let mut sizes = [0usize; 8];
        for &l in &labels {
            sizes[l as usize] += 1;
        }
        assert!(sizes.iter().all(|&s| s >= 10), "{sizes:?}");
        // Connectivity: a flood fill inside each region reaches all of it.
        for r in 0..8u32 {
            let start = labels.iter().position(|&l| l == r).unwrap();
            let mut seen = vec![false; members.len()];
            let mut stack = vec![start];
            seen[start] = true;
            let mut n = 0;
            while let Some(b) = stack.pop() {
                n += 1;
                for nb in lat.blocks[b].nbr {
                    if nb != NONE && labels[nb as usize] == r && !seen[nb as usize] {
                        seen[nb as usize] = true;
                        stack.push(nb as usize);
                    }
                }
            }
            assert_eq!(n, sizes[r as usize], "region {r} is one edge-connected piece");
        }
    }

    #[test]
    fn apportion_hits_the_total_within_bounds() {
        let parts = apportion(436, &[10.0, 11.0, 9.5, 12.0, 30.0, 3.0], &[5; 6], &[8; 6]);
        assert_eq!(parts.iter().sum::<usize>(), 48, "bounds win over the total when they must: 6 × 8");
        let parts = apportion(40, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[5; 6], &[8; 6]);
        assert_eq!(parts.iter().sum::<usize>(), 40);
        assert!(parts.iter().all(|&p| (5..=8).contains(&p)), "{parts:?}");
    }
}
