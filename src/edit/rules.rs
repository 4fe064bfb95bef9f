//! The rules of grid drawing, checked all at once on every planned edit.
//!
//! | rule slug              | severity | what it checks                                                      |
//! |------------------------|----------|---------------------------------------------------------------------|
//! | `invalid-coordinates`  | error    | every coordinate finite, lon in [-180, 180], lat in [-90, 90]        |
//! | `invalid-ring`         | error    | rings closed, at least 3 distinct vertices                           |
//! | `self-intersection`    | error    | no ring crosses or touches itself; rings cross no other ring        |
//! | `spike`                | error    | no vertex where the boundary turns back on itself (angle < 1°)      |
//! | `zero-area`            | error    | every part and hole encloses at least [`ZERO_AREA_M2`]              |
//! | `invalid-polygon`      | error    | holes inside their shell, parts not overlapping (geo `Validation`)  |
//! | `outside-community`    | error    | the grid lies inside its community                                  |
//! | `overlaps-sibling`     | error    | no overlap with another grid of the same community                 |
//! | `gap`                  | error    | the community's grids still cover the whole community              |
//! | `building-cut`         | error*   | no building is cut in two by a grid boundary                       |
//! | `area-unusual`         | warning  | area within 1/4 to 4 times the community's median grid area        |
//! | `understaffed`         | warning  | households at most `households_per_worker` × the grid's staff       |
//!
//! (*) a warning when `RuleConfig::building_cut_is_error` is false.
//!
//! A shape that is not a readable polygon at all (`invalid-coordinates`, `invalid-ring`) is
//! reported alone: the community, building and load rules need a polygon and are skipped for
//! the community of such a grid (the edit is refused anyway).
//!
//! Areas are square metres in the snapshot's local projection. An overlap, gap or part outside
//! counts only when one connected piece of it reaches [`AREA_TOLERANCE_M2`] (smaller pieces are
//! numerical noise after snapping). A building counts as cut when the smaller of its two sides
//! reaches [`BUILDING_CUT_MIN_M2`] and [`BUILDING_CUT_MIN_SHARE`] of its footprint.

use std::collections::{BTreeMap, BTreeSet};

use geo::{BooleanOps, BoundingRect, Coord, Geometry, MultiPoint, MultiPolygon, Point, Polygon, Validation};

use super::geom::{bbox_of, Metric, AREA_TOLERANCE_M2};
use super::{Context, Severity, Violation};
use crate::model::{Code, LayerKind, Region};

/// The smaller side of a cut building must reach this many square metres...
pub const BUILDING_CUT_MIN_M2: f64 = 2.0;
/// ...and this share of the building's footprint.
pub const BUILDING_CUT_MIN_SHARE: f64 = 0.02;
/// A grid smaller than this share of the community's median grid area is unusual.
pub const AREA_MIN_RATIO: f64 = 0.25;
/// A grid larger than this multiple of the community's median grid area is unusual.
pub const AREA_MAX_RATIO: f64 = 4.0;
/// A part or hole enclosing less than this is degenerate (square metres).
pub const ZERO_AREA_M2: f64 = 0.01;
/// Turning back by more than 179° at a vertex (an angle under 1°) is a spike.
const SPIKE_MAX_ANGLE_DEG: f64 = 1.0;

fn v(
    rule: &'static str,
    severity: Severity,
    zh: String,
    en: String,
    codes: Vec<Code>,
    geometry: Geometry<f64>,
) -> Violation {
    Violation { rule, severity, message_zh: zh, message_en: en, codes, geometry }
}

/// The state of the grids after an edit, as far as the rules need it.
pub struct After<'a> {
    /// New current versions of the edit.
    pub write: &'a [Region],
    /// Codes whose current version ends (reshaped and retired grids).
    pub removed: &'a BTreeSet<Code>,
    /// Staff serving each written grid after the edit.
    pub staff_count: &'a BTreeMap<Code, usize>,
}

