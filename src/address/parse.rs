//! The address parser: text → [`ParsedAddress`] (province, city, district, subdistrict,
//! community, road, door number, compound, building, unit, room).
//!
//! Chinese addresses have no spaces between words, so the parser does not guess word
//! boundaries from the text; it reads the names it knows:
//!
//! 1. **Normalise** ([`super::text`]): full-width to ASCII, drop spaces and punctuation.
//! 2. **Tokenise** left to right. At each position, the longest known name starting there wins
//!    (the trie of the [`Lexicon`]), so `九龙潭花园` is a compound even though `九龙潭` is also
//!    the road 九龙潭路 written without 路. Otherwise a number is read (ASCII or Chinese
//!    numerals, with `第` before and a marker after: 号, 号楼, 栋, 幢, 座, #, 楼, 单元, 门, 室,
//!    户, 层, or a dash). A Chinese numeral counts as a number only before a marker, a dash or
//!    the end, so the 二 of `东方华庭二区` stays text. Anything else is unknown text.
//! 3. **Repair** each run of unknown text with the fuzzy index (one edit): first joined to the
//!    known name right before or after it (a typo late in a name leaves its head matched as a
//!    shorter name: `阳光` + `小去`), then alone, then split after a road or compound type
//!    character (`准葛尔路阳光小去` is two names).
//! 4. **Assign** names to fields by what they name, and numbers by their marker and context:
//!    `N号` after a road is the door number, after a compound the building (`阳光小区3号`);
//!    dashed runs are building-unit-room (`3-2-501`) or, after a building, unit-room; a bare
//!    number after a road is its door number, after a compound its building, after a building
//!    its unit (under 100) or room. Unknown text still left is filed by its type suffix
//!    (`不存在路` is an unknown road), so the matcher knows that the address names a place the
//!    gazetteer does not hold.

use super::lexicon::{FuzzyHit, Lexicon, NameKind};
use super::text::{chinese_number, is_chinese_numeral, normalize};
use super::words::{is_type_char, kind_by_suffix, match_quality, split_unknown};

/// Longest input the parser reads, in characters (the API refuses longer queries anyway).
pub const MAX_CHARS: usize = 256;

/// One known name a part of the address may mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NameMatch {
    /// Index in the gazetteer's table of the part's kind (roads, compounds, ...).
    pub id: u32,
    /// How well the written text matches the name: 1 exact, less for aliases and typos.
    pub quality: f32,
    /// Character edits between the text and the name (0 or 1).
    pub distance: u8,
}

/// A named part of an address, as written, with the names it may mean.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Part {
    /// The text as written (normalised).
    pub text: String,
    /// Known names it matches, best first; empty when the name is unknown.
    pub matches: Vec<NameMatch>,
}

impl Part {
    /// Whether the text matched a known name.
    pub fn is_known(&self) -> bool {
        !self.matches.is_empty()
    }
}

/// An address split into its components. Name parts carry the names they may mean; an
/// unknown name is still filed under its kind (by its type suffix) with no matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedAddress {
    pub province: Option<Part>,
    pub city: Option<Part>,
    pub district: Option<Part>,
    pub subdistrict: Option<Part>,
    pub community: Option<Part>,
    pub road: Option<Part>,
    /// Door number on the road (门牌号).
    pub door_number: Option<u32>,
    pub compound: Option<Part>,
    /// Building number (栋, 幢, 座, 号楼).
    pub building: Option<u32>,
    /// Whether the building number was written `N号` after a compound, which can also be the
    /// compound's door number.
    pub building_written_as_door: bool,
    /// Unit (单元).
    pub unit: Option<u32>,
    /// Room (室).
    pub room: Option<u32>,
    /// Floor (层), when written apart from the room.
    pub floor: Option<u32>,
    /// Text that fits no component: unknown words and a second road or compound.
    pub unknown: Vec<Part>,
    /// Whether `road` and `compound` are one piece of text that is one edit from both a road and
    /// a compound (幸福园: 幸福路 or 幸福嘉园): a candidate need explain only one of them.
    pub road_or_compound: bool,
    /// Characters of unknown text written against a name with no space between
    /// (`兴北新村`: 兴 against 北新村), a sign of a longer name the gazetteer does not know.
    pub glued_unknown_chars: usize,
}

