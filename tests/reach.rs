//! Response circles and coverage (issue 4): hand-made maps with answers worked out by hand, an
//! exact brute force to compare with, coverage invariants on the Karamay data, and the HTTP API.
//!
//! Hand-made maps are drawn in local metres around 84.87°E 45.60°N (x east, y north) and
//! stored in EPSG:4326, as every dataset is. Default travel model: walk 1.4 m/s after 5 s,
//! run 3.5 m/s after 10 s, e-bike 6 m/s after 20 s, car 8 m/s after 30 s.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use geo::{
    Contains, GeodesicArea, InteriorPoint, Intersects, LineString, MultiPolygon, Point, Polygon, Relate, Validation,
};
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::auth::{NewToken, Role};
use gridmap::index::{Live, Snapshot};
use gridmap::model::{
    AccessPoint, Building, Code, Compound, Dataset, DistrictInfo, Entrance, GateKind, LocalProjection, Passer, Region,
    Responder, ResponderKind, Schedule, StandardAddress, TimeOfDay, TravelMode,
};
use gridmap::reach::{CacheUse, ReachConfig, ReachIndex};
use gridmap::store::gpkg::GpkgStore;
use http_body_util::BodyExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tower::ServiceExt;

const WALK_SPEED: f64 = 1.4;
const WALK_START: f64 = 5.0;

fn t(s: &str) -> TimeOfDay {
    TimeOfDay::parse(s).unwrap()
}

/// A map drawn in local metres.
struct Map {
    proj: LocalProjection,
    data: Dataset,
}

impl Map {
    fn new() -> Map {
        let district = DistrictInfo {
            code: Code::parse("650203").unwrap(),
            name: "克拉玛依区".into(),
            prefix: "新疆维吾尔自治区克拉玛依市".into(),
            grid_width: 2,
        };
        Map { proj: LocalProjection::new(84.87, 45.6), data: Dataset::empty(district) }
    }

    fn pt(&self, x: f64, y: f64) -> Point<f64> {
        let (lon, lat) = self.proj.to_lon_lat(x, y);
        Point::new(lon, lat)
    }

    fn poly(&self, ring: &[(f64, f64)]) -> Polygon<f64> {
        let mut c: Vec<(f64, f64)> = ring.iter().map(|&(x, y)| self.proj.to_lon_lat(x, y)).collect();
        c.push(c[0]);
        Polygon::new(LineString::from(c), vec![])
    }

    fn compound(&mut self, id: u32, gated: bool, ring: &[(f64, f64)]) {
        let geometry = self.poly(ring);
        self.data.compounds.push(Compound {
            id,
            community: Code::parse("650203001001").unwrap(),
            name: format!("小区{id}"),
            gated,
            geometry,
        });
    }

    fn gate(&mut self, id: u32, compound_id: u32, at: (f64, f64), kind: GateKind, passes: &[Passer], hours: &str) {
        let location = self.pt(at.0, at.1);
        self.data.access_points.push(AccessPoint {
            id,
            compound_id,
            name: format!("门{id}"),
            kind,
            passes: passes.to_vec(),
            hours: Schedule::parse(hours).unwrap(),
            has_device: true,
            location,
        });
    }

    fn building(&mut self, id: u32, compound_id: Option<u32>, ring: &[(f64, f64)], households: u32) {
        let geometry = self.poly(ring);
        self.data.buildings.push(Building {
            id,
            compound_id,
            address: StandardAddress {
                road: "测试路".into(), door_number: id, compound: None, building_number: None
            },
            address_text: format!("测试路{id}号"),
            floors: 6,
            units: 1,
            households,
            population: households * 2,
            geometry,
        });
    }

    fn entrance(&mut self, id: u32, building_id: u32, at: (f64, f64)) {
        let location = self.pt(at.0, at.1);
        self.data.entrances.push(Entrance { id, building_id, unit: id, location });
    }

    fn responder(&mut self, id: u32, kind: ResponderKind, mode: TravelMode, duty: &str, at: (f64, f64)) {
        let location = self.pt(at.0, at.1);
        self.data.responders.push(Responder {
            id,
            kind,
            name: format!("队{id}"),
            mode,
            headcount: 4,
            duty: Schedule::parse(duty).unwrap(),
            location,
        });
    }

    fn region(&self, code: &str, ring: &[(f64, f64)]) -> Region {
        Region {
            code: Code::parse(code).unwrap(),
            name: format!("区域{code}"),
            households: 0,
            population: 0,
            valid_from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            valid_to: None,
            version: 1,
            geometry: MultiPolygon(vec![self.poly(ring)]),
        }
    }

    /// One subdistrict, one community, and grids split west to east at `cuts` (x, metres).
    fn regions(&mut self, bbox: [f64; 4], cuts: &[f64]) {
        let rect = |x0: f64, x1: f64| [(x0, bbox[1]), (x1, bbox[1]), (x1, bbox[3]), (x0, bbox[3])];
        let whole = rect(bbox[0], bbox[2]);
        self.data.subdistricts = vec![self.region("650203001", &whole)].into();
        self.data.communities = vec![self.region("650203001001", &whole)].into();
        let mut xs = vec![bbox[0]];
        xs.extend_from_slice(cuts);
        xs.push(bbox[2]);
        self.data.grids = xs
            .windows(2)
            .enumerate()
            .map(|(i, w)| self.region(&format!("6502030010010{}", i + 1), &rect(w[0], w[1])))
            .collect();
    }

    fn index(&self) -> ReachIndex {
        ReachIndex::build_with(&self.data, &self.proj, ReachConfig::default())
    }

    fn ll(&self, x: f64, y: f64) -> (f64, f64) {
        self.proj.to_lon_lat(x, y)
    }
}

