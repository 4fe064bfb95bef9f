//! `GET /api/geocode` (one address → ranked candidates), `POST /api/geocode` (up to
//! [`MAX_BATCH_ADDRESSES`] addresses → the best candidate of each, JSON or CSV) and
//! `GET /api/reverse` (a point → the nearest standard address).
//!
//! The work is the snapshot's [`Gazetteer`](crate::address::Gazetteer); this module checks the
//! input, adds each candidate's grid (`Snapshot::locate` on the building, not on its entrance,
//! which may sit on a grid edge) and writes the answer. Coordinates out are EPSG:4326.

use std::borrow::Cow;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::address::{Candidate, ParsedAddress, Part, CONFIDENT_SCORE};
use crate::index::Snapshot;

/// Longest address accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most candidates `GET /api/geocode` returns.
pub const MAX_LIMIT: usize = 20;
/// Candidates returned when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 5;
/// Most addresses in one `POST /api/geocode`.
pub const MAX_BATCH_ADDRESSES: usize = 100_000;
/// Largest body of `POST /api/geocode`: 100,000 addresses of 200 Chinese characters fit.
pub const MAX_BATCH_BODY_BYTES: usize = 64 << 20;
/// Search radius of `GET /api/reverse` when none is given, metres.
pub const DEFAULT_REVERSE_RADIUS_M: f64 = 500.0;
/// Largest search radius of `GET /api/reverse`, metres.
pub const MAX_REVERSE_RADIUS_M: usize = 5000;
/// An entrance this close to the point is reported with the building, metres.
pub const ENTRANCE_NEAR_M: f64 = 30.0;

/// The routes of this module, merged into the app by [`super::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/geocode", get(geocode_one).post(geocode_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY_BYTES)))
        .route("/api/reverse", get(reverse))
}

