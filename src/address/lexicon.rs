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

/// Multiplier of the polynomial hash of the deletion index.
const P: u64 = 0x0000_0100_0000_01b3;

/// The final mix of a key, so that keys of close strings spread over the table.
#[inline]
fn mix(h: u64, len: usize) -> u64 {
    (h ^ (h >> 31)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ len as u64
}

/// The deletion-index keys of `chars`: the key of the whole (first), then one per deleted
/// character (position order). A polynomial hash, so that each deletion costs O(1) from prefix
/// hashes: `h(s without i) = h(s[..i]) · P^(n−1−i) + h(s[i+1..])`.
fn keys_of(chars: &[char], out: &mut Vec<u64>) {
    out.clear();
    let n = chars.len();
    // prefix[i] = h(chars[..i]); pow[i] = P^i.
    let mut prefix = Vec::with_capacity(n + 1);
    let mut pow = Vec::with_capacity(n + 1);
    prefix.push(0u64);
    pow.push(1u64);
    for (i, &c) in chars.iter().enumerate() {
        prefix.push(prefix[i].wrapping_mul(P).wrapping_add(c as u64 + 1));
        pow.push(pow[i].wrapping_mul(P));
    }
    out.push(mix(prefix[n], n));
    for i in 0..n {
        // h(chars[i+1..]) = prefix[n] − prefix[i+1] · P^(n−1−i)
        let suffix = prefix[n].wrapping_sub(prefix[i + 1].wrapping_mul(pow[n - 1 - i]));
        out.push(mix(prefix[i].wrapping_mul(pow[n - 1 - i]).wrapping_add(suffix), n - 1));
    }
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
    /// The targets of surface `i`: `targets[target_start[i]..target_start[i + 1]]`.
    targets: Vec<Target>,
    target_start: Vec<u32>,
    /// `key << 32 | surface`, sorted: the deletion index. Keys are 32 bits: a collision only
    /// costs one edit-distance check, as every hit is verified.
    fuzzy: Vec<u64>,
    /// Where each value of the top `fuzzy_bits` bits of the key starts in `fuzzy`, so that a
    /// probe reads one short run instead of binary-searching millions of entries.
    fuzzy_dir: Vec<u32>,
    fuzzy_bits: u32,
}

/// Collects surfaces before the lexicon is built.
#[derive(Default)]
pub struct LexiconBuilder {
    text: Vec<char>,
    spans: Vec<(u32, u32)>,
    /// Key of a surface → its index (a colliding key is re-probed with the next key).
    index: IntMap<u32>,
    /// `(surface, target)` in the order added.
    pairs: Vec<(u32, Target)>,
}

impl LexiconBuilder {
    /// A builder with room for about `surfaces` surfaces.
    pub fn with_capacity(surfaces: usize) -> LexiconBuilder {
        let mut index = IntMap::default();
        index.reserve(surfaces);
        LexiconBuilder {
            text: Vec::with_capacity(surfaces * 6),
            spans: Vec::with_capacity(surfaces),
            index,
            pairs: Vec::with_capacity(surfaces),
        }
    }

    /// Adds a surface for a target. A target added twice under one surface is kept once, in
    /// its best form.
    pub fn add(&mut self, surface: &[char], target: Target) {
        if surface.is_empty() {
            return;
        }
        let mut key = mix(surface.iter().fold(0u64, |h, &c| h.wrapping_mul(P).wrapping_add(c as u64 + 1)), 0);
        let id = loop {
            match self.index.get(&key) {
                Some(&i) => {
                    let (a, b) = self.spans[i as usize];
                    if &self.text[a as usize..b as usize] == surface {
                        break i;
                    }
                    key = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
                }
                None => {
                    let i = self.spans.len() as u32;
                    let start = self.text.len() as u32;
                    self.text.extend_from_slice(surface);
                    self.spans.push((start, self.text.len() as u32));
                    self.index.insert(key, i);
                    break i;
                }
            }
        };
        self.pairs.push((id, target));
    }

    /// Builds the trie and the fuzzy index.
    pub fn build(self) -> Lexicon {
        let LexiconBuilder { text, spans, pairs, .. } = self;
        let n = spans.len();
        // Targets grouped by surface (counting sort), duplicates kept once in their best form.
        let mut start = vec![0u32; n + 1];
        for &(s, _) in &pairs {
            start[s as usize + 1] += 1;
        }
        for i in 1..=n {
            start[i] += start[i - 1];
        }
        let mut fill = start.clone();
        let placeholder = Target { kind: NameKind::Filler, id: 0, form: Form::Full };
        let mut grouped = vec![placeholder; pairs.len()];
        for &(s, t) in &pairs {
            grouped[fill[s as usize] as usize] = t;
            fill[s as usize] += 1;
        }
        let mut targets = Vec::with_capacity(pairs.len());
        let mut target_start = Vec::with_capacity(n + 1);
        for s in 0..n {
            target_start.push(targets.len() as u32);
            let from = targets.len();
            for &t in &grouped[start[s] as usize..start[s + 1] as usize] {
                match targets[from..].iter_mut().find(|o: &&mut Target| o.kind == t.kind && o.id == t.id) {
                    Some(o) if t.form.quality() > o.form.quality() => o.form = t.form,
                    Some(_) => {}
                    None => targets.push(t),
                }
            }
        }
        target_start.push(targets.len() as u32);

        let mut edges: IntMap<u32> = IntMap::default();
        // Names share prefixes: far fewer edges than characters.
        edges.reserve(text.len() / 3);
        let mut terminal = Vec::with_capacity(text.len() / 3);
        terminal.push(u32::MAX);
        let mut fuzzy = Vec::with_capacity(text.len() + n);
        let mut keys = Vec::new();
        for (si, &(a, b)) in spans.iter().enumerate() {
            let surface = &text[a as usize..b as usize];
            let mut node = 0u32;
            for &c in surface {
                let next = terminal.len() as u32;
                let child = *edges.entry(edge_key(node, c)).or_insert(next);
                if child == next {
                    terminal.push(u32::MAX);
                }
                node = child;
            }
            terminal[node as usize] = si as u32;
            // Typos are looked for in the names as the data writes them (and roads without
            // their type), not in their other exact forms.
            let own = &targets[target_start[si] as usize..target_start[si + 1] as usize];
            let fuzzy_worthy =
                own.iter().any(|t| t.form != Form::Variant && !matches!(t.kind, NameKind::Filler | NameKind::Country));
            if surface.len() >= MIN_FUZZY_CHARS && fuzzy_worthy {
                keys_of(surface, &mut keys);
                fuzzy.extend(keys.iter().map(|&k| fuzzy_entry(k, si as u32)));
            }
        }
        radix_sort(&mut fuzzy);
        fuzzy.dedup();
        // About one entry a directory slot.
        let fuzzy_bits = (usize::BITS - fuzzy.len().leading_zeros()).clamp(4, 24);
        let mut fuzzy_dir = vec![0u32; (1 << fuzzy_bits) + 1];
        for &e in &fuzzy {
            fuzzy_dir[(e >> (64 - fuzzy_bits)) as usize + 1] += 1;
        }
        for i in 1..fuzzy_dir.len() {
            fuzzy_dir[i] += fuzzy_dir[i - 1];
        }
        Lexicon { edges, terminal, text, spans, targets, target_start, fuzzy, fuzzy_dir, fuzzy_bits }
    }
}

/// A deletion-index entry: the top 32 bits of the key, then the surface.
#[inline]
fn fuzzy_entry(key: u64, surface: u32) -> u64 {
    (key & 0xffff_ffff_0000_0000) | u64::from(surface)
}

/// Sorts `v` (LSD radix sort, 16 bits a pass): the deletion index holds millions of entries in
/// a big city, where a comparison sort would be the slowest step of the build.
fn radix_sort(v: &mut Vec<u64>) {
    if v.len() < 4096 {
        v.sort_unstable();
        return;
    }
    let mut tmp = vec![0u64; v.len()];
    for shift in (0..64).step_by(16) {
        let mut count = vec![0usize; 1 << 16];
        for &x in v.iter() {
            count[((x >> shift) & 0xffff) as usize] += 1;
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let k = *c;
            *c = sum;
            sum += k;
        }
        for &x in v.iter() {
            let d = ((x >> shift) & 0xffff) as usize;
            tmp[count[d]] = x;
            count[d] += 1;
        }
        std::mem::swap(v, &mut tmp);
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
        if query.len() < MIN_FUZZY_CHARS || query.len() > 40 || self.fuzzy_dir.is_empty() {
            return;
        }
        let mut probe = |key: u64| {
            let lo = fuzzy_entry(key, 0);
            let slot = (lo >> (64 - self.fuzzy_bits)) as usize;
            let (a, b) = (self.fuzzy_dir[slot] as usize, self.fuzzy_dir[slot + 1] as usize);
            let run = &self.fuzzy[a..b];
            for &e in &run[run.partition_point(|&e| e < lo)..] {
                if e & 0xffff_ffff_0000_0000 != lo {
                    break;
                }
                let s = e as u32;
                if out.iter().any(|h| h.surface == s) {
                    continue;
                }
                if let Some(distance) = within_one_edit(query, self.surface(s)) {
                    out.push(FuzzyHit { surface: s, distance });
                }
            }
        };
        let mut keys = Vec::with_capacity(query.len() + 1);
        keys_of(query, &mut keys);
        for (i, &k) in keys.iter().enumerate() {
            // Deleting either of two equal neighbours gives the same key: probe once.
            if i >= 2 && query[i - 1] == query[i - 2] {
                continue;
            }
            probe(k);
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
        let s = s as usize;
        &self.targets[self.target_start[s] as usize..self.target_start[s + 1] as usize]
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
            b.add(&chars(n), Target { kind: NameKind::Road, id: i as u32, form: Form::Full });
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
    fn deletion_keys_match_the_keys_of_the_shorter_string() {
        let mut long = Vec::new();
        let mut short = Vec::new();
        keys_of(&chars("准噶尔路"), &mut long);
        for (i, without) in ["噶尔路", "准尔路", "准噶路", "准噶尔"].iter().enumerate() {
            keys_of(&chars(without), &mut short);
            assert_eq!(long[i + 1], short[0], "deleting character {i} gives the key of {without}");
        }
    }

    #[test]
    fn an_empty_lexicon_finds_nothing() {
        let mut hits = vec![FuzzyHit { surface: 0, distance: 0 }];
        Lexicon::default().fuzzy(&chars("准噶尔路"), &mut hits);
        assert!(hits.is_empty());
        assert!(Lexicon::default().longest_match(&chars("准噶尔路")).is_none());
    }

    #[test]
    fn radix_sort_sorts() {
        let mut v: Vec<u64> = (0..10_000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).collect();
        let mut want = v.clone();
        want.sort_unstable();
        radix_sort(&mut v);
        assert_eq!(v, want);
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