/// A walled compound 400 m × 100 m (south wall on y = 0) with
/// * gate 1 at (350, 0): both kinds, public, always open — 300 m east of the crossing point;
/// * gate 2 at (60, 0): pedestrian, residents and police only, open 06:00-23:00;
/// * a building (200..260, 40..60) inside.
///
/// Responders: 1, a joint-defence team on foot at (50, -25), 50 m from the target (50, 25)
/// across the wall; 2, a police post on foot at the same spot; 3, a joint-defence team on foot
/// inside the compound at (90, 65); 4, on foot inside at (230, 20), south of the building.
fn wall_map() -> Map {
    let mut m = Map::new();
    m.compound(1, true, &[(0.0, 0.0), (400.0, 0.0), (400.0, 100.0), (0.0, 100.0)]);
    m.gate(1, 1, (350.0, 0.0), GateKind::Both, &[Passer::Public], "24h");
    m.gate(2, 1, (60.0, 0.0), GateKind::Pedestrian, &[Passer::Residents, Passer::Police], "06:00-23:00");
    m.building(1, Some(1), &[(200.0, 40.0), (260.0, 40.0), (260.0, 60.0), (200.0, 60.0)], 12);
    m.entrance(1, 1, (230.0, 60.0));
    m.responder(1, ResponderKind::JointDefence, TravelMode::Walk, "24h", (50.0, -25.0));
    m.responder(2, ResponderKind::PolicePost, TravelMode::Walk, "24h", (50.0, -25.0));
    m.responder(3, ResponderKind::JointDefence, TravelMode::Walk, "24h", (90.0, 65.0));
    m.responder(4, ResponderKind::JointDefence, TravelMode::Walk, "24h", (230.0, 20.0));
    m
}

fn walk_s(d: f64) -> f64 {
    WALK_START + d / WALK_SPEED
}

fn close(a: f64, b: f64, why: &str) {
    assert!((a - b).abs() < 1e-6, "{why}: got {a}, expected {b}");
}

#[test]
fn fifty_metres_across_a_wall_with_the_gate_300_m_away_is_not_one_minute_on_foot() {
    let m = wall_map();
    let idx = m.index();
    let (lon, lat) = m.ll(50.0, 25.0);
    // Out to gate 1 and back: twice the hypotenuse of 300 m along and 25 m across.
    let d = 2.0 * (300.0f64 * 300.0 + 25.0 * 25.0).sqrt();
    let a = idx.travel(0, lon, lat, 600.0, t("08:00")).expect("reachable within ten minutes");
    close(a.distance_m, d, "around through gate 1");
    close(a.travel_s, walk_s(d), "5 s start-up plus 602 m at 1.4 m/s");
    assert_eq!(a.via_gates, vec![1], "the volunteer may not use the residents-and-police gate 2");
    assert!(idx.travel(0, lon, lat, 60.0, t("08:00")).is_none(), "435 s is not within one minute");
    let ids: Vec<u32> = idx.response(lon, lat, 60.0, t("08:00")).iter().map(|a| a.id).collect();
    assert!(!ids.contains(&1), "50 m as the crow flies does not count: {ids:?}");
}

#[test]
fn police_pass_a_residents_only_gate_that_volunteers_from_outside_cannot() {
    let m = wall_map();
    let idx = m.index();
    let (lon, lat) = m.ll(50.0, 25.0);
    let police = idx.travel(1, lon, lat, 60.0, t("08:00")).expect("police use gate 2");
    // 10 m along and 25 m across, twice.
    close(police.distance_m, 2.0 * (100.0f64 + 625.0).sqrt(), "through gate 2");
    close(police.travel_s, walk_s(2.0 * 725.0f64.sqrt()), "43.5 s");
    assert_eq!(police.via_gates, vec![2]);
    let volunteer = idx.travel(0, lon, lat, 600.0, t("08:00")).unwrap();
    assert_eq!(volunteer.via_gates, vec![1], "staff are not let through gate 2");
    assert!(volunteer.travel_s > 400.0);
}

#[test]
fn closing_the_near_gate_at_23_00_changes_the_answer() {
    let m = wall_map();
    let idx = m.index();
    let (lon, lat) = m.ll(50.0, 25.0);
    let before: Vec<u32> = idx.response(lon, lat, 60.0, t("22:59")).iter().map(|a| a.id).collect();
    let after: Vec<u32> = idx.response(lon, lat, 60.0, t("23:00")).iter().map(|a| a.id).collect();
    assert!(before.contains(&2), "gate 2 is open at 22:59: {before:?}");
    assert!(!after.contains(&2), "gate 2 closes at 23:00 (06:00-23:00 is end-exclusive): {after:?}");
    let night = idx.travel(1, lon, lat, 600.0, t("23:00")).unwrap();
    assert_eq!(night.via_gates, vec![1], "at night the police go round by gate 1");
    close(night.distance_m, 2.0 * 90_625.0f64.sqrt(), "602 m");
}

#[test]
fn a_responder_inside_the_target_compound_goes_directly() {
    let m = wall_map();
    let idx = m.index();
    let (lon, lat) = m.ll(50.0, 25.0);
    for at in ["08:00", "03:00"] {
        let a = idx.travel(2, lon, lat, 60.0, t(at)).expect("40 m east and 40 m north, no wall between");
        close(a.distance_m, 3200.0f64.sqrt(), "straight");
        assert!(a.via_gates.is_empty(), "no gate on the way at {at}");
    }
    // The response lists it, fastest first after the police.
    let list = idx.response(lon, lat, 60.0, t("08:00"));
    let ids: Vec<u32> = list.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![2, 3], "police 43.5 s, then the inside team 45.4 s");
    assert!(list.windows(2).all(|w| w[0].travel_s <= w[1].travel_s));
}

