//! The TileJSON 3.0 document and the MapLibre style of the tiles, as JSON values.
//!
//! Both name the tile URL under a base URL the caller supplies (the API uses the request's own
//! host, so the documents work behind any name or port). The style needs nothing from anywhere
//! else: no sprite (responders are circles; the web page swaps in its own icons) and no
//! `glyphs`, so MapLibre draws labels with local fonts, which on a closed network is what makes
//! Chinese names appear (Debian's `fonts-noto-cjk`).
//!
//! Gates are coloured by "open now": the style keeps the minute of the day in MapLibre's global
//! state (`state.minute`, set from the server clock when the style is made) and compares it
//! with each gate's `opens_i`/`closes_i` properties. A page updates it with
//! `map.setGlobalStateProperty('minute', m)`; no tile changes with the time.

use serde_json::{json, Value};

use super::layers::{MAX_GATE_INTERVALS, TILE_LAYERS};
use super::mercator::MAX_ZOOM;
use super::prepared::{Prepared, GRID_COLOURS};
use crate::index::Snapshot;

/// The id of the vector source in the style.
pub const SOURCE: &str = "gridmap";

/// Muted grid fills; [`GRID_COLOURS`] of them, neighbours get different ones.
pub const GRID_PALETTE: [&str; GRID_COLOURS as usize] =
    ["#dfe9d6", "#e9e0cc", "#d6e3ec", "#ecdcd8", "#e4e6cf", "#dedaea", "#d5e8e3"];
/// Responder kinds and their colours (the page's legend and icons use the same).
pub const RESPONDER_COLOURS: [(&str, &str); 4] =
    [("joint_defence", "#e07b00"), ("police_post", "#1f5fbf"), ("service_station", "#8a3fb5"), ("patrol", "#0f8b8d")];
/// Colour of a gate open now.
pub const GATE_OPEN: &str = "#2e9d57";
/// Colour of a gate closed now.
pub const GATE_CLOSED: &str = "#d0453b";

const FONT: &str = "Noto Sans CJK SC Regular";
const FONT_BOLD: &str = "Noto Sans CJK SC Bold";

/// The URL template of the tiles under `base` (e.g. `http://localhost:8080`).
pub fn tile_url(base: &str) -> String {
    format!("{}/tiles/{{z}}/{{x}}/{{y}}.mvt", base.trim_end_matches('/'))
}

/// `[west, south, east, north]` of the data, or the whole Mercator world.
fn bounds(prep: &Prepared) -> [f64; 4] {
    prep.bounds.map_or([-180.0, -85.0511, 180.0, 85.0511], |b| [b.min().x, b.min().y, b.max().x, b.max().y])
}

/// `[lon, lat, zoom]`: the centre of the data and a zoom at which it fills about 1000 px.
pub fn center(prep: &Prepared) -> [f64; 3] {
    let [w, s, e, n] = bounds(prep);
    use super::mercator::{lat_to_world, lon_to_world};
    let span = (lon_to_world(e) - lon_to_world(w)).max(lat_to_world(s) - lat_to_world(n)).max(1e-9);
    // MapLibre's world is 512 px wide at zoom 0.
    let zoom = (1000.0 / (512.0 * span)).log2().clamp(0.0, f64::from(MAX_ZOOM));
    [(w + e) / 2.0, (s + n) / 2.0, (zoom * 2.0).floor() / 2.0]
}

/// The TileJSON 3.0.0 document of the tiles.
pub fn tilejson(snap: &Snapshot, prep: &Prepared, base: &str) -> Value {
    let layers: Vec<Value> = TILE_LAYERS
        .iter()
        .map(|l| {
            let fields: serde_json::Map<String, Value> =
                l.fields.iter().map(|(k, t, _)| (k.to_string(), Value::from(*t))).collect();
            json!({
                "id": l.name,
                "description": l.description,
                "minzoom": l.min_zoom,
                "maxzoom": MAX_ZOOM,
                "fields": fields,
            })
        })
        .collect();
    json!({
        "tilejson": "3.0.0",
        "name": format!("gridmap {}", snap.data.district.name),
        "description": format!(
            "Grids, communities, subdistricts, compounds, gates, buildings, entrances and responders of {} ({}); snapshot generation {}",
            snap.data.district.name, snap.data.district.code, snap.generation
        ),
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [tile_url(base)],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds(prep),
        "center": center(prep),
        "vector_layers": layers,
    })
}

