//! Browser tests: the web map in a real headless Chromium.
//!
//! Each test starts the whole app in-process (the real router on `127.0.0.1:0`, the embedded
//! Karamay data in a temporary GeoPackage), then runs one driver script,
//! `node tests/browser/<name>.mjs <base_url> <screenshot.png> [args...]`, which drives Debian's
//! `/usr/bin/chromium` with playwright-core and prints one line of JSON (see
//! `tests/browser/lib.mjs`). The assertions are here, against the same snapshot the server uses.
//! Screenshots land in `target/screenshots/<name>.png`.
//!
//! Every test also checks that the page made no request outside the server and logged no error.
//! Nothing is skipped: without Chromium, node or `web/node_modules`, the tests fail and say to run
//! `scripts/setup-browser`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use geo::InteriorPoint;
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::index::{Live, Snapshot};
use gridmap::store::gpkg::GpkgStore;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A running server and the snapshot it serves.
struct Server {
    base: String,
    /// The snapshot at start.
    snap: Arc<Snapshot>,
    /// The published snapshot, for what edits changed.
    live: Live,
    /// The same app, for requests without a socket.
    app: Router,
    /// The server's store (where tokens are created, once this branch has `gridmap::auth`'s).
    #[allow(dead_code)]
    store: Arc<GpkgStore>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The whole app over the embedded Karamay data in a temporary GeoPackage, without a socket.
async fn app() -> (Router, Live, Arc<GpkgStore>, tempfile::TempDir) {
    app_over(gridmap::store::seed::karamay().unwrap()).await
}

/// [`app`] over `data`.
async fn app_over(data: gridmap::model::Dataset) -> (Router, Live, Arc<GpkgStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), move || Ok(data)).await.unwrap();
    let data = gridmap::store::Store::load(&store).await.unwrap();
    let live = Live::new(Snapshot::build(data, 1).unwrap());
    let store = Arc::new(store);
    (router(AppState::new(live.clone(), store.clone(), ApiConfig::default())), live, store, dir)
}

/// The app on `127.0.0.1:<free port>`, served until the returned [`Server`] is dropped.
async fn start() -> Server {
    serve(app().await).await
}

/// [`start`] over `data`.
async fn start_over(data: gridmap::model::Dataset) -> Server {
    serve(app_over(data).await).await
}

async fn serve((app, live, store, dir): (Router, Live, Arc<GpkgStore>, tempfile::TempDir)) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = app.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, served).await.unwrap();
    });
    Server { base, snap: live.load(), live, app, store, task, _dir: dir }
}