#[test]
fn buildings_are_walked_around() {
    let m = wall_map();
    let idx = m.index();
    // From (230, 20) to (230, 75), the building (200..260, 40..60) in between: round a corner
    // pair on either side, 30 m off the straight line.
    let (lon, lat) = m.ll(230.0, 75.0);
    let a = idx.travel(3, lon, lat, 300.0, t("08:00")).unwrap();
    let d = (900.0f64 + 400.0).sqrt() + 20.0 + (900.0f64 + 225.0).sqrt();
    close(a.distance_m, d, "corner (260, 40), corner (260, 60)");
    // A point inside the building is reached at its door (230, 60), on its north side.
    let (lon, lat) = m.ll(230.0, 50.0);
    let inside = idx.travel(3, lon, lat, 300.0, t("08:00")).unwrap();
    close(inside.distance_m, (900.0f64 + 400.0).sqrt() + 20.0 + 30.0, "round to the door");
}

/// Area of a multipolygon in square metres (EPSG:4326 input).
fn area_m2(p: &MultiPolygon<f64>) -> f64 {
    p.geodesic_area_unsigned()
}

#[test]
fn a_target_20_m_away_yields_a_valid_tiny_area_never_an_error() {
    let m = wall_map();
    let idx = m.index();
    // 20 m south of responder 1, in the open.
    let (lon, lat) = m.ll(50.0, -45.0);
    let a = idx.travel(0, lon, lat, 60.0, t("08:00")).unwrap();
    close(a.distance_m, 20.0, "straight");
    let area = idx.reach_area(0, a.travel_s, t("08:00"));
    assert!(area.is_valid(), "{:?}", area.validation_errors());
    let m2 = area_m2(&area);
    let disk = std::f64::consts::PI * 400.0;
    assert!(m2 > 0.85 * disk && m2 < 1.15 * disk, "about a 20 m disk: {m2} m²");
    assert!(area.contains(&m.pt(50.0, -35.0)) && !area.contains(&m.pt(50.0, -50.0)));
    assert!(!area.intersects(&m.pt(50.0, 5.0)), "nothing behind the wall");
    // With no time to move at all, a square of a quarter metre; with less, nothing.
    let start = idx.reach_area(0, WALK_START, t("08:00"));
    assert!(start.is_valid() && start.0.len() == 1 && area_m2(&start) < 0.1, "{start:?}");
    assert!(idx.reach_area(0, 4.0, t("08:00")).0.is_empty());
}

#[test]
fn reach_areas_respect_walls_and_gates() {
    let m = wall_map();
    let idx = m.index();
    // The police team's minute: 77 m, of which 26.9 m to gate 2 leaves 50 m inside.
    let area = idx.reach_area(1, 60.0, t("08:00"));
    assert!(area.is_valid(), "{:?}", area.validation_errors());
    assert!(area.contains(&m.pt(60.0, 40.0)), "40 m in from gate 2");
    assert!(!area.contains(&m.pt(20.0, 60.0)), "61 m in from gate 2 is too far");
    // Beyond the data (the spatial hash ends 40 m past the southernmost feature) the open
    // ground is reached too: 70 m south, not 80 m.
    assert!(area.contains(&m.pt(50.0, -95.0)) && !area.intersects(&m.pt(50.0, -105.0)));
    let night = idx.reach_area(1, 60.0, t("23:30"));
    assert!(!night.intersects(&m.pt(60.0, 10.0)), "gate 2 is closed at 23:30");
}

// ---------------------------------------------------------------------------------------------
// Brute force.

/// An exact, slow, independent shortest-path search: every polygon vertex, gate, source and
/// target is a vertex; a leg is allowed in a room when geo's DE-9IM relate says it does not
/// enter the interior of an obstacle (and stays inside a compound for a compound room); rooms
/// change only at a usable gate.
struct Brute {
    pts: Vec<[f64; 2]>,
    /// Per point, per room (0 outside, k compound k-1): in the room's closure.
    rooms: Vec<Vec<bool>>,
    /// legal[r][i][j]
    legal: Vec<Vec<Vec<bool>>>,
    gates: Vec<(usize, usize, usize)>, // (point, compound room, gate index in data)
}

fn geo_line(a: [f64; 2], b: [f64; 2]) -> geo::Line<f64> {
    geo::Line::new(geo::coord! {x: a[0], y: a[1]}, geo::coord! {x: b[0], y: b[1]})
}

fn local_poly(ring: &[[f64; 2]]) -> Polygon<f64> {
    let mut c: Vec<(f64, f64)> = ring.iter().map(|p| (p[0], p[1])).collect();
    c.push(c[0]);
    Polygon::new(LineString::from(c), vec![])
}

