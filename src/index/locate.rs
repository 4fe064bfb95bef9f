//! "Which grid is this point in": an exact point-location structure over the grids.
//!
//! Pipeline (coordinates are EPSG:4326 degrees throughout):
//! 1. A uniform **bucket grid** over the grids' bounding box. Each cell is
//!    * `EMPTY`: no grid's edge touches it and its points lie in no grid;
//!    * an **owner**: no grid's edge touches the closed cell, so every point of it lies in the
//!      same grid, found once when the index is built;
//!    * **mixed**: some edge touches it; the cell keeps the list of grids whose bounding box
//!      overlaps it, in code order.
//! 2. For a mixed cell, the exact test of [`super::pip`] (the east-then-north boundary rule)
//!    runs on each listed grid; the first (lowest code) that claims the point wins.
//!
//! Cells are marked conservatively (edges are rasterised by their bounding boxes, widened by a
//! millionth of a cell), so a point is only answered from an owner cell when no edge can be near
//! it. The answer is therefore the same as testing every grid in code order, which the property
//! tests check. An R-tree over the grids' envelopes ([`GridLocator::locate_rtree`]) gives the
//! same answer by the textbook route (envelopes first, exact predicate second) and is used to
//! fill the owner cells.

use std::sync::Arc;

use geo::{BoundingRect, MultiPolygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use super::pip::{claims, edges_of, Edge};

const EMPTY: u32 = u32::MAX;
const MIXED: u32 = 1 << 31;

type Envelope = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// The smallest rectangle holding both.
fn union(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
        (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
    )
}

/// The R-tree entry of region `i` with box `r`.
fn envelope(i: usize, r: &Rect<f64>) -> Envelope {
    GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), i as u32)
}

/// A rectangle of bucket cells, bounds included.
struct Window {
    ix0: usize,
    ix1: usize,
    iy0: usize,
    iy1: usize,
}

impl Window {
    fn width(&self) -> usize {
        self.ix1 - self.ix0 + 1
    }

    fn contains(&self, ix: usize, iy: usize) -> bool {
        (self.ix0..=self.ix1).contains(&ix) && (self.iy0..=self.iy1).contains(&iy)
    }
}

/// One cell as [`GridLocator::window_buckets`] computes it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WindowCell {
    Empty,
    Owner(u32),
    /// Candidates `lists[a..b]` of the window's lists.
    Mixed(u32, u32),
}

/// The cells of a [`Window`], row by row, and their candidate lists.
struct WindowBuckets {
    cells: Vec<WindowCell>,
    lists: Vec<u32>,
}

/// Exact point location over a set of (multi)polygons, indexed `0..n` in the order given
/// (gridmap passes grids sorted by code, so "lowest index" is "lowest code").
pub struct GridLocator {
    /// Each region's edges, shared with the locator a patched one was made from (an edit
    /// copies 100,000 pointers, not 100,000 lists).
    edges: Vec<Arc<[Edge]>>,
    /// The bounding box of each region (`None` for an empty one).
    rects: Vec<Option<Rect<f64>>>,
    tree: RTree<Envelope>,
    x0: f64,
    y0: f64,
    inv_dx: f64,
    inv_dy: f64,
    nx: usize,
    ny: usize,
    cells: Vec<u32>,
    list_offsets: Vec<u32>,
    lists: Vec<u32>,
}

impl GridLocator {
    /// Builds the locator. `polygons[i]` is region `i`; EPSG:4326.
    pub fn new(polygons: &[&MultiPolygon<f64>]) -> GridLocator {
        let edges: Vec<Arc<[Edge]>> = polygons.iter().map(|mp| edges_of(mp).into()).collect();
        let rects: Vec<Option<Rect<f64>>> = polygons.iter().map(|mp| mp.bounding_rect()).collect();
        let mut loc = GridLocator::unfilled(edges, rects);
        let Some(bbox) = loc.rects.iter().flatten().copied().reduce(union) else {
            return loc;
        };
        loc.set_layout(bbox);
        loc.fill_buckets();
        loc
    }

