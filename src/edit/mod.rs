//! Redrawing grids safely: the rules of grid drawing, split and merge with codes, and the
//! impact of an edit.
//!
//! This module is pure: it turns an [`EditOp`] and the current [`Snapshot`] into a [`Plan`]
//! (the region versions to end and to write, the staff assignments that change, the impact
//! report and every rule violation), and knows nothing of stores or HTTP. Committing a plan
//! (one store transaction, then a new snapshot) is the API's job; see `crate::api::edit`.
//!
//! How a plan is made ([`plan`]):
//! 1. the operation builds the new versions: a reshape snaps each hand-drawn shape onto the
//!    grids around it (`snap.rs`); a split slices the grid along the line (`split.rs`); a merge
//!    unites the grids (`merge.rs`); new codes and names come from `numbering.rs`;
//! 2. `impact.rs` recounts households and population from the buildings and lists what changes
//!    grid (buildings, gates, entrances, staff), looking only inside the edit's bounding box;
//! 3. `rules.rs` checks every rule on the result and reports all violations at once.
//!
//! `survey.rs` runs the same rules on the whole map ([`check_map`], `gridmap check`), for data
//! that did not come through an edit: an import, or a save in QGIS straight into PostGIS.
//!
//! Rules, tolerances, numbering order and the staff policy are written down in docs/edit.md.

use std::collections::{BTreeMap, BTreeSet};

use geo::{Geometry, LineString, MultiPolygon};
use serde::Serialize;
use serde_json::{json, Value};

use crate::index::Snapshot;
use crate::model::geojson::Feature;
use crate::model::{Code, Level, Region, Staff};

pub mod geom;
pub mod impact;
mod merge;
pub mod numbering;
pub mod rules;
pub mod snap;
mod split;
pub mod survey;

pub use geom::{building_point, AREA_TOLERANCE_M2};
pub use survey::check_map;

/// A new boundary for one grid, and the version it replaces (the ETag the editor saw).
#[derive(Debug, Clone, PartialEq)]
pub struct GridShape {
    pub code: Code,
    pub expected_version: u32,
    pub geometry: MultiPolygon<f64>,
}

/// One edit of the grid layer. A revert is a [`EditOp::Reshape`] to an earlier version's
/// geometry, built by the caller from the history.
#[derive(Debug, Clone, PartialEq)]
pub enum EditOp {
    /// New boundaries for one grid, or for several neighbouring grids at once (moving their
    /// shared boundary), written together or not at all.
    Reshape { grids: Vec<GridShape> },
    /// Cuts a grid in two or more parts along `line`. `assign` names the part (index in the
    /// numbering order of the new codes) each staff member of the grid goes to; staff not named
    /// are flagged for a decision in the impact report.
    Split { code: Code, expected_version: u32, line: LineString<f64>, assign: BTreeMap<u32, usize> },
    /// Joins neighbouring grids of one community into one new grid.
    Merge { grids: Vec<(Code, u32)>, name: Option<String> },
}

/// How bad a violation is: errors refuse the edit, warnings are reported and accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Tunables of the rules.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    /// Vertices closer than this to a neighbour's boundary are snapped onto it (metres).
    pub snap_tolerance_m: f64,
    /// A building cut in two by a grid boundary is an error (true) or a warning (false).
    pub building_cut_is_error: bool,
    /// Households one worker can serve (load warning above this per grid worker).
    pub households_per_worker: u32,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig { snap_tolerance_m: 0.5, building_cut_is_error: true, households_per_worker: 80 }
    }
}

/// What an edit needs to know besides the snapshot.
pub struct Context<'a> {
    pub snap: &'a Snapshot,
    /// Every grid code ever registered (current and retired), so that new codes are never ones
    /// given out before.
    pub used_codes: &'a BTreeSet<Code>,
    pub rules: &'a RuleConfig,
}

/// A violation of one rule, where it is, in Chinese and English (drawn on the map as a
/// GeoJSON Feature).
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Stable identifier of the rule, e.g. `overlaps-sibling`.
    pub rule: &'static str,
    pub severity: Severity,
    pub message_zh: String,
    pub message_en: String,
    /// The grids involved.
    pub codes: Vec<Code>,
    /// Where: the overlap, the gap, the cut building, the bad ring...
    pub geometry: Geometry<f64>,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl Violation {
    /// The violation as a GeoJSON Feature (EPSG:4326) with properties `rule`, `severity`,
    /// `message_zh`, `message_en` and `codes`; its geometry is where the problem is.
    pub fn to_feature(&self) -> Feature {
        let mut properties = serde_json::Map::new();
        properties.insert("rule".into(), self.rule.into());
        properties.insert("severity".into(), self.severity.as_str().into());
        properties.insert("message_zh".into(), self.message_zh.clone().into());
        properties.insert("message_en".into(), self.message_en.clone().into());
        properties
            .insert("codes".into(), self.codes.iter().map(|c| Value::from(c.to_string())).collect::<Vec<_>>().into());
        Feature { id: None, geometry: Some(self.geometry.clone()), properties }
    }
}