impl Brute {
    fn new(
        walls: &[Vec<[f64; 2]>],
        buildings: &[Vec<[f64; 2]>],
        gates: &[([f64; 2], usize)],
        extra: &[[f64; 2]],
    ) -> Brute {
        let wall_polys: Vec<Polygon<f64>> = walls.iter().map(|r| local_poly(r)).collect();
        let bld: Vec<Polygon<f64>> = buildings.iter().map(|r| local_poly(r)).collect();
        let mut pts: Vec<[f64; 2]> = Vec::new();
        pts.extend(walls.iter().flatten());
        pts.extend(buildings.iter().flatten());
        let first_gate = pts.len();
        pts.extend(gates.iter().map(|g| g.0));
        pts.extend_from_slice(extra);
        let nr = walls.len() + 1;
        let free = |p: [f64; 2]| !bld.iter().any(|b| b.contains(&Point::new(p[0], p[1])));
        let rooms: Vec<Vec<bool>> = pts
            .iter()
            .map(|&p| {
                let q = Point::new(p[0], p[1]);
                let mut v = vec![free(p) && !wall_polys.iter().any(|w| w.contains(&q))];
                v.extend(wall_polys.iter().map(|w| free(p) && w.intersects(&q)));
                v
            })
            .collect();
        let n = pts.len();
        let mut legal = vec![vec![vec![false; n]; n]; nr];
        for i in 0..n {
            for j in (i + 1)..n {
                if pts[i] == pts[j] {
                    for r in 0..nr {
                        legal[r][i][j] = rooms[i][r] && rooms[j][r];
                        legal[r][j][i] = legal[r][i][j];
                    }
                    continue;
                }
                let line = geo_line(pts[i], pts[j]);
                let enters = |p: &Polygon<f64>| line.relate(p).matches("T********").unwrap();
                if bld.iter().any(enters) {
                    continue;
                }
                for r in 0..nr {
                    if !(rooms[i][r] && rooms[j][r]) {
                        continue;
                    }
                    let ok = if r == 0 {
                        !wall_polys.iter().any(enters)
                    } else {
                        line.relate(&wall_polys[r - 1]).is_coveredby()
                    };
                    legal[r][i][j] = ok;
                    legal[r][j][i] = ok;
                }
            }
        }
        let gates = gates.iter().enumerate().map(|(k, g)| (first_gate + k, g.1 + 1, k)).collect();
        Brute { pts, rooms, legal, gates }
    }

    /// Shortest distance from point `s` to point `t` (indices), with `usable(gate)`.
    fn distance(&self, s: usize, t: usize, usable: &dyn Fn(usize) -> bool) -> Option<f64> {
        let n = self.pts.len();
        let nr = self.legal.len();
        let mut dist = vec![f64::INFINITY; n * nr];
        let mut done = vec![false; n * nr];
        for r in 0..nr {
            if self.rooms[s][r] {
                dist[s * nr + r] = 0.0;
            }
        }
        while let Some(u) =
            (0..n * nr).filter(|&k| !done[k] && dist[k].is_finite()).min_by(|&a, &b| dist[a].total_cmp(&dist[b]))
        {
            done[u] = true;
            let (i, r) = (u / nr, u % nr);
            if i == t {
                return Some(dist[u]);
            }
            for j in 0..n {
                if self.legal[r][i][j] {
                    let p = (self.pts[i], self.pts[j]);
                    let d = dist[u] + ((p.1[0] - p.0[0]).powi(2) + (p.1[1] - p.0[1]).powi(2)).sqrt();
                    if d < dist[j * nr + r] {
                        dist[j * nr + r] = d;
                    }
                }
            }
            for &(gp, room, g) in &self.gates {
                if gp == i && usable(g) {
                    let other = if r == 0 { room } else { 0 };
                    if (r == 0 || r == room) && dist[u] < dist[i * nr + other] {
                        dist[i * nr + other] = dist[u];
                    }
                }
            }
        }
        None
    }
}

/// A random small world: up to three compounds side by side (rectangles, L-shapes, or
/// trapezoids, mostly walled) with gates on their walls, buildings inside and outside.
struct Random {
    map: Map,
    walls: Vec<Vec<[f64; 2]>>,
    wall_ids: Vec<u32>,
    buildings: Vec<Vec<[f64; 2]>>,
    gates: Vec<([f64; 2], usize)>,
}

fn random_world(seed: u64) -> Random {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = Map::new();
    let mut walls = Vec::new();
    let mut wall_ids = Vec::new();
    let mut buildings: Vec<Vec<[f64; 2]>> = Vec::new();
    let mut gates: Vec<([f64; 2], usize)> = Vec::new();
    let hours = ["24h", "06:00-23:00", "closed", "22:00-06:00"];
    let kinds = [GateKind::Pedestrian, GateKind::Vehicle, GateKind::Both];
    let passes: [&[Passer]; 4] =
        [&[Passer::Public], &[Passer::Residents, Passer::Police], &[Passer::Staff, Passer::Police], &[Passer::Police]];
    let mut bid = 1;
    for k in 0..rng.random_range(1..=3u32) {
        let x0 = k as f64 * 150.0 + rng.random_range(0.0..15.0);
        let y0 = rng.random_range(0.0..15.0);
        let (w, h) = (rng.random_range(90.0..130.0), rng.random_range(70.0..100.0));
        let ring: Vec<[f64; 2]> = match rng.random_range(0..3) {
            0 => vec![[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]],
            1 => vec![
                [x0, y0],
                [x0 + w, y0],
                [x0 + w, y0 + h * 0.5],
                [x0 + w * 0.5, y0 + h * 0.5],
                [x0 + w * 0.5, y0 + h],
                [x0, y0 + h],
            ],
            _ => vec![[x0, y0], [x0 + w, y0 + 8.0], [x0 + w - 10.0, y0 + h], [x0 + 12.0, y0 + h - 5.0]],
        };
        let gated = rng.random_bool(0.85);
        let id = k + 1;
        // Gates are vertices of their wall, as in real data: insert them into the ring.
        let mut on_edge: Vec<(usize, f64)> = (0..rng.random_range(1..=3u32))
            .map(|_| (rng.random_range(0..ring.len()), rng.random_range(0.2..0.8)))
            .collect();
        on_edge.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut full: Vec<[f64; 2]> = Vec::new();
        let mut gate_points = Vec::new();
        for (e, &a) in ring.iter().enumerate() {
            full.push(a);
            let b = ring[(e + 1) % ring.len()];
            for &(_, s) in on_edge.iter().filter(|g| g.0 == e) {
                let p = [a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1])];
                full.push(p);
                gate_points.push(p);
            }
        }
        let ring = full;
        m.compound(id, gated, &ring.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>());
        let wall_index = walls.len();
        for (gi, p) in gate_points.into_iter().enumerate() {
            let gid = id * 10 + gi as u32;
            m.gate(
                gid,
                id,
                (p[0], p[1]),
                kinds[rng.random_range(0..3)],
                passes[rng.random_range(0..4)],
                hours[rng.random_range(0..4)],
            );
            if gated {
                gates.push((p, wall_index));
            }
        }
        let poly = local_poly(&ring);
        for _ in 0..rng.random_range(0..=2) {
            let (bx, by) = (x0 + rng.random_range(5.0..w - 30.0), y0 + rng.random_range(5.0..h - 20.0));
            let bw = rng.random_range(10.0..25.0);
            let b = vec![[bx, by], [bx + bw, by], [bx + bw, by + 12.0], [bx, by + 12.0]];
            if poly.contains(&local_poly(&b)) {
                m.building(bid, Some(id), &b.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>(), 10);
                buildings.push(b);
                bid += 1;
            }
        }
        if gated {
            walls.push(ring);
            wall_ids.push(id);
        }
    }
    for _ in 0..rng.random_range(0..=3) {
        let bx = rng.random_range(0.0..420.0);
        let by = if rng.random_bool(0.5) { rng.random_range(-70.0..-25.0) } else { rng.random_range(125.0..160.0) };
        let bw = rng.random_range(10.0..40.0);
        let b = vec![[bx, by], [bx + bw, by], [bx + bw, by + 15.0], [bx, by + 15.0]];
        m.building(bid, None, &b.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>(), 10);
        buildings.push(b);
        bid += 1;
    }
    Random { map: m, walls, wall_ids, buildings, gates }
}