    /// The locator over `edges` and `rects` with its R-tree, and no bucket grid yet.
    fn unfilled(edges: Vec<Arc<[Edge]>>, rects: Vec<Option<Rect<f64>>>) -> GridLocator {
        let tree = RTree::bulk_load(
            rects.iter().enumerate().filter_map(|(i, r)| r.as_ref().map(|r| envelope(i, r))).collect(),
        );
        GridLocator::with_tree(edges, rects, tree)
    }

    /// [`GridLocator::unfilled`] with the R-tree given.
    fn with_tree(edges: Vec<Arc<[Edge]>>, rects: Vec<Option<Rect<f64>>>, tree: RTree<Envelope>) -> GridLocator {
        GridLocator {
            edges,
            rects,
            tree,
            x0: 0.0,
            y0: 0.0,
            inv_dx: 1.0,
            inv_dy: 1.0,
            nx: 0,
            ny: 0,
            cells: Vec::new(),
            list_offsets: vec![0],
            lists: Vec::new(),
        }
    }

    /// The locator after some regions changed, built by redoing only the cells the changes
    /// can reach: what a grid edit needs, where a full build of 100,000 grids takes most of a
    /// second and an edit touches a handful of them.
    ///
    /// `polygons` are the regions after the change, in their new order; `kept[i]` is the new
    /// index of old region `i` when it is unchanged (the same polygon), `None` when it was
    /// removed or changed. Every new region no old one is kept as is new (or changed).
    /// Indexes of kept regions may move (regions inserted or removed before them) but must keep
    /// their relative order, as code order does.
    ///
    /// The result is exactly what a full build would be on this locator's bucket layout (the
    /// tests compare them cell by cell), and it answers exactly like [`GridLocator::new`] of
    /// `polygons`. Falls back to the full build when the new regions reach outside the bucket
    /// grid, or when `kept` does not fit the contract.
    pub fn with_changes(&self, polygons: &[&MultiPolygon<f64>], kept: &[Option<u32>]) -> GridLocator {
        self.patched(polygons, kept).unwrap_or_else(|| GridLocator::new(polygons))
    }

    /// [`GridLocator::with_changes`], `None` where it would fall back to a full build.
    fn patched(&self, polygons: &[&MultiPolygon<f64>], kept: &[Option<u32>]) -> Option<GridLocator> {
        if kept.len() != self.edges.len() || self.cells.is_empty() {
            return None;
        }
        // Which old region each new one is (when kept), checking that kept ones keep their order.
        let mut old_of = vec![None; polygons.len()];
        let mut last = None;
        for (old, new) in kept.iter().enumerate() {
            let Some(new) = *new else { continue };
            let slot = old_of.get_mut(new as usize)?;
            if slot.is_some() || last.is_some_and(|l| new <= l) {
                return None;
            }
            *slot = Some(old);
            last = Some(new);
        }
        let edges: Vec<Arc<[Edge]>> = polygons
            .iter()
            .zip(&old_of)
            .map(|(mp, old)| old.map_or_else(|| edges_of(mp).into(), |o| self.edges[o].clone()))
            .collect();
        let rects: Vec<Option<Rect<f64>>> = polygons
            .iter()
            .zip(&old_of)
            .map(|(mp, old)| old.map_or_else(|| mp.bounding_rect(), |o| self.rects[o]))
            .collect();

        // The bucket grid must still cover every region.
        let extent = Rect::new(
            (self.x0, self.y0),
            (self.x0 + self.nx as f64 / self.inv_dx, self.y0 + self.ny as f64 / self.inv_dy),
        );
        let inside = |r: &Rect<f64>| {
            r.min().x >= extent.min().x
                && r.min().y >= extent.min().y
                && r.max().x <= extent.max().x
                && r.max().y <= extent.max().y
        };
        if !rects.iter().flatten().all(inside) {
            return None;
        }

        // When every kept region keeps its index (a reshape: the usual edit), the R-tree is this
        // one with the changed regions' boxes taken out and put back, and the buckets outside
        // the changed window are copied rather than renumbered.
        let same_places =
            polygons.len() == kept.len() && kept.iter().enumerate().all(|(i, k)| k.is_none_or(|k| k as usize == i));
        let mut loc = if same_places {
            let mut tree = self.tree.clone();
            for (i, k) in kept.iter().enumerate() {
                if k.is_none() {
                    if let Some(r) = &self.rects[i] {
                        tree.remove(&envelope(i, r));
                    }
                    if let Some(r) = &rects[i] {
                        tree.insert(envelope(i, r));
                    }
                }
            }
            GridLocator::with_tree(edges, rects, tree)
        } else {
            GridLocator::unfilled(edges, rects)
        };
        (loc.x0, loc.y0, loc.inv_dx, loc.inv_dy, loc.nx, loc.ny) =
            (self.x0, self.y0, self.inv_dx, self.inv_dy, self.nx, self.ny);

        // The cells any removed or new region's box reaches: the only ones whose content can
        // differ (an edge, a list entry or an owner always lies inside its region's box).
        let removed = kept.iter().zip(&self.rects).filter(|(k, _)| k.is_none()).filter_map(|(_, r)| *r);
        let added = old_of.iter().zip(&loc.rects).filter(|(o, _)| o.is_none()).filter_map(|(_, r)| *r);
        let Some(changed) = removed.chain(added).reduce(union) else {
            // Nothing moved but indexes: renumber the old buckets.
            let (cells, offsets, lists) = self.renumbered(kept, same_places, None)?;
            (loc.cells, loc.list_offsets, loc.lists) = (cells, offsets, lists);
            return Some(loc);
        };
        let (ix0, ix1) = Self::cell_range(self.x0, self.inv_dx, self.nx, changed.min().x, changed.max().x);
        let (iy0, iy1) = Self::cell_range(self.y0, self.inv_dy, self.ny, changed.min().y, changed.max().y);
        let window = Window { ix0, ix1, iy0, iy1 };
        let redone = loc.window_buckets(&window);
        let (cells, offsets, lists) = self.renumbered(kept, same_places, Some((&window, redone)))?;
        (loc.cells, loc.list_offsets, loc.lists) = (cells, offsets, lists);
        Some(loc)
    }

