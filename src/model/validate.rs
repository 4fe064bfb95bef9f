//! Whole-dataset validation: the rules no single feature can check on its own.
//!
//! Reading a feature ([`Dataset::set_features`]) checks its own fields and the GeoJSON shape
//! of its geometry. [`validate`] checks what needs the rest of the dataset, and what a store
//! would otherwise refuse one row at a time:
//!
//! * codes: each of the district, unique among current versions (and `(code, version)`
//!   unique overall), grid codes as long as the district's `grid_width` says, and every current
//!   region nested under an existing current parent (grid → community → subdistrict);
//! * ids: unique within each layer;
//! * foreign keys: gate → compound, building → compound, entrance → building,
//!   compound → community, staff → grids;
//! * versions: numbered from 1, `valid_to` after `valid_from`;
//! * geometry: not empty, lon/lat in range (EPSG:4326), and valid by OGC simple-feature rules
//!   (`geo::Validation`: closed, non-self-intersecting rings, holes inside shells, ...), which
//!   is what PostGIS's `ST_IsValid` constraints ask too.
//!
//! Every problem is collected, never just the first, so that `gridmap import` can report all of
//! them at once. Pure: no I/O.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;

use geo::{CoordsIter, Geometry, Validation};

use super::code::{CodeScheme, Level};
use super::crs::check_lon_lat;
use super::{Code, Dataset, LayerKind, Region};

/// Most geometry errors listed for one feature; the rest are counted.
const MAX_GEOMETRY_ERRORS: usize = 3;

/// One thing wrong with one feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The layer (`grids`, `staff`, `district`, ...).
    pub layer: String,
    /// Which feature: `feature "65020300100101"` (a code), `feature 17` (an id), or
    /// `feature #3` (a position, when there is no id).
    pub feature: String,
    /// What is wrong, in words.
    pub message: String,
}

impl Problem {
    /// A problem of `feature` in `layer`.
    pub fn new(layer: impl Into<String>, feature: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem { layer: layer.into(), feature: feature.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.layer, self.feature, self.message)
    }
}

/// Features that were in a source but could not be read (their problems are reported
/// already): references to them are not reported a second time as references to nothing.
#[derive(Debug, Clone, Default)]
pub struct Unread {
    /// Codes of unreadable regions (any level).
    pub codes: HashSet<Code>,
    /// Ids of unreadable features, by layer.
    pub ids: HashMap<LayerKind, HashSet<u32>>,
}

impl Unread {
    fn has_id(&self, kind: LayerKind, id: u32) -> bool {
        self.ids.get(&kind).is_some_and(|ids| ids.contains(&id))
    }
}

/// Checks the whole dataset; an empty list means it may be written.
pub fn validate(data: &Dataset) -> Vec<Problem> {
    validate_except(data, &Unread::default())
}

