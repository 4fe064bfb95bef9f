//! GeoJSON (RFC 7946) reading and writing for gridmap's geometries, in EPSG:4326 (lon, lat).
//!
//! Hand-written over `serde_json::Value` so that every malformed input gets a precise message
//! (which feature, which ring, what is wrong) and output is byte-for-byte deterministic:
//! one feature per line, keys in sorted order, shortest round-trip float formatting.

use geo::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use serde_json::{Map, Value};

/// What is wrong with a GeoJSON document or geometry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeoJsonError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("expected a GeoJSON {expected}, found {found}")]
    WrongType { expected: &'static str, found: String },
    #[error("{0}")]
    Malformed(String),
}

fn malformed(msg: impl Into<String>) -> GeoJsonError {
    GeoJsonError::Malformed(msg.into())
}

/// A GeoJSON Feature: an optional id, an optional geometry, and properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: Option<Value>,
    pub geometry: Option<Geometry<f64>>,
    pub properties: Map<String, Value>,
}

impl Feature {
    /// Serialises to a JSON object (`{"type":"Feature",...}`).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("type".into(), Value::from("Feature"));
        if let Some(id) = &self.id {
            obj.insert("id".into(), id.clone());
        }
        obj.insert("geometry".into(), self.geometry.as_ref().map_or(Value::Null, geometry_to_json));
        obj.insert("properties".into(), Value::Object(self.properties.clone()));
        Value::Object(obj)
    }

    /// Parses a JSON object that must be a Feature.
    pub fn from_json(v: &Value) -> Result<Feature, GeoJsonError> {
        let obj = v.as_object().ok_or_else(|| wrong("Feature", v))?;
        match obj.get("type").and_then(Value::as_str) {
            Some("Feature") => {}
            _ => return Err(wrong("Feature", v)),
        }
        let geometry = match obj.get("geometry") {
            None | Some(Value::Null) => None,
            Some(g) => Some(geometry_from_json(g)?),
        };
        let properties = match obj.get("properties") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err(malformed("\"properties\" must be an object or null")),
        };
        let id = match obj.get("id") {
            None | Some(Value::Null) => None,
            Some(id @ (Value::String(_) | Value::Number(_))) => Some(id.clone()),
            Some(_) => return Err(malformed("\"id\" must be a string or a number")),
        };
        Ok(Feature { id, geometry, properties })
    }

    /// A short label for error messages: the id if there is one, else the position.
    pub fn label(&self, index: usize) -> String {
        match &self.id {
            Some(Value::String(s)) => format!("feature {s:?}"),
            Some(v) => format!("feature {v}"),
            None => format!("feature #{index}"),
        }
    }
}

fn wrong(expected: &'static str, v: &Value) -> GeoJsonError {
    let found = match v {
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some(t) => format!("type {t:?}"),
            None => "an object without \"type\"".to_string(),
        },
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
    };
    GeoJsonError::WrongType { expected, found }
}

/// Parses a FeatureCollection (or a single Feature, returned as one) from text.
pub fn parse_features(text: &str) -> Result<Vec<Feature>, GeoJsonError> {
    let v: Value = serde_json::from_str(text).map_err(|e| GeoJsonError::Json(e.to_string()))?;
    features_from_json(&v)
}

/// Reads the features of a FeatureCollection value (or a single Feature).
pub fn features_from_json(v: &Value) -> Result<Vec<Feature>, GeoJsonError> {
    match v.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {
            let feats = v
                .get("features")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed("a FeatureCollection needs a \"features\" array"))?;
            feats
                .iter()
                .enumerate()
                .map(|(i, f)| Feature::from_json(f).map_err(|e| malformed(format!("feature #{i}: {e}"))))
                .collect()
        }
        Some("Feature") => Ok(vec![Feature::from_json(v)?]),
        _ => Err(wrong("FeatureCollection", v)),
    }
}

