//! The layers of the grid map as domain types, each reading and writing a GeoJSON Feature.
//!
//! All geometries are EPSG:4326 (lon, lat degrees). Property names are English snake_case;
//! names and addresses are Chinese text. Staff have no geometry and travel as plain JSON.

use chrono::{DateTime, Utc};
use geo::{Geometry, MultiPolygon, Point, Polygon};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{Map, Value};

use super::code::{Code, Level};
use super::geojson::{as_multi_polygon, as_point, as_polygon, Feature, GeoJsonError};
use super::schedule::Schedule;

/// Why a feature cannot be read as a layer's type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    #[error("{0}")]
    Geometry(#[from] GeoJsonError),
    #[error("feature has no geometry; every {0} needs one")]
    MissingGeometry(&'static str),
    #[error("properties: {0}")]
    Properties(String),
}

/// The layers gridmap knows, in dependency order (parents before children).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    Subdistricts,
    Communities,
    Grids,
    Compounds,
    AccessPoints,
    Buildings,
    Entrances,
    Responders,
}

impl LayerKind {
    pub const ALL: [LayerKind; 8] = [
        LayerKind::Subdistricts,
        LayerKind::Communities,
        LayerKind::Grids,
        LayerKind::Compounds,
        LayerKind::AccessPoints,
        LayerKind::Buildings,
        LayerKind::Entrances,
        LayerKind::Responders,
    ];

    /// Layer name as used in file names, URLs and table names.
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::Subdistricts => "subdistricts",
            LayerKind::Communities => "communities",
            LayerKind::Grids => "grids",
            LayerKind::Compounds => "compounds",
            LayerKind::AccessPoints => "access_points",
            LayerKind::Buildings => "buildings",
            LayerKind::Entrances => "entrances",
            LayerKind::Responders => "responders",
        }
    }

    pub fn parse(s: &str) -> Option<LayerKind> {
        LayerKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The OGC geometry type name of the layer.
    pub fn geometry_type(self) -> &'static str {
        match self {
            LayerKind::Subdistricts | LayerKind::Communities | LayerKind::Grids => "MULTIPOLYGON",
            LayerKind::Compounds | LayerKind::Buildings => "POLYGON",
            LayerKind::AccessPoints | LayerKind::Entrances | LayerKind::Responders => "POINT",
        }
    }

    /// The region level for the three region layers.
    pub fn region_level(self) -> Option<Level> {
        match self {
            LayerKind::Subdistricts => Some(Level::Subdistrict),
            LayerKind::Communities => Some(Level::Community),
            LayerKind::Grids => Some(Level::Grid),
            _ => None,
        }
    }
}

fn props_to_map<T: Serialize>(t: &T) -> Map<String, Value> {
    match serde_json::to_value(t) {
        Ok(Value::Object(m)) => m,
        _ => unreachable!("layer properties serialise to an object"),
    }
}

fn props_from_map<T: DeserializeOwned>(m: &Map<String, Value>) -> Result<T, FeatureError> {
    T::deserialize(Value::Object(m.clone())).map_err(|e| FeatureError::Properties(e.to_string()))
}

fn geometry(f: &Feature, layer: &'static str) -> Result<Geometry<f64>, FeatureError> {
    f.geometry.clone().ok_or(FeatureError::MissingGeometry(layer))
}

/// A subdistrict, community or grid: a region of the administrative hierarchy.
/// Its level and parent follow from its code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub code: Code,
    pub name: String,
    /// Households living in the region (sum over its buildings).
    pub households: u32,
    pub population: u32,
    /// When this version of the region came into force.
    pub valid_from: DateTime<Utc>,
    /// When it was replaced; `None` for the current version.
    #[serde(default)]
    pub valid_to: Option<DateTime<Utc>>,
    /// 1 for the first version, incremented by every edit.
    pub version: u32,
    /// Boundary, EPSG:4326.
    #[serde(skip, default = "empty_multi_polygon")]
    pub geometry: MultiPolygon<f64>,
}

fn empty_multi_polygon() -> MultiPolygon<f64> {
    MultiPolygon(vec![])
}

fn origin() -> Point<f64> {
    Point::new(0.0, 0.0)
}

fn empty_polygon() -> Polygon<f64> {
    Polygon::new(geo::LineString(vec![]), vec![])
}

impl Region {
    pub fn level(&self) -> Level {
        self.code.level()
    }

    pub fn parent(&self) -> Option<Code> {
        self.code.parent()
    }

