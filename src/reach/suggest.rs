//! Where to stage the next responders: greedy maximal covering of the households that no
//! responder reaches yet.
//!
//! Candidates are the outer side of every gate of the region (with a wall) and points on the
//! roads (outside every compound and building) on a square lattice, `suggest_spacing_m` apart
//! (widened so that there are at most `max_candidates` in all). For each candidate, a search
//! as for a real responder of the given kind and mode finds the uncovered doors it would reach
//! in time. Then the greedy rule picks, N times, the candidate that adds the most households not
//! yet covered by existing responders or earlier picks. Greedy covering is within a factor
//! `1 - 1/e` (about 63 %) of the best possible choice of N points; existing responders stay where
//! they are.

use geo::{BoundingRect, Point};

use super::canvas::Canvas;
use super::coverage::{coverage, region_grids, DoorKey};
use super::geom::P;
use super::hash::IntSet;
use super::world::{NONE, OUTSIDE};
use super::{Class, ReachError};
use crate::index::Snapshot;
use crate::model::{Code, ResponderKind, TimeOfDay, TravelMode};

/// Most staging points one request may ask for.
pub const MAX_ADD: usize = 20;

/// A suggested staging point.
#[derive(Debug, Clone, PartialEq)]
pub struct Staging {
    /// EPSG:4326.
    pub location: Point<f64>,
    /// The gate it stands at (outside), if any.
    pub gate: Option<u32>,
    /// Households it adds to those already covered (and by earlier suggestions).
    pub gain_households: u64,
}

/// The answer of [`suggest`].
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestions {
    /// Households of the region, and those covered before any suggestion.
    pub households: u64,
    pub households_covered: u64,
    /// In the order picked; fewer than asked when nothing more can be gained.
    pub staging: Vec<Staging>,
    /// Candidate points evaluated.
    pub candidates: usize,
}

