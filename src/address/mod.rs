//! Chinese standard addresses (一标三实): parsing, the gazetteer, geocoding and reverse geocoding.
//!
//! A [`Gazetteer`] is built from the buildings and entrances of a dataset with every snapshot
//! (it is immutable; an edit builds a new one). It owns:
//!
//! * a [`Lexicon`] of every name: the admin prefix (province, city, district, from
//!   [`DistrictInfo`](crate::model::DistrictInfo)), subdistricts, communities, roads and compounds,
//!   with aliases (a road without its type `准噶尔`, numerals in Arabic `迎宾2路`, a school
//!   without the city its name repeats `第二十六小学`);
//! * the address tables: roads → door numbers → the building or compound at each door;
//!   compounds → building numbers → buildings; buildings → units → entrances;
//! * a bucket grid of buildings for reverse geocoding.
//!
//! **Geocoding** is [`parse`](parse::parse) (text → components, see [`parse`]) followed by
//! [`rank`]: candidate places are drawn from the road and door number and from the compound and
//! building number, each scored against every component the address states, and ranked. A score
//! is how sure the gazetteer is that the candidate is the place the text means, in `[0, 1]`;
//! [`CONFIDENT_SCORE`] is the line above which a caller may take the answer without review.
//!
//! Positions (`building`, `entrance`, `compound`, `community` in [`Candidate`]) index the layers
//! of the [`Dataset`] the gazetteer was built from, which the snapshot sorts by id (regions by
//! code) before building; pass that same dataset to the query methods. Coordinates are EPSG:4326.
//! This module knows nothing of HTTP and does not touch the rest of the index: the grid of a
//! candidate is the caller's business (`Snapshot::locate` on its point).

use std::collections::HashMap;

use geo::{Centroid, InteriorPoint};

use crate::model::{Dataset, LocalProjection};

pub mod lexicon;
pub mod parse;
pub mod rank;
pub mod reverse;
pub mod text;
pub mod words;

pub use lexicon::{Form, Lexicon, NameKind, Target};
pub use parse::{NameMatch, ParsedAddress, Part};
pub use rank::{Candidate, MatchLevel, CONFIDENT_SCORE};
pub use reverse::{Nearest, NearestEntrance};

use lexicon::LexiconBuilder;
use text::{arabic_numerals, normalize_name};

/// "None" in the `u32` columns of the tables.
const NONE: u32 = u32::MAX;

/// A road: its name and the range of [`Gazetteer::doors`] holding its door numbers.
#[derive(Debug)]
struct RoadEntry {
    name: Box<str>,
    doors: (u32, u32),
}

/// What stands at a door number: a building along the road, or a compound's gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AtDoor {
    Building(u32),
    Compound(u32),
}

#[derive(Debug, Clone, Copy)]
struct DoorEntry {
    door: u32,
    at: AtDoor,
}

/// A compound's address and buildings (index = position in `Dataset::compounds`).
#[derive(Debug, Clone, Copy)]
struct CompoundEntry {
    /// Road and door number of its gate (from its buildings); `NONE` if it has no building.
    road: u32,
    door: u32,
    /// Position of its community in `Dataset::communities`, or `NONE`.
    community: u32,
    /// Range of [`Gazetteer::compound_buildings`].
    buildings: (u32, u32),
}

/// A building's address (index = position in `Dataset::buildings`).
#[derive(Debug, Clone, Copy)]
struct BuildingEntry {
    road: u32,
    door: u32,
    /// Position in `Dataset::compounds`, or `NONE` along a road.
    compound: u32,
    /// Building number in its compound, or `NONE`.
    number: u32,
}

/// The address index of one snapshot. See the module docs.
#[derive(Debug, Default)]
pub struct Gazetteer {
    lexicon: Lexicon,
    roads: Vec<RoadEntry>,
    /// Sorted by road, then door number.
    doors: Vec<DoorEntry>,
    compounds: Vec<CompoundEntry>,
    /// `(building number, building position)`, grouped by compound, sorted by number.
    compound_buildings: Vec<(u32, u32)>,
    buildings: Vec<BuildingEntry>,
    /// Entrances of building `b`: `entrances[entrance_start[b]..entrance_start[b + 1]]`
    /// (positions in `Dataset::entrances`, sorted by unit).
    entrance_start: Vec<u32>,
    entrances: Vec<u32>,
    reverse: reverse::BuildingGrid,
    projection: Option<LocalProjection>,
}

