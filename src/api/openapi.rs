//! `GET /openapi.json`: an OpenAPI 3.0 description of every route, written by hand so that
//! it says exactly what the handlers do. A test checks that every route the router serves is
//! described here and that the document validates.

use axum::Json;
use serde_json::{json, Value};

use crate::model::LayerKind;

fn problem_responses(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let description = match *c {
            "400" => "Bad input: missing, malformed or out-of-range parameters or body",
            "404" => "Unknown code, layer or route",
            "413" => "Body or batch over the limit",
            "415" => "Body in a media type the route does not take",
            "503" => "The store is unavailable",
            _ => "Error",
        };
        m.insert(
            c.to_string(),
            json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
        );
    }
    Value::Object(m)
}

fn with_ok(ok: Value, errors: &[&str]) -> Value {
    let mut r = problem_responses(errors);
    r["200"] = ok;
    r
}

fn param(name: &str, location: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": schema, "description": description})
}

fn region_path(level: &str, digits: &str) -> Value {
    json!({"get": {
        "summary": format!("One {level} as a GeoJSON Feature with its children, households, population and staff"),
        "operationId": format!("get_{level}"),
        "parameters": [param("code", "path", true, json!({"type": "string", "pattern": format!("^[0-9]{{{digits}}}$")}), &format!("{level} code"))],
        "responses": with_ok(json!({
            "description": "The region. The ETag header carries its version.",
            "headers": {"ETag": {"schema": {"type": "string"}, "description": "The region's version, quoted"}},
            "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/RegionFeature"}}}
        }), &["400", "404"])
    }})
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut doc = core_document();
    for extra in [
        super::geocode::openapi_paths(),
        super::reach::openapi_paths(),
        super::tiles::openapi_paths(),
        super::edit::openapi_paths(),
        super::check::openapi_paths(),
    ] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), extra) {
            paths.extend(more);
        }
    }
    super::access::add_to_openapi(&mut doc);
    // Edits and as-of reads on existing paths.
    doc["paths"]["/api/grids/{code}"]["put"] = super::edit::openapi_put_grid();
    for (path, method) in [("/api/grids/{code}", "get"), ("/api/locate", "get")] {
        if let Some(params) = doc["paths"][path][method]["parameters"].as_array_mut() {
            params.push(super::edit::at_param());
        }
    }
    doc
}