    pub fn to_feature(&self) -> Feature {
        let mut properties = props_to_map(self);
        properties.insert("level".into(), self.level().as_str().into());
        properties.insert("parent".into(), self.parent().map_or(Value::Null, |p| p.to_string().into()));
        Feature {
            id: Some(self.code.to_string().into()),
            geometry: Some(Geometry::MultiPolygon(self.geometry.clone())),
            properties,
        }
    }

    pub fn from_feature(f: &Feature) -> Result<Region, FeatureError> {
        let mut r: Region = props_from_map(&f.properties)?;
        r.geometry = as_multi_polygon(geometry(f, "region")?)?;
        Ok(r)
    }
}

/// A gated compound (小区/院落) or an open block: walled when `gated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compound {
    pub id: u32,
    /// The community the compound lies in.
    pub community: Code,
    pub name: String,
    /// Walled, reachable only through its gates.
    pub gated: bool,
    /// Outline (the wall when gated), EPSG:4326.
    #[serde(skip, default = "empty_polygon")]
    pub geometry: Polygon<f64>,
}

impl Compound {
    pub fn to_feature(&self) -> Feature {
        Feature {
            id: Some(self.id.into()),
            geometry: Some(Geometry::Polygon(self.geometry.clone())),
            properties: props_to_map(self),
        }
    }

    pub fn from_feature(f: &Feature) -> Result<Compound, FeatureError> {
        let mut c: Compound = props_from_map(&f.properties)?;
        c.geometry = as_polygon(geometry(f, "compound")?)?;
        Ok(c)
    }
}

/// What can pass a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// 人行门
    Pedestrian,
    /// 车行门
    Vehicle,
    /// 人车混行
    Both,
}

/// Who may pass a gate (or who a responder is, for that purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Passer {
    /// Anyone.
    Public,
    /// Residents of the compound (card or face access).
    Residents,
    /// Community and property staff, volunteers on duty.
    Staff,
    /// Police.
    Police,
}

/// An access-control point (门禁): a gate in a compound wall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessPoint {
    pub id: u32,
    pub compound_id: u32,
    pub name: String,
    pub kind: GateKind,
    /// Who may pass; `public` means anyone.
    pub passes: Vec<Passer>,
    /// Opening hours (see [`Schedule`]); outside them nobody passes.
    pub hours: Schedule,
    /// Has an access-control device (card reader, face recognition).
    pub has_device: bool,
    /// On the compound's wall, EPSG:4326.
    #[serde(skip, default = "origin")]
    pub location: Point<f64>,
}

impl AccessPoint {
    /// Whether `who` may pass (ignoring the hour).
    pub fn admits(&self, who: Passer) -> bool {
        self.passes.contains(&Passer::Public) || self.passes.contains(&who)
    }

    pub fn to_feature(&self) -> Feature {
        Feature {
            id: Some(self.id.into()),
            geometry: Some(Geometry::Point(self.location)),
            properties: props_to_map(self),
        }
    }

    pub fn from_feature(f: &Feature) -> Result<AccessPoint, FeatureError> {
        let mut a: AccessPoint = props_from_map(&f.properties)?;
        a.location = as_point(geometry(f, "access point")?)?;
        Ok(a)
    }
}

/// A standard address (一标三实): road, door number, and within a compound the building number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StandardAddress {
    /// Road name, e.g. 准噶尔路.
    pub road: String,
    /// Door number on that road (门牌号).
    pub door_number: u32,
    /// Compound name when the building stands in one.
    #[serde(default)]
    pub compound: Option<String>,
    /// Building number in the compound (栋/号楼).
    #[serde(default)]
    pub building_number: Option<u32>,
}

impl StandardAddress {
    /// The address as written on a door plate, under `district_prefix`
    /// (e.g. `克拉玛依区准噶尔路58号阳光小区3栋`).
    pub fn format(&self, district_prefix: &str) -> String {
        let mut s = format!("{district_prefix}{}{}号", self.road, self.door_number);
        if let Some(c) = &self.compound {
            s.push_str(c);
        }
        if let Some(b) = self.building_number {
            s.push_str(&format!("{b}栋"));
        }
        s
    }
}

