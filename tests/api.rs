//! The HTTP API in-process (no socket): answers, problem+json errors, limits, OpenAPI.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use geo::{InteriorPoint, Intersects};
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::index::{Live, Snapshot};
use gridmap::store::gpkg::GpkgStore;
use http_body_util::BodyExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tower::ServiceExt;

struct App {
    router: Router,
    snap: Arc<Snapshot>,
    _dir: tempfile::TempDir,
}

async fn app_with(config: ApiConfig) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), gridmap::store::seed::karamay).await.unwrap();
    let data = gridmap::store::Store::load(&store).await.unwrap();
    let live = Live::new(Snapshot::build(data, 1).unwrap());
    let snap = live.load();
    App { router: router(AppState::new(live, Arc::new(store), config)), snap, _dir: dir }
}

async fn app() -> App {
    app_with(ApiConfig::default()).await
}

struct Reply {
    status: StatusCode,
    content_type: String,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts an RFC 9457 problem with this status and returns its detail.
    fn problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.content_type, "application/problem+json");
        let v = self.json();
        assert_eq!(v["status"], status);
        assert!(v["type"].as_str().unwrap().starts_with("urn:gridmap:problem:"));
        assert!(v["title"].is_string());
        let detail = v["detail"].as_str().unwrap().to_string();
        assert!(detail.len() > 10, "a person needs a real message, got {detail:?}");
        detail
    }
}

async fn send(app: &App, req: Request<Body>) -> Reply {
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let content_type =
        resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let etag = resp.headers().get(header::ETAG).map(|v| v.to_str().unwrap().to_string());
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, content_type, etag, body }
}

async fn get(app: &App, uri: &str) -> Reply {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(app: &App, uri: &str, content_type: &str, body: impl Into<Body>) -> Reply {
    send(app, Request::post(uri).header(header::CONTENT_TYPE, content_type).body(body.into()).unwrap()).await
}

/// A point well inside grid `i`.
fn inside(app: &App, i: usize) -> (f64, f64) {
    let p = app.snap.data.grids[i].geometry.interior_point().unwrap();
    (p.x(), p.y())
}

#[tokio::test]
async fn locate_one_point_names_grid_community_subdistrict_without_personal_data() {
    let app = app().await;
    for i in [0, 7, app.snap.data.grids.len() - 1] {
        let g = &app.snap.data.grids[i];
        let (lon, lat) = inside(&app, i);
        let r = get(&app, &format!("/api/locate?lon={lon}&lat={lat}")).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        assert_eq!(v["grid"]["code"], g.code.as_str());
        assert_eq!(v["grid"]["name"], g.name.as_str());
        let community = g.code.parent().unwrap();
        assert_eq!(v["community"]["code"], community.as_str());
        assert_eq!(v["subdistrict"]["code"], community.parent().unwrap().as_str());
        let staff = v["staff"].as_array().unwrap();
        assert!(!staff.is_empty(), "every grid has staff");
        for s in staff {
            assert!(s.get("name").is_none() && s.get("phone").is_none(), "personal data leaked: {s}");
            assert!(s["role"].is_string());
        }
        // No staff name or phone anywhere in the body.
        let text = String::from_utf8(r.body.clone()).unwrap();
        for s in app.snap.staff_of_grid(&g.code) {
            assert!(!text.contains(&s.name) && !text.contains(&s.phone), "personal data in {text}");
        }
    }
}

#[tokio::test]
async fn locate_outside_the_district_is_null_not_an_error() {
    let app = app().await;
    let v = get(&app, "/api/locate?lon=116.4&lat=39.9").await.json();
    assert_eq!(v["grid"], Value::Null);
    assert_eq!(v["community"], Value::Null);
    assert_eq!(v["subdistrict"], Value::Null);
    assert_eq!(v["staff"], json!([]));
}

#[tokio::test]
async fn locate_accepts_gcj02() {
    let app = app().await;
    let (lon, lat) = inside(&app, 3);
    let (glon, glat) = gridmap::model::crs::wgs84_to_gcj02(lon, lat);
    let v = get(&app, &format!("/api/locate?lon={glon}&lat={glat}&crs=gcj02")).await.json();
    assert_eq!(v["grid"]["code"], app.snap.data.grids[3].code.as_str());
    // Sent as WGS84, the same numbers are off by the GCJ-02 shift (hundreds of metres).
    let p = v["point"].as_array().unwrap();
    assert!((p[0].as_f64().unwrap() - lon).abs() < 1e-7 && (p[1].as_f64().unwrap() - lat).abs() < 1e-7);
}

#[tokio::test]
async fn bad_locate_parameters_are_400_problems() {
    let app = app().await;
    for (uri, needle) in [
        ("/api/locate?lon=84.87", "`lat` is required"),
        ("/api/locate?lat=45.6", "`lon` is required"),
        ("/api/locate?lon=abc&lat=45.6", "not a number"),
        ("/api/locate?lon=NaN&lat=45.6", "finite"),
        ("/api/locate?lon=inf&lat=45.6", "finite"),
        ("/api/locate?lon=200&lat=45.6", "out of range"),
        ("/api/locate?lon=84.87&lat=-91", "out of range"),
        ("/api/locate?lon=84.87&lat=45.6&crs=bd09", "crs"),
        ("/api/locate?lng=84.87&lat=45.6", "unknown query parameter"),
        ("/api/locate?lon=%ZZ&lat=1", "not a number"),
    ] {
        let detail = get(&app, uri).await.problem(400);
        assert!(detail.contains(needle), "{uri}: {detail:?} should mention {needle:?}");
    }
}

#[tokio::test]
async fn batch_locate_json_matches_single_locates_in_order() {
    let app = app().await;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let pts: Vec<[f64; 2]> =
        (0..5_000).map(|_| [84.80 + rng.random::<f64>() * 0.2, 45.52 + rng.random::<f64>() * 0.16]).collect();
    let r = post(&app, "/api/locate", "application/json", json!({ "points": pts }).to_string()).await;
    assert_eq!(r.status, 200);
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), pts.len());
    let mut hits = 0;
    for (p, res) in pts.iter().zip(&results) {
        let expect = app.snap.locate(p[0], p[1]);
        match expect {
            Some(h) => {
                hits += 1;
                let g = &app.snap.data.grids[h.grid];
                assert_eq!(res["grid"], g.code.as_str());
                assert_eq!(res["community"], g.code.parent().unwrap().as_str());
            }
            None => assert_eq!(res["grid"], Value::Null),
        }
    }
    assert!(hits > 100, "the sample should hit the district, got {hits}");
}

