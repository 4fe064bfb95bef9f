//! `edit::plan` on the Karamay data: a one-grid reshape, a shared-boundary move of two grids,
//! a split and a merge. The store commit is not included (the edit-api measures the whole save).
//!
//! Run: `cargo bench --bench edit_plan`.

use std::collections::{BTreeMap, BTreeSet};

use criterion::{criterion_group, criterion_main, Criterion};
use geo::{BoundingRect, InteriorPoint, LineString};
use gridmap::edit::{plan, Context, EditOp, GridShape, RuleConfig};
use gridmap::index::Snapshot;
use gridmap::model::Code;

fn bench(c: &mut Criterion) {
    let snap = Snapshot::build(gridmap::store::seed::karamay().expect("embedded data"), 1).expect("index builds");
    let used: BTreeSet<Code> = snap.data.grids.iter().map(|g| g.code.clone()).collect();
    let rules = RuleConfig::default();
    let ctx = Context { snap: &snap, used_codes: &used, rules: &rules };
    let a = &snap.data.grids[100];
    let community = a.code.parent().expect("grid has a community");
    let b = snap
        .children(&community)
        .into_iter()
        .filter(|c| **c != a.code)
        .filter_map(|c| snap.region(c))
        .find(|r| geo::Intersects::intersects(&r.geometry, &a.geometry))
        .expect("a neighbour");

    let reshape = EditOp::Reshape {
        grids: vec![GridShape { code: a.code.clone(), expected_version: a.version, geometry: a.geometry.clone() }],
    };
    let boundary = EditOp::Reshape {
        grids: vec![
            GridShape { code: a.code.clone(), expected_version: a.version, geometry: a.geometry.clone() },
            GridShape { code: b.code.clone(), expected_version: b.version, geometry: b.geometry.clone() },
        ],
    };
    let bb = a.geometry.bounding_rect().expect("box");
    let y = a.geometry.interior_point().expect("point").y() + 0.00003;
    let split = EditOp::Split {
        code: a.code.clone(),
        expected_version: a.version,
        line: LineString::from(vec![(bb.min().x - 0.001, y), (bb.max().x + 0.001, y)]),
        assign: BTreeMap::new(),
    };
    let merge = EditOp::Merge { grids: vec![(a.code.clone(), a.version), (b.code.clone(), b.version)], name: None };
    for op in [&reshape, &boundary, &split, &merge] {
        plan(&ctx, op).expect("the benchmark edits can be planned");
    }

    let mut g = c.benchmark_group("edit_plan/karamay");
    g.bench_function("reshape_one_grid", |bch| bch.iter(|| plan(&ctx, &reshape)));
    g.bench_function("move_shared_boundary", |bch| bch.iter(|| plan(&ctx, &boundary)));
    g.bench_function("split", |bch| bch.iter(|| plan(&ctx, &split)));
    g.bench_function("merge", |bch| bch.iter(|| plan(&ctx, &merge)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
