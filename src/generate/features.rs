//! Compounds, gates, buildings and entrances from the block plans, in EPSG:4326.
//!
//! Gates are inserted into the compound ring as vertices: a gate's location is bit for bit a
//! vertex of its compound's wall, so it lies on the boundary exactly (distance 0). Every
//! coordinate is rounded to 7 decimals.
//!
//! Ids are given in grid code order (and reading order of blocks inside a grid), so the
//! layers read naturally and regenerate identically.

use std::collections::BTreeMap;

use geo::{Coord, LineString, Point, Polygon};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::hash::stream;
use super::lattice::{Block, Lattice};
use super::layout::{BlockPlan, BuildingKind, Use};
use super::names::{CompoundNamer, InstitutionKind};
use super::partition::reading_order;
use super::roads::{DoorNumbers, Road, Roads, Side};
use crate::model::{AccessPoint, Building, Code, Compound, Entrance, GateKind, Passer, Schedule, StandardAddress};

/// Opening hours used for side gates, as written on their signs.
const SIDE_GATE_HOURS: [&str; 6] =
    ["06:00-23:00", "06:30-22:30", "07:00-22:00", "06:00-24:00", "24h", "07:00-09:00,17:00-20:00"];

/// Where a responder can stand at a compound.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub compound_id: u32,
    pub gated: bool,
    /// Just outside the main gate (or the entry of an open block), local metres.
    pub front: [f64; 2],
}

/// The placed feature layers.
pub(crate) struct Placement {
    pub compounds: Vec<Compound>,
    pub access_points: Vec<AccessPoint>,
    pub buildings: Vec<Building>,
    pub entrances: Vec<Entrance>,
    /// Per block: its compound, if it has one.
    pub sites: Vec<Option<Site>>,
}

/// One grid's blocks, in reading order, and its community.
pub(crate) struct GridBlocks<'a> {
    pub community: &'a Code,
    pub blocks: &'a [u32],
}

/// Parses one of the fixed schedule texts below (checked by the tests in debug builds).
fn hours(text: &str) -> Schedule {
    debug_assert!(Schedule::parse(text).is_ok(), "{text:?} is not a schedule");
    Schedule::parse(text).unwrap_or_else(|_| Schedule::always())
}

fn passers(list: &[Passer]) -> Vec<Passer> {
    let mut v = list.to_vec();
    v.sort();
    v.dedup();
    v
}

/// A gate's attributes: (name stem, kind, who passes, hours, device).
type GateSpec = (String, GateKind, Vec<Passer>, Schedule, bool);

fn main_gate(usage: Use, dir: &str, rng: &mut ChaCha8Rng) -> GateSpec {
    let name = format!("{dir}门");
    match usage {
        Use::Institution(InstitutionKind::School) => {
            (name, GateKind::Both, passers(&[Passer::Staff, Passer::Police]), hours("06:30-19:30"), true)
        }
        Use::Institution(InstitutionKind::Clinic) => {
            (name, GateKind::Both, vec![Passer::Public], Schedule::always(), rng.random_bool(0.5))
        }
        Use::Institution(InstitutionKind::Office) => {
            (name, GateKind::Both, passers(&[Passer::Staff, Passer::Police]), hours("07:30-20:00"), true)
        }
        _ => {
            let mut p = vec![Passer::Residents, Passer::Staff, Passer::Police];
            if rng.random_bool(0.2) {
                p.push(Passer::Public); // an older compound whose main gate stands open
            }
            (name, GateKind::Both, passers(&p), Schedule::always(), rng.random_bool(0.85))
        }
    }
}

