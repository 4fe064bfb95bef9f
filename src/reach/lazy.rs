//! A table of values computed on first use and kept for the life of the snapshot.
//!
//! Memory is allocated in chunks as they are touched, so a table over millions of graph nodes
//! costs next to nothing until queries reach them. Readers never lock: every slot is a
//! [`OnceLock`].

use std::sync::OnceLock;

const CHUNK: usize = 256;

/// One chunk of slots.
type Chunk<T> = Box<[OnceLock<T>]>;

/// `len` lazily computed values.
pub(crate) struct LazyTable<T> {
    len: usize,
    chunks: Box<[OnceLock<Chunk<T>>]>,
}

impl<T> LazyTable<T> {
    pub fn new(len: usize) -> Self {
        let chunks = (0..len.div_ceil(CHUNK)).map(|_| OnceLock::new()).collect();
        LazyTable { len, chunks }
    }

    /// The value at `i`, computing it with `f` if nobody has yet (a second thread asking for the
    /// same slot meanwhile waits for the first).
    pub fn get_or_init(&self, i: usize, f: impl FnOnce() -> T) -> &T {
        debug_assert!(i < self.len, "lazy table index {i} out of {}", self.len);
        let chunk = self.chunks[i / CHUNK].get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        chunk[i % CHUNK].get_or_init(f)
    }

    /// The value at `i` if it has been computed.
    #[allow(dead_code)]
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get()?.get(i % CHUNK)?.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_and_only_where_touched() {
        let t: LazyTable<usize> = LazyTable::new(1000);
        assert!(t.get(700).is_none());
        assert_eq!(*t.get_or_init(700, || 7), 7);
        assert_eq!(*t.get_or_init(700, || 8), 7, "the first value stays");
        assert!(t.get(0).is_none());
    }
}
