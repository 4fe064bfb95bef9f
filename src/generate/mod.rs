//! Deterministic synthetic districts: the default Karamay dataset and larger benchmark cities.
//!
//! [`generate`] builds a whole [`Dataset`] from a seed. The same [`GenParams`] always give the
//! same dataset, bit for bit (no hash-map iteration order, no clock, no thread scheduling is
//! involved), and so the same files from [`crate::store::files::write_dir`].
//!
//! # Coordinates
//! Construction happens in local metres ([`LocalProjection`] centred on 84.87°E 45.60°N, x east,
//! y north). Everything in the returned dataset is EPSG:4326 (lon, lat), rounded to 7 decimals.
//!
//! # Construction, and why the regions tile exactly
//! 1. **Lattice** (`lattice.rs`): a brick (offset-row) lattice of city blocks about 150 m × 110 m,
//!    every vertex jittered once. Each block is topologically a hexagon and exactly three
//!    blocks meet at every vertex. The lattice is masked by a blobby district outline.
//! 2. **Blocks** (`layout.rs`): each block becomes a walled compound, an open residential block,
//!    a school/clinic/office compound, a row of shops or an empty lot, until the household
//!    target is met.
//! 3. **Regions** (`partition.rs`): blocks are split into subdistricts by seeded region growing
//!    over block adjacency, each subdistrict into communities, each community into 5-8 grids.
//!    Every block belongs to exactly one grid, and regions are connected.
//! 4. **Outlines** (`boundary.rs`): a region's polygon is the chain of block edges it uses once.
//!    Neighbouring regions use the *same* lattice edges with the *same* rounded vertices, so
//!    grids tile communities, communities tile subdistricts and subdistricts tile the district
//!    with no gap and no overlap, without any floating-point polygon union. Because three
//!    blocks meet at every vertex, a region's boundary never touches itself at a point, so
//!    every polygon is valid (exterior counter-clockwise, holes clockwise, RFC 7946).
//! 5. **Features** (`features.rs`): compounds are blocks shrunk to 85 % about their centroid (the
//!    rest is road), so a compound never crosses a grid boundary; gates are vertices of their
//!    compound's wall; buildings stand inside compounds or, for shops, inside their block.
//!    Door numbers run along the named roads on the lattice lines (`roads.rs`).
//! 6. **People** (`responders.rs`, `staff.rs`): responders per community and subdistrict; one
//!    grid leader per grid and about one staff member per 80 households.
//!
//! Region households and population are sums over the buildings of the region's blocks.

mod boundary;
mod features;
mod hash;
mod lattice;
mod layout;
mod names;
mod partition;
mod responders;
mod roads;
mod staff;

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};

use crate::model::{Code, CodeScheme, Dataset, DistrictInfo, LocalProjection, Region};
use features::GridBlocks;
use hash::stream;
use lattice::{Lattice, BLOCK_H_M, BLOCK_W_M, NONE};
use partition::{apportion, partition, reading_order};
use responders::Area;

/// The seed of the committed Karamay dataset (`data/karamay`).
pub const DEFAULT_SEED: u64 = 20_260_101;
/// Centre of the generated district, EPSG:4326 (lon, lat): Karamay District.
pub const CENTRE: (f64, f64) = (84.87, 45.60);
/// Grid count of the default Karamay dataset.
pub const KARAMAY_GRIDS: usize = 436;
const KARAMAY_COMMUNITIES: usize = 67;
const KARAMAY_HOUSEHOLDS: u32 = 98_000;
const KARAMAY_GATES: usize = 1_380;
/// People per household (Karamay's ~256,000 residents in ~98,000 households).
const PEOPLE_PER_HOUSEHOLD: f64 = 2.612;
/// Blocks per grid and households per grid for cities of a given grid count.
const BLOCKS_PER_GRID: f64 = 4.8;
const HOUSEHOLDS_PER_GRID: f64 = KARAMAY_HOUSEHOLDS as f64 / KARAMAY_GRIDS as f64;
/// The largest city the code scheme allows: 399 subdistricts × 399 communities × 8 grids.
pub const MAX_GRIDS: usize = 399 * 399 * 8;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenParams {
    /// Seed of every random choice. The committed data uses [`DEFAULT_SEED`].
    pub seed: u64,
    /// `None`: the Karamay dataset (6 subdistricts, 67 communities, 436 grids, ~98,000
    /// households, ~1,380 gates). `Some(n)`: a city of `n` grids (exactly `n` for every `n` from
    /// 10 up to about [`MAX_GRIDS`]; 5-8 for smaller `n`, as a community has 5-8 grids) built the same way, ~225 households a grid, for benchmarks.
    /// Subdistricts hold about 150 communities each; numbers past 099 become towns (镇) and
    /// past 199 townships (乡), community numbers past 199 villages (村).
    pub grids: Option<usize>,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams { seed: DEFAULT_SEED, grids: None }
    }
}