fn side_gate(usage: Use, dir: &str, rng: &mut ChaCha8Rng) -> GateSpec {
    match usage {
        Use::Institution(InstitutionKind::School) => (
            format!("{dir}门"),
            GateKind::Pedestrian,
            passers(&[Passer::Staff, Passer::Police]),
            hours("07:00-08:30,16:30-18:30"),
            true,
        ),
        Use::Institution(InstitutionKind::Clinic) => {
            (format!("{dir}门"), GateKind::Pedestrian, vec![Passer::Public], hours("08:00-20:00"), false)
        }
        Use::Institution(InstitutionKind::Office) => {
            (format!("{dir}门"), GateKind::Pedestrian, vec![Passer::Staff], hours("08:00-18:00"), true)
        }
        _ => {
            let roll: f64 = rng.random();
            if roll < 0.55 {
                let mut p = vec![Passer::Residents];
                for (who, prob) in [(Passer::Staff, 0.6), (Passer::Police, 0.7), (Passer::Public, 0.1)] {
                    if rng.random_bool(prob) {
                        p.push(who);
                    }
                }
                let h = SIDE_GATE_HOURS[rng.random_range(0..SIDE_GATE_HOURS.len())];
                (format!("{dir}门"), GateKind::Pedestrian, passers(&p), hours(h), rng.random_bool(0.7))
            } else if roll < 0.80 {
                let h = if rng.random_bool(0.6) { "24h" } else { "06:00-23:00" };
                (
                    format!("{dir}车行门"),
                    GateKind::Vehicle,
                    passers(&[Passer::Residents, Passer::Staff, Passer::Police]),
                    hours(h),
                    rng.random_bool(0.95),
                )
            } else if roll < 0.92 {
                let h = if rng.random_bool(0.5) { "24h" } else { "06:00-22:00" };
                (
                    format!("{dir}门"),
                    GateKind::Both,
                    passers(&[Passer::Residents, Passer::Staff, Passer::Police]),
                    hours(h),
                    rng.random_bool(0.8),
                )
            } else {
                // A fire-access gate: always unlockable by police, no card reader.
                (format!("{dir}消防门"), GateKind::Both, vec![Passer::Police], Schedule::always(), false)
            }
        }
    }
}

/// How many side gates each gated compound gets (in placement order), so that the district
/// has about `target` gates in all.
fn side_gate_counts(
    plans: &[BlockPlan],
    grids: &[GridBlocks],
    target: Option<usize>,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let gated: Vec<Use> = grids
        .iter()
        .flat_map(|g| g.blocks.iter())
        .map(|&b| plans[b as usize].usage)
        .filter(|u| matches!(u, Use::Gated | Use::Institution(_)))
        .collect();
    let residential = gated.iter().filter(|&&u| u == Use::Gated).count().max(1);
    let mut counts: Vec<usize> =
        gated.iter().map(|&u| if u == Use::Gated { 0 } else { usize::from(rng.random_bool(0.4)) }).collect();
    let fixed: usize = gated.len() + counts.iter().sum::<usize>();
    let extra = match target {
        Some(t) => t.saturating_sub(fixed),
        None => (residential as f64 * 1.3).round() as usize,
    };
    let mean = extra as f64 / residential as f64;
    for (c, &u) in counts.iter_mut().zip(&gated) {
        if u == Use::Gated {
            let base = mean.floor();
            *c = (base as usize + usize::from(rng.random_bool(mean - base))).min(3);
        }
    }
    // Settle the rounding so the total is exact (as far as 0..=3 side gates each allows).
    let mut sum: usize = counts.iter().zip(&gated).filter(|(_, &u)| u == Use::Gated).map(|(c, _)| *c).sum();
    let mut idx: Vec<usize> = (0..counts.len()).filter(|&i| gated[i] == Use::Gated).collect();
    idx.shuffle(rng);
    for &i in idx.iter().cycle().take(idx.len() * 4) {
        if sum < extra && counts[i] < 3 {
            counts[i] += 1;
            sum += 1;
        } else if sum > extra && counts[i] > 0 {
            counts[i] -= 1;
            sum -= 1;
        }
        if sum == extra {
            break;
        }
    }
    counts
}

/// Where a building's door number comes from.
enum AddressSource {
    /// Its compound's (by compound index).
    Compound(usize),
    /// Its own claim on a road (shops).
    Own(usize, Road),
}

/// The side a compound is addressed on (main roads three times as likely as streets) and the
/// wall edge of its main gate.
fn address_side(roads: &Roads, blk: &Block, rng: &mut ChaCha8Rng) -> (Side, usize) {
    let weights = Side::ALL.map(|s| if Roads::is_main(roads.road_of(blk, s).0) { 3.0 } else { 1.0 });
    let mut pick = rng.random::<f64>() * weights.iter().sum::<f64>();
    let mut side = Side::Bottom;
    for (s, w) in Side::ALL.into_iter().zip(weights) {
        side = s;
        if pick < w {
            break;
        }
        pick -= w;
    }
    let edges = side.edges();
    (side, edges[rng.random_range(0..edges.len())])
}

