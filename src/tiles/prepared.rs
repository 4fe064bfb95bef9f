//! What the tiles need from a snapshot beyond its data, computed once per snapshot.
//!
//! * **Grid colours**: a fill index per grid so that neighbours (grids sharing a vertex; the
//!   generator and the edit rules make neighbours share vertices exactly) mostly differ. Greedy
//!   in code order, so an edit recolours few grids, and every recoloured grid changes its
//!   fingerprint (below) and so invalidates its own tiles.
//! * **Label points**: one point inside each region where a label reads well.
//! * **Gate intervals**: each gate's opening hours as minute intervals, for the style's
//!   "open now" expression.
//! * **Stamps**: per feature, a key (code or id), a hash of everything a tile shows of it
//!   (geometry, properties, colour, label point) and its bounding box. Comparing the stamps of
//!   two snapshots gives exactly the features that changed, and their boxes are the areas whose
//!   tiles are stale ([`Stamps::changed_areas`]).
//!
//! Coordinates are EPSG:4326 degrees.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use geo::{BoundingRect, Coord, CoordsIter, Polygon, Rect};

use super::layers::{feature_props, min_zoom, TILE_LAYERS};
use crate::index::Snapshot;
use crate::model::{LayerKind, Level, Region, Schedule, TimeOfDay};

/// How many fill colours grids use (the style's palette has as many).
pub const GRID_COLOURS: u8 = 7;

/// Identifies a snapshot: generations increase with every publish, and the build time tells
/// apart two snapshots given the same generation (tests, restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotId {
    pub generation: u64,
    pub built_at: DateTime<Utc>,
}

impl SnapshotId {
    /// The id of `snap`.
    pub fn of(snap: &Snapshot) -> SnapshotId {
        SnapshotId { generation: snap.generation, built_at: snap.built_at }
    }
}

/// One feature's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stamp {
    key: u64,
    hash: u64,
    /// Bounding box, rounded outwards to `f32`: `[min lon, min lat, max lon, max lat]`.
    bbox: [f32; 4],
}

/// An area whose tiles may have changed, from zoom `min_zoom` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangedArea {
    /// EPSG:4326.
    pub bbox: Rect<f64>,
    /// The changed layer does not appear in tiles below this zoom.
    pub min_zoom: u8,
}

/// Fingerprints of every feature of a snapshot, per layer, sorted by key.
#[derive(Debug, Clone, Default)]
pub struct Stamps {
    layers: Vec<(LayerKind, Vec<Stamp>)>,
}

impl Stamps {
    /// Features that differ between `old` and `self` (added, removed or changed), as the boxes
    /// of their old and new geometry. Unchanged features give nothing.
    pub fn changed_areas(&self, old: &Stamps) -> Vec<ChangedArea> {
        let mut out = Vec::new();
        for (kind, new) in &self.layers {
            let old = old.layers.iter().find(|(k, _)| k == kind).map_or(&[][..], |(_, v)| v.as_slice());
            let mz = min_zoom(*kind);
            let mut push = |s: &Stamp| {
                let [a, b, c, d] = s.bbox.map(f64::from);
                out.push(ChangedArea { bbox: Rect::new((a, b), (c, d)), min_zoom: mz });
            };
            // Both sorted by key: one merge pass.
            let (mut i, mut j) = (0, 0);
            while i < old.len() || j < new.len() {
                match (old.get(i), new.get(j)) {
                    (Some(o), Some(n)) if o.key == n.key => {
                        if o.hash != n.hash {
                            push(o);
                            push(n);
                        }
                        i += 1;
                        j += 1;
                    }
                    (Some(o), Some(n)) if o.key < n.key => {
                        push(o);
                        i += 1;
                    }
                    (Some(o), None) => {
                        push(o);
                        i += 1;
                    }
                    (_, Some(n)) => {
                        push(n);
                        j += 1;
                    }
                    (None, None) => break,
                }
            }
        }
        out
    }