/// A building with its standard address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Building {
    pub id: u32,
    /// The compound it stands in, or `None` for a building along a road.
    #[serde(default)]
    pub compound_id: Option<u32>,
    #[serde(flatten)]
    pub address: StandardAddress,
    /// Full address text, e.g. 克拉玛依区准噶尔路58号阳光小区3栋.
    pub address_text: String,
    pub floors: u32,
    /// Number of units (单元), one entrance each.
    pub units: u32,
    pub households: u32,
    pub population: u32,
    /// Footprint, EPSG:4326.
    #[serde(skip, default = "empty_polygon")]
    pub geometry: Polygon<f64>,
}

impl Building {
    pub fn to_feature(&self) -> Feature {
        Feature {
            id: Some(self.id.into()),
            geometry: Some(Geometry::Polygon(self.geometry.clone())),
            properties: props_to_map(self),
        }
    }

    pub fn from_feature(f: &Feature) -> Result<Building, FeatureError> {
        let mut b: Building = props_from_map(&f.properties)?;
        b.geometry = as_polygon(geometry(f, "building")?)?;
        Ok(b)
    }
}

/// A building entrance (单元门).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entrance {
    pub id: u32,
    pub building_id: u32,
    /// Unit number (单元), from 1.
    pub unit: u32,
    /// The door, EPSG:4326.
    #[serde(skip, default = "origin")]
    pub location: Point<f64>,
}

impl Entrance {
    pub fn to_feature(&self) -> Feature {
        Feature {
            id: Some(self.id.into()),
            geometry: Some(Geometry::Point(self.location)),
            properties: props_to_map(self),
        }
    }

    pub fn from_feature(f: &Feature) -> Result<Entrance, FeatureError> {
        let mut e: Entrance = props_from_map(&f.properties)?;
        e.location = as_point(geometry(f, "entrance")?)?;
        Ok(e)
    }
}

/// The kind of a staged response force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponderKind {
    /// 联防队: volunteer joint-defence team.
    JointDefence,
    /// 警务站: police post.
    PolicePost,
    /// 服务站: community service station.
    ServiceStation,
    /// 巡逻队: patrol.
    Patrol,
}

impl ResponderKind {
    /// Who this responder counts as at a gate.
    pub fn passer(self) -> Passer {
        match self {
            ResponderKind::PolicePost | ResponderKind::Patrol => Passer::Police,
            ResponderKind::JointDefence | ResponderKind::ServiceStation => Passer::Staff,
        }
    }
}

/// How a responder travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TravelMode {
    Walk,
    Run,
    Ebike,
    Car,
}

/// A staged response force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Responder {
    pub id: u32,
    pub kind: ResponderKind,
    pub name: String,
    pub mode: TravelMode,
    pub headcount: u32,
    /// Duty hours (see [`Schedule`]).
    pub duty: Schedule,
    /// Staging point, EPSG:4326.
    #[serde(skip, default = "origin")]
    pub location: Point<f64>,
}

impl Responder {
    pub fn to_feature(&self) -> Feature {
        Feature {
            id: Some(self.id.into()),
            geometry: Some(Geometry::Point(self.location)),
            properties: props_to_map(self),
        }
    }

    pub fn from_feature(f: &Feature) -> Result<Responder, FeatureError> {
        let mut r: Responder = props_from_map(&f.properties)?;
        r.location = as_point(geometry(f, "responder")?)?;
        Ok(r)
    }
}

/// A staff member's role in their grids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// 网格长
    GridLeader,
    /// 网格员
    GridStaff,
}

/// The nine forces grid staff are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Force {
    /// 专职网格员
    CommunityWorker,
    /// 社区民警
    CommunityPolice,
    /// 居民工作队
    ResidentWorkTeam,
    /// 党员志愿者
    PartyVolunteer,
    /// 物业保安
    PropertySecurity,
    /// 楼栋长
    BuildingHead,
    /// 综治干部
    GovernanceCadre,
    /// 城管队员
    UrbanManagement,
    /// 平安志愿者
    SafetyVolunteer,
}

/// A person responsible for one or more grids. `name` and `phone` are personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Staff {
    pub id: u32,
    /// Personal data.
    pub name: String,
    pub role: StaffRole,
    pub force: Force,
    /// Personal data.
    pub phone: String,
    /// The grids this person serves (at least one).
    pub grids: Vec<Code>,
}

/// The district a dataset covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistrictInfo {
    pub code: Code,
    /// e.g. 克拉玛依区
    pub name: String,
    /// e.g. 新疆维吾尔自治区克拉玛依市 (used by the address parser)
    pub prefix: String,
    /// Digits of the grid part of grid codes (2 or 3).
    pub grid_width: u8,
}

