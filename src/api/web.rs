//! The web map's files, served from disk by the binary.
//!
//! | URL                     | file                                    | Cache-Control           |
//! |-------------------------|-----------------------------------------|-------------------------|
//! | `/`                     | `<web>/index.html`                      | `no-cache`              |
//! | `/app/*`                | `<web>/app/*` (the app's JS and CSS)    | `no-cache`              |
//! | `/vendor/maplibre-gl/*` | `<web>/node_modules/maplibre-gl/dist/*` | `public, max-age=86400` |
//!
//! `<web>` is [`web_root`]: `$GRIDMAP_WEB_DIR`, or the `web/` folder of the source tree the binary
//! was built from (a binary copied elsewhere needs the variable). The files are read at request
//! time, so editing the app needs no rebuild; `no-cache` makes browsers revalidate (ServeDir
//! answers `If-Modified-Since` with 304). MapLibre is pinned in `web/package-lock.json` and
//! installed with `npm ci --prefix web`; when it is missing, `/vendor/...` answers a problem+json
//! 404 that says so, and [`routes`] logs one warning with the path and the command.
//!
//! This module owns only static files: it never touches the snapshot or the store.

use std::path::PathBuf;
use std::sync::Once;

use axum::extract::OriginalUri;
use axum::handler::HandlerWithoutStateExt;
use axum::http::{header, HeaderValue, Response};
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use super::{ApiError, AppState};

/// The environment variable that overrides the web root.
pub const WEB_DIR_VAR: &str = "GRIDMAP_WEB_DIR";

/// Where MapLibre's distribution lies inside the web root.
const MAPLIBRE_DIST: &str = "node_modules/maplibre-gl/dist";

/// The files the page cannot work without, relative to the web root.
const REQUIRED: [&str; 4] = [
    "index.html",
    "app/main.js",
    "node_modules/maplibre-gl/dist/maplibre-gl.mjs",
    "node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs",
];

/// The web root: `$GRIDMAP_WEB_DIR` when set and not empty, else this crate's `web/` folder.
pub fn web_root() -> PathBuf {
    match std::env::var_os(WEB_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/web")),
    }
}

/// Checks that the page and MapLibre are on disk under [`web_root`]; the error says what is
/// missing and how to install it.
pub fn check_assets() -> Result<(), String> {
    let root = web_root();
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|f| !root.join(f).is_file()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut hints = Vec::new();
    if missing.iter().any(|f| !f.starts_with("node_modules/")) {
        hints.push(format!("set {WEB_DIR_VAR} to the folder holding index.html and app/"));
    }
    if missing.iter().any(|f| f.starts_with("node_modules/")) {
        hints.push(format!("install MapLibre with `npm ci --prefix {}` (or scripts/run)", root.display()));
    }
    Err(format!(
        "the web map will not work: missing under {}: {}; {}",
        root.display(),
        missing.join(", "),
        hints.join("; ")
    ))
}

/// A missing file under `/` or `/app`: a problem+json 404 that names it.
async fn file_missing(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("there is no file {} in the web app", uri.path()))
}

/// A missing file under `/vendor`: says how to install MapLibre when it is not installed.
async fn vendor_file_missing(OriginalUri(uri): OriginalUri) -> ApiError {
    // Say what to do, but not where the server keeps its files.
    let installed = web_root().join(MAPLIBRE_DIST).join("maplibre-gl.mjs").is_file();
    let hint = if installed { "" } else { "; MapLibre is not installed on this server (run `npm ci --prefix web`)" };
    ApiError::not_found(format!("there is no file {}{hint}", uri.path()))
}

/// Adds `Cache-Control: value` to successful responses (errors are rebuilt as problem+json).
fn cache_control<B>(
    value: &'static str,
) -> SetResponseHeaderLayer<impl FnMut(&Response<B>) -> Option<HeaderValue> + Clone> {
    SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, move |res: &Response<B>| {
        (res.status().is_success() || res.status().is_redirection()).then(|| HeaderValue::from_static(value))
    })
}

/// The page, the app's files and the vendored MapLibre. Logs (once per process) when assets
/// are missing.
pub fn routes() -> Router<AppState> {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(|| {
        if let Err(e) = check_assets() {
            tracing::warn!("{e}");
        }
    });
    let root = web_root();
    let dir = |p: PathBuf| ServeDir::new(p).append_index_html_on_directories(false).redirect_to_trailing_slash(false);
    Router::new()
        .route_service("/", ServeFile::new(root.join("index.html")))
        .nest_service("/app", dir(root.join("app")).not_found_service(file_missing.into_service()))
        .layer(cache_control("no-cache"))
        .merge(
            Router::new()
                .nest_service(
                    "/vendor/maplibre-gl",
                    dir(root.join(MAPLIBRE_DIST)).not_found_service(vendor_file_missing.into_service()),
                )
                .layer(cache_control("public, max-age=86400")),
        )
}