    /// Number of features fingerprinted.
    pub fn len(&self) -> usize {
        self.layers.iter().map(|(_, v)| v.len()).sum()
    }

    /// Whether no feature was fingerprinted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The per-snapshot extras of the tiles. Built by [`Prepared::build`]; indexes match the
/// snapshot's layer order.
#[derive(Debug)]
pub struct Prepared {
    pub id: SnapshotId,
    grid_colours: Vec<u8>,
    /// Label points for subdistricts, communities, grids.
    labels: [Vec<Option<(f64, f64)>>; 3],
    /// Per gate, an index into `schedules`.
    gate_schedule: Vec<u32>,
    schedules: Vec<Vec<(u16, u16)>>,
    pub stamps: Stamps,
    /// The box of all regions, EPSG:4326.
    pub bounds: Option<Rect<f64>>,
}

impl Prepared {
    /// Computes everything from `snap`. Linear in the data (a few ms for Karamay).
    pub fn build(snap: &Snapshot) -> Prepared {
        let d = &snap.data;
        let grid_colours = colour_grids(&d.grids);
        let label = |rs: &[Region]| rs.iter().map(|r| label_point(&r.geometry.0)).collect::<Vec<_>>();
        let labels = [label(&d.subdistricts), label(&d.communities), label(&d.grids)];
        let mut by_text: HashMap<&str, u32> = HashMap::new();
        let mut schedules = Vec::new();
        let gate_schedule = d
            .access_points
            .iter()
            .map(|a| {
                *by_text.entry(a.hours.as_str()).or_insert_with(|| {
                    schedules.push(intervals(&a.hours));
                    (schedules.len() - 1) as u32
                })
            })
            .collect();
        let mut prep = Prepared {
            id: SnapshotId::of(snap),
            grid_colours,
            labels,
            gate_schedule,
            schedules,
            stamps: Stamps::default(),
            bounds: super::layers::data_bounds(snap),
        };
        prep.stamps = stamps(snap, &prep);
        prep
    }

    /// The fill colour index of grid `i` (`0..GRID_COLOURS`).
    pub fn grid_colour(&self, i: usize) -> u8 {
        self.grid_colours.get(i).copied().unwrap_or(0)
    }

    /// The label point of region `i` of `level`.
    pub fn label_point(&self, level: Level, i: usize) -> Option<(f64, f64)> {
        let l = match level {
            Level::District => return None,
            Level::Subdistrict => &self.labels[0],
            Level::Community => &self.labels[1],
            Level::Grid => &self.labels[2],
        };
        l.get(i).copied().flatten()
    }

    /// Gate `i`'s opening intervals `[opens, closes)` in minutes after midnight, sorted; none
    /// when always closed, `[(0, 1440)]` when always open.
    pub fn gate_intervals(&self, i: usize) -> &[(u16, u16)] {
        self.gate_schedule.get(i).and_then(|&s| self.schedules.get(s as usize)).map_or(&[], Vec::as_slice)
    }
}

/// A schedule as merged minute intervals, read through its public `is_open` (the intervals
/// themselves are private to the model).
fn intervals(s: &Schedule) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    let mut start = None;
    for m in 0..=1440u16 {
        let open = m < 1440 && TimeOfDay::new(u32::from(m / 60), u32::from(m % 60)).is_some_and(|t| s.is_open(t));
        match (open, start) {
            (true, None) => start = Some(m),
            (false, Some(a)) => {
                out.push((a, m));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Greedy colouring of grids in code order over the shared-vertex graph.
fn colour_grids(grids: &[Region]) -> Vec<u8> {
    let mut by_vertex: HashMap<(u64, u64), Vec<u32>> = HashMap::new();
    for (i, g) in grids.iter().enumerate() {
        for c in g.geometry.coords_iter() {
            let list = by_vertex.entry((c.x.to_bits(), c.y.to_bits())).or_default();
            if list.last() != Some(&(i as u32)) {
                list.push(i as u32);
            }
        }
    }
    let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); grids.len()];
    for list in by_vertex.values() {
        for &a in list {
            for &b in list {
                if a != b {
                    neighbours[a as usize].push(b);
                }
            }
        }
    }
    let mut colour = vec![u8::MAX; grids.len()];
    for i in 0..grids.len() {
        let mut used = [false; GRID_COLOURS as usize];
        for &n in &neighbours[i] {
            if let Some(u) = used.get_mut(colour[n as usize] as usize) {
                *u = true;
            }
        }
        colour[i] = (0..GRID_COLOURS).find(|&c| !used[c as usize]).unwrap_or((i % GRID_COLOURS as usize) as u8);
    }
    colour
}

fn ring_area(ring: &[Coord<f64>]) -> f64 {
    let n = ring.len();
    (0..n).map(|i| ring[i].x * ring[(i + 1) % n].y - ring[(i + 1) % n].x * ring[i].y).sum::<f64>().abs() / 2.0
}

/// The widest horizontal run inside `poly` at latitude `y`, as `(x0, x1)`.
fn widest_run_at(poly: &Polygon<f64>, y: f64) -> Option<(f64, f64)> {
    let mut xs = Vec::new();
    for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
        for w in ring.0.windows(2) {
            let (a, b) = (w[0], w[1]);
            if (a.y > y) != (b.y > y) {
                xs.push(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x));
            }
        }
    }
    xs.sort_by(f64::total_cmp);
    xs.chunks_exact(2).map(|c| (c[0], c[1])).max_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)))
}

