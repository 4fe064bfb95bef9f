//! Durable storage behind one trait.
//!
//! * [`gpkg`]: the embedded default, an OGC GeoPackage 1.3 file (SQLite) that QGIS and GDAL open.
//! * [`postgis`]: the production store (PostgreSQL + PostGIS through sqlx).
//! * [`files`]: the GeoJSON directory format of `data/karamay` (one file per layer).
//! * [`seed`]: the default Karamay dataset compiled into the binary.
//! * [`transfer`]: `gridmap import` / `export`: GeoJSON and GeoPackage in and out of a store.
//!
//! Stores deal in whole [`Dataset`]s and know nothing of indexes or HTTP. A store that other
//! processes write (PostGIS, shared by several gridmap instances) also offers a [`ChangeFeed`]
//! and numbers its changes, so that a server can follow it (see `crate::sync`).

use async_trait::async_trait;

use crate::model::Dataset;

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
    /// `locate` while the rest of a big city is still loading (see `crate::sync::start`).
    /// `Ok(None)` (the default) for a store where this would not be faster than a full load.
    async fn load_regions(&self) -> Result<Option<(Dataset, Option<ChangeSeq>)>, StoreError> {
        Ok(None)
    }

    /// Replaces every layer with `data`, in one transaction: all or nothing.
    async fn replace_all(&self, data: &Dataset) -> Result<(), StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

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
