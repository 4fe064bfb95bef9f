//! The in-memory snapshot that answers every read.
//!
//! A [`Snapshot`] holds one [`Dataset`] and the R-trees over every layer, built once and never
//! changed. [`Live`] publishes the current snapshot behind an `ArcSwap`: readers take an `Arc`
//! and keep a consistent view for as long as they hold it; a change builds a whole new snapshot
//! (on a blocking thread) and swaps it in, so nobody ever sees a half-applied edit.
//!
//! Coordinates in this module are EPSG:4326 degrees unless a name says `_m` (local metres).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use geo::{BoundingRect, Intersects, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::model::{Code, Dataset, LayerKind, LocalProjection, Region, Staff};

pub mod history;
pub mod locate;
pub mod pip;
pub mod versions;

pub use history::History;
pub use locate::GridLocator;

/// Why a dataset cannot be indexed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{layer}: code {code} appears more than once")]
    DuplicateCode { layer: &'static str, code: String },
    #[error("{layer}: id {id} appears more than once")]
    DuplicateId { layer: &'static str, id: u32 },
    #[error("the index build task failed: {0}")]
    Task(String),
}

type RectEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;
type PointEntry = GeomWithData<[f64; 2], u32>;

/// Where a point lies: indexes into the snapshot's region layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub grid: usize,
    /// `None` when the grid's community is missing from the data.
    pub community: Option<usize>,
    pub subdistrict: Option<usize>,
}

/// An immutable, fully indexed view of one dataset.
pub struct Snapshot {
    /// The data, with regions sorted by code and features by id.
    pub data: Dataset,
    /// Increases by one with every published snapshot.
    pub generation: u64,
    /// False for the first snapshot of a staged start-up, which holds only the regions and
    /// the staff (`Store::load_regions`): it answers `locate` and region lookups while the
    /// other layers load; routes that need them answer 503 until a complete one is published.
    pub complete: bool,
    /// The number of the last store change this snapshot includes, for stores that number
    /// their changes (see `crate::sync`); `None` otherwise.
    pub change_seq: Option<i64>,
    /// Ended grid versions, for as-of reads (empty unless set with [`Snapshot::with_history`]).
    history: History,
    /// Every grid code current or in `history`: codes never to be given out again. Shared with
    /// the snapshot before when an edit gives out no new code.
    used_grid_codes: Arc<BTreeSet<Code>>,
    pub built_at: DateTime<Utc>,
    /// Local metric projection centred on the data.
    pub projection: LocalProjection,
    grids: GridLocator,
    /// For each grid, the positions of its community and subdistrict (precomputed so that
    /// `locate` allocates nothing).
    grid_parents: Vec<(Option<usize>, Option<usize>)>,
    /// Positions in `data.staff` of the people serving each grid code. Shared with the
    /// snapshot before when an edit changes no staff.
    staff_by_grid: Arc<HashMap<Code, Vec<usize>>>,
    // The parts below do not depend on grids or staff, so the snapshot after a grid edit shares
    // them with the one before (`Arc`), see `versions::with_grid_edit`.
    region_trees: Arc<[RTree<RectEntry>; 2]>,
    compounds: Arc<RTree<RectEntry>>,
    buildings: Arc<RTree<RectEntry>>,
    access_points: Arc<RTree<PointEntry>>,
    entrances: Arc<RTree<PointEntry>>,
    responders: Arc<RTree<PointEntry>>,
    /// The address gazetteer (geocode and reverse). Built from addresses, buildings and region
    /// names, never from grid geometry.
    pub gazetteer: Arc<crate::address::Gazetteer>,
    /// The travel network (response and coverage). Uses grids only for the extent of its spatial
    /// hash, which a grid edit cannot change (grids stay inside their communities).
    pub reach: Arc<crate::reach::ReachIndex>,
}

fn rect_entries<'a, T: 'a, G: BoundingRect<f64> + 'a>(
    items: impl Iterator<Item = &'a T>,
    geom: impl Fn(&T) -> &G,
) -> RTree<RectEntry>
where
    G::Output: Into<Option<Rect<f64>>>,
{
    RTree::bulk_load(
        items
            .enumerate()
            .filter_map(|(i, t)| {
                let r: Option<Rect<f64>> = geom(t).bounding_rect().into();
                r.map(|r| GeomWithData::new(Rectangle::from_corners(r.min().into(), r.max().into()), i as u32))
            })
            .collect(),
    )
}

fn point_entries<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    p: impl Fn(&T) -> geo::Point<f64>,
) -> RTree<PointEntry> {
    RTree::bulk_load(items.enumerate().map(|(i, t)| GeomWithData::new([p(t).x(), p(t).y()], i as u32)).collect())
}