/// The result of planning an edit: what to write, what it changes, what is wrong with it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Current versions that end: (code, version).
    pub retire: Vec<(Code, u32)>,
    /// New current versions (an edited grid's next version, or version 1 of a new code).
    /// `valid_from` is set when committing.
    pub write: Vec<Region>,
    /// Codes that end with no successor version (the sources of a split or merge).
    pub retired_codes: Vec<Code>,
    /// Staff whose grid assignments change, as their full new records.
    pub staff: Vec<Staff>,
    pub impact: serde_json::Value,
    /// Every violation found, errors and warnings.
    pub violations: Vec<Violation>,
}

impl Plan {
    /// True when no violation is an error.
    pub fn is_acceptable(&self) -> bool {
        self.violations.iter().all(|v| v.severity != Severity::Error)
    }
}

/// Edits that cannot even be planned.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("there is no grid with code {0}")]
    UnknownGrid(Code),
    /// The editor saw an older version than the current one (HTTP 412).
    #[error("grid {code} is at version {current}, not {expected}: reload it and redo the edit")]
    Stale { code: Code, expected: u32, current: u32 },
    #[error("{0}")]
    Invalid(String),
}

/// What an operation produces before the rules and the impact are worked out.
struct Draft {
    retire: Vec<(Code, u32)>,
    write: Vec<Region>,
    retired_codes: Vec<Code>,
    staff: Vec<Staff>,
    staff_to_decide: Vec<u32>,
}

/// Plans `op` against the current snapshot: snaps hand-drawn boundaries, cuts or joins grids,
/// numbers new codes, recounts households, checks every rule and reports the impact. Pure: it
/// changes nothing. `Err` only when the edit cannot even be planned (unknown grid, stale
/// version, a split line that does not cross the grid, grids that cannot be merged, no codes
/// left); rule violations are in [`Plan::violations`].
pub fn plan(ctx: &Context<'_>, op: &EditOp) -> Result<Plan, EditError> {
    let draft = match op {
        EditOp::Reshape { grids } => reshape(ctx, grids)?,
        EditOp::Split { code, expected_version, line, assign } => {
            split_grid(ctx, code, *expected_version, line, assign)?
        }
        EditOp::Merge { grids, name } => merge_grids(ctx, grids, name.as_deref())?,
    };
    Ok(finish(ctx, draft))
}

fn finish(ctx: &Context<'_>, mut d: Draft) -> Plan {
    let removed: BTreeSet<Code> = d.retire.iter().map(|(c, _)| c.clone()).collect();
    let impact = impact::assess(ctx, &mut d.write, &removed, &d.staff, &d.staff_to_decide);
    let staff_count = impact::staff_counts(ctx, &removed, &d.write, &d.staff);
    let violations = rules::check(ctx, &rules::After { write: &d.write, removed: &removed, staff_count: &staff_count });
    Plan { retire: d.retire, write: d.write, retired_codes: d.retired_codes, staff: d.staff, impact, violations }
}

/// The current grid `code`, at the version the editor saw.
fn current_grid<'a>(ctx: &Context<'a>, code: &Code, expected: u32) -> Result<&'a Region, EditError> {
    if code.level() != Level::Grid {
        return Err(EditError::Invalid(format!("{code} is a {} code, not a grid code", code.level())));
    }
    let r = ctx.snap.region(code).ok_or_else(|| EditError::UnknownGrid(code.clone()))?;
    if r.version != expected {
        return Err(EditError::Stale { code: code.clone(), expected, current: r.version });
    }
    Ok(r)
}

fn new_region(code: Code, name: String, version: u32, geometry: MultiPolygon<f64>) -> Region {
    Region {
        code,
        name,
        households: 0,
        population: 0,
        valid_from: chrono::Utc::now(),
        valid_to: None,
        version,
        geometry,
    }
}

fn reshape(ctx: &Context<'_>, grids: &[GridShape]) -> Result<Draft, EditError> {
    if grids.is_empty() {
        return Err(EditError::Invalid("a reshape needs at least one grid".into()));
    }
    let mut seen = BTreeSet::new();
    for g in grids {
        if !seen.insert(&g.code) {
            return Err(EditError::Invalid(format!("grid {} appears twice in one edit", g.code)));
        }
    }
    let metric = geom::Metric::new(&ctx.snap.projection);
    let tol = ctx.rules.snap_tolerance_m;
    let mut d = Draft { retire: vec![], write: vec![], retired_codes: vec![], staff: vec![], staff_to_decide: vec![] };
    for g in grids {
        let old = current_grid(ctx, &g.code, g.expected_version)?;
        let mut nb = snap::Neighbours::default();
        if let (Some(community), Some(area)) = (g.code.parent(), snap::reach_of(&g.geometry, &metric, tol)) {
            for c in ctx.snap.children(&community) {
                if !seen.contains(c) {
                    if let Some(r) = ctx.snap.region(c) {
                        nb.add(&r.geometry, area);
                    }
                }
            }
            if let Some(com) = ctx.snap.region(&community) {
                nb.add(&com.geometry, area);
            }
        }
        // An unreadable shape is kept as sent, to be reported as it is.
        let geometry = if rules::readable(&g.geometry) {
            snap::snap_shape(&g.geometry, &nb, &metric, tol)
        } else {
            g.geometry.clone()
        };
        d.retire.push((g.code.clone(), old.version));
        d.write.push(new_region(g.code.clone(), old.name.clone(), old.version + 1, geometry));
    }
    Ok(d)
}

