//! What stands in each block: compounds, buildings and how many people live there.
//!
//! All geometry here is in local metres. A block's compound (its wall when gated) is the block
//! hexagon shrunk by [`COMPOUND_SCALE`] about its centroid, so the space between compounds is
//! street and no compound can reach past its block (and so past its grid). Buildings are
//! rectangles inside the largest axis-aligned rectangle that fits the compound hexagon (its
//! "yard"), so they are inside the compound by construction.
//!
//! Blocks are made residential in a density-weighted random order (dense in the middle of the
//! district, sparse at its edge) until the household target is reached; storeys are then nudged
//! (5-7) so the total lands within a few households of the target.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::hash::{hash, item_stream, stream, unit};
use super::lattice::{polygon_centroid, Lattice, BLOCK_H_M, BLOCK_W_M};
use super::names::InstitutionKind;
use super::roads::{Roads, Side};

/// Compound = block hexagon scaled by this about its centroid (the rest is road).
pub(crate) const COMPOUND_SCALE: f64 = 0.85;
/// Gap between the compound wall and the yard where buildings stand.
const YARD_MARGIN_M: f64 = 5.0;

/// A rectangle: centre `c`, unit axis `u` along its length, half-length `a`, half-depth `b`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rect {
    pub c: [f64; 2],
    pub u: [f64; 2],
    pub a: f64,
    pub b: f64,
}

impl Rect {
    /// The depth axis (`u` turned left).
    pub fn v(&self) -> [f64; 2] {
        [-self.u[1], self.u[0]]
    }

    /// The point at `s` (along, −1..1) and `t` (across, −1..1).
    pub fn at(&self, s: f64, t: f64) -> [f64; 2] {
        let v = self.v();
        [self.c[0] + s * self.a * self.u[0] + t * self.b * v[0], self.c[1] + s * self.a * self.u[1] + t * self.b * v[1]]
    }

    /// Corners, counter-clockwise.
    pub fn corners(&self) -> [[f64; 2]; 4] {
        [self.at(-1.0, -1.0), self.at(1.0, -1.0), self.at(1.0, 1.0), self.at(-1.0, 1.0)]
    }

