//! Response queries and coverage on the Karamay data and on a generated 100,000-grid city.
//!
//! Run: `cargo bench --bench reach`. Targets are uniform over the district's bounding box (fixed
//! seed), so some fall in buildings, compounds or outside the district, as real clicks do.
//! *Warm* figures are for a snapshot whose graph edges have been built by earlier queries (the
//! steady state of a server); *cold* ones start from a freshly built snapshot. Coverage is
//! measured without its cache (`CacheUse::Bypass`): what an edit costs, not a cache hit.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use geo::BoundingRect;
use gridmap::generate::{generate, GenParams};
use gridmap::index::Snapshot;
use gridmap::model::{Dataset, TimeOfDay};
use gridmap::reach::{coverage_with, CacheUse, ReachIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn targets(data: &Dataset, n: usize) -> Vec<(f64, f64)> {
    let r = data
        .grids
        .iter()
        .filter_map(|g| g.geometry.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        })
        .expect("data has grids");
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    (0..n)
        .map(|_| (r.min().x + rng.random::<f64>() * r.width(), r.min().y + rng.random::<f64>() * r.height()))
        .collect()
}

/// Response queries at 1, 3 and 5 minutes, cycling through fixed targets.
fn bench_response(c: &mut Criterion, name: &str, snap: &Snapshot) {
    let pts = targets(&snap.data, 1000);
    let at = TimeOfDay::new(8, 0).expect("valid time");
    let mut group = c.benchmark_group(format!("response/{name}"));
    for minutes in [1u32, 3, 5] {
        let limit_s = minutes as f64 * 60.0;
        // Warm the graph where the targets are, as a running server would be.
        for &(x, y) in &pts {
            snap.reach.response(x, y, limit_s, at);
        }
        let mut i = 0;
        group.bench_function(format!("{minutes}min_warm"), |b| {
            b.iter(|| {
                i = (i + 1) % pts.len();
                snap.reach.response(pts[i].0, pts[i].1, limit_s, at)
            })
        });
    }
    group.finish();
}

fn karamay(c: &mut Criterion) {
    let data = gridmap::store::seed::karamay().expect("embedded data");
    let snap = Snapshot::build(data.clone(), 1).expect("index builds");
    let mut g = c.benchmark_group("reach_build");
    g.sample_size(20);
    g.bench_function("karamay", |b| b.iter(|| ReachIndex::build(&snap.data, &snap.projection)));
    g.finish();

    bench_response(c, "karamay", &snap);

    // Cold: the first 1-minute query after a snapshot is published.
    let pts = targets(&snap.data, 64);
    let at = TimeOfDay::new(8, 0).expect("valid time");
    let mut g = c.benchmark_group("response/karamay");
    let mut i = 0;
    g.bench_function("1min_cold", |b| {
        b.iter_batched(
            || ReachIndex::build(&snap.data, &snap.projection),
            |idx| {
                i = (i + 1) % pts.len();
                idx.response(pts[i].0, pts[i].1, 60.0, at)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let district = snap.data.district.code.clone();
    let mut g = c.benchmark_group("coverage/karamay_district");
    g.sample_size(10);
    for minutes in [1u32, 3, 5] {
        g.bench_function(format!("{minutes}min_warm"), |b| {
            b.iter(|| coverage_with(&snap, &district, minutes, at, true, CacheUse::Bypass).expect("coverage"))
        });
    }
    g.bench_function("1min_cold", |b| {
        b.iter_batched(
            || Snapshot::build(data.clone(), 1).expect("index builds"),
            |s| coverage_with(&s, &district, 1, at, true, CacheUse::Bypass).expect("coverage"),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn big_city(c: &mut Criterion) {
    let data = generate(&GenParams { grids: Some(100_000), ..GenParams::default() }, &|_, _, _| {});
    let snap = Snapshot::build(data, 1).expect("index builds");
    eprintln!("generated city: {} grids, reach network {:?}", snap.data.grids.len(), snap.reach);
    let mut g = c.benchmark_group("reach_build");
    g.sample_size(10);
    g.bench_function("100k_grids", |b| b.iter(|| ReachIndex::build(&snap.data, &snap.projection)));
    g.finish();
    bench_response(c, "100k_grids", &snap);
    let community = snap.data.communities[snap.data.communities.len() / 2].code.clone();
    let at = TimeOfDay::new(8, 0).expect("valid time");
    let mut g = c.benchmark_group("coverage/100k_grids_community");
    g.sample_size(10);
    g.bench_function("1min", |b| {
        b.iter(|| coverage_with(&snap, &community, 1, at, true, CacheUse::Bypass).expect("coverage"))
    });
    g.finish();
}

criterion_group!(benches, karamay, big_city);
criterion_main!(benches);
