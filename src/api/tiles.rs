//! Routes of the vector-tile API: `GET /tiles/{z}/{x}/{y}.mvt`, `GET /tiles.json` (TileJSON
//! 3.0), `GET /style.json` (the MapLibre style) and `GET /tiles/regions.json` (every region's
//! code and name, for a map page's search by name).
//!
//! The work is [`TileService`](crate::tiles::TileService)'s; this module checks the path, runs
//! the CPU work on the blocking pool and writes headers. Tiles are stored gzip-compressed and
//! sent as they are to clients that accept gzip (`Content-Encoding: gzip`), decompressed for
//! the others; the response's own `Content-Encoding` keeps the app's compression layer from
//! compressing them twice. Every response carries an ETag and `Cache-Control: no-cache`, so a
//! browser revalidates and gets a `304` for a tile whose content did not change, and never keeps
//! a tile an edit made stale.
//!
//! URLs inside TileJSON and the style are built from the request's `Host` (or
//! `X-Forwarded-Host`/`X-Forwarded-Proto` when a proxy sets them), so the documents point back
//! at whatever name and port the client used.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::index::Snapshot;
use crate::model::Level;
use crate::tiles::{style, TileId, TileIdError, TileService, MAX_ZOOM};

/// The media type of a Mapbox Vector Tile.
pub const MVT_MEDIA_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// The routes of this module with a tile service of its own (default settings), merged into the
/// app by [`super::router`].
pub fn routes() -> Router<AppState> {
    routes_with(Arc::new(TileService::default()))
}

/// The routes of this module around a given tile service (tests use it to watch the cache).
pub fn routes_with(tiles: Arc<TileService>) -> Router<AppState> {
    Router::new()
        .route("/tiles/{z}/{x}/{y}", get(tile))
        .route("/tiles.json", get(tilejson))
        .route("/style.json", get(style_json))
        .route("/tiles/regions.json", get(regions))
        .layer(Extension(tiles))
}

/// Runs CPU-bound tile work off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("tile task failed: {e}")))
}

fn tile_id(z: &str, x: &str, y: &str) -> Result<TileId, ApiError> {
    let Some(y) = y.strip_suffix(".mvt") else {
        return Err(ApiError::not_found(format!(
            "tile {z}/{x}/{y}: tiles are served as .mvt (Mapbox Vector Tile), e.g. /tiles/{z}/{x}/{}.mvt",
            y.split('.').next().unwrap_or(y)
        )));
    };
    let num = |name: &str, v: &str| {
        v.parse::<u32>().map_err(|_| {
            ApiError::bad_request(
                "invalid-tile",
                format!("tile {name} {v:?} is not a whole number; the URL is /tiles/{{z}}/{{x}}/{{y}}.mvt"),
            )
        })
    };
    let (z, x, y) = (num("z", z)?, num("x", x)?, num("y", y)?);
    TileId::new(z, x, y).map_err(|e| match e {
        TileIdError::ZoomTooDeep { .. } | TileIdError::OutOfRange { .. } => ApiError::not_found(e.to_string()),
    })
}

/// Whether the client takes `gzip` (RFC 9110 `Accept-Encoding`, `q=0` meaning no).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .next()
                .unwrap_or(1.0);
            (coding == "gzip" || coding == "x-gzip" || coding == "*") && q > 0.0
        },
    )
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn header_value(s: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(s).map_err(|e| ApiError::internal(format!("bad header value {s:?}: {e}")))
}

