//! Grid edits over HTTP: reshape (`PUT /api/grids/{code}`), boundary moves, split, merge,
//! revert, the dry run (`POST /api/validate`) and the history of a grid.
//!
//! Every save follows one path ([`save`]), in this order, and writes nothing unless it reaches
//! the commit:
//!
//! 1. the caller must be a planner (403, rule `role`) and give a reason (400);
//! 2. in-process edits are serialised ([`Live::lock_writes`](crate::index::Live::lock_writes)),
//!    so each plans against the snapshot holding every edit committed before it;
//! 3. every grid touched must exist (404) at the version the editor saw (If-Match / `version`:
//!    428 when missing, 412 with `current_version` and the ETag when stale);
//! 4. a scoped caller may touch only grids in the scope, and new geometry must stay inside the
//!    scope region (403, rule `outside-scope`);
//! 5. `edit::plan` applies the rules; an error-level violation is a 422 carrying the violations
//!    and the impact;
//! 6. the store commits the plan in one transaction, re-checking the versions (412 if another
//!    process won the race);
//! 7. only then is the next snapshot published: the current one plus the edit, or a reload when
//!    another process committed in between (see `Committed::previous`).
//!
//! Handlers never touch SQL: they call the planner, the store trait and the index.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use geo::{Area, BooleanOps, Euclidean, Length, MultiPolygon};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::params::path_code;
use super::AppState;
use crate::auth::Caller;
use crate::edit::{self, violations_json, Context, EditError, EditOp, GridShape, Plan, RuleConfig, Severity};
use crate::index::Snapshot;
use crate::model::geojson::{as_multi_polygon, geometry_from_json, geometry_to_json, Feature};
use crate::model::{Code, Level, Region};
use crate::store::{GridEdit, StoreError, MAX_REASON_CHARS};

mod openapi;
pub use openapi::{at_param, openapi_paths, put_grid as openapi_put_grid};

/// The routes of this module (PUT on `/api/grids/{code}` is registered with its GET in
/// `api::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/grids/boundary", post(boundary))
        .route("/api/grids/merge", post(merge))
        .route("/api/grids/{code}/split", post(split))
        .route("/api/grids/{code}/revert", post(revert))
        .route("/api/grids/{code}/history", get(history))
        .route("/api/validate", post(validate))
}

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

/// Why an edit was refused: an ordinary problem, or a stale version (412 with the ETag of the
/// current version, which a problem alone cannot carry).
#[derive(Debug)]
pub enum Refusal {
    Problem(ApiError),
    Stale { code: Code, current_version: Option<u32> },
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Problem(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::Conflict { code, current_version } => Refusal::Stale { code, current_version },
            other => Refusal::Problem(other.into()),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Problem(e) => e.into_response(),
            Refusal::Stale { code, current_version } => {
                let detail = match current_version {
                    Some(v) => format!(
                        "grid {code} has changed since it was read: its current version is {v}. Reload it \
                         (GET /api/grids/{code}), redo the edit on the current boundary and send If-Match: \"{v}\""
                    ),
                    None => format!("grid {code} no longer exists (it was split or merged); reload the map"),
                };
                let mut resp = ApiError::new(StatusCode::PRECONDITION_FAILED, "stale-version", detail)
                    .with("code", code.to_string())
                    .with("current_version", current_version.map_or(Value::Null, Value::from))
                    .into_response();
                if let Some(v) = current_version {
                    if let Ok(etag) = HeaderValue::from_str(&format!("\"{v}\"")) {
                        resp.headers_mut().insert(header::ETAG, etag);
                    }
                }
                resp
            }
        }
    }
}

fn forbidden(rule: &'static str, detail: String) -> Refusal {
    Refusal::Problem(ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail).with("rule", rule))
}

fn bad(detail: impl Into<String>) -> Refusal {
    Refusal::Problem(ApiError::bad_request("invalid-edit", detail))
}

