//! A least-recently-used map of encoded tiles, bounded by bytes.
//!
//! Plain data structure: no locking (the [`super::TileService`] holds it behind a mutex) and no
//! knowledge of snapshots. Recency is a counter; a `BTreeMap` from counter to tile finds the
//! oldest entry in `O(log n)`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::mercator::TileId;

/// One encoded tile as served.
#[derive(Debug)]
pub struct CachedTile {
    /// The MVT bytes, gzip-compressed.
    pub gzip: Arc<[u8]>,
    /// Length of the uncompressed MVT.
    pub raw_len: usize,
    /// A strong ETag (quoted) derived from the uncompressed content: unchanged content keeps
    /// its ETag across snapshots, so browsers revalidate with a cheap 304.
    pub etag: String,
}

impl CachedTile {
    /// Bytes this entry costs the cache (content plus a rough overhead).
    pub fn cost(&self) -> usize {
        self.gzip.len() + self.etag.len() + 96
    }
}

#[derive(Debug)]
struct Entry {
    tile: Arc<CachedTile>,
    tick: u64,
}

/// The LRU map.
#[derive(Debug)]
pub struct Lru {
    map: HashMap<TileId, Entry>,
    order: BTreeMap<u64, TileId>,
    tick: u64,
    bytes: usize,
    max_bytes: usize,
}

impl Lru {
    /// An empty cache that holds at most `max_bytes` (see [`CachedTile::cost`]).
    pub fn new(max_bytes: usize) -> Lru {
        Lru { map: HashMap::new(), order: BTreeMap::new(), tick: 0, bytes: 0, max_bytes }
    }

    /// The tile, marked as just used.
    pub fn get(&mut self, id: &TileId) -> Option<Arc<CachedTile>> {
        self.tick += 1;
        let e = self.map.get_mut(id)?;
        self.order.remove(&e.tick);
        e.tick = self.tick;
        self.order.insert(e.tick, *id);
        Some(e.tile.clone())
    }

    /// Inserts (or replaces) a tile, evicting the least recently used until it fits. A tile
    /// bigger than the whole budget is not kept.
    pub fn insert(&mut self, id: TileId, tile: Arc<CachedTile>) {
        self.remove(&id);
        let cost = tile.cost();
        if cost > self.max_bytes {
            return;
        }
        while self.bytes + cost > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else { break };
            if let Some(e) = self.map.remove(&oldest) {
                self.bytes -= e.tile.cost();
            }
        }
        self.tick += 1;
        self.order.insert(self.tick, id);
        self.map.insert(id, Entry { tile, tick: self.tick });
        self.bytes += cost;
    }

    /// Removes one tile; returns whether it was there.
    pub fn remove(&mut self, id: &TileId) -> bool {
        match self.map.remove(id) {
            Some(e) => {
                self.order.remove(&e.tick);
                self.bytes -= e.tile.cost();
                true
            }
            None => false,
        }
    }

    /// Removes every tile for which `stale` says yes; returns how many.
    pub fn remove_where(&mut self, mut stale: impl FnMut(&TileId) -> bool) -> usize {
        let doomed: Vec<TileId> = self.map.keys().filter(|id| stale(id)).copied().collect();
        for id in &doomed {
            self.remove(id);
        }
        doomed.len()
    }

    /// Removes every tile.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.bytes = 0;
    }

    /// Whether the tile is cached (without marking it used).
    pub fn contains(&self, id: &TileId) -> bool {
        self.map.contains_key(id)
    }

    /// Tiles held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no tile is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes held, by [`CachedTile::cost`].
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(n: usize) -> Arc<CachedTile> {
        Arc::new(CachedTile { gzip: vec![0u8; n].into(), raw_len: n, etag: "\"x\"".into() })
    }

    fn id(x: u32) -> TileId {
        TileId { z: 10, x, y: 0 }
    }

    #[test]
    fn the_least_recently_used_tile_goes_first() {
        let per = tile(100).cost();
        let mut lru = Lru::new(per * 3);
        for x in 0..3 {
            lru.insert(id(x), tile(100));
        }
        assert!(lru.get(&id(0)).is_some(), "touch 0: now 1 is the oldest");
        lru.insert(id(3), tile(100));
        assert!(!lru.contains(&id(1)), "1 was evicted");
        assert!(lru.contains(&id(0)) && lru.contains(&id(2)) && lru.contains(&id(3)));
        assert_eq!(lru.bytes(), per * 3);
    }

    #[test]
    fn the_budget_is_in_bytes_and_oversized_tiles_are_not_kept() {
        let mut lru = Lru::new(1000);
        lru.insert(id(0), tile(300));
        lru.insert(id(1), tile(300));
        lru.insert(id(2), tile(600));
        assert!(lru.bytes() <= 1000);
        assert!(lru.contains(&id(2)) && !lru.contains(&id(0)));
        lru.insert(id(3), tile(5000));
        assert!(!lru.contains(&id(3)));
        assert_eq!(lru.remove_where(|t| t.x == 2), 1);
        assert!(lru.is_empty() || lru.len() == 1);
    }
}
