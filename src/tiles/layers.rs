//! What goes into a tile: the source layers, the zooms they appear at, their properties, and
//! [`build_tile`], which cuts one tile from a snapshot.
//!
//! One source layer per spatial layer of the dataset, named as the dataset names them, plus
//! `region_labels` (one point per subdistrict, community and grid, so that a region split
//! across tiles is labelled once). Properties are what the map draws and shows on a card:
//! codes, names and households for regions; kind, hours and who may pass for gates; kind, name
//! and mode for responders. **No staff data is ever written to a tile**: staff have no
//! geometry and are not read here.
//!
//! Every property value comes from one function per layer ([`feature_props`] and friends), used
//! both to write tiles and to fingerprint features (see [`super::prepared`]), so a change to
//! anything a tile shows changes the fingerprint and invalidates the tile.

use geo::Rect;

use super::clip;
use super::mercator::{TileId, EXTENT};
use super::mvt::{GeomType, GeometryEncoder, LayerWriter, PropValue, TileWriter};
use super::prepared::Prepared;
use crate::index::Snapshot;
use crate::model::{LayerKind, Level, Region};

/// From this zoom on, polygons are written at full detail; below it they are simplified.
pub const FULL_DETAIL_ZOOM: u8 = 14;
/// Douglas–Peucker tolerance below [`FULL_DETAIL_ZOOM`], tile units: half a pixel of a
/// 512-px tile, invisible, and well under the one-pixel accuracy the tests demand.
pub const SIMPLIFY_TOLERANCE: f64 = 4.0;
/// Most opening intervals written per gate (`opens_i`/`closes_i`); intervals that wrap
/// midnight count twice. Beyond this the `hours` text is still right, the numbers are cut.
pub const MAX_GATE_INTERVALS: usize = 6;

/// The name of the label layer.
pub const LABEL_LAYER: &str = "region_labels";

/// A source layer of the tiles.
#[derive(Debug, Clone, Copy)]
pub struct TileLayer {
    /// The dataset layer it is cut from (`None` for [`LABEL_LAYER`]).
    pub kind: Option<LayerKind>,
    pub name: &'static str,
    /// The first zoom whose tiles hold this layer.
    pub min_zoom: u8,
    /// Property name → MVT type (`String`, `Number`, `Boolean`) and meaning, for TileJSON.
    pub fields: &'static [(&'static str, &'static str, &'static str)],
    pub description: &'static str,
}

const REGION_FIELDS: &[(&str, &str, &str)] = &[
    ("code", "String", "administrative code (GB/T 30428.1)"),
    ("name", "String", "name"),
    ("parent", "String", "code of the enclosing region"),
    ("households", "Number", "households living in the region"),
    ("population", "Number", "residents"),
];

