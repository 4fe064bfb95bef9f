//! `GET /api/locate` (one point) and `POST /api/locate` (up to a million points).

use std::fmt;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::{staff_json, AppState, StaffView};
use crate::auth::{mark_personal, Caller};
use crate::index::Snapshot;
use crate::model::crs::check_lon_lat;
use crate::model::{Code, InputCrs, Region};

fn region_ref(r: Option<&Region>) -> Value {
    r.map_or(Value::Null, |r| json!({"code": r.code, "name": r.name}))
}

/// A region as `locate` names it.
#[derive(serde::Serialize)]
struct RegionRef<'a> {
    code: &'a Code,
    name: &'a str,
}

impl<'a> RegionRef<'a> {
    fn of(r: Option<&'a Region>) -> Option<RegionRef<'a>> {
        r.map(|r| RegionRef { code: &r.code, name: &r.name })
    }
}

/// `GET /api/locate`'s answer, serialized straight from the snapshot: this is the route
/// that answers one point at a time, so it builds no `serde_json::Value` tree.
#[derive(serde::Serialize)]
struct PointAnswer<'a> {
    point: [f64; 2],
    grid: Option<RegionRef<'a>>,
    community: Option<RegionRef<'a>>,
    subdistrict: Option<RegionRef<'a>>,
    staff: Vec<StaffView<'a>>,
}

/// `GET /api/locate?lon=..&lat=..[&crs=gcj02]`: the grid, community and subdistrict of a point
/// and the grid's staff (roles only, unless the caller may see personal data).
pub async fn locate_one(State(state): State<AppState>, caller: Caller, params: Params) -> Result<Response, ApiError> {
    params.only(&["lon", "lat", "crs", "at"])?;
    let (lon, lat) = params.point()?;
    let snap = state.live.load();
    if let Some(at) = params.instant("at")? {
        return Ok(locate_at(&caller, &snap, lon, lat, at));
    }
    let hit = snap.locate(lon, lat);
    let d = &snap.data;
    let grid = hit.map(|h| &d.grids[h.grid]);
    let community = hit.and_then(|h| h.community).map(|i| &d.communities[i]);
    let subdistrict = hit.and_then(|h| h.subdistrict).map(|i| &d.subdistricts[i]);
    let mut personal = 0;
    let staff: Vec<StaffView> = grid
        .map(|g| {
            snap.staff_of_grid(&g.code)
                .map(|s| {
                    let allowed = caller.may_see_personal_data_of(s);
                    personal += usize::from(allowed);
                    StaffView::new(s, allowed)
                })
                .collect()
        })
        .unwrap_or_default();
    let resp = Json(PointAnswer {
        point: [lon, lat],
        grid: RegionRef::of(grid),
        community: RegionRef::of(community),
        subdistrict: RegionRef::of(subdistrict),
        staff,
    })
    .into_response();
    Ok(match grid {
        Some(g) if personal > 0 => {
            mark_personal(resp, format!("names and phones of {personal} staff of grid {}", g.code))
        }
        _ => resp,
    })
}

/// `GET /api/locate?...&at=<RFC 3339>`: the grid version that held the point at that instant
/// (with its `version`, `valid_from` and `valid_to`). Staff are listed only when that version
/// is the current one: who served a grid in the past is not recorded.
fn locate_at(caller: &Caller, snap: &Snapshot, lon: f64, lat: f64, at: chrono::DateTime<chrono::Utc>) -> Response {
    let hit = snap.locate_at(lon, lat, at);
    let grid = hit.map_or(Value::Null, |h| {
        json!({"code": h.grid.code, "name": h.grid.name, "version": h.grid.version,
               "valid_from": h.grid.valid_from, "valid_to": h.grid.valid_to})
    });
    let mut personal = 0;
    let staff: Vec<Value> = hit
        .filter(|h| h.current)
        .map(|h| {
            snap.staff_of_grid(&h.grid.code)
                .map(|s| {
                    let allowed = caller.may_see_personal_data_of(s);
                    personal += usize::from(allowed);
                    staff_json(s, allowed)
                })
                .collect()
        })
        .unwrap_or_default();
    let resp = Json(json!({
        "point": [lon, lat],
        "at": at,
        "grid": grid,
        "community": region_ref(hit.and_then(|h| h.community)),
        "subdistrict": region_ref(hit.and_then(|h| h.subdistrict)),
        "staff": staff,
    }))
    .into_response();
    match hit {
        Some(h) if personal > 0 => {
            mark_personal(resp, format!("names and phones of {personal} staff of grid {}", h.grid.code))
        }
        _ => resp,
    }
}