/// Wall edges with a gate: the main gate's first, then `side_gates` others, one per edge,
/// on the other sides of the compound before its main side.
fn gate_edges(side: Side, main_edge: usize, side_gates: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut others: Vec<(bool, u32, usize)> =
        (0..6).filter(|&e| e != main_edge).map(|e| (Side::of_edge(e) == side, rng.random::<u32>(), e)).collect();
    others.sort_unstable();
    std::iter::once(main_edge).chain(others.iter().take(side_gates).map(|o| o.2)).collect()
}

/// Places every compound, gate, building and entrance of the district.
#[allow(clippy::too_many_arguments)]
pub(crate) fn place(
    lat: &Lattice,
    roads: &Roads,
    plans: &[BlockPlan],
    grids: &[GridBlocks],
    district_name: &str,
    seed: u64,
    gates_target: Option<usize>,
    progress: &dyn Fn(&str, u64, u64),
) -> Placement {
    let mut rng = stream(seed, "features");
    let mut namer = CompoundNamer::new();
    let side_gates = side_gate_counts(plans, grids, gates_target, &mut stream(seed, "gate-counts"));
    let mut side_gate_iter = side_gates.into_iter();
    let mut out = Placement {
        compounds: vec![],
        access_points: vec![],
        buildings: vec![],
        entrances: vec![],
        sites: vec![None; plans.len()],
    };
    let mut doors = DoorNumbers::default();
    let mut claims = 0usize;
    let mut compound_address: Vec<(Road, usize)> = Vec::new();
    let mut sources: Vec<AddressSource> = Vec::new();
    let ll = |p: [f64; 2]| lat.lon_lat(p);

    for (g, grid) in grids.iter().enumerate() {
        if g % 64 == 0 {
            progress("buildings", g as u64, grids.len() as u64);
        }
        for &b in grid.blocks {
            let plan = &plans[b as usize];
            let blk = &lat.blocks[b as usize];
            let mut compound_idx = None;
            if plan.has_compound() {
                let (side, main_edge) = address_side(roads, blk, &mut rng);
                let gated = matches!(plan.usage, Use::Gated | Use::Institution(_));
                let gate_edges = if gated {
                    gate_edges(side, main_edge, side_gate_iter.next().unwrap_or(0), &mut rng)
                } else {
                    vec![main_edge] // an open block's entry: where its address is
                };
                let wall = &plan.wall;
                let mut gate_at = [None; 6];
                for &e in &gate_edges {
                    let (p, q) = (wall[e], wall[(e + 1) % 6]);
                    let t = rng.random_range(0.3..0.7);
                    gate_at[e] = Some([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
                }
                let mut ring: Vec<Coord<f64>> = Vec::with_capacity(6 + gate_edges.len() + 1);
                for e in 0..6 {
                    ring.push(ll(wall[e]));
                    if let Some(p) = gate_at[e].filter(|_| gated) {
                        ring.push(ll(p));
                    }
                }
                ring.push(ring[0]);
                let id = out.compounds.len() as u32 + 1;
                let name = match plan.usage {
                    Use::Gated => namer.residential(&mut rng),
                    Use::Open => namer.open_block(&mut rng),
                    Use::Institution(kind) => namer.institution(kind, &mut rng),
                    Use::Vacant | Use::Commercial => unreachable!("no compound"),
                };
                out.compounds.push(Compound {
                    id,
                    community: grid.community.clone(),
                    name,
                    gated,
                    geometry: Polygon::new(LineString(ring), vec![]),
                });

                let mut names_used: Vec<String> = Vec::new();
                if gated {
                    for (n, &e) in gate_edges.iter().enumerate() {
                        let dir = Side::of_edge(e).compass();
                        let (mut name, kind, passes, hours, has_device) = if n == 0 {
                            main_gate(plan.usage, dir, &mut rng)
                        } else {
                            side_gate(plan.usage, dir, &mut rng)
                        };
                        if names_used.contains(&name) {
                            name = name.replacen('门', "二门", 1);
                        }
                        names_used.push(name.clone());
                        let location = Point(ll(gate_at[e].unwrap_or(wall[e])));
                        let gid = out.access_points.len() as u32 + 1;
                        out.access_points.push(AccessPoint {
                            id: gid,
                            compound_id: id,
                            name,
                            kind,
                            passes,
                            hours,
                            has_device,
                            location,
                        });
                    }
                }
                // Address and the responders' spot: just outside the main entry.
                let (p, q) = (wall[main_edge], wall[(main_edge + 1) % 6]);
                let entry = gate_at[main_edge].unwrap_or(p);
                let len = (q[0] - p[0]).hypot(q[1] - p[1]);
                let front = [entry[0] + 3.0 * (q[1] - p[1]) / len, entry[1] - 3.0 * (q[0] - p[0]) / len];
                let (road, odd) = roads.road_of(blk, side);
                doors.claim(road, odd, Roads::position(road, entry), claims);
                compound_address.push((road, claims));
                claims += 1;
                out.sites[b as usize] = Some(Site { compound_id: id, gated, front });
                compound_idx = Some(out.compounds.len() - 1);
            }

            // Buildings, numbered in reading order within their compound.
            let centres: Vec<[f64; 2]> = plan.buildings.iter().map(|bp| bp.rect.c).collect();
            for (number, i) in reading_order(&centres, 10.0).into_iter().enumerate() {
                let bp = &plan.buildings[i];
                let id = out.buildings.len() as u32 + 1;
                let mut ring: Vec<Coord<f64>> = bp.rect.corners().iter().map(|&p| ll(p)).collect();
                ring.push(ring[0]);
                let in_compound = compound_idx.filter(|_| bp.kind != BuildingKind::Shop);
                let (compound_name, building_number) = match in_compound {
                    Some(c) => (Some(out.compounds[c].name.clone()), Some(number as u32 + 1)),
                    None => (None, None),
                };
                out.buildings.push(Building {
                    id,
                    compound_id: in_compound.map(|c| out.compounds[c].id),
                    address: StandardAddress {
                        road: String::new(),
                        door_number: 0,
                        compound: compound_name,
                        building_number,
                    },
                    address_text: String::new(),
                    floors: bp.floors,
                    units: bp.units,
                    households: bp.households,
                    population: bp.population,
                    geometry: Polygon::new(LineString(ring), vec![]),
                });
                sources.push(match in_compound {
                    Some(c) => AddressSource::Compound(c),
                    None => {
                        let (road, odd) = roads.road_of(blk, bp.fronts.unwrap_or(Side::Bottom));
                        doors.claim(road, odd, Roads::position(road, bp.rect.c), claims);
                        claims += 1;
                        AddressSource::Own(claims - 1, road)
                    }
                });
                for (u, p) in bp.entrances().into_iter().enumerate() {
                    let eid = out.entrances.len() as u32 + 1;
                    out.entrances.push(Entrance {
                        id: eid,
                        building_id: id,
                        unit: u as u32 + 1,
                        location: Point(ll(p)),
                    });
                }
            }
        }
    }

    progress("addresses", 0, 1);
    let numbers = doors.assign(claims);
    let mut road_names: BTreeMap<Road, String> = BTreeMap::new();
    for (building, source) in out.buildings.iter_mut().zip(&sources) {
        let (road, claim) = match *source {
            AddressSource::Compound(c) => compound_address[c],
            AddressSource::Own(claim, road) => (road, claim),
        };
        building.address.road = road_names.entry(road).or_insert_with(|| roads.name(road)).clone();
        building.address.door_number = numbers[claim];
        building.address_text = building.address.format(district_name);
    }
    progress("addresses", 1, 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_gate_gets_sensible_attributes() {
        let mut rng = stream(1, "gates");
        let uses = [
            Use::Gated,
            Use::Institution(InstitutionKind::School),
            Use::Institution(InstitutionKind::Clinic),
            Use::Institution(InstitutionKind::Office),
        ];
        let mut night_closed = 0;
        for usage in uses {
            let (name, kind, passes, hours, _) = main_gate(usage, "南", &mut rng);
            assert!(name.starts_with('南') && kind == GateKind::Both && !passes.is_empty());
            if usage == Use::Gated {
                assert!(hours.is_always(), "main gates of housing compounds never close");
            }
            for _ in 0..500 {
                let (name, _, passes, hours, _) = side_gate(usage, "东", &mut rng);
                assert!(name.starts_with('东') && name.ends_with('门'), "{name}");
                assert!(!passes.is_empty() && passes.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
                night_closed += usize::from(!hours.is_open(crate::model::TimeOfDay::new(3, 0).unwrap()));
            }
        }
        assert!(night_closed > 500, "many side gates are shut at 03:00");
    }
}