impl Random {
    /// A random point not inside a building (inside or outside compounds).
    fn free_point(&self, rng: &mut ChaCha8Rng) -> [f64; 2] {
        loop {
            let p = [rng.random_range(-30.0..480.0), rng.random_range(-80.0..190.0)];
            if !self.buildings.iter().any(|b| local_poly(b).intersects(&Point::new(p[0], p[1]))) {
                return p;
            }
        }
    }
}

#[test]
fn travel_agrees_with_an_exact_brute_force_on_random_small_worlds() {
    let modes = [TravelMode::Walk, TravelMode::Run, TravelMode::Ebike, TravelMode::Car];
    let kinds = [ResponderKind::JointDefence, ResponderKind::PolicePost];
    let mut compared = 0;
    let mut reached = 0;
    for seed in 0..24 {
        let mut w = random_world(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
        let sources: Vec<[f64; 2]> = (0..3).map(|_| w.free_point(&mut rng)).collect();
        for (i, s) in sources.iter().enumerate() {
            w.map.responder(i as u32 + 1, kinds[i % 2], modes[rng.random_range(0..4)], "24h", (s[0], s[1]));
        }
        let targets: Vec<[f64; 2]> = (0..8).map(|_| w.free_point(&mut rng)).collect();
        let mut extra = sources.clone();
        extra.extend_from_slice(&targets);
        let brute = Brute::new(&w.walls, &w.buildings, &w.gates, &extra);
        let idx = w.map.index();
        let base = brute.pts.len() - extra.len();
        for (ri, r) in w.map.data.responders.iter().enumerate() {
            let class_vehicle = matches!(r.mode, TravelMode::Ebike | TravelMode::Car);
            let who = r.kind.passer();
            for at in ["03:00", "12:00", "23:30"] {
                let usable = |g: usize| {
                    let (p, wall) = w.gates[g];
                    let ap = w
                        .map
                        .data
                        .access_points
                        .iter()
                        .find(|a| {
                            a.compound_id == w.wall_ids[wall] && {
                                let (x, y) = w.map.proj.to_local(a.location.x(), a.location.y());
                                (x - p[0]).abs() < 1e-6 && (y - p[1]).abs() < 1e-6
                            }
                        })
                        .unwrap();
                    let kind_ok = match ap.kind {
                        GateKind::Both => true,
                        GateKind::Pedestrian => !class_vehicle,
                        GateKind::Vehicle => class_vehicle,
                    };
                    kind_ok && ap.admits(who) && ap.hours.is_open(t(at))
                };
                for (ti, tp) in targets.iter().enumerate() {
                    let (lon, lat) = w.map.ll(tp[0], tp[1]);
                    let got = idx.travel(ri, lon, lat, 1200.0, t(at)).map(|a| a.distance_m);
                    let want = brute.distance(base + ri, base + sources.len() + ti, &usable);
                    compared += 1;
                    match (got, want) {
                        (Some(g), Some(b)) => {
                            reached += 1;
                            assert!(
                                (g - b).abs() < 1e-6,
                                "seed {seed}, responder {ri}, target {ti} at {at}: {g} vs brute force {b}"
                            );
                        }
                        (None, None) => {}
                        (g, b) => {
                            panic!("seed {seed}, responder {ri}, target {ti} at {at}: {g:?} vs brute force {b:?}")
                        }
                    }
                }
            }
        }
    }
    assert!(reached > compared / 3, "the worlds must be mostly passable to test anything: {reached}/{compared}");
}

// ---------------------------------------------------------------------------------------------
// Coverage on hand-made snapshots.

fn snapshot(m: &Map) -> Arc<Snapshot> {
    Arc::new(Snapshot::build(m.data.clone(), 1).unwrap())
}

/// Cell centres of the coverage raster that fall in the region, EPSG:4326.
fn cell_centres(snap: &Snapshot, cell: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for g in &snap.data.grids {
        for c in g.geometry.0[0].exterior().coords() {
            let (x, y) = snap.projection.to_local(c.x, c.y);
            lo = [lo[0].min(x), lo[1].min(y)];
            hi = [hi[0].max(x), hi[1].max(y)];
        }
    }
    let (i0, j0, i1, j1) = (
        (lo[0] / cell).floor() as i64,
        (lo[1] / cell).floor() as i64,
        (hi[0] / cell).floor() as i64,
        (hi[1] / cell).floor() as i64,
    );
    for j in j0..=j1 {
        for i in i0..=i1 {
            let (lon, lat) = snap.projection.to_lon_lat((i as f64 + 0.5) * cell, (j as f64 + 0.5) * cell);
            if snap.locate(lon, lat).is_some() {
                out.push((lon, lat));
            }
        }
    }
    out
}

/// The blind spots are exactly the cell centres that no responder reaches: checked against the
/// point query at every centre.
fn assert_blind_spots_exact(snap: &Snapshot, minutes: u32, at: TimeOfDay) -> (usize, usize) {
    let region = snap.data.district.code.clone();
    let c = gridmap::reach::coverage(snap, &region, minutes, at, true).unwrap();
    assert!(c.blind_spots.is_valid(), "{:?}", c.blind_spots.validation_errors());
    let (mut blind, mut total) = (0, 0);
    for (lon, lat) in cell_centres(snap, c.cell_m) {
        let reached = !snap.reach.response(lon, lat, minutes as f64 * 60.0, at).is_empty();
        let in_blind = c.blind_spots.contains(&Point::new(lon, lat));
        assert_eq!(in_blind, !reached, "cell centre {lon},{lat}: blind spot {in_blind}, reached {reached}");
        total += 1;
        blind += usize::from(in_blind);
    }
    let covered = (c.totals.area_covered_m2 / (c.cell_m * c.cell_m)).round() as usize;
    assert_eq!(covered, total - blind, "covered area counts the reached centres");
    (blind, total)
}

#[test]
fn blind_spots_are_exactly_the_places_no_responder_reaches() {
    let mut m = wall_map();
    m.regions([-60.0, -80.0, 460.0, 160.0], &[200.0]);
    let snap = snapshot(&m);
    for (minutes, at) in [(1, "08:00"), (1, "23:30"), (3, "08:00")] {
        let (blind, total) = assert_blind_spots_exact(&snap, minutes, t(at));
        assert!(
            blind > 0 && blind < total,
            "{minutes} min at {at}: some but not all places are blind ({blind}/{total})"
        );
    }
}

#[test]
fn several_responders_areas_combine_without_one_overwriting_another() {
    // Random worlds with several responders of different modes, budgets and classes: the
    // coverage of every sample point is the union of what each responder reaches.
    for seed in [3u64, 8, 11] {
        let mut w = random_world(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let modes = [TravelMode::Walk, TravelMode::Run, TravelMode::Ebike, TravelMode::Car];
        let kinds = [ResponderKind::JointDefence, ResponderKind::Patrol, ResponderKind::ServiceStation];
        for i in 0..5 {
            let p = w.free_point(&mut rng);
            w.map.responder(i + 1, kinds[i as usize % 3], modes[i as usize % 4], "24h", (p[0], p[1]));
        }
        w.map.regions([-40.0, -90.0, 490.0, 200.0], &[150.0, 300.0]);
        let snap = snapshot(&w.map);
        let region = snap.data.district.code.clone();
        for at in ["12:00", "23:30"] {
            let c = gridmap::reach::coverage(&snap, &region, 1, t(at), true).unwrap();
            for (lon, lat) in cell_centres(&snap, c.cell_m) {
                let any =
                    (0..snap.data.responders.len()).any(|r| snap.reach.travel(r, lon, lat, 60.0, t(at)).is_some());
                assert_eq!(!c.blind_spots.contains(&Point::new(lon, lat)), any, "seed {seed} at {at}: {lon},{lat}");
            }
        }
    }
}

#[test]
fn suggested_staging_points_deliver_their_gain() {
    let mut m = wall_map();
    // Households deep inside the compound that nobody reaches within a minute.
    m.building(2, Some(1), &[(320.0, 60.0), (380.0, 60.0), (380.0, 80.0), (320.0, 80.0)], 40);
    m.entrance(2, 2, (350.0, 60.0));
    m.regions([-60.0, -80.0, 460.0, 160.0], &[200.0]);
    let snap = snapshot(&m);
    let region = snap.data.district.code.clone();
    let before = gridmap::reach::coverage(&snap, &region, 1, t("08:00"), false).unwrap();
    let s = gridmap::reach::suggest(&snap, &region, 1, t("08:00"), 2, ResponderKind::JointDefence, TravelMode::Walk)
        .unwrap();
    assert!(!s.staging.is_empty() && s.staging[0].gain_households > 0, "{s:?}");
    assert_eq!(s.households_covered, before.totals.households_covered);
    // Staging a real team at the first point covers exactly the promised households more.
    let first = &s.staging[0];
    m.data.responders.push(Responder {
        id: 99,
        kind: ResponderKind::JointDefence,
        name: "新队".into(),
        mode: TravelMode::Walk,
        headcount: 4,
        duty: Schedule::always(),
        location: first.location,
    });
    let snap2 = snapshot(&m);
    let after = gridmap::reach::coverage(&snap2, &region, 1, t("08:00"), false).unwrap();
    assert_eq!(after.totals.households_covered, before.totals.households_covered + first.gain_households);
    assert!(gridmap::reach::suggest(&snap, &region, 1, t("08:00"), 21, ResponderKind::JointDefence, TravelMode::Walk)
        .is_err());
}

// ---------------------------------------------------------------------------------------------
// Karamay.

fn karamay() -> Arc<Snapshot> {
    static SNAP: std::sync::OnceLock<Arc<Snapshot>> = std::sync::OnceLock::new();
    SNAP.get_or_init(|| Arc::new(Snapshot::build(gridmap::store::seed::karamay().unwrap(), 1).unwrap())).clone()
}

#[test]
fn coverage_shares_add_up() {
    let snap = karamay();
    let district = snap.data.district.code.clone();
    let c = gridmap::reach::coverage(&snap, &district, 1, t("08:00"), true).unwrap();
    assert_eq!(c.grids.len(), snap.data.grids.len());
    let mut sum = gridmap::reach::Shares::default();
    for g in &c.grids {
        let s = &g.shares;
        assert!(s.area_covered_m2 <= s.area_m2 && s.households_covered <= s.households);
        assert!(s.gates_covered <= s.gates && s.entrances_covered <= s.entrances);
        sum.area_m2 += s.area_m2;
        sum.area_covered_m2 += s.area_covered_m2;
        sum.households += s.households;
        sum.households_covered += s.households_covered;
        sum.gates += s.gates;
        sum.gates_covered += s.gates_covered;
        sum.entrances += s.entrances;
        sum.entrances_covered += s.entrances_covered;
    }
    assert_eq!(sum, c.totals, "totals are the sums over grids");
    let households: u64 = snap.data.buildings.iter().map(|b| b.households as u64).sum();
    assert_eq!(c.totals.households, households, "every household is counted once");
    assert_eq!(c.totals.entrances as usize, snap.data.entrances.len(), "every entrance once");
    assert_eq!(c.totals.gates as usize, snap.data.access_points.len(), "every gate once");
    // The blind spots are the area not covered.
    let blind = c.blind_spots.geodesic_area_unsigned();
    let uncovered = c.totals.area_m2 - c.totals.area_covered_m2;
    assert!((blind - uncovered).abs() < 0.005 * c.totals.area_m2, "blind {blind} m² vs uncovered {uncovered} m²");
    // Subdistricts add up to the district.
    let mut parts = gridmap::reach::Shares::default();
    for sd in &snap.data.subdistricts {
        let p = gridmap::reach::coverage(&snap, &sd.code, 1, t("08:00"), false).unwrap();
        assert_eq!(p.computed, 0, "the district's grids are cached");
        parts.households_covered += p.totals.households_covered;
        parts.area_covered_m2 += p.totals.area_covered_m2;
    }
    assert_eq!(parts.households_covered, c.totals.households_covered);
    assert!((parts.area_covered_m2 - c.totals.area_covered_m2).abs() < 1e-6);
}

#[test]
fn karamay_blind_spots_match_point_queries_on_a_sample() {
    let snap = karamay();
    let district = snap.data.district.code.clone();
    let at = t("21:00");
    let c = gridmap::reach::coverage(&snap, &district, 1, at, true).unwrap();
    let centres = cell_centres(&snap, c.cell_m);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut blind, mut n) = (0, 0);
    for _ in 0..600 {
        let (lon, lat) = centres[rng.random_range(0..centres.len())];
        let reached = !snap.reach.response(lon, lat, 60.0, at).is_empty();
        let in_blind = c.blind_spots.contains(&Point::new(lon, lat));
        assert_eq!(in_blind, !reached, "{lon},{lat}");
        blind += usize::from(in_blind);
        n += 1;
    }
    assert!(blind > 0 && blind < n);
}

#[test]
fn coverage_is_recomputed_only_near_a_change() {
    let data = gridmap::store::seed::karamay().unwrap();
    let snap = Snapshot::build(data.clone(), 1).unwrap();
    let district = snap.data.district.code.clone();
    let at = t("10:17");
    let first = gridmap::reach::coverage(&snap, &district, 1, at, false).unwrap();
    let again = gridmap::reach::coverage(&snap, &district, 1, at, false).unwrap();
    assert_eq!(again.computed, 0, "nothing changed");
    assert_eq!(again.totals, first.totals);
    // Move one responder 30 m east: only grids within a minute's reach of it are recomputed, and
    // the result equals a computation from scratch.
    let mut moved = data.clone();
    let r = &mut moved.responders[0];
    r.location = Point::new(r.location.x() + 0.0004, r.location.y());
    let snap2 = Snapshot::build(moved, 2).unwrap();
    let partial = gridmap::reach::coverage(&snap2, &district, 1, at, false).unwrap();
    assert!(
        partial.computed > 0 && partial.computed < 40,
        "recomputed {} of {} grids",
        partial.computed,
        partial.grids.len()
    );
    let fresh = gridmap::reach::coverage_with(&snap2, &district, 1, at, false, CacheUse::Bypass).unwrap();
    assert_eq!(fresh.computed, snap2.data.grids.len());
    assert_eq!(partial.grids, fresh.grids, "reused results are what a computation from scratch gives");
    assert_ne!(partial.totals, first.totals, "moving a responder changes something");
}

// ---------------------------------------------------------------------------------------------
// HTTP API.

struct App {
    router: axum::Router,
    snap: Arc<Snapshot>,
    /// A coordinator's token: coverage needs one.
    token: String,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), gridmap::store::seed::karamay).await.unwrap();
    let data = gridmap::store::Store::load(&store).await.unwrap();
    let live = Live::new(Snapshot::build(data, 1).unwrap());
    let snap = live.load();
    let new = NewToken { name: "coverage tests".into(), role: Role::Coordinator, scope: None, expires_at: None };
    let (_, token) = gridmap::auth::create_token(&store, new).await.unwrap();
    App { router: router(AppState::new(live, Arc::new(store), ApiConfig::default())), snap, token, _dir: dir }
}