/// One input point of a batch: a valid `(lon, lat)` or the reason it is not.
#[derive(Debug, Clone, PartialEq)]
pub enum PointSlot {
    Ok(f64, f64),
    Bad(String),
}

impl<'de> Deserialize<'de> for PointSlot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PointVisitor)
    }
}

/// A number or anything else, without failing the whole batch.
enum Num {
    Ok(f64),
    Bad,
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num::Ok(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num::Ok(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num::Ok(v as f64))
            }
            fn visit_str<E>(self, _: &str) -> Result<Num, E> {
                Ok(Num::Bad)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Num, E> {
                Ok(Num::Bad)
            }
            fn visit_unit<E>(self) -> Result<Num, E> {
                Ok(Num::Bad)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Num, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Num::Bad)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Num, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Num::Bad)
            }
        }
        d.deserialize_any(V)
    }
}

struct PointVisitor;

impl<'de> Visitor<'de> for PointVisitor {
    type Value = PointSlot;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a position [lon, lat]")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PointSlot, A::Error> {
        let mut nums = [0.0f64; 2];
        let mut n = 0usize;
        let mut bad = false;
        while let Some(v) = seq.next_element::<Num>()? {
            match v {
                Num::Ok(x) if n < 2 => nums[n] = x,
                Num::Ok(_) => {}
                Num::Bad => bad = true,
            }
            n += 1;
        }
        Ok(if bad {
            PointSlot::Bad("a position must hold numbers only: [lon, lat]".into())
        } else if n < 2 {
            PointSlot::Bad(format!("a position needs [lon, lat], got {n} number(s)"))
        } else {
            match check_lon_lat(nums[0], nums[1]) {
                Ok(()) => PointSlot::Ok(nums[0], nums[1]),
                Err(m) => PointSlot::Bad(m),
            }
        })
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<PointSlot, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(PointSlot::Bad("expected a position [lon, lat], found an object".into()))
    }
    fn visit_str<E>(self, _: &str) -> Result<PointSlot, E> {
        Ok(PointSlot::Bad("expected a position [lon, lat], found a string".into()))
    }
    fn visit_f64<E>(self, _: f64) -> Result<PointSlot, E> {
        Ok(PointSlot::Bad("expected a position [lon, lat], found a number".into()))
    }
    fn visit_i64<E>(self, _: i64) -> Result<PointSlot, E> {
        Ok(PointSlot::Bad("expected a position [lon, lat], found a number".into()))
    }
    fn visit_u64<E>(self, _: u64) -> Result<PointSlot, E> {
        Ok(PointSlot::Bad("expected a position [lon, lat], found a number".into()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<PointSlot, E> {
        Ok(PointSlot::Bad("expected a position [lon, lat], found a boolean".into()))
    }
    fn visit_unit<E>(self) -> Result<PointSlot, E> {
        Ok(PointSlot::Bad("expected a position [lon, lat], found null".into()))
    }
}

/// A GeoJSON Feature whose geometry should be a Point.
struct FeatureSlot(PointSlot);

impl<'de> Deserialize<'de> for FeatureSlot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Geom {
            #[serde(rename = "type")]
            kind: Option<String>,
            coordinates: Option<PointSlot>,
        }
        #[derive(Deserialize)]
        struct Feat {
            geometry: Option<Geom>,
        }
        let f = Feat::deserialize(d)?;
        Ok(FeatureSlot(match f.geometry {
            Some(Geom { kind: Some(k), coordinates: Some(c) }) if k == "Point" => c,
            Some(Geom { kind: Some(k), .. }) if k != "Point" => {
                PointSlot::Bad(format!("feature geometry must be a Point, found {k}"))
            }
            _ => PointSlot::Bad("feature has no Point geometry".into()),
        }))
    }
}

#[derive(Deserialize)]
struct BatchBody {
    points: Option<Vec<PointSlot>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    features: Option<Vec<FeatureSlot>>,
}

/// Parses a JSON batch body: `{"points": [[lon, lat], ...]}` or a FeatureCollection of Points.
pub fn parse_json_batch(body: &[u8]) -> Result<Vec<PointSlot>, ApiError> {
    let parsed: BatchBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("malformed-json", format!("the body is not valid JSON for this route: {e}"))
    })?;
    match parsed {
        BatchBody { points: Some(p), .. } => Ok(p),
        BatchBody { features: Some(f), kind: Some(k), .. } if k == "FeatureCollection" => {
            Ok(f.into_iter().map(|f| f.0).collect())
        }
        _ => Err(ApiError::bad_request(
            "malformed-body",
            "expected {\"points\": [[lon, lat], ...]} or a GeoJSON FeatureCollection of Points",
        )),
    }
}