fn version_required(detail: impl Into<String>) -> Refusal {
    Refusal::Problem(ApiError::new(StatusCode::PRECONDITION_REQUIRED, "version-required", detail))
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// An edit as requested, before it is checked against the snapshot.
#[derive(Debug, Clone)]
enum Request {
    /// New boundaries for one grid (PUT) or several (boundary move); `name` renames a single grid.
    Reshape {
        shapes: Vec<GridShape>,
        name: Option<String>,
    },
    Split {
        code: Code,
        version: u32,
        line: geo::LineString<f64>,
        assign: BTreeMap<u32, usize>,
    },
    Merge {
        grids: Vec<(Code, u32)>,
        name: Option<String>,
    },
    /// Back to the geometry of an earlier version `to`, as a new version.
    Revert {
        code: Code,
        version: u32,
        to: u32,
    },
}

impl Request {
    /// Every (code, version the editor saw) the request touches.
    fn expected(&self) -> Vec<(Code, u32)> {
        match self {
            Request::Reshape { shapes, .. } => shapes.iter().map(|s| (s.code.clone(), s.expected_version)).collect(),
            Request::Split { code, version, .. } | Request::Revert { code, version, .. } => {
                vec![(code.clone(), *version)]
            }
            Request::Merge { grids, .. } => grids.clone(),
        }
    }

    /// The edit for the planner; a revert takes the earlier version's geometry from the history.
    fn op(&self, snap: &Snapshot) -> Result<EditOp, Refusal> {
        Ok(match self.clone() {
            Request::Reshape { shapes, .. } => EditOp::Reshape { grids: shapes },
            Request::Split { code, version, line, assign } => {
                EditOp::Split { code, expected_version: version, line, assign }
            }
            Request::Merge { grids, name } => EditOp::Merge { grids, name },
            Request::Revert { code, version, to } => {
                let old = snap.history().of_code(&code).iter().find(|r| r.version == to).ok_or_else(|| {
                    Refusal::Problem(ApiError::not_found(format!(
                        "grid {code} has no earlier version {to}; GET /api/grids/{code}/history lists them"
                    )))
                })?;
                EditOp::Reshape {
                    grids: vec![GridShape { code, expected_version: version, geometry: old.geometry.clone() }],
                }
            }
        })
    }

    /// New geometry drawn by the editor (what the scope check looks at); split and merge only
    /// redistribute what the touched grids already cover.
    fn new_geometry(&self, snap: &Snapshot) -> Vec<MultiPolygon<f64>> {
        match self {
            Request::Reshape { shapes, .. } => shapes.iter().map(|s| s.geometry.clone()).collect(),
            Request::Revert { code, to, .. } => {
                snap.history().of_code(code).iter().filter(|r| r.version == *to).map(|r| r.geometry.clone()).collect()
            }
            Request::Split { .. } | Request::Merge { .. } => Vec::new(),
        }
    }
}

/// The body as JSON.
fn json_body(body: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|e| {
        Refusal::Problem(ApiError::bad_request("invalid-json", format!("the body is not valid JSON: {e}")))
    })
}

/// The `reason` member: required for a save (1-500 characters), optional for a dry run.
fn reason_of(body: &Value, required: bool) -> Result<Option<String>, Refusal> {
    match body.get("reason") {
        None | Some(Value::Null) if !required => Ok(None),
        // A dry run may leave the reason for later.
        Some(Value::String(s)) if !required && s.trim().is_empty() => Ok(None),
        None | Some(Value::Null) => Err(bad("a \"reason\" is required: say why the grid changes (1-500 characters)")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(bad("the \"reason\" is empty; say why the grid changes")),
        Some(Value::String(s)) if s.chars().count() > MAX_REASON_CHARS => Err(bad(format!(
            "the \"reason\" is {} characters long; at most {MAX_REASON_CHARS} are kept",
            s.chars().count()
        ))),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(bad(format!("\"reason\" must be a string, got {other}"))),
    }
}

fn optional_name(v: Option<&Value>) -> Result<Option<String>, Refusal> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 100 => Ok(Some(s.trim().to_string())),
        Some(other) => Err(bad(format!("\"name\" must be a non-empty string of at most 100 characters, got {other}"))),
    }
}

fn grid_code(raw: &str) -> Result<Code, Refusal> {
    path_code(raw, Level::Grid).map_err(Refusal::Problem)
}