/// Checks every rule on the written grids; returns every violation, errors and warnings.
pub fn check(ctx: &Context<'_>, after: &After<'_>) -> Vec<Violation> {
    let metric = Metric::new(&ctx.snap.projection);
    let mut out = Vec::new();
    for r in after.write {
        check_geometry(&mut out, &r.code, &r.geometry, &metric);
    }
    let unreadable: BTreeSet<Code> =
        after.write.iter().filter(|r| !readable(&r.geometry)).filter_map(|r| r.code.parent()).collect();
    let communities: BTreeSet<Code> = after.write.iter().filter_map(|r| r.code.parent()).collect();
    for community in communities.difference(&unreadable) {
        check_community(ctx, after, community, &metric, &mut out);
    }
    let polygons: Vec<Region> =
        after.write.iter().filter(|r| r.code.parent().is_some_and(|c| !unreadable.contains(&c))).cloned().collect();
    let after = After { write: &polygons, removed: after.removed, staff_count: after.staff_count };
    check_buildings(ctx, &after, &metric, &mut out);
    check_load(ctx, &after, &mut out);
    out
}

/// Whether `mp` can be read as polygons at all: coordinates finite and in range, every ring
/// closed with at least 3 distinct vertices.
pub fn readable(mp: &MultiPolygon<f64>) -> bool {
    !mp.0.is_empty()
        && rings(mp).all(|(_, _, r)| {
            let closed = r.0.len() >= 4 && r.0.first() == r.0.last();
            let mut d = r.0.clone();
            d.dedup();
            closed && d.len() >= 4 && r.0.iter().all(|c| crate::model::crs::check_lon_lat(c.x, c.y).is_ok())
        })
}

// ---- geometry validity -------------------------------------------------------------------

/// The rings of a multipolygon with (polygon, ring) positions.
fn rings(mp: &MultiPolygon<f64>) -> impl Iterator<Item = (usize, usize, &geo::LineString<f64>)> {
    mp.0.iter().enumerate().flat_map(|(pi, p)| {
        std::iter::once(p.exterior()).chain(p.interiors()).enumerate().map(move |(ri, r)| (pi, ri, r))
    })
}

