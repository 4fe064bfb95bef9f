//! Geocoding throughput and gazetteer build time, in-process.
//!
//! Run: `cargo bench --bench geocode`. Queries are drawn from the Karamay buildings with a
//! fixed seed, in a mix of the ways people write addresses (standard, without prefix, Chinese
//! numerals, with unit and room, compound only, one typo); `geocode+grid` adds the grid look-up
//! the API does for each answer. One core: criterion runs on one thread.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gridmap::address::Gazetteer;
use gridmap::generate::{generate, GenParams};
use gridmap::index::Snapshot;
use gridmap::model::Dataset;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CN: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];

fn chinese(n: u32) -> String {
    match n {
        0..=9 => CN[n as usize].into(),
        10..=19 => format!("十{}", if n % 10 == 0 { "" } else { CN[(n % 10) as usize] }),
        20..=99 => format!("{}十{}", CN[(n / 10) as usize], if n % 10 == 0 { "" } else { CN[(n % 10) as usize] }),
        _ => n.to_string(),
    }
}

/// `n` queries in the mix of the module docs, or standard addresses only.
fn queries(data: &Dataset, n: usize, mixed: bool) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let typo_chars: Vec<char> = "东西南北中新阳光和平幸福".chars().collect();
    (0..n)
        .map(|_| {
            let b = data.buildings.choose(&mut rng).expect("data has buildings");
            let a = &b.address;
            let tail = match (&a.compound, a.building_number) {
                (Some(c), Some(k)) => format!("{c}{k}栋"),
                _ => String::new(),
            };
            if !mixed {
                return b.address_text.clone();
            }
            match rng.random_range(0..6) {
                0 => b.address_text.clone(),
                1 => format!("{}{}号{tail}", a.road, a.door_number),
                2 => format!(
                    "{}{}号{}",
                    a.road,
                    chinese(a.door_number),
                    tail.replace(|c: char| c.is_ascii_digit(), "三")
                ),
                3 => format!("{}{}单元{}室", b.address_text, rng.random_range(1..=b.units), rng.random_range(101..602)),
                4 if a.compound.is_some() => tail,
                _ => {
                    let mut road: Vec<char> = a.road.chars().collect();
                    let i = rng.random_range(0..road.len());
                    road[i] = *typo_chars.choose(&mut rng).expect("typo chars");
                    format!("{}{}号{tail}", road.into_iter().collect::<String>(), a.door_number)
                }
            }
        })
        .collect()
}

fn bench_geocode(c: &mut Criterion, name: &str, snap: &Snapshot) {
    let mut g = c.benchmark_group(format!("geocode/{name}"));
    for (label, mixed) in [("standard", false), ("mixed", true)] {
        let qs = queries(&snap.data, 10_000, mixed);
        g.throughput(Throughput::Elements(qs.len() as u64));
        g.bench_function(label, |b| {
            b.iter(|| qs.iter().map(|q| snap.gazetteer.geocode(&snap.data, q, 1).len()).sum::<usize>())
        });
        if mixed {
            g.bench_function("mixed+grid", |b| {
                b.iter(|| {
                    qs.iter()
                        .filter_map(|q| {
                            let c = snap.gazetteer.geocode(&snap.data, q, 1).into_iter().next()?;
                            let (lon, lat) = snap.gazetteer.grid_point(&snap.data, &c);
                            snap.locate(lon, lat)
                        })
                        .count()
                })
            });
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let points: Vec<(f64, f64)> = (0..10_000)
        .map(|_| {
            let b = snap.data.buildings.choose(&mut rng).expect("data has buildings");
            let p = b.geometry.exterior().0[0];
            (p.x + rng.random_range(-0.0005..0.0005), p.y + rng.random_range(-0.0005..0.0005))
        })
        .collect();
    g.throughput(Throughput::Elements(points.len() as u64));
    g.bench_function("reverse", |b| {
        b.iter(|| {
            points.iter().filter(|&&(x, y)| snap.gazetteer.reverse(&snap.data, x, y, 500.0, 30.0).is_some()).count()
        })
    });
    g.finish();
}

fn bench_build(c: &mut Criterion, name: &str, data: &Dataset) {
    let mut g = c.benchmark_group("gazetteer_build");
    g.sample_size(10);
    g.throughput(Throughput::Elements(data.buildings.len() as u64));
    g.bench_function(name, |b| b.iter(|| Gazetteer::build(data)));
    g.finish();
}

fn karamay(c: &mut Criterion) {
    let data = gridmap::store::seed::karamay().expect("embedded data");
    let snap = Snapshot::build(data, 1).expect("index builds");
    bench_build(c, "karamay", &snap.data);
    bench_geocode(c, "karamay", &snap);
}

fn big_city(c: &mut Criterion) {
    // Generating the city takes a while: skip it when a filter names only other benchmarks.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let names = "gazetteer_build/100k_grids geocode/100k_grids";
    if !filters.is_empty() && !filters.iter().any(|f| names.contains(f.as_str())) {
        return;
    }
    let data = generate(&GenParams { grids: Some(100_000), ..GenParams::default() }, &|_, _, _| {});
    eprintln!("generated city: {} grids, {} buildings", data.grids.len(), data.buildings.len());
    let snap = Snapshot::build(data, 1).expect("index builds");
    bench_build(c, "100k_grids", &snap.data);
    bench_geocode(c, "100k_grids", &snap);
}

criterion_group!(benches, karamay, big_city);
criterion_main!(benches);