/// Parses CSV lines `lon,lat` (an optional header line is skipped). Blank lines are skipped.
pub fn parse_csv_batch(body: &[u8]) -> Result<Vec<PointSlot>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("malformed-csv", "the CSV body is not UTF-8 text"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split(',');
        let (a, b) = (parts.next().unwrap_or("").trim(), parts.next().map(str::trim));
        let parsed = match (a.parse::<f64>(), b.map(str::parse::<f64>)) {
            (Ok(lon), Some(Ok(lat))) => match check_lon_lat(lon, lat) {
                Ok(()) => PointSlot::Ok(lon, lat),
                Err(m) => PointSlot::Bad(m),
            },
            _ if i == 0 && out.is_empty() && a.parse::<f64>().is_err() => continue, // header
            _ => PointSlot::Bad(format!("line {}: expected lon,lat numbers, got {line:?}", i + 1)),
        };
        out.push(parsed);
    }
    Ok(out)
}

/// The answer for one slot: grid index or error.
enum Answer<'a> {
    Hit(Option<crate::index::Located>),
    Err(&'a str),
}

/// Batches smaller than this many points per core are answered on one thread.
const MIN_POINTS_PER_THREAD: usize = 65_536;

/// Locates `slots` and writes the whole answer (JSON or CSV, in input order). A big batch is
/// cut into one run of points per core, each located and written on its own thread, and the
/// pieces joined: an API consumer's million points use the machine, not one core of it.
fn locate_and_write(snap: &Snapshot, crs: InputCrs, slots: &[PointSlot], csv: bool) -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(slots.len().div_ceil(MIN_POINTS_PER_THREAD)).max(1);
    let write = |run: &[PointSlot]| {
        let answers = locate_all(snap, crs, run);
        if csv {
            write_csv(snap, &answers)
        } else {
            write_json(snap, &answers)
        }
    };
    let pieces: Vec<String> = if threads == 1 {
        vec![write(slots)]
    } else {
        let run = slots.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = slots.chunks(run).map(|c| scope.spawn(move || write(c))).collect();
            // A panic in a piece is a bug; re-raise it here, where the blocking task reports it.
            handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    };
    let total: usize = pieces.iter().map(String::len).sum();
    let mut out = String::with_capacity(total + 64);
    if csv {
        out.push_str("grid,community,subdistrict,error\n");
        pieces.iter().for_each(|p| out.push_str(p));
    } else {
        out.push_str("{\"results\":[");
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(p);
        }
        out.push_str("]}");
    }
    out
}

fn locate_all<'a>(snap: &Snapshot, crs: InputCrs, slots: &'a [PointSlot]) -> Vec<Answer<'a>> {
    slots
        .iter()
        .map(|s| match *s {
            PointSlot::Ok(lon, lat) => {
                let (lon, lat) = crs.to_wgs84(lon, lat);
                Answer::Hit(snap.locate(lon, lat))
            }
            PointSlot::Bad(ref m) => Answer::Err(m),
        })
        .collect()
}

fn push_json_str(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// The JSON answers of one run of points, comma-separated, without the enclosing array.
fn write_json(snap: &Snapshot, answers: &[Answer]) -> String {
    let d = &snap.data;
    let mut out = String::with_capacity(answers.len() * 80 + 16);
    for (i, a) in answers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match a {
            Answer::Hit(Some(h)) => {
                out.push_str("{\"grid\":\"");
                out.push_str(d.grids[h.grid].code.as_str());
                out.push_str("\",\"community\":");
                match h.community {
                    Some(c) => {
                        out.push('"');
                        out.push_str(d.communities[c].code.as_str());
                        out.push('"');
                    }
                    None => out.push_str("null"),
                }
                out.push_str(",\"subdistrict\":");
                match h.subdistrict {
                    Some(c) => {
                        out.push('"');
                        out.push_str(d.subdistricts[c].code.as_str());
                        out.push('"');
                    }
                    None => out.push_str("null"),
                }
                out.push('}');
            }
            Answer::Hit(None) => out.push_str("{\"grid\":null,\"community\":null,\"subdistrict\":null}"),
            Answer::Err(m) => {
                out.push_str("{\"grid\":null,\"community\":null,\"subdistrict\":null,\"error\":");
                push_json_str(&mut out, m);
                out.push('}');
            }
        }
    }
    out
}