fn code_member(v: &Value, what: &str) -> Result<Code, Refusal> {
    match v.get("code") {
        Some(Value::String(s)) => grid_code(s),
        _ => Err(bad(format!("{what} needs a \"code\" (a grid code as a string)"))),
    }
}

/// A version number from JSON; `None` when absent (→ 428 by the caller).
fn version_member(v: Option<&Value>, what: &str) -> Result<Option<u32>, Refusal> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()).filter(|&n| n >= 1) {
            Some(n) => Ok(Some(n)),
            None => Err(bad(format!("{what}: a version is a whole number from 1, got {n}"))),
        },
    }
}

/// The version in `If-Match` (`"3"`; `W/"3"` and a bare `3` are accepted too).
fn if_match(headers: &HeaderMap, code: &Code) -> Result<u32, Refusal> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Err(version_required(format!(
            "send If-Match with the version you edited (the ETag of GET /api/grids/{code}), so that an edit \
             made meanwhile by someone else is not overwritten"
        )));
    };
    let text = raw.to_str().unwrap_or("").trim();
    let inner = text.trim_start_matches("W/").trim_matches('"');
    inner.parse::<u32>().ok().filter(|&v| v >= 1).ok_or_else(|| {
        bad(format!(
            "If-Match must be the quoted version of grid {code} as its ETag gives it (e.g. \"3\"), got {text:?}"
        ))
    })
}

/// A Polygon or MultiPolygon from a GeoJSON geometry object.
fn area_geometry(v: Option<&Value>, what: &str) -> Result<MultiPolygon<f64>, Refusal> {
    let v =
        v.filter(|v| !v.is_null()).ok_or_else(|| bad(format!("{what} needs a geometry (Polygon or MultiPolygon)")))?;
    let g = geometry_from_json(v).map_err(|e| bad(format!("{what}: {e}")))?;
    as_multi_polygon(g).map_err(|e| bad(format!("{what}: {e}")))
}

/// `PUT` body: a Feature with the new boundary and `properties.reason` / `properties.name`.
fn reshape_request(code: Code, version: u32, feature: &Value) -> Result<(Request, Option<String>), Refusal> {
    Feature::from_json(feature).map_err(|e| bad(format!("the body must be a GeoJSON Feature: {e}")))?;
    let geometry = area_geometry(feature.get("geometry"), "the Feature")?;
    let props = feature.get("properties").cloned().unwrap_or(Value::Null);
    let name = optional_name(props.get("name"))?;
    let shapes = vec![GridShape { code, expected_version: version, geometry }];
    Ok((Request::Reshape { shapes, name }, reason_of(&props, false)?))
}

/// Boundary body: `{reason, grids: FeatureCollection}`, each feature with `properties.code`
/// and `properties.version`.
fn boundary_request(body: &Value) -> Result<Request, Refusal> {
    let features = body
        .get("grids")
        .and_then(|g| g.get("features"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("\"grids\" must be a GeoJSON FeatureCollection of the grids whose boundary moves"))?;
    if features.len() < 2 {
        return Err(bad("a boundary move needs at least two neighbouring grids; use PUT /api/grids/{code} for one"));
    }
    let mut shapes = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let what = format!("grids.features[{i}]");
        let props = f.get("properties").cloned().unwrap_or(Value::Null);
        let code = code_member(&props, &what)?;
        let version = version_member(props.get("version"), &what)?.ok_or_else(|| {
            version_required(format!("{what} (grid {code}) needs properties.version: the version you edited"))
        })?;
        let geometry = area_geometry(f.get("geometry"), &what)?;
        if shapes.iter().any(|s: &GridShape| s.code == code) {
            return Err(bad(format!("grid {code} appears twice in the boundary move")));
        }
        shapes.push(GridShape { code, expected_version: version, geometry });
    }
    Ok(Request::Reshape { shapes, name: None })
}

