//! Durable storage behind one trait.
//!
//! * [`gpkg`]: the embedded default, an OGC GeoPackage 1.3 file (SQLite) that QGIS and GDAL open.
//! * [`postgis`]: the production store (PostgreSQL + PostGIS through sqlx).
//! * [`files`]: the GeoJSON directory format of `data/karamay` (one file per layer).
//! * [`seed`]: the default Karamay dataset compiled into the binary.
//!
//! Stores deal in whole [`Dataset`]s and know nothing of indexes or HTTP.

use async_trait::async_trait;

use crate::model::Dataset;

pub mod files;
pub mod gpkg;
pub mod postgis;
pub mod seed;
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
}

/// A durable store of one district's layers.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short name for logs and `/healthz`: `"gpkg"` or `"postgis"`.
    fn kind(&self) -> &'static str;

    /// Reads the current version of every layer.
    async fn load(&self) -> Result<Dataset, StoreError>;

    /// Replaces every layer with `data`, in one transaction: all or nothing.
    async fn replace_all(&self, data: &Dataset) -> Result<(), StoreError>;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
