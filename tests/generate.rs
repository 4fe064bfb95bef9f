//! The synthetic Karamay dataset: determinism, the committed files, and every invariant the
//! rest of gridmap relies on (exact tiling, nesting, gates on walls, totals that add up).
//!
//! `cargo test --test generate -- --ignored regenerate_committed_data` rewrites data/karamay.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use geo::{
    unary_union, Area, BoundingRect, Centroid, Contains, Distance, Euclidean, InteriorPoint, Intersects, MultiPolygon,
    Point, Polygon, Rect, Validation,
};
use gridmap::generate::{generate, GenParams, DEFAULT_SEED};
use gridmap::model::{Code, Dataset, Level, Region, ResponderKind, StaffRole};
use gridmap::store::files;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn karamay() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| generate(&GenParams::default(), &|_, _, _| {}))
}

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join("karamay")
}

/// Grids with their bounding boxes, for point lookups.
fn grid_boxes(data: &Dataset) -> Vec<(Rect<f64>, &Region)> {
    data.grids.iter().map(|g| (g.geometry.bounding_rect().expect("grids are not empty"), g)).collect()
}

fn in_box(r: &Rect<f64>, p: &Point<f64>) -> bool {
    let (min, max) = (r.min(), r.max());
    p.x() >= min.x && p.x() <= max.x && p.y() >= min.y && p.y() <= max.y
}

