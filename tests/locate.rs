//! `locate` is exactly right: the bucket index, the R-tree path and a brute-force test of every
//! grid agree on random points, and every point of the district has exactly one grid, also on
//! shared edges and vertices (the east-then-north rule).

use std::collections::HashMap;

use geo::{BoundingRect, Contains, Coord, Intersects, MultiPolygon, Point};
use gridmap::index::Snapshot;
use gridmap::model::Dataset;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn karamay() -> Dataset {
    gridmap::store::seed::karamay().expect("the embedded Karamay data parses")
}

fn bbox_of(data: &Dataset) -> geo::Rect<f64> {
    let mut r = data.grids[0].geometry.bounding_rect().unwrap();
    for g in &data.grids {
        let b = g.geometry.bounding_rect().unwrap();
        r = geo::Rect::new(
            (r.min().x.min(b.min().x), r.min().y.min(b.min().y)),
            (r.max().x.max(b.max().x), r.max().y.max(b.max().y)),
        );
    }
    r
}

#[test]
fn bucket_index_rtree_and_brute_force_agree_on_100k_random_points() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    let loc = snap.grid_locator();
    let bbox = bbox_of(&snap.data);
    let (w, h) = (bbox.width(), bbox.height());
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut inside = 0;
    for _ in 0..100_000 {
        // 10% margin around the district so that "outside" is exercised too.
        let x = bbox.min().x - 0.1 * w + rng.random::<f64>() * 1.2 * w;
        let y = bbox.min().y - 0.1 * h + rng.random::<f64>() * 1.2 * h;
        let brute = loc.locate_brute_force(x, y);
        assert_eq!(loc.locate(x, y), brute, "bucket index disagrees with brute force at ({x}, {y})");
        assert_eq!(loc.locate_rtree(x, y), brute, "R-tree path disagrees with brute force at ({x}, {y})");
        if brute.is_some() {
            inside += 1;
        }
    }
    assert!(inside > 50_000, "most sample points should fall in the district, got {inside}");
}

/// Grids whose closed polygon touches the point (geo's exact `Intersects`).
fn touching(data: &Dataset, p: Point<f64>) -> Vec<usize> {
    data.grids.iter().enumerate().filter(|(_, g)| g.geometry.intersects(&p)).map(|(i, _)| i).collect()
}

#[test]
fn every_interior_point_has_exactly_one_grid_and_it_contains_the_point() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    let data = &snap.data;
    let bbox = bbox_of(data);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for _ in 0..20_000 {
        let p = Point::new(
            bbox.min().x + rng.random::<f64>() * bbox.width(),
            bbox.min().y + rng.random::<f64>() * bbox.height(),
        );
        let owners: Vec<u32> = (0..data.grids.len() as u32)
            .filter(|&g| {
                gridmap::index::pip::claims(
                    &gridmap::index::pip::edges_of(&data.grids[g as usize].geometry),
                    p.x(),
                    p.y(),
                )
            })
            .collect();
        let containing: Vec<usize> =
            data.grids.iter().enumerate().filter(|(_, g)| g.geometry.contains(&p)).map(|(i, _)| i).collect();
        if let [g] = containing[..] {
            assert_eq!(
                owners,
                vec![g as u32],
                "a point strictly inside grid {} must belong to it alone",
                data.grids[g].code
            );
        } else {
            assert!(containing.is_empty(), "grids overlap at {p:?}: {containing:?}");
            assert!(owners.len() <= 1, "point {p:?} claimed by several grids: {owners:?}");
            if owners.len() == 1 {
                assert!(touching(data, p).contains(&(owners[0] as usize)), "the owner must touch the point");
            }
        }
        // The located community and subdistrict contain the point too.
        if let Some(hit) = snap.locate(p.x(), p.y()) {
            let c = &data.communities[hit.community.expect("grid has its community")];
            assert!(c.geometry.intersects(&p), "community {} must contain a point of its grid", c.code);
            let s = &data.subdistricts[hit.subdistrict.expect("grid has its subdistrict")];
            assert!(s.geometry.intersects(&p), "subdistrict {} must contain a point of its grid", s.code);
        }
    }
}