fn check_unique_codes(layer: &'static str, regions: &[Region]) -> Result<(), IndexError> {
    for w in regions.windows(2) {
        if w[0].code == w[1].code {
            return Err(IndexError::DuplicateCode { layer, code: w[0].code.to_string() });
        }
    }
    Ok(())
}

fn check_unique_ids(layer: &'static str, ids: impl Iterator<Item = u32>) -> Result<(), IndexError> {
    let mut prev = None;
    for id in ids {
        if prev == Some(id) {
            return Err(IndexError::DuplicateId { layer, id });
        }
        prev = Some(id);
    }
    Ok(())
}

/// The R-trees of a snapshot other than the grid locator: shared between a snapshot and the
/// next one after a grid edit.
struct Trees {
    region_trees: Arc<[RTree<RectEntry>; 2]>,
    compounds: Arc<RTree<RectEntry>>,
    buildings: Arc<RTree<RectEntry>>,
    access_points: Arc<RTree<PointEntry>>,
    entrances: Arc<RTree<PointEntry>>,
    responders: Arc<RTree<PointEntry>>,
}

impl Trees {
    fn build(data: &Dataset) -> Trees {
        Trees {
            region_trees: Arc::new([
                rect_entries(data.subdistricts.iter(), |r: &Region| &r.geometry),
                rect_entries(data.communities.iter(), |r: &Region| &r.geometry),
            ]),
            compounds: Arc::new(rect_entries(data.compounds.iter(), |c: &crate::model::Compound| &c.geometry)),
            buildings: Arc::new(rect_entries(data.buildings.iter(), |c: &crate::model::Building| &c.geometry)),
            access_points: Arc::new(point_entries(data.access_points.iter(), |a| a.location)),
            entrances: Arc::new(point_entries(data.entrances.iter(), |a| a.location)),
            responders: Arc::new(point_entries(data.responders.iter(), |a| a.location)),
        }
    }
}

/// The parts of a snapshot that depend on the grids or the staff: rebuilt after a grid edit.
///
/// Region lookups by code need no table of their own: every region layer is sorted by code, so
/// a binary search finds a region, and a region's children (whose codes start with its own)
/// are one run of the layer below.
struct GridParts {
    grids: GridLocator,
    grid_parents: Vec<(Option<usize>, Option<usize>)>,
    staff_by_grid: Arc<HashMap<Code, Vec<usize>>>,
}

impl GridParts {
    /// From `data` with regions sorted by code and staff by id.
    fn build(data: &Dataset) -> GridParts {
        let grid_shapes: Vec<_> = data.grids.iter().map(|g| &g.geometry).collect();
        GridParts::with_locator(data, GridLocator::new(&grid_shapes), None)
    }

    /// [`GridParts::build`] after a grid edit: the locator is `before` with only the changed
    /// grids redone (see [`GridLocator::with_changes`]; `kept` maps old grid positions to new),
    /// and `staff_by_grid` is reused when given (the edit changed no staff).
    fn build_after(
        data: &Dataset,
        before: &GridLocator,
        kept: &[Option<u32>],
        staff_by_grid: Option<Arc<HashMap<Code, Vec<usize>>>>,
    ) -> GridParts {
        let grid_shapes: Vec<_> = data.grids.iter().map(|g| &g.geometry).collect();
        GridParts::with_locator(data, before.with_changes(&grid_shapes, kept), staff_by_grid)
    }

    fn with_locator(
        data: &Dataset,
        grids: GridLocator,
        staff_by_grid: Option<Arc<HashMap<Code, Vec<usize>>>>,
    ) -> GridParts {
        // Grids, communities and subdistricts are all in code order, and a grid's parents are
        // prefixes of its code (12 digits for its community, 9 for its subdistrict, as
        // `Code::parent` cuts them): one walk down each parent layer finds them all.
        let parents_of = |parents: &[Region], len: usize| -> Vec<Option<usize>> {
            let mut j = 0;
            data.grids
                .iter()
                .map(|g| {
                    let prefix = g.code.as_str().get(..len)?;
                    while j < parents.len() && parents[j].code.as_str() < prefix {
                        j += 1;
                    }
                    (j < parents.len() && parents[j].code.as_str() == prefix).then_some(j)
                })
                .collect()
        };
        let communities = parents_of(&data.communities, 12);
        let subdistricts = parents_of(&data.subdistricts, 9);
        let grid_parents = communities.into_iter().zip(subdistricts).collect();
        let staff_by_grid = staff_by_grid.unwrap_or_else(|| {
            let mut map: HashMap<Code, Vec<usize>> = HashMap::new();
            for (i, s) in data.staff.iter().enumerate() {
                for g in &s.grids {
                    map.entry(g.clone()).or_default().push(i);
                }
            }
            Arc::new(map)
        });
        GridParts { grids, grid_parents, staff_by_grid }
    }
}