/// `GET /tiles/{z}/{x}/{y}.mvt`
async fn tile(
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<TileService>>,
    Path((z, x, y)): Path<(String, String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let id = tile_id(&z, &x, &y)?;
    let snap = state.live.load();
    let cached = blocking(move || tiles.tile(&snap, id)).await?.map_err(|e| ApiError::internal(e.to_string()))?;
    // The gzip and the plain body are two representations: each has its own strong ETag.
    let gzip = accepts_gzip(&headers);
    let etag = if gzip { cached.etag.clone() } else { cached.etag.replacen('"', "\"identity-", 1) };
    let common = [
        (header::ETAG, header_value(&etag)?),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::VARY, HeaderValue::from_static("Accept-Encoding")),
    ];
    if not_modified(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let content_type = (header::CONTENT_TYPE, HeaderValue::from_static(MVT_MEDIA_TYPE));
    if gzip {
        let body = Body::from(Bytes::from_owner(cached.gzip.clone()));
        return Ok((common, [content_type, (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))], body)
            .into_response());
    }
    let gz = cached.gzip.clone();
    let raw = blocking(move || crate::tiles::gunzip(&gz)).await?.map_err(|e| ApiError::internal(e.to_string()))?;
    // A client that refuses gzip is not gzipped by the app's compression layer either.
    Ok((common, [content_type], raw).into_response())
}

/// `scheme://host` of the request, for URLs inside the documents. Falls back to
/// `http://localhost` when the request names no usable host.
pub fn base_url(headers: &HeaderMap) -> String {
    let get =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.split(',').next().unwrap_or("").trim());
    let host_ok = |h: &&str| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c));
    let host = get("x-forwarded-host").filter(host_ok).or_else(|| get("host").filter(host_ok)).unwrap_or("localhost");
    let scheme = match get("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

fn no_cache_json(body: Value) -> Response {
    ([(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))], Json(body)).into_response()
}

/// `GET /tiles.json`
async fn tilejson(
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<TileService>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let base = base_url(&headers);
    let snap = state.live.load();
    let doc = blocking(move || style::tilejson(&snap, &tiles.prepared(&snap), &base)).await?;
    Ok(no_cache_json(doc))
}

/// `GET /style.json`
async fn style_json(
    State(state): State<AppState>,
    Extension(tiles): Extension<Arc<TileService>>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    params.only(&[])?;
    let base = base_url(&headers);
    let snap = state.live.load();
    // The server's local time; a page sets its own clock's minute (see tiles::style).
    let now = chrono::Local::now().time();
    let minute = chrono::Timelike::hour(&now) * 60 + chrono::Timelike::minute(&now);
    let doc = blocking(move || style::style(&snap, &tiles.prepared(&snap), &base, minute as u16)).await?;
    Ok(no_cache_json(doc))
}

fn region_names(snap: &Snapshot) -> Value {
    let level = |l: Level| -> Value {
        snap.data
            .regions(l)
            .unwrap_or_default()
            .iter()
            .map(|r| json!([r.code.as_str(), r.name.as_str()]))
            .collect::<Vec<_>>()
            .into()
    };
    json!({
        "generation": snap.generation,
        "subdistrict": level(Level::Subdistrict),
        "community": level(Level::Community),
        "grid": level(Level::Grid),
    })
}

