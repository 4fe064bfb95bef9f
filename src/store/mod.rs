//! Durable storage behind one trait.
//!
//! * [`gpkg`]: the embedded default, an OGC GeoPackage 1.3 file (SQLite) that QGIS and GDAL open.
//! * [`postgis`]: the production store (PostgreSQL + PostGIS through sqlx).
//! * [`files`]: the GeoJSON directory format of `data/karamay` (one file per layer).
//! * [`seed`]: the default Karamay dataset compiled into the binary.
//! * [`transfer`]: `gridmap import` / `export`: GeoJSON and GeoPackage in and out of a store.
//!
//! Stores deal in whole [`Dataset`]s and know nothing of indexes or HTTP. Grid edits are the one
//! exception to "whole": [`Store::commit_grid_edit`] writes one planned edit ([`GridEdit`]) in
//! one transaction, and the history of grids can be read back ([`Store::grid_history`],
//! [`Store::ended_grid_versions`], [`Store::grid_codes_ever`]). A store that other
//! processes write (PostGIS, shared by several gridmap instances) also offers a [`ChangeFeed`]
//! and numbers its changes, so that a server can follow it (see `crate::sync`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{Code, Dataset, Region, Staff};

pub mod files;
pub mod gpkg;
pub mod postgis;
pub mod seed;
pub mod transfer;
pub mod wkb;

/// Everything that can go wrong in a store. Messages say what to do where possible.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("PostGIS is not installed in this database: {0}")]
    NoPostgis(String),
    #[error("stored {layer} feature {id} is unreadable: {message}")]
    Corrupt { layer: String, id: String, message: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("invalid data: {0}")]
    Invalid(String),
    /// Nothing has been written yet: the caller may seed or import a dataset.
    #[error("{0}")]
    Empty(String),
    /// An edit was planned against a version of a grid that is no longer current (another
    /// edit committed first). `current_version` is `None` when the grid has no current version
    /// any more (it was split or merged away) or never had one.
    #[error("grid {code} is no longer at the version the edit was made against (current version: {})",
            current_version.map_or("none".to_string(), |v| v.to_string()))]
    Conflict { code: Code, current_version: Option<u32> },
}

/// One planned grid edit, as a store writes it (built from an `edit::Plan` by the API).
///
/// Committing it, in one transaction: every `(code, version)` of `retire` must still be the
/// current version of its grid, else [`StoreError::Conflict`] and nothing is written; then those
/// versions end (`valid_to` = the commit instant), every region of `write` is inserted as the
/// new current version of its code (its `valid_from` is replaced by the commit instant, its
/// `valid_to` must be `None`), codes first seen are registered, `retired_codes` are marked
/// retired, and every person of `staff` gets exactly the grid list given.
#[derive(Debug, Clone, PartialEq)]
pub struct GridEdit {
    /// Current versions that end: (code, version).
    pub retire: Vec<(Code, u32)>,
    /// New current versions: version `v + 1` of a retired `(code, v)`, or version 1 of a code
    /// never used before.
    pub write: Vec<Region>,
    /// Codes that end with no successor (sources of a split or merge); each must be in `retire`.
    pub retired_codes: Vec<Code>,
    /// Staff whose grid lists change, as their full new records.
    pub staff: Vec<Staff>,
    /// Who made the edit (`crate::auth::Caller::name`), recorded with every version written.
    pub changed_by: String,
    /// Why, in the editor's words (1-500 characters), recorded with every version written.
    pub reason: String,
}

/// What [`Store::commit_grid_edit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The instant the edit took effect: `valid_to` of the ended versions, `valid_from` of the
    /// new ones. Microsecond precision (what PostgreSQL keeps), and always later than the
    /// `valid_from` of every version it ends.
    pub at: DateTime<Utc>,
    /// The change number of the edit, for stores that number their changes.
    pub seq: Option<ChangeSeq>,
    /// The change committed just before this one (read under the write lock). When it is the
    /// change the caller's snapshot includes, snapshot + edit is exactly the store's new state;
    /// otherwise another process committed in between and the caller must reload.
    pub previous: Option<ChangeSeq>,
}