/// The CSV rows of one run of points, without the header.
fn write_csv(snap: &Snapshot, answers: &[Answer]) -> String {
    let d = &snap.data;
    let mut out = String::with_capacity(answers.len() * 44 + 32);
    for a in answers {
        match a {
            Answer::Hit(Some(h)) => {
                out.push_str(d.grids[h.grid].code.as_str());
                out.push(',');
                if let Some(c) = h.community {
                    out.push_str(d.communities[c].code.as_str());
                }
                out.push(',');
                if let Some(c) = h.subdistrict {
                    out.push_str(d.subdistricts[c].code.as_str());
                }
                out.push_str(",\n");
            }
            Answer::Hit(None) => out.push_str(",,,\n"),
            Answer::Err(m) => {
                out.push_str(",,,\"");
                out.push_str(&m.replace('"', "\"\""));
                out.push_str("\"\n");
            }
        }
    }
    out
}

/// `POST /api/locate`: a batch of points in input order. JSON in → JSON out; CSV in → CSV out.
pub async fn locate_batch(
    State(state): State<AppState>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    params.only(&["crs"])?;
    let crs = params.crs()?;
    let content_type = super::params::media_type(&headers);
    let csv = match content_type.as_str() {
        "application/json" | "application/geo+json" | "" => false,
        "text/csv" => true,
        other => {
            return Err(ApiError::unsupported_media(format!(
                "POST /api/locate takes application/json, application/geo+json or text/csv, not {other}"
            )))
        }
    };
    let max = state.config.max_batch_points;
    let snap = state.live.load();
    let (text, csv) = tokio::task::spawn_blocking(move || -> Result<(String, bool), ApiError> {
        let slots = if csv { parse_csv_batch(&body)? } else { parse_json_batch(&body)? };
        if slots.len() > max {
            return Err(ApiError::too_large(format!(
                "{} points in one request; the limit is {max}: split the batch",
                slots.len()
            ))
            .with("limit", max));
        }
        Ok((locate_and_write(&snap, crs, &slots, csv), csv))
    })
    .await
    .map_err(|e| ApiError::internal(format!("batch task failed: {e}")))??;
    let ctype = if csv { "text/csv; charset=utf-8" } else { "application/json" };
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(ctype))], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_batch_keeps_bad_points_in_their_slots() {
        let body = br#"{"points": [[84.8, 45.6], [200, 45], ["x", 1], [1], {"a":1}, [84.9, 45.61, 12.0]]}"#;
        let slots = parse_json_batch(body).unwrap();
        assert_eq!(slots.len(), 6);
        assert_eq!(slots[0], PointSlot::Ok(84.8, 45.6));
        assert!(matches!(&slots[1], PointSlot::Bad(m) if m.contains("out of range")));
        assert!(matches!(&slots[2], PointSlot::Bad(m) if m.contains("numbers only")));
        assert!(matches!(&slots[3], PointSlot::Bad(m) if m.contains("1 number")));
        assert!(matches!(&slots[4], PointSlot::Bad(m) if m.contains("object")));
        assert_eq!(slots[5], PointSlot::Ok(84.9, 45.61), "a third (height) coordinate is ignored");
    }

    #[test]
    fn feature_collection_batch() {
        let body = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","geometry":{"type":"Point","coordinates":[84.8,45.6]},"properties":{}},
            {"type":"Feature","geometry":{"type":"LineString","coordinates":[[84.8,45.6],[84.9,45.6]]},"properties":{}},
            {"type":"Feature","geometry":null,"properties":{}}]}"#;
        let slots = parse_json_batch(body).unwrap();
        assert_eq!(slots[0], PointSlot::Ok(84.8, 45.6));
        assert!(matches!(&slots[1], PointSlot::Bad(m) if m.contains("LineString")));
        assert!(matches!(&slots[2], PointSlot::Bad(_)));
    }

    #[test]
    fn csv_batch_with_header_and_bad_line() {
        let slots = parse_csv_batch(b"lon,lat\n84.8,45.6\n\nfoo,bar\n84.9,95\n").unwrap();
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[0], PointSlot::Ok(84.8, 45.6));
        assert!(matches!(&slots[1], PointSlot::Bad(m) if m.contains("line 4")));
        assert!(matches!(&slots[2], PointSlot::Bad(m) if m.contains("latitude")));
    }

    #[test]
    fn malformed_json_is_an_error_for_the_whole_request() {
        assert_eq!(parse_json_batch(b"{\"points\": [[1,2]").unwrap_err().status, 400);
        assert_eq!(parse_json_batch(b"{\"pts\": []}").unwrap_err().status, 400);
    }
}