fn split_request(code: Code, version: u32, body: &Value) -> Result<Request, Refusal> {
    let line = match body.get("line").map(geometry_from_json) {
        Some(Ok(geo::Geometry::LineString(l))) if l.0.len() >= 2 => l,
        Some(Ok(_)) => return Err(bad("\"line\" must be a GeoJSON LineString of at least two positions")),
        Some(Err(e)) => return Err(bad(format!("\"line\": {e}"))),
        None => return Err(bad("a split needs a \"line\" (GeoJSON LineString) across the grid")),
    };
    let mut assign = BTreeMap::new();
    match body.get("assign") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let id: u32 = k.parse().map_err(|_| bad(format!("\"assign\" keys are staff ids, got {k:?}")))?;
                let part = v.as_u64().ok_or_else(|| bad(format!("\"assign\".{k} must be a part index (0, 1, ...)")))?;
                assign.insert(id, part as usize);
            }
        }
        Some(_) => return Err(bad("\"assign\" must be an object {\"<staff id>\": part index}")),
    }
    Ok(Request::Split { code, version, line, assign })
}

fn merge_request(body: &Value) -> Result<Request, Refusal> {
    let items = body
        .get("grids")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("\"grids\" must be a list of {code, version} of the grids to merge"))?;
    if items.len() < 2 {
        return Err(bad("a merge needs at least two grids"));
    }
    let mut grids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let what = format!("grids[{i}]");
        let code = code_member(item, &what)?;
        let version = version_member(item.get("version"), &what)?
            .ok_or_else(|| version_required(format!("{what} (grid {code}) needs \"version\": the version you saw")))?;
        if grids.iter().any(|(c, _)| *c == code) {
            return Err(bad(format!("grid {code} appears twice in the merge")));
        }
        grids.push((code, version));
    }
    Ok(Request::Merge { grids, name: optional_name(body.get("name"))? })
}

fn revert_request(code: Code, version: u32, to: Option<&Value>) -> Result<Request, Refusal> {
    let to = version_member(to, "the version to revert to")?
        .ok_or_else(|| bad("a revert needs the earlier \"version\" to go back to"))?;
    if to >= version {
        return Err(bad(format!("version {to} is not earlier than the current version {version}")));
    }
    Ok(Request::Revert { code, version, to })
}

// ---------------------------------------------------------------------------------------------
// Checks before the rules
// ---------------------------------------------------------------------------------------------

/// 403 unless the caller may edit.
fn check_role(caller: &Caller) -> Result<(), Refusal> {
    if caller.may_edit() {
        Ok(())
    } else {
        Err(forbidden(
            "role",
            "editing grids needs a planner's token (send Authorization: Bearer <token>); this caller may only read"
                .into(),
        ))
    }
}

/// 404 for unknown grids, 412 for versions that are not current.
fn check_versions(snap: &Snapshot, expected: &[(Code, u32)]) -> Result<(), Refusal> {
    for (code, version) in expected {
        match snap.region(code) {
            Some(current) if current.version == *version => {}
            Some(current) => return Err(Refusal::Stale { code: code.clone(), current_version: Some(current.version) }),
            None if !snap.history().of_code(code).is_empty() => {
                return Err(Refusal::Stale { code: code.clone(), current_version: None })
            }
            None => {
                return Err(Refusal::Problem(ApiError::not_found(format!("there is no grid with code {code}"))));
            }
        }
    }
    Ok(())
}