impl Snapshot {
    /// This snapshot with `data` (regions sorted by code, staff by id) in place of its own,
    /// where only grids and staff differ: the grid-dependent parts are rebuilt, everything else
    /// is shared. The caller guarantees that nothing else changed.
    ///
    /// `kept[i]` is the new position of this snapshot's grid `i` when it is unchanged, `None`
    /// when it ended: the locator is then patched instead of built anew. `staff_changed` says
    /// whether any staff record differs (else the staff lookup is shared). The new snapshot has
    /// `history` (every ended version) and the grid codes used so far plus `written` (the codes
    /// of every version the edits wrote).
    fn with_new_grids(
        &self,
        data: Dataset,
        generation: u64,
        kept: &[Option<u32>],
        staff_changed: bool,
        history: Vec<Region>,
        written: &[&Code],
    ) -> Result<Snapshot, IndexError> {
        check_unique_codes("grids", &data.grids)?;
        check_unique_ids("staff", data.staff.iter().map(|c| c.id))?;
        let shared_staff = (!staff_changed).then(|| self.staff_by_grid.clone());
        let GridParts { grids, grid_parents, staff_by_grid } =
            GridParts::build_after(&data, &self.grids, kept, shared_staff);
        let mut used_grid_codes = self.used_grid_codes.clone();
        if written.iter().any(|c| !used_grid_codes.contains(*c)) {
            Arc::make_mut(&mut used_grid_codes).extend(written.iter().map(|&c| c.clone()));
        }
        Ok(Snapshot {
            data,
            generation,
            complete: self.complete,
            change_seq: None,
            history: History::new(history),
            used_grid_codes,
            built_at: Utc::now(),
            projection: self.projection,
            grids,
            grid_parents,
            staff_by_grid,
            region_trees: self.region_trees.clone(),
            compounds: self.compounds.clone(),
            buildings: self.buildings.clone(),
            access_points: self.access_points.clone(),
            entrances: self.entrances.clone(),
            responders: self.responders.clone(),
            gazetteer: self.gazetteer.clone(),
            reach: self.reach.clone(),
        })
    }