/// A batch big enough to be located in parallel pieces (one per core, at least 65,536 points
/// each) answers exactly as single locates would, in input order, with the bad points' errors
/// in their own slots on both sides of the cut, in JSON and in CSV.
#[tokio::test]
async fn big_batches_cut_into_pieces_answer_in_input_order() {
    let app = app().await;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 300_001;
    let bad = [0, 150_000, 150_001, n - 1];
    let pts: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            if bad.contains(&i) {
                [999.0, 0.0]
            } else {
                [84.80 + rng.random::<f64>() * 0.2, 45.52 + rng.random::<f64>() * 0.16]
            }
        })
        .collect();
    let expected: Vec<Option<String>> =
        pts.iter().map(|p| app.snap.locate(p[0], p[1]).map(|h| app.snap.data.grids[h.grid].code.to_string())).collect();

    let r = post(&app, "/api/locate", "application/json", json!({ "points": pts }).to_string()).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), n);
    for (i, (res, want)) in results.iter().zip(&expected).enumerate() {
        if bad.contains(&i) {
            assert!(res["error"].as_str().unwrap().contains("out of range"), "slot {i}: {res}");
        } else {
            assert_eq!(res["grid"].as_str(), want.as_deref(), "slot {i}");
        }
    }

    let csv: String =
        std::iter::once("lon,lat\n".to_string()).chain(pts.iter().map(|p| format!("{},{}\n", p[0], p[1]))).collect();
    let r = post(&app, "/api/locate", "text/csv", csv).await;
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "grid,community,subdistrict,error");
    assert_eq!(lines.len(), n + 1);
    for (i, (line, want)) in lines[1..].iter().zip(&expected).enumerate() {
        let grid = line.split(',').next().unwrap();
        if bad.contains(&i) {
            assert!(line.starts_with(",,,\""), "row {i}: {line}");
        } else {
            assert_eq!(grid, want.as_deref().unwrap_or(""), "row {i}");
        }
    }
}