/// Splits a district prefix (`新疆维吾尔自治区克拉玛依市`) into province and city. A
/// municipality (`北京市`) has no province part.
fn split_prefix(prefix: &str) -> (Option<&str>, Option<&str>) {
    for mark in ["自治区", "省"] {
        if let Some(i) = prefix.find(mark) {
            let end = i + mark.len();
            let city = &prefix[end..];
            return (Some(&prefix[..end]), (!city.is_empty()).then_some(city));
        }
    }
    (None, (!prefix.is_empty()).then_some(prefix))
}

/// The short form of an admin name: `新疆维吾尔自治区` → 新疆, `克拉玛依市` → 克拉玛依.
fn short_admin(name: &str) -> Option<&str> {
    let suffixes = ["维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市", "区", "县"];
    let short = suffixes.iter().find_map(|s| name.strip_suffix(s))?;
    (short.chars().count() >= 2).then_some(short)
}

/// A road name without its type (`准噶尔路` → 准噶尔, `世纪大道` → 世纪), if what is left still
/// reads as a name (two characters or more, not a bare numeral).
fn road_core(name: &str) -> Option<&str> {
    let core = ["大道", "路", "街", "巷", "道"].iter().find_map(|s| name.strip_suffix(s))?;
    let ok = core.chars().count() >= 2 && !core.chars().all(text::is_chinese_numeral);
    ok.then_some(core)
}

/// Words that say nothing about where a place is.
const FILLERS: &[&str] =
    &["附近", "旁边", "对面", "门口", "楼下", "地址", "住址", "家庭住址", "现住址", "位于", "境内"];