fn vertices(mp: &MultiPolygon<f64>) -> impl Iterator<Item = Coord<f64>> + '_ {
    mp.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).flat_map(|r| r.0.iter().copied())
}

#[test]
fn shared_edges_and_vertices_belong_to_exactly_one_grid_by_the_east_north_rule() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    let data = &snap.data;
    let loc = snap.grid_locator();
    // How many grids use each vertex: a vertex used by 2+ grids is inside the district, and
    // (the lattice being 3-valent) a vertex on the outline is used by at most 2.
    let mut users: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (i, g) in data.grids.iter().enumerate() {
        for c in vertices(&g.geometry) {
            let e = users.entry((c.x.to_bits(), c.y.to_bits())).or_default();
            if e.last() != Some(&i) {
                e.push(i);
            }
        }
    }
    let mut checked_vertices = 0;
    for ((xb, yb), grids) in &users {
        let (x, y) = (f64::from_bits(*xb), f64::from_bits(*yb));
        let owner = loc.locate(x, y);
        assert_eq!(owner, loc.locate_brute_force(x, y));
        if grids.len() >= 3 {
            // A vertex where three grids meet is interior: exactly one owner, among them.
            let o = owner.expect("an interior vertex has an owner") as usize;
            assert!(grids.contains(&o), "vertex ({x}, {y}) owned by {o}, not one of the grids meeting there {grids:?}");
            checked_vertices += 1;
        }
    }
    assert!(checked_vertices > 100, "expected many interior vertices, found {checked_vertices}");

    // Points on shared edges: both grids list the edge; exactly one claims points along it,
    // and it is the one east of the edge (north of an east-west edge).
    let mut edge_users: HashMap<[u64; 4], Vec<usize>> = HashMap::new();
    for (i, g) in data.grids.iter().enumerate() {
        for e in gridmap::index::pip::edges_of(&g.geometry) {
            edge_users.entry([e.ax.to_bits(), e.ay.to_bits(), e.bx.to_bits(), e.by.to_bits()]).or_default().push(i);
        }
    }
    let mut checked_edges = 0;
    let mut exactly_on_edge = 0;
    for (k, grids) in &edge_users {
        if grids.len() != 2 {
            continue;
        }
        let [ax, ay, bx, by] = k.map(f64::from_bits);
        for t in [0.25, 0.5, 0.75] {
            let (x, y) = (ax + t * (bx - ax), ay + t * (by - ay));
            let owner = loc.locate(x, y).expect("a point on a shared edge has an owner") as usize;
            assert!(grids.contains(&owner), "edge point ({x}, {y}) owned by {owner}, not by {grids:?}");
            assert_eq!(loc.locate_brute_force(x, y), Some(owner as u32));
            // Direction: when the point is exactly on the edge (exact orientation test), the
            // owner holds the point nudged east (north for a flat edge). Otherwise the rounded
            // point lies strictly on one side, and that side's grid must own it.
            let exact = robust::orient2d(
                robust::Coord { x: ax, y: ay },
                robust::Coord { x: bx, y: by },
                robust::Coord { x, y },
            ) == 0.0;
            if exact {
                let nudged = if ay == by { Point::new(x, y + 1e-7) } else { Point::new(x + 1e-7, y) };
                if touching(data, nudged).len() == 1 {
                    assert!(
                        data.grids[owner].geometry.contains(&nudged),
                        "edge point ({x}, {y}) must belong to the grid east of the edge (north of a flat edge)"
                    );
                    exactly_on_edge += 1;
                }
            } else {
                let p = Point::new(x, y);
                assert!(data.grids[owner].geometry.intersects(&p), "({x}, {y}) owned by a grid that does not touch it");
            }
            checked_edges += 1;
        }
    }
    assert!(checked_edges > 1000, "expected many shared edge points, checked {checked_edges}");
    assert!(exactly_on_edge > 100, "expected many points exactly on edges, found {exactly_on_edge}");
}

#[test]
fn outside_points_and_nan_have_no_grid() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    assert!(snap.locate(0.0, 0.0).is_none());
    assert!(snap.locate(f64::NAN, 45.6).is_none());
    assert!(snap.locate(84.87, f64::INFINITY).is_none());
}