    /// Sorts and indexes `data`. CPU-heavy for big cities: call from a blocking thread
    /// (see [`Snapshot::build_blocking`]).
    pub fn build(mut data: Dataset, generation: u64) -> Result<Snapshot, IndexError> {
        data.subdistricts.sort_by(|a, b| a.code.cmp(&b.code));
        data.communities.sort_by(|a, b| a.code.cmp(&b.code));
        data.grids.sort_by(|a, b| a.code.cmp(&b.code));
        data.compounds.sort_by_key(|c| c.id);
        data.access_points.sort_by_key(|c| c.id);
        data.buildings.sort_by_key(|c| c.id);
        data.entrances.sort_by_key(|c| c.id);
        data.responders.sort_by_key(|c| c.id);
        data.staff.sort_by_key(|c| c.id);
        check_unique_codes("subdistricts", &data.subdistricts)?;
        check_unique_codes("communities", &data.communities)?;
        check_unique_codes("grids", &data.grids)?;
        check_unique_ids("compounds", data.compounds.iter().map(|c| c.id))?;
        check_unique_ids("access_points", data.access_points.iter().map(|c| c.id))?;
        check_unique_ids("buildings", data.buildings.iter().map(|c| c.id))?;
        check_unique_ids("entrances", data.entrances.iter().map(|c| c.id))?;
        check_unique_ids("responders", data.responders.iter().map(|c| c.id))?;
        check_unique_ids("staff", data.staff.iter().map(|c| c.id))?;

        // The projection first: the travel network is built in it.
        let centre = data
            .grids
            .iter()
            .filter_map(|g| g.geometry.bounding_rect())
            .reduce(|a, b| {
                Rect::new(
                    (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                    (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
                )
            })
            .map_or((0.0, 0.0), |r| (r.center().x, r.center().y));
        let projection = LocalProjection::new(centre.0, centre.1);
        let used_grid_codes = Arc::new(data.grids.iter().map(|g| g.code.clone()).collect());

        // The parts are independent: the gazetteer and the travel network (the two slowest
        // for a big city: 0.8 s and 3 s of 8 s for 100,000 grids) are built on their own
        // threads while this one builds the locator, the R-trees and the lookup tables.
        let (gazetteer, reach, parts, trees) = std::thread::scope(|s| {
            let gazetteer = s.spawn(|| crate::address::Gazetteer::build(&data));
            let reach = s.spawn(|| crate::reach::ReachIndex::build(&data, &projection));
            let parts = GridParts::build(&data);
            let trees = Trees::build(&data);
            // A panic in either thread is re-raised here, as if it had happened on this one.
            let gazetteer = gazetteer.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            let reach = reach.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (gazetteer, reach, parts, trees)
        });
        let GridParts { grids, grid_parents, staff_by_grid } = parts;
        let Trees { region_trees, compounds, buildings, access_points, entrances, responders } = trees;
        Ok(Snapshot {
            gazetteer: Arc::new(gazetteer),
            reach: Arc::new(reach),
            region_trees,
            compounds,
            buildings,
            access_points,
            entrances,
            responders,
            projection,
            grids,
            grid_parents,
            staff_by_grid,
            data,
            generation,
            complete: true,
            change_seq: None,
            history: History::empty(),
            used_grid_codes,
            built_at: Utc::now(),
        })
    }

    /// [`Snapshot::build`] of a dataset that holds only the regions and the staff, marked
    /// incomplete (see [`Snapshot::complete`]).
    pub fn build_partial(data: Dataset, generation: u64) -> Result<Snapshot, IndexError> {
        Ok(Snapshot { complete: false, ..Snapshot::build(data, generation)? })
    }

    /// This snapshot with `ended` (every ended grid version, as
    /// `Store::ended_grid_versions` gives them) as its history for as-of reads.
    pub fn with_history(mut self, ended: Vec<Region>) -> Snapshot {
        self.history = History::new(ended);
        let mut used: BTreeSet<Code> = self.data.grids.iter().map(|g| g.code.clone()).collect();
        used.extend(self.history.codes());
        self.used_grid_codes = Arc::new(used);
        self
    }

    /// The ended grid versions.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Every grid code current or ended: a new grid never gets one of these.
    pub fn used_grid_codes(&self) -> &BTreeSet<Code> {
        &self.used_grid_codes
    }

    /// [`Snapshot::build`] on tokio's blocking pool.
    pub async fn build_blocking(data: Dataset, generation: u64) -> Result<Snapshot, IndexError> {
        tokio::task::spawn_blocking(move || Snapshot::build(data, generation))
            .await
            .map_err(|e| IndexError::Task(e.to_string()))?
    }

    /// The grid locator (EPSG:4326).
    pub fn grid_locator(&self) -> &GridLocator {
        &self.grids
    }

    /// Which grid, community and subdistrict claim `(lon, lat)` (EPSG:4326), by the boundary
    /// rule of [`pip`]. `None` outside every grid.
    #[inline]
    pub fn locate(&self, lon: f64, lat: f64) -> Option<Located> {
        let g = self.grids.locate(lon, lat)? as usize;
        let (community, subdistrict) = self.grid_parents[g];
        Some(Located { grid: g, community, subdistrict })
    }

    /// A region of any level by code (binary search: every region layer is in code order).
    pub fn region(&self, code: &Code) -> Option<&Region> {
        let layer = self.data.regions(code.level())?;
        layer.binary_search_by(|r| r.code.as_str().cmp(code.as_str())).ok().map(|i| &layer[i])
    }

    /// The codes one level down, in code order: the run of the layer below whose codes start
    /// with `code`.
    pub fn children(&self, code: &Code) -> Vec<&Code> {
        let Some(layer) = code.level().child().and_then(|l| self.data.regions(l)) else { return Vec::new() };
        let prefix = code.as_str();
        let start = layer.partition_point(|r| r.code.as_str() < prefix);
        layer[start..].iter().take_while(|r| r.code.as_str().starts_with(prefix)).map(|r| &r.code).collect()
    }

    /// Staff serving a grid, in id order.
    pub fn staff_of_grid(&self, grid: &Code) -> impl Iterator<Item = &Staff> {
        self.staff_by_grid.get(grid).into_iter().flatten().map(|&i| &self.data.staff[i])
    }

    /// Staff serving any grid within `code` (a grid, community or subdistrict), each once.
    pub fn staff_within(&self, code: &Code) -> Vec<&Staff> {
        let mut idx: Vec<usize> =
            self.staff_by_grid.iter().filter(|(g, _)| g.is_within(code)).flat_map(|(_, v)| v.iter().copied()).collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| &self.data.staff[i]).collect()
    }

    /// Indexes of the features of `kind` whose geometry intersects the box (EPSG:4326), in
    /// stored order (code or id). Envelopes first, exact intersection second.
    pub fn layer_in_bbox(&self, kind: LayerKind, bbox: Rect<f64>) -> Vec<usize> {
        let aabb = AABB::from_corners(bbox.min().into(), bbox.max().into());
        let rects = |tree: &RTree<RectEntry>| -> Vec<usize> {
            tree.locate_in_envelope_intersecting(&aabb).map(|e| e.data as usize).collect()
        };
        let points = |tree: &RTree<PointEntry>| -> Vec<usize> {
            tree.locate_in_envelope(&aabb).map(|e| e.data as usize).collect()
        };
        let mut out: Vec<usize> = match kind {
            LayerKind::Subdistricts => rects(&self.region_trees[0])
                .into_iter()
                .filter(|&i| self.data.subdistricts[i].geometry.intersects(&bbox))
                .collect(),
            LayerKind::Communities => rects(&self.region_trees[1])
                .into_iter()
                .filter(|&i| self.data.communities[i].geometry.intersects(&bbox))
                .collect(),
            LayerKind::Grids => self
                .grids
                .envelopes_in(bbox.min().into(), bbox.max().into())
                .map(|i| i as usize)
                .filter(|&i| self.data.grids[i].geometry.intersects(&bbox))
                .collect(),
            LayerKind::Compounds => rects(&self.compounds)
                .into_iter()
                .filter(|&i| self.data.compounds[i].geometry.intersects(&bbox))
                .collect(),
            LayerKind::Buildings => rects(&self.buildings)
                .into_iter()
                .filter(|&i| self.data.buildings[i].geometry.intersects(&bbox))
                .collect(),
            LayerKind::AccessPoints => points(&self.access_points),
            LayerKind::Entrances => points(&self.entrances),
            LayerKind::Responders => points(&self.responders),
        };
        out.sort_unstable();
        out
    }

    /// The features of `kind` at the given positions, as GeoJSON features.
    pub fn features_at(&self, kind: LayerKind, idx: &[usize]) -> Vec<crate::model::geojson::Feature> {
        let d = &self.data;
        idx.iter()
            .map(|&i| match kind {
                LayerKind::Subdistricts => d.subdistricts[i].to_feature(),
                LayerKind::Communities => d.communities[i].to_feature(),
                LayerKind::Grids => d.grids[i].to_feature(),
                LayerKind::Compounds => d.compounds[i].to_feature(),
                LayerKind::AccessPoints => d.access_points[i].to_feature(),
                LayerKind::Buildings => d.buildings[i].to_feature(),
                LayerKind::Entrances => d.entrances[i].to_feature(),
                LayerKind::Responders => d.responders[i].to_feature(),
            })
            .collect()
    }

    /// Number of features in each layer, for `/healthz` and logs.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let d = &self.data;
        vec![
            ("subdistricts", d.subdistricts.len()),
            ("communities", d.communities.len()),
            ("grids", d.grids.len()),
            ("compounds", d.compounds.len()),
            ("access_points", d.access_points.len()),
            ("buildings", d.buildings.len()),
            ("entrances", d.entrances.len()),
            ("responders", d.responders.len()),
            ("staff", d.staff.len()),
        ]
    }
}