    /// Inside the yard `[x0, x1, y0, y1]` (to a micrometre: rows are packed edge to edge).
    fn inside(&self, yard: [f64; 4]) -> bool {
        const EPS: f64 = 1e-6;
        self.corners()
            .iter()
            .all(|p| p[0] >= yard[0] - EPS && p[0] <= yard[1] + EPS && p[1] >= yard[2] - EPS && p[1] <= yard[3] + EPS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuildingKind {
    /// A block of flats; entrances (one per unit) on its north side.
    Residential,
    /// A shop along a road (compound-less); one entrance on the road side.
    Shop,
    /// A school, clinic or office building.
    Public,
}

#[derive(Debug, Clone)]
pub(crate) struct BuildingPlan {
    pub rect: Rect,
    pub kind: BuildingKind,
    pub floors: u32,
    pub units: u32,
    pub households: u32,
    pub population: u32,
    /// For shops: the block side (and so the road) the shop fronts.
    pub fronts: Option<Side>,
}

impl BuildingPlan {
    /// Entrance points (local metres), one per unit, on the building's outline.
    pub fn entrances(&self) -> Vec<[f64; 2]> {
        match self.fronts {
            Some(side) => {
                let t = match side {
                    Side::Bottom | Side::Right => -1.0,
                    Side::Top | Side::Left => 1.0,
                };
                vec![self.rect.at(0.0, t)]
            }
            None => (0..self.units).map(|u| self.rect.at(-1.0 + (2 * u + 1) as f64 / self.units as f64, 1.0)).collect(),
        }
    }
}

/// How a block is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Park, works yard, empty lot: no features.
    Vacant,
    /// A walled residential compound with gates.
    Gated,
    /// An open residential block (compound not walled, no gates).
    Open,
    /// A walled school, clinic or office compound.
    Institution(InstitutionKind),
    /// Shops along the roads, no compound.
    Commercial,
}

#[derive(Debug, Clone)]
pub(crate) struct BlockPlan {
    pub usage: Use,
    pub buildings: Vec<BuildingPlan>,
    /// The compound outline (`BL BM BR TR TM TL`, local metres).
    pub wall: [[f64; 2]; 6],
}

impl BlockPlan {
    pub fn has_compound(&self) -> bool {
        !matches!(self.usage, Use::Vacant | Use::Commercial)
    }

    pub fn households(&self) -> u32 {
        self.buildings.iter().map(|b| b.households).sum()
    }
}

/// The largest axis-aligned rectangle `[x0, x1, y0, y1]` inside the compound hexagon, less a
/// margin: left of both right vertices, right of both left ones, above the whole bottom chain
/// and below the whole top chain.
fn yard(wall: &[[f64; 2]; 6]) -> Option<[f64; 4]> {
    let [bl, bm, br, tr, tm, tl] = *wall;
    let x0 = bl[0].max(tl[0]) + YARD_MARGIN_M;
    let x1 = br[0].min(tr[0]) - YARD_MARGIN_M;
    let y0 = bl[1].max(bm[1]).max(br[1]) + YARD_MARGIN_M;
    let y1 = tl[1].min(tm[1]).min(tr[1]) - YARD_MARGIN_M;
    (x1 - x0 >= 20.0 && y1 - y0 >= 14.0).then_some([x0, x1, y0, y1])
}

/// Rows of slab buildings facing south, as Chinese estates are laid out for winter sun.
fn slabs(yard: [f64; 4], rng: &mut ChaCha8Rng, max_rows: usize, max_units: u32) -> Vec<BuildingPlan> {
    let [x0, x1, y0, y1] = yard;
    let depth = rng.random_range(10.5..12.5);
    let unit_w = rng.random_range(12.5..14.5);
    let spacing = rng.random_range(15.0..21.0);
    let mut rows = (((y1 - y0) + spacing) / (depth + spacing)).floor() as usize;
    rows = rows.min(max_rows);
    if rows >= 2 && rng.random_bool(0.25) {
        rows -= 1; // a garden instead of a row
    }
    if rows == 0 || x1 - x0 < 2.0 * unit_w {
        return vec![];
    }
    let gap = if rows > 1 { ((y1 - y0) - rows as f64 * depth) / (rows - 1) as f64 } else { 0.0 };
    let y_first = if rows > 1 { y0 } else { (y0 + y1 - depth) / 2.0 };
    let angle: f64 = if rng.random_bool(0.25) { rng.random_range(-10.0f64..10.0).to_radians() } else { 0.0 };
    let mut out = Vec::new();
    for r in 0..rows {
        let y = y_first + r as f64 * (depth + gap);
        let mut x = x0;
        loop {
            let room = ((x1 - x) / unit_w).floor() as u32;
            if room < 2 {
                break;
            }
            let units = rng.random_range(2..=room.min(max_units));
            let len = units as f64 * unit_w;
            let mut rect = Rect { c: [x + len / 2.0, y + depth / 2.0], u: [1.0, 0.0], a: len / 2.0, b: depth / 2.0 };
            let turned = Rect { u: [angle.cos(), angle.sin()], ..rect };
            if angle != 0.0 && turned.inside(yard) {
                rect = turned;
            }
            let floors = [5, 6, 6, 7][rng.random_range(0..4)];
            out.push(BuildingPlan {
                rect,
                kind: BuildingKind::Residential,
                floors,
                units,
                households: 2 * units * floors,
                population: 0,
                fronts: None,
            });
            x += len + rng.random_range(8.0..14.0);
            if rng.random_bool(0.12) {
                x += 20.0; // a gap for a car park or a playground
            }
        }
    }
    out
}

/// Shops along the block sides in `sides`, inside the yard.
fn shops(yard: [f64; 4], sides: &[Side], rng: &mut ChaCha8Rng) -> Vec<BuildingPlan> {
    let [x0, x1, y0, y1] = yard;
    let depth = rng.random_range(12.0..16.0);
    let mut out = Vec::new();
    let mut placed: Vec<Side> = Vec::new();
    for &side in sides {
        // Opposite rows must not meet in a narrow yard.
        let (opposite, room) = match side {
            Side::Bottom => (Side::Top, y1 - y0),
            Side::Top => (Side::Bottom, y1 - y0),
            Side::Left => (Side::Right, x1 - x0),
            Side::Right => (Side::Left, x1 - x0),
        };
        if placed.contains(&side) || (placed.contains(&opposite) && room < 2.0 * depth + 6.0) {
            continue;
        }
        placed.push(side);
        // (start, end) along the side, the fixed coordinate of the shop centre line, axis u.
        let (from, to, fixed, u) = match side {
            Side::Bottom => (x0, x1, y0 + depth / 2.0, [1.0, 0.0]),
            Side::Top => (x0, x1, y1 - depth / 2.0, [1.0, 0.0]),
            // Left and right rows keep clear of the bottom and top rows' corners.
            Side::Left => (y0 + depth + 4.0, y1 - depth - 4.0, x0 + depth / 2.0, [0.0, 1.0]),
            Side::Right => (y0 + depth + 4.0, y1 - depth - 4.0, x1 - depth / 2.0, [0.0, 1.0]),
        };
        let mut at = from;
        loop {
            let width = rng.random_range(14.0..26.0);
            if at + width > to {
                break;
            }
            if rng.random_bool(0.15) {
                at += width; // an empty plot
                continue;
            }
            let mid = at + width / 2.0;
            let c = if u[0] == 1.0 { [mid, fixed] } else { [fixed, mid] };
            let floors = [1, 1, 2, 2, 3][rng.random_range(0..5)];
            let households = if floors >= 2 && rng.random_bool(0.35) { floors - 1 } else { 0 };
            out.push(BuildingPlan {
                rect: Rect { c, u, a: width / 2.0, b: depth / 2.0 },
                kind: BuildingKind::Shop,
                floors,
                units: 1,
                households,
                population: 0,
                fronts: Some(side),
            });
            at += width + rng.random_range(0.5..3.0);
        }
    }
    out
}

/// Plans every block of the lattice so that the district holds about `households_target`
/// households at about `people_per_household` each.
pub(crate) fn plan_blocks(
    lat: &Lattice,
    roads: &Roads,
    seed: u64,
    households_target: u32,
    people_per_household: f64,
) -> Vec<BlockPlan> {
    let n = lat.blocks.len();
    let mut plans: Vec<BlockPlan> = (0..n as u32)
        .map(|b| {
            let hex = lat.hexagon(b);
            let c = polygon_centroid(&hex);
            let wall = hex.map(|p| [c[0] + COMPOUND_SCALE * (p[0] - c[0]), c[1] + COMPOUND_SCALE * (p[1] - c[1])]);
            BlockPlan { usage: Use::Vacant, buildings: vec![], wall }
        })
        .collect();
    let block_rng = |b: usize, stage: u64| item_stream(seed, stage, lat.blocks[b].i as i64, lat.blocks[b].j as i64);

    // Density-weighted random order (Efraimidis-Spirakis keys u^(1/w)): central blocks first.
    let mid = lat.blocks.iter().fold([0.0, 0.0], |s, b| [s[0] + b.centre[0] / n as f64, s[1] + b.centre[1] / n as f64]);
    let r0 = (n as f64 * BLOCK_W_M * BLOCK_H_M / std::f64::consts::PI).sqrt();
    let mut order: Vec<(f64, usize)> = (0..n)
        .map(|b| {
            let c = lat.blocks[b].centre;
            let r = ((c[0] - mid[0]).hypot(c[1] - mid[1]) / r0).min(3.0);
            let w = 0.3 + (-r * r).exp();
            let u = unit(hash(seed, &[22, lat.blocks[b].i as i64, lat.blocks[b].j as i64])).max(1e-12);
            (u.powf(1.0 / w), b)
        })
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

    let mut rng = stream(seed, "uses");
    let mut total = 0u32;
    for &(_, b) in &order {
        let Some(yard) = yard(&plans[b].wall) else { continue };
        let mut brng = block_rng(b, 21);
        let plan = &mut plans[b];
        if total < households_target {
            let buildings = slabs(yard, &mut brng, 3, 6);
            if !buildings.is_empty() {
                plan.usage = if rng.random_bool(0.8) { Use::Gated } else { Use::Open };
                plan.buildings = buildings;
                total += plan.households();
                continue;
            }
        }
        let roll: f64 = rng.random();
        if roll < 0.45 {
            let blk = &lat.blocks[b];
            let mut sides: Vec<Side> =
                Side::ALL.into_iter().filter(|&s| Roads::is_main(roads.road_of(blk, s).0)).collect();
            if sides.is_empty() || rng.random_bool(0.3) {
                sides.push(Side::ALL[brng.random_range(0..4)]);
            }
            sides.dedup();
            sides.truncate(if rng.random_bool(0.5) { 1 } else { 2 });
            plan.buildings = shops(yard, &sides, &mut brng);
            plan.usage = if plan.buildings.is_empty() { Use::Vacant } else { Use::Commercial };
        } else if roll < 0.60 {
            let kind =
                [InstitutionKind::School, InstitutionKind::School, InstitutionKind::Clinic, InstitutionKind::Office]
                    [rng.random_range(0..4)];
            let mut buildings = slabs(yard, &mut brng, 2, 4);
            buildings.truncate(3);
            for bp in &mut buildings {
                bp.kind = BuildingKind::Public;
                bp.floors = brng.random_range(3..=5);
                bp.units = bp.units.min(3);
                bp.households = 0;
            }
            if !buildings.is_empty() {
                plan.usage = Use::Institution(kind);
                plan.buildings = buildings;
            }
        }
    }

    // Nudge storeys (5-7) of residential buildings until the total is on target.
    let mut diff = households_target as i64 - plans.iter().map(|p| p.households() as i64).sum::<i64>();
    let mut flats: Vec<(usize, usize)> = plans
        .iter()
        .enumerate()
        .flat_map(|(b, p)| {
            (0..p.buildings.len())
                .filter(move |&i| p.buildings[i].kind == BuildingKind::Residential)
                .map(move |i| (b, i))
        })
        .collect();
    flats.shuffle(&mut rng);
    for _pass in 0..3 {
        for &(b, i) in &flats {
            let bp = &mut plans[b].buildings[i];
            let step = 2 * bp.units as i64;
            if diff >= step && bp.floors < 7 {
                bp.floors += 1;
            } else if diff <= -step && bp.floors > 5 {
                bp.floors -= 1;
            } else {
                continue;
            }
            let before = bp.households as i64;
            bp.households = 2 * bp.units * bp.floors;
            diff -= bp.households as i64 - before;
        }
    }

    for (b, plan) in plans.iter_mut().enumerate() {
        let mut brng = block_rng(b, 24);
        for bp in &mut plan.buildings {
            let per = people_per_household + brng.random_range(-0.3..0.3);
            bp.population = (bp.households as f64 * per).round() as u32;
        }
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::hash::stream;
    use crate::model::LocalProjection;

    #[test]
    fn plans_hit_the_household_target_and_stay_in_their_yards() {
        let lat = Lattice::new(4, 600, LocalProjection::new(84.87, 45.6), &mut stream(4, "lattice"));
        let roads = Roads::new(lat.extent());
        let plans = plan_blocks(&lat, &roads, 4, 30_000, 2.6);
        let hh: u32 = plans.iter().map(BlockPlan::households).sum();
        assert!(hh.abs_diff(30_000) <= 12, "storeys are nudged onto the target: {hh}");
        for p in &plans {
            let Some(y) = yard(&p.wall) else { continue };
            for b in &p.buildings {
                assert!(b.rect.inside(y), "buildings stand in the yard");
                assert!((5..=7).contains(&b.floors) || b.kind != BuildingKind::Residential);
            }
        }
        assert!(plans.iter().any(|p| p.usage == Use::Commercial) && plans.iter().any(|p| p.usage == Use::Gated));
    }
}