fn core_document() -> Value {
    let layers: Vec<&str> = LayerKind::ALL.iter().map(|k| k.name()).collect();
    let lon =
        param("lon", "query", true, json!({"type": "number", "minimum": -180, "maximum": 180}), "Longitude in degrees");
    let lat =
        param("lat", "query", true, json!({"type": "number", "minimum": -90, "maximum": 90}), "Latitude in degrees");
    let crs = param(
        "crs",
        "query",
        false,
        json!({"type": "string", "enum": ["wgs84", "gcj02"], "default": "wgs84"}),
        "Datum of the input coordinates: WGS84/EPSG:4326 (also CGCS2000) or GCJ-02 (consumer web maps in China)",
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "gridmap",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Urban grid governance (网格化管理): which grid a point is in, regions, layers. Coordinates are EPSG:4326 (lon, lat) unless crs says otherwise. A point on a shared grid edge belongs to the grid east of it (north of an east-west edge). Errors are RFC 9457 problem+json."
        },
        "paths": {
            "/api/locate": {
                "get": {
                    "summary": "Which grid, community and subdistrict a point is in",
                    "operationId": "locate",
                    "parameters": [lon, lat, crs.clone()],
                    "responses": with_ok(json!({"description": "The regions (null outside the district) and the grid's staff (roles; names and phones only for callers allowed personal data)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LocateOne"}}}}), &["400"])
                },
                "post": {
                    "summary": "Locate up to 1,000,000 points in one call, answers in input order",
                    "operationId": "locate_batch",
                    "parameters": [crs],
                    "requestBody": {"required": true, "content": {
                        "application/json": {"schema": {"oneOf": [
                            {"$ref": "#/components/schemas/PointList"},
                            {"$ref": "#/components/schemas/PointFeatureCollection"}
                        ]}},
                        "application/geo+json": {"schema": {"$ref": "#/components/schemas/PointFeatureCollection"}},
                        "text/csv": {"schema": {"type": "string", "description": "Lines `lon,lat`; an optional header line"}}
                    }},
                    "responses": with_ok(json!({"description": "One result per input point; an invalid point has an error in its own slot",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/LocateBatch"}},
                            "text/csv": {"schema": {"type": "string", "description": "Header grid,community,subdistrict,error then one line per point"}}
                        }}), &["400", "413", "415"])
                }
            },
            "/api/grids/{code}": region_path("grid", "14,15"),
            "/api/communities/{code}": region_path("community", "12"),
            "/api/subdistricts/{code}": region_path("subdistrict", "9"),
            "/api/layers/{layer}": {"get": {
                "summary": "A layer's features intersecting a bounding box",
                "operationId": "get_layer",
                "parameters": [
                    param("layer", "path", true, json!({"type": "string", "enum": layers}), "Layer name"),
                    param("bbox", "query", false, json!({"type": "string", "example": "84.85,45.58,84.90,45.62"}), "minlon,minlat,maxlon,maxlat (EPSG:4326); default: everything"),
                    param("limit", "query", false, json!({"type": "integer", "minimum": 0, "maximum": super::layers::MAX_LIMIT, "default": super::layers::DEFAULT_LIMIT}), "Most features to return; more matches is a 400")
                ],
                "responses": with_ok(json!({"description": "A FeatureCollection", "content": {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}}), &["400", "404"])
            }},
            "/healthz": {"get": {
                "summary": "Liveness, store in use and snapshot size",
                "operationId": "healthz",
                "responses": {
                    "200": {"description": "Serving. `status` is `ok`, or `degraded` when the store does not answer (reads still work from the last snapshot; writes get 503)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}
                }
            }},
            "/openapi.json": {"get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }},
            "/": {"get": {
                "summary": "The web map",
                "operationId": "web_index",
                "responses": {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}
            }}
        },
        "components": {"schemas": {
            "Problem": {"type": "object", "description": "RFC 9457 problem details", "required": ["type", "title", "status", "detail"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}
            }},
            "RegionRef": {"type": "object", "nullable": true, "properties": {"code": {"type": "string"}, "name": {"type": "string"}}},
            "Staff": {"type": "object", "required": ["id", "role", "force", "grids"], "properties": {
                "id": {"type": "integer"},
                "role": {"type": "string", "enum": ["grid_leader", "grid_staff"]},
                "force": {"type": "string"},
                "grids": {"type": "array", "items": {"type": "string"}},
                "name": {"type": "string", "description": "Personal data: only for callers allowed to see it"},
                "phone": {"type": "string", "description": "Personal data: only for callers allowed to see it"}
            }},
            "LocateOne": {"type": "object", "required": ["point", "grid", "community", "subdistrict", "staff"], "properties": {
                "point": {"type": "array", "items": {"type": "number"}, "description": "The point in WGS84 after any datum conversion"},
                "grid": {"$ref": "#/components/schemas/RegionRef"},
                "community": {"$ref": "#/components/schemas/RegionRef"},
                "subdistrict": {"$ref": "#/components/schemas/RegionRef"},
                "staff": {"type": "array", "items": {"$ref": "#/components/schemas/Staff"}}
            }},
            "PointList": {"type": "object", "required": ["points"], "properties": {
                "points": {"type": "array", "maxItems": 1000000, "items": {"type": "array", "items": {"type": "number"}, "minItems": 2}}
            }},
            "PointFeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": {"type": "object"}}
            }},
            "LocateBatch": {"type": "object", "required": ["results"], "properties": {
                "results": {"type": "array", "items": {"type": "object", "properties": {
                    "grid": {"type": "string", "nullable": true},
                    "community": {"type": "string", "nullable": true},
                    "subdistrict": {"type": "string", "nullable": true},
                    "error": {"type": "string"}
                }}}
            }},
            "RegionFeature": {"type": "object", "properties": {
                "type": {"type": "string"}, "id": {"type": "string"},
                "geometry": {"type": "object"},
                "properties": {"type": "object", "properties": {
                    "code": {"type": "string"}, "name": {"type": "string"}, "level": {"type": "string"}, "parent": {"type": "string", "nullable": true},
                    "households": {"type": "integer"}, "population": {"type": "integer"}, "version": {"type": "integer"},
                    "valid_from": {"type": "string", "format": "date-time"}, "valid_to": {"type": "string", "format": "date-time", "nullable": true},
                    "children": {"type": "array", "items": {"type": "object"}},
                    "staff": {"type": "array", "items": {"$ref": "#/components/schemas/Staff"}}
                }}
            }},
            "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]}, "features": {"type": "array", "items": {"type": "object"}}
            }},
            "Health": {"type": "object", "properties": {
                "status": {"type": "string", "enum": ["ok", "degraded"]}, "store": {"type": "string"},
                "store_reachable": {"type": "boolean"}, "snapshot": {"type": "object"}, "district": {"type": "object"}
            }}
        }}
    })
}

pub async fn openapi_json() -> Json<Value> {
    Json(document())
}