#[tokio::test]
async fn batch_bad_points_get_errors_in_their_own_slots() {
    let app = app().await;
    let (lon, lat) = inside(&app, 0);
    let body = format!(r#"{{"points": [[{lon},{lat}], [999, 0], "x", [{lon}], [{lon},{lat}]]}}"#);
    let v = post(&app, "/api/locate", "application/json", body).await.json();
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 5);
    let code = app.snap.data.grids[0].code.as_str();
    assert_eq!(r[0]["grid"], code);
    assert!(r[1]["error"].as_str().unwrap().contains("out of range"));
    assert!(r[2]["error"].is_string());
    assert!(r[3]["error"].is_string());
    assert_eq!(r[4]["grid"], code);
    assert!(r[0].get("error").is_none());
}

#[tokio::test]
async fn batch_feature_collection_and_csv() {
    let app = app().await;
    let (lon, lat) = inside(&app, 5);
    let code = app.snap.data.grids[5].code.to_string();
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0.0, 0.0]}, "properties": {}}
    ]});
    let v = post(&app, "/api/locate", "application/geo+json", fc.to_string()).await.json();
    assert_eq!(v["results"][0]["grid"], code.as_str());
    assert_eq!(v["results"][1]["grid"], Value::Null);

    let csv = format!("lon,lat\n{lon},{lat}\n0,0\nfoo,bar\n");
    let r = post(&app, "/api/locate", "text/csv", csv).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type.starts_with("text/csv"));
    let text = String::from_utf8(r.body).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "grid,community,subdistrict,error");
    assert_eq!(lines[1], format!("{code},{},{},", &code[..12], &code[..9]));
    assert_eq!(lines[2], ",,,");
    assert!(lines[3].starts_with(",,,\"line 4"), "{}", lines[3]);
    assert_eq!(lines.len(), 4);
}

#[tokio::test]
async fn batch_bad_bodies_and_limits() {
    let app = app_with(ApiConfig {
        max_body_bytes: 1024,
        max_batch_body_bytes: 4096,
        max_batch_points: 10,
        ..ApiConfig::default()
    })
    .await;
    post(&app, "/api/locate", "application/json", "{\"points\": [[84.8, 45.6]").await.problem(400);
    post(&app, "/api/locate", "application/json", "{\"pts\": []}").await.problem(400);
    post(&app, "/api/locate", "application/xml", "<points/>").await.problem(415);
    let many = json!({"points": vec![[84.8, 45.6]; 11]}).to_string();
    let d = post(&app, "/api/locate", "application/json", many).await.problem(413);
    assert!(d.contains("limit is 10"), "{d}");
    let huge = json!({"points": vec![[84.8, 45.6]; 1000]}).to_string();
    assert!(huge.len() > 4096);
    post(&app, "/api/locate", "application/json", huge).await.problem(413);
}