/// The district every generated dataset covers: 克拉玛依区, 650203.
pub fn karamay_district() -> DistrictInfo {
    DistrictInfo {
        code: Code::parse("650203").expect("650203 is a valid district code"),
        name: "克拉玛依区".into(),
        prefix: "新疆维吾尔自治区克拉玛依市".into(),
        grid_width: 2,
    }
}

/// Sizes and totals to aim for.
struct Shape {
    grids: usize,
    communities: usize,
    subdistricts: usize,
    households: u32,
    gates: Option<usize>,
}

impl Shape {
    fn of(params: &GenParams) -> Shape {
        match params.grids {
            None => Shape {
                grids: KARAMAY_GRIDS,
                communities: KARAMAY_COMMUNITIES,
                subdistricts: 6,
                households: KARAMAY_HOUSEHOLDS,
                gates: Some(KARAMAY_GATES),
            },
            Some(n) => {
                let grids = n.clamp(1, MAX_GRIDS);
                // 5-8 grids a community: any count from 10 on splits exactly.
                let (fewest, most) = (grids.div_ceil(8), (grids / 5).max(1));
                let communities = ((grids as f64 / 6.5).round() as usize).clamp(fewest.min(most), most.max(fewest));
                Shape {
                    grids,
                    communities,
                    subdistricts: communities.div_ceil(150).clamp(1, 399),
                    households: (grids as f64 * HOUSEHOLDS_PER_GRID).round() as u32,
                    gates: None,
                }
            }
        }
    }
}

/// A region while it is being built: its blocks (in reading order) and its children.
struct Node {
    blocks: Vec<u32>,
    children: Vec<Node>,
}

/// Splits `blocks` into `k` connected regions and returns them in reading order (north to
/// south, west to east), each with its blocks in reading order.
#[allow(clippy::too_many_arguments)]
fn split(
    lat: &Lattice,
    blocks: &[u32],
    k: usize,
    weight: &[f64],
    min_size: usize,
    attempts: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
    scratch: &mut [u32],
) -> Vec<Vec<u32>> {
    let labels = partition(lat, blocks, k, weight, min_size, attempts, rng, scratch);
    let k = labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut parts: Vec<Vec<u32>> = vec![Vec::new(); k];
    for (&b, &l) in blocks.iter().zip(&labels) {
        parts[l as usize].push(b);
    }
    parts.retain(|p| !p.is_empty());
    let centre = |p: &Vec<u32>| {
        let s = p.iter().fold([0.0, 0.0], |s, &b| {
            [s[0] + lat.blocks[b as usize].centre[0], s[1] + lat.blocks[b as usize].centre[1]]
        });
        [s[0] / p.len() as f64, s[1] / p.len() as f64]
    };
    let centres: Vec<[f64; 2]> = parts.iter().map(centre).collect();
    let band = (blocks.len() as f64 * BLOCK_W_M * BLOCK_H_M / parts.len().max(1) as f64).sqrt();
    reading_order(&centres, band)
        .into_iter()
        .map(|i| {
            let mut p = std::mem::take(&mut parts[i]);
            let cs: Vec<[f64; 2]> = p.iter().map(|&b| lat.blocks[b as usize].centre).collect();
            p = reading_order(&cs, BLOCK_H_M * 0.5).into_iter().map(|j| p[j]).collect();
            p
        })
        .collect()
}

