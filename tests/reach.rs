//! Response circles and coverage (issue 4), with answers worked out by hand.

use std::time::Instant;

use gridmap::index::Snapshot;
use gridmap::model::TimeOfDay;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
#[ignore]
fn probe_timings() {
    let data = gridmap::store::seed::karamay().unwrap();
    let t = Instant::now();
    let snap = Snapshot::build(data, 1).unwrap();
    eprintln!("snapshot {:?} {:?}", t.elapsed(), snap.reach);
    let t = Instant::now();
    let _ = gridmap::reach::ReachIndex::build(&snap.data, &snap.projection);
    eprintln!("reach build {:?}", t.elapsed());
    let bb = snap.data.grids.iter().fold((f64::MAX, f64::MAX, f64::MIN, f64::MIN), |b, g| {
        use geo::BoundingRect;
        let r = g.geometry.bounding_rect().unwrap();
        (b.0.min(r.min().x), b.1.min(r.min().y), b.2.max(r.max().x), b.3.max(r.max().y))
    });
    let at = TimeOfDay::parse("08:00").unwrap();
    for minutes in [1u32, 3, 5] {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let pts: Vec<(f64, f64)> =
            (0..200).map(|_| (rng.random_range(bb.0..bb.2), rng.random_range(bb.1..bb.3))).collect();
        for pass in 0..2 {
            let t = Instant::now();
            let mut n = 0;
            for &(x, y) in &pts {
                n += snap.reach.response(x, y, minutes as f64 * 60.0, at).len();
            }
            eprintln!("response {minutes} min pass {pass}: {:?} per query, {n} arrivals", t.elapsed() / pts.len() as u32);
        }
    }
    for minutes in [1u32, 3, 5] {
        let t = Instant::now();
        let c = gridmap::reach::coverage(&snap, &snap.data.district.code, minutes, at, true).unwrap();
        eprintln!(
            "coverage {minutes}: {:?} area {:.3} hh {:.3} gates {:.3} ent {:.3} blind polys {}",
            t.elapsed(),
            c.totals.area_covered_m2 / c.totals.area_m2,
            c.totals.households_covered as f64 / c.totals.households as f64,
            c.totals.gates_covered as f64 / c.totals.gates as f64,
            c.totals.entrances_covered as f64 / c.totals.entrances as f64,
            c.blind_spots.0.len()
        );
    }
}