fn community_of<'a>(ctx: &Context<'a>, code: &Code) -> Result<(Code, &'a Region), EditError> {
    let c = code.parent().ok_or_else(|| EditError::Invalid(format!("{code} has no community")))?;
    let r = ctx
        .snap
        .region(&c)
        .ok_or_else(|| EditError::Invalid(format!("the community {c} of grid {code} does not exist")))?;
    Ok((c, r))
}

/// Replaces `old` in a staff member's grid list by `new` (at the position of `old`), keeping
/// each code once.
fn replace_grids(grids: &[Code], old: &[&Code], new: &[Code]) -> Vec<Code> {
    let mut out: Vec<Code> = Vec::new();
    for g in grids {
        if old.contains(&g) {
            for n in new {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        } else if !out.contains(g) {
            out.push(g.clone());
        }
    }
    out
}

fn split_grid(
    ctx: &Context<'_>,
    code: &Code,
    expected_version: u32,
    line: &LineString<f64>,
    assign: &BTreeMap<u32, usize>,
) -> Result<Draft, EditError> {
    let old = current_grid(ctx, code, expected_version)?;
    let (community, com) = community_of(ctx, code)?;
    let metric = geom::Metric::new(&ctx.snap.projection);
    let parts = split::cut(code, &old.geometry, line, &metric)?;
    let order = numbering::reading_order(ctx, &parts);
    let codes = numbering::next_codes(ctx, &community, parts.len())?;
    let staff: Vec<&Staff> = ctx.snap.staff_of_grid(code).collect();
    for (&id, &part) in assign {
        if !staff.iter().any(|s| s.id == id) {
            return Err(EditError::Invalid(format!("staff {id} does not serve grid {code}, so cannot be assigned")));
        }
        if part >= parts.len() {
            return Err(EditError::Invalid(format!(
                "staff {id} is assigned to part {part}, but the line cuts grid {code} into {} parts (0 to {})",
                parts.len(),
                parts.len() - 1
            )));
        }
    }
    let mut d = Draft {
        retire: vec![(code.clone(), old.version)],
        write: vec![],
        retired_codes: vec![code.clone()],
        staff: vec![],
        staff_to_decide: vec![],
    };
    for (k, &i) in order.iter().enumerate() {
        let name = numbering::grid_name(&com.name, &codes[k]);
        d.write.push(new_region(codes[k].clone(), name, 1, parts[i].clone()));
    }
    for s in staff {
        let mut s2 = s.clone();
        match assign.get(&s.id) {
            Some(&part) => s2.grids = replace_grids(&s.grids, &[code], std::slice::from_ref(&codes[part])),
            None => {
                s2.grids = replace_grids(&s.grids, &[code], &codes);
                d.staff_to_decide.push(s.id);
            }
        }
        d.staff.push(s2);
    }
    Ok(d)
}

fn merge_grids(ctx: &Context<'_>, grids: &[(Code, u32)], name: Option<&str>) -> Result<Draft, EditError> {
    if grids.len() < 2 {
        return Err(EditError::Invalid("a merge needs at least two grids".into()));
    }
    let mut sources: Vec<&Region> = Vec::new();
    for (code, version) in grids {
        if sources.iter().any(|r| &r.code == code) {
            return Err(EditError::Invalid(format!("grid {code} appears twice in one merge")));
        }
        sources.push(current_grid(ctx, code, *version)?);
    }
    let geometry = merge::union_of(ctx, &sources)?;
    let (community, com) = community_of(ctx, &sources[0].code)?;
    let code = numbering::next_codes(ctx, &community, 1)?.remove(0);
    let name = match name.map(str::trim) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => numbering::grid_name(&com.name, &code),
    };
    let old_codes: Vec<&Code> = sources.iter().map(|r| &r.code).collect();
    let mut staff: BTreeMap<u32, Staff> = BTreeMap::new();
    for r in &sources {
        for s in ctx.snap.staff_of_grid(&r.code) {
            staff.entry(s.id).or_insert_with(|| {
                let mut s2 = s.clone();
                s2.grids = replace_grids(&s.grids, &old_codes, std::slice::from_ref(&code));
                s2
            });
        }
    }
    Ok(Draft {
        retire: sources.iter().map(|r| (r.code.clone(), r.version)).collect(),
        write: vec![new_region(code, name, 1, geometry)],
        retired_codes: sources.iter().map(|r| r.code.clone()).collect(),
        staff: staff.into_values().collect(),
        staff_to_decide: vec![],
    })
}

/// The violations as a GeoJSON FeatureCollection value.
pub fn violations_json(violations: &[Violation]) -> Value {
    json!({"type": "FeatureCollection", "features": violations.iter().map(|v| v.to_feature().to_json()).collect::<Vec<_>>()})
}