async fn get(app: &App, uri: &str) -> (StatusCode, Value) {
    let req = Request::get(uri).header("authorization", format!("Bearer {}", app.token)).body(Body::empty()).unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{uri}: not JSON ({e})"));
    if !status.is_success() {
        assert_eq!(ct, "application/problem+json", "{uri}");
        assert!(v["detail"].as_str().is_some_and(|d| d.len() > 10), "{uri}: {v}");
    }
    (status, v)
}

#[tokio::test]
async fn response_endpoint_lists_responders_fastest_first_with_valid_areas() {
    let app = app().await;
    // Next to a responder: 20 m east of it.
    let r = &app.snap.data.responders[0];
    let (lon, lat) = (r.location.x() + 0.00026, r.location.y());
    let (status, v) = get(&app, &format!("/api/response?lon={lon}&lat={lat}&minutes=1&at=12:00&geometry=true")).await;
    assert_eq!(status, 200, "{v}");
    let list = v["responders"].as_array().unwrap();
    assert_eq!(v["met"], !list.is_empty());
    let times: Vec<f64> = list.iter().map(|x| x["travel_s"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]) && times.iter().all(|&s| s <= 60.0), "{times:?}");
    for x in list {
        assert!(x["id"].is_u64() && x["kind"].is_string() && x["name"].is_string() && x["via_gates"].is_array());
        let g = gridmap::model::geojson::geometry_from_json(&x["reach_area"]).unwrap();
        let mp = gridmap::model::geojson::as_multi_polygon(g).unwrap();
        assert!(mp.is_valid(), "{:?}", mp.validation_errors());
    }
    // A GCJ-02 point gives the same answer.
    let (glon, glat) = gridmap::model::crs::wgs84_to_gcj02(lon, lat);
    let (_, g) = get(&app, &format!("/api/response?lon={glon}&lat={glat}&crs=gcj02&at=12:00")).await;
    assert_eq!(g["responders"].as_array().unwrap().len(), list.len());
}

