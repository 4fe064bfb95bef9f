//! The whole map against the rules of grid drawing: what `gridmap check` reports.
//!
//! An edit made through gridmap is checked before it is written ([`super::plan`]). Data that
//! arrives another way, an import or a planner's save in QGIS straight into the PostGIS tables,
//! is checked only for what each row needs (valid geometry, codes, keys): two grids may then
//! overlap, or leave part of their community to nobody. [`check_map`] finds that: it runs every
//! rule of `rules.rs` on every current grid, as if each community's grids had all just been
//! drawn, so the same messages, tolerances and severities apply as for an edit. What it does not
//! check, because no rule does: whether the communities cover their subdistrict.
//!
//! Communities are independent; they are checked on every core, and the violations come back
//! in community order (then in the order the rules report them), so two runs print the same.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use geo::Geometry;

use super::geom::Metric;
use super::rules::{self, After};
use super::{Context, RuleConfig, Severity, Violation};
use crate::index::Snapshot;
use crate::model::{Code, Region};

/// Every violation of the rules by the current grids of `snap`. `progress(done, total)` is
/// called as communities are finished (from several threads). CPU-heavy for a big city: call it
/// from a blocking thread.
pub fn check_map(snap: &Snapshot, rules: &RuleConfig, progress: &(dyn Fn(usize, usize) + Sync)) -> Vec<Violation> {
    // The snapshot's grids are sorted by code, and a grid's code starts with its community's:
    // each community's grids are one run of the slice.
    let communities: Vec<&[Region]> = snap.data.grids.chunk_by(|a, b| a.code.parent() == b.code.parent()).collect();
    let with_grids: BTreeSet<Code> = communities.iter().filter_map(|grids| grids[0].code.parent()).collect();
    // A community with no grid at all is one gap (no edit can leave one, so no rule says it).
    let metric = Metric::new(&snap.projection);
    let mut empty: Vec<Violation> = Vec::new();
    for c in snap.data.communities.iter().filter(|c| !with_grids.contains(&c.code)) {
        let a = metric.area_m2(&c.geometry);
        empty.push(Violation {
            rule: "gap",
            severity: Severity::Error,
            message_zh: format!("社区 {}（{}）没有任何网格：{a:.1} 平方米不属于任何网格", c.code, c.name),
            message_en: format!("community {} has no grid: its {a:.1} m² belong to no grid", c.code),
            codes: vec![],
            geometry: Geometry::MultiPolygon(c.geometry.clone()),
        });
    }
    let total = communities.len();
    let ctx = Context { snap, used_codes: snap.used_grid_codes(), rules };
    let (next, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let found: Mutex<Vec<(usize, Vec<Violation>)>> = Mutex::new(Vec::with_capacity(total));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(total.max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&grids) = communities.get(i) else { break };
                let violations = check_community(&ctx, grids);
                found.lock().unwrap_or_else(|e| e.into_inner()).push((i, violations));
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            });
        }
    });
    let mut found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().flat_map(|(_, v)| v).chain(empty).collect()
}

/// The rules on `grids`, every current grid of one community, as one edit that rewrites them
/// all: each is then checked against all the others, and the community's cover is theirs.
fn check_community(ctx: &Context<'_>, grids: &[Region]) -> Vec<Violation> {
    let removed: BTreeSet<Code> = grids.iter().map(|g| g.code.clone()).collect();
    let staff_count: BTreeMap<Code, usize> = grids
        .iter()
        .map(|g| (g.code.clone(), ctx.snap.staff_of_grid(&g.code).map(|s| s.id).collect::<BTreeSet<_>>().len()))
        .collect();
    rules::check(ctx, &After { write: grids, removed: &removed, staff_count: &staff_count })
}

/// How many violations of each rule, errors first: `"2 errors (gap 1, overlaps-sibling 1), 5
/// warnings (understaffed 5)"`, or `"no errors, no warnings"`.
pub fn tally(violations: &[Violation]) -> String {
    [Severity::Error, Severity::Warning]
        .into_iter()
        .map(|severity| {
            let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
            for v in violations.iter().filter(|v| v.severity == severity) {
                *by_rule.entry(v.rule).or_default() += 1;
            }
            let n: usize = by_rule.values().sum();
            let what = if n == 1 { severity.as_str().to_string() } else { format!("{}s", severity.as_str()) };
            if n == 0 {
                format!("no {what}")
            } else {
                let rules: Vec<String> = by_rule.iter().map(|(r, k)| format!("{r} {k}")).collect();
                format!("{n} {what} ({})", rules.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
