//! Joining neighbouring grids of one community into one.
//!
//! The grids must be two or more distinct current grids of the same community whose union is
//! one connected polygon (each shares a stretch of boundary with another; touching at a single
//! point is not enough). The union is computed by geo's boolean union, after which the exact
//! input vertices are restored and the neighbours' vertices that lie on the new outline are put
//! back (the union drops collinear vertices), so the merged grid still shares its vertices
//! exactly with the grids around it.

use geo::MultiPolygon;

use super::geom::{restore_vertices, union_all, vertices, Metric};
use super::snap::{reach_of, snap_shape, Neighbours};
use super::{Context, EditError};
use crate::model::{Code, Region};

/// Tolerance for putting neighbour vertices back on the merged outline (metres).
const REINSERT_TOL_M: f64 = 0.001;

/// Checks the merge and returns the merged outline.
pub fn union_of(ctx: &Context<'_>, sources: &[&Region]) -> Result<MultiPolygon<f64>, EditError> {
    let community = sources[0].code.parent();
    if let Some(other) = sources.iter().find(|r| r.code.parent() != community) {
        return Err(EditError::Invalid(format!(
            "grids {} and {} belong to different communities; only grids of one community can be merged",
            sources[0].code, other.code
        )));
    }
    let merged = union_all(sources.iter().map(|r| &r.geometry));
    if merged.0.len() != 1 {
        let codes: Vec<String> = sources.iter().map(|r| r.code.to_string()).collect();
        return Err(EditError::Invalid(format!(
            "grids {} are not neighbours: together they form {} separate areas; only grids that share a \
             boundary can be merged",
            codes.join(", "),
            merged.0.len()
        )));
    }
    let originals = vertices(sources.iter().map(|r| &r.geometry));
    let merged = restore_vertices(merged, &originals);
    // Put back the vertices of the neighbours (and of the community) that lie on the outline.
    let metric = Metric::new(&ctx.snap.projection);
    let mut nb = Neighbours::default();
    if let (Some(community), Some(area)) = (community, reach_of(&merged, &metric, REINSERT_TOL_M)) {
        let merged_codes: Vec<&Code> = sources.iter().map(|r| &r.code).collect();
        for c in ctx.snap.children(&community) {
            if !merged_codes.contains(&c) {
                if let Some(r) = ctx.snap.region(c) {
                    nb.add(&r.geometry, area);
                }
            }
        }
        if let Some(com) = ctx.snap.region(&community) {
            nb.add(&com.geometry, area);
        }
    }
    Ok(snap_shape(&merged, &nb, &metric, REINSERT_TOL_M))
}