/// What a number's marker says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// 号, 号院
    Door,
    /// 号楼, 栋, 幢, 座, #
    Building,
    /// 楼: a building, or a floor once the building is known.
    Lou,
    /// 单元, 门
    Unit,
    /// 室, 房, 户
    Room,
    /// 层
    Floor,
    /// Followed by a dash: part of `3-2-501`.
    Dash,
    /// No marker.
    Bare,
}

/// Markers, longest first where they share a first character.
const MARKERS: &[(&str, Marker)] = &[
    ("号楼", Marker::Building),
    ("号院", Marker::Door),
    ("号", Marker::Door),
    ("栋", Marker::Building),
    ("幢", Marker::Building),
    ("座", Marker::Building),
    ("#楼", Marker::Building),
    ("#", Marker::Building),
    ("楼", Marker::Lou),
    ("单元", Marker::Unit),
    ("门", Marker::Unit),
    ("室", Marker::Room),
    ("房", Marker::Room),
    ("户", Marker::Room),
    ("层", Marker::Floor),
    ("-", Marker::Dash),
];

fn read_marker(chars: &[char]) -> Option<(Marker, usize)> {
    let first = *chars.first()?;
    MARKERS.iter().find_map(|&(m, kind)| {
        let mut it = m.chars();
        if it.next() != Some(first) {
            return None;
        }
        let rest: Vec<char> = it.collect();
        (chars.len() > rest.len() && chars[1..=rest.len()] == rest[..]).then_some((kind, rest.len() + 1))
    })
}

#[derive(Debug, Clone)]
enum TokKind {
    /// Known names (exact: one hit; fuzzy: every hit within one edit).
    Name(Vec<FuzzyHit>),
    Num(u32, Marker),
    Unknown,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: TokKind,
    start: usize,
    end: usize,
}

/// Reads a number at `chars[i..]`: `(value, marker, end)`. A separator ends a number
/// (`3 2 501` is three numbers).
fn read_number(chars: &[char], sep_before: &[bool], i: usize) -> Option<(u32, Marker, usize)> {
    let mut j = i;
    if chars[j] == '第' {
        j += 1;
    }
    let c = *chars.get(j)?;
    // The numeral itself may not span a separator; its marker may follow one (`58 号`).
    let run = 1 + sep_before[j + 1..].iter().take_while(|&&s| !s).count();
    let full = chars;
    let chars = &chars[..j + run];
    let (value, end, chinese) = if c.is_ascii_digit() {
        let n = chars[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        let v =
            chars[j..j + n].iter().fold(0u32, |acc, &c| acc.saturating_mul(10).saturating_add(c as u32 - '0' as u32));
        (v, j + n, false)
    } else if is_chinese_numeral(c) {
        let (v, n) = chinese_number(&chars[j..])?;
        (v, j + n, true)
    } else {
        return None;
    };
    match read_marker(&full[end..]) {
        Some((m, n)) => Some((value, m, end + n)),
        // A Chinese numeral with no marker is a number only at the end (`3栋二`).
        None if chinese && end < full.len() => None,
        None => Some((value, Marker::Bare, end)),
    }
}

fn tokenize(lex: &Lexicon, chars: &[char], sep_before: &[bool]) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::with_capacity(8);
    let mut i = 0;
    while i < chars.len() {
        if let Some((s, n)) = lex.longest_match(&chars[i..]) {
            toks.push(Tok { kind: TokKind::Name(vec![FuzzyHit { surface: s, distance: 0 }]), start: i, end: i + n });
            i += n;
            continue;
        }
        if let Some((v, m, end)) = read_number(chars, sep_before, i) {
            toks.push(Tok { kind: TokKind::Num(v, m), start: i, end });
            i = end;
            continue;
        }
        match toks.last_mut() {
            Some(t) if matches!(t.kind, TokKind::Unknown) && t.end == i => t.end += 1,
            _ => toks.push(Tok { kind: TokKind::Unknown, start: i, end: i + 1 }),
        }
        i += 1;
    }
    toks
}

