//! What an edit changes for the things in the grids: buildings (with their households and
//! population), gates, entrances and staff that move from one grid to another.
//!
//! A building belongs to the grid that claims its representative point
//! ([`super::geom::building_point`]), a gate or an entrance to the grid that claims its location,
//! by the boundary rule of [`crate::index::pip`] (the same rule `locate` uses), before the edit
//! through the snapshot and after it through the new versions: a point claimed by a written
//! grid belongs to it; otherwise to its old grid unless that grid's current version ends;
//! otherwise to no grid (it fell into a gap). Only features within the bounding box of the old
//! and new shapes can change owner, so only those are looked at (R-tree queries).
//!
//! The report holds ids and codes only, never names or phone numbers.

use std::collections::{BTreeMap, BTreeSet};

use geo::{BoundingRect, Point, Rect};
use serde_json::{json, Value};

use super::geom::{bbox_of, building_point, Metric};
use super::Context;
use crate::index::pip::{claims, edges_of, Edge};
use crate::model::{Code, LayerKind, Region, Staff};

/// Who claims a point after the edit.
pub struct Owners<'a> {
    ctx: &'a Context<'a>,
    written: Vec<(Rect<f64>, Vec<Edge>, &'a Code)>,
    removed: &'a BTreeSet<Code>,
}

impl<'a> Owners<'a> {
    pub fn new(ctx: &'a Context<'a>, write: &'a [Region], removed: &'a BTreeSet<Code>) -> Owners<'a> {
        let written = write
            .iter()
            .filter_map(|r| r.geometry.bounding_rect().map(|b| (b, edges_of(&r.geometry), &r.code)))
            .collect();
        Owners { ctx, written, removed }
    }

    /// The grid claiming `p` before the edit.
    pub fn before(&self, p: Point<f64>) -> Option<&'a Code> {
        let snap = self.ctx.snap;
        snap.locate(p.x(), p.y()).map(|l| &snap.data.grids[l.grid].code)
    }

    /// The grid claiming `p` after the edit.
    pub fn after(&self, p: Point<f64>) -> Option<&'a Code> {
        let (x, y) = (p.x(), p.y());
        for (b, edges, code) in &self.written {
            if x >= b.min().x && x <= b.max().x && y >= b.min().y && y <= b.max().y && claims(edges, x, y) {
                return Some(code);
            }
        }
        self.before(p).filter(|c| !self.removed.contains(*c))
    }
}

#[derive(Default, Clone, Copy)]
struct Tally {
    households: u64,
    population: u64,
}

fn code_json(c: Option<&Code>) -> Value {
    c.map_or(Value::Null, |c| Value::from(c.to_string()))
}

