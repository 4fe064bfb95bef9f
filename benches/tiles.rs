//! Vector tiles on the Karamay data: the busiest zoom-14 tile cut uncached and served cached,
//! plus an overview tile, a street-level tile, and the per-snapshot work a publish costs.
//!
//! Run: `cargo bench --bench tiles`. "Busiest" is the z14 tile over the district with the most
//! buildings (fixed by the data, so the same tile every run). The `city_100k` group does the same
//! on a generated city of 100,000 grids (fixed seed), where a tile at the zoom grids first
//! appear holds thousands of them (`GRIDMAP_BENCH_KARAMAY_ONLY=1` skips it).

use criterion::{criterion_group, criterion_main, Criterion};
use gridmap::index::Snapshot;
use gridmap::model::LayerKind;
use gridmap::tiles::layers::data_bounds;
use gridmap::tiles::{build_tile, Prepared, TileId, TileService};

/// The tile of zoom `z` over the district holding the most buildings (or grids below z14).
fn busiest(snap: &Snapshot, z: u8) -> TileId {
    let kind = if z >= 14 { LayerKind::Buildings } else { LayerKind::Grids };
    TileId::covering(data_bounds(snap).expect("data has regions"), z, 0)
        .max_by_key(|t| snap.layer_in_bbox(kind, t.bounds_lonlat(0)).len())
        .expect("the district covers a tile")
}

fn tiles(c: &mut Criterion) {
    let data = gridmap::store::seed::karamay().expect("embedded data");
    let snap = Snapshot::build(data.clone(), 1).expect("index builds");
    let service = TileService::default();
    let prep = service.prepared(&snap);

    let mut g = c.benchmark_group("tiles/karamay");
    for z in [12u8, 14, 16] {
        let t = busiest(&snap, z);
        let raw = build_tile(&snap, &prep, t);
        let gz = service.encode(&snap, &prep, t).expect("tile compresses");
        eprintln!("z{z} tile {t}: {} bytes raw, {} gzip", raw.len(), gz.gzip.len());
        g.bench_function(format!("z{z}_uncached"), |b| b.iter(|| service.encode(&snap, &prep, t)));
        if z == 14 {
            g.bench_function("z14_cut_no_gzip", |b| b.iter(|| build_tile(&snap, &prep, t)));
            for level in [1, 3, 6] {
                let size = gridmap::tiles::gzip(&raw, level).expect("gzip").len();
                eprintln!("gzip level {level}: {size} bytes");
                g.bench_function(format!("z14_gzip_level_{level}"), |b| b.iter(|| gridmap::tiles::gzip(&raw, level)));
            }
            service.tile(&snap, t).expect("tile");
            g.bench_function("z14_cached", |b| b.iter(|| service.tile(&snap, t)));
        }
    }
    g.finish();

    // What a publish costs the tile service: extras and stamps of the new snapshot, and the
    // diff against the old one (one building changed).
    let mut g = c.benchmark_group("tiles/karamay/snapshot");
    g.sample_size(20);
    g.bench_function("prepare", |b| b.iter(|| Prepared::build(&snap)));
    let mut edited = data;
    edited.buildings[100].households += 1;
    let new = Prepared::build(&Snapshot::build(edited, 2).expect("index builds"));
    g.bench_function("diff_stamps", |b| b.iter(|| new.stamps.changed_areas(&prep.stamps)));
    g.finish();
}

fn big_city(c: &mut Criterion) {
    use gridmap::generate::{generate, GenParams};
    // Generating the city takes a minute: skip it when only Karamay's figures are wanted.
    if std::env::var_os("GRIDMAP_BENCH_KARAMAY_ONLY").is_some() {
        return;
    }
    let data = generate(&GenParams { grids: Some(100_000), ..GenParams::default() }, &|_, _, _| {});
    let snap = Snapshot::build(data, 1).expect("index builds");
    let started = std::time::Instant::now();
    let prep = Prepared::build(&snap);
    eprintln!(
        "city: {} grids, {} buildings; prepare {:?}; bounds {:?}",
        snap.data.grids.len(),
        snap.data.buildings.len(),
        started.elapsed(),
        prep.bounds
    );
    let service = TileService::default();
    let mut g = c.benchmark_group("tiles/city_100k");
    g.sample_size(10);
    for z in [8u8, 10, 12, 14] {
        let t = busiest(&snap, z);
        let gz = service.encode(&snap, &prep, t).expect("tile compresses");
        eprintln!("z{z} tile {t}: {} bytes raw, {} gzip", gz.raw_len, gz.gzip.len());
        g.bench_function(format!("z{z}_uncached"), |b| b.iter(|| service.encode(&snap, &prep, t)));
    }
    g.finish();
}

criterion_group!(benches, tiles, big_city);
criterion_main!(benches);
