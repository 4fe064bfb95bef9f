//! Redrawing grids safely: the rules of grid drawing, split and merge with codes, and the
//! impact of an edit.
//!
//! This module is pure: it turns an [`EditOp`] and the current [`Snapshot`] into a [`Plan`]
//! (the region versions to end and to write, the staff assignments that change, the impact
//! report and every rule violation), and knows nothing of stores or HTTP. Committing a plan
//! (one store transaction, then a new snapshot) is the API's job; see `crate::api::edit`.

use std::collections::{BTreeMap, BTreeSet};

use geo::{Geometry, LineString, MultiPolygon};
use serde::Serialize;

use crate::index::Snapshot;
use crate::model::{Code, Region, Staff};

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
    #[error("{0}")]
    Invalid(String),
}

/// Plans `op` against the current snapshot.
pub fn plan(_ctx: &Context<'_>, _op: &EditOp) -> Result<Plan, EditError> {
    todo!("src/edit: plan")
}
