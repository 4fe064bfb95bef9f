//! The OpenAPI description of the edit routes, merged into `/openapi.json` by
//! `api::openapi::document`.

use serde_json::{json, Value};

fn problems(codes: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for c in codes {
        let description = match *c {
            "400" => "Bad input: malformed body, GeoJSON, code or reason",
            "403" => {
                "The caller may not edit (rule `role`) or the edit reaches outside its scope (rule `outside-scope`)"
            }
            "404" => "Unknown grid or version",
            "412" => "Stale version: `current_version` and the ETag header give the current one",
            "422" => "An error-level rule is broken: `violations` (FeatureCollection) and `impact`",
            "428" => "The version edited is missing (If-Match or `version`)",
            "503" => "The store is unavailable; nothing was written",
            _ => "Error",
        };
        m.insert(
            c.to_string(),
            json!({"description": description, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
        );
    }
    Value::Object(m)
}

fn saved(errors: &[&str], etag: bool) -> Value {
    let mut r = problems(errors);
    let mut ok = json!({"description": "Saved: the EditResult with committed = true",
        "content": {"application/json": {"schema": edit_result()}}});
    if etag {
        ok["headers"] =
            json!({"ETag": {"schema": {"type": "string"}, "description": "The grid's new version, quoted"}});
    }
    r["200"] = ok;
    r
}

fn edit_result() -> Value {
    json!({"type": "object", "required": ["valid", "committed", "grids", "retired", "violations", "impact"], "properties": {
        "valid": {"type": "boolean", "description": "No error-level violation"},
        "committed": {"type": "boolean"},
        "grids": {"type": "object", "description": "FeatureCollection of the new versions (code, name, version, households, population, ...)"},
        "retired": {"type": "array", "items": {"type": "string"}, "description": "Codes that ended without successor"},
        "violations": {"type": "object", "description": "FeatureCollection; properties rule, severity (error|warning), message_zh, message_en, codes"},
        "impact": {"type": "object", "description": "buildings, households_moved, population_moved, access_points, entrances, staff (ids and roles, never names), staff_to_decide, grids"}
    }})
}

fn code_param() -> Value {
    json!({"name": "code", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]{14,15}$"}, "description": "grid code"})
}

fn if_match() -> Value {
    json!({"name": "If-Match", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The version edited, as the grid's ETag gives it (\"3\")"})
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// The `at` query parameter of as-of reads.
pub fn at_param() -> Value {
    json!({"name": "at", "in": "query", "required": false, "schema": {"type": "string", "format": "date-time"},
           "description": "RFC 3339 instant: answer with the grids as they were then (as-of read)"})
}

/// `PUT /api/grids/{code}` (joined to the GET of the same path).
pub fn put_grid() -> Value {
    json!({
        "summary": "Replace a grid's boundary (a new version), checked against the topology rules",
        "operationId": "put_grid",
        "parameters": [code_param(), if_match()],
        "requestBody": body(json!({"type": "object", "required": ["type", "geometry", "properties"], "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": {"type": "object", "description": "Polygon or MultiPolygon, EPSG:4326"},
            "properties": {"type": "object", "required": ["reason"], "properties": {
                "reason": {"type": "string", "minLength": 1, "maxLength": 500},
                "name": {"type": "string"}
            }}
        }})),
        "responses": saved(&["400", "403", "404", "412", "422", "428", "503"], true)
    })
}

/// Every other edit route.
pub fn openapi_paths() -> Value {
    let reason =
        json!({"type": "string", "minLength": 1, "maxLength": 500, "description": "Why (kept in the history)"});
    let code_version = json!({"type": "object", "required": ["code", "version"], "properties": {
        "code": {"type": "string"}, "version": {"type": "integer", "minimum": 1}}});
    json!({
        "/api/grids/boundary": {"post": {
            "summary": "Move the shared boundary of neighbouring grids, all in one transaction",
            "operationId": "move_boundary",
            "requestBody": body(json!({"type": "object", "required": ["reason", "grids"], "properties": {
                "reason": reason,
                "grids": {"type": "object", "description": "FeatureCollection; each feature's properties {code, version}, geometry its new boundary"}
            }})),
            "responses": saved(&["400", "403", "404", "412", "422", "428", "503"], false)
        }},
        "/api/grids/merge": {"post": {
            "summary": "Merge neighbouring grids of one community into a new grid (new code)",
            "operationId": "merge_grids",
            "requestBody": body(json!({"type": "object", "required": ["reason", "grids"], "properties": {
                "reason": reason, "name": {"type": "string"},
                "grids": {"type": "array", "minItems": 2, "items": code_version}
            }})),
            "responses": saved(&["400", "403", "404", "412", "422", "428", "503"], false)
        }},
        "/api/grids/{code}/split": {"post": {
            "summary": "Split a grid along a line into new grids (new codes)",
            "operationId": "split_grid",
            "parameters": [code_param(), if_match()],
            "requestBody": body(json!({"type": "object", "required": ["reason", "line"], "properties": {
                "reason": reason,
                "line": {"type": "object", "description": "GeoJSON LineString across the grid, EPSG:4326"},
                "assign": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}, "description": "staff id → index of the part they go to"}
            }})),
            "responses": saved(&["400", "403", "404", "412", "422", "428", "503"], false)
        }},
        "/api/grids/{code}/revert": {"post": {
            "summary": "Give a grid an earlier version's boundary again, as a new validated version",
            "operationId": "revert_grid",
            "parameters": [code_param(), if_match()],
            "requestBody": body(json!({"type": "object", "required": ["reason", "version"], "properties": {
                "reason": reason, "version": {"type": "integer", "minimum": 1, "description": "The earlier version"}
            }})),
            "responses": saved(&["400", "403", "404", "412", "422", "428", "503"], true)
        }},
        "/api/grids/{code}/history": {"get": {
            "summary": "Every version of a grid with who changed it, when and why",
            "operationId": "grid_history",
            "parameters": [code_param()],
            "responses": {
                "200": {"description": "The versions, oldest first", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["code", "versions"], "properties": {
                        "code": {"type": "string"},
                        "versions": {"type": "array", "items": {"type": "object", "properties": {
                            "version": {"type": "integer"}, "name": {"type": "string"},
                            "valid_from": {"type": "string", "format": "date-time"},
                            "valid_to": {"type": "string", "format": "date-time", "nullable": true},
                            "changed_by": {"type": "string", "nullable": true},
                            "reason": {"type": "string", "nullable": true},
                            "households": {"type": "integer"}, "population": {"type": "integer"},
                            "geometry": {"type": "object"}
                        }}}
                    }}}}},
                "400": problems(&["400"])["400"], "404": problems(&["404"])["404"], "503": problems(&["503"])["503"]
            }
        }},
        "/api/validate": {"post": {
            "summary": "Dry run of any edit: the EditResult, 200 even when invalid; changes nothing",
            "operationId": "validate_edit",
            "requestBody": body(json!({"type": "object", "required": ["op"], "properties": {
                "op": {"type": "string", "enum": ["reshape", "boundary", "split", "merge", "revert"]},
                "code": {"type": "string"},
                "version": {"type": "integer", "minimum": 1, "description": "The version edited (what If-Match carries for a save)"},
                "feature": {"type": "object", "description": "reshape: the Feature as for PUT"},
                "grids": {"description": "boundary: FeatureCollection; merge: [{code, version}]"},
                "line": {"type": "object"}, "assign": {"type": "object"},
                "to_version": {"type": "integer", "minimum": 1, "description": "revert: the earlier version"},
                "reason": reason, "name": {"type": "string"}
            }})),
            "responses": {
                "200": {"description": "The EditResult with committed = false", "content": {"application/json": {"schema": edit_result()}}},
                "400": problems(&["400"])["400"], "403": problems(&["403"])["403"], "404": problems(&["404"])["404"],
                "412": problems(&["412"])["412"], "428": problems(&["428"])["428"]
            }
        }}
    })
}