/// Whether a gate is open at `['global-state', 'minute']`: any interval `[opens_i, closes_i)`
/// holds it. Missing intervals compare as never open.
pub fn gate_open_expression() -> Value {
    let minute = json!(["global-state", "minute"]);
    let any: Vec<Value> = (0..MAX_GATE_INTERVALS)
        .map(|i| {
            json!([
                "all",
                ["<=", ["number", ["get", format!("opens_{i}")], 9999], minute],
                ["<", minute, ["number", ["get", format!("closes_{i}")], -1]]
            ])
        })
        .collect();
    let mut expr = vec![json!("any")];
    expr.extend(any);
    Value::Array(expr)
}

fn label_layer(id: &str, level: &str, font: &str) -> Value {
    json!({"id": id, "type": "symbol", "source": SOURCE, "source-layer": "region_labels",
           "filter": ["==", ["get", "level"], level],
           "layout": {"text-field": ["get", "name"], "text-font": [font]}})
}

/// The MapLibre style (version 8) of the tiles under `base`, with gates coloured for `minute`
/// (minutes after local midnight) until the client changes `state.minute`.
pub fn style(snap: &Snapshot, prep: &Prepared, base: &str, minute: u16) -> Value {
    let mut palette = vec![json!("match"), json!(["%", ["number", ["get", "color"], 0], GRID_COLOURS])];
    for (i, c) in GRID_PALETTE.iter().enumerate().skip(1) {
        palette.push(json!(i));
        palette.push(json!(c));
    }
    palette.push(json!(GRID_PALETTE[0]));
    let mut kind_colour = vec![json!("match"), json!(["get", "kind"])];
    for (k, c) in RESPONDER_COLOURS {
        kind_colour.push(json!(k));
        kind_colour.push(json!(c));
    }
    kind_colour.push(json!("#555555"));
    let (palette, kind_colour) = (Value::Array(palette), Value::Array(kind_colour));
    let src =
        |id: &str, layer: &str, kind: &str| json!({"id": id, "type": kind, "source": SOURCE, "source-layer": layer});
    let with = |mut base: Value, extra: Value| {
        if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
            for (k, v) in e {
                match (b.get_mut(&k), v) {
                    (Some(Value::Object(into)), Value::Object(more)) => into.extend(more),
                    (_, v) => {
                        b.insert(k, v);
                    }
                }
            }
        }
        base
    };
    let [lon, lat, zoom] = center(prep);
    let layers = vec![
        json!({"id": "background", "type": "background", "paint": {"background-color": "#eef0ec"}}),
        with(
            src("grids-fill", "grids", "fill"),
            json!({"paint": {
            "fill-color": palette,
            "fill-opacity": ["interpolate", ["linear"], ["zoom"], 12, 0.95, 17, 0.7]}}),
        ),
        with(
            src("compounds-fill", "compounds", "fill"),
            json!({"minzoom": 13, "paint": {
            "fill-color": ["case", ["get", "gated"], "#f7f3e8", "#f3f3ef"],
            "fill-opacity": ["interpolate", ["linear"], ["zoom"], 13, 0, 14, 0.85]}}),
        ),
        with(
            src("buildings-fill", "buildings", "fill"),
            json!({"minzoom": 14, "paint": {
            "fill-color": "#cfc6b8", "fill-outline-color": "#a89c8a",
            "fill-opacity": ["interpolate", ["linear"], ["zoom"], 14, 0, 15, 1]}}),
        ),
        with(
            src("compounds-wall", "compounds", "line"),
            json!({"minzoom": 13, "filter": ["get", "gated"], "paint": {
            "line-color": "#a47e4a", "line-width": ["interpolate", ["linear"], ["zoom"], 13, 0.5, 17, 2]}}),
        ),
        with(
            src("compounds-open", "compounds", "line"),
            json!({"minzoom": 14, "filter": ["!", ["get", "gated"]], "paint": {
            "line-color": "#a49a8a", "line-width": 1, "line-dasharray": [3, 2]}}),
        ),
        with(
            src("grids-line", "grids", "line"),
            json!({"paint": {
            "line-color": "#6f8576",
            "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.3, 14, 1, 17, 1.6],
            "line-opacity": ["interpolate", ["linear"], ["zoom"], 10, 0.4, 13, 0.9]}}),
        ),
        with(
            src("communities-line", "communities", "line"),
            json!({"layout": {"line-join": "round"}, "paint": {
            "line-color": "#56799a",
            "line-width": ["interpolate", ["linear"], ["zoom"], 11, 0.8, 13, 1.3, 16, 2.5]}}),
        ),
        with(
            src("subdistricts-casing", "subdistricts", "line"),
            json!({"layout": {"line-join": "round"}, "paint": {
            "line-color": "#ffffff", "line-opacity": 0.8,
            "line-width": ["interpolate", ["linear"], ["zoom"], 11, 4.5, 13, 6, 16, 9]}}),
        ),
        with(
            src("subdistricts-line", "subdistricts", "line"),
            json!({"layout": {"line-join": "round"}, "paint": {
            "line-color": "#27405a",
            "line-width": ["interpolate", ["linear"], ["zoom"], 11, 2.2, 13, 3, 16, 4.5]}}),
        ),
        with(
            src("entrances", "entrances", "circle"),
            json!({"minzoom": 16, "paint": {
            "circle-color": "#7a6a55", "circle-radius": 2, "circle-stroke-color": "#ffffff", "circle-stroke-width": 0.5}}),
        ),
        with(
            src("gates", "access_points", "circle"),
            json!({"minzoom": 14, "paint": {
            "circle-color": ["case", gate_open_expression(), GATE_OPEN, GATE_CLOSED],
            "circle-radius": ["interpolate", ["linear"], ["zoom"], 14, 2.5, 18, 6],
            "circle-stroke-color": "#ffffff",
            "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 14, 0.5, 17, 1.5]}}),
        ),
        with(
            src("responders-halo", "responders", "circle"),
            json!({"paint": {
            "circle-color": kind_colour.clone(), "circle-opacity": 0.15,
            "circle-radius": ["interpolate", ["linear"], ["zoom"], 11, 5, 16, 16]}}),
        ),
        with(
            src("responders", "responders", "circle"),
            json!({"paint": {
            "circle-color": kind_colour,
            "circle-radius": ["interpolate", ["linear"], ["zoom"], 11, 3, 16, 7],
            "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5}}),
        ),
        with(
            label_layer("grid-labels", "grid", FONT),
            json!({"minzoom": 14, "layout": {
            "text-size": ["interpolate", ["linear"], ["zoom"], 14, 11, 17, 14],
            "text-max-width": 6, "text-padding": 4}, "paint": {
            "text-color": "#3c4a40", "text-halo-color": "rgba(255,255,255,0.9)", "text-halo-width": 1.2}}),
        ),
        with(
            label_layer("community-labels", "community", FONT_BOLD),
            json!({"minzoom": 11.5, "layout": {
            "text-size": ["interpolate", ["linear"], ["zoom"], 11.5, 11, 15, 15],
            "text-max-width": 7, "text-padding": 6}, "paint": {
            "text-color": "#1f3b57", "text-halo-color": "#ffffff", "text-halo-width": 1.6,
            "text-opacity": ["interpolate", ["linear"], ["zoom"], 15.5, 1, 16.5, 0.5]}}),
        ),
        // Last: placed first, so community labels give way to it on the overview.
        with(
            label_layer("subdistrict-labels", "subdistrict", FONT_BOLD),
            json!({"maxzoom": 13.6, "layout": {
            "text-size": ["interpolate", ["linear"], ["zoom"], 11, 15, 13, 19],
            "text-letter-spacing": 0.15, "text-padding": 10}, "paint": {
            "text-color": "#a3381f", "text-halo-color": "rgba(255,255,255,0.95)", "text-halo-width": 2.2,
            "text-opacity": ["interpolate", ["linear"], ["zoom"], 13.1, 1, 13.6, 0]}}),
        ),
    ];
    json!({
        "version": 8,
        "name": format!("gridmap {}", snap.data.district.name),
        "metadata": {"gridmap:generation": snap.generation},
        "center": [lon, lat],
        "zoom": zoom,
        "state": {"minute": {"default": minute}},
        "sources": {
            SOURCE: {
                "type": "vector",
                "tiles": [tile_url(base)],
                "minzoom": 0,
                "maxzoom": MAX_ZOOM,
                "bounds": bounds(prep),
                "attribution": "",
            }
        },
        "layers": layers,
    })
}
