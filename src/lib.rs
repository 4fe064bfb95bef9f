//! gridmap: urban grid governance (网格化管理) on a map.
//!
//! Data flows one way: [`store`] → (load) → [`model`] → [`index`] → (queries) → [`api`] → web.
//!
//! * [`model`]: domain types and codes; no I/O.
//! * [`generate`]: the deterministic synthetic Karamay dataset (and larger cities).
//! * [`store`]: the `Store` trait, the embedded GeoPackage and PostGIS.
//! * [`index`]: the in-memory snapshot of R-trees that answers every read.
//! * [`address`]: Chinese address parsing and the gazetteer.
//! * [`reach`]: travel times through gates, response circles and coverage.
//! * [`tiles`]: vector tiles for the web map.
//! * [`auth`]: tokens, roles, scopes, audit.
//! * [`edit`]: topology rules, split/merge, numbering and impact of grid edits.
//! * [`api`]: axum routes, problem+json errors, OpenAPI.
//! * [`sync`]: keeps the published snapshot in step with a store other processes write.

pub mod address;
pub mod api;
pub mod auth;
pub mod edit;
pub mod generate;
pub mod index;
pub mod model;
pub mod reach;
pub mod store;
pub mod sync;
pub mod tiles;
