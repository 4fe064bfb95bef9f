//! Small, fast, deterministic hashing: content digests for the coverage cache and a hasher for
//! the integer-keyed maps of the searches (SipHash's DoS resistance buys nothing there).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The SplitMix64 finaliser: a bijective mix with good avalanche.
#[inline]
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// An order-dependent digest of a stream of values. Stable across runs and platforms, so it
/// can key a cache shared by successive snapshots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hasher64(u64);

impl Hasher64 {
    pub fn new(seed: u64) -> Self {
        Hasher64(mix(seed))
    }

    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.0 = mix(self.0 ^ v).rotate_left(17);
    }

    #[inline]
    pub fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }

    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        for chunk in s.as_bytes().chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.u64(u64::from_le_bytes(b));
        }
    }

    pub fn finish(self) -> u64 {
        mix(self.0)
    }
}

/// A multiplicative hasher for integer keys.
#[derive(Default, Clone, Copy)]
pub(crate) struct IntHasher(u64);

impl Hasher for IntHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

pub(crate) type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;
pub(crate) type IntSet<K> = HashSet<K, BuildHasherDefault<IntHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_stable_and_order_sensitive() {
        let mut a = Hasher64::new(1);
        a.u64(1);
        a.u64(2);
        let mut b = Hasher64::new(1);
        b.u64(2);
        b.u64(1);
        assert_ne!(a.finish(), b.finish());
        // Strings of different lengths never collide by padding.
        let mut c = Hasher64::new(1);
        c.str("ab");
        let mut d = Hasher64::new(1);
        d.str("ab\0");
        assert_ne!(c.finish(), d.finish());
    }
}