/// Writes a FeatureCollection with one feature per line (diff-friendly, deterministic).
pub fn write_feature_collection(features: impl IntoIterator<Item = Feature>) -> String {
    let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    let mut first = true;
    for f in features {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        out.push_str(&f.to_json().to_string());
    }
    out.push_str("\n]}\n");
    out
}

fn coords_json(ls: &LineString<f64>) -> Value {
    Value::Array(ls.0.iter().map(|c| Value::Array(vec![c.x.into(), c.y.into()])).collect())
}

fn polygon_json(p: &Polygon<f64>) -> Value {
    let mut rings = vec![coords_json(p.exterior())];
    rings.extend(p.interiors().iter().map(coords_json));
    Value::Array(rings)
}

/// Serialises a geometry to a GeoJSON geometry object.
pub fn geometry_to_json(g: &Geometry<f64>) -> Value {
    let (kind, coordinates) = match g {
        Geometry::Point(p) => ("Point", Value::Array(vec![p.x().into(), p.y().into()])),
        Geometry::LineString(ls) => ("LineString", coords_json(ls)),
        Geometry::Polygon(p) => ("Polygon", polygon_json(p)),
        Geometry::MultiPolygon(mp) => ("MultiPolygon", Value::Array(mp.0.iter().map(polygon_json).collect())),
        Geometry::MultiLineString(ml) => ("MultiLineString", Value::Array(ml.0.iter().map(coords_json).collect())),
        Geometry::MultiPoint(mp) => {
            ("MultiPoint", Value::Array(mp.0.iter().map(|p| Value::Array(vec![p.x().into(), p.y().into()])).collect()))
        }
        other => {
            // Not produced by gridmap; written as an empty collection rather than panicking.
            tracing::warn!(?other, "unsupported geometry type in GeoJSON output");
            return serde_json::json!({"type": "GeometryCollection", "geometries": []});
        }
    };
    let mut obj = Map::new();
    obj.insert("type".into(), kind.into());
    obj.insert("coordinates".into(), coordinates);
    Value::Object(obj)
}

fn position(v: &Value, at: &str) -> Result<Coord<f64>, GeoJsonError> {
    let arr = v.as_array().ok_or_else(|| malformed(format!("{at}: a position must be an array [lon, lat]")))?;
    if arr.len() < 2 {
        return Err(malformed(format!("{at}: a position needs at least [lon, lat]")));
    }
    let num =
        |i: usize| arr[i].as_f64().ok_or_else(|| malformed(format!("{at}: coordinate {} is not a number", i + 1)));
    let (x, y) = (num(0)?, num(1)?);
    crate::model::crs::check_lon_lat(x, y).map_err(|m| malformed(format!("{at}: {m}")))?;
    Ok(Coord { x, y })
}