/// Tries to turn unknown text into known names, one edit away (see the module docs, step 3).
fn repair(lex: &Lexicon, chars: &[char], toks: &mut Vec<Tok>) {
    let mut hits = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        if !matches!(toks[k].kind, TokKind::Unknown) {
            k += 1;
            continue;
        }
        let (start, end) = (toks[k].start, toks[k].end);
        let adjacent_name = |t: Option<&Tok>, at: usize| {
            t.filter(|t| matches!(t.kind, TokKind::Name(_)) && (t.end == at || t.start == at)).map(|t| (t.start, t.end))
        };
        // Joined to the name before (a typo after a matched head: 阳光 + 小去 → 阳光小区, so the
        // name found must start with that head), then to the name after (it must end with it).
        // A join that only finds the name itself again is junk written against it
        // (`克拉玛依区石`), and one that rewrites the name is not a typo after it
        // (`克拉玛依区道` is not 克拉玛依大道).
        let keep = |t: &Tok, head: &[char], tail: &[char], hits: &mut Vec<FuzzyHit>| {
            if let TokKind::Name(had) = &t.kind {
                hits.retain(|h| {
                    let s = lex.surface(h.surface);
                    !had.iter().any(|o| o.surface == h.surface) && s.starts_with(head) && s.ends_with(tail)
                });
            }
        };
        if let Some((s, _)) = adjacent_name(k.checked_sub(1).and_then(|p| toks.get(p)), start) {
            lex.fuzzy(&chars[s..end], &mut hits);
            keep(&toks[k - 1], &chars[s..start], &[], &mut hits);
            if !hits.is_empty() {
                toks[k - 1] = Tok { kind: TokKind::Name(hits.clone()), start: s, end };
                toks.remove(k);
                continue;
            }
        }
        if let Some((_, e)) = adjacent_name(toks.get(k + 1), end) {
            lex.fuzzy(&chars[start..e], &mut hits);
            keep(&toks[k + 1], &[], &chars[end..e], &mut hits);
            if !hits.is_empty() {
                toks[k] = Tok { kind: TokKind::Name(hits.clone()), start, end: e };
                toks.remove(k + 1);
                k += 1;
                continue;
            }
        }
        lex.fuzzy(&chars[start..end], &mut hits);
        if !hits.is_empty() {
            toks[k].kind = TokKind::Name(hits.clone());
            k += 1;
            continue;
        }
        // Two names in a row, split after a type character.
        let mut split = None;
        for cut in start + 1..end {
            if !is_type_char(chars[cut - 1]) {
                continue;
            }
            let mut left = Vec::new();
            lex.fuzzy(&chars[start..cut], &mut left);
            if left.is_empty() {
                if let Some(s) = lex.exact(&chars[start..cut]) {
                    left.push(FuzzyHit { surface: s, distance: 0 });
                }
            }
            lex.fuzzy(&chars[cut..end], &mut hits);
            if hits.is_empty() {
                if let Some(s) = lex.exact(&chars[cut..end]) {
                    hits.push(FuzzyHit { surface: s, distance: 0 });
                }
            }
            // Both sides must be names: a name with junk before it is not two names.
            if !left.is_empty() && !hits.is_empty() {
                split = Some((cut, left, hits.clone()));
                break;
            }
        }
        if let Some((cut, left, right)) = split {
            let part = |h: Vec<FuzzyHit>| if h.is_empty() { TokKind::Unknown } else { TokKind::Name(h) };
            toks[k] = Tok { kind: part(left), start, end: cut };
            toks.insert(k + 1, Tok { kind: part(right), start: cut, end });
            k += 2;
            continue;
        }
        k += 1;
    }
}

fn field(p: &mut ParsedAddress, kind: NameKind) -> Option<&mut Option<Part>> {
    Some(match kind {
        NameKind::Province => &mut p.province,
        NameKind::City => &mut p.city,
        NameKind::District => &mut p.district,
        NameKind::Subdistrict => &mut p.subdistrict,
        NameKind::Community => &mut p.community,
        NameKind::Road => &mut p.road,
        NameKind::Compound => &mut p.compound,
        NameKind::Country | NameKind::Filler => return None,
    })
}

/// Where the last name sits, for reading the numbers after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    None,
    Road,
    Compound,
}