    /// This locator's buckets with every region index `i` replaced by `kept[i]`, and the cells
    /// of `window` taken from `redone` instead. `None` if a cell outside the window names a
    /// region that is not kept.
    ///
    /// `same_places`: every kept region keeps its index, so cells and lists outside the window
    /// are copied as they are (only the positions of mixed cells' lists move). A region that
    /// is not kept cannot be named there: the window covers its box, and every cell naming a
    /// region lies in that region's box (checked in debug builds, which the tests run).
    #[allow(clippy::type_complexity)]
    fn renumbered(
        &self,
        kept: &[Option<u32>],
        same_places: bool,
        redone: Option<(&Window, WindowBuckets)>,
    ) -> Option<(Vec<u32>, Vec<u32>, Vec<u32>)> {
        let mut cells = Vec::with_capacity(self.cells.len());
        let mut offsets = Vec::with_capacity(self.list_offsets.len() + 64);
        offsets.push(0u32);
        let mut lists = Vec::with_capacity(self.lists.len() + 256);
        let nx = self.nx;
        for iy in 0..self.ny {
            for ix in 0..nx {
                if let Some((w, r)) = &redone {
                    if w.contains(ix, iy) {
                        let local = (iy - w.iy0) * w.width() + (ix - w.ix0);
                        match r.cells[local] {
                            WindowCell::Empty => cells.push(EMPTY),
                            WindowCell::Owner(g) => cells.push(g),
                            WindowCell::Mixed(a, b) => {
                                cells.push(MIXED | (offsets.len() as u32 - 1));
                                lists.extend_from_slice(&r.lists[a as usize..b as usize]);
                                offsets.push(lists.len() as u32);
                            }
                        }
                        continue;
                    }
                }
                let cell = self.cells[iy * nx + ix];
                if same_places {
                    if cell == EMPTY || cell & MIXED == 0 {
                        debug_assert!(cell == EMPTY || kept[cell as usize].is_some(), "cell names a changed region");
                        cells.push(cell);
                    } else {
                        let l = (cell & !MIXED) as usize;
                        let list = &self.lists[self.list_offsets[l] as usize..self.list_offsets[l + 1] as usize];
                        debug_assert!(list.iter().all(|&g| kept[g as usize].is_some()), "list names a changed region");
                        cells.push(MIXED | (offsets.len() as u32 - 1));
                        lists.extend_from_slice(list);
                        offsets.push(lists.len() as u32);
                    }
                } else if cell == EMPTY {
                    cells.push(EMPTY);
                } else if cell & MIXED == 0 {
                    cells.push((*kept.get(cell as usize)?)?);
                } else {
                    let l = (cell & !MIXED) as usize;
                    cells.push(MIXED | (offsets.len() as u32 - 1));
                    for &g in &self.lists[self.list_offsets[l] as usize..self.list_offsets[l + 1] as usize] {
                        lists.push((*kept.get(g as usize)?)?);
                    }
                    offsets.push(lists.len() as u32);
                }
            }
        }
        Some((cells, offsets, lists))
    }