/// Checks a grid shape on its own: coordinates, rings, self-intersections, spikes, area.
pub fn check_geometry(out: &mut Vec<Violation>, code: &Code, mp: &MultiPolygon<f64>, metric: &Metric) {
    let codes = || vec![code.clone()];
    if mp.0.is_empty() {
        out.push(v(
            "invalid-ring",
            Severity::Error,
            format!("网格 {code} 的边界为空"),
            format!("grid {code} has an empty boundary"),
            codes(),
            Geometry::MultiPolygon(mp.clone()),
        ));
        return;
    }
    let bad: Vec<Coord<f64>> = rings(mp)
        .flat_map(|(_, _, r)| r.0.iter().copied())
        .filter(|c| crate::model::crs::check_lon_lat(c.x, c.y).is_err())
        .collect();
    if !bad.is_empty() {
        let shown: Vec<Point<f64>> =
            bad.iter().filter(|c| c.x.is_finite() && c.y.is_finite()).map(|&c| Point(c)).collect();
        out.push(v(
            "invalid-coordinates",
            Severity::Error,
            format!("网格 {code} 有 {} 个坐标无效（须为有限数，经度 -180 至 180，纬度 -90 至 90）", bad.len()),
            format!(
                "grid {code} has {} invalid coordinates (must be finite, longitude -180 to 180, latitude -90 to 90)",
                bad.len()
            ),
            codes(),
            Geometry::MultiPoint(MultiPoint(shown)),
        ));
        // Nothing else can be measured meaningfully.
        return;
    }
    for (pi, ri, r) in rings(mp) {
        let closed = r.0.len() >= 2 && r.0.first() == r.0.last();
        let mut distinct = r.0.clone();
        distinct.dedup();
        if closed {
            distinct.pop();
        }
        let what = if ri == 0 { "exterior ring".to_string() } else { format!("hole {ri}") };
        let what_zh = if ri == 0 { "外环".to_string() } else { format!("第 {ri} 个内环") };
        if !closed || distinct.len() < 3 {
            let (zh, en) = if !closed {
                (
                    format!("网格 {code} 第 {} 个多边形的{what_zh}未闭合（首末点须相同）", pi + 1),
                    format!(
                    "grid {code}, polygon {}: the {what} is not closed (its first and last positions must be equal)",
                    pi + 1
                ),
                )
            } else {
                (
                    format!("网格 {code} 第 {} 个多边形的{what_zh}不足 3 个不同顶点", pi + 1),
                    format!("grid {code}, polygon {}: the {what} has fewer than 3 distinct vertices", pi + 1),
                )
            };
            out.push(v("invalid-ring", Severity::Error, zh, en, codes(), Geometry::LineString(r.clone())));
            continue;
        }
        // Spikes: the boundary turns back on itself at a vertex.
        let n = distinct.len();
        let mut spikes = Vec::new();
        for i in 0..n {
            let (a, b, c) = (distinct[(i + n - 1) % n], distinct[i], distinct[(i + 1) % n]);
            let (ax, ay) = metric.to_m(a);
            let (bx, by) = metric.to_m(b);
            let (cx, cy) = metric.to_m(c);
            let (ux, uy, wx, wy) = (ax - bx, ay - by, cx - bx, cy - by);
            let angle = (ux * wy - uy * wx).abs().atan2(ux * wx + uy * wy).to_degrees();
            if angle < SPIKE_MAX_ANGLE_DEG {
                spikes.push(Point(b));
            }
        }
        if !spikes.is_empty() {
            out.push(v(
                "spike",
                Severity::Error,
                format!("网格 {code} 的边界在 {} 处折返成尖刺（夹角小于 1°）", spikes.len()),
                format!(
                    "grid {code}: the boundary turns back on itself (a spike, angle under 1°) at {} vertices",
                    spikes.len()
                ),
                codes(),
                Geometry::MultiPoint(MultiPoint(spikes)),
            ));
        }
        let ring_area = metric.polygon_area_m2(&Polygon::new(r.clone(), vec![]));
        if ring_area < ZERO_AREA_M2 {
            out.push(v(
                "zero-area",
                Severity::Error,
                format!("网格 {code} 第 {} 个多边形的{what_zh}面积仅 {ring_area:.2} 平方米", pi + 1),
                format!("grid {code}, polygon {}: the {what} encloses only {ring_area:.2} m²", pi + 1),
                codes(),
                Geometry::Polygon(Polygon::new(r.clone(), vec![])),
            ));
        }
    }
    let crossings = self_intersections(mp);
    if !crossings.is_empty() {
        out.push(v(
            "self-intersection",
            Severity::Error,
            format!("网格 {code} 的边界自相交（{} 处）", crossings.len()),
            format!("grid {code}: the boundary intersects itself at {} points", crossings.len()),
            codes(),
            Geometry::MultiPoint(MultiPoint(crossings.into_iter().map(Point).collect())),
        ));
    }
    // What geo's validation adds: holes outside their shell, parts overlapping or sharing edges.
    for e in mp.validation_errors() {
        use geo::algorithm::validation::{InvalidMultiPolygon as M, InvalidPolygon as P};
        let (i, msg) = match &e {
            M::InvalidPolygon(i, P::InteriorRingNotContainedInExteriorRing(_))
            | M::InvalidPolygon(i, P::IntersectingRingsOnALine(..))
            | M::InvalidPolygon(i, P::IntersectingRingsOnAnArea(..)) => (i.0, e.to_string()),
            M::ElementsOverlaps(i, _) | M::ElementsTouchOnALine(i, _) => (i.0, e.to_string()),
            _ => continue,
        };
        out.push(v(
            "invalid-polygon",
            Severity::Error,
            format!("网格 {code} 的多边形结构无效：{msg}"),
            format!("grid {code}: invalid polygon structure: {msg}"),
            codes(),
            Geometry::Polygon(mp.0[i.min(mp.0.len() - 1)].clone()),
        ));
    }
}