/// Files a run of numbers joined by dashes (`3-2-501`), ending with `last` marker.
fn assign_chain(p: &mut ParsedAddress, ctx: Context, values: &[u32], last: Marker) {
    #[derive(Clone, Copy, PartialEq, PartialOrd)]
    enum Slot {
        Door,
        Building,
        Unit,
        Room,
    }
    let set = |p: &mut ParsedAddress, slot: Slot, v: u32| {
        let f = match slot {
            Slot::Door => &mut p.door_number,
            Slot::Building => &mut p.building,
            Slot::Unit => &mut p.unit,
            Slot::Room => &mut p.room,
        };
        f.get_or_insert(v);
    };
    let explicit = match last {
        Marker::Door if ctx == Context::Road && p.door_number.is_none() => Some(Slot::Door),
        Marker::Door | Marker::Building | Marker::Lou => Some(Slot::Building),
        Marker::Unit => Some(Slot::Unit),
        Marker::Room => Some(Slot::Room),
        _ => None,
    };
    if let Some(slot) = explicit {
        // The last number is what its marker says; the ones before fill the slots above it.
        let mut slots = [Slot::Door, Slot::Building, Slot::Unit, Slot::Room].into_iter().filter(|&s| s < slot).rev();
        set(p, slot, values[values.len() - 1]);
        for &v in values[..values.len() - 1].iter().rev() {
            if let Some(s) = slots.next() {
                set(p, s, v);
            }
        }
        return;
    }
    let slots: &[Slot] = match values.len() {
        1 if ctx == Context::Road && p.door_number.is_none() => &[Slot::Door],
        1 if p.building.is_none() => &[Slot::Building],
        1 if p.unit.is_none() && values[0] < 100 => &[Slot::Unit],
        1 => &[Slot::Room],
        2 if p.building.is_some() => &[Slot::Unit, Slot::Room],
        2 if values[1] >= 100 => &[Slot::Building, Slot::Room],
        2 => &[Slot::Building, Slot::Unit],
        3 => &[Slot::Building, Slot::Unit, Slot::Room],
        _ => &[Slot::Door, Slot::Building, Slot::Unit, Slot::Room],
    };
    let skip = values.len().saturating_sub(slots.len());
    for (&v, &s) in values[skip..].iter().zip(slots) {
        set(p, s, v);
    }
}

/// Parses `text` against the names in `lex` (see the module docs).
pub fn parse(lex: &Lexicon, text: &str) -> ParsedAddress {
    let norm = normalize(text, MAX_CHARS);
    let chars = &norm.chars;
    let mut toks = tokenize(lex, chars, &norm.sep_before);
    if toks.iter().any(|t| matches!(t.kind, TokKind::Unknown)) {
        repair(lex, chars, &mut toks);
    }
    let mut p = ParsedAddress::default();
    let mut ctx = Context::None;
    let mut chain: Vec<u32> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        match &t.kind {
            TokKind::Num(v, Marker::Dash) => chain.push(*v),
            TokKind::Num(v, m) => {
                // A separator between two bare numbers joins them like a dash (`3 2 501`).
                let joined = *m == Marker::Bare
                    && toks.get(k + 1).is_some_and(|n| matches!(n.kind, TokKind::Num(..)) && norm.sep_before[n.start]);
                chain.push(*v);
                if joined {
                    continue;
                }
                let values = std::mem::take(&mut chain);
                match m {
                    Marker::Floor => p.floor = Some(*v),
                    Marker::Lou if p.building.is_some() && values.len() == 1 => p.floor = Some(*v),
                    Marker::Door if ctx == Context::Compound && p.building.is_none() && values.len() == 1 => {
                        p.building = Some(*v);
                        p.building_written_as_door = true;
                    }
                    Marker::Door if ctx == Context::None && p.door_number.is_none() && values.len() == 1 => {
                        p.door_number = Some(*v);
                    }
                    _ => assign_chain(&mut p, ctx, &values, *m),
                }
            }
            TokKind::Name(hits) => {
                if !chain.is_empty() {
                    let values = std::mem::take(&mut chain);
                    assign_chain(&mut p, ctx, &values, Marker::Bare);
                }
                ctx = assign_name(lex, &mut p, chars, t, hits, &toks[k + 1..]).unwrap_or(ctx);
            }
            TokKind::Unknown => {
                if !chain.is_empty() {
                    let values = std::mem::take(&mut chain);
                    assign_chain(&mut p, ctx, &values, Marker::Bare);
                }
                let glued =
                    (t.start > 0 && !norm.sep_before[t.start]) || (t.end < chars.len() && !norm.sep_before[t.end]);
                for (a, b) in split_unknown(&chars[t.start..t.end]) {
                    let written = &chars[t.start + a..t.start + b];
                    let part = Part { text: written.iter().collect(), matches: Vec::new() };
                    let kind = kind_by_suffix(written);
                    match kind.and_then(|kind| field(&mut p, kind)) {
                        Some(f) if f.is_none() => {
                            *f = Some(part);
                            match kind {
                                Some(NameKind::Road) => ctx = Context::Road,
                                Some(NameKind::Compound) => ctx = Context::Compound,
                                _ => {}
                            }
                        }
                        _ => {
                            if glued && kind.is_none() {
                                p.glued_unknown_chars += b - a;
                            }
                            p.unknown.push(part);
                        }
                    }
                }
            }
        }
    }
    if !chain.is_empty() {
        assign_chain(&mut p, ctx, &chain, Marker::Bare);
    }
    p
}