/// The grids whose interior or boundary holds `p`.
fn grids_touching<'a>(boxes: &'a [(Rect<f64>, &'a Region)], p: &Point<f64>) -> Vec<&'a Region> {
    boxes.iter().filter(|(r, g)| in_box(r, p) && g.geometry.intersects(p)).map(|(_, g)| *g).collect()
}

/// Distance (degrees) from `p` to the nearest ring of `mp`.
fn boundary_distance(mp: &MultiPolygon<f64>, p: &Point<f64>) -> f64 {
    mp.0.iter()
        .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
        .map(|ring| Euclidean.distance(p, ring))
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    files::write_dir(a.path(), karamay()).unwrap();
    files::write_dir(b.path(), &generate(&GenParams::default(), &|_, _, _| {})).unwrap();
    for (name, _) in files::render(karamay()) {
        let (x, y) = (std::fs::read(a.path().join(&name)).unwrap(), std::fs::read(b.path().join(&name)).unwrap());
        assert!(x == y, "{name} differs between two runs with the same seed");
    }
    let other = generate(&GenParams { seed: DEFAULT_SEED + 1, grids: None }, &|_, _, _| {});
    assert_ne!(other.grids[0].geometry, karamay().grids[0].geometry, "another seed gives another district");
}

#[test]
fn committed_files_equal_a_fresh_generation() {
    for (name, text) in files::render(karamay()) {
        let committed = std::fs::read_to_string(committed_dir().join(&name)).unwrap_or_default();
        assert!(
            committed == text,
            "data/karamay/{name} is not what the generator makes now; regenerate it with \
             `cargo test --test generate -- --ignored regenerate_committed_data`"
        );
    }
    let back = files::read_dir(&committed_dir()).unwrap();
    assert!(back == *karamay(), "reading the committed files gives back exactly the generated dataset");
}

#[test]
#[ignore = "writes data/karamay; run when the generator changes"]
fn regenerate_committed_data() {
    files::write_dir(&committed_dir(), karamay()).unwrap();
}

#[test]
fn counts_and_totals_match_karamay() {
    let d = karamay();
    assert_eq!(d.subdistricts.len(), 6, "Karamay District has six subdistricts");
    assert_eq!(d.communities.len(), 67);
    for c in &d.communities {
        let n = d.grids.iter().filter(|g| g.code.is_within(&c.code)).count();
        assert!((5..=8).contains(&n), "{} {} has {n} grids; the rule is 5-8", c.code, c.name);
    }
    let within = |value: f64, target: f64, share: f64| (value - target).abs() <= share * target;
    let households: u32 = d.grids.iter().map(|g| g.households).sum();
    let population: u32 = d.grids.iter().map(|g| g.population).sum();
    assert!(within(households as f64, 98_000.0, 0.03), "households {households}");
    assert!(within(population as f64, 256_000.0, 0.03), "population {population}");
    assert!(within(d.access_points.len() as f64, 1_380.0, 0.10), "gates {}", d.access_points.len());
    assert!(d.responders.len() >= 100, "responders {}", d.responders.len());
    for kind in
        [ResponderKind::JointDefence, ResponderKind::PolicePost, ResponderKind::ServiceStation, ResponderKind::Patrol]
    {
        assert!(d.responders.iter().any(|r| r.kind == kind), "some {kind:?}");
    }
    assert!(
        within(d.staff.len() as f64, households as f64 / 80.0, 0.15),
        "staff {} for {households} households",
        d.staff.len()
    );
    let names: BTreeSet<&str> = d.subdistricts.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains("昆仑路街道") && names.contains("五五新镇街道"));
    assert!(d.communities.iter().all(|c| c.name.ends_with("社区")));
    assert!(d.communities.iter().any(|c| c.name == "前进社区") && d.communities.iter().any(|c| c.name == "南泉社区"));
    assert!(d.compounds.iter().any(|c| !c.gated), "some blocks are open");
}

#[test]
fn codes_are_valid_unique_and_nested() {
    let d = karamay();
    let mut seen = BTreeSet::new();
    for (level, layer) in
        [(Level::Subdistrict, &d.subdistricts), (Level::Community, &d.communities), (Level::Grid, &d.grids)]
    {
        for r in layer {
            let reparsed = Code::parse(r.code.as_str()).unwrap();
            assert_eq!(reparsed.level(), level);
            assert!(r.code.is_within(&d.district.code));
            assert!(seen.insert(r.code.clone()), "{} is used twice", r.code);
            if let Some(parent) = r.parent().filter(|p| p.level() != Level::District) {
                assert!(seen.contains(&parent), "{}'s parent {parent} exists (and comes first)", r.code);
            }
        }
    }
    for g in &d.grids {
        let community = d.communities.iter().find(|c| Some(&c.code) == g.parent().as_ref()).unwrap();
        assert!(g.name.starts_with(&community.name), "grid {} is named after its community", g.name);
    }
    for c in &d.compounds {
        assert!(d.communities.iter().any(|x| x.code == c.community), "compound {} names a real community", c.id);
    }
}

#[test]
fn every_polygon_is_valid() {
    let d = karamay();
    for r in d.subdistricts.iter().chain(&d.communities).chain(&d.grids) {
        assert!(r.geometry.is_valid(), "{} {}: {:?}", r.code, r.name, r.geometry.validation_errors());
    }
    for c in &d.compounds {
        assert!(c.geometry.is_valid(), "compound {}: {:?}", c.id, c.geometry.validation_errors());
    }
    for b in &d.buildings {
        assert!(b.geometry.is_valid(), "building {}: {:?}", b.id, b.geometry.validation_errors());
    }
}

#[test]
fn grids_tile_the_district_without_gap_or_overlap() {
    let d = karamay();
    let area = |rs: &[Region]| rs.iter().map(|r| r.geometry.unsigned_area()).sum::<f64>();
    let polys: Vec<Polygon<f64>> = d.subdistricts.iter().flat_map(|s| s.geometry.0.iter().cloned()).collect();
    let district: MultiPolygon<f64> = unary_union(&polys);
    let (grids, communities, subs) = (area(&d.grids), area(&d.communities), area(&d.subdistricts));
    for (what, a) in
        [("communities", communities), ("subdistricts", subs), ("the district outline", district.unsigned_area())]
    {
        assert!((grids - a).abs() <= 1e-9 * a, "grid areas add up to {what}: {grids} vs {a}");
    }
    assert_eq!(district.0.len(), 1, "the district is one piece");

    // Random points: never strictly inside two grids; inside the district means in or on a grid.
    let boxes = grid_boxes(d);
    let bbox = district.bounding_rect().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut inside = 0;
    for _ in 0..20_000 {
        let p = Point::new(rng.random_range(bbox.min().x..bbox.max().x), rng.random_range(bbox.min().y..bbox.max().y));
        let strictly = boxes.iter().filter(|(r, g)| in_box(r, &p) && g.geometry.contains(&p)).count();
        assert!(strictly <= 1, "{p:?} lies inside {strictly} grids");
        if district.contains(&p) {
            inside += 1;
            assert!(!grids_touching(&boxes, &p).is_empty(), "{p:?} is in the district but in no grid");
        } else {
            assert_eq!(strictly, 0, "{p:?} is outside the district but inside a grid");
        }
    }
    assert!(inside > 5_000, "the sample reaches the district ({inside} points inside)");

    // Shared edges: the middle of every grid edge is strictly inside no other grid.
    for g in &d.grids {
        for ring in g.geometry.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())) {
            for w in ring.0.windows(2) {
                let mid = Point::new((w[0].x + w[1].x) / 2.0, (w[0].y + w[1].y) / 2.0);
                // The computed midpoint may sit a rounding error off the shared edge; what
                // matters is that no other grid reaches measurably past it.
                let deep = boxes.iter().filter(|(r, o)| {
                    in_box(r, &mid)
                        && o.code != g.code
                        && o.geometry.contains(&mid)
                        && boundary_distance(&o.geometry, &mid) > 1e-12
                });
                assert_eq!(deep.count(), 0, "the edge midpoint {mid:?} of {} is inside another grid", g.code);
            }
        }
    }
}