/// [`validate`], not reporting references to the `unread` features.
pub fn validate_except(data: &Dataset, unread: &Unread) -> Vec<Problem> {
    let mut out = Vec::new();
    let district = &data.district;
    if district.code.level() != Level::District {
        out.push(Problem::new("district", format!("code {}", district.code), "is not a 6-digit district code"));
    }
    let scheme = CodeScheme::new(district.grid_width);
    if scheme.is_none() {
        out.push(Problem::new(
            "district",
            format!("code {}", district.code),
            format!("grid_width is {}; it must be 2 or 3", district.grid_width),
        ));
    }

    // Current regions by code, for the nesting and foreign-key checks below.
    let current = |regions: &[Region]| -> HashSet<Code> {
        let unread = unread.codes.iter().cloned();
        regions.iter().filter(|r| r.valid_to.is_none()).map(|r| r.code.clone()).chain(unread).collect()
    };
    let subdistricts = current(&data.subdistricts);
    let communities = current(&data.communities);
    let grids = current(&data.grids);

    let levels = [
        (LayerKind::Subdistricts, Level::Subdistrict, &data.subdistricts, None),
        (LayerKind::Communities, Level::Community, &data.communities, Some(&subdistricts)),
        (LayerKind::Grids, Level::Grid, &data.grids, Some(&communities)),
    ];
    for (kind, level, regions, parents) in levels {
        check_regions(&mut out, data, kind.name(), level, regions, parents, scheme);
    }

    let layer = LayerKind::Compounds.name();
    duplicates(&mut out, layer, data.compounds.iter().map(|c| c.id), id_label);
    for c in &data.compounds {
        if !communities.contains(&c.community) {
            out.push(Problem::new(
                layer,
                id_label(&c.id),
                format!("community {} does not exist (no current community has that code)", c.community),
            ));
        }
        check_geometry(&mut out, layer, id_label(&c.id), &Geometry::Polygon(c.geometry.clone()));
    }
    let compounds: HashSet<u32> = data.compounds.iter().map(|c| c.id).collect();
    let compound_exists = |id: u32| compounds.contains(&id) || unread.has_id(LayerKind::Compounds, id);

    let layer = LayerKind::AccessPoints.name();
    duplicates(&mut out, layer, data.access_points.iter().map(|a| a.id), id_label);
    for a in &data.access_points {
        if !compound_exists(a.compound_id) {
            out.push(Problem::new(layer, id_label(&a.id), format!("compound {} does not exist", a.compound_id)));
        }
        check_geometry(&mut out, layer, id_label(&a.id), &Geometry::Point(a.location));
    }

    let layer = LayerKind::Buildings.name();
    duplicates(&mut out, layer, data.buildings.iter().map(|b| b.id), id_label);
    for b in &data.buildings {
        if let Some(c) = b.compound_id.filter(|&c| !compound_exists(c)) {
            out.push(Problem::new(layer, id_label(&b.id), format!("compound {c} does not exist")));
        }
        check_geometry(&mut out, layer, id_label(&b.id), &Geometry::Polygon(b.geometry.clone()));
    }
    let buildings: HashSet<u32> = data.buildings.iter().map(|b| b.id).collect();

    let layer = LayerKind::Entrances.name();
    duplicates(&mut out, layer, data.entrances.iter().map(|e| e.id), id_label);
    for e in &data.entrances {
        if !buildings.contains(&e.building_id) && !unread.has_id(LayerKind::Buildings, e.building_id) {
            out.push(Problem::new(layer, id_label(&e.id), format!("building {} does not exist", e.building_id)));
        }
        check_geometry(&mut out, layer, id_label(&e.id), &Geometry::Point(e.location));
    }

    let layer = LayerKind::Responders.name();
    duplicates(&mut out, layer, data.responders.iter().map(|r| r.id), id_label);
    for r in &data.responders {
        check_geometry(&mut out, layer, id_label(&r.id), &Geometry::Point(r.location));
    }

    let staff_label = |id: &u32| format!("staff {id}");
    duplicates(&mut out, "staff", data.staff.iter().map(|s| s.id), staff_label);
    for s in &data.staff {
        if s.grids.is_empty() {
            out.push(Problem::new("staff", staff_label(&s.id), "serves no grid; list at least one"));
        }
        let mut listed = HashSet::new();
        for g in &s.grids {
            if !grids.contains(g) {
                out.push(Problem::new("staff", staff_label(&s.id), format!("grid {g} does not exist")));
            } else if !listed.insert(g) {
                out.push(Problem::new("staff", staff_label(&s.id), format!("grid {g} is listed twice")));
            }
        }
    }
    out
}

/// The label of a feature with a numeric id.
fn id_label(id: &u32) -> String {
    format!("feature {id}")
}

/// The label of a region version: its code, and the version when it is not the current one.
fn region_label(r: &Region) -> String {
    match r.valid_to {
        None => format!("feature {:?}", r.code.as_str()),
        Some(_) => format!("feature {:?} (version {})", r.code.as_str(), r.version),
    }
}

/// Reports every key that appears more than once, once, with how many times.
fn duplicates<K: Eq + Hash + Clone>(
    out: &mut Vec<Problem>,
    layer: &str,
    keys: impl Iterator<Item = K>,
    label: impl Fn(&K) -> String,
) {
    let mut counts: HashMap<K, usize> = HashMap::new();
    let mut order = Vec::new();
    for k in keys {
        let n = counts.entry(k.clone()).or_insert(0);
        *n += 1;
        if *n == 2 {
            order.push(k);
        }
    }
    for k in order {
        let n = counts.get(&k).copied().unwrap_or_default();
        out.push(Problem::new(layer, label(&k), format!("appears {n} times; ids and codes must be unique")));
    }
}

/// The rules of one region layer.
fn check_regions(
    out: &mut Vec<Problem>,
    data: &Dataset,
    layer: &str,
    level: Level,
    regions: &[Region],
    parents: Option<&HashSet<Code>>,
    scheme: Option<CodeScheme>,
) {
    let district = &data.district.code;
    duplicates(out, layer, regions.iter().filter(|r| r.valid_to.is_none()).map(|r| r.code.clone()), |c| {
        format!("feature {:?}", c.as_str())
    });
    // Two versions with one number; two current versions were reported just above.
    let history: HashSet<&Code> = regions.iter().filter(|r| r.valid_to.is_some()).map(|r| &r.code).collect();
    let versions = regions.iter().filter(|r| history.contains(&r.code)).map(|r| (r.code.clone(), r.version));
    duplicates(out, layer, versions, |(c, v)| format!("feature {:?} (version {v})", c.as_str()));
    for r in regions {
        let label = region_label(r);
        let mut problem = |message: String| out.push(Problem::new(layer, label.clone(), message));
        if r.level() != level {
            problem(format!("code {} is a {} code, but this layer holds {level} codes", r.code, r.level()));
            continue;
        }
        if !r.code.is_within(district) {
            problem(format!("code {} is outside district {district}", r.code));
        } else if let Some(scheme) =
            scheme.filter(|s| level == Level::Grid && r.code.as_str().len() != s.grid_code_len())
        {
            problem(format!(
                "grid codes of this district have {} digits (grid_width {}), this one has {}",
                scheme.grid_code_len(),
                scheme.grid_width(),
                r.code.as_str().len()
            ));
        }
        if let (Some(parents), Some(parent), None) = (parents, r.parent(), r.valid_to) {
            if r.code.is_within(district) && !parents.contains(&parent) {
                let parent_level = level.parent().map_or("parent", Level::as_str);
                problem(format!(
                    "its {parent_level} {parent} does not exist (no current {parent_level} has that code)"
                ));
            }
        }
        if r.version == 0 {
            problem("version is 0; versions start at 1".into());
        }
        if let Some(to) = r.valid_to.filter(|to| *to <= r.valid_from) {
            problem(format!("valid_to {to} is not after valid_from {}", r.valid_from));
        }
        check_geometry(out, layer, label, &Geometry::MultiPolygon(r.geometry.clone()));
    }
}

