//! Vector tiles on the Karamay data: HTTP behaviour, correctness against the index, and the
//! cache (an edit rebuilds exactly the tiles it touches).
//!
//! The correctness test decodes tiles with gridmap's own decoder and compares them with the
//! snapshot they were cut from: which features appear, their properties, and their geometry
//! (within the buffer, and within one pixel of the source).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use geo::{BoundingRect, Coord, Intersects, LineString, Polygon, Rect, Validation};
use gridmap::api::{router, ApiConfig, AppState};
use gridmap::index::{Live, Snapshot};
use gridmap::model::{Dataset, LayerKind, Level};
use gridmap::store::gpkg::GpkgStore;
use gridmap::tiles::layers::{feature_id, label_min_zoom, min_zoom, LABEL_LAYER, TILE_LAYERS};
use gridmap::tiles::mvt::{decode, ring_area, DecodedFeature, DecodedLayer, GeomType, PropValue};
use gridmap::tiles::{gunzip, TileConfig, TileId, TileService, BUFFER, EXTENT, MAX_ZOOM};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The Karamay data, built once per test binary run (each test gets its own snapshot).
fn karamay() -> Dataset {
    gridmap::store::seed::karamay().expect("the embedded Karamay data loads")
}

struct App {
    /// The whole app (its own tile service).
    router: Router,
    /// Only the tile routes, around `tiles`, which the test can watch.
    tile_router: Router,
    tiles: Arc<TileService>,
    live: Live,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = GpkgStore::open_or_seed(&dir.path().join("t.gpkg"), gridmap::store::seed::karamay).await.unwrap();
    let data = gridmap::store::Store::load(&store).await.unwrap();
    let live = Live::new(Snapshot::build(data, 1).unwrap());
    let state = AppState::new(live.clone(), Arc::new(store), ApiConfig::default());
    let tiles = Arc::new(TileService::default());
    let tile_router = gridmap::api::tiles::routes_with(tiles.clone()).with_state(state.clone());
    App { router: router(state), tile_router, tiles, live, _dir: dir }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header(header::CONTENT_TYPE), "application/problem+json");
        self.json()["detail"].as_str().unwrap().to_string()
    }
}

async fn get(router: &Router, uri: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut req = Request::get(uri).header(header::HOST, "gridmap.test:8080");
    for (k, v) in headers {
        req = req.header(k, *v);
    }
    let resp = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    Reply { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes().to_vec() }
}

fn gz() -> [(header::HeaderName, &'static str); 1] {
    [(header::ACCEPT_ENCODING, "gzip, deflate, br")]
}

/// The tiles of zoom `z` that cover the district.
fn district_tiles(snap: &Snapshot, z: u8) -> Vec<TileId> {
    let b = gridmap::tiles::layers::data_bounds(snap).unwrap();
    TileId::covering(b, z, 0).filter(|t| !snap.layer_in_bbox(LayerKind::Grids, t.bounds_lonlat(0)).is_empty()).collect()
}

/// The z14 tile with the most buildings: the busiest place in the district.
fn busiest_tile(snap: &Snapshot, z: u8) -> TileId {
    district_tiles(snap, z)
        .into_iter()
        .max_by_key(|t| snap.layer_in_bbox(LayerKind::Buildings, t.bounds_lonlat(0)).len())
        .unwrap()
}

fn layer<'a>(layers: &'a [DecodedLayer], name: &str) -> Option<&'a DecodedLayer> {
    layers.iter().find(|l| l.name == name)
}

fn str_prop<'a>(f: &'a DecodedFeature, k: &str) -> &'a str {
    f.prop(k).and_then(PropValue::as_str).unwrap_or_else(|| panic!("feature {:?} has no string {k}", f.id))
}

fn num_prop(f: &DecodedFeature, k: &str) -> f64 {
    f.prop(k).and_then(PropValue::as_f64).unwrap_or_else(|| panic!("feature {:?} has no number {k}", f.id))
}

