//! New grid codes and names for the results of a split or merge.
//!
//! * **Which numbers**: the smallest grid numbers of the community (1, 2, ... up to 99, or 999
//!   for 3-digit districts) whose code is neither a current grid nor in `used_codes` (every
//!   code ever registered, retired ones too), in ascending order. A code once retired is never
//!   given out again; when the community has no number left the edit is refused.
//! * **Which part gets which number**: parts are put in reading order, the order the generator
//!   numbers grids in: by their representative point (geo's interior point) in local metres,
//!   in rows of height `band = sqrt(total area / parts)` from north to south, and west to east
//!   within a row (ties by position in the input). The first part in that order gets the
//!   smallest new number.
//! * **Names**: a new grid is named like the generator names grids, after its community and its
//!   own number: `<community name>第<number in Chinese>网格` (e.g. 前进社区第十二网格).

use std::collections::BTreeSet;

use geo::MultiPolygon;

use super::geom::{representative_point, Metric};
use super::{Context, EditError};
use crate::model::{Code, CodeScheme};

/// The `n` smallest unused grid codes of `community`.
pub fn next_codes(ctx: &Context<'_>, community: &Code, n: usize) -> Result<Vec<Code>, EditError> {
    let scheme = CodeScheme::new(ctx.snap.data.district.grid_width).unwrap_or_default();
    let current: BTreeSet<&Code> = ctx.snap.children(community).into_iter().collect();
    let mut out = Vec::with_capacity(n);
    for number in 1..=scheme.max_grid_number() {
        if out.len() == n {
            break;
        }
        let code = scheme.grid_code(community, number).map_err(|e| EditError::Invalid(e.to_string()))?;
        if !ctx.used_codes.contains(&code) && !current.contains(&code) {
            out.push(code);
        }
    }
    if out.len() < n {
        return Err(EditError::Invalid(format!(
            "community {community} has no unused grid numbers left: {n} new codes are needed, {} remain of {} \
             (retired codes are never reused; a 3-digit grid_width allows up to 999)",
            out.len(),
            scheme.max_grid_number()
        )));
    }
    Ok(out)
}

/// The order in which `parts` receive the new codes (indices into `parts`); see the module docs.
pub fn reading_order(ctx: &Context<'_>, parts: &[MultiPolygon<f64>]) -> Vec<usize> {
    let metric = Metric::new(&ctx.snap.projection);
    let total: f64 = parts.iter().map(|p| metric.area_m2(p)).sum();
    let band = (total / parts.len().max(1) as f64).sqrt().max(1.0);
    let centres: Vec<(f64, f64)> = parts
        .iter()
        .map(|p| representative_point(p).map_or((0.0, 0.0), |pt| ctx.snap.projection.to_local(pt.x(), pt.y())))
        .collect();
    let row = |c: (f64, f64)| (-c.1 / band).floor() as i64;
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| {
        row(centres[a]).cmp(&row(centres[b])).then(centres[a].0.total_cmp(&centres[b].0)).then(a.cmp(&b))
    });
    order
}

/// The name of a new grid: `<community name>第<number>网格`.
pub fn grid_name(community_name: &str, code: &Code) -> String {
    format!("{community_name}第{}网格", chinese_number(code.local_number()))
}

/// 1..=999 in Chinese numerals (一, 十二, 一百零五, ...).
pub fn chinese_number(n: u32) -> String {
    const D: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let (h, t, u) = (n / 100, (n / 10) % 10, n % 10);
    let mut s = String::new();
    if h > 0 {
        s.push_str(D[h as usize]);
        s.push('百');
        if t == 0 && u > 0 {
            s.push('零');
        }
    }
    if t > 0 {
        if !(h == 0 && t == 1) {
            s.push_str(D[t as usize]);
        }
        s.push('十');
    }
    if u > 0 || n == 0 {
        s.push_str(D[u as usize]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_numbers() {
        let cases = [(1, "一"), (9, "九"), (10, "十"), (12, "十二"), (20, "二十"), (99, "九十九")];
        for (n, s) in cases {
            assert_eq!(chinese_number(n), s);
        }
        assert_eq!(chinese_number(105), "一百零五");
        assert_eq!(chinese_number(110), "一百一十");
        assert_eq!(chinese_number(999), "九百九十九");
    }
}