/// Files a name token under the fields of what it names; returns the new number context.
fn assign_name(
    lex: &Lexicon,
    p: &mut ParsedAddress,
    chars: &[char],
    t: &Tok,
    hits: &[FuzzyHit],
    rest: &[Tok],
) -> Option<Context> {
    let written = &chars[t.start..t.end];
    let mut by_kind: Vec<(NameKind, NameMatch)> = Vec::with_capacity(hits.len());
    for h in hits {
        for target in lex.targets(h.surface) {
            let quality = match_quality(target.form.quality(), h.distance, written, lex.surface(h.surface));
            by_kind.push((target.kind, NameMatch { id: target.id, quality, distance: h.distance }));
        }
    }
    // 克拉玛依 is the city and the road 克拉玛依大道 without its type: the city when a road or
    // compound follows, the road otherwise.
    let has_admin = by_kind.iter().any(|(k, _)| k.is_admin());
    let place_follows = rest.iter().any(|t| match &t.kind {
        TokKind::Name(h) => h
            .iter()
            .any(|h| lex.targets(h.surface).iter().any(|t| matches!(t.kind, NameKind::Road | NameKind::Compound))),
        _ => false,
    });
    if has_admin && place_follows {
        by_kind.retain(|(k, _)| k.is_admin());
    }
    // One edit from both a road and a compound (阳光丽: 阳光街 or 阳光苑): if an exact name of
    // one kind follows, this token is the other.
    let has = |by_kind: &[(NameKind, NameMatch)], kind| by_kind.iter().any(|(k, _)| *k == kind);
    if has(&by_kind, NameKind::Road) && has(&by_kind, NameKind::Compound) {
        let exact_later = |kind| {
            rest.iter().any(|t| match &t.kind {
                TokKind::Name(h) => {
                    h.iter().any(|h| h.distance == 0 && lex.targets(h.surface).iter().any(|t| t.kind == kind))
                }
                _ => false,
            })
        };
        if exact_later(NameKind::Compound) {
            by_kind.retain(|(k, _)| *k != NameKind::Compound);
        } else if exact_later(NameKind::Road) {
            by_kind.retain(|(k, _)| *k != NameKind::Road);
        }
    }
    by_kind.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.quality.total_cmp(&a.1.quality)).then(a.1.id.cmp(&b.1.id)));
    let text: String = written.iter().collect();
    let mut ctx = None;
    if has(&by_kind, NameKind::Road) && has(&by_kind, NameKind::Compound) && p.road.is_none() && p.compound.is_none() {
        p.road_or_compound = true;
    }
    let mut i = 0;
    while i < by_kind.len() {
        let kind = by_kind[i].0;
        let n = by_kind[i..].iter().take_while(|(k, _)| *k == kind).count();
        let matches: Vec<NameMatch> = by_kind[i..i + n].iter().map(|&(_, m)| m).collect();
        i += n;
        let part = Part { text: text.clone(), matches };
        match field(p, kind) {
            Some(f) if f.is_none() => {
                *f = Some(part);
                // Still a road and a compound both (阳光丽3号): 号 reads as a door number.
                match kind {
                    NameKind::Road => ctx = Some(Context::Road),
                    NameKind::Compound if ctx.is_none() => ctx = Some(Context::Compound),
                    _ => {}
                }
            }
            Some(_) if matches!(kind, NameKind::Road | NameKind::Compound) => p.unknown.push(part),
            _ => {}
        }
    }
    ctx
}