/// The source layers, in drawing order (the order they appear in a tile).
pub const TILE_LAYERS: [TileLayer; 9] = [
    TileLayer {
        kind: Some(LayerKind::Subdistricts),
        name: "subdistricts",
        min_zoom: 0,
        fields: REGION_FIELDS,
        description: "Subdistricts (街道/乡镇)",
    },
    TileLayer {
        kind: Some(LayerKind::Communities),
        name: "communities",
        // A community is about 700 m across: 26 px at z11. At z10 a 100,000-grid city put
        // over a thousand of them (630 KB) in one tile.
        min_zoom: 11,
        fields: REGION_FIELDS,
        description: "Communities (社区/村)",
    },
    TileLayer {
        kind: Some(LayerKind::Grids),
        name: "grids",
        // A grid is about 300 m across: 20 px at z12. Below that a 100,000-grid city would put
        // thousands of unreadable grids (2 MB) in one tile.
        min_zoom: 12,
        fields: &[
            ("code", "String", "14- or 15-digit grid code"),
            ("name", "String", "name"),
            ("parent", "String", "community code"),
            ("households", "Number", "households living in the grid"),
            ("population", "Number", "residents"),
            ("color", "Number", "0-6: a fill colour index that differs between most neighbouring grids"),
        ],
        description: "Basic grids (基础网格)",
    },
    TileLayer {
        kind: Some(LayerKind::Compounds),
        name: "compounds",
        min_zoom: 13,
        fields: &[
            ("id", "Number", "compound id"),
            ("name", "String", "name"),
            ("community", "String", "community code"),
            ("gated", "Boolean", "walled, entered only through its gates"),
        ],
        description: "Gated compounds and open blocks (小区/院落)",
    },
    TileLayer {
        kind: Some(LayerKind::Buildings),
        name: "buildings",
        min_zoom: 14,
        fields: &[
            ("id", "Number", "building id"),
            ("address", "String", "standard address (一标三实)"),
            ("floors", "Number", "storeys"),
            ("households", "Number", "households"),
        ],
        description: "Buildings",
    },
    TileLayer {
        kind: Some(LayerKind::AccessPoints),
        name: "access_points",
        min_zoom: 14,
        fields: &[
            ("id", "Number", "gate id"),
            ("name", "String", "name, e.g. 东门"),
            ("compound_id", "Number", "the compound whose wall it is in"),
            ("kind", "String", "pedestrian, vehicle or both"),
            ("passes", "String", "who may pass, comma-separated: public, residents, staff, police"),
            ("hours", "String", "opening hours as written: 24h, closed or HH:MM-HH:MM,..."),
            ("has_device", "Boolean", "has an access-control device"),
            ("opens_0", "Number", "start of opening interval 0, minutes after local midnight (also opens_1, ...)"),
            ("closes_0", "Number", "end (exclusive) of opening interval 0, minutes (also closes_1, ...)"),
        ],
        description: "Access-control points (门禁): gates in compound walls",
    },
    TileLayer {
        kind: Some(LayerKind::Entrances),
        name: "entrances",
        min_zoom: 16,
        fields: &[
            ("id", "Number", "entrance id"),
            ("building_id", "Number", "building"),
            ("unit", "Number", "unit number (单元)"),
        ],
        description: "Building entrances (单元门)",
    },
    TileLayer {
        kind: Some(LayerKind::Responders),
        name: "responders",
        // One every few hundred metres: at z10 a 100,000-grid city put 2,000 in a tile.
        min_zoom: 11,
        fields: &[
            ("id", "Number", "responder id"),
            ("kind", "String", "joint_defence, police_post, service_station or patrol"),
            ("name", "String", "name"),
            ("mode", "String", "travel mode: walk, run, ebike, car"),
            ("headcount", "Number", "people"),
            ("duty", "String", "duty hours as written"),
        ],
        description: "Staged response forces",
    },
    TileLayer {
        kind: None,
        name: LABEL_LAYER,
        min_zoom: 0,
        fields: &[
            ("level", "String", "subdistrict, community or grid"),
            ("code", "String", "region code"),
            ("name", "String", "region name"),
        ],
        description: "One label point inside each region (subdistricts from z0, communities from z11, grids from z13)",
    },
];

/// The first zoom at which labels of a level appear. Never below the region layer's own
/// [`min_zoom`]: a region's changes invalidate tiles from that zoom on.
pub fn label_min_zoom(level: Level) -> u8 {
    match level {
        Level::District | Level::Subdistrict => 0,
        Level::Community => 11,
        Level::Grid => 13,
    }
}

/// The first zoom at which a dataset layer appears in tiles.
pub fn min_zoom(kind: LayerKind) -> u8 {
    TILE_LAYERS.iter().find(|l| l.kind == Some(kind)).map_or(0, |l| l.min_zoom)
}

/// Douglas–Peucker tolerance at zoom `z`, tile units.
pub fn tolerance(z: u8) -> f64 {
    if z < FULL_DETAIL_ZOOM {
        SIMPLIFY_TOLERANCE
    } else {
        0.0
    }
}