#[tokio::test]
async fn bad_reach_parameters_are_problems() {
    let app = app().await;
    for uri in [
        "/api/response?lon=84.87&lat=45.6&minutes=2",
        "/api/response?lon=84.87&lat=45.6&minutes=x",
        "/api/response?lon=84.87&lat=45.6&at=25:00",
        "/api/response?lon=84.87&lat=45.6&geometry=yes",
        "/api/response?lon=84.87",
        "/api/response?lon=84.87&lat=45.6&radius=5",
        "/api/coverage?minutes=1",
        "/api/coverage?region=12345&minutes=1",
        "/api/coverage?region=650203&minutes=4",
        "/api/coverage/suggest?region=650203&add=21",
        "/api/coverage/suggest?region=650203&mode=horse",
    ] {
        let (status, v) = get(&app, uri).await;
        assert_eq!(status, 400, "{uri}: {v}");
    }
    for uri in ["/api/coverage?region=650204&minutes=1", "/api/coverage?region=650203398&minutes=1"] {
        let (status, v) = get(&app, uri).await;
        assert_eq!(status, 404, "{uri}: {v}");
    }
}

#[tokio::test]
async fn coverage_and_suggest_endpoints_answer_for_a_community() {
    let app = app().await;
    let community = app.snap.data.communities[0].code.clone();
    let (status, v) = get(&app, &format!("/api/coverage?region={community}&minutes=1&at=08:00")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["region"]["code"], community.as_str());
    assert_eq!(v["blind_spots"]["type"], "FeatureCollection");
    let grids = v["grids"].as_array().unwrap();
    assert!(!grids.is_empty());
    let hh: u64 = grids.iter().map(|g| g["households"].as_u64().unwrap()).sum();
    assert_eq!(hh, v["totals"]["households"].as_u64().unwrap());
    let (status, s) = get(&app, &format!("/api/coverage/suggest?region={community}&minutes=1&add=3&at=08:00")).await;
    assert_eq!(status, 200, "{s}");
    let sug = s["suggestions"].as_array().unwrap();
    assert!(sug.len() <= 3);
    let gains: Vec<u64> = sug.iter().map(|x| x["gain_households"].as_u64().unwrap()).collect();
    assert!(gains.windows(2).all(|w| w[0] >= w[1]), "greedy gains never grow: {gains:?}");
    let (_, doc) = get(&app, "/openapi.json").await;
    for path in ["/api/response", "/api/coverage", "/api/coverage/suggest"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} is described");
    }
}