/// Groups `items` by their group number (a stable counting sort): `(start, values)`, where the
/// values of group `g` are `values[start[g]..start[g + 1]]`. Linear, where a sort of millions of
/// items would dominate the build of a big city.
fn group_by<T: Copy>(groups: usize, items: &[(u32, T)]) -> (Vec<u32>, Vec<T>) {
    let mut start = vec![0u32; groups + 1];
    for &(g, _) in items {
        start[g as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut fill = start.clone();
    // Every slot is overwritten: the first item only fills the vector to its length.
    let mut values: Vec<T> = items.first().map_or_else(Vec::new, |&(_, v)| vec![v; items.len()]);
    for &(g, v) in items {
        values[fill[g as usize] as usize] = v;
        fill[g as usize] += 1;
    }
    (start, values)
}

/// Position of a feature by id in a layer sorted by id: a direct table when the ids are dense
/// (as stores number them), a binary search otherwise.
struct PositionById {
    table: Vec<u32>,
    ids: Vec<u32>,
}

impl PositionById {
    fn new(ids: impl Iterator<Item = u32>) -> PositionById {
        let ids: Vec<u32> = ids.collect();
        let max = ids.last().copied().unwrap_or(0) as usize;
        if max > 4 * ids.len() + 1024 {
            return PositionById { table: Vec::new(), ids };
        }
        let mut table = vec![NONE; max + 1];
        for (i, &id) in ids.iter().enumerate() {
            table[id as usize] = i as u32;
        }
        PositionById { table, ids: Vec::new() }
    }

    fn get(&self, id: u32) -> Option<u32> {
        if self.ids.is_empty() {
            self.table.get(id as usize).copied().filter(|&p| p != NONE)
        } else {
            self.ids.binary_search(&id).ok().map(|p| p as u32)
        }
    }
}

/// The lexicon of every name in `data` (see the module docs); `road_names` by road id.
fn build_lexicon(data: &Dataset, road_names: &[&str]) -> Lexicon {
    let mut lex =
        LexiconBuilder::with_capacity(2 * (road_names.len() + data.compounds.len() + data.communities.len()) + 64);
    let add = |lex: &mut LexiconBuilder, s: &str, kind: NameKind, id: u32, form: Form| {
        let chars = normalize_name(s);
        // Not for a road without its type: in 塔河25号 the digits are the door number, so
        // 塔河二 (塔河二路) must not be written 塔河2.
        if form != Form::NoSuffix && chars.iter().any(|&c| text::is_chinese_numeral(c)) {
            let arabic = arabic_numerals(&chars);
            if arabic != chars {
                lex.add(&arabic, Target { kind, id, form: if form == Form::Full { Form::Variant } else { form } });
            }
        }
        lex.add(&chars, Target { kind, id, form });
    };

    // The admin prefix.
    for c in ["中国", "中华人民共和国"] {
        add(&mut lex, c, NameKind::Country, 0, Form::Full);
    }
    let (province, city) = split_prefix(&data.district.prefix);
    for (name, kind) in [
        (province, NameKind::Province),
        (city, NameKind::City),
        (Some(data.district.name.as_str()), NameKind::District),
    ] {
        let Some(name) = name else { continue };
        add(&mut lex, name, kind, 0, Form::Full);
        if let Some(short) = short_admin(name) {
            add(&mut lex, short, kind, 0, Form::Variant);
            if kind == NameKind::Province {
                add(&mut lex, &format!("{short}自治区"), kind, 0, Form::Variant);
            }
        }
    }
    for (i, s) in data.subdistricts.iter().enumerate() {
        add(&mut lex, &s.name, NameKind::Subdistrict, i as u32, Form::Full);
    }
    for (i, c) in data.communities.iter().enumerate() {
        add(&mut lex, &c.name, NameKind::Community, i as u32, Form::Full);
    }
    for f in FILLERS {
        add(&mut lex, f, NameKind::Filler, 0, Form::Full);
    }
    for (id, name) in road_names.iter().enumerate() {
        add(&mut lex, name, NameKind::Road, id as u32, Form::Full);
        if let Some(core) = road_core(name) {
            add(&mut lex, core, NameKind::Road, id as u32, Form::NoSuffix);
        }
    }
    // Compounds, with the school names that repeat the city also written without it.
    let city_forms: Vec<&str> = city.into_iter().flat_map(|c| [Some(c), short_admin(c)]).flatten().collect();
    for (i, c) in data.compounds.iter().enumerate() {
        add(&mut lex, &c.name, NameKind::Compound, i as u32, Form::Full);
        if let Some(rest) = city_forms.iter().find_map(|city| c.name.strip_prefix(city)) {
            if rest.chars().count() >= 3 {
                add(&mut lex, rest, NameKind::Compound, i as u32, Form::Variant);
            }
        }
    }
    lex.build()
}

impl Gazetteer {
    /// Builds the gazetteer from a dataset (EPSG:4326 coordinates) whose layers are sorted by id
    /// and regions by code, as [`Snapshot::build`](crate::index::Snapshot::build) leaves them.
    /// Linear in the size of the data (counting and radix sorts, no geometry beyond bounding
    /// boxes); the lexicon is built on a second thread. About 2 ms for Karamay, 1-2 s for a
    /// city of 100,000 grids and 1.2 million buildings (docs/geocode.md).
    pub fn build(data: &Dataset) -> Gazetteer {
        // Roads, numbered in order of first appearance.
        let mut road_ids: HashMap<&str, u32> = HashMap::new();
        let mut building_roads = Vec::with_capacity(data.buildings.len());
        for b in &data.buildings {
            let next = road_ids.len() as u32;
            let id = *road_ids.entry(b.address.road.as_str()).or_insert(next);
            building_roads.push(id);
        }
        let mut road_names: Vec<&str> = vec![""; road_ids.len()];
        for (&name, &id) in &road_ids {
            road_names[id as usize] = name;
        }
        // The lexicon and the address tables are independent and about equally costly in a big
        // city: build them side by side.
        std::thread::scope(|scope| {
            let lexicon = std::thread::Builder::new()
                .name("gazetteer-lexicon".into())
                .spawn_scoped(scope, || build_lexicon(data, &road_names));
            let mut gaz = Gazetteer::build_tables(data, &road_names, &building_roads);
            gaz.lexicon = match lexicon {
                Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => build_lexicon(data, &road_names),
            };
            gaz
        })
    }

    /// Everything but the lexicon: roads, doors, compounds, buildings, entrances, the reverse grid.
    fn build_tables(data: &Dataset, road_names: &[&str], building_roads: &[u32]) -> Gazetteer {
        // Buildings, and the compounds and doors they make.
        let compound_of = PositionById::new(data.compounds.iter().map(|c| c.id));
        let community_pos = |code: &crate::model::Code| {
            data.communities.binary_search_by(|r| r.code.cmp(code)).map_or(NONE, |i| i as u32)
        };
        let mut compounds: Vec<CompoundEntry> = data
            .compounds
            .iter()
            .map(|c| CompoundEntry {
                road: NONE,
                door: NONE,
                community: community_pos(&c.community),
                buildings: (0, 0),
            })
            .collect();
        let mut buildings = Vec::with_capacity(data.buildings.len());
        let mut in_compounds: Vec<(u32, (u32, u32))> = Vec::new();
        let mut doors: Vec<(u32, DoorEntry)> = Vec::with_capacity(data.buildings.len());
        for (bi, b) in data.buildings.iter().enumerate() {
            let (road, door) = (building_roads[bi], b.address.door_number);
            let compound = b.compound_id.and_then(|id| compound_of.get(id)).unwrap_or(NONE);
            let number = b.address.building_number.unwrap_or(NONE);
            buildings.push(BuildingEntry { road, door, compound, number });
            if compound == NONE {
                doors.push((road, DoorEntry { door, at: AtDoor::Building(bi as u32) }));
            } else {
                in_compounds.push((compound, (number, bi as u32)));
                let c = &mut compounds[compound as usize];
                if c.road == NONE {
                    (c.road, c.door) = (road, door);
                    doors.push((road, DoorEntry { door, at: AtDoor::Compound(compound) }));
                }
            }
        }
        let (starts, mut compound_buildings) = group_by(compounds.len(), &in_compounds);
        for (c, entry) in compounds.iter_mut().enumerate() {
            let (a, b) = (starts[c], starts[c + 1]);
            compound_buildings[a as usize..b as usize].sort_unstable();
            entry.buildings = (a, b);
        }
        let (starts, mut door_entries) = group_by(road_names.len(), &doors);
        let roads: Vec<RoadEntry> = road_names
            .iter()
            .enumerate()
            .map(|(r, n)| {
                let (a, b) = (starts[r], starts[r + 1]);
                door_entries[a as usize..b as usize].sort_unstable_by_key(|d| {
                    (
                        d.door,
                        match d.at {
                            AtDoor::Building(b) => (0, b),
                            AtDoor::Compound(c) => (1, c),
                        },
                    )
                });
                RoadEntry { name: (*n).into(), doors: (a, b) }
            })
            .collect();

        // Entrances by building, in unit order.
        let building_of = PositionById::new(data.buildings.iter().map(|b| b.id));
        let owned: Vec<(u32, u32)> = data
            .entrances
            .iter()
            .enumerate()
            .filter_map(|(ei, e)| Some((building_of.get(e.building_id)?, ei as u32)))
            .collect();
        let (entrance_start, mut entrances) = group_by(data.buildings.len(), &owned);
        for b in 0..data.buildings.len() {
            let list = &mut entrances[entrance_start[b] as usize..entrance_start[b + 1] as usize];
            if list.len() > 1 {
                list.sort_unstable_by_key(|&e| (data.entrances[e as usize].unit, e));
            }
        }

        let (reverse, projection) = reverse::BuildingGrid::build(&data.buildings);
        Gazetteer {
            lexicon: Lexicon::default(),
            roads,
            doors: door_entries,
            compounds,
            compound_buildings,
            buildings,
            entrance_start,
            entrances,
            reverse,
            projection,
        }
    }

    /// The lexicon of every known name.
    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// Parses an address into its components, matched against the names of this gazetteer.
    pub fn parse(&self, text: &str) -> ParsedAddress {
        parse::parse(&self.lexicon, text)
    }

    /// The road names, by road id (the `id` of a road [`NameMatch`]).
    pub fn road_name(&self, road: u32) -> Option<&str> {
        self.roads.get(road as usize).map(|r| &*r.name)
    }

    /// The positions of the buildings of door number `door` on `road`.
    fn doors_at(&self, road: u32, door: u32) -> &[DoorEntry] {
        let Some(r) = self.roads.get(road as usize) else { return &[] };
        let all = &self.doors[r.doors.0 as usize..r.doors.1 as usize];
        let from = all.partition_point(|d| d.door < door);
        let to = from + all[from..].partition_point(|d| d.door == door);
        &all[from..to]
    }

    /// The building with number `number` in compound `compound`.
    fn building_in(&self, compound: u32, number: u32) -> Option<u32> {
        let c = self.compounds.get(compound as usize)?;
        let list = &self.compound_buildings[c.buildings.0 as usize..c.buildings.1 as usize];
        list.binary_search_by_key(&number, |&(n, _)| n).ok().map(|i| list[i].1)
    }

    /// The entrance of `building` for `unit`.
    fn entrance_of(&self, data: &Dataset, building: u32, unit: u32) -> Option<u32> {
        let b = building as usize;
        let list = &self.entrances[self.entrance_start[b] as usize..self.entrance_start[b + 1] as usize];
        list.iter().copied().find(|&e| data.entrances[e as usize].unit == unit)
    }

    /// A building's representative point: the centroid of its footprint (EPSG:4326).
    fn building_point(&self, data: &Dataset, building: u32) -> (f64, f64) {
        let g = &data.buildings[building as usize].geometry;
        g.centroid().or_else(|| g.exterior().0.first().map(|c| (*c).into())).map_or((0.0, 0.0), |p| (p.x(), p.y()))
    }

    /// The full address of a building, with its unit when given: `克拉玛依区准噶尔路58号阳光小区3栋2单元`.
    pub fn building_address(&self, data: &Dataset, building: usize, unit: Option<u32>) -> String {
        let b = &data.buildings[building];
        match unit {
            Some(u) => format!("{}{u}单元", b.address_text),
            None => b.address_text.clone(),
        }
    }

    /// The point to find a candidate's grid with (EPSG:4326): its building's point even at
    /// entrance level (an entrance may sit on the grid's edge; the building lies inside one grid),
    /// else the candidate's own point.
    pub fn grid_point(&self, data: &Dataset, c: &Candidate) -> (f64, f64) {
        match c.building {
            Some(b) if c.entrance.is_some() => self.building_point(data, b as u32),
            _ => (c.lon, c.lat),
        }
    }

    /// Geocodes `text`: at most `limit` candidates, best first (see the module docs). Positions
    /// refer to `data`, the dataset this gazetteer was built from.
    pub fn geocode(&self, data: &Dataset, text: &str, limit: usize) -> Vec<Candidate> {
        let parsed = self.parse(text);
        rank::rank(self, data, &parsed, limit)
    }

    /// The building nearest to `(lon, lat)` (EPSG:4326) within `radius_m` metres of its footprint,
    /// and its entrance nearest to the point if within `entrance_m` metres.
    pub fn reverse(&self, data: &Dataset, lon: f64, lat: f64, radius_m: f64, entrance_m: f64) -> Option<Nearest> {
        let proj = self.projection.as_ref()?;
        let (x, y) = proj.to_local(lon, lat);
        let (building, distance_m) = self.reverse.nearest(&data.buildings, proj, x, y, radius_m)?;
        let b = building as usize;
        let entrance = self.entrances[self.entrance_start[b] as usize..self.entrance_start[b + 1] as usize]
            .iter()
            .map(|&e| {
                let p = data.entrances[e as usize].location;
                let (ex, ey) = proj.to_local(p.x(), p.y());
                (e, (ex - x).hypot(ey - y))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|&(_, d)| d <= entrance_m)
            .map(|(e, d)| NearestEntrance { entrance: e as usize, distance_m: d });
        let (plon, plat) = self.building_point(data, building);
        Some(Nearest { building: b, lon: plon, lat: plat, distance_m, entrance })
    }

    /// A representative point of a community (inside its boundary).
    fn community_point(&self, data: &Dataset, community: u32) -> Option<(f64, f64)> {
        data.communities.get(community as usize)?.geometry.interior_point().map(|p| (p.x(), p.y()))
    }

    /// A representative point of a compound: the centroid of its outline, else its first building.
    fn compound_point(&self, data: &Dataset, compound: u32) -> (f64, f64) {
        let c = compound as usize;
        if let Some(p) = data.compounds[c].geometry.centroid() {
            return (p.x(), p.y());
        }
        let e = self.compounds[c];
        match self.compound_buildings.get(e.buildings.0 as usize) {
            Some(&(_, b)) if e.buildings.1 > e.buildings.0 => self.building_point(data, b),
            _ => (0.0, 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_dataset_gives_an_empty_gazetteer() {
        let data = Dataset::empty(crate::generate::karamay_district());
        let gaz = Gazetteer::build(&data);
        assert!(gaz.geocode(&data, "克拉玛依区准噶尔路58号", 5).is_empty());
        assert!(gaz.reverse(&data, 84.87, 45.6, 500.0, 30.0).is_none());
        assert!(Gazetteer::default().geocode(&data, "准葛尔路58号", 5).is_empty());
    }

    #[test]
    fn group_by_is_a_stable_counting_sort() {
        let (start, values) = group_by(3, &[(2, 'a'), (0, 'b'), (2, 'c'), (0, 'd')]);
        assert_eq!(start, vec![0, 2, 2, 4]);
        assert_eq!(values, vec!['b', 'd', 'a', 'c']);
    }

    #[test]
    fn prefix_and_name_forms() {
        assert_eq!(split_prefix("新疆维吾尔自治区克拉玛依市"), (Some("新疆维吾尔自治区"), Some("克拉玛依市")));
        assert_eq!(split_prefix("广东省深圳市"), (Some("广东省"), Some("深圳市")));
        assert_eq!(split_prefix("北京市"), (None, Some("北京市")));
        assert_eq!(short_admin("新疆维吾尔自治区"), Some("新疆"));
        assert_eq!(short_admin("克拉玛依区"), Some("克拉玛依"));
        assert_eq!(road_core("世纪大道"), Some("世纪"));
        assert_eq!(road_core("五五路"), None, "a bare numeral is not a name");
        assert_eq!(road_core("塔河二路"), Some("塔河二"));
        assert_eq!(road_core("准噶尔路"), Some("准噶尔"));
    }
}
