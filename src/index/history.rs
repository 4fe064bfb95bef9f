//! The ended versions of grids, for as-of reads ("which grid held this point on 2026-01-01").
//!
//! A [`History`] holds every grid version that has ended (`valid_to` set), loaded from the store
//! with the snapshot and extended by every edit, in an R-tree over their envelopes. A version is
//! valid over the half-open interval `[valid_from, valid_to)`; the current versions (in the
//! snapshot's grid layer) over `[valid_from, ∞)`. An as-of lookup at instant `t`:
//!
//! 1. envelopes containing the point, from this tree and the current grids' tree;
//! 2. the validity filter `valid_from <= t < valid_to`;
//! 3. the exact point-in-polygon test under the boundary rule of [`super::pip`];
//! 4. the lowest code wins (as in [`super::GridLocator`], where index order is code order).
//!
//! Coordinates are EPSG:4326 degrees.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use geo::BoundingRect;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::RTree;

use super::pip::{claims, edges_of, Edge};
use crate::model::{Code, Region};

type Envelope = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Every ended grid version, indexed for as-of point lookups.
pub struct History {
    /// Sorted by code, then version.
    versions: Vec<Region>,
    edges: Vec<Vec<Edge>>,
    tree: RTree<Envelope>,
    /// The latest `valid_to` of any version: at or after it, history has nothing to add.
    last_end: Option<DateTime<Utc>>,
}

impl History {
    /// Indexes `versions` (ended grid versions; current ones, `valid_to` unset, are dropped).
    pub fn new(mut versions: Vec<Region>) -> History {
        versions.retain(|r| r.valid_to.is_some());
        versions.sort_by(|a, b| a.code.cmp(&b.code).then(a.version.cmp(&b.version)));
        versions.dedup_by(|a, b| a.code == b.code && a.version == b.version);
        let edges = versions.iter().map(|r| edges_of(&r.geometry)).collect();
        let tree = RTree::bulk_load(
            versions
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let b = r.geometry.bounding_rect()?;
                    Some(GeomWithData::new(Rectangle::from_corners(b.min().into(), b.max().into()), i as u32))
                })
                .collect(),
        );
        let last_end = versions.iter().filter_map(|r| r.valid_to).max();
        History { versions, edges, tree, last_end }
    }

    /// No ended version.
    pub fn empty() -> History {
        History::new(Vec::new())
    }

    /// Every ended version, by code then version.
    pub fn versions(&self) -> &[Region] {
        &self.versions
    }

    /// The latest end of any version (`None` when there is no history).
    pub fn last_end(&self) -> Option<DateTime<Utc>> {
        self.last_end
    }

    /// The ended versions of `code`, oldest first.
    pub fn of_code(&self, code: &Code) -> &[Region] {
        let start = self.versions.partition_point(|r| r.code < *code);
        let end = start + self.versions[start..].partition_point(|r| r.code == *code);
        &self.versions[start..end]
    }

    /// The ended version of `code` valid at `t`, if any.
    pub fn version_at(&self, code: &Code, t: DateTime<Utc>) -> Option<&Region> {
        self.of_code(code).iter().find(|r| valid_at(r, t))
    }

    /// The ended version with the lowest code that was valid at `t` and claims `(lon, lat)`.
    pub fn locate_at(&self, lon: f64, lat: f64, t: DateTime<Utc>) -> Option<&Region> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        self.tree
            .locate_all_at_point(&[lon, lat])
            .map(|e| e.data as usize)
            .filter(|&i| valid_at(&self.versions[i], t) && claims(&self.edges[i], lon, lat))
            .min()
            .map(|i| &self.versions[i])
    }

    /// Every code with an ended version.
    pub fn codes(&self) -> BTreeSet<Code> {
        self.versions.iter().map(|r| r.code.clone()).collect()
    }
}

/// Whether `r` was in force at `t`: `valid_from <= t < valid_to` (no end: still in force).
pub fn valid_at(r: &Region, t: DateTime<Utc>) -> bool {
    r.valid_from <= t && r.valid_to.is_none_or(|end| t < end)
}
