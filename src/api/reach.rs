//! `GET /api/response`, `GET /api/coverage` and `GET /api/coverage/suggest`: who can be at a
//! point within 1, 3 or 5 minutes, how much of a region is covered, and where to stage more.
//!
//! Handlers parse and validate, then run the query from [`crate::reach`] on tokio's blocking
//! pool (coverage of a whole district takes a noticeable fraction of a second) against the
//! snapshot current when the request arrived. Times of day (`at=HH:MM`) are local time in
//! China, UTC+8; without `at`, the current local time is used. Coordinates are EPSG:4326 unless
//! `crs=gcj02`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Timelike;
use geo::GeodesicArea;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::auth::middleware::forbidden;
use crate::auth::{Caller, Role};
use crate::model::geojson::geometry_to_json;
use crate::model::{Code, Level, ResponderKind, TimeOfDay, TravelMode};
use crate::reach::{ReachError, Shares};

/// The routes of this module, merged into the app by [`super::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/response", get(response))
        .route("/api/coverage", get(coverage))
        .route("/api/coverage/suggest", get(suggest))
}

impl From<ReachError> for ApiError {
    fn from(e: ReachError) -> ApiError {
        match e {
            ReachError::BadMinutes { .. } | ReachError::TooManySuggestions { .. } => {
                ApiError::bad_request("invalid-parameter", e.to_string())
            }
            ReachError::UnknownRegion(_) => ApiError::not_found(e.to_string()),
        }
    }
}

/// The current local time of day in China (UTC+8).
fn now_utc8() -> TimeOfDay {
    let now = chrono::Utc::now() + chrono::Duration::hours(8);
    TimeOfDay::new(now.hour(), now.minute()).unwrap_or(TimeOfDay::MIDNIGHT)
}

/// `at` (default: now, UTC+8).
fn at(params: &Params) -> Result<TimeOfDay, ApiError> {
    Ok(params.time_of_day("at")?.unwrap_or_else(now_utc8))
}

/// `minutes` (default 1), checked against the allowed limits.
fn minutes(params: &Params, state: &AppState) -> Result<u32, ApiError> {
    let Some(raw) = params.get("minutes") else { return Ok(1) };
    let m: u32 = raw.trim().parse().map_err(|_| {
        ApiError::bad_request("invalid-parameter", format!("`minutes`={raw:?} is not a whole number of minutes"))
    })?;
    state.live.load().reach.limit_s(m)?;
    Ok(m)
}

/// A boolean flag (default false).
fn flag(params: &Params, key: &str, default: bool) -> Result<bool, ApiError> {
    match params.get(key) {
        None => Ok(default),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => {
            Err(ApiError::bad_request("invalid-parameter", format!("`{key}`={other:?} must be true or false")))
        }
    }
}

/// `region`: a district, subdistrict, community or grid code (400 when malformed).
fn region(params: &Params) -> Result<Code, ApiError> {
    let raw = params.get("region").ok_or_else(|| {
        ApiError::bad_request(
            "missing-parameter",
            "query parameter `region` is required: a district, subdistrict, community or grid code",
        )
    })?;
    Code::parse(raw).map_err(|e| ApiError::bad_request("invalid-code", format!("`region`: {e}")))
}

fn enum_param<T: serde::de::DeserializeOwned>(
    params: &Params,
    key: &str,
    default: T,
    allowed: &str,
) -> Result<T, ApiError> {
    match params.get(key) {
        None => Ok(default),
        Some(raw) => serde_json::from_value(Value::String(raw.to_string())).map_err(|_| {
            ApiError::bad_request("invalid-parameter", format!("`{key}`={raw:?} is not one of {allowed}"))
        }),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("reach task failed: {e}")))?
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `GET /api/response?lon&lat&minutes=1|3|5&at=HH:MM[&crs=gcj02][&geometry=true]`.
async fn response(State(state): State<AppState>, params: Params) -> Result<Json<Value>, ApiError> {
    params.only(&["lon", "lat", "crs", "minutes", "at", "geometry"])?;
    let (lon, lat) = params.point()?;
    let minutes = minutes(&params, &state)?;
    let at = at(&params)?;
    let geometry = flag(&params, "geometry", false)?;
    let snap = state.live.load();
    blocking(move || {
        let limit_s = minutes as f64 * 60.0;
        let arrivals = snap.reach.response(lon, lat, limit_s, at);
        let responders: Vec<Value> = arrivals
            .iter()
            .map(|a| {
                let r = &snap.data.responders[a.responder];
                let mut v = json!({
                    "id": a.id,
                    "kind": r.kind,
                    "name": r.name,
                    "mode": r.mode,
                    "travel_s": round1(a.travel_s),
                    "distance_m": round1(a.distance_m),
                    "via_gates": a.via_gates,
                    "location": [r.location.x(), r.location.y()],
                });
                if geometry {
                    let area = snap.reach.reach_area(a.responder, limit_s, at);
                    v["reach_area"] = geometry_to_json(&geo::Geometry::MultiPolygon(area));
                }
                v
            })
            .collect();
        Ok(Json(json!({
            "point": [lon, lat],
            "minutes": minutes,
            "limit_s": limit_s,
            "at": at.to_string(),
            "met": !responders.is_empty(),
            "responders": responders,
        })))
    })
    .await
}

