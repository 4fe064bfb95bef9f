//! Matching and ranking: parsed components → scored candidate places.
//!
//! **Candidates** come from two independent paths, so that either can rescue the other:
//! the road (each road the road part may mean) with the door number gives the building along
//! the road or the compound at that door; the compound (each compound the compound part may
//! mean) with the building number gives the building, and with the unit its entrance. Without a
//! door number a road gives a road-level candidate; a door number the road does not have gives a
//! road-level candidate at the nearest door. With neither road nor compound, a community gives a
//! community-level candidate.
//!
//! **Scores** are products of factors in `[0, 1]`, one per component the address states, each
//! saying how well the candidate explains it:
//!
//! | component | explained | not explained |
//! |---|---|---|
//! | road, compound | name quality (1 exact, 0.98 road without type, 1 − 0.65/len for one edit) | 0.6 (names another place) |
//! | both road and compound | the better quality, raised by the other (two names agreeing are strong) | |
//! | door number | 1 | 0.7; 0.45 when the road has no such door |
//! | building number | 1 | 0.5 (the compound is right, the building unknown) |
//! | unit | 1, at the entrance | 0.75 (the building is right, the unit unknown) |
//! | community, subdistrict | 1 | 0.85 / 0.9 (often out of date) |
//! | province, city, district | 1 | 0.6 (another city's address) |
//! | other text | 1 | 0.97 a character (0.9 written against a name), at most down to 0.7 |
//!
//! **Ambiguity**: when the best two candidates are different places (neither contains the other)
//! and score within 0.15 of each other, every score is scaled by 0.6 (a tie) up to 1 (0.15 apart):
//! a coin flip between 金龙路12号 and 金龙街12号 is not a confident answer.

use super::parse::{ParsedAddress, Part};
use super::words::kind_by_suffix;
use super::{AtDoor, Gazetteer, NameKind, NONE};
use crate::model::Dataset;

/// Scores at or above this are confident: the answer may be used without review. The accuracy
/// tests (tests/geocode.rs, docs/geocode.md) measure false matches against it.
pub const CONFIDENT_SCORE: f32 = 0.8;

/// How precisely a candidate locates the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchLevel {
    /// A building entrance (单元门): the address gave a unit.
    Entrance,
    /// A building.
    Building,
    /// A compound, when the address names no building in it.
    Compound,
    /// A road (no door number, or one the road does not have).
    Road,
    /// A community, when the address names nothing finer.
    Community,
}

impl MatchLevel {
    /// The level's name in the API (`entrance`, `building`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchLevel::Entrance => "entrance",
            MatchLevel::Building => "building",
            MatchLevel::Compound => "compound",
            MatchLevel::Road => "road",
            MatchLevel::Community => "community",
        }
    }
}

/// A ranked answer to a geocode. Positions index the layers of the gazetteer's dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub level: MatchLevel,
    /// In `[0, 1]`; see [`CONFIDENT_SCORE`].
    pub score: f32,
    /// The entrance for [`MatchLevel::Entrance`], else a representative point (EPSG:4326).
    pub lon: f64,
    pub lat: f64,
    pub road: Option<u32>,
    pub compound: Option<usize>,
    pub building: Option<usize>,
    pub entrance: Option<usize>,
    pub unit: Option<u32>,
    pub community: Option<usize>,
}

impl Candidate {
    /// Whether `self` and `other` may be the same place at two levels (a building and its
    /// compound, a road and a building on it), rather than two different places.
    fn nested(&self, other: &Candidate) -> bool {
        fn same<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        same(self.road, other.road)
            && same(self.compound, other.compound)
            && same(self.building, other.building)
            && same(self.community, other.community)
    }

    /// The address of the candidate as text.
    pub fn address(&self, gaz: &Gazetteer, data: &Dataset) -> String {
        if let Some(b) = self.building {
            return gaz.building_address(data, b, self.entrance.and(self.unit));
        }
        let district = &data.district.name;
        if let Some(c) = self.compound {
            let e = gaz.compounds[c];
            let name = &data.compounds[c].name;
            return match gaz.road_name(e.road) {
                Some(road) => format!("{district}{road}{}号{name}", e.door),
                None => format!("{district}{name}"),
            };
        }
        if let Some(r) = self.road.and_then(|r| gaz.road_name(r)) {
            return format!("{district}{r}");
        }
        if let Some(k) = self.community.and_then(|k| data.communities.get(k)) {
            let sub = k
                .code
                .parent()
                .and_then(|p| data.subdistricts.binary_search_by(|s| s.code.cmp(&p)).ok())
                .map_or("", |i| data.subdistricts[i].name.as_str());
            return format!("{district}{sub}{}", k.name);
        }
        String::new()
    }
}

/// What the address says about one name, against one candidate's name.
#[derive(Clone, Copy, PartialEq)]
enum Said {
    /// The address does not name this.
    Nothing,
    /// Names it, with this quality.
    Match(f32),
    /// Names something else (or something unknown).
    Other,
}

fn said(part: &Option<Part>, id: u32) -> Said {
    match part {
        None => Said::Nothing,
        Some(p) => p.matches.iter().find(|m| m.id == id).map_or(Said::Other, |m| Said::Match(m.quality)),
    }
}