/// Generates a whole dataset. Deterministic: the same `params` give an identical [`Dataset`].
/// `progress(stage, done, total)` is called as work proceeds (for a progress bar).
/// All geometry is EPSG:4326.
pub fn generate(params: &GenParams, progress: &dyn Fn(&str, u64, u64)) -> Dataset {
    let seed = params.seed;
    let shape = Shape::of(params);
    let district = karamay_district();
    let scheme = CodeScheme::new(district.grid_width).unwrap_or_default();
    let proj = LocalProjection::new(CENTRE.0, CENTRE.1);

    progress("lattice", 0, 1);
    let target_blocks = ((shape.grids as f64 * BLOCKS_PER_GRID).round() as usize).max(shape.grids + 2);
    let lat = Lattice::new(seed, target_blocks, proj, &mut stream(seed, "lattice"));
    let roads = roads::Roads::new(lat.extent());
    progress("lattice", 1, 1);

    progress("blocks", 0, 1);
    let plans = layout::plan_blocks(&lat, &roads, seed, shape.households, PEOPLE_PER_HOUSEHOLD);
    progress("blocks", 1, 1);
    // Regions are balanced by households, with empty blocks counting a little so that
    // thinly settled grids are larger rather than empty.
    let weight: Vec<f64> = plans.iter().map(|p| p.households() as f64 + 20.0).collect();

    // Subdistricts → communities → grids.
    let mut rng = stream(seed, "regions");
    let mut scratch = vec![NONE; lat.blocks.len()];
    let all: Vec<u32> = (0..lat.blocks.len() as u32).collect();
    let wsum = |blocks: &[u32]| blocks.iter().map(|&b| weight[b as usize]).sum::<f64>();
    let subs = split(&lat, &all, shape.subdistricts, &weight, 20, 3, &mut rng, &mut scratch);
    let sub_w: Vec<f64> = subs.iter().map(|s| wsum(s)).collect();
    let com_counts = apportion(
        shape.communities,
        &sub_w,
        &vec![1; subs.len()],
        &subs.iter().map(|s| (s.len() / 5).clamp(1, 399)).collect::<Vec<_>>(),
    );
    let grid_counts = apportion(
        shape.grids,
        &sub_w,
        &com_counts.iter().map(|&c| 5 * c).collect::<Vec<_>>(),
        &com_counts.iter().zip(&subs).map(|(&c, s)| (8 * c).min(s.len())).collect::<Vec<_>>(),
    );
    let mut tree: Vec<Node> = Vec::with_capacity(subs.len());
    for (s, sub_blocks) in subs.iter().enumerate() {
        progress("regions", s as u64, subs.len() as u64);
        let coms = split(&lat, sub_blocks, com_counts[s], &weight, 10, 4, &mut rng, &mut scratch);
        let com_w: Vec<f64> = coms.iter().map(|c| wsum(c)).collect();
        let per_com = apportion(
            grid_counts[s],
            &com_w,
            &vec![5; coms.len()],
            &coms.iter().map(|c| c.len().clamp(1, 8)).collect::<Vec<_>>(),
        );
        let children = coms
            .into_iter()
            .zip(per_com)
            .map(|(com_blocks, g)| {
                let grids = split(&lat, &com_blocks, g, &weight, 1, 12, &mut rng, &mut scratch);
                Node {
                    blocks: com_blocks,
                    children: grids.into_iter().map(|blocks| Node { blocks, children: vec![] }).collect(),
                }
            })
            .collect();
        tree.push(Node { blocks: sub_blocks.clone(), children });
    }
    progress("regions", subs.len() as u64, subs.len() as u64);

    // Codes, names and per-block labels at each level.
    let n_com: usize = tree.iter().map(|s| s.children.len()).sum();
    let stems = names::community_stems(n_com, &mut stream(seed, "community-names"));
    let (mut sub_of, mut com_of, mut grid_of) =
        (vec![NONE; lat.blocks.len()], vec![NONE; lat.blocks.len()], vec![NONE; lat.blocks.len()]);
    let mut sub_meta: Vec<(Code, String)> = Vec::new();
    let mut com_meta: Vec<(Code, String, usize)> = Vec::new();
    let mut grid_meta: Vec<(Code, String, usize)> = Vec::new();
    for (s, sub) in tree.iter().enumerate() {
        let code = district.code.child(s as u32 + 1, scheme).expect("at most 399 subdistricts");
        let name = if params.grids.is_none() {
            names::KARAMAY_SUBDISTRICTS[s].to_string()
        } else {
            names::subdistrict_name(s + 1)
        };
        for &b in &sub.blocks {
            sub_of[b as usize] = s as u32;
        }
        for (c, com) in sub.children.iter().enumerate() {
            let com_code = code.child(c as u32 + 1, scheme).expect("at most 399 communities");
            let suffix = if c < 199 { "社区" } else { "村" };
            let com_name = format!("{}{suffix}", stems[com_meta.len()]);
            let ci = com_meta.len();
            for &b in &com.blocks {
                com_of[b as usize] = ci as u32;
            }
            for (g, grid) in com.children.iter().enumerate() {
                let grid_code = scheme.grid_code(&com_code, g as u32 + 1).expect("at most 8 grids");
                for &b in &grid.blocks {
                    grid_of[b as usize] = grid_meta.len() as u32;
                }
                grid_meta.push((grid_code, names::grid_name(&com_name, g + 1), ci));
            }
            com_meta.push((com_code, com_name, s));
        }
        sub_meta.push((code, name));
    }

    // Regions with outlines and totals.
    let valid_from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
    let region = |code: &Code, name: &str, households: u32, population: u32, geometry| Region {
        code: code.clone(),
        name: name.to_string(),
        households,
        population,
        valid_from,
        valid_to: None,
        version: 1,
        geometry,
    };
    let grid_nodes: Vec<&Node> = tree.iter().flat_map(|s| s.children.iter()).flat_map(|c| c.children.iter()).collect();
    let mut grids: Vec<Region> = Vec::with_capacity(grid_meta.len());
    for (g, node) in grid_nodes.iter().enumerate() {
        if g % 256 == 0 {
            progress("outlines", g as u64, grid_nodes.len() as u64);
        }
        let hh = node.blocks.iter().map(|&b| plans[b as usize].households()).sum();
        let pop = node.blocks.iter().flat_map(|&b| plans[b as usize].buildings.iter()).map(|bp| bp.population).sum();
        let outline = boundary::region_outline(&lat, &node.blocks, |nb| grid_of[nb as usize] == g as u32);
        grids.push(region(&grid_meta[g].0, &grid_meta[g].1, hh, pop, outline));
    }
    // Totals roll up: a community is the sum of its grids, a subdistrict of its communities.
    let mut com_totals = vec![(0u32, 0u32); com_meta.len()];
    for (r, m) in grids.iter().zip(&grid_meta) {
        com_totals[m.2].0 += r.households;
        com_totals[m.2].1 += r.population;
    }
    let mut communities: Vec<Region> = Vec::with_capacity(com_meta.len());
    let com_nodes: Vec<&Node> = tree.iter().flat_map(|s| s.children.iter()).collect();
    for (c, node) in com_nodes.iter().enumerate() {
        let (hh, pop) = com_totals[c];
        let outline = boundary::region_outline(&lat, &node.blocks, |nb| com_of[nb as usize] == c as u32);
        communities.push(region(&com_meta[c].0, &com_meta[c].1, hh, pop, outline));
    }
    let mut sub_totals = vec![(0u32, 0u32); sub_meta.len()];
    for (r, m) in communities.iter().zip(&com_meta) {
        sub_totals[m.2].0 += r.households;
        sub_totals[m.2].1 += r.population;
    }
    let mut subdistricts: Vec<Region> = Vec::with_capacity(sub_meta.len());
    for (s, node) in tree.iter().enumerate() {
        let (hh, pop) = sub_totals[s];
        let outline = boundary::region_outline(&lat, &node.blocks, |nb| sub_of[nb as usize] == s as u32);
        subdistricts.push(region(&sub_meta[s].0, &sub_meta[s].1, hh, pop, outline));
    }
    progress("outlines", grid_nodes.len() as u64, grid_nodes.len() as u64);

    let grid_blocks: Vec<GridBlocks> = grid_nodes
        .iter()
        .zip(&grid_meta)
        .map(|(n, m)| GridBlocks { community: &com_meta[m.2].0, blocks: &n.blocks })
        .collect();
    let placed = features::place(&lat, &roads, &plans, &grid_blocks, &district.name, seed, shape.gates, progress);

    progress("responders", 0, 1);
    let com_areas: Vec<Area> =
        com_nodes.iter().zip(&com_meta).map(|(n, m)| Area { name: &m.1, blocks: &n.blocks }).collect();
    let sub_areas: Vec<Area> =
        tree.iter().zip(&sub_meta).map(|(n, m)| Area { name: &m.1, blocks: &n.blocks }).collect();
    let responders = responders::place_responders(&lat, &roads, &plans, &placed.sites, &com_areas, &sub_areas, seed);
    progress("responders", 1, 1);

    progress("staff", 0, 1);
    let mut pairs: BTreeSet<(u32, u32)> = BTreeSet::new();
    for (b, blk) in lat.blocks.iter().enumerate() {
        for nb in blk.nbr {
            if nb != NONE && grid_of[nb as usize] != grid_of[b] && com_of[nb as usize] == com_of[b] {
                pairs.insert((grid_of[b], grid_of[nb as usize]));
            }
        }
    }
    let mut neighbours = vec![Vec::new(); grids.len()];
    for (a, b) in pairs {
        neighbours[a as usize].push(b as usize);
    }
    let grid_hh: Vec<(&Code, u32)> = grids.iter().map(|g| (&g.code, g.households)).collect();
    let staff = staff::staff(&grid_hh, &neighbours, seed);
    progress("staff", 1, 1);

    Dataset {
        district,
        subdistricts: subdistricts.into(),
        communities: communities.into(),
        grids: grids.into(),
        compounds: placed.compounds.into(),
        access_points: placed.access_points.into(),
        buildings: placed.buildings.into(),
        entrances: placed.entrances.into(),
        responders: responders.into(),
        staff: staff.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_cities_still_have_a_whole_community() {
        for n in [0, 1, 4, 5, 8, 9] {
            let data = generate(&GenParams { seed: 2, grids: Some(n) }, &|_, _, _| {});
            assert_eq!(data.grids.len(), n.clamp(5, 8), "one community of 5-8 grids");
            assert_eq!(data.communities.len(), 1);
        }
        let data = generate(&GenParams { seed: 2, grids: Some(10) }, &|_, _, _| {});
        assert_eq!((data.grids.len(), data.communities.len()), (10, 2));
    }

    #[test]
    fn small_city_has_exactly_the_grids_asked_for() {
        let data = generate(&GenParams { seed: 1, grids: Some(60) }, &|_, _, _| {});
        assert_eq!(data.grids.len(), 60);
        for c in &data.communities {
            let n = data.grids.iter().filter(|g| g.code.parent().as_ref() == Some(&c.code)).count();
            assert!((5..=8).contains(&n), "{} has {n} grids", c.code);
        }
        let hh: u32 = data.grids.iter().map(|g| g.households).sum();
        assert_eq!(hh, data.subdistricts.iter().map(|s| s.households).sum::<u32>());
    }
}