type Props = Vec<(&'static str, PropValue)>;

fn s(v: impl Into<String>) -> PropValue {
    PropValue::String(v.into())
}

fn u(v: impl Into<u64>) -> PropValue {
    PropValue::Uint(v.into())
}

/// The tile properties of region `i` of `kind` (a region layer).
pub fn region_props(r: &Region, colour: Option<u8>) -> Props {
    let mut p = vec![
        ("code", s(r.code.as_str())),
        ("name", s(r.name.as_str())),
        ("parent", s(r.code.parent().map_or(String::new(), |c| c.to_string()))),
        ("households", u(r.households)),
        ("population", u(r.population)),
    ];
    if let Some(c) = colour {
        p.push(("color", u(c)));
    }
    p
}

/// The tile id of feature `i` of `kind`: the numeric code for regions, the id otherwise.
pub fn feature_id(snap: &Snapshot, kind: LayerKind, i: usize) -> u64 {
    let d = &snap.data;
    let code = |r: &Region| r.code.as_str().parse::<u64>().unwrap_or(0);
    match kind {
        LayerKind::Subdistricts => code(&d.subdistricts[i]),
        LayerKind::Communities => code(&d.communities[i]),
        LayerKind::Grids => code(&d.grids[i]),
        LayerKind::Compounds => d.compounds[i].id.into(),
        LayerKind::AccessPoints => d.access_points[i].id.into(),
        LayerKind::Buildings => d.buildings[i].id.into(),
        LayerKind::Entrances => d.entrances[i].id.into(),
        LayerKind::Responders => d.responders[i].id.into(),
    }
}

/// The tile properties of feature `i` of `kind`, given the snapshot's prepared extras.
pub fn feature_props(snap: &Snapshot, prep: &Prepared, kind: LayerKind, i: usize) -> Props {
    let d = &snap.data;
    match kind {
        LayerKind::Subdistricts => region_props(&d.subdistricts[i], None),
        LayerKind::Communities => region_props(&d.communities[i], None),
        LayerKind::Grids => region_props(&d.grids[i], Some(prep.grid_colour(i))),
        LayerKind::Compounds => {
            let c = &d.compounds[i];
            vec![
                ("id", u(c.id)),
                ("name", s(c.name.as_str())),
                ("community", s(c.community.as_str())),
                ("gated", PropValue::Bool(c.gated)),
            ]
        }
        LayerKind::Buildings => {
            let b = &d.buildings[i];
            vec![
                ("id", u(b.id)),
                ("address", s(b.address_text.as_str())),
                ("floors", u(b.floors)),
                ("households", u(b.households)),
            ]
        }
        LayerKind::AccessPoints => {
            let a = &d.access_points[i];
            let passes: Vec<&str> = a
                .passes
                .iter()
                .map(|p| match p {
                    crate::model::Passer::Public => "public",
                    crate::model::Passer::Residents => "residents",
                    crate::model::Passer::Staff => "staff",
                    crate::model::Passer::Police => "police",
                })
                .collect();
            let kind = match a.kind {
                crate::model::GateKind::Pedestrian => "pedestrian",
                crate::model::GateKind::Vehicle => "vehicle",
                crate::model::GateKind::Both => "both",
            };
            let mut p = vec![
                ("id", u(a.id)),
                ("name", s(a.name.as_str())),
                ("compound_id", u(a.compound_id)),
                ("kind", s(kind)),
                ("passes", s(passes.join(","))),
                ("hours", s(a.hours.as_str())),
                ("has_device", PropValue::Bool(a.has_device)),
            ];
            for (k, &(open, close)) in prep.gate_intervals(i).iter().take(MAX_GATE_INTERVALS).enumerate() {
                p.push((OPENS[k], u(open)));
                p.push((CLOSES[k], u(close)));
            }
            p
        }
        LayerKind::Entrances => {
            let e = &d.entrances[i];
            vec![("id", u(e.id)), ("building_id", u(e.building_id)), ("unit", u(e.unit))]
        }
        LayerKind::Responders => {
            let r = &d.responders[i];
            let kind = match r.kind {
                crate::model::ResponderKind::JointDefence => "joint_defence",
                crate::model::ResponderKind::PolicePost => "police_post",
                crate::model::ResponderKind::ServiceStation => "service_station",
                crate::model::ResponderKind::Patrol => "patrol",
            };
            let mode = match r.mode {
                crate::model::TravelMode::Walk => "walk",
                crate::model::TravelMode::Run => "run",
                crate::model::TravelMode::Ebike => "ebike",
                crate::model::TravelMode::Car => "car",
            };
            vec![
                ("id", u(r.id)),
                ("kind", s(kind)),
                ("name", s(r.name.as_str())),
                ("mode", s(mode)),
                ("headcount", u(r.headcount)),
                ("duty", s(r.duty.as_str())),
            ]
        }
    }
}

const OPENS: [&str; MAX_GATE_INTERVALS] = ["opens_0", "opens_1", "opens_2", "opens_3", "opens_4", "opens_5"];
const CLOSES: [&str; MAX_GATE_INTERVALS] = ["closes_0", "closes_1", "closes_2", "closes_3", "closes_4", "closes_5"];

/// Writes feature `i` of `kind` into `enc`; returns whether any geometry fell in the tile.
fn geometry(snap: &Snapshot, kind: LayerKind, i: usize, tile: TileId, enc: &mut GeometryEncoder) -> bool {
    let d = &snap.data;
    let tol = tolerance(tile.z);
    match kind {
        LayerKind::Subdistricts => clip::polygons(tile, &d.subdistricts[i].geometry.0, tol, enc),
        LayerKind::Communities => clip::polygons(tile, &d.communities[i].geometry.0, tol, enc),
        LayerKind::Grids => clip::polygons(tile, &d.grids[i].geometry.0, tol, enc),
        LayerKind::Compounds => clip::polygons(tile, std::slice::from_ref(&d.compounds[i].geometry), tol, enc),
        LayerKind::Buildings => clip::polygons(tile, std::slice::from_ref(&d.buildings[i].geometry), tol, enc),
        LayerKind::AccessPoints => clip::point(tile, d.access_points[i].location, enc),
        LayerKind::Entrances => clip::point(tile, d.entrances[i].location, enc),
        LayerKind::Responders => clip::point(tile, d.responders[i].location, enc),
    }
}

fn geom_type(kind: LayerKind) -> GeomType {
    match kind {
        LayerKind::AccessPoints | LayerKind::Entrances | LayerKind::Responders => GeomType::Point,
        _ => GeomType::Polygon,
    }
}

/// Cuts tile `tile` from `snap` (with `prep`, which must come from the same snapshot) and
/// returns the uncompressed MVT bytes (empty for a tile with nothing in it).
pub fn build_tile(snap: &Snapshot, prep: &Prepared, tile: TileId) -> Vec<u8> {
    let bbox = tile.bounds_lonlat(super::mercator::BUFFER);
    let mut out = TileWriter::new();
    let mut labels = LayerWriter::new(LABEL_LAYER, EXTENT);
    for layer in TILE_LAYERS.iter().filter(|l| l.min_zoom <= tile.z) {
        let Some(kind) = layer.kind else { continue };
        let idx = snap.layer_in_bbox(kind, bbox);
        let mut w = LayerWriter::new(layer.name, EXTENT);
        for &i in &idx {
            let mut enc = GeometryEncoder::new();
            if geometry(snap, kind, i, tile, &mut enc) {
                let props = feature_props(snap, prep, kind, i);
                w.add(Some(feature_id(snap, kind, i)), geom_type(kind), &enc.finish(), &props);
            }
        }
        out.add_layer(&w);
        if let Some(level) = kind.region_level().filter(|&l| label_min_zoom(l) <= tile.z) {
            add_labels(snap, prep, level, &idx, tile, &mut labels);
        }
    }
    out.add_layer(&labels);
    out.finish()
}

/// Label points of the regions `idx` of `level` that fall inside the tile itself (not its
/// buffer: MapLibre drops symbols anchored outside their tile, so the buffer would only
/// add bytes).
fn add_labels(snap: &Snapshot, prep: &Prepared, level: Level, idx: &[usize], tile: TileId, w: &mut LayerWriter) {
    let Some(regions) = snap.data.regions(level) else { return };
    let e = f64::from(EXTENT);
    for &i in idx {
        let Some((lon, lat)) = prep.label_point(level, i) else { continue };
        let (x, y) = tile.project(lon, lat);
        if !(0.0..e).contains(&x) || !(0.0..e).contains(&y) {
            continue;
        }
        let r = &regions[i];
        let mut enc = GeometryEncoder::new();
        enc.point((x.round() as i32, y.round() as i32));
        let props = [("level", s(level.as_str())), ("code", s(r.code.as_str())), ("name", s(r.name.as_str()))];
        w.add(r.code.as_str().parse().ok(), GeomType::Point, &enc.finish(), &props);
    }
}

/// The box (EPSG:4326) every region of the snapshot fits in, if it has regions.
pub fn data_bounds(snap: &Snapshot) -> Option<Rect<f64>> {
    use geo::BoundingRect;
    let d = &snap.data;
    d.subdistricts.iter().chain(&d.grids).filter_map(|r| r.geometry.bounding_rect()).reduce(|a, b| {
        Rect::new(
            (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
            (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_never_appear_below_their_layer() {
        // Invalidation of a region's tiles starts at its layer's min zoom; a label shown below
        // it would go stale.
        for kind in [LayerKind::Subdistricts, LayerKind::Communities, LayerKind::Grids] {
            let level = kind.region_level().unwrap();
            assert!(label_min_zoom(level) >= min_zoom(kind), "{kind:?}");
        }
    }

    #[test]
    fn every_dataset_layer_has_one_tile_layer() {
        for kind in LayerKind::ALL {
            assert_eq!(TILE_LAYERS.iter().filter(|l| l.kind == Some(kind)).count(), 1, "{kind:?}");
        }
        assert!(TILE_LAYERS.iter().all(|l| l.min_zoom <= super::super::MAX_ZOOM));
    }
}