const MISMATCH: f32 = 0.6;

/// The name factor of a candidate from what the address says of its road and its compound.
fn names_factor(p: &ParsedAddress, road: Said, compound: Said) -> f32 {
    let (road, compound) = match (road, compound) {
        // One text read as a road or a compound: explaining either is enough.
        (Said::Other, c @ Said::Match(_)) if p.road_or_compound => (Said::Nothing, c),
        (r @ Said::Match(_), Said::Other) if p.road_or_compound => (r, Said::Nothing),
        rc => rc,
    };
    match (road, compound) {
        (Said::Match(a), Said::Match(b)) => {
            let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
            if hi >= 1.0 {
                1.0 - (1.0 - lo) * 0.1
            } else {
                hi + (1.0 - hi) * lo * 0.5
            }
        }
        (Said::Match(q), Said::Nothing) | (Said::Nothing, Said::Match(q)) => q,
        (Said::Match(q), Said::Other) | (Said::Other, Said::Match(q)) => q * MISMATCH,
        (Said::Nothing, Said::Nothing) => 1.0,
        _ => MISMATCH * MISMATCH,
    }
}

/// Factors that do not depend on the candidate: the admin prefix and leftover text.
fn base_factor(p: &ParsedAddress) -> f32 {
    let mut f = 1.0f32;
    for part in [&p.province, &p.city, &p.district].into_iter().flatten() {
        if !part.is_known() {
            f *= MISMATCH;
        }
    }
    let mut junk = 1.0f32;
    for u in &p.unknown {
        let chars: Vec<char> = u.text.chars().collect();
        match kind_by_suffix(&chars) {
            Some(NameKind::Road | NameKind::Compound) => f *= 0.9,
            Some(NameKind::Community | NameKind::Subdistrict) => f *= 0.95,
            Some(_) => f *= MISMATCH,
            None => junk *= 0.97f32.powi(chars.len() as i32),
        }
    }
    // Unknown characters against a name may be the head of a name we do not know.
    junk *= (0.9f32 / 0.97).powi(p.glued_unknown_chars as i32);
    f * junk.max(0.7)
}

/// The community factor of a candidate in community `community` (a position, or `NONE`).
fn community_factor(data: &Dataset, p: &ParsedAddress, community: u32) -> f32 {
    if community == NONE {
        return 1.0;
    }
    let mut f = 1.0;
    if said(&p.community, community) == Said::Other {
        f *= 0.85;
    }
    if let Some(sub) = &p.subdistrict {
        let parent = data.communities[community as usize].code.parent();
        let ok = sub.matches.iter().any(|m| data.subdistricts.get(m.id as usize).map(|s| &s.code) == parent.as_ref());
        if !ok {
            f *= 0.9;
        }
    }
    f
}

struct Ranker<'a> {
    gaz: &'a Gazetteer,
    data: &'a Dataset,
    p: &'a ParsedAddress,
    base: f32,
    out: Vec<Candidate>,
}

