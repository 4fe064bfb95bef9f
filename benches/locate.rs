//! `locate` throughput on the Karamay data and on a generated 100,000-grid city.
//!
//! Run: `cargo bench --bench locate`. Points are uniform over the district's bounding box
//! (fixed seed), so a share of them fall outside the district, as in real batches.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use geo::BoundingRect;
use gridmap::generate::{generate, GenParams};
use gridmap::index::Snapshot;
use gridmap::model::Dataset;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn points(data: &Dataset, n: usize) -> Vec<(f64, f64)> {
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

fn bench_city(c: &mut Criterion, name: &str, data: Dataset) {
    let pts = points(&data, 100_000);
    let snap = Snapshot::build(data, 1).expect("index builds");
    let loc = snap.grid_locator();
    let mut group = c.benchmark_group(format!("locate/{name}"));
    group.throughput(Throughput::Elements(pts.len() as u64));
    group.bench_function("bucket_index", |b| {
        b.iter(|| pts.iter().filter(|&&(x, y)| loc.locate(x, y).is_some()).count())
    });
    group
        .bench_function("rtree", |b| b.iter(|| pts.iter().filter(|&&(x, y)| loc.locate_rtree(x, y).is_some()).count()));
    group.bench_function("snapshot_with_parents", |b| {
        b.iter(|| pts.iter().filter(|&&(x, y)| snap.locate(x, y).is_some()).count())
    });
    group.finish();
}

fn karamay(c: &mut Criterion) {
    let data = gridmap::store::seed::karamay().expect("embedded data");
    let mut g = c.benchmark_group("index_build");
    g.sample_size(10);
    g.bench_function("karamay", |b| b.iter_batched(|| data.clone(), |d| Snapshot::build(d, 1), BatchSize::LargeInput));
    g.finish();
    bench_city(c, "karamay", data);
}

fn big_city(c: &mut Criterion) {
    let data = generate(&GenParams { grids: Some(100_000), ..GenParams::default() }, &|_, _, _| {});
    eprintln!("generated city: {} grids", data.grids.len());
    bench_city(c, "100k_grids", data);
}

criterion_group!(benches, karamay, big_city);
criterion_main!(benches);
