//! Vector tiles (Mapbox Vector Tile 2.1) cut from the in-memory snapshot.
//!
//! The web map draws every layer from these tiles, so it only ever loads what is in view: a
//! 100,000-grid city costs the browser no more than Karamay does. The pipeline for one tile:
//!
//! 1. [`mercator`]: the tile's EPSG:3857 box, grown by a buffer, back in EPSG:4326;
//! 2. [`Snapshot::layer_in_bbox`](crate::index::Snapshot::layer_in_bbox) per layer (R-trees,
//!    then exact intersection) for the layers that appear at that zoom ([`layers`]);
//! 3. [`clip`]: project, clip to the buffer, simplify below zoom 14, snap to the 4096 grid;
//! 4. [`mvt`]: encode (a hand-written protobuf writer; the decoder is used by the tests);
//! 5. [`service`]: gzip, ETag, and the cache.
//!
//! **The cache and edits.** [`TileService`] caches compressed tiles (LRU, bounded by bytes)
//! keyed by tile, for the snapshot it last saw. When a newer snapshot arrives, the per-feature
//! stamps of [`prepared`] (a hash of what a tile shows of each feature, plus its box) are
//! compared, and only the tiles whose buffered box meets a changed feature, at the zooms where
//! its layer appears, are dropped. [`TileService::invalidate_bbox`] does the same for a box a
//! caller names.
//!
//! This module reads the index and the model; it knows nothing of HTTP (see `api::tiles`) and
//! never reads staff.

pub mod cache;
pub mod clip;
pub mod layers;
pub mod mercator;
pub mod mvt;
pub mod prepared;
pub mod service;
pub mod style;

pub use cache::CachedTile;
pub use layers::{build_tile, TileLayer, TILE_LAYERS};
pub use mercator::{TileId, TileIdError, BUFFER, EXTENT, MAX_ZOOM};
pub use prepared::{ChangedArea, Prepared, SnapshotId};
pub use service::{gunzip, gzip, SyncReport, TileConfig, TileError, TileService, TileStats};