/// One committed grid edit as a store reads it back (see [`Store::edits_after`]): what a
/// follower needs to apply it to its snapshot (`crate::sync::catch_up`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEdit {
    /// The edit's change number.
    pub seq: ChangeSeq,
    /// The instant it took effect (`valid_to` of the versions it ended, `valid_from` of the new).
    pub at: DateTime<Utc>,
    /// The versions it ended: (code, version).
    pub retire: Vec<(Code, u32)>,
    /// The versions it wrote, as stored.
    pub write: Vec<Region>,
    /// The people whose grid lists it changed, as they are at the end of the read (a later
    /// edit of the same read may have changed them again: applying the edits in order ends
    /// with everyone as stored).
    pub staff: Vec<Staff>,
}

/// One version of a grid with who made it and why (`None` for imported versions).
#[derive(Debug, Clone, PartialEq)]
pub struct GridVersion {
    pub region: Region,
    pub changed_by: Option<String>,
    pub reason: Option<String>,
}

/// The latest instant at or before `t` that a store keeps exactly (PostgreSQL: microseconds).
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.timestamp_subsec_nanos();
    t - chrono::Duration::nanoseconds(i64::from(nanos % 1_000))
}

/// The instant an edit commits at: now, but always after the `valid_from` of every version it
/// ends (two edits within one microsecond, or a clock that stepped back, must not make an empty
/// or negative validity interval).
pub fn commit_instant(ended_valid_from: impl IntoIterator<Item = DateTime<Utc>>) -> DateTime<Utc> {
    let now = to_micros(Utc::now());
    let floor = ended_valid_from.into_iter().max().map(|t| to_micros(t) + chrono::Duration::microseconds(1));
    floor.map_or(now, |f| now.max(f))
}

/// The sequence number of a committed change in a store that numbers them (PostGIS's
/// `change_log.id`): larger is later, in commit order.
pub type ChangeSeq = i64;

/// What a [`ChangeFeed`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The feed is listening (first connection or a reconnection); `latest` is the newest
    /// change committed in the store. Changes committed while the feed was not listening are
    /// not announced one by one: a follower catches up by comparing `latest` with the last
    /// change it applied.
    Listening { latest: ChangeSeq },
    /// A change was committed (by any process). Also reported when a periodic check finds a
    /// newer change than the feed announced, so a lost notification delays a reload but never
    /// loses it.
    Committed { seq: ChangeSeq },
    /// The store stopped answering. The feed keeps trying to reconnect by itself and reports
    /// [`Change::Listening`] when it is back.
    Lost { reason: String },
}

/// Tells when other processes change a store's data.
#[async_trait]
pub trait ChangeFeed: Send + 'static {
    /// Waits for the next event. Never returns an error: losing the store is an event, and the
    /// feed reconnects by itself (with back-off) for as long as it is polled.
    async fn next(&mut self) -> Change;
}