fn shares_json(s: &Shares) -> Value {
    json!({
        "area_m2": s.area_m2.round(),
        "area_covered_m2": s.area_covered_m2.round(),
        "area_share": round3(Shares::ratio(s.area_covered_m2, s.area_m2)),
        "households": s.households,
        "households_covered": s.households_covered,
        "households_share": round3(Shares::ratio(s.households_covered as f64, s.households as f64)),
        "gates": s.gates,
        "gates_covered": s.gates_covered,
        "gates_share": round3(Shares::ratio(s.gates_covered as f64, s.gates as f64)),
        "entrances": s.entrances,
        "entrances_covered": s.entrances_covered,
        "entrances_share": round3(Shares::ratio(s.entrances_covered as f64, s.entrances as f64)),
    })
}

/// The reach areas (`ReachIndex::reach_area`) of every responder on duty at `at` that could
/// reach into region `code` within `limit_s`: those within the fastest mode's budget of the
/// region's grids. A FeatureCollection, one MultiPolygon per responder.
fn reach_areas_json(snap: &crate::index::Snapshot, code: &Code, limit_s: f64, at: crate::model::TimeOfDay) -> Value {
    use geo::BoundingRect;
    let bbox =
        snap.data.grids.iter().filter(|g| g.code.is_within(code)).filter_map(|g| g.geometry.bounding_rect()).reduce(
            |a, b| {
                geo::Rect::new(
                    (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                    (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
                )
            },
        );
    let Some(bbox) = bbox else { return json!({"type": "FeatureCollection", "features": []}) };
    let margin_m = crate::reach::ReachConfig::default().max_budget_m(limit_s).max(0.0);
    let (dlat, dlon) = (margin_m / 111_320.0, margin_m / (111_320.0 * bbox.center().y.to_radians().cos()));
    let features: Vec<Value> = snap
        .data
        .responders
        .iter()
        .enumerate()
        .filter(|(_, r)| r.duty.is_open(at))
        .filter(|(_, r)| {
            let p = r.location;
            p.x() >= bbox.min().x - dlon
                && p.x() <= bbox.max().x + dlon
                && p.y() >= bbox.min().y - dlat
                && p.y() <= bbox.max().y + dlat
        })
        .filter_map(|(i, r)| {
            let area = snap.reach.reach_area(i, limit_s, at);
            (!area.0.is_empty()).then(|| {
                json!({
                    "type": "Feature",
                    "geometry": geometry_to_json(&geo::Geometry::MultiPolygon(area)),
                    "properties": {"id": r.id, "kind": r.kind, "name": r.name, "mode": r.mode},
                })
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

fn region_json(snap: &crate::index::Snapshot, code: &Code) -> Value {
    let name = match code.level() {
        Level::District => snap.data.district.name.clone(),
        _ => snap.region(code).map(|r| r.name.clone()).unwrap_or_default(),
    };
    json!({"code": code, "name": name, "level": code.level().as_str()})
}

/// `GET /api/coverage?region=CODE&minutes=1|3|5&at=HH:MM[&blind_spots=false][&reach_areas=true]`.
async fn coverage(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Json<Value>, ApiError> {
    if !caller.may_use_coverage() {
        return Err(forbidden(&caller, Role::Coordinator, "coverage"));
    }
    params.only(&["region", "minutes", "at", "blind_spots", "reach_areas"])?;
    let code = region(&params)?;
    let minutes = minutes(&params, &state)?;
    let at = at(&params)?;
    let with_blind = flag(&params, "blind_spots", true)?;
    let with_areas = flag(&params, "reach_areas", false)?;
    let snap = state.live.load();
    blocking(move || {
        let c = crate::reach::coverage(&snap, &code, minutes, at, with_blind)?;
        let reach_areas = with_areas.then(|| reach_areas_json(&snap, &code, minutes as f64 * 60.0, at));
        let grids: Vec<Value> = c
            .grids
            .iter()
            .map(|g| {
                let mut v = shares_json(&g.shares);
                v["code"] = json!(g.code);
                v["name"] = json!(g.name);
                v
            })
            .collect();
        let features: Vec<Value> = c
            .blind_spots
            .0
            .iter()
            .map(|p| {
                json!({
                    "type": "Feature",
                    "geometry": geometry_to_json(&geo::Geometry::Polygon(p.clone())),
                    "properties": {"area_m2": p.geodesic_area_unsigned().round()},
                })
            })
            .collect();
        Ok(Json(json!({
            "region": region_json(&snap, &code),
            "minutes": minutes,
            "at": at.to_string(),
            "cell_m": c.cell_m,
            "totals": shares_json(&c.totals),
            "grids": grids,
            "blind_spots": {"type": "FeatureCollection", "features": features},
            "reach_areas": reach_areas,
            "cache": {"computed_grids": c.computed, "reused_grids": c.reused},
        })))
    })
    .await
}

/// `GET /api/coverage/suggest?region=CODE&minutes=1|3|5&add=N&at=HH:MM[&mode=walk][&kind=..]`.
async fn suggest(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Json<Value>, ApiError> {
    if !caller.may_use_coverage() {
        return Err(forbidden(&caller, Role::Coordinator, "coverage suggestions"));
    }
    params.only(&["region", "minutes", "at", "add", "mode", "kind"])?;
    let code = region(&params)?;
    let minutes = minutes(&params, &state)?;
    let at = at(&params)?;
    let add = params.usize_max("add", crate::reach::suggest::MAX_ADD)?.unwrap_or(1);
    let mode: TravelMode = enum_param(&params, "mode", TravelMode::Walk, "walk, run, ebike, car")?;
    let kind: ResponderKind = enum_param(
        &params,
        "kind",
        ResponderKind::JointDefence,
        "joint_defence, police_post, service_station, patrol",
    )?;
    let snap = state.live.load();
    blocking(move || {
        let s = crate::reach::suggest(&snap, &code, minutes, at, add, kind, mode)?;
        let mut total = s.households_covered;
        let suggestions: Vec<Value> = s
            .staging
            .iter()
            .enumerate()
            .map(|(i, st)| {
                total += st.gain_households;
                json!({
                    "rank": i + 1,
                    "location": [st.location.x(), st.location.y()],
                    "gate": st.gate,
                    "gain_households": st.gain_households,
                    "households_covered_after": total,
                })
            })
            .collect();
        Ok(Json(json!({
            "region": region_json(&snap, &code),
            "minutes": minutes,
            "at": at.to_string(),
            "mode": mode,
            "kind": kind,
            "households": s.households,
            "households_covered_before": s.households_covered,
            "households_covered_after": total,
            "candidates": s.candidates,
            "suggestions": suggestions,
        })))
    })
    .await
}

fn problem_responses(codes: &[&str]) -> serde_json::Map<String, Value> {
    codes
        .iter()
        .map(|c| {
            let description = match *c {
                "400" => "Bad input: missing, malformed or out-of-range parameters",
                "403" => "Coverage needs a coordinator token or higher",
                "404" => "Unknown region",
                _ => "Error",
            };
            (
                c.to_string(),
                json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
            )
        })
        .collect()
}

fn responses(ok_description: &str, schema: Value, errors: &[&str]) -> Value {
    let mut r = problem_responses(errors);
    r.insert("200".into(), json!({"description": ok_description, "content": {"application/json": {"schema": schema}}}));
    Value::Object(r)
}

fn param(name: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema, "description": description})
}

fn shares_schema() -> Value {
    let n = json!({"type": "number"});
    let i = json!({"type": "integer"});
    let share = json!({"type": "number", "minimum": 0, "maximum": 1});
    json!({"type": "object", "properties": {
        "area_m2": n, "area_covered_m2": n, "area_share": share,
        "households": i, "households_covered": i, "households_share": share,
        "gates": i, "gates_covered": i, "gates_share": share,
        "entrances": i, "entrances_covered": i, "entrances_share": share,
    }})
}

/// OpenAPI path items of this module, merged into `/openapi.json`.
pub fn openapi_paths() -> Value {
    let minutes = param(
        "minutes",
        false,
        json!({"type": "integer", "enum": [1, 3, 5], "default": 1}),
        "Time limit in minutes from the call",
    );
    let at = param(
        "at",
        false,
        json!({"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$", "example": "08:00"}),
        "Time of day, local time in China (UTC+8), HH:MM; decides which gates are open and who is on duty. Default: now",
    );
    let region = param(
        "region",
        true,
        json!({"type": "string", "pattern": "^[0-9]{6}([0-9]{3}([0-9]{3}([0-9]{2,3})?)?)?$", "example": "650203"}),
        "District, subdistrict, community or grid code",
    );
    json!({
        "/api/response": {"get": {
            "summary": "Responders on duty that reach a point within the time limit, fastest first",
            "description": "Travel is barrier-aware: compound walls are crossed only at gates that are open at `at`, of the right kind (on foot: pedestrian or both; e-bike and car: vehicle or both) and admit the responder (police posts and patrols pass as police, others as staff). Travel time = start-up delay + shortest path length / speed.",
            "operationId": "response",
            "parameters": [
                param("lon", true, json!({"type": "number", "minimum": -180, "maximum": 180}), "Longitude in degrees"),
                param("lat", true, json!({"type": "number", "minimum": -90, "maximum": 90}), "Latitude in degrees"),
                param("crs", false, json!({"type": "string", "enum": ["wgs84", "gcj02"], "default": "wgs84"}), "Datum of the input coordinates"),
                minutes.clone(),
                at.clone(),
                param("geometry", false, json!({"type": "boolean", "default": false}), "Add each responder's reach area within the limit at that time (GeoJSON MultiPolygon)")
            ],
            "responses": responses("Whether the limit is met, and the responders in time", json!({"type": "object", "required": ["met", "responders"], "properties": {
                "point": {"type": "array", "items": {"type": "number"}},
                "minutes": {"type": "integer"},
                "limit_s": {"type": "number"},
                "at": {"type": "string"},
                "met": {"type": "boolean"},
                "responders": {"type": "array", "items": {"type": "object", "required": ["id", "kind", "name", "travel_s", "via_gates"], "properties": {
                    "id": {"type": "integer"},
                    "kind": {"type": "string", "enum": ["joint_defence", "police_post", "service_station", "patrol"]},
                    "name": {"type": "string"},
                    "mode": {"type": "string", "enum": ["walk", "run", "ebike", "car"]},
                    "travel_s": {"type": "number", "description": "Seconds from the call to arrival, start-up included"},
                    "distance_m": {"type": "number"},
                    "via_gates": {"type": "array", "items": {"type": "integer"}, "description": "Ids of the gates passed, in order"},
                    "location": {"type": "array", "items": {"type": "number"}},
                    "reach_area": {"type": "object", "description": "GeoJSON MultiPolygon (with geometry=true)"}
                }}}
            }}), &["400"])
        }},
        "/api/coverage": {"get": {
            "summary": "Share of area, households, gates and building entrances reached in time, per grid and in total, with the blind spots",
            "description": "Area is counted on a square raster (cell_m); a cell is covered when its centre is reached. Households count through the entrance of their unit. Results are cached per grid and recomputed only where an edit, responder or gate within reach changed.",
            "operationId": "coverage",
            "parameters": [
                region.clone(),
                minutes.clone(),
                at.clone(),
                param("blind_spots", false, json!({"type": "boolean", "default": true}), "Include the uncovered places as polygons"),
                param("reach_areas", false, json!({"type": "boolean", "default": false}), "Include where each responder on duty near the region gets within the limit (one MultiPolygon each; slower at 3 and 5 minutes)")
            ],
            "responses": responses("Coverage of the region", json!({"type": "object", "required": ["totals", "grids", "blind_spots"], "properties": {
                "region": {"type": "object"},
                "minutes": {"type": "integer"},
                "at": {"type": "string"},
                "cell_m": {"type": "number"},
                "totals": shares_schema(),
                "grids": {"type": "array", "items": shares_schema()},
                "blind_spots": {"$ref": "#/components/schemas/FeatureCollection"},
                "reach_areas": {"description": "With reach_areas=true: a FeatureCollection; null otherwise"},
                "cache": {"type": "object"}
            }}), &["400", "403", "404"])
        }},
        "/api/coverage/suggest": {"get": {
            "summary": "Where to stage N more responders to cover the most households (greedy maximal covering)",
            "description": "Candidates are the outer side of the region's gates and points on its roads; existing responders stay. Each suggestion's gain counts households not covered by existing responders or earlier suggestions.",
            "operationId": "coverage_suggest",
            "parameters": [
                region,
                minutes,
                at,
                param("add", false, json!({"type": "integer", "minimum": 0, "maximum": crate::reach::suggest::MAX_ADD, "default": 1}), "How many staging points"),
                param("mode", false, json!({"type": "string", "enum": ["walk", "run", "ebike", "car"], "default": "walk"}), "Travel mode of the new responders"),
                param("kind", false, json!({"type": "string", "enum": ["joint_defence", "police_post", "service_station", "patrol"], "default": "joint_defence"}), "Kind of the new responders (decides which gates they pass)")
            ],
            "responses": responses("Staging points in the order picked", json!({"type": "object", "required": ["suggestions"], "properties": {
                "households": {"type": "integer"},
                "households_covered_before": {"type": "integer"},
                "households_covered_after": {"type": "integer"},
                "candidates": {"type": "integer"},
                "suggestions": {"type": "array", "items": {"type": "object", "properties": {
                    "rank": {"type": "integer"},
                    "location": {"type": "array", "items": {"type": "number"}},
                    "gate": {"type": "integer", "nullable": true},
                    "gain_households": {"type": "integer"},
                    "households_covered_after": {"type": "integer"}
                }}}
            }}), &["400", "403", "404"])
        }}
    })
}
