//! Every name the gazetteer knows, for exact (trie) and one-edit (fuzzy) look-up.
//!
//! A *surface* is one way of writing a name (`准噶尔路`, or the alias `准噶尔`); several names may
//! share a surface (`金龙` is both 金龙路 and 金龙街), so a surface maps to a list of
//! [`Target`]s. Exact matching walks a character trie: from any position of the input, the
//! longest surface that starts there, in one hash probe per character.
//!
//! Fuzzy matching finds surfaces within one edit (substitution, insertion or deletion of one
//! character, counted in characters, not bytes) with a deletion index: every surface is filed
//! under the hash of itself and of each way of deleting one character; a query looks up the same
//! keys for itself, so a surface and a query one edit apart always share a key. Hits are then
//! verified with a real edit distance, which also weeds out hash collisions. Building is a sort
//! of `(key, surface)` pairs, linear in the total length of the names.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameKind {
    /// 中国: harmless, ignored.
    Country,
    Province,
    City,
    District,
    Subdistrict,
    Community,
    Road,
    Compound,
    /// Words that say nothing about the place (附近, 旁边): ignored.
    Filler,
}

impl NameKind {
    /// Province, city or district (including the country): the admin prefix of an address.
    pub fn is_admin(self) -> bool {
        matches!(self, NameKind::Country | NameKind::Province | NameKind::City | NameKind::District)
    }
}

/// How a surface writes its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The name as in the data.
    Full,
    /// The same name in another exact form: Arabic numerals (`迎宾2路`), a compound without the
    /// city it repeats (`第二十六小学`).
    Variant,
    /// A road without its type (`准噶尔` for 准噶尔路): a little less certain, since the type
    /// is part of the name (金龙路 and 金龙街 are two roads).
    NoSuffix,
}

impl Form {
    /// How sure an exact match of this form is (1 for the full name).
    pub fn quality(self) -> f32 {
        match self {
            Form::Full | Form::Variant => 1.0,
            Form::NoSuffix => 0.98,
        }
    }
}

/// One name a surface may mean: its kind, and its index in the gazetteer's table of that kind
/// (0 for the admin kinds, of which there is one each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub kind: NameKind,
    pub id: u32,
    pub form: Form,
}

/// A fast hasher for the integer keys of the trie and the fuzzy index (Fibonacci hashing: the
/// keys are already well spread, and SipHash would cost more than the look-up itself).
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
}

type IntMap<V> = HashMap<u64, V, BuildHasherDefault<IntHasher>>;

/// The hash of a character sequence with the character at `skip` left out (`usize::MAX`: none).
fn key_of(chars: &[char], skip: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut n = 0u64;
    for (i, &c) in chars.iter().enumerate() {
        if i != skip {
            h = (h ^ c as u64).wrapping_mul(0x0000_0100_0000_01b3);
            n += 1;
        }
    }
    // A final mix, so that keys differing in the last character spread over the table.
    (h ^ (h >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n
}

/// The number of character edits between `a` and `b`, or `None` if more than one.
pub fn within_one_edit(a: &[char], b: &[char]) -> Option<u8> {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            let diffs = a.iter().zip(b).filter(|(x, y)| x != y).count();
            (diffs <= 1).then_some(diffs as u8)
        }
        1 => {
            let i = short.iter().zip(long).take_while(|(x, y)| x == y).count();
            (short[i..] == long[i + 1..]).then_some(1)
        }
        _ => None,
    }
}

/// Surfaces this short or shorter are never matched fuzzily: one edit in two characters is
/// half the name, and would match nearly anything.
pub const MIN_FUZZY_CHARS: usize = 3;

/// A fuzzy hit: a surface one edit (or none) away from the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuzzyHit {
    pub surface: u32,
    pub distance: u8,
}