#[cfg(test)]
mod tests {
    use super::super::lexicon::{Form, LexiconBuilder, Target};
    use super::*;

    /// A small lexicon shaped like the Karamay data.
    fn lexicon() -> Lexicon {
        let mut b = LexiconBuilder::default();
        let mut add = |s: &str, kind, id, form| b.add(&s.chars().collect::<Vec<_>>(), Target { kind, id, form });
        add("新疆维吾尔自治区", NameKind::Province, 0, Form::Full);
        add("新疆", NameKind::Province, 0, Form::Variant);
        add("克拉玛依市", NameKind::City, 0, Form::Full);
        add("克拉玛依", NameKind::City, 0, Form::Variant);
        add("克拉玛依区", NameKind::District, 0, Form::Full);
        add("昆仑路街道", NameKind::Subdistrict, 0, Form::Full);
        add("胜利社区", NameKind::Community, 0, Form::Full);
        for (i, r) in ["准噶尔路", "友谊路", "迎宾二路", "克拉玛依大道", "阳光街"].iter().enumerate()
        {
            add(r, NameKind::Road, i as u32, Form::Full);
        }
        add("准噶尔", NameKind::Road, 0, Form::NoSuffix);
        add("友谊", NameKind::Road, 1, Form::NoSuffix);
        add("迎宾2路", NameKind::Road, 2, Form::Variant);
        add("克拉玛依", NameKind::Road, 3, Form::NoSuffix);
        add("阳光", NameKind::Road, 4, Form::NoSuffix);
        for (i, c) in ["阳光小区", "友谊社区卫生服务中心", "东方华庭二区", "东方华庭"].iter().enumerate()
        {
            add(c, NameKind::Compound, i as u32, Form::Full);
        }
        add("附近", NameKind::Filler, 0, Form::Full);
        b.build()
    }

    fn known(p: &Option<Part>) -> Option<u32> {
        p.as_ref().and_then(|p| p.matches.first()).map(|m| m.id)
    }

    /// `(road, door, compound, building, unit, room)` of a parse.
    type Summary = (Option<u32>, Option<u32>, Option<u32>, Option<u32>, Option<u32>, Option<u32>);

    fn summary(q: &str) -> Summary {
        let p = parse(&lexicon(), q);
        (known(&p.road), p.door_number, known(&p.compound), p.building, p.unit, p.room)
    }

    #[test]
    fn standard_forms() {
        assert_eq!(summary("克拉玛依区准噶尔路58号阳光小区3栋"), (Some(0), Some(58), Some(0), Some(3), None, None));
        assert_eq!(summary("准噶尔路58号"), (Some(0), Some(58), None, None, None, None));
        let p = parse(&lexicon(), "新疆维吾尔自治区克拉玛依市克拉玛依区昆仑路街道胜利社区准噶尔路58号");
        assert!(p.province.is_some() && p.city.is_some() && p.district.is_some());
        assert_eq!(known(&p.subdistrict), Some(0), "昆仑路街道 is a subdistrict, not 昆仑路 + 街道");
        assert_eq!(known(&p.community), Some(0));
        assert_eq!((known(&p.road), p.door_number), (Some(0), Some(58)));
        assert!(p.unknown.is_empty(), "{:?}", p.unknown);
    }

    #[test]
    fn numerals_full_width_and_building_words() {
        let want = (Some(0), Some(12), Some(0), Some(3), None, None);
        for q in [
            "准噶尔路十二号阳光小区三栋",
            "准噶尔路１２号阳光小区３栋",
            "准噶尔路12号阳光小区3号楼",
            "准噶尔路12号阳光小区3幢",
            "准噶尔路12号阳光小区3座",
            "准噶尔路12号阳光小区3#楼",
            "准噶尔路12号阳光小区第三栋",
        ] {
            assert_eq!(summary(q), want, "{q}");
        }
        assert_eq!(summary("准噶尔路二十三号").1, Some(23));
        assert_eq!(summary("准噶尔路一百零五号").1, Some(105));
    }