/// The published snapshot, swapped whole.
///
/// Whoever publishes a snapshot derived from the current one (an edit) or from the store (the
/// sync loop's reload) first takes [`Live::lock_writes`], so that publications happen one at a
/// time and in order: a reload that read the store before an edit committed cannot overwrite
/// the snapshot holding that edit.
#[derive(Clone)]
pub struct Live {
    current: Arc<ArcSwap<Snapshot>>,
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl Live {
    pub fn new(snapshot: Snapshot) -> Live {
        Live { current: Arc::new(ArcSwap::from_pointee(snapshot)), writer: Arc::new(tokio::sync::Mutex::new(())) }
    }

    /// Waits for, and holds until dropped, the right to derive and publish the next snapshot.
    /// Readers never take it.
    pub async fn lock_writes(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writer.clone().lock_owned().await
    }

    /// The current snapshot; hold the `Arc` for a consistent view.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Publishes a new snapshot.
    ///
    /// The snapshot it replaces is released on tokio's blocking pool when there is a runtime:
    /// freeing a big city's grids (100,000 regions) takes tens of milliseconds, which should
    /// not land on whatever task happens to drop the last reference. (A request still holding
    /// it when this runs releases it itself, later.)
    pub fn publish(&self, snapshot: Snapshot) {
        let old = self.current.swap(Arc::new(snapshot));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || drop(old))),
            Err(_) => drop(old),
        }
    }
}