/// Fails (never skips) when the browser stack is missing, saying how to install it.
fn require_browser_stack() {
    let web = Path::new(MANIFEST_DIR).join("web/node_modules");
    let mut missing = Vec::new();
    let chromium = std::env::var("GRIDMAP_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        missing.push(format!("Chromium ({chromium})"));
    }
    if Command::new("node").arg("--version").output().map_or(true, |o| !o.status.success()) {
        missing.push("node".into());
    }
    for pkg in ["playwright-core/package.json", "maplibre-gl/dist/maplibre-gl.mjs"] {
        if !web.join(pkg).is_file() {
            missing.push(format!("web/node_modules/{pkg}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the browser tests need {}: run `scripts/setup-browser` (installs chromium and fonts-noto-cjk \
         with apt, then `npm ci --prefix web`)",
        missing.join(", ")
    );
}

/// `target/screenshots/<name>.png`, beside the test binary's target directory.
fn screenshot_path(name: &str) -> PathBuf {
    // The test binary is target/<profile>/deps/browser-<hash>.
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|t| t.join("CACHEDIR.TAG").exists() || t.ends_with("target"))
        .unwrap_or_else(|| Path::new(MANIFEST_DIR).join("target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.png"))
}

/// Runs `tests/browser/<name>.mjs` against `server` and returns its JSON report, after the checks
/// every page must pass: the driver succeeded, no request left the server, no console error
/// (except those `allowed_error` accepts), and the screenshot exists.
async fn drive(server: &Server, name: &str, args: &[String], allowed_error: impl Fn(&str) -> bool) -> Value {
    drive_as(server, name, name, args, allowed_error).await
}

/// [`drive`] with screenshot `target/screenshots/<shot>.png`, for a driver that several tests run
/// (at the same time: each needs its own file).
async fn drive_as(
    server: &Server,
    name: &str,
    shot: &str,
    args: &[String],
    allowed_error: impl Fn(&str) -> bool,
) -> Value {
    require_browser_stack();
    let shot = screenshot_path(shot);
    let _ = std::fs::remove_file(&shot);
    let script = Path::new(MANIFEST_DIR).join(format!("tests/browser/{name}.mjs"));
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(&server.base).arg(&shot).args(args).current_dir(MANIFEST_DIR);
    // The server runs on this test's runtime: wait for node on a blocking thread.
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).unwrap_or_else(|| {
        panic!("{name}.mjs printed no JSON report (exit {})\nstdout: {stdout}\nstderr: {stderr}", out.status)
    });
    assert!(
        out.status.success() && report["ok"] == true,
        "{name}.mjs failed (exit {}): {}\nstderr: {stderr}",
        out.status,
        report["error"].as_str().unwrap_or("no error message")
    );
    let requests = report["requests"].as_array().unwrap();
    assert!(requests.len() > 5, "the page, its modules, MapLibre and the layers were requested: {requests:?}");
    assert_eq!(report["external"], Value::Array(vec![]), "the page must make no request outside {}", server.base);
    let errors: Vec<&str> = report["consoleErrors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|e| !allowed_error(e))
        .collect();
    assert!(errors.is_empty(), "console errors on the page: {errors:#?}");
    // MapLibre warns about style mistakes (missing images, bad expressions); SwiftShader's GL
    // performance notes are not ours.
    let warnings: Vec<&str> = report["consoleWarnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|w| !w.contains("GL Driver Message"))
        .collect();
    assert!(warnings.is_empty(), "console warnings on the page: {warnings:#?}");
    assert_eq!(report["failedRequests"], Value::Array(vec![]), "requests that failed");
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("screenshot {} missing: {e}", shot.display()));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} is not a real screenshot", shot.display());
    report
}

fn no_error(_: &str) -> bool {
    false
}

/// A point well inside region geometry `mp` (lon, lat).
fn inside(mp: &geo::MultiPolygon<f64>) -> (f64, f64) {
    let p = mp.interior_point().expect("a region has an interior point");
    (p.x(), p.y())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_loads_draws_the_district_offline_and_keeps_the_view_in_the_hash() {
    let server = start().await;
    let r = drive(&server, "load", &[], no_error).await;

    let drawn = &r["drawn"];
    for layer in ["grids-fill", "communities-line", "subdistricts-line", "responders"] {
        assert!(f(&drawn[layer]) > 0.0, "layer {layer} draws nothing on the overview: {drawn}");
    }
    // Community names are Chinese labels drawn with local fonts (the style has no glyphs URL):
    // MapLibre places a label only once its glyphs are drawn; subdistrict names push some aside.
    let communities = server.snap.data.communities.len() as f64;
    assert!(f(&drawn["community-labels"]) >= 0.5 * communities, "community labels placed: {drawn}");
    assert!(f(&drawn["subdistrict-labels"]) >= 1.0, "subdistrict names on the overview: {drawn}");
    assert_eq!(r["ui"]["lang"], "zh-CN", "Chinese is the default");
    assert_eq!(r["ui"]["h1"], "网格地图");
    assert!(r["ui"]["scale"].as_str().is_some_and(|s| s.ends_with('m')), "a metric scale bar: {}", r["ui"]);
    assert!(r["ui"]["legend"].as_str().unwrap().contains("门禁"), "the legend explains the gates");

    // The first view frames the district: its centre is inside the district's box.
    let (lon, lat) = (f(&r["first"]["center"][0]), f(&r["first"]["center"][1]));
    assert!((84.0..86.0).contains(&lon) && (45.0..46.5).contains(&lat), "overview centre {lon},{lat} is not Karamay");
    assert!(r["first"]["hash"].as_str().unwrap().starts_with('#'), "the view is written to the hash");

    // A URL with a view opens at that view.
    let (want, got) = (&r["wanted"], &r["restored"]);
    assert!((f(&got["zoom"]) - f(&want["zoom"])).abs() < 0.01, "zoom from the hash: {got}");
    assert!((f(&got["center"][0]) - f(&want["lon"])).abs() < 1e-4, "lon from the hash: {got} vs {want}");
    assert!((f(&got["center"][1]) - f(&want["lat"])).abs() < 1e-4, "lat from the hash: {got} vs {want}");
    assert!(f(&r["idleMs"]) < 30_000.0, "the map took {} ms to become idle", r["idleMs"]);
    // The figure for docs/tiles.md (a debug build here; not asserted: machines differ).
    let tiles = r["tiles"].as_array().unwrap();
    assert!(!tiles.is_empty(), "the district is drawn from vector tiles");
    eprintln!(
        "whole district drawn {} ms after navigation start ({} tiles, {} bytes)",
        r["idleSinceNavigationMs"],
        tiles.len(),
        tiles.iter().map(|t| t["bytes"].as_u64().unwrap_or(0)).sum::<u64>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicking_a_grid_shows_its_card_with_roles_but_no_personal_data() {
    let server = start().await;
    let d = &server.snap.data;
    let grid = &d.grids[d.grids.len() / 2];
    let (lon, lat) = inside(&grid.geometry);
    let hit = server.snap.locate(lon, lat).expect("an interior point is in a grid");
    assert_eq!(d.grids[hit.grid].code, grid.code, "the interior point lies in its own grid");

    let r = drive(&server, "click", &[lon.to_string(), lat.to_string()], no_error).await;
    let card = &r["card"];
    assert_eq!(card["hidden"], false);
    assert_eq!(card["level"], "grid");
    assert_eq!(card["code"], grid.code.as_str(), "the card is for the clicked grid");
    assert_eq!(card["shownCode"], grid.code.as_str(), "the code is shown");
    assert_eq!(card["name"], grid.name.as_str());
    let community = grid.code.parent().unwrap();
    assert!(card["community"].as_str() == Some(community.as_str()), "community code shown: {card}");
    assert_eq!(card["subdistrict"], community.parent().unwrap().as_str());
    assert_eq!(card["apiLink"], format!("/api/grids/{}", grid.code));
    let staff = card["staff"].as_array().unwrap();
    assert!(!staff.is_empty(), "every grid has staff, shown by role");
    let text = card["text"].as_str().unwrap();
    assert!(text.contains("网格长") || text.contains("网格员"), "roles in Chinese: {text}");
    for s in server.snap.staff_of_grid(&grid.code) {
        assert!(!text.contains(&s.name) && !text.contains(&s.phone), "personal data on the card: {text}");
    }
    assert!(f(&r["selected"]) > 0.0, "the clicked grid is highlighted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_english_toggle_switches_the_ui_and_is_remembered() {
    let server = start().await;
    let grid = &server.snap.data.grids[0];
    let (lon, lat) = inside(&grid.geometry);
    let r = drive(&server, "i18n", &[lon.to_string(), lat.to_string()], no_error).await;
    let (zh, en) = (&r["zh"], &r["en"]);
    assert_eq!(zh["lang"], "zh-CN");
    assert_eq!(en["lang"], "en");
    assert_eq!(zh["h1"], "网格地图");
    assert_eq!(en["h1"], "Grid map");
    assert_eq!(zh["langButton"], "EN", "the button offers the other language");
    assert_eq!(en["langButton"], "中文");
    assert_eq!(en["searchButton"], "Find");
    assert!(en["placeholder"].as_str().unwrap().contains("code"));
    let has_cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    assert!(!has_cjk(en["legend"].as_str().unwrap()), "the English legend has no Chinese: {}", en["legend"]);
    assert!(has_cjk(zh["legend"].as_str().unwrap()));
    let (zh_card, en_card) = (zh["card"].as_str().unwrap(), en["card"].as_str().unwrap());
    assert!(zh_card.contains("网格力量") && zh_card.contains("社区"), "Chinese card: {zh_card}");
    assert!(en_card.contains("Grid staff") && en_card.contains("Community"), "the open card is redrawn: {en_card}");
    assert!(en_card.contains(grid.name.as_str()), "place names stay as they are");
    assert_eq!(r["reloaded"]["lang"], "en", "the choice survives a reload");
    assert_eq!(r["reloaded"]["h1"], "Grid map");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searching_a_community_code_flies_there_and_an_unknown_code_says_so() {
    let server = start().await;
    let d = &server.snap.data;
    let community = &d.communities[d.communities.len() / 3];
    let (lon, lat) = inside(&community.geometry);
    // Community 198 of the first subdistrict: a well-formed code that is not in the data.
    let unknown = format!("{}198", d.subdistricts[0].code);
    assert!(server.snap.region(&unknown.parse().unwrap()).is_none());
    let args = [community.code.to_string(), lon.to_string(), lat.to_string(), unknown.clone()];
    // The unknown code's 404 is logged by Chromium as a failed resource: expected here only.
    let r = drive(&server, "search", &args, |e| e.contains(&format!("/api/communities/{unknown}"))).await;

    assert_eq!(r["card"]["level"], "community");
    assert_eq!(r["card"]["code"], community.code.as_str());
    assert_eq!(r["card"]["name"], community.name.as_str());
    assert!(r["pointInView"] == true, "a point inside the community is in view after the search: {}", r["after"]);
    let (before, after) = (f(&r["before"]["zoom"]), f(&r["after"]["zoom"]));
    assert!(after > before + 1.0, "the map zoomed in on the community: {before} → {after}");
    let hash = r["after"]["hash"].as_str().unwrap();
    let hash_zoom: f64 = hash.trim_start_matches('#').split('/').next().unwrap().parse().unwrap();
    assert!((hash_zoom - after).abs() < 0.01, "the hash follows the view: {hash} at zoom {after}");

    let msg = &r["message"];
    assert_eq!(msg["kind"], "error");
    assert_eq!(msg["visible"], true);
    assert!(msg["text"].as_str().unwrap().contains(&unknown), "the message names the code: {msg}");
}

/// One response of the router: status, a header's value, the body.
async fn fetch(app: &Router, uri: &str, headers: &[(header::HeaderName, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    let resp = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

fn header_of(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(&name).map_or("", |v| v.to_str().unwrap())
}

/// The files behind the page, without a browser: types, cache headers, errors, and that every
/// file the page refers to is there.
#[tokio::test]
async fn web_files_are_served_from_disk_with_types_and_cache_headers() {
    require_browser_stack();
    gridmap::api::web::check_assets().expect("assets of this checkout");
    let (app, _live, _store, _dir) = app().await;

    let (status, h, body) = fetch(&app, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header_of(&h, header::CONTENT_TYPE).starts_with("text/html"));
    assert_eq!(header_of(&h, header::CACHE_CONTROL), "no-cache", "the page is revalidated, so edits show at once");
    let html = String::from_utf8(body).unwrap();

    // Every /app and /vendor URL in the page, and every relative import of the app's modules.
    let mut urls: Vec<String> =
        html.split('"').filter(|s| s.starts_with("/app/") || s.starts_with("/vendor/")).map(str::to_string).collect();
    let app_dir = Path::new(MANIFEST_DIR).join("web/app");
    for entry in std::fs::read_dir(&app_dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "web/app/{name} names an absolute URL: the page must load nothing from elsewhere"
        );
        for import in text.split('\'').filter(|s| s.starts_with("./") && s.ends_with(".js")) {
            urls.push(format!("/app/{}", &import[2..]));
        }
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "index.html names an absolute URL");
    assert!(urls.len() >= 8, "the page's files: {urls:?}");
    for url in &urls {
        let (status, h, _) = fetch(&app, url, &[]).await;
        assert_eq!(status, StatusCode::OK, "{url} is referred to by the page");
        let ctype = header_of(&h, header::CONTENT_TYPE);
        let want = if url.ends_with(".css") { "text/css" } else { "javascript" };
        assert!(ctype.contains(want), "{url} is served as {ctype}");
    }

    // MapLibre: ES modules as JavaScript (browsers refuse modules of other types), cached a day.
    for file in ["maplibre-gl.mjs", "maplibre-gl-worker.mjs"] {
        let (status, h, body) = fetch(&app, &format!("/vendor/maplibre-gl/{file}"), &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header_of(&h, header::CONTENT_TYPE), "application/javascript", "{file}");
        assert_eq!(header_of(&h, header::CACHE_CONTROL), "public, max-age=86400", "{file}");
        assert!(body.len() > 100_000, "{file} is the real library");
    }
    let (_, h, _) = fetch(&app, "/app/main.js", &[]).await;
    let modified = header_of(&h, header::LAST_MODIFIED).to_string();
    let (status, _, _) = fetch(&app, "/app/main.js", &[(header::IF_MODIFIED_SINCE, modified.as_str())]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "revalidation is cheap");

    // Missing files, directories and escapes from the web root are 404 problems, not files.
    for uri in [
        "/vendor/maplibre-gl/nope.mjs",
        "/vendor/maplibre-gl/",
        "/app/",
        "/app/nope.js",
        "/app/../../Cargo.toml",
        "/app/..%2F..%2FCargo.toml",
        "/vendor/maplibre-gl/../package.json",
    ] {
        let (status, h, _) = fetch(&app, uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(header_of(&h, header::CONTENT_TYPE), "application/problem+json", "{uri}");
        assert_eq!(header_of(&h, header::CACHE_CONTROL), "", "{uri}: an error is not cached");
    }
}

/// "1,234 / 5,678 (21.7%)" → (1234, 5678).
fn covered_of(text: &str) -> (u64, u64) {
    let nums: Vec<u64> = text
        .split(|c: char| !(c.is_ascii_digit() || c == ','))
        .filter(|s| s.chars().any(|c| c.is_ascii_digit()))
        .map(|s| s.replace(',', "").parse().unwrap())
        .collect();
    assert!(nums.len() >= 2, "no 'covered / total' in {text:?}");
    (nums[0], nums[1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coverage_view_draws_blind_spots_and_totals_as_the_api_computes_them() {
    let server = start().await;
    let snap = server.snap.clone();
    let district = snap.data.district.code.clone();
    let at = gridmap::model::TimeOfDay::new(8, 0).unwrap();
    // A point 15 m east of a responder: someone reaches it within the minute.
    let responder = &snap.data.responders[snap.data.responders.len() / 2];
    let (lon, lat) = (responder.location.x() + 0.0002, responder.location.y());
    let token = test_token(&server, "coordinator").await;
    let mut args = vec![district.to_string(), lon.to_string(), lat.to_string()];
    args.extend(token.clone());
    // Before the token is entered, the page is refused (401 or 403): Chromium logs those responses.
    let refused =
        |e: &str| token.is_some() && e.contains("/api/coverage") && (e.contains(" 401 ") || e.contains(" 403 "));
    let r = drive(&server, "coverage", &args, refused).await;

    let expected = gridmap::reach::coverage(&snap, &district, 1, at, true).unwrap();
    let p = &r["panel"];
    assert_eq!(p["state"], "done", "the coverage was drawn: {p}");
    assert_eq!(p["viewButton"], "coverage", "the link opened the coverage view");
    assert_eq!(p["controls"]["minutes"], "1");
    assert_eq!(p["controls"]["hour"], "8");
    assert_eq!(p["controls"]["region"], district.as_str());
    let t = &expected.totals;
    assert_eq!(covered_of(p["households"].as_str().unwrap()), (t.households_covered, t.households), "households: {p}");
    assert_eq!(covered_of(p["gates"].as_str().unwrap()), (t.gates_covered as u64, t.gates as u64), "gates: {p}");
    let blind = expected.blind_spots.0.len();
    assert!(blind > 0, "Karamay has blind spots at one minute");
    let shown_blind: u64 = p["blind"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit() && c != ',')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    assert_eq!(shown_blind, blind as u64, "blind spots listed: {p}");
    assert!(f(&p["drawn"]["blind"]) > 0.0, "blind spots drawn: {p}");
    assert!(f(&p["drawn"]["grids"]) > 0.0, "grids shaded: {p}");
    assert!(!p["staging"].as_array().unwrap().is_empty(), "staging points suggested: {p}");
    assert!(f(&p["drawn"]["staging"]) > 0.0, "staging points drawn: {p}");
    if token.is_some() {
        // Every responder on duty has its reach area drawn (1 minute outlasts every start-up).
        let on_duty = snap.data.responders.iter().filter(|r| r.duty.is_open(at)).count();
        assert_eq!(p["areas"].as_u64(), Some(on_duty as u64), "reach areas of the responders on duty: {p}");
        assert!(f(&p["drawn"]["areas"]) > 0.0, "reach areas drawn: {p}");
    }
    assert!(r["hash"].as_str().unwrap().contains("view=coverage"), "the view stays in the hash: {}", r["hash"]);
    if token.is_some() {
        // The refusal before the token was a readable sentence in Chinese.
        let msg = &r["anonymous"]["message"];
        assert_eq!(r["anonymous"]["state"], "error", "coverage without a token is refused: {}", r["anonymous"]);
        assert!(msg["text"].as_str().unwrap().contains("令牌"), "the refusal says what to do: {msg}");
    }

    // The click lists who reaches the point, in the order of /api/response.
    let want: Vec<u64> = snap.reach.response(lon, lat, 60.0, at).iter().map(|a| a.id as u64).collect();
    assert!(!want.is_empty(), "the point beside a responder is reached");
    let got: Vec<u64> = r["card"]["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(got, want, "responders listed for the clicked point: {}", r["card"]);
    assert!(f(&r["card"]["reachDrawn"]) > 0.0, "their reach areas are drawn");
    let en = r["en"]["panel"].as_str().unwrap();
    assert!(en.contains("Households covered") && en.contains("Blind spots"), "English panel: {en}");
    assert!(r["en"]["card"].as_str().unwrap().contains("Reachable within 1 min"), "English card: {}", r["en"]["card"]);
}

/// A real token of `role` for the tests, made in the server's store; the page enters it
/// through its token dialog.
async fn test_token(server: &Server, role: &str) -> Option<String> {
    use gridmap::auth::{create_token, NewToken, Role};
    let role = match role {
        "coordinator" => Role::Coordinator,
        "planner" => Role::Planner,
        other => panic!("no role {other} in the browser tests"),
    };
    let new = NewToken { name: format!("browser test {role:?}"), role, scope: None, expires_at: None };
    let (_, secret) = create_token(&*server.store, new).await.expect("create a token");
    Some(secret)
}

// ---------------------------------------------------------------------------------------------
// Editing grids

/// Metres per degree of longitude and latitude at `lat` (local, good to well under 1 % here).
fn metres_per_degree(lat: f64) -> (f64, f64) {
    (111_320.0 * lat.to_radians().cos(), 110_574.0)
}

/// Distance in metres between two (lon, lat) points a few hundred metres apart at most.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (kx, ky) = metres_per_degree(a.1);
    ((a.0 - b.0) * kx).hypot((a.1 - b.1) * ky)
}

type Rings = Vec<Vec<Vec<(f64, f64)>>>;

/// A move of vertex `i` of ring `r` of polygon `p` of the edited grid to `to`; the neighbours'
/// copies of that vertex move with it (as in the page's editor).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Move {
    p: usize,
    r: usize,
    i: usize,
    to: (f64, f64),
}

/// The rings of `mp` as open vertex lists (as the page's editor holds them).
fn open_rings(mp: &geo::MultiPolygon<f64>) -> Rings {
    mp.0.iter()
        .map(|poly| {
            std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .map(|ring| {
                    let mut v: Vec<(f64, f64)> = ring.coords().map(|c| (c.x, c.y)).collect();
                    if v.len() > 1 && v.first() == v.last() {
                        v.pop();
                    }
                    v
                })
                .collect()
        })
        .collect()
}

/// GeoJSON MultiPolygon of open rings, closed again.
fn multipolygon_json(rings: &Rings) -> Value {
    let polys: Vec<Value> = rings
        .iter()
        .map(|poly| {
            Value::Array(
                poly.iter()
                    .map(|ring| {
                        let mut pts: Vec<Value> = ring.iter().map(|&(x, y)| serde_json::json!([x, y])).collect();
                        pts.push(serde_json::json!([ring[0].0, ring[0].1]));
                        Value::Array(pts)
                    })
                    .collect(),
            )
        })
        .collect();
    serde_json::json!({"type": "MultiPolygon", "coordinates": polys})
}

/// One grid of an edit: code, the version edited, the new rings.
struct Changed {
    code: String,
    version: u32,
    rings: Rings,
}

/// The grids `moves` change: grid `code` and the grids of its community sharing a moved vertex.
fn apply(server: &Server, code: &str, moves: &[Move]) -> Vec<Changed> {
    let snap = server.live.load();
    let main = snap.region(&code.parse().unwrap()).unwrap();
    let community = main.code.parent().unwrap();
    let main_rings = open_rings(&main.geometry);
    let same = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-7 && (a.1 - b.1).abs() < 1e-7;
    let mut out = Vec::new();
    for g in snap.data.grids.iter().filter(|g| g.code.parent().as_ref() == Some(&community)) {
        let mut rings = open_rings(&g.geometry);
        let mut touched = false;
        for m in moves {
            let from = main_rings[m.p][m.r][m.i];
            for v in rings.iter_mut().flatten().flatten() {
                if same(*v, from) {
                    *v = m.to;
                    touched = true;
                }
            }
        }
        if touched || g.code == main.code {
            out.push(Changed { code: g.code.to_string(), version: g.version, rings });
        }
    }
    out
}

/// The request that saves `changed` (PUT of one grid, or a boundary move): (method, path,
/// If-Match, body), and the body of the matching dry run.
fn edit_request(changed: &[Changed], reason: &str) -> (&'static str, String, Option<u32>, Value, Value) {
    let feature = |c: &Changed, props: Value| serde_json::json!({"type": "Feature", "geometry": multipolygon_json(&c.rings), "properties": props});
    if let [one] = changed {
        let f = feature(one, serde_json::json!({"reason": reason}));
        let dry = serde_json::json!({"op": "reshape", "code": one.code, "version": one.version, "feature": f});
        return ("PUT", format!("/api/grids/{}", one.code), Some(one.version), f, dry);
    }
    let fc: Vec<Value> =
        changed.iter().map(|c| feature(c, serde_json::json!({"code": c.code, "version": c.version}))).collect();
    let body = serde_json::json!({"reason": reason, "grids": {"type": "FeatureCollection", "features": fc}});
    let mut dry = body.clone();
    dry["op"] = "boundary".into();
    ("POST", "/api/grids/boundary".into(), None, body, dry)
}

/// A request to the app without a socket, with the test's token: (status, body).
async fn call(
    server: &Server,
    method: &str,
    uri: &str,
    token: Option<&str>,
    if_match: Option<u32>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(v) = if_match {
        req = req.header(header::IF_MATCH, format!("\"{v}\""));
    }
    let req = match body {
        Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    };
    let resp = server.app.clone().oneshot(req.unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Whether POST /api/validate accepts `moves` of grid `code` (with its neighbours).
async fn valid_moves(server: &Server, token: Option<&str>, code: &str, moves: &[Move]) -> bool {
    let (.., dry) = edit_request(&apply(server, code, moves), "test");
    let (status, v) = call(server, "POST", "/api/validate", token, None, Some(dry)).await;
    assert_eq!(status, StatusCode::OK, "/api/validate answers 200 for a well-formed dry run: {v}");
    v["valid"] == true
}

/// A move of one exterior vertex of grid `code` by 8 or 12 m that /api/validate accepts (alone,
/// and together with every move in `with`), on a vertex that is not next to one of theirs.
async fn find_valid_move(server: &Server, token: Option<&str>, code: &str, with: &[Move]) -> Option<Move> {
    let snap = server.live.load();
    let grid = snap.region(&code.parse().unwrap()).unwrap();
    let rings = open_rings(&grid.geometry);
    let n = rings[0][0].len();
    let near =
        |i: usize| with.iter().any(|m| m.p == 0 && m.r == 0 && ((i + n - m.i) % n <= 1 || (m.i + n - i) % n <= 1));
    // Vertices shared with neighbours first: moving those is a boundary move of several grids.
    let shared = |i: usize| apply(server, code, &[Move { p: 0, r: 0, i, to: (0.0, 0.0) }]).len() > 1;
    let mut order: Vec<usize> = (0..n).filter(|&i| !near(i)).collect();
    order.sort_by_key(|&i| !shared(i));
    for dist in [8.0, 12.0] {
        for &i in &order {
            let (x, y) = rings[0][0][i];
            let (kx, ky) = metres_per_degree(y);
            for (dx, dy) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
                let m = Move { p: 0, r: 0, i, to: (x + dx * dist / kx, y + dy * dist / ky) };
                let mut moves = with.to_vec();
                moves.push(m);
                if valid_moves(server, token, code, &moves).await {
                    return Some(m);
                }
            }
        }
    }
    None
}

/// A grid of the district with a valid one-vertex move (searching from the middle of the list).
async fn editable_grid(server: &Server, token: Option<&str>) -> (String, Move) {
    let grids = &server.snap.data.grids;
    for k in 0..grids.len().min(40) {
        let code = grids[(grids.len() / 2 + 7 * k) % grids.len()].code.to_string();
        if let Some(m) = find_valid_move(server, token, &code, &[]).await {
            return (code, m);
        }
    }
    panic!("no grid of 40 tried accepts a 8-12 m move of one vertex");
}

/// Whether `mp` has a vertex within `tol_m` metres of `pt`.
fn has_vertex_near(mp: &geo::MultiPolygon<f64>, pt: (f64, f64), tol_m: f64) -> bool {
    open_rings(mp).iter().flatten().flatten().any(|&v| metres(v, pt) <= tol_m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_drags_a_vertex_sees_it_validated_and_saves_it() {
    let server = start().await;
    let token = test_token(&server, "planner").await;
    let (code, m) = editable_grid(&server, token.as_deref()).await;
    let changed = apply(&server, &code, &[m]);
    let before = server.live.load().region(&code.parse().unwrap()).unwrap().clone();
    let from = open_rings(&before.geometry)[m.p][m.r][m.i];
    let args = [
        code.clone(),
        m.p.to_string(),
        m.r.to_string(),
        m.i.to_string(),
        m.to.0.to_string(),
        m.to.1.to_string(),
        token.clone().unwrap_or_else(|| "-".into()),
    ];
    assert!(changed.len() >= 2, "the move is shared with a neighbour (a boundary move of {} grids)", changed.len());
    let r = drive(&server, "edit", &args, no_error).await;

    assert_eq!(r["loaded"]["code"], code.as_str(), "the link opened the grid in the edit view");
    assert_eq!(r["loaded"]["version"], before.version.to_string());
    let dragged = (f(&r["dragged"][0]), f(&r["dragged"][1]));
    assert!(metres(dragged, m.to) < 1.0, "the vertex followed the mouse: {dragged:?} vs {:?}", m.to);
    assert_eq!(r["validated"]["validation"], "valid", "the dragged outline is validated live: {}", r["validated"]);
    assert!(r["validated"]["impact"]["households"].is_string(), "the impact is shown: {}", r["validated"]);
    assert!(
        r["noReason"]["text"].as_str().unwrap().contains("原因"),
        "saving without a reason asks for one: {}",
        r["noReason"]
    );
    assert_eq!(r["saved"]["save"], "saved", "saved: {} {}", r["saved"], r["message"]);
    assert_eq!(r["saved"]["version"], (before.version + 1).to_string(), "the page holds the new version");

    let snap = server.live.load();
    for c in &changed {
        let after = snap.region(&c.code.parse().unwrap()).unwrap();
        assert_eq!(after.version, c.version + 1, "grid {} has a new version in the server's snapshot", c.code);
        assert!(has_vertex_near(&after.geometry, dragged, 0.6), "grid {} has the dragged vertex", c.code);
        assert!(!has_vertex_near(&after.geometry, from, 1.0), "grid {}: the vertex left its old place", c.code);
    }
    eprintln!("edited {code}: {} grid(s) changed, vertex moved {:.1} m", changed.len(), metres(from, dragged));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_save_keeps_the_drawing_and_succeeds_after_reapplying() {
    let server = start().await;
    let token = test_token(&server, "planner").await;
    let (code, mine) = editable_grid(&server, token.as_deref()).await;
    let theirs = find_valid_move(&server, token.as_deref(), &code, &[mine]).await.expect("a second, independent move");
    let before = server.live.load().region(&code.parse().unwrap()).unwrap().clone();
    let (method, path, if_match, body, _) = edit_request(&apply(&server, &code, &[theirs]), "另一位规划员先保存");
    let other = serde_json::json!({"method": method, "path": path, "ifMatch": if_match, "body": body});
    let args = [
        code.clone(),
        mine.p.to_string(),
        mine.r.to_string(),
        mine.i.to_string(),
        mine.to.0.to_string(),
        mine.to.1.to_string(),
        token.clone().unwrap_or_else(|| "-".into()),
        other.to_string(),
    ];
    // The stale save's 412 is logged by Chromium as a failed resource: expected here only.
    let r = drive_as(&server, "edit", "edit-conflict", &args, |e| e.contains("412")).await;

    assert!(r["other"]["status"] == 200, "the other planner's save went through: {}", r["other"]);
    let c = &r["conflict"];
    assert_eq!(c["panel"]["save"], "conflict", "the page reports the conflict: {c}");
    assert!(
        c["panel"]["conflict"].as_str().unwrap().contains(&(before.version + 1).to_string()),
        "it names the other version: {c}"
    );
    let kept = (f(&c["kept"][0]), f(&c["kept"][1]));
    let dragged = (f(&r["dragged"][0]), f(&r["dragged"][1]));
    assert_eq!(kept, dragged, "the user's drawing is kept");
    assert!(f(&c["otherDrawn"]) > 0.0, "the other version is drawn");
    assert_eq!(c["reapplied"]["version"], (before.version + 1).to_string(), "re-applied on the new version: {c}");
    assert_eq!(c["reapplied"]["validation"], "valid", "{c}");
    assert_eq!(r["saved"]["save"], "saved", "the second save succeeded: {} {}", r["saved"], r["message"]);

    let after = server.live.load().region(&code.parse().unwrap()).unwrap().clone();
    assert_eq!(after.version, before.version + 2, "two saves: theirs, then ours");
    assert!(has_vertex_near(&after.geometry, dragged, 0.6), "our vertex is saved");
    assert!(has_vertex_near(&after.geometry, theirs.to, 0.6), "their vertex survives the re-apply");
}

/// The bounding box of `mp`: (min lon, min lat, max lon, max lat).
fn bbox(mp: &geo::MultiPolygon<f64>) -> (f64, f64, f64, f64) {
    use geo::BoundingRect;
    let r = mp.bounding_rect().unwrap();
    (r.min().x, r.min().y, r.max().x, r.max().y)
}

fn area_m2(mp: &geo::MultiPolygon<f64>) -> f64 {
    use geo::GeodesicArea;
    mp.geodesic_area_unsigned()
}

/// The current grids of community `community`: code → (version, geometry).
fn grids_of(
    server: &Server,
    community: &gridmap::model::Code,
) -> std::collections::BTreeMap<String, geo::MultiPolygon<f64>> {
    let snap = server.live.load();
    snap.data
        .grids
        .iter()
        .filter(|g| g.code.parent().as_ref() == Some(community))
        .map(|g| (g.code.to_string(), g.geometry.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_splits_a_grid_along_a_drawn_line() {
    let server = start().await;
    let token = test_token(&server, "planner").await;
    let grids = &server.snap.data.grids;
    // A grid and an east-west line across it that /api/validate accepts.
    let mut found = None;
    'search: for k in 0..30 {
        let g = &grids[(grids.len() / 3 + 11 * k) % grids.len()];
        let (w, s, e, n) = bbox(&g.geometry);
        let (kx, _) = metres_per_degree(s);
        for frac in [0.5, 0.4, 0.6, 0.3, 0.7] {
            let y = s + (n - s) * frac;
            let line = vec![(w - 10.0 / kx, y), (e + 10.0 / kx, y)];
            let dry = serde_json::json!({
                "op": "split", "code": g.code, "version": g.version, "reason": "test",
                "line": {"type": "LineString", "coordinates": line.iter().map(|&(x, y)| vec![x, y]).collect::<Vec<_>>()},
            });
            let (status, v) = call(&server, "POST", "/api/validate", token.as_deref(), None, Some(dry)).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            if v["valid"] == true {
                found = Some((g.clone(), line));
                break 'search;
            }
        }
    }
    let (grid, line) = found.expect("a grid of 30 tried can be split east-west");
    let community = grid.code.parent().unwrap();
    let before = grids_of(&server, &community);
    let points = serde_json::to_string(&line.iter().map(|&(x, y)| [x, y]).collect::<Vec<_>>()).unwrap();
    let args = [grid.code.to_string(), "split".into(), points, token.clone().unwrap_or_else(|| "-".into())];
    let r = drive_as(&server, "op", "split", &args, no_error).await;

    assert_eq!(r["validated"]["validation"], "valid", "the drawn line is validated: {}", r["validated"]);
    assert!(f(&r["drawnParts"]) >= 2.0, "the parts are drawn: {r}");
    let after = grids_of(&server, &community);
    assert!(!after.contains_key(grid.code.as_str()), "the split grid is retired");
    let new: Vec<&String> = after.keys().filter(|c| !before.contains_key(*c)).collect();
    assert!(new.len() >= 2, "two or more new grids: {new:?}");
    let parts: f64 = new.iter().map(|c| area_m2(&after[*c])).sum();
    let whole = area_m2(&grid.geometry);
    assert!((parts - whole).abs() < 1e-3 * whole, "the parts cover the grid: {parts} vs {whole} m²");
    assert_eq!(r["after"]["code"], new[0].as_str(), "the page opens the first new grid: {}", r["after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_merges_two_neighbouring_grids_by_clicking() {
    let server = start().await;
    let token = test_token(&server, "planner").await;
    let d = &server.snap.data;
    // Two grids of one community that /api/validate lets merge.
    let mut found = None;
    'search: for k in 0..40 {
        let a = &d.grids[(d.grids.len() / 4 + 13 * k) % d.grids.len()];
        let rings = open_rings(&a.geometry);
        // The grids sharing a vertex with `a` (moving each vertex of `a` shows who moves with it).
        let mut neighbours: Vec<Changed> = (0..rings[0][0].len())
            .flat_map(|i| apply(&server, a.code.as_str(), &[Move { p: 0, r: 0, i, to: (0.0, 0.0) }]))
            .filter(|c| c.code != a.code.as_str())
            .collect();
        neighbours.sort_by(|x, y| x.code.cmp(&y.code));
        neighbours.dedup_by(|x, y| x.code == y.code);
        for b in &neighbours {
            let dry = serde_json::json!({"op": "merge", "reason": "test",
                "grids": [{"code": a.code, "version": a.version}, {"code": b.code, "version": b.version}]});
            let (status, v) = call(&server, "POST", "/api/validate", token.as_deref(), None, Some(dry)).await;
            assert_eq!(status, StatusCode::OK, "{v}");
            if v["valid"] == true {
                found = Some((a.clone(), b.code.clone()));
                break 'search;
            }
        }
    }
    let (a, b_code) = found.expect("two neighbouring grids of 40 tried can be merged");
    let snap = server.live.load();
    let b = snap.region(&b_code.parse().unwrap()).unwrap().clone();
    let community = a.code.parent().unwrap();
    let before = grids_of(&server, &community);
    let (bx, by) = inside(&b.geometry);
    let points = serde_json::to_string(&[[bx, by]]).unwrap();
    let args = [a.code.to_string(), "merge".into(), points, token.clone().unwrap_or_else(|| "-".into())];
    let r = drive_as(&server, "op", "merge", &args, no_error).await;

    assert_eq!(r["validated"]["validation"], "valid", "the merge is validated: {}", r["validated"]);
    assert!(
        r["validated"]["op"].as_str().unwrap().contains(&b_code),
        "the clicked neighbour is listed: {}",
        r["validated"]
    );
    let after = grids_of(&server, &community);
    assert!(!after.contains_key(a.code.as_str()) && !after.contains_key(&b_code), "both grids are retired");
    let new: Vec<&String> = after.keys().filter(|c| !before.contains_key(*c)).collect();
    assert_eq!(new.len(), 1, "one new grid: {new:?}");
    let sum = area_m2(&a.geometry) + area_m2(&b.geometry);
    assert!((area_m2(&after[new[0]]) - sum).abs() < 1e-3 * sum, "the new grid covers both");
    assert_eq!(r["after"]["code"], new[0].as_str(), "the page opens the merged grid: {}", r["after"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_restores_an_earlier_version_from_the_history() {
    let server = start().await;
    let token = test_token(&server, "planner").await;
    // A grid with a vertex of its own (shared with no neighbour) that may move: a change a
    // revert can undo alone.
    let grids = &server.snap.data.grids;
    let mut found = None;
    'search: for k in 0..60 {
        let g = &grids[(grids.len() / 2 + 7 * k) % grids.len()];
        let rings = open_rings(&g.geometry);
        for (i, &(x, y)) in rings[0][0].iter().enumerate() {
            let (kx, ky) = metres_per_degree(y);
            for (dx, dy) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
                let m = Move { p: 0, r: 0, i, to: (x + dx * 8.0 / kx, y + dy * 8.0 / ky) };
                let changed = apply(&server, g.code.as_str(), &[m]);
                if changed.len() == 1 && valid_moves(&server, token.as_deref(), g.code.as_str(), &[m]).await {
                    found = Some((g.clone(), changed));
                    break 'search;
                }
            }
        }
    }
    let (grid, changed) = found.expect("a grid of 60 tried has a vertex of its own that may move");
    let (method, path, if_match, body, _) = edit_request(&changed, "先改一次");
    let (status, v) = call(&server, method, &path, token.as_deref(), if_match, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "the change to revert: {v}");
    let args = [grid.code.to_string(), grid.version.to_string(), token.clone().unwrap_or_else(|| "-".into())];
    let r = drive(&server, "revert", &args, no_error).await;

    let listed: Vec<u64> =
        r["before"]["history"].as_array().unwrap().iter().map(|h| h["version"].as_u64().unwrap()).collect();
    assert_eq!(
        listed,
        vec![grid.version as u64 + 1, grid.version as u64],
        "the history, newest first: {}",
        r["before"]
    );
    assert!(
        r["before"]["history"][0]["text"].as_str().unwrap().contains("先改一次"),
        "reasons are listed: {}",
        r["before"]
    );
    assert!(f(&r["previewDrawn"]) > 0.0, "the earlier version is previewed");
    assert!(r["noReason"]["text"].as_str().unwrap().contains("原因"), "a revert needs a reason: {}", r["noReason"]);
    assert_eq!(r["after"], (grid.version + 2).to_string(), "the page shows the new version: {}", r["message"]);
    let now = server.live.load().region(&grid.code).unwrap().clone();
    assert_eq!(now.version, grid.version + 2, "the revert is a new version");
    let same = open_rings(&now.geometry)
        .iter()
        .flatten()
        .flatten()
        .zip(open_rings(&grid.geometry).iter().flatten().flatten())
        .all(|(a, b)| metres(*a, *b) < 0.01);
    assert!(same, "the restored outline is the original one");
}

/// What a planner sees after someone drew one grid over its neighbour in QGIS: the edit view's
/// whole-map check lists and draws exactly that overlap, in both languages, and opens the grid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_map_check_lists_and_draws_what_an_edit_outside_gridmap_broke() {
    use geo::BooleanOps;
    let mut data = gridmap::store::seed::karamay().unwrap();
    // Two neighbours of one community (their union is one polygon); a takes b's area too.
    let (i, b) = (0..data.grids.len())
        .find_map(|i| {
            let a = &data.grids[i];
            data.grids
                .iter()
                .find(|b| {
                    b.code != a.code && b.code.parent() == a.code.parent() && a.geometry.union(&b.geometry).0.len() == 1
                })
                .map(|b| (i, b.clone()))
        })
        .expect("a grid with a neighbour");
    let a_code = data.grids[i].code.to_string();
    data.grids[i].geometry = data.grids[i].geometry.union(&b.geometry);
    let server = start_over(data).await;

    let r = drive(&server, "check", &[], no_error).await;
    assert_eq!((r["before"].as_str(), r["state"].as_str()), (Some("idle"), Some("done")), "{r}");
    let items = r["zh"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "exactly the overlap is listed: {items:?}");
    assert_eq!(items[0]["rule"], "overlaps-sibling");
    let mut codes: Vec<&str> = items[0]["codes"].as_str().unwrap().split(',').collect();
    codes.sort();
    let mut want = vec![a_code.as_str(), b.code.as_str()];
    want.sort();
    assert_eq!(codes, want, "{items:?}");
    assert!(items[0]["text"].as_str().unwrap().contains("重叠"), "{items:?}");
    assert!(r["zh"]["summary"].as_str().unwrap().contains("1 处错误"), "{}", r["zh"]["summary"]);
    assert!(r["en"]["items"][0]["text"].as_str().unwrap().contains("overlaps"), "{}", r["en"]);
    assert!(r["en"]["summary"].as_str().unwrap().contains("errors: 1,"), "{}", r["en"]["summary"]);
    assert!(r["drawn"].as_u64().unwrap() >= 1, "the overlap is drawn on the map: {r}");
    assert!(want.contains(&r["opened"].as_str().unwrap()), "clicking the error opens one of its grids: {r}");
}

/// The editor's geometry model (web/app/shape.js) in node, without a browser.
#[test]
fn the_editors_shape_model_round_trips_and_merges_a_conflicting_drawing() {
    require_browser_stack();
    let out = Command::new("node").arg("tests/browser/shape.mjs").current_dir(MANIFEST_DIR).output().expect("run node");
    assert!(
        out.status.success(),
        "tests/browser/shape.mjs failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