/// `GET /tiles/regions.json`
async fn regions(State(state): State<AppState>, headers: HeaderMap, params: Params) -> Result<Response, ApiError> {
    params.only(&[])?;
    let snap = state.live.load();
    let etag = format!("\"regions-{}-{}\"", snap.generation, snap.built_at.timestamp_micros());
    let common = [(header::ETAG, header_value(&etag)?), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    if not_modified(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    let body = blocking(move || region_names(&snap)).await?;
    Ok((common, Json(body)).into_response())
}

fn problems(codes: &[&str]) -> serde_json::Map<String, Value> {
    codes
        .iter()
        .map(|c| {
            let description = match *c {
                "400" => "Malformed tile address or unknown query parameter",
                "404" => "No such tile: zoom beyond the deepest served, x or y out of range, or not .mvt",
                _ => "Error",
            };
            (
                c.to_string(),
                json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
            )
        })
        .collect()
}

/// OpenAPI path items of this module, merged into `/openapi.json`.
pub fn openapi_paths() -> Value {
    let int = |name: &str, max: Option<u32>, description: &str| {
        let mut schema = json!({"type": "integer", "minimum": 0});
        if let Some(m) = max {
            schema["maximum"] = m.into();
        }
        json!({"name": name, "in": "path", "required": true, "schema": schema, "description": description})
    };
    let mut tile_responses = problems(&["400", "404"]);
    tile_responses.insert(
        "200".into(),
        json!({
            "description": "The tile (possibly empty). gzip-compressed when the request accepts gzip.",
            "headers": {
                "ETag": {"schema": {"type": "string"}, "description": "Changes only when the tile's content changes"},
                "Content-Encoding": {"schema": {"type": "string", "enum": ["gzip"]}, "description": "Present when the request accepts gzip"}
            },
            "content": {MVT_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}
        }),
    );
    tile_responses.insert("304".into(), json!({"description": "Not modified (If-None-Match matched the ETag)"}));
    let json_ok = |description: &str| {
        let mut r = problems(&["400"]);
        r.insert(
            "200".into(),
            json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}),
        );
        Value::Object(r)
    };
    json!({
        "/tiles/{z}/{x}/{y}.mvt": {"get": {
            "summary": "A Mapbox Vector Tile (2.1) of every map layer, EPSG:3857, extent 4096",
            "description": "Source layers: subdistricts, communities, grids, compounds, buildings, access_points, entrances, responders and region_labels; see /tiles.json for the zooms and fields of each. No staff data. Tiles are cached and an edit invalidates exactly the tiles it touches.",
            "operationId": "tile",
            "parameters": [
                int("z", Some(MAX_ZOOM.into()), "Zoom"),
                int("x", None, "Column, 0 to 2^z - 1, west to east"),
                int("y", None, "Row, 0 to 2^z - 1, north to south"),
            ],
            "responses": Value::Object(tile_responses),
        }},
        "/tiles.json": {"get": {
            "summary": "TileJSON 3.0.0 of the tiles: URL template, bounds, centre, zooms and vector_layers",
            "operationId": "tilejson",
            "responses": json_ok("The TileJSON document; URLs use the request's host"),
        }},
        "/style.json": {"get": {
            "summary": "MapLibre style (version 8) over the tiles; no external URLs, no glyphs (labels use local fonts)",
            "description": "Gates are coloured open/closed for `state.minute` (minutes after local midnight, the server's clock when served); clients update it with setGlobalStateProperty.",
            "operationId": "style",
            "responses": json_ok("The style"),
        }},
        "/tiles/regions.json": {"get": {
            "summary": "Code and name of every subdistrict, community and grid, for search by name",
            "operationId": "region_names",
            "responses": json_ok("{generation, subdistrict: [[code, name], ...], community: [...], grid: [...]}"),
        }},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        assert!(accepts_gzip(&headers(&[("accept-encoding", "gzip, deflate, br")])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "br;q=1.0, gzip;q=0.8")])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "br")])));
        assert!(!accepts_gzip(&headers(&[])));
    }

    #[test]
    fn base_url_follows_the_request_and_refuses_odd_hosts() {
        assert_eq!(base_url(&headers(&[("host", "127.0.0.1:8080")])), "http://127.0.0.1:8080");
        assert_eq!(
            base_url(&headers(&[
                ("host", "a"),
                ("x-forwarded-host", "map.example.cn"),
                ("x-forwarded-proto", "https")
            ])),
            "https://map.example.cn"
        );
        assert_eq!(base_url(&headers(&[("host", "evil\"/x")])), "http://localhost");
    }

    #[test]
    fn tile_addresses_are_checked() {
        assert_eq!(tile_id("14", "12054", "5800.mvt").unwrap(), TileId { z: 14, x: 12054, y: 5800 });
        assert_eq!(tile_id("a", "0", "0.mvt").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(tile_id("1", "0", "-1.mvt").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(tile_id("1", "2", "0.mvt").unwrap_err().status, StatusCode::NOT_FOUND);
        assert_eq!(tile_id("17", "0", "0.mvt").unwrap_err().status, StatusCode::NOT_FOUND);
        assert_eq!(tile_id("1", "0", "0.pbf").unwrap_err().status, StatusCode::NOT_FOUND);
    }
}