#[test]
fn grids_nest_in_communities_and_communities_in_subdistricts() {
    let d = karamay();
    for (children, parents) in [(&d.grids, &d.communities), (&d.communities, &d.subdistricts)] {
        for parent in parents.iter() {
            let mine: Vec<&Region> = children.iter().filter(|c| c.parent().as_ref() == Some(&parent.code)).collect();
            let sum: f64 = mine.iter().map(|c| c.geometry.unsigned_area()).sum();
            let area = parent.geometry.unsigned_area();
            assert!((sum - area).abs() <= 1e-9 * area, "{}'s children cover it exactly", parent.code);
            for c in mine {
                let probe = c.geometry.interior_point().unwrap();
                assert!(parent.geometry.contains(&probe), "{} lies in its parent {}", c.code, parent.code);
            }
        }
    }
}

#[test]
fn gates_stand_on_their_compound_walls() {
    let d = karamay();
    let compounds: BTreeMap<u32, _> = d.compounds.iter().map(|c| (c.id, c)).collect();
    for g in &d.access_points {
        let c = compounds[&g.compound_id];
        assert!(c.gated, "gate {} is in a wall", g.id);
        let off = Euclidean.distance(&g.location, c.geometry.exterior());
        assert!(off < 1e-9, "gate {} is {off}° off its compound's wall", g.id);
        assert!(!g.passes.is_empty());
    }
    for c in d.compounds.iter().filter(|c| c.gated) {
        assert!(d.access_points.iter().any(|g| g.compound_id == c.id), "gated compound {} has a gate", c.id);
    }
    assert!(d.access_points.iter().any(|g| !g.hours.is_always()), "some gates close at night");
}

#[test]
fn buildings_and_compounds_stay_inside_one_grid() {
    let d = karamay();
    let boxes = grid_boxes(d);
    let compounds: BTreeMap<u32, _> = d.compounds.iter().map(|c| (c.id, c)).collect();
    let grid_of = |poly: &Polygon<f64>| {
        let probe = poly.interior_point().unwrap();
        let owners = grids_touching(&boxes, &probe);
        assert_eq!(owners.len(), 1);
        owners[0]
    };
    for c in &d.compounds {
        let g = grid_of(&c.geometry);
        assert!(g.geometry.contains(&c.geometry), "compound {} lies inside one grid", c.id);
        assert_eq!(g.parent().as_ref(), Some(&c.community), "compound {} names its grid's community", c.id);
    }
    for b in &d.buildings {
        match b.compound_id {
            Some(id) => {
                assert!(compounds[&id].geometry.contains(&b.geometry), "building {} stands in compound {id}", b.id)
            }
            None => assert!(
                grid_of(&b.geometry).geometry.contains(&b.geometry),
                "road building {} lies inside one grid",
                b.id
            ),
        }
        assert!(b.address_text.starts_with("克拉玛依区") && b.address_text.contains(&b.address.road));
    }
    // Door plates are unique.
    let mut plates = BTreeSet::new();
    for b in &d.buildings {
        assert!(
            plates.insert((&b.address.road, b.address.door_number, b.address.building_number)),
            "{} is used twice",
            b.address_text
        );
    }
}