/// One layer of a [`Dataset`]: a `Vec` behind an `Arc`, so that cloning a dataset costs nine
/// reference counts instead of copying millions of features. The snapshot after a grid edit
/// (`Snapshot::with_grid_edit`) clones the dataset and changes only the grids and the staff;
/// the buildings, entrances and the rest stay shared with the snapshot before, and dropping the
/// old snapshot does not free them either.
///
/// Reads go through `Deref` to the `Vec`. Writes go through `DerefMut`, which copies the layer
/// first if another dataset still shares it (`Arc::make_mut`), so a write never shows in a clone.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer<T>(std::sync::Arc<Vec<T>>);

impl<T> Layer<T> {
    /// Whether `self` and `other` are the same allocation (shared, not copied).
    pub fn shares(&self, other: &Layer<T>) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: PartialEq> PartialEq<Vec<T>> for Layer<T> {
    fn eq(&self, other: &Vec<T>) -> bool {
        *self.0 == *other
    }
}

impl<T> Default for Layer<T> {
    fn default() -> Self {
        Layer(std::sync::Arc::new(Vec::new()))
    }
}

impl<T> From<Vec<T>> for Layer<T> {
    fn from(v: Vec<T>) -> Self {
        Layer(std::sync::Arc::new(v))
    }
}

impl<T> FromIterator<T> for Layer<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Layer::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<T> std::ops::Deref for Layer<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Clone> std::ops::DerefMut for Layer<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        std::sync::Arc::make_mut(&mut self.0)
    }
}

impl<'a, T> IntoIterator for &'a Layer<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, T: Clone> IntoIterator for &'a mut Layer<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        std::sync::Arc::make_mut(&mut self.0).iter_mut()
    }
}

impl<T: Clone> IntoIterator for Layer<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    /// The features, moved out when nobody else shares the layer, copied otherwise.
    fn into_iter(self) -> Self::IntoIter {
        std::sync::Arc::unwrap_or_clone(self.0).into_iter()
    }
}

/// A whole dataset, every layer, as loaded from or written to a store. Cheap to clone (see
/// [`Layer`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub district: DistrictInfo,
    pub subdistricts: Layer<Region>,
    pub communities: Layer<Region>,
    pub grids: Layer<Region>,
    pub compounds: Layer<Compound>,
    pub access_points: Layer<AccessPoint>,
    pub buildings: Layer<Building>,
    pub entrances: Layer<Entrance>,
    pub responders: Layer<Responder>,
    pub staff: Layer<Staff>,
}

impl Dataset {
    /// An empty dataset for `district`.
    pub fn empty(district: DistrictInfo) -> Self {
        Dataset {
            district,
            subdistricts: Layer::default(),
            communities: Layer::default(),
            grids: Layer::default(),
            compounds: Layer::default(),
            access_points: Layer::default(),
            buildings: Layer::default(),
            entrances: Layer::default(),
            responders: Layer::default(),
            staff: Layer::default(),
        }
    }

    /// The region layer of `level` (the district has no layer: `None`).
    pub fn regions(&self, level: Level) -> Option<&[Region]> {
        match level {
            Level::District => None,
            Level::Subdistrict => Some(&self.subdistricts),
            Level::Community => Some(&self.communities),
            Level::Grid => Some(&self.grids),
        }
    }

    /// The features of one layer, in stored order.
    pub fn features(&self, kind: LayerKind) -> Vec<Feature> {
        match kind {
            LayerKind::Subdistricts => self.subdistricts.iter().map(Region::to_feature).collect(),
            LayerKind::Communities => self.communities.iter().map(Region::to_feature).collect(),
            LayerKind::Grids => self.grids.iter().map(Region::to_feature).collect(),
            LayerKind::Compounds => self.compounds.iter().map(Compound::to_feature).collect(),
            LayerKind::AccessPoints => self.access_points.iter().map(AccessPoint::to_feature).collect(),
            LayerKind::Buildings => self.buildings.iter().map(Building::to_feature).collect(),
            LayerKind::Entrances => self.entrances.iter().map(Entrance::to_feature).collect(),
            LayerKind::Responders => self.responders.iter().map(Responder::to_feature).collect(),
        }
    }