    /// Number of indexed regions.
    pub fn len(&self) -> usize {
        self.edges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    /// The cell range `[lo, hi]` covering `[a, b]` along one axis, widened by 1e-6 cell.
    fn cell_range(v0: f64, inv: f64, n: usize, a: f64, b: f64) -> (usize, usize) {
        let lo = ((a - v0) * inv - 1e-6).floor().max(0.0) as usize;
        let hi = ((b - v0) * inv + 1e-6).floor().max(0.0) as usize;
        (lo.min(n - 1), hi.min(n - 1))
    }

    /// Sizes the bucket grid over `bbox`: about four cells per edge.
    fn set_layout(&mut self, bbox: Rect<f64>) {
        let total_edges: usize = self.edges.iter().map(|e| e.len()).sum();
        let target = (total_edges * 4).clamp(1024, 16_000_000) as f64;
        let (w, h) = (bbox.width().max(1e-9), bbox.height().max(1e-9));
        let side = (w * h / target).sqrt();
        self.nx = ((w / side).ceil() as usize).clamp(1, 65_536);
        self.ny = ((h / side).ceil() as usize).clamp(1, 65_536);
        self.x0 = bbox.min().x;
        self.y0 = bbox.min().y;
        self.inv_dx = self.nx as f64 / w;
        self.inv_dy = self.ny as f64 / h;
    }

    /// Fills every cell of the bucket grid (laid out by [`GridLocator::set_layout`]). A big
    /// grid (a million cells and more: the 100,000-grid city has 6.9 million) is cut into one
    /// band of rows per core, filled in parallel: the locator is on the critical path of a
    /// start-up, before `locate` can answer.
    fn fill_buckets(&mut self) {
        let bands = if self.nx * self.ny >= 1 << 20 {
            std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
        } else {
            1
        };
        self.fill_buckets_in(bands);
    }

    /// [`GridLocator::fill_buckets`] in `bands` bands of rows (each cell's content depends on
    /// that cell alone and runs of owners never cross rows, so any cut gives the same result).
    fn fill_buckets_in(&mut self, bands: usize) {
        let (nx, ny) = (self.nx, self.ny);
        let bands = bands.clamp(1, ny);
        let windows: Vec<Window> = (0..bands)
            .map(|b| Window { ix0: 0, ix1: nx - 1, iy0: b * ny / bands, iy1: (b + 1) * ny / bands - 1 })
            .collect();
        let this = &*self;
        let parts: Vec<WindowBuckets> = if bands == 1 {
            vec![this.window_buckets(&windows[0])]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = windows.iter().map(|w| s.spawn(move || this.window_buckets(w))).collect();
                // A panic in a band is re-raised here, as if it had happened on this thread.
                handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
            })
        };
        self.cells = Vec::with_capacity(nx * ny);
        self.list_offsets = Vec::with_capacity(parts.iter().map(|p| p.lists.len() / 2).sum::<usize>() + 1);
        self.list_offsets.push(0);
        self.lists = Vec::with_capacity(parts.iter().map(|p| p.lists.len()).sum());
        for part in parts {
            let base = self.lists.len() as u32;
            for c in part.cells {
                self.cells.push(match c {
                    WindowCell::Empty => EMPTY,
                    WindowCell::Owner(g) => g,
                    WindowCell::Mixed(_, b) => {
                        self.list_offsets.push(base + b);
                        MIXED | (self.list_offsets.len() as u32 - 2)
                    }
                });
            }
            self.lists.extend_from_slice(&part.lists);
        }
    }

    /// The content of the cells of `window`, from the regions (edges, boxes, R-tree) alone.
    fn window_buckets(&self, w: &Window) -> WindowBuckets {
        let (width, height) = (w.width(), w.iy1 - w.iy0 + 1);
        // The regions whose box can reach the window (a cell of margin around it).
        let (cx, cy) = (1.0 / self.inv_dx, 1.0 / self.inv_dy);
        let lo = [self.x0 + (w.ix0 as f64 - 1.0) * cx, self.y0 + (w.iy0 as f64 - 1.0) * cy];
        let hi = [self.x0 + (w.ix1 as f64 + 2.0) * cx, self.y0 + (w.iy1 as f64 + 2.0) * cy];
        let mut regions: Vec<u32> = if width == self.nx && height == self.ny {
            (0..self.edges.len() as u32).collect()
        } else {
            self.envelopes_in(lo, hi).collect()
        };
        regions.sort_unstable();
        // The window's part of the cell range of a box, if any.
        let clip = |xa: f64, xb: f64, ya: f64, yb: f64| {
            let (ix0, ix1) = Self::cell_range(self.x0, self.inv_dx, self.nx, xa, xb);
            let (iy0, iy1) = Self::cell_range(self.y0, self.inv_dy, self.ny, ya, yb);
            let (ix0, ix1, iy0, iy1) = (ix0.max(w.ix0), ix1.min(w.ix1), iy0.max(w.iy0), iy1.min(w.iy1));
            (ix0 <= ix1 && iy0 <= iy1).then(|| (ix0 - w.ix0, ix1 - w.ix0, iy0 - w.iy0, iy1 - w.iy0))
        };

        // 1. Mark every cell an edge may touch.
        let mut mixed = vec![false; width * height];
        for &g in &regions {
            for e in self.edges[g as usize].iter() {
                if let Some((x0, x1, y0, y1)) = clip(e.ax.min(e.bx), e.ax.max(e.bx), e.ay, e.by) {
                    for iy in y0..=y1 {
                        mixed[iy * width + x0..=iy * width + x1].fill(true);
                    }
                }
            }
        }

        // 2. Candidate lists for mixed cells: every region whose box overlaps the cell.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for &g in &regions {
            let Some(r) = self.rects[g as usize] else { continue };
            let Some((x0, x1, y0, y1)) = clip(r.min().x, r.max().x, r.min().y, r.max().y) else { continue };
            for iy in y0..=y1 {
                for ix in x0..=x1 {
                    let c = iy * width + ix;
                    if mixed[c] {
                        pairs.push((c as u32, g));
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();

        // 3. Fill cells: mixed cells get their list; runs of unmixed cells along a row share
        //    one owner (no edge separates neighbours), found by the exact R-tree path.
        let mut cells = Vec::with_capacity(width * height);
        let mut lists = Vec::with_capacity(pairs.len());
        let mut p = 0;
        for iy in 0..height {
            let mut run_owner: Option<Option<u32>> = None;
            for ix in 0..width {
                let c = iy * width + ix;
                if mixed[c] {
                    run_owner = None;
                    let start = lists.len() as u32;
                    while p < pairs.len() && pairs[p].0 as usize == c {
                        lists.push(pairs[p].1);
                        p += 1;
                    }
                    cells.push(WindowCell::Mixed(start, lists.len() as u32));
                } else {
                    let owner = *run_owner.get_or_insert_with(|| {
                        let cx = self.x0 + ((w.ix0 + ix) as f64 + 0.5) / self.inv_dx;
                        let cy = self.y0 + ((w.iy0 + iy) as f64 + 0.5) / self.inv_dy;
                        self.locate_rtree(cx, cy)
                    });
                    cells.push(owner.map_or(WindowCell::Empty, WindowCell::Owner));
                }
            }
        }
        WindowBuckets { cells, lists }
    }

    /// The region that claims `(lon, lat)` (EPSG:4326) under the boundary rule, if any.
    #[inline]
    pub fn locate(&self, x: f64, y: f64) -> Option<u32> {
        if self.cells.is_empty() {
            return None;
        }
        let fx = (x - self.x0) * self.inv_dx;
        let fy = (y - self.y0) * self.inv_dy;
        // Also rejects NaN (comparisons with NaN are false).
        if !(fx >= 0.0 && fy >= 0.0 && fx <= self.nx as f64 && fy <= self.ny as f64) {
            return None;
        }
        let ix = (fx as usize).min(self.nx - 1);
        let iy = (fy as usize).min(self.ny - 1);
        let cell = self.cells[iy * self.nx + ix];
        if cell == EMPTY {
            None
        } else if cell & MIXED == 0 {
            Some(cell)
        } else {
            let l = (cell & !MIXED) as usize;
            let (a, b) = (self.list_offsets[l] as usize, self.list_offsets[l + 1] as usize);
            self.lists[a..b].iter().copied().find(|&g| claims(&self.edges[g as usize], x, y))
        }
    }

    /// The same answer by the R-tree: envelopes containing the point, then the exact test,
    /// lowest index first.
    pub fn locate_rtree(&self, x: f64, y: f64) -> Option<u32> {
        if !x.is_finite() || !y.is_finite() {
            return None;
        }
        self.tree.locate_all_at_point(&[x, y]).map(|e| e.data).filter(|&g| claims(&self.edges[g as usize], x, y)).min()
    }

    /// Regions whose envelope contains `(x, y)`, unordered (candidates for [`GridLocator::claims`]).
    pub fn envelopes_at(&self, x: f64, y: f64) -> impl Iterator<Item = u32> + '_ {
        self.tree.locate_all_at_point(&[x, y]).map(|e| e.data)
    }

    /// Whether region `i` claims `(x, y)` under the boundary rule.
    pub fn claims(&self, i: u32, x: f64, y: f64) -> bool {
        self.edges.get(i as usize).is_some_and(|e| claims(e, x, y))
    }

    /// The reference answer: every region in index order. For tests.
    pub fn locate_brute_force(&self, x: f64, y: f64) -> Option<u32> {
        (0..self.edges.len() as u32).find(|&g| claims(&self.edges[g as usize], x, y))
    }

    /// Regions whose envelope intersects the box (EPSG:4326), unordered.
    pub fn envelopes_in(&self, min: [f64; 2], max: [f64; 2]) -> impl Iterator<Item = u32> + '_ {
        self.tree.locate_in_envelope_intersecting(&AABB::from_corners(min, max)).map(|e| e.data)
    }

    /// Size of the bucket grid (columns, rows) and the number of mixed cells, for logs.
    pub fn stats(&self) -> (usize, usize, usize) {
        (self.nx, self.ny, self.list_offsets.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use geo::{Coord, LineString, Polygon};

    use super::*;

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// Uniform in `[0, 1)`.
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn poly(points: &[(f64, f64)]) -> MultiPolygon<f64> {
        let mut ring: Vec<Coord<f64>> = points.iter().map(|&(x, y)| Coord { x, y }).collect();
        ring.push(ring[0]);
        MultiPolygon(vec![Polygon::new(LineString(ring), vec![])])
    }

    /// An `n` x `n` tiling of jittered quadrilaterals over `[84.8, 84.9] x [45.5, 45.6]`, row by
    /// row (the order stands for code order).
    fn tiling(n: usize, rng: &mut Rng) -> Vec<MultiPolygon<f64>> {
        let step = 0.1 / n as f64;
        let lattice: Vec<Vec<(f64, f64)>> = (0..=n)
            .map(|j| {
                (0..=n)
                    .map(|i| {
                        let inner = i > 0 && i < n && j > 0 && j < n;
                        let jitter = |r: &mut Rng| if inner { (r.unit() - 0.5) * 0.4 * step } else { 0.0 };
                        (84.8 + i as f64 * step + jitter(rng), 45.5 + j as f64 * step + jitter(rng))
                    })
                    .collect()
            })
            .collect();
        (0..n)
            .flat_map(|j| (0..n).map(move |i| (i, j)))
            .map(|(i, j)| poly(&[lattice[j][i], lattice[j][i + 1], lattice[j + 1][i + 1], lattice[j + 1][i]]))
            .collect()
    }

    /// The full build of `polygons` on the bucket layout of `like`.
    fn fresh_on_layout(like: &GridLocator, polygons: &[MultiPolygon<f64>]) -> GridLocator {
        let mut loc = GridLocator::unfilled(
            polygons.iter().map(|p| edges_of(p).into()).collect(),
            polygons.iter().map(|p| p.bounding_rect()).collect(),
        );
        (loc.x0, loc.y0, loc.inv_dx, loc.inv_dy, loc.nx, loc.ny) =
            (like.x0, like.y0, like.inv_dx, like.inv_dy, like.nx, like.ny);
        loc.fill_buckets();
        loc
    }

    fn refs(polygons: &[MultiPolygon<f64>]) -> Vec<&MultiPolygon<f64>> {
        polygons.iter().collect()
    }

    /// One random edit of `polygons` (in place), returning `kept` (old index to new).
    fn random_edit(
        polygons: &mut Vec<MultiPolygon<f64>>,
        rng: &mut Rng,
        step: f64,
    ) -> (&'static str, Vec<Option<u32>>) {
        let n = polygons.len();
        let identity =
            |skip: &[usize]| -> Vec<Option<u32>> { (0..n).map(|i| (!skip.contains(&i)).then_some(i as u32)).collect() };
        match rng.below(4) {
            0 => {
                // Move one vertex of a region and of every region that shares it.
                let k = rng.below(n);
                let ring = &polygons[k].0[0].exterior().0;
                let v = ring[rng.below(ring.len() - 1)];
                let to = Coord { x: v.x + (rng.unit() - 0.5) * 0.2 * step, y: v.y + (rng.unit() - 0.5) * 0.2 * step };
                let outer = |c: f64, lo: f64| (c - lo).abs() < 1e-12 || (c - (lo + 0.1)).abs() < 1e-12;
                if outer(v.x, 84.8) || outer(v.y, 45.5) {
                    return ("nothing", identity(&[]));
                }
                let mut touched = vec![];
                for (i, p) in polygons.iter_mut().enumerate() {
                    let mut hit = false;
                    p.0[0].exterior_mut(|ls| {
                        for c in ls.0.iter_mut() {
                            if *c == v {
                                *c = to;
                                hit = true;
                            }
                        }
                    });
                    if hit {
                        touched.push(i);
                    }
                }
                ("move vertex", identity(&touched))
            }
            1 => {
                // Split a region in two along the segment between two of its vertices.
                let k = rng.below(n);
                let ring: Vec<Coord<f64>> = polygons[k].0[0].exterior().0.clone();
                let m = ring.len() - 1;
                if m < 4 {
                    return ("nothing", identity(&[]));
                }
                let a = rng.below(m);
                let b = (a + 2 + rng.below(m - 3)) % m;
                let (lo, hi) = (a.min(b), a.max(b));
                let first: Vec<(f64, f64)> = ring[lo..=hi].iter().map(|c| (c.x, c.y)).collect();
                let second: Vec<(f64, f64)> = ring[hi..m].iter().chain(&ring[..=lo]).map(|c| (c.x, c.y)).collect();
                polygons[k] = poly(&first);
                polygons.insert(k + 1, poly(&second));
                let kept = (0..n).map(|i| (i != k).then_some(if i < k { i as u32 } else { i as u32 + 1 })).collect();
                ("split", kept)
            }
            2 => {
                // Remove a region (a hole opens).
                let k = rng.below(n);
                polygons.remove(k);
                let kept = (0..n).map(|i| (i != k).then(|| if i < k { i as u32 } else { i as u32 - 1 })).collect();
                ("remove", kept)
            }
            _ => {
                // Replace a region by its box shrunk to half, or give nothing back.
                let k = rng.below(n);
                let Some(r) = polygons[k].bounding_rect() else { return ("nothing", identity(&[])) };
                let (c, w, h) = (r.center(), r.width() / 4.0, r.height() / 4.0);
                polygons[k] = poly(&[(c.x - w, c.y - h), (c.x + w, c.y - h), (c.x + w, c.y + h), (c.x - w, c.y + h)]);
                ("shrink", identity(&[k]))
            }
        }
    }

    #[test]
    fn a_patched_locator_is_the_full_build_cell_for_cell_and_answers_like_brute_force() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let n = 12;
        let mut polygons = tiling(n, &mut rng);
        let first = GridLocator::new(&refs(&polygons));
        let mut loc = GridLocator::new(&refs(&polygons));
        let mut kinds = std::collections::BTreeSet::new();
        for round in 0..60 {
            let (kind, kept) = random_edit(&mut polygons, &mut rng, 0.1 / n as f64);
            kinds.insert(kind);
            let patched =
                loc.patched(&refs(&polygons), &kept).unwrap_or_else(|| panic!("round {round} ({kind}) fell back"));
            let fresh = fresh_on_layout(&first, &polygons);
            assert_eq!(patched.cells, fresh.cells, "round {round} ({kind}): cells");
            assert_eq!(patched.list_offsets, fresh.list_offsets, "round {round} ({kind}): list offsets");
            assert_eq!(patched.lists, fresh.lists, "round {round} ({kind}): lists");
            assert_eq!(patched.edges, fresh.edges, "round {round} ({kind}): edges");
            // The R-tree (patched in place when no index moves) holds the same boxes.
            let boxes = |l: &GridLocator| {
                let mut v: Vec<(u32, [f64; 2], [f64; 2])> = l
                    .tree
                    .iter()
                    .map(|e| (e.data, rstar::RTreeObject::envelope(e).lower(), rstar::RTreeObject::envelope(e).upper()))
                    .collect();
                v.sort_by_key(|b| b.0);
                v
            };
            assert_eq!(boxes(&patched), boxes(&fresh), "round {round} ({kind}): R-tree");
            for _ in 0..300 {
                let (x, y) = (84.79 + 0.12 * rng.unit(), 45.49 + 0.12 * rng.unit());
                assert_eq!(
                    patched.locate(x, y),
                    patched.locate_brute_force(x, y),
                    "round {round} ({kind}) at ({x}, {y})"
                );
            }
            // Vertices are where the boundary rule matters most.
            for p in &polygons {
                for c in &p.0[0].exterior().0 {
                    assert_eq!(patched.locate(c.x, c.y), patched.locate_brute_force(c.x, c.y), "vertex {c:?}");
                }
            }
            loc = patched;
        }
        kinds.remove("nothing");
        assert_eq!(kinds.len(), 4, "every kind of edit was tried: {kinds:?}");
    }

    #[test]
    fn filling_in_bands_gives_the_same_buckets() {
        let mut rng = Rng(3);
        let polygons = tiling(9, &mut rng);
        let one = GridLocator::new(&refs(&polygons));
        for bands in [2, 3, 7, 1000] {
            let mut banded = fresh_on_layout(&one, &polygons);
            banded.fill_buckets_in(bands);
            assert_eq!(banded.cells, one.cells, "{bands} bands: cells");
            assert_eq!(banded.list_offsets, one.list_offsets, "{bands} bands: list offsets");
            assert_eq!(banded.lists, one.lists, "{bands} bands: lists");
        }
    }

    #[test]
    fn a_region_reaching_outside_the_buckets_means_a_full_build() {
        let mut rng = Rng(7);
        let mut polygons = tiling(4, &mut rng);
        let loc = GridLocator::new(&refs(&polygons));
        polygons[0] = poly(&[(84.7, 45.4), (84.81, 45.4), (84.81, 45.51), (84.7, 45.51)]);
        let kept: Vec<Option<u32>> = (0..16).map(|i| (i != 0).then_some(i)).collect();
        assert!(loc.patched(&refs(&polygons), &kept).is_none());
        let rebuilt = loc.with_changes(&refs(&polygons), &kept);
        for (x, y) in [(84.71, 45.41), (84.75, 45.45), (84.805, 45.505), (84.85, 45.55)] {
            assert_eq!(rebuilt.locate(x, y), rebuilt.locate_brute_force(x, y));
        }
        assert_eq!(rebuilt.locate(84.71, 45.41), Some(0));
    }

    #[test]
    fn kept_regions_out_of_order_are_refused() {
        let mut rng = Rng(11);
        let polygons = tiling(3, &mut rng);
        let loc = GridLocator::new(&refs(&polygons));
        let mut kept: Vec<Option<u32>> = (0..9).map(Some).collect();
        kept.swap(2, 3);
        assert!(loc.patched(&refs(&polygons), &kept).is_none(), "order must be kept");
        kept.swap(2, 3);
        kept[4] = Some(3);
        assert!(loc.patched(&refs(&polygons), &kept).is_none(), "two old regions cannot be one new one");
    }
}