/// Suggests up to `add` staging points in `region` for a responder of `kind` travelling by
/// `mode`, on duty at `at`, that add the most households covered within `minutes`.
pub fn suggest(
    snap: &Snapshot,
    region: &Code,
    minutes: u32,
    at: TimeOfDay,
    add: usize,
    kind: ResponderKind,
    mode: TravelMode,
) -> Result<Suggestions, ReachError> {
    if add > MAX_ADD {
        return Err(ReachError::TooManySuggestions { asked: add, max: MAX_ADD });
    }
    let idx = &snap.reach;
    let w = &idx.net.world;
    let limit_s = idx.limit_s(minutes)?;
    let grids = region_grids(snap, region)?;
    let cov = coverage(snap, region, minutes, at, false)?;

    // Items to cover: a door, or all doors of a building without entrances, with households.
    let mut items: Vec<(Vec<u32>, u64)> = Vec::new();
    for &(key, households) in &cov.uncovered {
        let doors: Vec<u32> = match key {
            DoorKey::Entrance(id) => snap
                .data
                .entrances
                .binary_search_by_key(&id, |e| e.id)
                .ok()
                .map(|e| w.entrance_door[e])
                .filter(|&d| d != NONE)
                .into_iter()
                .collect(),
            DoorKey::Building(id) => snap
                .data
                .buildings
                .binary_search_by_key(&id, |b| b.id)
                .ok()
                .filter(|&b| w.building_poly[b] != NONE)
                .map(|b| w.doors_of_poly(w.building_poly[b]).map(|d| d as u32).collect())
                .unwrap_or_default(),
        };
        if !doors.is_empty() {
            items.push((doors, households as u64));
        }
    }
    let mut canvas = Canvas::new(w, [0.0, 0.0, -1.0, -1.0], 1.0, None);
    canvas.add_doors(w, items.iter().flat_map(|(d, _)| d.iter().copied()));
    let door_item: super::hash::IntMap<u32, usize> =
        items.iter().enumerate().flat_map(|(i, (d, _))| d.iter().map(move |&x| (x, i))).collect();

    // Candidates: gates of the region, then road points.
    let in_region: IntSet<usize> = grids.iter().copied().collect();
    let region_of = |lon: f64, lat: f64| snap.locate(lon, lat).is_some_and(|l| in_region.contains(&l.grid));
    let mut candidates: Vec<(P, Option<u32>)> = Vec::new();
    for (gi, gate) in w.gates.iter().enumerate() {
        let (lon, lat) = idx.projection.to_lon_lat(gate.p[0], gate.p[1]);
        if region_of(lon, lat) {
            candidates.push((gate.p, Some(gi as u32)));
        }
    }
    let mut bb = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for &g in &grids {
        if let Some(r) = snap.data.grids[g].geometry.bounding_rect() {
            let a = idx.to_local(r.min().x, r.min().y);
            let b = idx.to_local(r.max().x, r.max().y);
            bb = [bb[0].min(a[0]), bb[1].min(a[1]), bb[2].max(b[0]), bb[3].max(b[1])];
        }
    }
    let room_left = idx.config.max_candidates.saturating_sub(candidates.len()).max(1);
    if bb[0].is_finite() {
        let area = (bb[2] - bb[0]) * (bb[3] - bb[1]);
        // Roads are roughly a third of a city: widen the lattice to stay within the cap.
        let spacing = idx.config.suggest_spacing_m.max((area / 3.0 / room_left as f64).sqrt());
        let mut road: Vec<(P, Option<u32>)> = Vec::new();
        let mut y = bb[1] + spacing * 0.5;
        while y < bb[3] {
            let mut x = bb[0] + spacing * 0.5;
            while x < bb[2] {
                let p = [x, y];
                if w.room_of(p) == OUTSIDE && w.building_at(OUTSIDE, p).is_none() {
                    let (lon, lat) = idx.projection.to_lon_lat(x, y);
                    if region_of(lon, lat) {
                        road.push((p, None));
                    }
                }
                x += spacing;
            }
            y += spacing;
        }
        // Keep the cap even when the road share was underestimated.
        let stride = road.len().div_ceil(room_left).max(1);
        candidates.extend(road.into_iter().step_by(stride));
    }

    // What each candidate would cover.
    let class = Class::of(kind, mode);
    let b = idx.config.budget_m(mode, limit_s);
    let mut covers: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
    for &(p, gate) in &candidates {
        if b < 0.0 || items.is_empty() {
            covers.push(Vec::new());
            continue;
        }
        canvas.point_covered.iter_mut().for_each(|c| *c = false);
        let seeds: Vec<(u32, f64, P)> = match gate {
            Some(g) => vec![(w.gates[g as usize].outer, 0.0, p)],
            None => idx
                .net
                .star(&super::graph::Endpoint { p, room: OUTSIDE }, b)
                .into_iter()
                .map(|(v, d)| (v, d, p))
                .collect(),
        };
        canvas.push(&idx.net, p, OUTSIDE, b, None);
        let (tree, _) = idx.net.search(&seeds, class, at, b, None);
        for (&v, l) in &tree {
            let from = if l.parent == NONE { l.seed_from } else { w.nodes[l.parent as usize].p };
            let n = &w.nodes[v as usize];
            canvas.push(&idx.net, n.p, n.room, b - l.cost, idx.cone_of(v, from));
        }
        let mut hit: Vec<usize> = canvas
            .points_reached()
            .filter_map(|slot| canvas.door_of_slot(slot))
            .filter_map(|d| door_item.get(&d).copied())
            .collect();
        hit.sort_unstable();
        hit.dedup();
        covers.push(hit);
    }

    // Greedy maximal covering.
    let mut taken = vec![false; items.len()];
    let mut staging = Vec::new();
    for _ in 0..add {
        let best = covers
            .iter()
            .enumerate()
            .map(|(c, set)| (c, set.iter().filter(|&&i| !taken[i]).map(|&i| items[i].1).sum::<u64>()))
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
        let Some((c, gain)) = best else { break };
        if gain == 0 {
            break;
        }
        for &i in &covers[c] {
            taken[i] = true;
        }
        let (p, gate) = candidates[c];
        let (lon, lat) = idx.projection.to_lon_lat(p[0], p[1]);
        staging.push(Staging {
            location: Point::new(lon, lat),
            gate: gate.map(|g| w.gates[g as usize].id),
            gain_households: gain,
        });
    }
    Ok(Suggestions {
        households: cov.totals.households,
        households_covered: cov.totals.households_covered,
        staging,
        candidates: candidates.len(),
    })
}