/// Fills in the households and population of the written regions (recounted from the
/// buildings) and returns the impact report (JSON, shape in docs/edit.md).
pub fn assess(
    ctx: &Context<'_>,
    write: &mut [Region],
    removed: &BTreeSet<Code>,
    staff: &[Staff],
    staff_to_decide: &[u32],
) -> Value {
    let snap = ctx.snap;
    let metric = Metric::new(&snap.projection);
    let old: Vec<&Region> = removed.iter().filter_map(|c| snap.region(c)).collect();
    let bbox = bbox_of(old.iter().map(|r| &r.geometry).chain(write.iter().map(|r| &r.geometry)));
    let mut before: BTreeMap<Code, Tally> = BTreeMap::new();
    let mut after: BTreeMap<Code, Tally> = BTreeMap::new();
    let mut buildings = Vec::new();
    let (mut households_moved, mut population_moved) = (0u64, 0u64);
    let mut access_points = Vec::new();
    let mut entrances = Vec::new();
    {
        let written: &[Region] = write;
        let owners = Owners::new(ctx, written, removed);
        if let Some(bbox) = bbox {
            for i in snap.layer_in_bbox(LayerKind::Buildings, bbox) {
                let b = &snap.data.buildings[i];
                let Some(p) = building_point(b) else { continue };
                let (from, to) = (owners.before(p), owners.after(p));
                for (map, code) in [(&mut before, from), (&mut after, to)] {
                    if let Some(c) = code {
                        let t = map.entry(c.clone()).or_default();
                        t.households += b.households as u64;
                        t.population += b.population as u64;
                    }
                }
                if from != to {
                    households_moved += b.households as u64;
                    population_moved += b.population as u64;
                    buildings.push(json!({"id": b.id, "from": code_json(from), "to": code_json(to),
                        "households": b.households, "population": b.population}));
                }
            }
            for i in snap.layer_in_bbox(LayerKind::AccessPoints, bbox) {
                let a = &snap.data.access_points[i];
                let (from, to) = (owners.before(a.location), owners.after(a.location));
                if from != to {
                    access_points.push(json!({"id": a.id, "from": code_json(from), "to": code_json(to)}));
                }
            }
            for i in snap.layer_in_bbox(LayerKind::Entrances, bbox) {
                let e = &snap.data.entrances[i];
                let (from, to) = (owners.before(e.location), owners.after(e.location));
                if from != to {
                    entrances.push(
                        json!({"id": e.id, "building_id": e.building_id, "from": code_json(from), "to": code_json(to)}),
                    );
                }
            }
        }
    }
    for r in write.iter_mut() {
        let t = after.get(&r.code).copied().unwrap_or_default();
        r.households = t.households.min(u32::MAX as u64) as u32;
        r.population = t.population.min(u32::MAX as u64) as u32;
    }

    // Staff: old and new grid lists of everyone whose grids change.
    let old_staff = |id: u32| snap.data.staff.binary_search_by_key(&id, |s| s.id).ok().map(|i| &snap.data.staff[i]);
    let staff_json: Vec<Value> = staff
        .iter()
        .map(|s| {
            let from = old_staff(s.id).map(|o| o.grids.clone()).unwrap_or_default();
            json!({"id": s.id, "role": s.role, "from": from, "to": s.grids})
        })
        .collect();
    let count_after = staff_counts(ctx, removed, write, staff);

    let mut codes: BTreeSet<&Code> = removed.iter().collect();
    codes.extend(write.iter().map(|r| &r.code));
    let grids: Vec<Value> = codes
        .into_iter()
        .map(|c| {
            let (b, a) = (before.get(c).copied().unwrap_or_default(), after.get(c).copied().unwrap_or_default());
            let old = removed.contains(c).then(|| snap.region(c)).flatten();
            let new = write.iter().find(|r| &r.code == c);
            json!({
                "code": c,
                "households_before": b.households,
                "households_after": a.households,
                "population_before": b.population,
                "population_after": a.population,
                "area_m2_before": old.map_or(0.0, |r| (metric.area_m2(&r.geometry) * 10.0).round() / 10.0),
                "area_m2_after": new.map_or(0.0, |r| (metric.area_m2(&r.geometry) * 10.0).round() / 10.0),
                "staff_before": if old.is_some() { snap.staff_of_grid(c).count() } else { 0 },
                "staff_after": count_after.get(c).copied().unwrap_or(0),
            })
        })
        .collect();
    json!({
        "buildings": buildings,
        "households_moved": households_moved,
        "population_moved": population_moved,
        "access_points": access_points,
        "entrances": entrances,
        "staff": staff_json,
        "staff_to_decide": staff_to_decide,
        "grids": grids,
    })
}

/// How many staff serve each written grid after the edit: the snapshot's staff of the touched
/// grids, with the changed records of `staff` in place of the old ones.
pub fn staff_counts(
    ctx: &Context<'_>,
    removed: &BTreeSet<Code>,
    write: &[Region],
    staff: &[Staff],
) -> BTreeMap<Code, usize> {
    let snap = ctx.snap;
    let changed: BTreeMap<u32, &Staff> = staff.iter().map(|s| (s.id, s)).collect();
    let mut people: BTreeMap<u32, &Staff> = BTreeMap::new();
    for c in removed.iter().chain(write.iter().map(|r| &r.code)) {
        for s in snap.staff_of_grid(c) {
            people.insert(s.id, changed.get(&s.id).copied().unwrap_or(s));
        }
    }
    for s in staff {
        people.insert(s.id, s);
    }
    let mut out: BTreeMap<Code, usize> = write.iter().map(|r| (r.code.clone(), 0)).collect();
    for s in people.values() {
        let mut gs: Vec<&Code> = s.grids.iter().collect();
        gs.sort();
        gs.dedup();
        for g in gs {
            if let Some(n) = out.get_mut(g) {
                *n += 1;
            }
        }
    }
    out
}
