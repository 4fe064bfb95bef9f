//! Staged response forces: joint-defence teams (联防队), service stations (服务站), police
//! posts (警务站) and patrols (巡逻队), in EPSG:4326.
//!
//! Each community has a joint-defence team (inside one of its gated compounds or just outside
//! its main gate) and every other community a service station; each subdistrict has two or
//! three police posts and a patrol on its main roads. Road spots are 3 m in from a road's
//! centreline (a lattice edge), on the street, so they never sit on a grid boundary.

use std::collections::BTreeSet;

use geo::Point;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::features::Site;
use super::hash::stream;
use super::lattice::{polygon_centroid, Lattice};
use super::layout::{BlockPlan, Use};
use super::roads::{Roads, Side};
use crate::model::{Responder, ResponderKind, Schedule, TravelMode};

/// A named area and its blocks.
pub(crate) struct Area<'a> {
    pub name: &'a str,
    pub blocks: &'a [u32],
}

/// A point on the street 3 m in from the centreline of block `b`'s edge `e`, at `t` along it.
fn road_spot(lat: &Lattice, b: u32, e: usize, t: f64) -> [f64; 2] {
    let blk = &lat.blocks[b as usize];
    let (p, q) = (lat.xy[blk.verts[e] as usize], lat.xy[blk.verts[(e + 1) % 6] as usize]);
    let len = (q[0] - p[0]).hypot(q[1] - p[1]);
    // Left of a counter-clockwise edge is inside the block.
    [p[0] + t * (q[0] - p[0]) - 3.0 * (q[1] - p[1]) / len, p[1] + t * (q[1] - p[1]) + 3.0 * (q[0] - p[0]) / len]
}

/// Parses one of the fixed duty texts below (checked by the tests in debug builds).
fn schedule(text: &str) -> Schedule {
    debug_assert!(Schedule::parse(text).is_ok(), "{text:?} is not a schedule");
    Schedule::parse(text).unwrap_or_else(|_| Schedule::always())
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, options: &[(T, f64)]) -> T {
    let total: f64 = options.iter().map(|o| o.1).sum();
    let mut x = rng.random::<f64>() * total;
    for &(v, w) in options {
        if x < w {
            return v;
        }
        x -= w;
    }
    options[options.len() - 1].0
}

/// Places the responders of every community and subdistrict.
pub(crate) fn place_responders(
    lat: &Lattice,
    roads: &Roads,
    plans: &[BlockPlan],
    sites: &[Option<Site>],
    communities: &[Area],
    subdistricts: &[Area],
    seed: u64,
) -> Vec<Responder> {
    let mut rng = stream(seed, "responders");
    let mut out: Vec<Responder> = Vec::new();
    let push = |out: &mut Vec<Responder>, kind, name: String, mode, headcount, duty: &str, at: [f64; 2]| {
        let id = out.len() as u32 + 1;
        out.push(Responder { id, kind, name, mode, headcount, duty: schedule(duty), location: Point(lat.lon_lat(at)) });
    };
    let any_road_spot = |rng: &mut ChaCha8Rng, blocks: &[u32]| {
        let b = blocks[rng.random_range(0..blocks.len())];
        road_spot(lat, b, rng.random_range(0..6), rng.random_range(0.2..0.8))
    };

    for (c, com) in communities.iter().enumerate() {
        if com.blocks.is_empty() {
            continue;
        }
        let gated: Vec<&Site> =
            com.blocks.iter().filter_map(|&b| sites[b as usize].as_ref()).filter(|s| s.gated).collect();
        let at = if gated.is_empty() {
            any_road_spot(&mut rng, com.blocks)
        } else {
            let site = gated[rng.random_range(0..gated.len())];
            if rng.random_bool(0.5) {
                site.front
            } else {
                // Inside the walls, at the middle of the compound: it must pass a gate to get out.
                let b = com
                    .blocks
                    .iter()
                    .find(|&&b| sites[b as usize].as_ref().is_some_and(|s| s.compound_id == site.compound_id));
                b.map_or(site.front, |&b| polygon_centroid(&plans[b as usize].wall))
            }
        };
        let mode = pick(&mut rng, &[(TravelMode::Walk, 0.35), (TravelMode::Run, 0.15), (TravelMode::Ebike, 0.5)]);
        let duty = pick(&mut rng, &[("24h", 0.3), ("07:00-23:00", 0.4), ("19:00-07:00", 0.3)]);
        let headcount = rng.random_range(4..=10);
        push(&mut out, ResponderKind::JointDefence, format!("{}联防队", com.name), mode, headcount, duty, at);

        if c % 2 == 0 {
            let open: Vec<u32> = com
                .blocks
                .iter()
                .copied()
                .filter(|&b| matches!(plans[b as usize].usage, Use::Open | Use::Commercial))
                .collect();
            let at = match open.first() {
                Some(&b) => match &sites[b as usize] {
                    Some(site) => site.front,
                    None => road_spot(lat, b, rng.random_range(0..6), 0.5),
                },
                None => any_road_spot(&mut rng, com.blocks),
            };
            let mode = pick(&mut rng, &[(TravelMode::Walk, 0.6), (TravelMode::Ebike, 0.4)]);
            let duty = pick(&mut rng, &[("08:00-20:00", 0.5), ("09:00-21:00", 0.3), ("08:30-18:30", 0.2)]);
            let headcount = rng.random_range(2..=4);
            push(&mut out, ResponderKind::ServiceStation, format!("{}便民服务站", com.name), mode, headcount, duty, at);
        }
    }

    let mut names: BTreeSet<String> = BTreeSet::new();
    for sub in subdistricts {
        // Block sides on main roads: where police posts and patrols stand.
        let on_main: Vec<(u32, Side)> = sub
            .blocks
            .iter()
            .flat_map(|&b| Side::ALL.into_iter().map(move |s| (b, s)))
            .filter(|&(b, s)| Roads::is_main(roads.road_of(&lat.blocks[b as usize], s).0))
            .collect();
        if on_main.is_empty() || sub.blocks.is_empty() {
            continue;
        }
        let posts = 2 + usize::from(rng.random_bool(0.5));
        for n in 0..=posts {
            let (b, side) = on_main[rng.random_range(0..on_main.len())];
            let edges = side.edges();
            let e = edges[rng.random_range(0..edges.len())];
            // Posts stand near a crossing; patrols anywhere along the road.
            let t = if n < posts { [0.1, 0.9][rng.random_range(0..2)] } else { rng.random_range(0.2..0.8) };
            let at = road_spot(lat, b, e, t);
            let road = roads.name(roads.road_of(&lat.blocks[b as usize], side).0);
            if n < posts {
                let mut name = format!("{}{road}警务站", sub.name);
                let mut k = 2;
                while names.contains(&name) {
                    name = format!("{}{road}第{}警务站", sub.name, super::names::chinese_number(k));
                    k += 1;
                }
                names.insert(name.clone());
                let mode = pick(&mut rng, &[(TravelMode::Car, 0.5), (TravelMode::Ebike, 0.5)]);
                let headcount = rng.random_range(3..=6);
                push(&mut out, ResponderKind::PolicePost, name, mode, headcount, "24h", at);
            } else {
                let mode = pick(&mut rng, &[(TravelMode::Car, 0.6), (TravelMode::Ebike, 0.4)]);
                let duty = pick(&mut rng, &[("24h", 0.5), ("18:00-06:00", 0.5)]);
                let headcount = rng.random_range(2..=4);
                push(&mut out, ResponderKind::Patrol, format!("{}巡逻队", sub.name), mode, headcount, duty, at);
            }
        }
    }
    out
}