/// A point inside a region where a label reads well: on its biggest part, the middle of the
/// widest horizontal run among a few scanlines (the middle one unless another is clearly
/// wider). The same rule the page used before tiles, so labels did not move.
pub fn label_point(parts: &[Polygon<f64>]) -> Option<(f64, f64)> {
    let main = parts.iter().max_by(|a, b| ring_area(&a.exterior().0).total_cmp(&ring_area(&b.exterior().0)))?;
    let b = main.bounding_rect()?;
    let mut best: Option<((f64, f64), f64)> = None;
    for f in [0.5, 0.35, 0.65, 0.2, 0.8] {
        let y = b.min().y + f * b.height();
        if let Some(run) = widest_run_at(main, y) {
            if best.is_none_or(|(r, _)| run.1 - run.0 > 1.25 * (r.1 - r.0)) {
                best = Some((run, y));
            }
        }
    }
    best.map(|(r, y)| ((r.0 + r.1) / 2.0, y)).or_else(|| main.exterior().0.first().map(|c| (c.x, c.y)))
}

/// The next `f32` above `f` (`f32::next_up`, which needs Rust 1.86; the crate supports 1.85).
fn f32_up(f: f32) -> f32 {
    if f.is_nan() || f == f32::INFINITY {
        f
    } else if f == 0.0 {
        f32::from_bits(1)
    } else if f > 0.0 {
        f32::from_bits(f.to_bits() + 1)
    } else {
        f32::from_bits(f.to_bits() - 1)
    }
}

fn bbox_f32(r: Option<Rect<f64>>) -> [f32; 4] {
    // Round outwards so the f32 box always contains the f64 one.
    let down = |v: f64| {
        let f = v as f32;
        if f64::from(f) > v {
            -f32_up(-f)
        } else {
            f
        }
    };
    let up = |v: f64| {
        let f = v as f32;
        if f64::from(f) < v {
            f32_up(f)
        } else {
            f
        }
    };
    r.map_or([0.0; 4], |r| [down(r.min().x), down(r.min().y), up(r.max().x), up(r.max().y)])
}

fn hash_coords<'a>(h: &mut DefaultHasher, coords: impl Iterator<Item = Coord<f64>> + 'a) {
    for c in coords {
        c.x.to_bits().hash(h);
        c.y.to_bits().hash(h);
    }
}