/// Points where segments of the shape meet other than at shared ends of consecutive segments.
/// Within one ring any contact counts; between rings only crossings and shared stretches
/// (touching at a point is allowed between rings by the OGC rules).
fn self_intersections(mp: &MultiPolygon<f64>) -> Vec<Coord<f64>> {
    struct Seg {
        a: Coord<f64>,
        b: Coord<f64>,
        ring: usize,
        idx: usize,
        len: usize,
    }
    let mut segs: Vec<Seg> = Vec::new();
    for (ring_no, (_, _, r)) in rings(mp).enumerate() {
        let mut pts = r.0.clone();
        pts.dedup();
        let len = pts.len().saturating_sub(1);
        for (idx, w) in pts.windows(2).enumerate() {
            segs.push(Seg { a: w[0], b: w[1], ring: ring_no, idx, len });
        }
    }
    segs.sort_by(|s, t| s.a.x.min(s.b.x).total_cmp(&t.a.x.min(t.b.x)));
    let mut out: Vec<Coord<f64>> = Vec::new();
    for i in 0..segs.len() {
        let s = &segs[i];
        let max_x = s.a.x.max(s.b.x);
        for t in &segs[i + 1..] {
            if t.a.x.min(t.b.x) > max_x {
                break;
            }
            if s.a.y.max(s.b.y) < t.a.y.min(t.b.y) || t.a.y.max(t.b.y) < s.a.y.min(s.b.y) {
                continue;
            }
            let same = s.ring == t.ring;
            let adjacent = same && {
                let d = s.idx.abs_diff(t.idx);
                d == 1 || d + 1 == s.len
            };
            for p in contact(s.a, s.b, t.a, t.b) {
                let shared_end = |p: Coord<f64>| (p == s.a || p == s.b) && (p == t.a || p == t.b);
                if adjacent && shared_end(p) {
                    continue;
                }
                if !same {
                    // Between rings: a single touching point at a vertex is fine.
                    let touching = p == s.a || p == s.b || p == t.a || p == t.b;
                    if touching && !collinear_overlap(s.a, s.b, t.a, t.b) {
                        continue;
                    }
                }
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

fn orient(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>) -> f64 {
    robust::orient2d(
        robust::Coord { x: a.x, y: a.y },
        robust::Coord { x: b.x, y: b.y },
        robust::Coord { x: c.x, y: c.y },
    )
}

fn on_segment(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

fn collinear_overlap(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    orient(a, b, c) == 0.0 && orient(a, b, d) == 0.0 && {
        let pts: Vec<Coord<f64>> = [c, d]
            .into_iter()
            .filter(|&p| on_segment(p, a, b))
            .chain([a, b].into_iter().filter(|&p| on_segment(p, c, d)))
            .collect();
        let mut uniq = pts.clone();
        uniq.sort_by(|p, q| p.x.total_cmp(&q.x).then(p.y.total_cmp(&q.y)));
        uniq.dedup();
        uniq.len() >= 2
    }
}

/// The points where segments `a`–`b` and `c`–`d` meet (none, one, or the two ends of a shared
/// collinear stretch). Predicates are exact; the crossing point is computed in floating point.
fn contact(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> Vec<Coord<f64>> {
    let (o1, o2, o3, o4) = (orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b));
    if o1 == 0.0 && o2 == 0.0 {
        let mut pts: Vec<Coord<f64>> = [c, d]
            .into_iter()
            .filter(|&p| on_segment(p, a, b))
            .chain([a, b].into_iter().filter(|&p| on_segment(p, c, d)))
            .collect();
        pts.sort_by(|p, q| p.x.total_cmp(&q.x).then(p.y.total_cmp(&q.y)));
        pts.dedup();
        return pts;
    }
    if o1 * o2 > 0.0 || o3 * o4 > 0.0 {
        return vec![];
    }
    if o1 == 0.0 {
        return vec![c];
    }
    if o2 == 0.0 {
        return vec![d];
    }
    if o3 == 0.0 {
        return vec![a];
    }
    if o4 == 0.0 {
        return vec![b];
    }
    let t = o3 / (o3 - o4);
    vec![Coord { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t }]
}

// ---- community rules: inside, overlap, gap -----------------------------------------------

fn check_community(ctx: &Context<'_>, after: &After<'_>, community: &Code, metric: &Metric, out: &mut Vec<Violation>) {
    let snap = ctx.snap;
    let written: Vec<&Region> = after.write.iter().filter(|r| r.code.parent().as_ref() == Some(community)).collect();
    let kept: Vec<&Region> = snap
        .children(community)
        .iter()
        .filter(|c| !after.removed.contains(*c))
        .filter_map(|c| snap.region(c))
        .collect();
    let Some(com) = snap.region(community) else {
        out.push(v(
            "outside-community",
            Severity::Error,
            format!("社区 {community} 不存在"),
            format!("community {community} does not exist"),
            written.iter().map(|r| r.code.clone()).collect(),
            Geometry::MultiPolygon(MultiPolygon(vec![])),
        ));
        return;
    };
    for w in &written {
        let outside = super::geom::significant(w.geometry.difference(&com.geometry), metric, AREA_TOLERANCE_M2);
        if !outside.0.is_empty() {
            let a = metric.area_m2(&outside);
            out.push(v(
                "outside-community",
                Severity::Error,
                format!("网格 {} 有 {a:.1} 平方米超出所属社区 {}（{}）", w.code, community, com.name),
                format!("grid {}: {a:.1} m² lie outside its community {community}", w.code),
                vec![w.code.clone()],
                Geometry::MultiPolygon(outside),
            ));
        }
    }
    // Overlaps: each written grid against every other grid of the community after the edit.
    let all: Vec<&Region> = written.iter().copied().chain(kept.iter().copied()).collect();
    for (i, w) in written.iter().enumerate() {
        let Some(wb) = w.geometry.bounding_rect() else { continue };
        for (j, o) in all.iter().enumerate() {
            // Pairs of written grids once (j > i); written against kept always.
            if j <= i {
                continue;
            }
            let Some(ob) = o.geometry.bounding_rect() else { continue };
            if !geo::Intersects::intersects(&wb, &ob) {
                continue;
            }
            let overlap = super::geom::significant(w.geometry.intersection(&o.geometry), metric, AREA_TOLERANCE_M2);
            if !overlap.0.is_empty() {
                let a = metric.area_m2(&overlap);
                out.push(v(
                    "overlaps-sibling",
                    Severity::Error,
                    format!("网格 {} 与网格 {} 重叠 {a:.1} 平方米", w.code, o.code),
                    format!("grid {} overlaps grid {} by {a:.1} m²", w.code, o.code),
                    vec![w.code.clone(), o.code.clone()],
                    Geometry::MultiPolygon(overlap),
                ));
            }
        }
    }
    // Gap: the community minus the union of its grids after the edit.
    let covered = super::geom::union_all(all.iter().map(|r| &r.geometry));
    let gap = super::geom::significant(com.geometry.difference(&covered), metric, AREA_TOLERANCE_M2);
    if !gap.0.is_empty() {
        let a = metric.area_m2(&gap);
        out.push(v(
            "gap",
            Severity::Error,
            format!("社区 {community}（{}）有 {a:.1} 平方米不属于任何网格", com.name),
            format!("{a:.1} m² of community {community} would belong to no grid"),
            written.iter().map(|r| r.code.clone()).collect(),
            Geometry::MultiPolygon(gap),
        ));
    }
}

// ---- buildings ----------------------------------------------------------------------------

fn check_buildings(ctx: &Context<'_>, after: &After<'_>, metric: &Metric, out: &mut Vec<Violation>) {
    let snap = ctx.snap;
    let Some(bbox) = bbox_of(after.write.iter().map(|r| &r.geometry)) else { return };
    let severity = if ctx.rules.building_cut_is_error { Severity::Error } else { Severity::Warning };
    for bi in snap.layer_in_bbox(LayerKind::Buildings, bbox) {
        let b = &snap.data.buildings[bi];
        let Some(bb) = b.geometry.bounding_rect() else { continue };
        let footprint = metric.polygon_area_m2(&b.geometry);
        let building = MultiPolygon(vec![b.geometry.clone()]);
        for w in after.write {
            if !crosses_box(&w.geometry, bb) {
                continue;
            }
            let inside = metric.area_m2(&building.intersection(&w.geometry));
            let smaller = inside.min(footprint - inside);
            if smaller >= BUILDING_CUT_MIN_M2 && smaller >= BUILDING_CUT_MIN_SHARE * footprint {
                out.push(v(
                    "building-cut",
                    severity,
                    format!("网格 {} 的边界把建筑 {}（{}）分成两部分", w.code, b.id, b.address_text),
                    format!("the boundary of grid {} cuts building {} in two", w.code, b.id),
                    vec![w.code.clone()],
                    Geometry::Polygon(b.geometry.clone()),
                ));
                break;
            }
        }
    }
}

/// Whether some edge of `mp` passes through the box `r` (conservative: by segment boxes).
fn crosses_box(mp: &MultiPolygon<f64>, r: geo::Rect<f64>) -> bool {
    rings(mp).any(|(_, _, ring)| {
        ring.0.windows(2).any(|w| {
            w[0].x.min(w[1].x) <= r.max().x
                && w[0].x.max(w[1].x) >= r.min().x
                && w[0].y.min(w[1].y) <= r.max().y
                && w[0].y.max(w[1].y) >= r.min().y
        })
    })
}

// ---- size and load ------------------------------------------------------------------------

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 })
}

fn check_load(ctx: &Context<'_>, after: &After<'_>, out: &mut Vec<Violation>) {
    let snap = ctx.snap;
    let metric = Metric::new(&snap.projection);
    let mut typical: BTreeMap<Code, Option<f64>> = BTreeMap::new();
    for w in after.write {
        let Some(community) = w.code.parent() else { continue };
        let typ = *typical.entry(community.clone()).or_insert_with(|| {
            median(
                snap.children(&community)
                    .iter()
                    .filter_map(|c| snap.region(c))
                    .map(|r| metric.area_m2(&r.geometry))
                    .collect(),
            )
        });
        let area = metric.area_m2(&w.geometry);
        if let Some(typ) = typ.filter(|&t| t > 0.0) {
            let ratio = area / typ;
            if !(AREA_MIN_RATIO..=AREA_MAX_RATIO).contains(&ratio) {
                out.push(v(
                    "area-unusual",
                    Severity::Warning,
                    format!(
                        "网格 {} 面积 {:.0} 平方米，是社区网格面积中位数（{:.0} 平方米）的 {ratio:.2} 倍",
                        w.code, area, typ
                    ),
                    format!(
                        "grid {} has {:.0} m², {ratio:.2} times the median grid of its community ({:.0} m²; usual range {AREA_MIN_RATIO}-{AREA_MAX_RATIO}×)",
                        w.code, area, typ
                    ),
                    vec![w.code.clone()],
                    Geometry::MultiPolygon(w.geometry.clone()),
                ));
            }
        }
        let staff = after.staff_count.get(&w.code).copied().unwrap_or(0);
        let per = ctx.rules.households_per_worker.max(1) as usize;
        if w.households as usize > staff * per {
            out.push(v(
                "understaffed",
                Severity::Warning,
                format!(
                    "网格 {} 有 {} 户，只有 {staff} 名网格人员（按每 {per} 户 1 人，至少需要 {} 人）",
                    w.code,
                    w.households,
                    (w.households as usize).div_ceil(per)
                ),
                format!(
                    "grid {} has {} households but {staff} staff (one per {per} households needs {})",
                    w.code,
                    w.households,
                    (w.households as usize).div_ceil(per)
                ),
                vec![w.code.clone()],
                Geometry::MultiPolygon(w.geometry.clone()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, LineString};

    #[test]
    fn finds_crossings_and_ignores_consecutive_segments() {
        let square =
            MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)]]);
        assert!(self_intersections(&square).is_empty());
        let bowtie = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]),
            vec![],
        )]);
        assert_eq!(self_intersections(&bowtie), vec![Coord { x: 0.5, y: 0.5 }]);
        // A ring touching itself at a vertex (an inverted hole) is not simple either.
        let pinched = MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (2.0, 0.0), (0.0, 4.0), (0.0, 0.0)]),
            vec![],
        )]);
        assert_eq!(self_intersections(&pinched), vec![Coord { x: 2.0, y: 0.0 }]);
    }
}