#[test]
fn entrances_are_on_their_buildings() {
    let d = karamay();
    let buildings: BTreeMap<u32, _> = d.buildings.iter().map(|b| (b.id, b)).collect();
    for e in &d.entrances {
        let b = buildings[&e.building_id];
        let off = Euclidean.distance(&e.location, b.geometry.exterior());
        assert!(off < 2e-7, "entrance {} is {off}° from building {}", e.id, b.id);
        assert!(e.unit >= 1 && e.unit <= b.units);
    }
    for b in &d.buildings {
        assert_eq!(
            d.entrances.iter().filter(|e| e.building_id == b.id).count() as u32,
            b.units,
            "one entrance per unit"
        );
    }
}

#[test]
fn region_totals_are_sums_over_buildings() {
    let d = karamay();
    let boxes = grid_boxes(d);
    let mut sums: BTreeMap<&Code, (u32, u32)> = BTreeMap::new();
    for b in &d.buildings {
        let probe = b.geometry.centroid().unwrap();
        let owners = grids_touching(&boxes, &probe);
        assert_eq!(owners.len(), 1, "building {} is in one grid", b.id);
        let s = sums.entry(&owners[0].code).or_default();
        s.0 += b.households;
        s.1 += b.population;
    }
    for g in &d.grids {
        assert_eq!(sums.get(&g.code).copied().unwrap_or_default(), (g.households, g.population), "grid {}", g.code);
    }
    for (children, parents) in [(&d.grids, &d.communities), (&d.communities, &d.subdistricts)] {
        for p in parents.iter() {
            let (h, n) = children
                .iter()
                .filter(|c| c.parent().as_ref() == Some(&p.code))
                .fold((0, 0), |a, c| (a.0 + c.households, a.1 + c.population));
            assert_eq!((h, n), (p.households, p.population), "{} adds up its children", p.code);
        }
    }
}

#[test]
fn staff_serve_real_neighbouring_grids_under_one_leader_each() {
    let d = karamay();
    let grids: BTreeMap<&Code, &Region> = d.grids.iter().map(|g| (&g.code, g)).collect();
    let mut leaders: BTreeMap<&Code, usize> = BTreeMap::new();
    for s in &d.staff {
        assert!((1..=3).contains(&s.grids.len()), "staff {} serves 1-3 grids", s.id);
        for code in &s.grids {
            assert!(grids.contains_key(code), "staff {} serves an unknown grid {code}", s.id);
            assert!(
                grids[code].geometry.intersects(&grids[&s.grids[0]].geometry),
                "staff {}'s other grids border the home grid",
                s.id
            );
        }
        if s.role == StaffRole::GridLeader {
            assert_eq!(s.grids.len(), 1);
            *leaders.entry(&s.grids[0]).or_default() += 1;
        }
        assert!(s.phone.len() == 11 && s.phone.starts_with("13"), "{}", s.phone);
    }
    for g in &d.grids {
        assert_eq!(leaders.get(&g.code), Some(&1), "grid {} has exactly one leader", g.code);
    }
}

#[test]
fn responders_stand_in_the_district() {
    let d = karamay();
    let boxes = grid_boxes(d);
    for r in &d.responders {
        assert_eq!(
            grids_touching(&boxes, &r.location).len(),
            1,
            "responder {} ({}) stands inside one grid",
            r.id,
            r.name
        );
    }
}

#[test]
fn a_large_city_has_the_grids_asked_for_and_valid_codes() {
    let d = generate(&GenParams { seed: 5, grids: Some(2_500) }, &|_, _, _| {});
    assert_eq!(d.grids.len(), 2_500);
    assert!(d.subdistricts.len() >= 2);
    for c in &d.communities {
        let n = d.grids.iter().filter(|g| g.code.is_within(&c.code)).count();
        assert!((5..=8).contains(&n), "{} has {n} grids", c.code);
    }
    let area = |rs: &[Region]| rs.iter().map(|r| r.geometry.unsigned_area()).sum::<f64>();
    let (g, s) = (area(&d.grids), area(&d.subdistricts));
    assert!((g - s).abs() <= 1e-9 * s);
    assert!(d.grids.iter().all(|r| r.geometry.is_valid()));
}
