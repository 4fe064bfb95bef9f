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

use geo::{BoundingRect, MultiPolygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use super::pip::{claims, edges_of, Edge};

const EMPTY: u32 = u32::MAX;
const MIXED: u32 = 1 << 31;

type Envelope = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Exact point location over a set of (multi)polygons, indexed `0..n` in the order given
/// (gridmap passes grids sorted by code, so "lowest index" is "lowest code").
pub struct GridLocator {
    edges: Vec<Vec<Edge>>,
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
        let edges: Vec<Vec<Edge>> = polygons.iter().map(|mp| edges_of(mp)).collect();
        let rects: Vec<Option<Rect<f64>>> = polygons.iter().map(|mp| mp.bounding_rect()).collect();
        let tree = RTree::bulk_load(
            rects
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    r.map(|r| {
                        GeomWithData::new(
                            Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                            i as u32,
                        )
                    })
                })
                .collect(),
        );
        let mut loc = GridLocator {
            edges,
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
        };
        let Some(bbox) = rects.iter().flatten().copied().reduce(|a, b| {
            Rect::new(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        }) else {
            return loc;
        };
        loc.build_buckets(bbox, &rects);
        loc
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

    fn build_buckets(&mut self, bbox: Rect<f64>, rects: &[Option<Rect<f64>>]) {
        let total_edges: usize = self.edges.iter().map(Vec::len).sum();
        let target = (total_edges * 4).clamp(1024, 16_000_000) as f64;
        let (w, h) = (bbox.width().max(1e-9), bbox.height().max(1e-9));
        let side = (w * h / target).sqrt();
        self.nx = ((w / side).ceil() as usize).clamp(1, 65_536);
        self.ny = ((h / side).ceil() as usize).clamp(1, 65_536);
        self.x0 = bbox.min().x;
        self.y0 = bbox.min().y;
        self.inv_dx = self.nx as f64 / w;
        self.inv_dy = self.ny as f64 / h;
        let (nx, ny) = (self.nx, self.ny);

        // 1. Mark every cell an edge may touch.
        let mut mixed = vec![false; nx * ny];
        for e in self.edges.iter().flatten() {
            let (ix0, ix1) = Self::cell_range(self.x0, self.inv_dx, nx, e.ax.min(e.bx), e.ax.max(e.bx));
            let (iy0, iy1) = Self::cell_range(self.y0, self.inv_dy, ny, e.ay, e.by);
            for iy in iy0..=iy1 {
                mixed[iy * nx + ix0..=iy * nx + ix1].fill(true);
            }
        }

        // 2. Candidate lists for mixed cells: every region whose bbox overlaps the cell.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (i, r) in rects.iter().enumerate() {
            let Some(r) = r else { continue };
            let (ix0, ix1) = Self::cell_range(self.x0, self.inv_dx, nx, r.min().x, r.max().x);
            let (iy0, iy1) = Self::cell_range(self.y0, self.inv_dy, ny, r.min().y, r.max().y);
            for iy in iy0..=iy1 {
                for ix in ix0..=ix1 {
                    let c = iy * nx + ix;
                    if mixed[c] {
                        pairs.push((c as u32, i as u32));
                    }
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();

        // 3. Fill cells: mixed cells point at their list; runs of unmixed cells along a row
        //    share one owner (no edge separates neighbours), found by the exact R-tree path.
        self.cells = vec![EMPTY; nx * ny];
        let mut p = 0;
        for iy in 0..ny {
            let mut run_owner: Option<Option<u32>> = None;
            for ix in 0..nx {
                let c = iy * nx + ix;
                if mixed[c] {
                    run_owner = None;
                    let list_index = self.list_offsets.len() - 1;
                    while p < pairs.len() && pairs[p].0 as usize == c {
                        self.lists.push(pairs[p].1);
                        p += 1;
                    }
                    self.list_offsets.push(self.lists.len() as u32);
                    self.cells[c] = MIXED | list_index as u32;
                } else {
                    let owner = *run_owner.get_or_insert_with(|| {
                        let cx = self.x0 + (ix as f64 + 0.5) / self.inv_dx;
                        let cy = self.y0 + (iy as f64 + 0.5) / self.inv_dy;
                        self.locate_rtree(cx, cy)
                    });
                    self.cells[c] = owner.unwrap_or(EMPTY);
                }
            }
        }
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