#[tokio::test]
async fn regions_carry_children_staff_and_etag() {
    let app = app().await;
    let g = &app.snap.data.grids[0];
    let r = get(&app, &format!("/api/grids/{}", g.code)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.etag.as_deref(), Some(format!("\"{}\"", g.version).as_str()));
    let v = r.json();
    assert_eq!(v["type"], "Feature");
    assert_eq!(v["properties"]["code"], g.code.as_str());
    assert_eq!(v["properties"]["households"], g.households);
    assert_eq!(v["geometry"]["type"], "MultiPolygon");
    assert!(!v["properties"]["staff"].as_array().unwrap().is_empty());

    let community = g.code.parent().unwrap();
    let v = get(&app, &format!("/api/communities/{community}")).await.json();
    let children: Vec<&str> =
        v["properties"]["children"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert!((5..=8).contains(&children.len()), "5-8 grids per community, got {children:?}");
    assert!(children.contains(&g.code.as_str()));
    let sum: u64 =
        v["properties"]["children"].as_array().unwrap().iter().map(|c| c["households"].as_u64().unwrap()).sum();
    assert_eq!(v["properties"]["households"].as_u64().unwrap(), sum, "a community's households are its grids' sum");

    let sub = community.parent().unwrap();
    let v = get(&app, &format!("/api/subdistricts/{sub}")).await.json();
    assert!(v["properties"]["children"].as_array().unwrap().iter().any(|c| c["code"] == community.as_str()));
}

#[tokio::test]
async fn unknown_and_malformed_codes() {
    let app = app().await;
    get(&app, "/api/grids/65020309909901").await.problem(404);
    let d = get(&app, "/api/grids/6502030010010x").await.problem(400);
    assert!(d.contains("digits"), "{d}");
    let d = get(&app, "/api/grids/650203001001").await.problem(404);
    assert!(d.contains("/api/communities/650203001001"), "points to the right route: {d}");
    get(&app, "/api/communities/650203001").await.problem(404);
    get(&app, "/api/subdistricts/123").await.problem(400);
}

#[tokio::test]
async fn layers_by_bbox() {
    let app = app().await;
    let bbox = geo::Rect::new((84.86, 45.58), (84.88, 45.60));
    let r = get(&app, "/api/layers/buildings?bbox=84.86,45.58,84.88,45.60").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["type"], "FeatureCollection");
    let feats = v["features"].as_array().unwrap();
    let expected = app.snap.data.buildings.iter().filter(|b| b.geometry.intersects(&bbox)).count();
    assert_eq!(feats.len(), expected, "exactly the buildings that intersect the box");
    // The whole district: more features than are written inline, so the answer is written on
    // the blocking pool; still exactly every entrance, in the layer's order.
    let all = get(&app, "/api/layers/entrances").await.json();
    let ids: Vec<u64> = all["features"].as_array().unwrap().iter().map(|f| f["id"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = app.snap.data.entrances.iter().map(|e| e.id as u64).collect();
    assert!(expected.len() > 2_000, "the district should have more entrances than are written inline");
    assert_eq!(ids, expected);
    for layer in ["subdistricts", "communities", "grids", "compounds", "access_points", "entrances", "responders"] {
        assert_eq!(
            get(&app, &format!("/api/layers/{layer}?bbox=84.86,45.58,84.88,45.60")).await.status,
            200,
            "{layer}"
        );
    }
    get(&app, "/api/layers/staff").await.problem(404);
    get(&app, "/api/layers/roads").await.problem(404);
    get(&app, "/api/layers/grids?bbox=1,2,3").await.problem(400);
    get(&app, "/api/layers/grids?bbox=84.9,45.6,84.8,45.5").await.problem(400);
    get(&app, "/api/layers/grids?bbox=84,45,85,46&limit=1").await.problem(400);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = app().await;
    get(&app, "/api/nothing").await.problem(404);
    send(&app, Request::delete("/api/locate").body(Body::empty()).unwrap()).await.problem(405);
}

#[tokio::test]
async fn healthz_reports_store_and_counts() {
    let app = app().await;
    let r = get(&app, "/healthz").await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["store"], "gpkg");
    assert_eq!(v["snapshot"]["counts"]["grids"], app.snap.data.grids.len());
}

#[tokio::test]
async fn openapi_describes_every_route_and_validates() {
    let app = app().await;
    let doc = get(&app, "/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    // Every described path answers (not 404/405) with its example parameters.
    let g = app.snap.data.grids[0].code.clone();
    for (path, uri) in [
        ("/api/locate", "/api/locate?lon=84.87&lat=45.6".to_string()),
        ("/api/grids/{code}", format!("/api/grids/{g}")),
        ("/api/communities/{code}", format!("/api/communities/{}", g.parent().unwrap())),
        ("/api/subdistricts/{code}", format!("/api/subdistricts/{}", g.parent().unwrap().parent().unwrap())),
        ("/api/layers/{layer}", "/api/layers/grids?bbox=84.86,45.58,84.88,45.60".to_string()),
        ("/api/check", "/api/check".to_string()),
        ("/healthz", "/healthz".to_string()),
        ("/openapi.json", "/openapi.json".to_string()),
        ("/", "/".to_string()),
    ] {
        assert!(paths.contains_key(path), "{path} is not in the OpenAPI document");
        assert_eq!(get(&app, &uri).await.status, 200, "{uri}");
    }
    for (path, item) in paths {
        assert!(item.as_object().is_some_and(|o| !o.is_empty()), "{path} has no operations");
    }
    // Validate against the OpenAPI 3.0 schema with openapi-spec-validator (scripts/test installs it).
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator rejected the document (install it with `pip install openapi-spec-validator` if missing):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn query_strings_that_are_not_utf8_are_refused_not_guessed() {
    let app = app().await;
    for uri in ["/api/geocode?q=%FF", "/api/geocode?q=%E5%85", "/api/locate?lon=84.87&lat=45.6&crs=%C0%AF"] {
        let detail = get(&app, uri).await.problem(400);
        assert!(detail.contains("UTF-8"), "{uri}: {detail}");
    }
    // Properly encoded Chinese, a literal percent sign that starts no escape, and `+` pass.
    assert_eq!(get(&app, "/api/geocode?q=%E5%85%8B%E6%8B%89%E7%8E%9B%E4%BE%9D").await.status, 200);
    assert_eq!(get(&app, "/api/geocode?q=100%").await.status, 200);
}
