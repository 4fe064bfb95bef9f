//! Grids over time: as-of reads over the current grids and their [`History`](super::History), and the
//! snapshot that follows an edit.
//!
//! An edit is applied to a snapshot only after the store committed it: [`Snapshot::with_grid_edit`]
//! derives the next snapshot (the ended versions move into the history, the new versions and
//! staff records replace the old ones) without reading the store again. Coordinates are
//! EPSG:4326 degrees.

use chrono::{DateTime, Utc};

use super::history::valid_at;
use super::{IndexError, Snapshot};
use crate::model::{Code, Region, Staff};

/// The grid that held a point at some instant, and its parents (as they are now: communities
/// and subdistricts are not edited).
#[derive(Debug, Clone, Copy)]
pub struct GridAt<'a> {
    pub grid: &'a Region,
    /// Whether `grid` is the current version.
    pub current: bool,
    pub community: Option<&'a Region>,
    pub subdistrict: Option<&'a Region>,
}

impl Snapshot {
    /// The grid version that claimed `(lon, lat)` at instant `t` (boundary rule of
    /// [`super::pip`], lowest code first), among current and ended versions valid at `t`.
    pub fn locate_at(&self, lon: f64, lat: f64, t: DateTime<Utc>) -> Option<GridAt<'_>> {
        let grids = &self.data.grids;
        let unchanged_since = self.history().last_end().into_iter().chain(self.latest_grid_start()).max();
        let grid = if unchanged_since.is_none_or(|u| t >= u) {
            // Nothing changed after `t`: the map at `t` is the current one.
            self.locate(lon, lat).map(|l| &grids[l.grid])
        } else {
            let loc = self.grid_locator();
            let current = loc
                .envelopes_at(lon, lat)
                .filter(|&i| valid_at(&grids[i as usize], t) && loc.claims(i, lon, lat))
                .min()
                .map(|i| &grids[i as usize]);
            let ended = self.history().locate_at(lon, lat, t);
            match (current, ended) {
                (Some(a), Some(b)) => Some(if a.code <= b.code { a } else { b }),
                (a, b) => a.or(b),
            }
        }?;
        Some(self.grid_at_parts(grid))
    }

    /// The version of grid `code` in force at `t`, if any.
    pub fn grid_at(&self, code: &Code, t: DateTime<Utc>) -> Option<GridAt<'_>> {
        let current = self.region(code).filter(|r| valid_at(r, t));
        let grid = current.or_else(|| self.history().version_at(code, t))?;
        Some(self.grid_at_parts(grid))
    }

    fn grid_at_parts<'a>(&'a self, grid: &'a Region) -> GridAt<'a> {
        let current = grid.valid_to.is_none();
        let community = grid.code.parent().and_then(|c| self.region(&c));
        let subdistrict = community.and_then(|c| c.code.parent()).and_then(|c| self.region(&c));
        GridAt { grid, current, community, subdistrict }
    }

    /// The latest `valid_from` of a current grid.
    fn latest_grid_start(&self) -> Option<DateTime<Utc>> {
        self.data.grids.iter().map(|g| g.valid_from).max()
    }

    /// The snapshot after an edit committed at `at`: the current versions `(code, version)` of
    /// `retire` end at `at` and join the history, `write` become current from `at`, and each
    /// person of `staff` replaces the record with the same id. `generation` and `change_seq`
    /// are those of the new snapshot. Only what depends on grids and staff is rebuilt (the grid
    /// locator is patched where the edit reaches, see `GridLocator::with_changes`; region and
    /// staff lookups); the other layers, their trees, the gazetteer and the travel network are
    /// shared with `self`. Still CPU work (about 0.3 s for 100,000 grids): call from a blocking
    /// thread.
    pub fn with_grid_edit(
        &self,
        retire: &[(Code, u32)],
        write: &[Region],
        staff: &[Staff],
        at: DateTime<Utc>,
        generation: u64,
        change_seq: Option<i64>,
    ) -> Result<Snapshot, IndexError> {
        let ended: Vec<(Code, u32, DateTime<Utc>)> = retire.iter().map(|(c, v)| (c.clone(), *v, at)).collect();
        let written: Vec<Region> =
            write.iter().map(|r| Region { valid_from: at, valid_to: None, ..r.clone() }).collect();
        self.with_grid_changes(&ended, &written, staff, generation, change_seq)
    }

    /// The snapshot after any number of edits at once (a follower catching up on other
    /// instances' edits, see `crate::sync`), in one rebuild of the grid parts:
    ///
    /// * each current version `(code, version, at)` of `ended` ends at `at` and joins the
    ///   history (entries naming a version this snapshot does not hold as current are skipped:
    ///   versions written and ended within the same batch come in `written`);
    /// * each version of `written` is taken as stored: current when its `valid_to` is unset,
    ///   straight into the history otherwise (written and ended again within the batch);
    /// * each person of `staff` replaces the record with the same id.
    pub fn with_grid_changes(
        &self,
        ended: &[(Code, u32, DateTime<Utc>)],
        written: &[Region],
        staff: &[Staff],
        generation: u64,
        change_seq: Option<i64>,
    ) -> Result<Snapshot, IndexError> {
        let ends: std::collections::HashMap<(&Code, u32), DateTime<Utc>> =
            ended.iter().map(|(c, v, at)| ((c, *v), *at)).collect();
        let mut data = self.data.clone();
        let mut history: Vec<Region> = Vec::with_capacity(self.history().versions().len() + ended.len());
        history.extend_from_slice(self.history().versions());
        data.grids.retain(|g| match ends.get(&(&g.code, g.version)) {
            Some(&at) => {
                history.push(Region { valid_to: Some(at), ..g.clone() });
                false
            }
            None => true,
        });
        for r in written {
            if r.valid_to.is_some() {
                history.push(r.clone());
            } else {
                data.grids.push(r.clone());
            }
        }
        // Staff are in id order: replace in place, add newcomers at the end and sort again.
        let mut newcomers = Vec::new();
        for person in staff {
            match data.staff.binary_search_by_key(&person.id, |s| s.id) {
                Ok(i) => data.staff[i] = person.clone(),
                Err(_) => newcomers.push(person.clone()),
            }
        }
        if !newcomers.is_empty() {
            data.staff.extend(newcomers);
            data.staff.sort_by_key(|s| s.id);
            data.staff.dedup_by_key(|s| s.id);
        }
        data.grids.sort_by(|a, b| a.code.cmp(&b.code));
        // Where each grid of this snapshot is in the next one, unless it ended. Both lists are
        // in code order, so one walk finds them.
        let mut kept = Vec::with_capacity(self.data.grids.len());
        let mut j = 0;
        for g in self.data.grids.iter() {
            if ends.contains_key(&(&g.code, g.version)) {
                kept.push(None);
                continue;
            }
            while j < data.grids.len() && data.grids[j].code < g.code {
                j += 1;
            }
            kept.push((j < data.grids.len() && data.grids[j].code == g.code).then_some(j as u32));
        }
        let codes: Vec<&Code> = written.iter().map(|r| &r.code).collect();
        let mut next = self.with_new_grids(data, generation, &kept, !staff.is_empty(), history, &codes)?;
        next.change_seq = change_seq;
        Ok(next)
    }
}