/// Not empty, every coordinate a finite lon/lat in range, and valid.
fn check_geometry(out: &mut Vec<Problem>, layer: &str, label: String, geometry: &Geometry<f64>) {
    if geometry.coords_count() == 0 {
        out.push(Problem::new(layer, label, "the geometry is empty"));
        return;
    }
    if let Some(message) = geometry.coords_iter().find_map(|c| check_lon_lat(c.x, c.y).err()) {
        out.push(Problem::new(layer, label, format!("coordinates: {message}")));
        return;
    }
    let errors = geometry.validation_errors();
    if !errors.is_empty() {
        let mut text: Vec<String> = errors.iter().take(MAX_GEOMETRY_ERRORS).map(ToString::to_string).collect();
        if errors.len() > MAX_GEOMETRY_ERRORS {
            text.push(format!("and {} more", errors.len() - MAX_GEOMETRY_ERRORS));
        }
        out.push(Problem::new(layer, label, format!("invalid geometry: {}", text.join("; "))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GenParams};
    use geo::{LineString, MultiPolygon, Point, Polygon};

    fn small() -> Dataset {
        generate(&GenParams { seed: 5, grids: Some(12) }, &|_, _, _| {})
    }

    fn messages(problems: &[Problem]) -> String {
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn generated_data_is_valid() {
        let problems = validate(&small());
        assert!(problems.is_empty(), "the generator makes valid data:\n{}", messages(&problems));
    }

    #[test]
    fn every_problem_is_reported_with_its_feature() {
        let mut d = small();
        // A bow-tie: its two edges cross, which no valid ring may do.
        let bow_tie = Polygon::new(
            LineString::from(vec![(84.80, 45.50), (84.81, 45.51), (84.81, 45.50), (84.80, 45.51), (84.80, 45.50)]),
            vec![],
        );
        d.grids[0].geometry = MultiPolygon(vec![bow_tie]);
        let dup = d.grids[1].clone();
        d.grids.push(dup.clone());
        // A grid under a community that does not exist (community 399 of subdistrict 001).
        let mut orphan = d.grids[2].clone();
        orphan.code = Code::parse("65020300139901").expect("a well-formed code");
        d.grids.push(orphan);
        d.entrances[0].building_id = 999_999;
        d.access_points[0].location = Point::new(84.8, 95.0);
        d.staff[0].grids.push(Code::parse("65020300139999").expect("a well-formed code"));

        let problems = validate(&d);
        let text = messages(&problems);
        let has = |needle: &str| problems.iter().any(|p| p.to_string().contains(needle));
        assert!(has(&format!("grids: feature {:?}: invalid geometry", d.grids[0].code.as_str())), "{text}");
        assert!(has("has a self-intersection"), "geo says what is wrong: {text}");
        assert!(has(&format!("grids: feature {:?}: appears 2 times", dup.code.as_str())), "{text}");
        assert!(has("feature \"65020300139901\": its community 650203001399 does not exist"), "{text}");
        assert!(has(&format!("entrances: feature {}: building 999999 does not exist", d.entrances[0].id)), "{text}");
        assert!(has(&format!("access_points: feature {}: coordinates", d.access_points[0].id)), "{text}");
        assert!(has(&format!("staff: staff {}: grid 65020300139999 does not exist", d.staff[0].id)), "{text}");
        assert_eq!(problems.len(), 6, "exactly the six planted problems, each once:\n{text}");
    }

    #[test]
    fn references_to_unreadable_features_are_not_reported_again() {
        let mut d = small();
        let gone = d.grids.remove(0);
        let building = d.buildings.remove(0);
        assert!(!validate(&d).is_empty(), "staff and entrances now point at nothing");
        let mut unread = Unread::default();
        unread.codes.insert(gone.code);
        unread.ids.entry(LayerKind::Buildings).or_default().insert(building.id);
        let problems = validate_except(&d, &unread);
        assert!(problems.is_empty(), "their own problems were reported when reading:\n{}", messages(&problems));
    }

    #[test]
    fn grid_codes_must_have_the_district_width() {
        let mut d = small();
        d.district.grid_width = 3;
        let problems = validate(&d);
        assert_eq!(problems.len(), d.grids.len(), "every 14-digit grid code is now too short");
        assert!(problems[0].message.contains("have 15 digits"), "{}", problems[0]);
    }
}