/// 403 (rule `outside-scope`) when a scoped caller touches a grid outside the scope, or draws
/// geometry outside the scope region by more than the snapping tolerance allows (an area of
/// tolerance × perimeter: a boundary drawn along the scope's edge, up to the tolerance off it).
fn check_scope(caller: &Caller, snap: &Snapshot, req: &Request, rules: &RuleConfig) -> Result<(), Refusal> {
    let Some(scope) = &caller.scope else { return Ok(()) };
    for (code, _) in req.expected() {
        if !caller.scope_allows(&code) {
            return Err(forbidden("outside-scope", format!("grid {code} is outside this caller's scope {scope}")));
        }
    }
    let new = req.new_geometry(snap);
    if new.is_empty() {
        return Ok(());
    }
    let Some(region) = snap.region(scope) else {
        return Err(forbidden("outside-scope", format!("this caller's scope {scope} is not a region of the map")));
    };
    let (sx, sy) = snap.projection.scale();
    for g in &new {
        let outside_m2 = g.difference(&region.geometry).unsigned_area() * sx * sy;
        let perimeter_m: f64 =
            g.0.iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .map(|r| Euclidean.length(r))
                .sum::<f64>()
                * sx.max(sy);
        if outside_m2 > rules.snap_tolerance_m * perimeter_m.max(1.0) {
            return Err(forbidden(
                "outside-scope",
                format!("the new boundary reaches {outside_m2:.0} m² outside this caller's scope {scope}"),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Planning, saving, results
// ---------------------------------------------------------------------------------------------

/// Plans `req` against `snap` on a blocking thread (the rules are geometry work).
async fn plan(snap: std::sync::Arc<Snapshot>, req: &Request) -> Result<Plan, Refusal> {
    let op = req.op(&snap)?;
    let planned = tokio::task::spawn_blocking(move || {
        let rules = RuleConfig::default();
        let ctx = Context { snap: &snap, used_codes: snap.used_grid_codes(), rules: &rules };
        edit::plan(&ctx, &op)
    })
    .await
    .map_err(|e| Refusal::Problem(ApiError::internal(format!("the edit planner failed: {e}"))))?;
    let mut plan = planned.map_err(|e| match e {
        EditError::UnknownGrid(code) => {
            Refusal::Problem(ApiError::not_found(format!("there is no grid with code {code}")))
        }
        EditError::Stale { code, current, .. } => Refusal::Stale { code, current_version: Some(current) },
        EditError::Invalid(m) => bad(m),
    })?;
    if let Request::Reshape { name: Some(name), shapes } = req {
        if let [shape] = shapes.as_slice() {
            for r in plan.write.iter_mut().filter(|r| r.code == shape.code) {
                r.name = name.clone();
            }
        }
    }
    Ok(plan)
}

fn grid_feature(r: &Region) -> Value {
    let mut f = r.to_feature().to_json();
    // Version ordering information for clients that only look at properties.
    if let Some(p) = f.get_mut("properties").and_then(Value::as_object_mut) {
        p.insert("version".into(), r.version.into());
    }
    f
}

/// The EditResult body (see the contract in docs/edit.md).
fn result_json(plan: &Plan, committed: bool) -> Value {
    json!({
        "valid": plan.is_acceptable(),
        "committed": committed,
        "grids": {"type": "FeatureCollection", "features": plan.write.iter().map(grid_feature).collect::<Vec<_>>()},
        "retired": plan.retired_codes,
        "violations": violations_json(&plan.violations),
        "impact": plan.impact,
    })
}

/// 422: an error-level rule is broken; the body carries every violation and the impact.
fn rules_refusal(plan: &Plan) -> Refusal {
    let errors: Vec<&str> = plan.violations.iter().filter(|v| v.severity == Severity::Error).map(|v| v.rule).collect();
    let body = result_json(plan, false);
    Refusal::Problem(
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "edit-rules",
            format!("the edit breaks {} rule(s): {}; nothing was saved", errors.len(), errors.join(", ")),
        )
        .with("violations", body["violations"].clone())
        .with("impact", body["impact"].clone()),
    )
}

/// Runs a save end to end (see the module docs). `single` is the code whose new ETag the
/// response carries (PUT and revert).
async fn save(state: &AppState, caller: &Caller, req: Request, reason: String) -> Result<Response, Refusal> {
    check_role(caller)?;
    let started = std::time::Instant::now();
    let _writing = state.live.lock_writes().await;
    let waited = started.elapsed();
    let snap = state.live.load();
    check_versions(&snap, &req.expected())?;
    let rules = RuleConfig::default();
    check_scope(caller, &snap, &req, &rules)?;
    let plan = plan(snap.clone(), &req).await?;
    let planned = started.elapsed();
    if !plan.is_acceptable() {
        return Err(rules_refusal(&plan));
    }
    let edit = GridEdit {
        retire: plan.retire.clone(),
        write: plan.write.clone(),
        retired_codes: plan.retired_codes.clone(),
        staff: plan.staff.clone(),
        changed_by: caller.name.clone(),
        reason,
    };
    // Commit and publish run in a task of their own, holding the write lock: if the client goes
    // away, the request's future is dropped, but an edit the store committed is still published.
    let task_state = state.clone();
    let committed = tokio::spawn(async move {
        let committed = task_state.store.commit_grid_edit(&edit).await?;
        let stored = started.elapsed();
        publish(&task_state, &snap, &edit, committed).await;
        drop(_writing);
        // Where a slow save spent its time: waiting for another save, planning (rules, impact),
        // the store's transaction, building and publishing the next snapshot.
        tracing::info!(
            by = %edit.changed_by,
            retired = ?edit.retire,
            written = ?edit.write.iter().map(|r| (r.code.as_str(), r.version)).collect::<Vec<_>>(),
            change = ?committed.seq,
            wait_ms = waited.as_millis() as u64,
            plan_ms = (planned - waited).as_millis() as u64,
            commit_ms = (stored - planned).as_millis() as u64,
            publish_ms = (started.elapsed() - stored).as_millis() as u64,
            "grid edit saved"
        );
        Ok::<_, StoreError>(committed)
    })
    .await
    .map_err(|e| Refusal::Problem(ApiError::internal(format!("the edit task failed: {e}"))))??;
    let mut written = plan.clone();
    for r in &mut written.write {
        r.valid_from = committed.at;
    }
    let mut resp = (StatusCode::OK, axum::Json(result_json(&written, true))).into_response();
    if let [only] = written.write.as_slice() {
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", only.version)) {
            resp.headers_mut().insert(header::ETAG, etag);
        }
    }
    Ok(resp)
}

/// Publishes the snapshot after a committed edit (the caller holds the write lock). When the
/// store says another process committed since `snap` was loaded, the edits since `snap` are read
/// back from the store and applied (`sync::catch_up`), so that the other change is not skipped;
/// when that is not possible (an import came in between) or the derived snapshot cannot be
/// built, the whole dataset is reloaded. A failure of both cannot undo the commit: it is
/// logged, and the sync loop (PostGIS) brings the snapshot up to date later.
async fn publish(
    state: &AppState,
    snap: &std::sync::Arc<Snapshot>,
    edit: &GridEdit,
    committed: crate::store::Committed,
) {
    let generation = snap.generation + 1;
    let next = if committed.previous == snap.change_seq {
        let (base, e) = (snap.clone(), edit.clone());
        tokio::task::spawn_blocking(move || {
            base.with_grid_edit(&e.retire, &e.write, &e.staff, committed.at, generation, committed.seq)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    } else {
        // Another process committed in between: apply its edits and this one from the store.
        match crate::sync::catch_up(&*state.store, snap.clone(), generation).await {
            Ok(Some(next)) if next.change_seq >= committed.seq => Ok(next),
            Ok(_) => Err("another process committed in between, and not only grid edits".to_string()),
            Err(e) => Err(format!("another process committed in between, and its edits could not be read: {e}")),
        }
    };
    let next = match next {
        Ok(next) => Ok(next),
        Err(why) => {
            tracing::info!(%why, "reloading the whole dataset after an edit");
            crate::sync::load_snapshot(&*state.store, generation).await.map(|(s, _)| s).map_err(|e| e.to_string())
        }
    };
    match next {
        Ok(next) => state.live.publish(next),
        Err(e) => tracing::error!(error = %e, "edit committed but the new snapshot could not be built"),
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

fn respond(r: Result<Response, Refusal>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

fn required_reason(reason: Option<String>) -> Result<String, Refusal> {
    reason.ok_or_else(|| bad("a \"reason\" is required: say why the grid changes (1-500 characters)"))
}

/// `PUT /api/grids/{code}`: a new boundary for one grid.
pub async fn put_grid(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            check_role(&caller)?;
            let code = grid_code(&raw)?;
            let version = if_match(&headers, &code)?;
            let (req, reason) = reshape_request(code, version, &json_body(&body)?)?;
            save(&state, &caller, req, required_reason(reason)?).await
        }
        .await,
    )
}

/// `POST /api/grids/boundary`: moves the shared boundary of neighbouring grids.
pub async fn boundary(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    respond(
        async {
            check_role(&caller)?;
            let body = json_body(&body)?;
            let reason = required_reason(reason_of(&body, true)?)?;
            save(&state, &caller, boundary_request(&body)?, reason).await
        }
        .await,
    )
}

/// `POST /api/grids/{code}/split`.
pub async fn split(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            check_role(&caller)?;
            let code = grid_code(&raw)?;
            let version = if_match(&headers, &code)?;
            let body = json_body(&body)?;
            let reason = required_reason(reason_of(&body, true)?)?;
            save(&state, &caller, split_request(code, version, &body)?, reason).await
        }
        .await,
    )
}

/// `POST /api/grids/merge`.
pub async fn merge(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    respond(
        async {
            check_role(&caller)?;
            let body = json_body(&body)?;
            let reason = required_reason(reason_of(&body, true)?)?;
            save(&state, &caller, merge_request(&body)?, reason).await
        }
        .await,
    )
}

/// `POST /api/grids/{code}/revert`: a new version with an earlier version's geometry.
pub async fn revert(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            check_role(&caller)?;
            let code = grid_code(&raw)?;
            let version = if_match(&headers, &code)?;
            let body = json_body(&body)?;
            let reason = required_reason(reason_of(&body, true)?)?;
            save(&state, &caller, revert_request(code, version, body.get("version"))?, reason).await
        }
        .await,
    )
}

/// `POST /api/validate`: the dry run of any edit. 200 with the EditResult even when the edit
/// is invalid; changes nothing. Versions are checked like a save's (412 when stale).
pub async fn validate(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    respond(
        async {
            check_role(&caller)?;
            let body = json_body(&body)?;
            reason_of(&body, false)?;
            let op = body.get("op").and_then(Value::as_str).unwrap_or("");
            let code_and_version = || -> Result<(Code, u32), Refusal> {
                let code = code_member(&body, "the dry run")?;
                let version = version_member(body.get("version"), "version")?
                    .ok_or_else(|| version_required(format!("\"version\": the version of {code} you edited")))?;
                Ok((code, version))
            };
            let req = match op {
                "reshape" => {
                    let (code, version) = code_and_version()?;
                    let feature = body.get("feature").ok_or_else(|| bad("a reshape needs \"feature\""))?;
                    reshape_request(code, version, feature)?.0
                }
                "boundary" => boundary_request(&body)?,
                "split" => {
                    let (code, version) = code_and_version()?;
                    split_request(code, version, &body)?
                }
                "merge" => merge_request(&body)?,
                "revert" => {
                    let (code, version) = code_and_version()?;
                    revert_request(code, version, body.get("to_version"))?
                }
                other => {
                    return Err(bad(format!("\"op\" must be reshape, boundary, split, merge or revert, got {other:?}")))
                }
            };
            let snap = state.live.load();
            check_versions(&snap, &req.expected())?;
            check_scope(&caller, &snap, &req, &RuleConfig::default())?;
            let plan = plan(snap, &req).await?;
            Ok((StatusCode::OK, axum::Json(result_json(&plan, false))).into_response())
        }
        .await,
    )
}

/// `GET /api/grids/{code}/history`: every version with who changed it, when and why.
pub async fn history(State(state): State<AppState>, Path(raw): Path<String>) -> Response {
    respond(
        async {
            let code = grid_code(&raw)?;
            let versions = state.store.grid_history(&code).await.map_err(|e| Refusal::Problem(e.into()))?;
            if versions.is_empty() {
                return Err(Refusal::Problem(ApiError::not_found(format!("there is no grid with code {code}"))));
            }
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let r = &v.region;
                    let mut m = Map::new();
                    m.insert("version".into(), r.version.into());
                    m.insert("name".into(), r.name.clone().into());
                    m.insert("valid_from".into(), json!(r.valid_from));
                    m.insert("valid_to".into(), json!(r.valid_to));
                    m.insert("changed_by".into(), json!(v.changed_by));
                    m.insert("reason".into(), json!(v.reason));
                    m.insert("households".into(), r.households.into());
                    m.insert("population".into(), r.population.into());
                    m.insert("geometry".into(), geometry_to_json(&geo::Geometry::MultiPolygon(r.geometry.clone())));
                    Value::Object(m)
                })
                .collect();
            Ok(axum::Json(json!({"code": code, "versions": versions})).into_response())
        }
        .await,
    )
}