impl Ranker<'_> {
    fn push(&mut self, c: Candidate) {
        if let Some(old) = self
            .out
            .iter_mut()
            .find(|o| o.level == c.level && o.building == c.building && o.compound == c.compound && o.road == c.road)
        {
            if c.score > old.score {
                *old = c;
            }
        } else {
            self.out.push(c);
        }
    }

    /// A building (and its entrance, when the address gives a unit).
    fn building(&mut self, b: u32) {
        let (gaz, p) = (self.gaz, self.p);
        let e = gaz.buildings[b as usize];
        let mut f = self.base * names_factor(p, said(&p.road, e.road), said(&p.compound, e.compound));
        if p.door_number.is_some_and(|d| d != e.door) {
            f *= 0.7;
        }
        if let Some(n) = p.building {
            if e.number == NONE {
                // A number for a building that has none (it stands along the road).
                f *= 0.85;
            } else if e.number != n {
                f *= 0.5;
            }
        }
        let community = if e.compound == NONE { NONE } else { gaz.compounds[e.compound as usize].community };
        f *= community_factor(self.data, p, community);
        let entrance = p.unit.and_then(|u| gaz.entrance_of(self.data, b, u));
        if p.unit.is_some() && entrance.is_none() {
            f *= 0.75;
        }
        let (lon, lat) = match entrance {
            Some(en) => {
                let l = self.data.entrances[en as usize].location;
                (l.x(), l.y())
            }
            None => gaz.building_point(self.data, b),
        };
        self.push(Candidate {
            level: if entrance.is_some() { MatchLevel::Entrance } else { MatchLevel::Building },
            score: f,
            lon,
            lat,
            road: Some(e.road),
            compound: (e.compound != NONE).then_some(e.compound as usize),
            building: Some(b as usize),
            entrance: entrance.map(|e| e as usize),
            unit: p.unit.filter(|_| entrance.is_some()),
            community: (community != NONE).then_some(community as usize),
        });
    }

    /// A compound: its building when the address names one (or it has just one), else itself.
    fn compound(&mut self, c: u32) {
        let (gaz, p) = (self.gaz, self.p);
        let e = gaz.compounds[c as usize];
        let found = match p.building {
            Some(n) => gaz.building_in(c, n),
            None if e.buildings.1 - e.buildings.0 == 1 => Some(gaz.compound_buildings[e.buildings.0 as usize].1),
            None => None,
        };
        if let Some(b) = found {
            return self.building(b);
        }
        let mut f = self.base * names_factor(p, said(&p.road, e.road), said(&p.compound, c));
        if p.door_number.is_some_and(|d| d != e.door) {
            f *= 0.7;
        }
        match p.building {
            // 阳光小区58号: 58 may be the compound's door number rather than a building.
            Some(n) if p.building_written_as_door && n == e.door => f *= 0.95,
            Some(_) => f *= 0.5,
            None if p.unit.is_some() => f *= 0.9,
            None => {}
        }
        f *= community_factor(self.data, p, e.community);
        let (lon, lat) = gaz.compound_point(self.data, c);
        self.push(Candidate {
            level: MatchLevel::Compound,
            score: f,
            lon,
            lat,
            road: (e.road != NONE).then_some(e.road),
            compound: Some(c as usize),
            building: None,
            entrance: None,
            unit: None,
            community: (e.community != NONE).then_some(e.community as usize),
        });
    }

    /// A road, at door `door` if given and present, else at its nearest door.
    fn road(&mut self, r: u32, quality: f32) {
        let (gaz, p) = (self.gaz, self.p);
        let Some(entry) = gaz.roads.get(r as usize) else { return };
        if let Some(d) = p.door_number {
            let at = gaz.doors_at(r, d);
            if !at.is_empty() {
                for de in at {
                    match de.at {
                        AtDoor::Building(b) => self.building(b),
                        AtDoor::Compound(c) => self.compound(c),
                    }
                }
                return;
            }
        }
        let doors = &gaz.doors[entry.doors.0 as usize..entry.doors.1 as usize];
        if doors.is_empty() {
            return;
        }
        let mut f = self.base * quality;
        let near = match p.door_number {
            Some(d) => {
                f *= 0.45;
                doors.iter().min_by_key(|de| (de.door.abs_diff(d), de.door)).copied()
            }
            None => {
                if p.building.is_some() || p.unit.is_some() {
                    f *= 0.6;
                }
                doors.get(doors.len() / 2).copied()
            }
        };
        if p.compound.is_some() && !p.road_or_compound {
            f *= MISMATCH;
        }
        let (lon, lat) = match near.map(|de| de.at) {
            Some(AtDoor::Building(b)) => gaz.building_point(self.data, b),
            Some(AtDoor::Compound(c)) => gaz.compound_point(self.data, c),
            None => (0.0, 0.0),
        };
        self.push(Candidate {
            level: MatchLevel::Road,
            score: f,
            lon,
            lat,
            road: Some(r),
            compound: None,
            building: None,
            entrance: None,
            unit: None,
            community: None,
        });
    }

    fn community(&mut self, k: u32, quality: f32) {
        let Some((lon, lat)) = self.gaz.community_point(self.data, k) else { return };
        let p = self.p;
        let mut f = self.base * quality;
        if p.door_number.is_some() || p.building.is_some() || p.unit.is_some() {
            f *= MISMATCH;
        }
        if p.road.is_some() || p.compound.is_some() {
            f *= MISMATCH;
        }
        self.push(Candidate {
            level: MatchLevel::Community,
            score: f,
            lon,
            lat,
            road: None,
            compound: None,
            building: None,
            entrance: None,
            unit: None,
            community: Some(k as usize),
        });
    }
}

/// Scores and ranks the candidates for a parsed address (see the module docs).
pub fn rank(gaz: &Gazetteer, data: &Dataset, p: &ParsedAddress, limit: usize) -> Vec<Candidate> {
    let mut r = Ranker { gaz, data, p, base: base_factor(p), out: Vec::new() };
    if let Some(c) = &p.compound {
        for m in &c.matches {
            r.compound(m.id);
        }
    }
    if let Some(road) = &p.road {
        for m in &road.matches {
            r.road(m.id, m.quality);
        }
    }
    if r.out.is_empty() {
        if let Some(k) = &p.community {
            for m in &k.matches {
                r.community(m.id, m.quality);
            }
        }
    }
    let mut out = r.out;
    // Equal scores: the more precise place first (it explains the address as well, and says
    // more), then a fixed order.
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| (a.level as u8).cmp(&(b.level as u8)))
            .then_with(|| (a.building, a.compound, a.road).cmp(&(b.building, b.compound, b.road)))
    });
    if let Some(top) = out.first() {
        if let Some(rival) = out[1..].iter().find(|c| !c.nested(top)) {
            let margin = top.score - rival.score;
            if margin < 0.15 {
                let scale = 0.6 + 0.4 * margin / 0.15;
                for c in &mut out {
                    c.score *= scale;
                }
            }
        }
    }
    for c in &mut out {
        c.score = (c.score.clamp(0.0, 1.0) * 1000.0).round() / 1000.0;
    }
    out.truncate(limit);
    out
}