fn serde_name<T: serde::Serialize>(t: &T) -> String {
    serde_json::to_value(t).unwrap().as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// HTTP

#[tokio::test]
async fn a_tile_is_gzip_mvt_with_an_etag_and_revalidates_with_304() {
    let app = app().await;
    let t = busiest_tile(&app.live.load(), 14);
    let uri = format!("/tiles/{t}.mvt");
    let r = get(&app.router, &uri, &gz()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header(header::CONTENT_TYPE), "application/vnd.mapbox-vector-tile");
    assert_eq!(r.header(header::CONTENT_ENCODING), "gzip");
    assert_eq!(r.header(header::VARY), "Accept-Encoding");
    assert_eq!(r.header(header::CACHE_CONTROL), "no-cache", "browsers revalidate, so an edit shows at once");
    let etag = r.header(header::ETAG).to_string();
    assert!(etag.starts_with('"') && etag.len() > 4, "a strong ETag: {etag}");
    let raw = gunzip(&r.body).expect("the body is gzip");
    assert!(raw.len() > 3 * r.body.len() / 2, "gzip pays: {} → {} bytes", raw.len(), r.body.len());
    let layers = decode(&raw).unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    for want in ["subdistricts", "communities", "grids", "compounds", "buildings", "access_points", "responders"] {
        assert!(names.contains(&want), "a busy z14 tile has {want}: {names:?}");
    }
    assert!(!names.contains(&"entrances"), "entrances start at z16: {names:?}");
    for l in &layers {
        assert_eq!((l.version, l.extent), (2, EXTENT), "{}", l.name);
    }

    let plain = get(&app.router, &uri, &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header(header::CONTENT_ENCODING), "", "no gzip for a client that did not ask");
    assert_eq!(plain.body, raw, "the same tile, uncompressed");
    assert_ne!(plain.header(header::ETAG), etag, "another representation, another strong ETag");

    let again = get(&app.router, &uri, &[(header::IF_NONE_MATCH, etag.as_str()), gz()[0].clone()]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.header(header::ETAG), etag);

    // A tile far from the district is empty, not an error.
    let empty = get(&app.router, "/tiles/14/0/0.mvt", &[]).await;
    assert_eq!(empty.status, 200);
    assert!(decode(&empty.body).unwrap().is_empty());
}

#[tokio::test]
async fn bad_tile_addresses_are_problems() {
    let app = app().await;
    let d = get(&app.router, "/tiles/a/0/0.mvt", &[]).await.problem(400);
    assert!(d.contains("whole number"), "{d}");
    get(&app.router, "/tiles/1/0/-1.mvt", &[]).await.problem(400);
    let d = get(&app.router, &format!("/tiles/{}/0/0.mvt", MAX_ZOOM + 1), &[]).await.problem(404);
    assert!(d.contains("over-zoom"), "says what to do: {d}");
    let d = get(&app.router, "/tiles/2/4/0.mvt", &[]).await.problem(404);
    assert!(d.contains("0 to 3"), "names the valid range: {d}");
    let d = get(&app.router, "/tiles/2/1/1.pbf", &[]).await.problem(404);
    assert!(d.contains(".mvt"), "{d}");
    get(&app.router, "/tiles/2/1/1.mvt?v=2", &[]).await.problem(400);
    get(&app.router, "/tiles/2/1.mvt", &[]).await.problem(404);
}

#[tokio::test]
async fn tilejson_and_style_describe_the_tiles_at_the_request_host() {
    let app = app().await;
    let snap = app.live.load();
    let tj = get(&app.router, "/tiles.json", &[]).await;
    assert_eq!(tj.status, 200);
    let tj = tj.json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["tiles"][0], "http://gridmap.test:8080/tiles/{z}/{x}/{y}.mvt", "the host the client used");
    assert_eq!(tj["maxzoom"], MAX_ZOOM);
    let ids: Vec<&str> = tj["vector_layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    let want: Vec<&str> = TILE_LAYERS.iter().map(|l| l.name).collect();
    assert_eq!(ids, want);
    assert!(tj["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["fields"].as_object().is_some_and(|f| !f.is_empty())));
    let b: Vec<f64> = tj["bounds"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let data = gridmap::tiles::layers::data_bounds(&snap).unwrap();
    assert!(b[0] <= data.min().x && b[1] <= data.min().y && b[2] >= data.max().x && b[3] >= data.max().y);
    let c = &tj["center"];
    assert!(Rect::new((b[0], b[1]), (b[2], b[3]))
        .intersects(&geo::Point::new(c[0].as_f64().unwrap(), c[1].as_f64().unwrap())));
    assert!((10.0..=14.0).contains(&c[2].as_f64().unwrap()), "the centre zoom shows the district: {c}");

    let proxied =
        get(&app.router, "/tiles.json", &[(header::HeaderName::from_static("x-forwarded-proto"), "https")]).await;
    assert!(proxied.json()["tiles"][0].as_str().unwrap().starts_with("https://gridmap.test:8080/"));

    let style = get(&app.router, "/style.json", &[]).await;
    assert_eq!(style.status, 200);
    let text = String::from_utf8(style.body.clone()).unwrap();
    let s = style.json();
    assert_eq!(s["version"], 8);
    assert!(s.get("glyphs").is_none() && s.get("sprite").is_none(), "nothing to fetch but tiles");
    let urls: Vec<&str> = text.match_indices("http").map(|(i, _)| &text[i..(i + 40).min(text.len())]).collect();
    assert!(urls.iter().all(|u| u.starts_with("http://gridmap.test:8080/tiles/")), "only our own tiles: {urls:?}");
    let minute = s["state"]["minute"]["default"].as_u64().unwrap();
    assert!(minute < 1440);
    let layer_ids: Vec<&str> = s["layers"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    for id in ["grids-fill", "communities-line", "subdistricts-line", "gates", "responders", "community-labels"] {
        assert!(layer_ids.contains(&id), "the page relies on layer {id}: {layer_ids:?}");
    }
    for l in s["layers"].as_array().unwrap() {
        if let Some(sl) = l["source-layer"].as_str() {
            assert!(want.contains(&sl), "{} draws unknown source layer {sl}", l["id"]);
        }
    }
    // regions.json: every region once, with its name, and a 304 on revalidation.
    let r = get(&app.router, "/tiles/regions.json", &[]).await;
    let v = r.json();
    assert_eq!(v["grid"].as_array().unwrap().len(), snap.data.grids.len());
    assert_eq!(v["community"][0][1], snap.data.communities[0].name.as_str());
    let etag = r.header(header::ETAG).to_string();
    assert_eq!(get(&app.router, "/tiles/regions.json", &[(header::IF_NONE_MATCH, etag.as_str())]).await.status, 304);
}

// ---------------------------------------------------------------------------------------------
// Correctness against the index

/// The source geometry of feature `i` of `kind`, as polygons (empty for points).
fn source_polygons(snap: &Snapshot, kind: LayerKind, i: usize) -> Vec<Polygon<f64>> {
    let d = &snap.data;
    match kind {
        LayerKind::Subdistricts => d.subdistricts[i].geometry.0.clone(),
        LayerKind::Communities => d.communities[i].geometry.0.clone(),
        LayerKind::Grids => d.grids[i].geometry.0.clone(),
        LayerKind::Compounds => vec![d.compounds[i].geometry.clone()],
        LayerKind::Buildings => vec![d.buildings[i].geometry.clone()],
        _ => vec![],
    }
}

fn source_point(snap: &Snapshot, kind: LayerKind, i: usize) -> (f64, f64) {
    let d = &snap.data;
    let p = match kind {
        LayerKind::AccessPoints => d.access_points[i].location,
        LayerKind::Entrances => d.entrances[i].location,
        LayerKind::Responders => d.responders[i].location,
        _ => unreachable!(),
    };
    (p.x(), p.y())
}

fn dist_to_segment(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) };
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

fn dist_to_rings(p: (f64, f64), rings: &[Vec<(f64, f64)>]) -> f64 {
    rings
        .iter()
        .flat_map(|r| (0..r.len()).map(move |k| dist_to_segment(p, r[k], r[(k + 1) % r.len()])))
        .fold(f64::INFINITY, f64::min)
}

/// Decoded rings grouped into polygons (an exterior, then its holes), as geo polygons.
fn decoded_polygons(f: &DecodedFeature) -> Vec<Polygon<f64>> {
    let ls = |r: &Vec<(i32, i32)>| {
        let mut c: Vec<Coord<f64>> = r.iter().map(|&(x, y)| Coord { x: f64::from(x), y: f64::from(y) }).collect();
        c.push(c[0]);
        LineString::new(c)
    };
    let mut out: Vec<Polygon<f64>> = Vec::new();
    for r in &f.parts {
        if ring_area(r) > 0 {
            out.push(Polygon::new(ls(r), vec![]));
        } else {
            out.last_mut().expect("a hole follows an exterior").interiors_push(ls(r));
        }
    }
    out
}

const PIXEL: f64 = EXTENT as f64 / 512.0;

/// Checks one tile against the snapshot; returns the number of features checked.
fn check_tile(snap: &Snapshot, tiles: &TileService, t: TileId) -> usize {
    let prep = tiles.prepared(snap);
    let raw = gridmap::tiles::build_tile(snap, &prep, t);
    let layers = decode(&raw).unwrap();
    let (inner, outer) = (t.bounds_lonlat(0), t.bounds_lonlat(BUFFER));
    let (lo, hi) = (-(BUFFER as i32), (EXTENT + BUFFER) as i32);
    let mut checked = 0;
    for tl in TILE_LAYERS.iter() {
        let Some(kind) = tl.kind else { continue };
        let got = layer(&layers, tl.name);
        if tl.min_zoom > t.z {
            assert!(got.is_none(), "{t}: {} must not appear below z{}", tl.name, tl.min_zoom);
            continue;
        }
        let by_id: BTreeMap<u64, usize> =
            snap.layer_in_bbox(kind, outer).into_iter().map(|i| (feature_id(snap, kind, i), i)).collect();
        let must: BTreeSet<u64> =
            snap.layer_in_bbox(kind, inner).into_iter().map(|i| feature_id(snap, kind, i)).collect();
        let features = got.map_or(&[][..], |l| l.features.as_slice());
        let ids: BTreeSet<u64> = features.iter().map(|f| f.id.expect("every feature has an id")).collect();
        assert_eq!(ids.len(), features.len(), "{t} {}: each feature once", tl.name);
        let missing: Vec<_> = must.difference(&ids).collect();
        assert!(missing.is_empty(), "{t} {}: features meeting the tile are missing: {missing:?}", tl.name);
        for f in features {
            let id = f.id.unwrap_or_default();
            let &i = by_id
                .get(&id)
                .unwrap_or_else(|| panic!("{t} {}: feature {id} lies outside the buffered tile", tl.name));
            check_props(snap, kind, i, f);
            for part in &f.parts {
                for &(x, y) in part {
                    assert!(
                        (lo..=hi).contains(&x) && (lo..=hi).contains(&y),
                        "{t} {} {id}: ({x}, {y}) beyond the buffer",
                        tl.name
                    );
                }
            }
            if matches!(f.kind, GeomType::Point) {
                let (px, py) = source_point(snap, kind, i);
                let (sx, sy) = t.project(px, py);
                let (dx, dy) = (f64::from(f.parts[0][0].0) - sx, f64::from(f.parts[0][0].1) - sy);
                assert!(dx.hypot(dy) <= 0.75, "{t} {} {id}: point off by {} units", tl.name, dx.hypot(dy));
            } else {
                check_polygon(snap, kind, i, f, t);
            }
            checked += 1;
        }
    }
    // Region labels: inside the tile, one per region whose label point lies in it.
    if let Some(labels) = layer(&layers, LABEL_LAYER) {
        for f in &labels.features {
            let (x, y) = f.parts[0][0];
            assert!(
                (0..=EXTENT as i32).contains(&x) && (0..=EXTENT as i32).contains(&y),
                "{t}: label outside the tile"
            );
            let level = str_prop(f, "level");
            let lvl = match level {
                "subdistrict" => Level::Subdistrict,
                "community" => Level::Community,
                _ => Level::Grid,
            };
            assert!(label_min_zoom(lvl) <= t.z, "{t}: {level} label below its zoom");
            let code: gridmap::model::Code = str_prop(f, "code").parse().unwrap();
            let region = snap.region(&code).expect("the label's region exists");
            assert_eq!(str_prop(f, "name"), region.name);
            let (lon, lat) = t.unproject(f64::from(x), f64::from(y));
            let near = Rect::new((lon - 1e-4, lat - 1e-4), (lon + 1e-4, lat + 1e-4));
            assert!(region.geometry.intersects(&near), "{t}: the label of {code} lies in its region");
        }
    }
    // No staff data, whatever the layer.
    let text = String::from_utf8_lossy(&raw);
    for s in snap.data.staff.iter().take(200) {
        assert!(!text.contains(&s.phone), "{t}: a staff phone number in a tile");
    }
    checked
}

fn check_props(snap: &Snapshot, kind: LayerKind, i: usize, f: &DecodedFeature) {
    let d = &snap.data;
    match kind {
        LayerKind::Subdistricts | LayerKind::Communities | LayerKind::Grids => {
            let r = &d.regions(kind.region_level().unwrap()).unwrap()[i];
            assert_eq!(str_prop(f, "code"), r.code.as_str());
            assert_eq!(str_prop(f, "name"), r.name);
            assert_eq!(num_prop(f, "households"), f64::from(r.households));
            assert_eq!(str_prop(f, "parent"), r.code.parent().unwrap().as_str());
            if kind == LayerKind::Grids {
                assert!(num_prop(f, "color") < 7.0);
            }
        }
        LayerKind::AccessPoints => {
            let a = &d.access_points[i];
            assert_eq!(str_prop(f, "kind"), serde_name(&a.kind));
            assert_eq!(str_prop(f, "hours"), a.hours.as_str());
            let passes: Vec<String> = a.passes.iter().map(serde_name).collect();
            assert_eq!(str_prop(f, "passes"), passes.join(","));
            // The numeric intervals say the same as the schedule, minute by minute.
            for m in (0..1440u32).step_by(15) {
                let open = (0..6).any(|k| {
                    let o = f.prop(&format!("opens_{k}")).and_then(PropValue::as_f64);
                    let c = f.prop(&format!("closes_{k}")).and_then(PropValue::as_f64);
                    matches!((o, c), (Some(o), Some(c)) if o <= f64::from(m) && f64::from(m) < c)
                });
                let t = gridmap::model::TimeOfDay::new(m / 60, m % 60).unwrap();
                assert_eq!(open, a.hours.is_open(t), "gate {} at {t}: hours {}", a.id, a.hours);
            }
        }
        LayerKind::Buildings => {
            let b = &d.buildings[i];
            assert_eq!(str_prop(f, "address"), b.address_text);
            assert_eq!(num_prop(f, "households"), f64::from(b.households));
        }
        LayerKind::Responders => {
            let r = &d.responders[i];
            assert_eq!(str_prop(f, "kind"), serde_name(&r.kind));
            assert_eq!(str_prop(f, "name"), r.name);
            assert_eq!(str_prop(f, "mode"), serde_name(&r.mode));
        }
        LayerKind::Compounds => {
            let c = &d.compounds[i];
            assert_eq!(str_prop(f, "name"), c.name);
            assert_eq!(f.prop("gated"), Some(&PropValue::Bool(c.gated)));
        }
        LayerKind::Entrances => {
            let e = &d.entrances[i];
            assert_eq!(num_prop(f, "unit"), f64::from(e.unit));
            assert_eq!(num_prop(f, "building_id"), f64::from(e.building_id));
        }
    }
}

/// Valid polygons, every vertex within a pixel of the source outline (except where the buffer
/// cut it), and every source vertex inside the tile within a pixel of the tile's outline.
fn check_polygon(snap: &Snapshot, kind: LayerKind, i: usize, f: &DecodedFeature, t: TileId) {
    let id = f.id.unwrap_or_default();
    let polys = decoded_polygons(f);
    assert!(!polys.is_empty(), "{t} {kind:?} {id}: no exterior ring");
    for p in &polys {
        assert!(p.is_valid(), "{t} {kind:?} {id}: invalid polygon: {:?}", p.validation_errors());
    }
    let source: Vec<Vec<(f64, f64)>> = source_polygons(snap, kind, i)
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| r.0.iter().map(|c| t.project(c.x, c.y)).collect())
        .collect();
    let decoded: Vec<Vec<(f64, f64)>> =
        f.parts.iter().map(|r| r.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect()).collect();
    let (lo, hi) = (-f64::from(BUFFER), f64::from(EXTENT + BUFFER));
    let on_cut = |(x, y): (f64, f64)| {
        (x - lo).abs() < 1.0 || (x - hi).abs() < 1.0 || (y - lo).abs() < 1.0 || (y - hi).abs() < 1.0
    };
    for &p in decoded.iter().flatten().filter(|&&p| !on_cut(p)) {
        let d = dist_to_rings(p, &source);
        assert!(d <= PIXEL, "{t} {kind:?} {id}: vertex {p:?} is {d:.1} units from the source outline");
    }
    let e = f64::from(EXTENT);
    for &p in source.iter().flatten().filter(|p| (0.0..=e).contains(&p.0) && (0.0..=e).contains(&p.1)) {
        let d = dist_to_rings(p, &decoded);
        assert!(d <= PIXEL, "{t} {kind:?} {id}: source vertex {p:?} is {d:.1} units from the tile's outline");
    }
}

#[tokio::test]
async fn tiles_hold_exactly_the_features_of_the_index_with_their_properties_and_shapes() {
    let snap = Arc::new(Snapshot::build(karamay(), 1).unwrap());
    let tiles = TileService::default();
    let mut report = Vec::new();
    for z in [8u8, 10, 12, 13, 14, 16] {
        let all = district_tiles(&snap, z);
        assert!(!all.is_empty());
        // Every tile up to z14; at z16, every 9th plus the busiest.
        let mut chosen: Vec<TileId> = if z < 16 { all.clone() } else { all.iter().copied().step_by(9).collect() };
        if z >= 14 {
            chosen.push(busiest_tile(&snap, z));
        }
        let n: usize = chosen.iter().map(|&t| check_tile(&snap, &tiles, t)).sum();
        report.push(format!("z{z}: {} tiles, {n} features", chosen.len()));
    }
    eprintln!("checked {}", report.join("; "));
}

#[tokio::test]
async fn every_region_is_labelled_once_per_zoom() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    let tiles = TileService::default();
    let prep = tiles.prepared(&snap);
    for z in [10u8, 13] {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for t in TileId::covering(gridmap::tiles::layers::data_bounds(&snap).unwrap(), z, 0) {
            let layers = decode(&gridmap::tiles::build_tile(&snap, &prep, t)).unwrap();
            for f in layer(&layers, LABEL_LAYER).map_or(&[][..], |l| &l.features) {
                *seen.entry(str_prop(f, "code").to_string()).or_default() += 1;
            }
        }
        let d = &snap.data;
        let expected = d.subdistricts.len()
            + if z >= label_min_zoom(Level::Community) { d.communities.len() } else { 0 }
            + if z >= label_min_zoom(Level::Grid) { d.grids.len() } else { 0 };
        assert_eq!(seen.len(), expected, "z{z}: every region labelled");
        assert!(seen.values().all(|&n| n == 1), "z{z}: labelled once each");
    }
}

// ---------------------------------------------------------------------------------------------
// The cache

/// Requests `ids` through the tile routes and returns each tile's ETag and bytes.
async fn fetch_all(app: &App, ids: &[TileId]) -> BTreeMap<TileId, (String, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for &t in ids {
        let r = get(&app.tile_router, &format!("/tiles/{t}.mvt"), &gz()).await;
        assert_eq!(r.status, 200, "{t}");
        out.insert(t, (r.header(header::ETAG).to_string(), r.body));
    }
    out
}

/// Tiles among `ids` that a change of a feature of `kind` with boxes `boxes` must rebuild:
/// the buffered tile meets a box, at a zoom where the layer appears.
fn touched(ids: &[TileId], kind: LayerKind, boxes: &[Rect<f64>]) -> BTreeSet<TileId> {
    ids.iter()
        .copied()
        .filter(|t| t.z >= min_zoom(kind) && boxes.iter().any(|b| b.intersects(&t.bounds_lonlat(BUFFER))))
        .collect()
}

#[tokio::test]
async fn an_edit_rebuilds_exactly_the_tiles_it_touches_and_the_rest_stay_cached() {
    let app = app().await;
    let snap = app.live.load();
    let ids: Vec<TileId> = (12..=15).flat_map(|z| district_tiles(&snap, z)).collect();
    let before = fetch_all(&app, &ids).await;
    let builds = app.tiles.stats().builds;
    assert_eq!(builds as usize, ids.len(), "each tile cut once");
    let again = fetch_all(&app, &ids).await;
    assert_eq!(app.tiles.stats().builds, builds, "the second round is all cache hits");
    assert_eq!(again, before);

    // The edit: one gate moves a little and changes its hours; one building gets more households.
    let mut data = snap.data.clone();
    let gate = data.access_points.len() / 2;
    let old_gate = data.access_points[gate].location;
    data.access_points[gate].location = geo::Point::new(old_gate.x() + 0.0003, old_gate.y());
    data.access_points[gate].hours = gridmap::model::Schedule::parse("08:00-09:00").unwrap();
    let building = data.buildings.len() / 3;
    data.buildings[building].households += 7;
    let (gate_id, building_id) = (data.access_points[gate].id, data.buildings[building].id);
    let building_box = data.buildings[building].geometry.bounding_rect().unwrap();
    let new_gate = data.access_points[gate].location;
    app.live.publish(Snapshot::build(data, 2).unwrap());

    let mut expected =
        touched(&ids, LayerKind::AccessPoints, &[Rect::new(old_gate.0, old_gate.0), Rect::new(new_gate.0, new_gate.0)]);
    expected.extend(touched(&ids, LayerKind::Buildings, &[building_box]));
    assert!(
        !expected.is_empty() && expected.len() < ids.len() / 4,
        "a local edit touches a few tiles: {}",
        expected.len()
    );

    let after = fetch_all(&app, &ids).await;
    let rebuilt = app.tiles.stats().builds - builds;
    assert_eq!(rebuilt as usize, expected.len(), "exactly the touched tiles are cut again");
    let mut changed = 0;
    for &t in &ids {
        let (etag0, bytes0) = &before[&t];
        let (etag1, bytes1) = &after[&t];
        if expected.contains(&t) {
            changed += usize::from(bytes0 != bytes1);
        } else {
            assert_eq!((etag0, bytes0), (etag1, bytes1), "{t} is untouched: same bytes, same ETag");
        }
    }
    assert!(changed > 0, "the touched tiles show the edit");

    // And the touched tiles show the new data.
    let new = app.live.load();
    let t = *expected
        .iter()
        .filter(|t| t.z >= 14)
        .find(|t| {
            let b = t.bounds_lonlat(0);
            b.intersects(&new.data.access_points[gate].location)
        })
        .expect("a z14+ tile holds the moved gate");
    let layers = decode(&gunzip(&after[&t].1).unwrap()).unwrap();
    let g = layer(&layers, "access_points").unwrap().features.iter().find(|f| f.id == Some(gate_id.into())).unwrap();
    assert_eq!(str_prop(g, "hours"), "08:00-09:00");
    assert_eq!(num_prop(g, "opens_0"), 480.0);
    let (x, _) = g.parts[0][0];
    let (sx, _) = t.project(new.data.access_points[gate].location.x(), 0.0);
    assert!((f64::from(x) - sx).abs() <= 1.0, "the gate is drawn where it moved to");
    if let Some(t) = expected.iter().find(|t| t.z >= 14 && t.bounds_lonlat(0).intersects(&building_box)) {
        let layers = decode(&gunzip(&after[t].1).unwrap()).unwrap();
        let b =
            layer(&layers, "buildings").unwrap().features.iter().find(|f| f.id == Some(building_id.into())).unwrap();
        assert_eq!(num_prop(b, "households"), f64::from(new.data.buildings[building].households));
    }
    // A browser holding an untouched tile's ETag gets a 304 after the edit.
    let untouched = ids.iter().find(|t| !expected.contains(t)).unwrap();
    let etag = before[untouched].0.clone();
    let r = get(
        &app.tile_router,
        &format!("/tiles/{untouched}.mvt"),
        &[(header::IF_NONE_MATCH, etag.as_str()), gz()[0].clone()],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn a_renamed_grid_invalidates_its_tiles_at_every_zoom_it_appears() {
    let app = app().await;
    let snap = app.live.load();
    let ids: Vec<TileId> = (8..=14).flat_map(|z| district_tiles(&snap, z)).collect();
    fetch_all(&app, &ids).await;
    let builds = app.tiles.stats().builds;
    let mut data = snap.data.clone();
    let g = data.grids.len() / 2;
    data.grids[g].name = "测试网格".into();
    let grid_box = data.grids[g].geometry.bounding_rect().unwrap();
    app.live.publish(Snapshot::build(data, 2).unwrap());
    let report = app.tiles.sync(&app.live.load());
    assert_eq!(report.changed.len(), 2, "one feature changed: its old and new box: {:?}", report.changed);
    let expected = touched(&ids, LayerKind::Grids, &[grid_box]);
    assert_eq!(report.dropped, expected.len(), "the sync dropped exactly the grid's tiles");
    let below = min_zoom(LayerKind::Grids);
    assert!(
        ids.iter().filter(|t| t.z < below).all(|&t| app.tiles.is_cached(t)),
        "no grids below z{below}: those tiles stay"
    );
    fetch_all(&app, &ids).await;
    assert_eq!((app.tiles.stats().builds - builds) as usize, expected.len());
    let t = expected.iter().copied().find(|t| t.z == 14 && t.bounds_lonlat(0).intersects(&grid_box)).unwrap();
    let r = get(&app.tile_router, &format!("/tiles/{t}.mvt"), &[]).await;
    let layers = decode(&r.body).unwrap();
    let code: u64 = app.live.load().data.grids[g].code.as_str().parse().unwrap();
    let f = layer(&layers, "grids").unwrap().features.iter().find(|f| f.id == Some(code)).unwrap();
    assert_eq!(str_prop(f, "name"), "测试网格");
}

#[tokio::test]
async fn invalidate_bbox_drops_exactly_the_tiles_it_touches() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    let tiles = TileService::default();
    let ids: Vec<TileId> = (12..=14).flat_map(|z| district_tiles(&snap, z)).collect();
    for &t in &ids {
        tiles.tile(&snap, t).unwrap();
    }
    let centre = busiest_tile(&snap, 14).bounds_lonlat(0);
    let c = centre.center();
    let bbox = Rect::new((c.x - 0.001, c.y - 0.001), (c.x + 0.001, c.y + 0.001));
    let expected: BTreeSet<TileId> =
        ids.iter().copied().filter(|t| bbox.intersects(&t.bounds_lonlat(BUFFER))).collect();
    assert_eq!(tiles.invalidate_bbox(bbox), expected.len());
    for t in &ids {
        assert_eq!(tiles.is_cached(*t), !expected.contains(t), "{t}");
    }
    let builds = tiles.stats().builds;
    for &t in &ids {
        tiles.tile(&snap, t).unwrap();
    }
    assert_eq!((tiles.stats().builds - builds) as usize, expected.len());
}

#[tokio::test]
async fn a_tile_cut_from_an_old_snapshot_is_served_but_never_cached() {
    let old = Snapshot::build(karamay(), 1).unwrap();
    let mut data = karamay();
    data.responders[0].name = "新名字".into();
    let new = Snapshot::build(data, 2).unwrap();
    let tiles = TileService::default();
    let t = busiest_tile(&new, 14);
    tiles.tile(&new, t).unwrap();
    tiles.invalidate_bbox(t.bounds_lonlat(0));
    // A request that loaded the old snapshot just before the publish.
    let stale = tiles.tile(&old, t).unwrap();
    assert!(!tiles.is_cached(t), "an old snapshot's tile must not be cached for the new one");
    let fresh = tiles.tile(&new, t).unwrap();
    assert!(tiles.is_cached(t));
    assert_eq!(tiles.stats().syncs, 1, "the service never went back to the old snapshot");
    let _ = (stale, fresh);
}

#[tokio::test]
async fn the_cache_stays_within_its_byte_budget() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    let budget = 40_000;
    let tiles = TileService::new(TileConfig { max_cache_bytes: budget, ..TileConfig::default() });
    for t in district_tiles(&snap, 14) {
        tiles.tile(&snap, t).unwrap();
        assert!(tiles.stats().cached_bytes <= budget);
    }
    let s = tiles.stats();
    assert!(s.cached_tiles > 0 && s.cached_tiles < district_tiles(&snap, 14).len(), "{s:?}");
}

#[tokio::test]
async fn openapi_lists_the_tile_routes_and_they_answer() {
    let app = app().await;
    let doc = get(&app.router, "/openapi.json", &[]).await.json();
    let t = busiest_tile(&app.live.load(), 14);
    for (path, uri) in [
        ("/tiles/{z}/{x}/{y}.mvt", format!("/tiles/{t}.mvt")),
        ("/tiles.json", "/tiles.json".into()),
        ("/style.json", "/style.json".into()),
        ("/tiles/regions.json", "/tiles/regions.json".into()),
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} in /openapi.json");
        assert_eq!(get(&app.router, &uri, &[]).await.status, 200, "{uri}");
    }
}

/// GDAL reads our tiles as MVT too (a second, independent decoder).
#[tokio::test]
async fn ogrinfo_reads_a_tile() {
    let snap = Snapshot::build(karamay(), 1).unwrap();
    let tiles = TileService::default();
    let t = busiest_tile(&snap, 14);
    let raw = gridmap::tiles::build_tile(&snap, &tiles.prepared(&snap), t);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{}", t.z)).join(format!("{}", t.x));
    std::fs::create_dir_all(&path).unwrap();
    let file = path.join(format!("{}.pbf", t.y));
    std::fs::write(&file, &raw).unwrap();
    let out = std::process::Command::new("ogrinfo")
        .args(["-ro", "-so", "-al", "-oo"])
        .arg(format!("X={}", t.x))
        .args(["-oo"])
        .arg(format!("Y={}", t.y))
        .args(["-oo"])
        .arg(format!("Z={}", t.z))
        .arg(&file)
        .output()
        .expect("ogrinfo runs (apt-get install gdal-bin)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ogrinfo failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    let buildings = snap.layer_in_bbox(LayerKind::Buildings, t.bounds_lonlat(0)).len();
    assert!(text.contains("Layer name: buildings"), "{text}");
    let count = text
        .split("Layer name: buildings")
        .nth(1)
        .and_then(|s| s.split("Feature Count: ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap();
    assert!(count >= buildings, "GDAL sees the buildings: {count} vs at least {buildings}");
}