/// A durable store of one district's layers (and, through [`AccessStore`], of tokens and the
/// audit log).
#[async_trait]
pub trait Store: AccessStore + Send + Sync + 'static {
    /// A short name for logs and `/healthz`: `"gpkg"` or `"postgis"`.
    fn kind(&self) -> &'static str;

    /// Reads the current version of every layer. [`StoreError::Empty`] when nothing was ever
    /// written.
    async fn load(&self) -> Result<Dataset, StoreError>;

    /// [`Store::load`], and the number of the last change the result includes (read in the
    /// same transaction), for stores that number their changes; `None` for those that do not.
    async fn load_with_seq(&self) -> Result<(Dataset, Option<ChangeSeq>), StoreError> {
        Ok((self.load().await?, None))
    }

    /// [`Store::load_with_seq`] of the district, the regions (current versions) and the staff
    /// only, every other layer empty: what locating a point needs, so that a server can answer
    /// `locate` while the rest of a big city is still loading (see `crate::sync::start_staged`).
    /// `Ok(None)` (the default) for a store where this would not be faster than a full load.
    async fn load_regions(&self) -> Result<Option<(Dataset, Option<ChangeSeq>)>, StoreError> {
        Ok(None)
    }

    /// Replaces every layer with `data`, in one transaction: all or nothing.
    async fn replace_all(&self, data: &Dataset) -> Result<(), StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Commits one grid edit in one transaction, all or nothing (see [`GridEdit`]). Writers are
    /// serialised (PostGIS: the write lock; GeoPackage: an immediate SQLite transaction), so the
    /// version check and the writes see no other writer in between. [`StoreError::Conflict`]
    /// when a version to retire is no longer current, or a new code is already registered.
    async fn commit_grid_edit(&self, edit: &GridEdit) -> Result<Committed, StoreError>;

    /// Every version of grid `code`, oldest first, with who made it and why; empty for a code
    /// never used.
    async fn grid_history(&self, code: &Code) -> Result<Vec<GridVersion>, StoreError>;

    /// Every grid version that has ended (`valid_to` set), in code and version order: with
    /// [`Store::load`]'s current grids, everything an as-of read needs.
    async fn ended_grid_versions(&self) -> Result<Vec<Region>, StoreError>;

    /// Every grid code ever registered, current or retired (a retired code is never given out
    /// again).
    async fn grid_codes_ever(&self) -> Result<BTreeSet<Code>, StoreError>;

    /// The changes committed after change `after`, oldest first, read in one consistent
    /// snapshot, when every one of them is a grid edit and there are at most `limit`: then a
    /// follower applies them to the snapshot it has (milliseconds per edit) instead of loading
    /// the whole dataset again (seconds for a big city). `Ok(None)` when some other change is
    /// among them (an import, a write straight into the tables), when there are more than
    /// `limit`, and for a store that does not number its changes (the default).
    async fn edits_after(&self, after: ChangeSeq, limit: usize) -> Result<Option<Vec<StoredEdit>>, StoreError> {
        let _ = (after, limit);
        Ok(None)
    }

    /// A feed of changes made by other processes, for stores that several processes share;
    /// `None` (the default) for a store only this process writes.
    fn changes(&self) -> Option<Box<dyn ChangeFeed>> {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Access control: tokens and the audit log (see `crate::auth`). A supertrait of `Store`, so
// `&dyn Store` offers these methods; each store implements it in a section of its own.
// ---------------------------------------------------------------------------------------------

/// Tokens (only their SHA-256 digests) and the audit log.
#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    /// Stores a new token with digest `hash`; returns it with its new id.
    async fn insert_token(
        &self,
        new: &crate::auth::NewToken,
        hash: &crate::auth::token::TokenHash,
        created_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::auth::TokenInfo, StoreError>;

    /// The token with digest `hash`, revoked and expired ones included.
    async fn token_by_hash(
        &self,
        hash: &crate::auth::token::TokenHash,
    ) -> Result<Option<crate::auth::token::StoredToken>, StoreError>;

    /// Every token, by id.
    async fn list_tokens(&self) -> Result<Vec<crate::auth::TokenInfo>, StoreError>;

    /// Marks token `id` revoked at `at` (a revoked token keeps its first revocation time);
    /// `None` when there is no such token.
    async fn revoke_token(
        &self,
        id: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<crate::auth::TokenInfo>, StoreError>;

    /// Records when tokens were last used (a later time wins).
    async fn record_token_use(&self, used: &[(i64, chrono::DateTime<chrono::Utc>)]) -> Result<(), StoreError>;

    /// Appends audit entries (their `id`s are ignored and assigned by the store).
    async fn append_audit(&self, entries: &[crate::auth::AuditEntry]) -> Result<(), StoreError>;

    /// Audit entries at or after `since` (all without), oldest first, at most `limit`.
    async fn read_audit(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
        limit: u32,
    ) -> Result<Vec<crate::auth::AuditEntry>, StoreError>;
}

/// The longest reason an edit may give, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// The current version of a grid as a store sees it inside an edit's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CurrentVersion {
    pub version: u32,
    pub valid_from: DateTime<Utc>,
}

/// The checks every store makes on an edit inside its transaction, before writing: the shape of
/// the edit ([`StoreError::Invalid`]) and that it was planned against the current versions
/// ([`StoreError::Conflict`]). `current` maps each code the edit touches to its current version
/// (absent when it has none); `registered` holds which of those codes were ever used. Returns the
/// instant to commit at (see [`commit_instant`]).
pub(crate) fn check_grid_edit(
    e: &GridEdit,
    current: &std::collections::HashMap<Code, CurrentVersion>,
    registered: &BTreeSet<Code>,
) -> Result<DateTime<Utc>, StoreError> {
    let reason_chars = e.reason.trim().chars().count();
    if reason_chars == 0 || e.reason.chars().count() > MAX_REASON_CHARS {
        return Err(StoreError::Invalid(format!(
            "an edit needs a reason of 1 to {MAX_REASON_CHARS} characters (got {})",
            e.reason.chars().count()
        )));
    }
    if e.changed_by.trim().is_empty() {
        return Err(StoreError::Invalid("an edit needs the name of who made it".into()));
    }
    let conflict = |code: &Code| StoreError::Conflict {
        code: code.clone(),
        current_version: current.get(code).map(|c| c.version),
    };
    let mut retiring = std::collections::HashMap::new();
    for (code, version) in &e.retire {
        if code.level() != crate::model::Level::Grid {
            return Err(StoreError::Invalid(format!("{code} is not a grid code")));
        }
        if current.get(code).map(|c| c.version) != Some(*version) {
            return Err(conflict(code));
        }
        if retiring.insert(code.clone(), *version).is_some() {
            return Err(StoreError::Invalid(format!("grid {code} is retired twice in one edit")));
        }
    }
    let mut written = BTreeSet::new();
    for r in &e.write {
        let code = &r.code;
        if code.level() != crate::model::Level::Grid {
            return Err(StoreError::Invalid(format!("{code} is not a grid code")));
        }
        if r.valid_to.is_some() {
            return Err(StoreError::Invalid(format!("the new version of grid {code} has an end (valid_to)")));
        }
        if !written.insert(code.clone()) {
            return Err(StoreError::Invalid(format!("grid {code} is written twice in one edit")));
        }
        match retiring.get(code) {
            Some(&old) if r.version == old + 1 => {}
            Some(&old) => {
                return Err(StoreError::Invalid(format!(
                    "grid {code}: version {} cannot follow version {old}",
                    r.version
                )))
            }
            // A code in use (or retired) is never given to a new grid: someone else took it.
            None if registered.contains(code) => return Err(conflict(code)),
            None if r.version != 1 => {
                return Err(StoreError::Invalid(format!("new grid {code} must start at version 1, not {}", r.version)))
            }
            None => {}
        }
    }
    for code in &e.retired_codes {
        if !retiring.contains_key(code) || written.contains(code) {
            return Err(StoreError::Invalid(format!(
                "grid {code} is retired but its current version is not ended, or it gets a new version"
            )));
        }
    }
    let ended_from = e.retire.iter().filter_map(|(c, _)| current.get(c)).map(|c| c.valid_from);
    Ok(commit_instant(ended_from))
}

/// Every code a [`GridEdit`] touches (retired or written), each once.
pub(crate) fn touched_codes(e: &GridEdit) -> Vec<Code> {
    let set: BTreeSet<&Code> = e.retire.iter().map(|(c, _)| c).chain(e.write.iter().map(|r| &r.code)).collect();
    set.into_iter().cloned().collect()
}