/// The trie and the fuzzy index over every surface.
#[derive(Debug, Default)]
pub struct Lexicon {
    /// `(node << 21 | char)` → child node. Node 0 is the root.
    edges: IntMap<u32>,
    /// Per node: the surface ending there, or `u32::MAX`.
    terminal: Vec<u32>,
    /// Surface text, as normalised characters, concatenated; `spans[i]` is surface `i`.
    text: Vec<char>,
    spans: Vec<(u32, u32)>,
    /// The targets of each surface.
    targets: Vec<Vec<Target>>,
    /// `(key, surface)`, sorted by key: the deletion index.
    fuzzy: Vec<(u64, u32)>,
}

/// Collects surfaces before the lexicon is built.
#[derive(Default)]
pub struct LexiconBuilder {
    surfaces: HashMap<Vec<char>, usize>,
    list: Vec<(Vec<char>, Vec<Target>)>,
}

impl LexiconBuilder {
    /// Adds a surface for a target. A target added twice under one surface is kept once, in
    /// its best form.
    pub fn add(&mut self, surface: Vec<char>, target: Target) {
        if surface.is_empty() {
            return;
        }
        let i = match self.surfaces.get(&surface) {
            Some(&i) => i,
            None => {
                self.surfaces.insert(surface.clone(), self.list.len());
                self.list.push((surface, Vec::new()));
                self.list.len() - 1
            }
        };
        let targets = &mut self.list[i].1;
        match targets.iter_mut().find(|t| t.kind == target.kind && t.id == target.id) {
            Some(t) if target.form.quality() > t.form.quality() => t.form = target.form,
            Some(_) => {}
            None => targets.push(target),
        }
    }

    /// Builds the trie and the fuzzy index.
    pub fn build(self) -> Lexicon {
        let mut lex = Lexicon { terminal: vec![u32::MAX], ..Lexicon::default() };
        let total: usize = self.list.iter().map(|(s, _)| s.len()).sum();
        lex.text.reserve(total);
        lex.edges.reserve(total);
        let mut fuzzy = Vec::with_capacity(total + self.list.len());
        for (si, (surface, targets)) in self.list.into_iter().enumerate() {
            let si = si as u32;
            let start = lex.text.len() as u32;
            lex.text.extend_from_slice(&surface);
            lex.spans.push((start, lex.text.len() as u32));
            lex.targets.push(targets);
            let mut node = 0u32;
            for &c in &surface {
                let next = lex.terminal.len() as u32;
                let child = *lex.edges.entry(edge_key(node, c)).or_insert(next);
                if child == next {
                    lex.terminal.push(u32::MAX);
                }
                node = child;
            }
            lex.terminal[node as usize] = si;
            if surface.len() >= MIN_FUZZY_CHARS {
                fuzzy.push((key_of(&surface, usize::MAX), si));
                for skip in 0..surface.len() {
                    fuzzy.push((key_of(&surface, skip), si));
                }
            }
        }
        fuzzy.sort_unstable();
        fuzzy.dedup();
        lex.fuzzy = fuzzy;
        lex
    }
}

#[inline]
fn edge_key(node: u32, c: char) -> u64 {
    (u64::from(node) << 21) | c as u64
}

impl Lexicon {
    /// The longest surface that starts at `chars[0]`: `(surface, length in chars)`.
    #[inline]
    pub fn longest_match(&self, chars: &[char]) -> Option<(u32, usize)> {
        let mut node = 0u32;
        let mut best = None;
        for (i, &c) in chars.iter().enumerate() {
            match self.edges.get(&edge_key(node, c)) {
                Some(&n) => node = n,
                None => break,
            }
            let t = self.terminal[node as usize];
            if t != u32::MAX {
                best = Some((t, i + 1));
            }
        }
        best
    }

    /// The exact surface `chars`, if known.
    pub fn exact(&self, chars: &[char]) -> Option<u32> {
        self.longest_match(chars).filter(|&(_, n)| n == chars.len()).map(|(s, _)| s)
    }