#[tokio::test]
async fn coverage_reach_areas_include_every_responder_that_reaches_the_region() {
    let app = app().await;
    let community = app.snap.data.communities[3].code.clone();
    let (status, v) = get(&app, &format!("/api/coverage?region={community}&minutes=1&at=08:00&reach_areas=true")).await;
    assert_eq!(status, 200, "{v}");
    let areas = v["reach_areas"]["features"].as_array().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for f in areas {
        assert!(ids.insert(f["properties"]["id"].as_u64().unwrap()), "one area per responder");
        let g = gridmap::model::geojson::geometry_from_json(&f["geometry"]).unwrap();
        let mp = gridmap::model::geojson::as_multi_polygon(g).unwrap();
        assert!(!mp.0.is_empty() && mp.is_valid(), "{:?}", mp.validation_errors());
    }
    // Whoever reaches a point of the region in time has an area in the answer.
    let mut reached = 0;
    for g in app.snap.data.grids.iter().filter(|g| g.code.is_within(&community)) {
        let p = g.geometry.interior_point().unwrap();
        let (_, r) = get(&app, &format!("/api/response?lon={}&lat={}&minutes=1&at=08:00", p.x(), p.y())).await;
        for x in r["responders"].as_array().unwrap() {
            reached += 1;
            assert!(
                ids.contains(&x["id"].as_u64().unwrap()),
                "responder {} reaches {} but has no area",
                x["id"],
                g.code
            );
        }
    }
    assert!(reached > 0, "the test needs a community someone reaches");
    // Without the flag there are none (they cost time).
    let (_, plain) = get(&app, &format!("/api/coverage?region={community}&minutes=1&at=08:00")).await;
    assert!(plain["reach_areas"].is_null());
}