fn stamps(snap: &Snapshot, prep: &Prepared) -> Stamps {
    let d = &snap.data;
    let mut layers = Vec::new();
    for layer in TILE_LAYERS.iter() {
        let Some(kind) = layer.kind else { continue };
        let n = match kind {
            LayerKind::Subdistricts => d.subdistricts.len(),
            LayerKind::Communities => d.communities.len(),
            LayerKind::Grids => d.grids.len(),
            LayerKind::Compounds => d.compounds.len(),
            LayerKind::AccessPoints => d.access_points.len(),
            LayerKind::Buildings => d.buildings.len(),
            LayerKind::Entrances => d.entrances.len(),
            LayerKind::Responders => d.responders.len(),
        };
        let mut v: Vec<Stamp> = (0..n)
            .map(|i| {
                let mut h = DefaultHasher::new();
                for (k, val) in feature_props(snap, prep, kind, i) {
                    k.hash(&mut h);
                    val.hash_into(&mut h);
                }
                let bbox = match kind {
                    LayerKind::Subdistricts | LayerKind::Communities | LayerKind::Grids => {
                        let level = kind.region_level().unwrap_or(Level::Grid);
                        let r = &d.regions(level).unwrap_or_default()[i];
                        hash_coords(&mut h, r.geometry.coords_iter());
                        if let Some((x, y)) = prep.label_point(level, i) {
                            x.to_bits().hash(&mut h);
                            y.to_bits().hash(&mut h);
                        }
                        r.geometry.bounding_rect()
                    }
                    LayerKind::Compounds => {
                        hash_coords(&mut h, d.compounds[i].geometry.coords_iter());
                        d.compounds[i].geometry.bounding_rect()
                    }
                    LayerKind::Buildings => {
                        hash_coords(&mut h, d.buildings[i].geometry.coords_iter());
                        d.buildings[i].geometry.bounding_rect()
                    }
                    LayerKind::AccessPoints => point_box(&mut h, d.access_points[i].location),
                    LayerKind::Entrances => point_box(&mut h, d.entrances[i].location),
                    LayerKind::Responders => point_box(&mut h, d.responders[i].location),
                };
                Stamp { key: super::layers::feature_id(snap, kind, i), hash: h.finish(), bbox: bbox_f32(bbox) }
            })
            .collect();
        v.sort_by_key(|s| s.key);
        layers.push((kind, v));
    }
    Stamps { layers }
}

fn point_box(h: &mut DefaultHasher, p: geo::Point<f64>) -> Option<Rect<f64>> {
    hash_coords(h, std::iter::once(p.0));
    Some(Rect::new(p.0, p.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_boxes_contain_their_f64_boxes() {
        for v in [84.123_456_789_012_f64, -45.987_654_321, 0.0, 1e-12, -1e-12, 179.999_999_99] {
            let [a, b, c, d] = bbox_f32(Some(Rect::new((v, v), (v, v))));
            assert!(f64::from(a) <= v && f64::from(b) <= v && f64::from(c) >= v && f64::from(d) >= v, "{v}");
            assert!(f64::from(c) - f64::from(a) < 2e-5, "{v}: tight");
        }
    }

    #[test]
    fn schedules_become_minute_intervals() {
        let s = |t: &str| intervals(&Schedule::parse(t).unwrap());
        assert_eq!(s("24h"), vec![(0, 1440)]);
        assert_eq!(s("closed"), vec![]);
        assert_eq!(s("07:00-09:00,17:00-20:00"), vec![(420, 540), (1020, 1200)]);
        assert_eq!(s("22:00-06:00"), vec![(0, 360), (1320, 1440)], "wrapping midnight splits in two");
    }

    #[test]
    fn label_point_of_an_l_shape_is_inside_it() {
        use geo::{Contains, Point};
        let l = Polygon::new(
            geo::LineString::from(vec![
                (0.0, 0.0),
                (10.0, 0.0),
                (10.0, 2.0),
                (2.0, 2.0),
                (2.0, 10.0),
                (0.0, 10.0),
                (0.0, 0.0),
            ]),
            vec![],
        );
        let (x, y) = label_point(std::slice::from_ref(&l)).unwrap();
        assert!(l.contains(&Point::new(x, y)), "({x}, {y}) inside the L");
    }
}