    /// Surfaces within one edit of `query` (itself included if known), nearest first.
    /// Queries shorter than [`MIN_FUZZY_CHARS`] find nothing.
    pub fn fuzzy(&self, query: &[char], out: &mut Vec<FuzzyHit>) {
        out.clear();
        if query.len() < MIN_FUZZY_CHARS || query.len() > 40 {
            return;
        }
        let mut probe = |key: u64| {
            let from = self.fuzzy.partition_point(|&(k, _)| k < key);
            for &(k, s) in &self.fuzzy[from..] {
                if k != key {
                    break;
                }
                if out.iter().any(|h| h.surface == s) {
                    continue;
                }
                if let Some(distance) = within_one_edit(query, self.surface(s)) {
                    out.push(FuzzyHit { surface: s, distance });
                }
            }
        };
        probe(key_of(query, usize::MAX));
        for skip in 0..query.len() {
            // Deleting either of two equal neighbours gives the same key: probe once.
            if skip > 0 && query[skip] == query[skip - 1] {
                continue;
            }
            probe(key_of(query, skip));
        }
        out.sort_by_key(|h| (h.distance, h.surface));
    }

    /// The characters of a surface.
    #[inline]
    pub fn surface(&self, s: u32) -> &[char] {
        let (a, b) = self.spans[s as usize];
        &self.text[a as usize..b as usize]
    }

    /// The targets of a surface.
    #[inline]
    pub fn targets(&self, s: u32) -> &[Target] {
        &self.targets[s as usize]
    }

    /// Number of surfaces.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no surface is known.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn lexicon(names: &[&str]) -> Lexicon {
        let mut b = LexiconBuilder::default();
        for (i, n) in names.iter().enumerate() {
            b.add(chars(n), Target { kind: NameKind::Road, id: i as u32, form: Form::Full });
        }
        b.build()
    }

    #[test]
    fn edit_distance_counts_characters_not_bytes() {
        assert_eq!(within_one_edit(&chars("准噶尔路"), &chars("准葛尔路")), Some(1));
        assert_eq!(within_one_edit(&chars("准噶尔路"), &chars("准尔路")), Some(1));
        assert_eq!(within_one_edit(&chars("准噶尔路"), &chars("准噶尔路口")), Some(1));
        assert_eq!(within_one_edit(&chars("准噶尔路"), &chars("准噶尔路")), Some(0));
        assert_eq!(within_one_edit(&chars("准噶尔路"), &chars("噶准尔路")), None, "a swap is two edits");
        assert_eq!(within_one_edit(&chars("阳光小区"), &chars("月光小去")), None);
    }

    #[test]
    fn longest_match_prefers_the_longer_name() {
        let lex = lexicon(&["九龙潭路", "九龙潭", "九龙潭花园"]);
        let q = chars("九龙潭花园3栋");
        let (s, n) = lex.longest_match(&q).unwrap();
        assert_eq!((lex.surface(s), n), (&chars("九龙潭花园")[..], 5));
        let (s, _) = lex.longest_match(&chars("九龙潭58号")).unwrap();
        assert_eq!(lex.surface(s), &chars("九龙潭")[..]);
        assert!(lex.longest_match(&chars("九龙")).is_none(), "a prefix of a name is not a name");
    }

    #[test]
    fn fuzzy_finds_substitution_insertion_and_deletion() {
        let lex = lexicon(&["准噶尔路", "阳光小区", "阳光街", "友谊社区卫生服务中心"]);
        let mut hits = Vec::new();
        for (q, want) in [
            ("准葛尔路", "准噶尔路"),
            ("准尔路", "准噶尔路"),
            ("准噶尔尔路", "准噶尔路"),
            ("阳光小去", "阳光小区"),
            ("友谊社区卫生服物中心", "友谊社区卫生服务中心"),
        ] {
            lex.fuzzy(&chars(q), &mut hits);
            assert_eq!(hits.len(), 1, "{q}: {hits:?}");
            assert_eq!(lex.surface(hits[0].surface), &chars(want)[..], "{q}");
            assert_eq!(hits[0].distance, 1);
        }
        lex.fuzzy(&chars("幸福小区"), &mut hits);
        assert!(hits.is_empty(), "two edits away from 阳光小区: {hits:?}");
    }
}
