//! Query-string parsing with messages a person can act on.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;

use super::error::ApiError;
use crate::model::crs::check_lon_lat;
use crate::model::{Code, InputCrs, Level, TimeOfDay};

/// The query parameters of a request, decoded. Rejections become problem+json.
#[derive(Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        check_utf8(query)?;
        Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|e| ApiError::bad_request("invalid-query", format!("the query string cannot be decoded: {e}")))
    }
}

/// Refuses a query string whose percent-encoded bytes are not UTF-8 (`?q=%FF`). The decoder
/// behind axum's `Query` would replace them with U+FFFD and answer a question nobody asked.
fn check_utf8(query: &str) -> Result<(), ApiError> {
    // A part without a percent escape decodes to its own text, which is UTF-8 already.
    for part in query.split('&').filter(|part| part.contains('%')) {
        let mut bytes = Vec::with_capacity(part.len());
        let raw = part.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (raw[i], raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex)) {
                (b'%', Some(h), Some(l)) => {
                    bytes.push((h * 16 + l) as u8);
                    i += 3;
                }
                (b, _, _) => {
                    bytes.push(b);
                    i += 1;
                }
            }
        }
        if String::from_utf8(bytes).is_err() {
            return Err(ApiError::bad_request(
                "invalid-query",
                format!(
                    "the query string part {part:?} is not UTF-8 once percent-decoded; \
                     encode text as UTF-8 (e.g. 克 is %E5%85%8B)"
                ),
            ));
        }
    }
    Ok(())
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Fails on parameters the route does not know (catches typos such as `lng`).
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut unknown: Vec<&str> = self.0.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        unknown.sort_unstable();
        Err(ApiError::bad_request(
            "unknown-parameter",
            format!("unknown query parameter(s) {}; this route takes {}", unknown.join(", "), allowed.join(", ")),
        ))
    }

    /// A required finite number.
    pub fn f64(&self, key: &str) -> Result<f64, ApiError> {
        let raw = self.get(key).ok_or_else(|| {
            ApiError::bad_request("missing-parameter", format!("query parameter `{key}` is required"))
        })?;
        let v: f64 = raw
            .trim()
            .parse()
            .map_err(|_| ApiError::bad_request("invalid-parameter", format!("`{key}`={raw:?} is not a number")))?;
        if !v.is_finite() {
            return Err(ApiError::bad_request(
                "invalid-parameter",
                format!("`{key}` must be a finite number, got {raw:?}"),
            ));
        }
        Ok(v)
    }

    /// `crs=wgs84|gcj02` (default WGS84).
    pub fn crs(&self) -> Result<InputCrs, ApiError> {
        match self.get("crs") {
            None => Ok(InputCrs::Wgs84),
            Some(s) => InputCrs::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid-parameter",
                    format!("`crs`={s:?} is not supported; use wgs84 (EPSG:4326) or gcj02"),
                )
            }),
        }
    }

    /// An optional instant in RFC 3339 (`2026-01-01T00:00:00Z`, `2026-01-01T08:00:00+08:00`).
    pub fn instant(&self, key: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        let Some(raw) = self.get(key) else { return Ok(None) };
        chrono::DateTime::parse_from_rfc3339(raw.trim()).map(|t| Some(t.to_utc())).map_err(|e| {
            ApiError::bad_request(
                "invalid-parameter",
                format!("`{key}`={raw:?} is not an RFC 3339 instant such as 2026-01-01T00:00:00Z ({e})"),
            )
        })
    }

    /// `lon` and `lat`, range-checked, converted from `crs` to WGS84.
    pub fn point(&self) -> Result<(f64, f64), ApiError> {
        let (lon, lat) = (self.f64("lon")?, self.f64("lat")?);
        check_lon_lat(lon, lat).map_err(|m| ApiError::bad_request("invalid-coordinates", m))?;
        Ok(self.crs()?.to_wgs84(lon, lat))
    }

    /// An optional time of day `HH:MM`.
    pub fn time_of_day(&self, key: &str) -> Result<Option<TimeOfDay>, ApiError> {
        self.get(key)
            .map(|s| {
                TimeOfDay::parse(s).map_err(|e| ApiError::bad_request("invalid-parameter", format!("`{key}`: {e}")))
            })
            .transpose()
    }

    /// `bbox=minlon,minlat,maxlon,maxlat` (EPSG:4326), if present.
    pub fn bbox(&self) -> Result<Option<geo::Rect<f64>>, ApiError> {
        let Some(raw) = self.get("bbox") else { return Ok(None) };
        let bad = |why: &str| {
            ApiError::bad_request(
                "invalid-parameter",
                format!("`bbox`={raw:?} {why}; write minlon,minlat,maxlon,maxlat"),
            )
        };
        let nums: Vec<f64> = raw
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("has a part that is not a number"))?;
        let [x0, y0, x1, y1] = nums[..] else { return Err(bad("needs exactly four numbers")) };
        for (x, y) in [(x0, y0), (x1, y1)] {
            check_lon_lat(x, y).map_err(|m| bad(&format!("is out of range ({m})")))?;
        }
        if x0 > x1 || y0 > y1 {
            return Err(bad("has its minimum above its maximum"));
        }
        Ok(Some(geo::Rect::new((x0, y0), (x1, y1))))
    }

    /// An optional unsigned integer with an upper bound.
    pub fn usize_max(&self, key: &str, max: usize) -> Result<Option<usize>, ApiError> {
        let Some(raw) = self.get(key) else { return Ok(None) };
        let v: usize = raw.trim().parse().map_err(|_| {
            ApiError::bad_request("invalid-parameter", format!("`{key}`={raw:?} is not a whole number"))
        })?;
        if v > max {
            return Err(ApiError::bad_request("invalid-parameter", format!("`{key}`={v} is above the maximum {max}")));
        }
        Ok(Some(v))
    }
}

/// Parses a code from a path segment, insisting on `level`. Malformed → 400, wrong level → 404
/// with a pointer to the right route.
pub fn path_code(raw: &str, level: Level) -> Result<Code, ApiError> {
    let code = Code::parse(raw).map_err(|e| ApiError::bad_request("invalid-code", e.to_string()))?;
    if code.level() != level {
        let route = match code.level() {
            Level::District => "/api/layers/subdistricts".to_string(),
            Level::Subdistrict => format!("/api/subdistricts/{code}"),
            Level::Community => format!("/api/communities/{code}"),
            Level::Grid => format!("/api/grids/{code}"),
        };
        return Err(ApiError::not_found(format!("{code} is a {} code, not a {level} code; see {route}", code.level())));
    }
    Ok(code)
}

/// The request's media type without parameters, lower-cased (`application/json` when absent).
pub fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}