/// Checks one address: the text to geocode, or why not.
fn check_address(q: &str) -> Result<&str, String> {
    let q = q.trim();
    if q.is_empty() {
        return Err("the address is empty".into());
    }
    let n = q.chars().count();
    if n > MAX_QUERY_CHARS {
        return Err(format!("the address is {n} characters long; the limit is {MAX_QUERY_CHARS}"));
    }
    Ok(q)
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// One candidate as the API writes it.
#[derive(Serialize)]
struct CandidateOut {
    address: String,
    lon: f64,
    lat: f64,
    score: f64,
    level: &'static str,
    grid: Option<String>,
    building_id: Option<u32>,
    entrance_id: Option<u32>,
}

/// The grid of a candidate: where its building (or compound, road point, community point)
/// stands.
fn grid_of(snap: &Snapshot, c: &Candidate) -> Option<String> {
    let (lon, lat) = snap.gazetteer.grid_point(&snap.data, c);
    snap.locate(lon, lat).map(|h| snap.data.grids[h.grid].code.to_string())
}

fn candidate_out(snap: &Snapshot, c: &Candidate) -> CandidateOut {
    let d = &snap.data;
    CandidateOut {
        address: c.address(&snap.gazetteer, d),
        lon: round(c.lon, 7),
        lat: round(c.lat, 7),
        score: round(f64::from(c.score), 3),
        level: c.level.as_str(),
        grid: grid_of(snap, c),
        building_id: c.building.map(|b| d.buildings[b].id),
        entrance_id: c.entrance.map(|e| d.entrances[e].id),
    }
}

fn part_json(p: &Option<Part>) -> Value {
    p.as_ref().map_or(Value::Null, |p| Value::String(p.text.clone()))
}

/// The components the parser read, as written, for callers checking why an address matched.
fn parsed_json(p: &ParsedAddress) -> Value {
    json!({
        "province": part_json(&p.province),
        "city": part_json(&p.city),
        "district": part_json(&p.district),
        "subdistrict": part_json(&p.subdistrict),
        "community": part_json(&p.community),
        "road": part_json(&p.road),
        "door_number": p.door_number,
        "compound": part_json(&p.compound),
        "building": p.building,
        "unit": p.unit,
        "room": p.room,
        "unknown": p.unknown.iter().map(|u| u.text.clone()).collect::<Vec<_>>(),
    })
}

/// `GET /api/geocode?q=..[&limit=N]`: ranked candidates for one address.
pub async fn geocode_one(State(state): State<AppState>, params: Params) -> Result<Json<Value>, ApiError> {
    params.only(&["q", "limit"])?;
    let raw = params
        .get("q")
        .ok_or_else(|| ApiError::bad_request("missing-parameter", "query parameter `q` (the address) is required"))?;
    let q = check_address(raw).map_err(|m| ApiError::bad_request("invalid-parameter", format!("`q`: {m}")))?;
    let limit = params.usize_max("limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 {
        return Err(ApiError::bad_request("invalid-parameter", format!("`limit` must be between 1 and {MAX_LIMIT}")));
    }
    let snap = state.live.load();
    let parsed = snap.gazetteer.parse(q);
    let candidates: Vec<CandidateOut> = crate::address::rank::rank(&snap.gazetteer, &snap.data, &parsed, limit)
        .iter()
        .map(|c| candidate_out(&snap, c))
        .collect();
    Ok(Json(json!({
        "query": q,
        "parsed": parsed_json(&parsed),
        "candidates": candidates,
        "confident_score": round(f64::from(CONFIDENT_SCORE), 3),
    })))
}

/// One address of a batch: the text, or why it cannot be geocoded.
#[derive(Debug, Clone, PartialEq)]
pub enum AddressSlot<'a> {
    Ok(Cow<'a, str>),
    Bad(String),
}

impl<'de: 'a, 'a> Deserialize<'de> for AddressSlot<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AddressSlot<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an address string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(AddressSlot::Ok(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(AddressSlot::Ok(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(AddressSlot::Ok(Cow::Owned(v)))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(AddressSlot::Bad("expected an address string, found a number".into()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(AddressSlot::Bad("expected an address string, found a number".into()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(AddressSlot::Bad("expected an address string, found a number".into()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(AddressSlot::Bad("expected an address string, found a boolean".into()))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(AddressSlot::Bad("expected an address string, found null".into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AddressSlot::Bad("expected an address string, found an array".into()))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AddressSlot::Bad("expected an address string, found an object".into()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct BatchBody<'a> {
    #[serde(borrow)]
    addresses: Option<Vec<AddressSlot<'a>>>,
}

/// Parses `{"addresses": ["...", ...]}`; a non-string item is an error in its own slot.
pub fn parse_json_batch(body: &[u8]) -> Result<Vec<AddressSlot<'_>>, ApiError> {
    let parsed: BatchBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("malformed-json", format!("the body is not valid JSON for this route: {e}"))
    })?;
    parsed
        .addresses
        .ok_or_else(|| ApiError::bad_request("malformed-body", "expected {\"addresses\": [\"address\", ...]}"))
}

/// Parses a CSV body of one address a line. A header line (`address`, `地址`, `query`) and
/// blank lines are skipped; a line in double quotes is unquoted (`""` → `"`).
pub fn parse_csv_batch(body: &[u8]) -> Result<Vec<AddressSlot<'_>>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("malformed-csv", "the CSV body is not UTF-8 text"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if out.is_empty() && ["address", "地址", "query", "q"].iter().any(|h| line.eq_ignore_ascii_case(h)) {
            continue;
        }
        let value = match line.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
            Some(inner) if inner.contains("\"\"") => Cow::Owned(inner.replace("\"\"", "\"")),
            Some(inner) => Cow::Borrowed(inner),
            None => Cow::Borrowed(line),
        };
        out.push(AddressSlot::Ok(value));
    }
    Ok(out)
}

/// One result of a batch: the best candidate's fields (null when nothing matched) and an
/// error for an address that could not be read.
#[derive(Serialize)]
struct BatchRow {
    address: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
    score: Option<f64>,
    level: Option<&'static str>,
    grid: Option<String>,
    building_id: Option<u32>,
    entrance_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl BatchRow {
    fn empty(error: Option<String>) -> BatchRow {
        BatchRow {
            address: None,
            lon: None,
            lat: None,
            score: None,
            level: None,
            grid: None,
            building_id: None,
            entrance_id: None,
            error,
        }
    }
}

fn geocode_all(snap: &Snapshot, slots: &[AddressSlot]) -> Vec<BatchRow> {
    slots
        .iter()
        .map(|s| match s {
            AddressSlot::Ok(q) => match check_address(q) {
                Ok(q) => match snap.gazetteer.geocode(&snap.data, q, 1).first() {
                    Some(c) => {
                        let o = candidate_out(snap, c);
                        BatchRow {
                            address: Some(o.address),
                            lon: Some(o.lon),
                            lat: Some(o.lat),
                            score: Some(o.score),
                            level: Some(o.level),
                            grid: o.grid,
                            building_id: o.building_id,
                            entrance_id: o.entrance_id,
                            error: None,
                        }
                    }
                    None => BatchRow::empty(None),
                },
                Err(m) => BatchRow::empty(Some(m)),
            },
            AddressSlot::Bad(m) => BatchRow::empty(Some(m.clone())),
        })
        .collect()
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn write_csv(slots: &[AddressSlot], rows: &[BatchRow]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(rows.len() * 160 + 96);
    out.push_str("query,address,lon,lat,score,level,grid,building_id,entrance_id,error\n");
    for (slot, r) in slots.iter().zip(rows) {
        if let AddressSlot::Ok(q) = slot {
            csv_field(&mut out, q);
        }
        out.push(',');
        csv_field(&mut out, r.address.as_deref().unwrap_or(""));
        let num = |out: &mut String, v: Option<f64>| {
            out.push(',');
            if let Some(v) = v {
                let _ = write!(out, "{v}");
            }
        };
        num(&mut out, r.lon);
        num(&mut out, r.lat);
        num(&mut out, r.score);
        out.push(',');
        out.push_str(r.level.unwrap_or(""));
        out.push(',');
        out.push_str(r.grid.as_deref().unwrap_or(""));
        out.push(',');
        if let Some(b) = r.building_id {
            let _ = write!(out, "{b}");
        }
        out.push(',');
        if let Some(e) = r.entrance_id {
            let _ = write!(out, "{e}");
        }
        out.push(',');
        csv_field(&mut out, r.error.as_deref().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// `POST /api/geocode`: a batch of addresses, answered in input order. JSON in → JSON out;
/// CSV in → CSV out.
pub async fn geocode_batch(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let content_type = super::params::media_type(&headers);
    let csv = match content_type.as_str() {
        "application/json" | "" => false,
        "text/csv" | "text/plain" => true,
        other => {
            return Err(ApiError::unsupported_media(format!(
                "POST /api/geocode takes application/json ({{\"addresses\": [...]}}) or text/csv (one address a line), not {other}"
            )))
        }
    };
    let snap = state.live.load();
    let (text, csv) = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, bool), ApiError> {
        let slots = if csv { parse_csv_batch(&body)? } else { parse_json_batch(&body)? };
        if slots.len() > MAX_BATCH_ADDRESSES {
            return Err(ApiError::too_large(format!(
                "{} addresses in one request; the limit is {MAX_BATCH_ADDRESSES}: split the batch",
                slots.len()
            ))
            .with("limit", MAX_BATCH_ADDRESSES));
        }
        let rows = geocode_all(&snap, &slots);
        if csv {
            return Ok((write_csv(&slots, &rows).into_bytes(), true));
        }
        #[derive(Serialize)]
        struct Out<'a> {
            results: &'a [BatchRow],
        }
        serde_json::to_vec(&Out { results: &rows })
            .map(|v| (v, false))
            .map_err(|e| ApiError::internal(format!("writing the batch answer: {e}")))
    })
    .await
    .map_err(|e| ApiError::internal(format!("batch task failed: {e}")))??;
    let ctype = if csv { "text/csv; charset=utf-8" } else { "application/json" };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(ctype))], text).into_response())
}

/// `GET /api/reverse?lon=..&lat=..[&crs=gcj02][&radius_m=..]`: the nearest building's standard
/// address, its distance and grid, and its entrance if one is within [`ENTRANCE_NEAR_M`].
pub async fn reverse(State(state): State<AppState>, params: Params) -> Result<Json<Value>, ApiError> {
    params.only(&["lon", "lat", "crs", "radius_m"])?;
    let (lon, lat) = params.point()?;
    let radius_m = params.usize_max("radius_m", MAX_REVERSE_RADIUS_M)?.map_or(DEFAULT_REVERSE_RADIUS_M, |r| r as f64);
    let snap = state.live.load();
    let d = &snap.data;
    let result = snap.gazetteer.reverse(d, lon, lat, radius_m, ENTRANCE_NEAR_M).map(|n| {
        let b = &d.buildings[n.building];
        let grid = snap.locate(n.lon, n.lat).map(|h| d.grids[h.grid].code.to_string());
        let entrance = n.entrance.as_ref().map(|e| {
            let en = &d.entrances[e.entrance];
            json!({
                "entrance_id": en.id,
                "unit": en.unit,
                "address": snap.gazetteer.building_address(d, n.building, Some(en.unit)),
                "lon": round(en.location.x(), 7),
                "lat": round(en.location.y(), 7),
                "distance_m": round(e.distance_m, 1),
            })
        });
        json!({
            "address": b.address_text,
            "level": if entrance.is_some() { "entrance" } else { "building" },
            "building_id": b.id,
            "lon": round(n.lon, 7),
            "lat": round(n.lat, 7),
            "distance_m": round(n.distance_m, 1),
            "grid": grid,
            "entrance": entrance,
        })
    });
    Ok(Json(json!({"point": [lon, lat], "radius_m": radius_m, "result": result})))
}

fn problem(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let description = match *c {
            "400" => "Bad input: missing, empty, too long or malformed parameters or body",
            "413" => "Body or batch over the limit",
            "415" => "Body in a media type the route does not take",
            _ => "Error",
        };
        m.insert(
            c.to_string(),
            json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
        );
    }
    Value::Object(m)
}

fn candidate_schema() -> Value {
    json!({"type": "object", "required": ["address", "lon", "lat", "score", "level", "grid", "building_id", "entrance_id"], "properties": {
        "address": {"type": "string", "description": "The standard address found (with 单元 at entrance level)"},
        "lon": {"type": "number", "description": "EPSG:4326; the entrance when a unit was given, else a point of the building (compound, road, community)"},
        "lat": {"type": "number"},
        "score": {"type": "number", "minimum": 0, "maximum": 1, "description": format!("How sure the match is; {CONFIDENT_SCORE} or more is confident (see docs/geocode.md)")},
        "level": {"type": "string", "enum": ["entrance", "building", "compound", "road", "community"]},
        "grid": {"type": "string", "nullable": true, "description": "Code of the grid the building (or the level's point) is in"},
        "building_id": {"type": "integer", "nullable": true},
        "entrance_id": {"type": "integer", "nullable": true}
    }})
}

/// OpenAPI path items of this module, merged into `/openapi.json`.
pub fn openapi_paths() -> Value {
    let mut ok = problem(&["400"]);
    let mut candidate = candidate_schema();
    ok["200"] = json!({"description": "Candidates, best first (empty when nothing matches), and the components as parsed", "content": {"application/json": {"schema": {
        "type": "object", "required": ["query", "parsed", "candidates"], "properties": {
            "query": {"type": "string"},
            "parsed": {"type": "object", "description": "province, city, district, subdistrict, community, road, door_number, compound, building, unit, room as read from the address (names as written), and unknown text"},
            "candidates": {"type": "array", "items": candidate.clone()},
            "confident_score": {"type": "number"}
        }
    }}}});
    let mut batch_ok = problem(&["400", "413", "415"]);
    candidate["properties"]["error"] =
        json!({"type": "string", "description": "Why this address could not be read (empty, too long, not a string)"});
    if let Some(o) = candidate.as_object_mut() {
        o.remove("required");
    }
    for k in ["address", "lon", "lat", "score", "level"] {
        candidate["properties"][k]["nullable"] = json!(true);
    }
    batch_ok["200"] = json!({"description": "One result per address, in input order: the best candidate's fields, all null when nothing matched", "content": {
        "application/json": {"schema": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": candidate}}}},
        "text/csv": {"schema": {"type": "string", "description": "Header query,address,lon,lat,score,level,grid,building_id,entrance_id,error then one line per address"}}
    }});
    let mut reverse_ok = problem(&["400"]);
    reverse_ok["200"] = json!({"description": "The nearest building within the radius (result null when none), its grid, and its entrance if within 30 m", "content": {"application/json": {"schema": {
        "type": "object", "required": ["point", "result"], "properties": {
            "point": {"type": "array", "items": {"type": "number"}, "description": "The point in WGS84 after any datum conversion"},
            "radius_m": {"type": "number"},
            "result": {"type": "object", "nullable": true, "properties": {
                "address": {"type": "string"}, "level": {"type": "string", "enum": ["building", "entrance"]},
                "building_id": {"type": "integer"}, "lon": {"type": "number"}, "lat": {"type": "number"},
                "distance_m": {"type": "number", "description": "From the point to the footprint, 0 inside"},
                "grid": {"type": "string", "nullable": true},
                "entrance": {"type": "object", "nullable": true, "properties": {
                    "entrance_id": {"type": "integer"}, "unit": {"type": "integer"}, "address": {"type": "string"},
                    "lon": {"type": "number"}, "lat": {"type": "number"}, "distance_m": {"type": "number"}
                }}
            }}
        }
    }}}});
    json!({
        "/api/geocode": {
            "get": {
                "summary": "Geocode a Chinese address: ranked candidates with location, level and grid",
                "description": "Tolerant of the admin prefix or its absence, full-width digits, Chinese numerals, 号楼/栋/幢/座, units written or not (3栋2单元, 3-2-501), roads without 路/街, compound names instead of roads, one wrong or missing character, extra spaces and punctuation.",
                "operationId": "geocode",
                "parameters": [
                    {"name": "q", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS, "example": "克拉玛依区准噶尔路58号阳光小区3栋2单元"}, "description": "The address"},
                    {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, "description": "Most candidates to return"}
                ],
                "responses": ok
            },
            "post": {
                "summary": format!("Geocode up to {MAX_BATCH_ADDRESSES} addresses in one call, best candidate each, in input order"),
                "operationId": "geocode_batch",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"type": "object", "required": ["addresses"], "properties": {
                        "addresses": {"type": "array", "maxItems": MAX_BATCH_ADDRESSES, "items": {"type": "string", "maxLength": MAX_QUERY_CHARS}}
                    }}},
                    "text/csv": {"schema": {"type": "string", "description": "One address a line; an optional header line `address`"}}
                }},
                "responses": batch_ok
            }
        },
        "/api/reverse": {"get": {
            "summary": "The nearest standard address to a point, its distance and grid",
            "operationId": "reverse_geocode",
            "parameters": [
                {"name": "lon", "in": "query", "required": true, "schema": {"type": "number", "minimum": -180, "maximum": 180}, "description": "Longitude in degrees"},
                {"name": "lat", "in": "query", "required": true, "schema": {"type": "number", "minimum": -90, "maximum": 90}, "description": "Latitude in degrees"},
                {"name": "crs", "in": "query", "required": false, "schema": {"type": "string", "enum": ["wgs84", "gcj02"], "default": "wgs84"}, "description": "Datum of the input coordinates"},
                {"name": "radius_m", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "maximum": MAX_REVERSE_RADIUS_M, "default": DEFAULT_REVERSE_RADIUS_M as u64}, "description": "Search radius around the point, metres"}
            ],
            "responses": reverse_ok
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_batch_keeps_bad_items_in_their_slots() {
        let slots = parse_json_batch(r#"{"addresses": ["准噶尔路58号", 12, null, ["x"], "a\"b"]}"#.as_bytes()).unwrap();
        assert_eq!(slots.len(), 5);
        assert_eq!(slots[0], AddressSlot::Ok(Cow::Borrowed("准噶尔路58号")));
        assert!(matches!(&slots[1], AddressSlot::Bad(m) if m.contains("number")));
        assert!(matches!(&slots[2], AddressSlot::Bad(m) if m.contains("null")));
        assert!(matches!(&slots[3], AddressSlot::Bad(m) if m.contains("array")));
        assert_eq!(slots[4], AddressSlot::Ok(Cow::Owned("a\"b".into())), "escapes are decoded");
        assert_eq!(parse_json_batch(b"{\"addresses\": [").unwrap_err().status, 400);
        assert_eq!(parse_json_batch(b"{\"points\": []}").unwrap_err().status, 400);
    }

    #[test]
    fn csv_batch_skips_header_and_blank_lines_and_unquotes() {
        let slots = parse_csv_batch("\u{feff}address\n准噶尔路58号\n\n\"阳光小区3栋, 2单元\"\n\"a\"\"b\"\n".as_bytes())
            .unwrap();
        assert_eq!(
            slots,
            vec![
                AddressSlot::Ok(Cow::Borrowed("准噶尔路58号")),
                AddressSlot::Ok(Cow::Borrowed("阳光小区3栋, 2单元")),
                AddressSlot::Ok(Cow::Owned("a\"b".into())),
            ]
        );
    }

    #[test]
    fn addresses_are_checked_for_length_in_characters() {
        assert!(check_address("  ").is_err());
        assert!(
            check_address(&"路".repeat(MAX_QUERY_CHARS)).is_ok(),
            "200 Chinese characters are 600 bytes but allowed"
        );
        assert!(check_address(&"路".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }
}