    #[test]
    fn units_and_rooms_in_every_usual_form() {
        let want = (None, None, Some(0), Some(3), Some(2), Some(501));
        for q in [
            "阳光小区3栋2单元501室",
            "阳光小区3-2-501",
            "阳光小区3号楼2单元501",
            "阳光小区3栋2-501",
            "阳光小区 3 2 501",
            "阳光小区三栋二单元五零一室",
            "阳光小区3幢2门501",
        ] {
            assert_eq!(summary(q), want, "{q}");
        }
        assert_eq!(summary("阳光小区3-2"), (None, None, Some(0), Some(3), Some(2), None));
        assert_eq!(summary("阳光小区3-501"), (None, None, Some(0), Some(3), None, Some(501)));
        assert_eq!(summary("阳光小区3栋2"), (None, None, Some(0), Some(3), Some(2), None));
        let p = parse(&lexicon(), "阳光小区3号");
        assert_eq!(p.building, Some(3));
        assert!(p.building_written_as_door, "3号 after a compound may be its door number");
    }

    #[test]
    fn names_in_numbers_stay_names() {
        assert_eq!(summary("迎宾二路5号"), (Some(2), Some(5), None, None, None, None));
        assert_eq!(summary("迎宾2路5号"), (Some(2), Some(5), None, None, None, None));
        assert_eq!(summary("东方华庭二区3栋"), (None, None, Some(2), Some(3), None, None));
        assert_eq!(summary("东方华庭3栋"), (None, None, Some(3), Some(3), None, None));
        assert_eq!(summary("克拉玛依大道9号"), (Some(3), Some(9), None, None, None, None));
    }

    #[test]
    fn road_without_type_and_city_name_that_is_also_a_road() {
        assert_eq!(summary("准噶尔58号"), (Some(0), Some(58), None, None, None, None));
        let p = parse(&lexicon(), "准噶尔58号");
        assert!(p.road.as_ref().unwrap().matches[0].quality < 1.0, "a road without its type is an alias");
        // 克拉玛依 is the city when a road follows, the road 克拉玛依大道 otherwise.
        let p = parse(&lexicon(), "克拉玛依准噶尔路58号");
        assert_eq!(known(&p.road), Some(0));
        assert!(p.city.is_some());
        let p = parse(&lexicon(), "克拉玛依9号");
        assert_eq!(known(&p.road), Some(3));
    }

    #[test]
    fn one_wrong_or_missing_character() {
        assert_eq!(summary("准葛尔路58号"), (Some(0), Some(58), None, None, None, None));
        assert_eq!(summary("准尔路58号"), (Some(0), Some(58), None, None, None, None));
        assert_eq!(summary("阳光小去3栋"), (None, None, Some(0), Some(3), None, None), "阳光 + 小去 joined");
        assert_eq!(summary("友谊社区卫生服物中心1栋"), (None, None, Some(1), Some(1), None, None));
        assert_eq!(summary("准葛尔路阳光小去3栋"), (Some(0), None, Some(0), Some(3), None, None), "split");
        let p = parse(&lexicon(), "准葛尔路58号");
        let m = p.road.unwrap().matches[0];
        assert_eq!(m.distance, 1);
        assert!(m.quality < 0.8 && m.quality > 0.75, "one edit in a three-character core: {}", m.quality);
    }

    #[test]
    fn spaces_punctuation_and_fillers() {
        assert_eq!(
            summary(" 克拉玛依区，准噶尔路 58 号 （阳光小区） 3 栋。"),
            (Some(0), Some(58), Some(0), Some(3), None, None)
        );
        let p = parse(&lexicon(), "准噶尔路58号附近");
        assert!(p.unknown.is_empty());
    }

    #[test]
    fn unknown_names_are_filed_by_their_type() {
        let p = parse(&lexicon(), "广东省深圳市南山区科技园路1号");
        assert_eq!(p.province.as_ref().map(|p| p.text.as_str()), Some("广东省"));
        assert!(!p.province.as_ref().unwrap().is_known());
        assert_eq!(p.road.as_ref().map(|p| p.text.as_str()), Some("科技园路"));
        assert_eq!(p.door_number, Some(1));
        let p = parse(&lexicon(), "幸福小区3栋");
        assert_eq!(p.compound.as_ref().map(|p| (p.text.as_str(), p.is_known())), Some(("幸福小区", false)));
        assert_eq!(p.building, Some(3));
    }
}