fn line(v: &Value, at: &str, min: usize) -> Result<LineString<f64>, GeoJsonError> {
    let arr = v.as_array().ok_or_else(|| malformed(format!("{at}: expected an array of positions")))?;
    if arr.len() < min {
        return Err(malformed(format!("{at}: needs at least {min} positions, has {}", arr.len())));
    }
    let coords = arr
        .iter()
        .enumerate()
        .map(|(i, p)| position(p, &format!("{at}, position {i}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LineString(coords))
}

fn polygon(v: &Value, at: &str) -> Result<Polygon<f64>, GeoJsonError> {
    let rings = v.as_array().ok_or_else(|| malformed(format!("{at}: expected an array of rings")))?;
    if rings.is_empty() {
        return Err(malformed(format!("{at}: a polygon needs an exterior ring")));
    }
    let mut parsed = Vec::with_capacity(rings.len());
    for (i, r) in rings.iter().enumerate() {
        let ring_at = format!("{at}, ring {i}");
        let ls = line(r, &ring_at, 4)?;
        if ls.0.first() != ls.0.last() {
            return Err(malformed(format!("{ring_at}: a ring must be closed (first position equal to the last)")));
        }
        parsed.push(ls);
    }
    let exterior = parsed.remove(0);
    Ok(Polygon::new(exterior, parsed))
}

/// Parses a GeoJSON geometry object. Coordinates must be finite lon/lat in range; rings must
/// be closed with at least four positions. (Topological validity is checked elsewhere.)
pub fn geometry_from_json(v: &Value) -> Result<Geometry<f64>, GeoJsonError> {
    let kind = v.get("type").and_then(Value::as_str).ok_or_else(|| wrong("geometry", v))?;
    let coords = || v.get("coordinates").ok_or_else(|| malformed(format!("{kind} needs \"coordinates\"")));
    Ok(match kind {
        "Point" => Geometry::Point(Point(position(coords()?, "Point")?)),
        "LineString" => Geometry::LineString(line(coords()?, "LineString", 2)?),
        "Polygon" => Geometry::Polygon(polygon(coords()?, "Polygon")?),
        "MultiPolygon" => {
            let polys = coords()?.as_array().ok_or_else(|| malformed("MultiPolygon: expected an array of polygons"))?;
            Geometry::MultiPolygon(MultiPolygon(
                polys
                    .iter()
                    .enumerate()
                    .map(|(i, p)| polygon(p, &format!("MultiPolygon, polygon {i}")))
                    .collect::<Result<_, _>>()?,
            ))
        }
        other => {
            return Err(malformed(format!(
                "geometry type {other:?} is not supported here; use Point, LineString, Polygon or MultiPolygon"
            )))
        }
    })
}

/// Takes a Polygon or MultiPolygon as a MultiPolygon.
pub fn as_multi_polygon(g: Geometry<f64>) -> Result<MultiPolygon<f64>, GeoJsonError> {
    match g {
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        Geometry::MultiPolygon(mp) => Ok(mp),
        other => Err(malformed(format!("expected a Polygon or MultiPolygon, found {}", type_name(&other)))),
    }
}

/// Takes a Polygon (or a MultiPolygon of exactly one polygon).
pub fn as_polygon(g: Geometry<f64>) -> Result<Polygon<f64>, GeoJsonError> {
    match g {
        Geometry::Polygon(p) => Ok(p),
        Geometry::MultiPolygon(mut mp) if mp.0.len() == 1 => Ok(mp.0.remove(0)),
        other => Err(malformed(format!("expected a Polygon, found {}", type_name(&other)))),
    }
}

/// Takes a Point.
pub fn as_point(g: Geometry<f64>) -> Result<Point<f64>, GeoJsonError> {
    match g {
        Geometry::Point(p) => Ok(p),
        other => Err(malformed(format!("expected a Point, found {}", type_name(&other)))),
    }
}

/// The GeoJSON type name of a geometry.
pub fn type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn polygon_round_trip() {
        let v = json!({"type":"Polygon","coordinates":[[[84.0,45.0],[84.1,45.0],[84.1,45.1],[84.0,45.0]]]});
        let g = geometry_from_json(&v).unwrap();
        assert_eq!(geometry_to_json(&g), v);
    }

    #[test]
    fn rejects_unclosed_rings_bad_numbers_and_out_of_range() {
        let open = json!({"type":"Polygon","coordinates":[[[84.0,45.0],[84.1,45.0],[84.1,45.1],[84.0,45.2]]]});
        assert!(geometry_from_json(&open).unwrap_err().to_string().contains("closed"));
        let far = json!({"type":"Point","coordinates":[200.0,45.0]});
        assert!(geometry_from_json(&far).unwrap_err().to_string().contains("out of range"));
        let text = json!({"type":"Point","coordinates":["84",45.0]});
        assert!(geometry_from_json(&text).unwrap_err().to_string().contains("not a number"));
        let short = json!({"type":"Polygon","coordinates":[[[84.0,45.0],[84.1,45.0],[84.0,45.0]]]});
        assert!(geometry_from_json(&short).unwrap_err().to_string().contains("at least 4"));
        assert!(parse_features("{\"type\":\"Feature\"").is_err());
    }
}