    /// Replaces one layer with `features`. Every feature is read; all problems are returned
    /// together as `(feature label, message)` and the dataset is unchanged if there are any.
    pub fn set_features(&mut self, kind: LayerKind, features: &[Feature]) -> Result<(), Vec<(String, String)>> {
        fn read<T>(
            features: &[Feature],
            f: impl Fn(&Feature) -> Result<T, FeatureError>,
        ) -> Result<Vec<T>, Vec<(String, String)>> {
            let mut out = Vec::with_capacity(features.len());
            let mut errors = Vec::new();
            for (i, feat) in features.iter().enumerate() {
                match f(feat) {
                    Ok(t) => out.push(t),
                    Err(e) => errors.push((feat.label(i), e.to_string())),
                }
            }
            if errors.is_empty() {
                Ok(out)
            } else {
                Err(errors)
            }
        }
        let level_check = |level: Level| {
            move |f: &Feature| {
                let r = Region::from_feature(f)?;
                if r.level() != level {
                    return Err(FeatureError::Properties(format!(
                        "code {} is a {} code, but this layer holds {} codes",
                        r.code,
                        r.level(),
                        level
                    )));
                }
                Ok(r)
            }
        };
        match kind {
            LayerKind::Subdistricts => self.subdistricts = read(features, level_check(Level::Subdistrict))?.into(),
            LayerKind::Communities => self.communities = read(features, level_check(Level::Community))?.into(),
            LayerKind::Grids => self.grids = read(features, level_check(Level::Grid))?.into(),
            LayerKind::Compounds => self.compounds = read(features, Compound::from_feature)?.into(),
            LayerKind::AccessPoints => self.access_points = read(features, AccessPoint::from_feature)?.into(),
            LayerKind::Buildings => self.buildings = read(features, Building::from_feature)?.into(),
            LayerKind::Entrances => self.entrances = read(features, Entrance::from_feature)?.into(),
            LayerKind::Responders => self.responders = read(features, Responder::from_feature)?.into(),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_layer_is_shared_by_clones_and_copied_on_write() {
        let a: Layer<u32> = vec![1, 2, 3].into();
        let mut b = a.clone();
        assert!(b.shares(&a), "a clone shares the features");
        b.push(4);
        assert!(!b.shares(&a), "a write copies first");
        assert_eq!(a, vec![1, 2, 3], "and never shows in the clone it came from");
        assert_eq!(b, vec![1, 2, 3, 4]);
        let mut only = b;
        let before = only.as_ptr();
        only[0] = 9;
        assert_eq!(only.as_ptr(), before, "a layer nobody shares is written in place");
        assert_eq!(only.into_iter().collect::<Vec<_>>(), vec![9, 2, 3, 4]);
    }

    #[test]
    fn region_feature_round_trip_carries_level_and_parent() {
        let r = Region {
            code: Code::parse("65020300100102").unwrap(),
            name: "前进社区第二网格".into(),
            households: 210,
            population: 548,
            valid_from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            valid_to: None,
            version: 1,
            geometry: MultiPolygon(vec![Polygon::new(
                geo::LineString::from(vec![(84.0, 45.0), (84.1, 45.0), (84.1, 45.1), (84.0, 45.0)]),
                vec![],
            )]),
        };
        let f = r.to_feature();
        assert_eq!(f.properties["level"], "grid");
        assert_eq!(f.properties["parent"], "650203001001");
        let back = Region::from_feature(&Feature::from_json(&f.to_json()).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn gate_round_trip_and_admission() {
        let g = AccessPoint {
            id: 7,
            compound_id: 3,
            name: "南门".into(),
            kind: GateKind::Pedestrian,
            passes: vec![Passer::Residents, Passer::Police],
            hours: Schedule::parse("06:00-23:00").unwrap(),
            has_device: true,
            location: Point::new(84.87, 45.6),
        };
        let back = AccessPoint::from_feature(&g.to_feature()).unwrap();
        assert_eq!(back, g);
        assert!(g.admits(Passer::Police) && !g.admits(Passer::Staff));
    }

    #[test]
    fn bad_properties_are_reported_per_feature() {
        let mut ds = Dataset::empty(DistrictInfo {
            code: Code::parse("650203").unwrap(),
            name: "克拉玛依区".into(),
            prefix: String::new(),
            grid_width: 2,
        });
        let good = Entrance { id: 1, building_id: 1, unit: 1, location: Point::new(84.0, 45.0) }.to_feature();
        let mut bad = good.clone();
        bad.properties.remove("unit");
        bad.id = Some(2.into());
        let errors = ds.set_features(LayerKind::Entrances, &[good, bad]).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "feature 2");
        assert!(errors[0].1.contains("unit"), "{}", errors[0].1);
        assert!(ds.entrances.is_empty(), "nothing is written when a feature is bad");
    }
}
