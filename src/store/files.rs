//! The GeoJSON directory format (`data/karamay`): one `<layer>.geojson` per layer,
//! `staff.json`, and `district.json`.
//!
//! Layer files are RFC 7946 FeatureCollections in EPSG:4326, written with one feature per line
//! (keys sorted, shortest round-trip numbers), so that the same dataset always gives the same
//! bytes and a change shows up as a readable diff. `staff.json` is a JSON array with one person
//! per line; `district.json` is a small pretty-printed object ([`DistrictInfo`]).
//!
//! Reading checks every feature and reports all problems at once; it knows nothing of indexes,
//! databases or HTTP.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::StoreError;
use crate::model::geojson::{parse_features, write_feature_collection};
use crate::model::{Dataset, DistrictInfo, LayerKind, Level, Staff};

/// File name of the district description.
pub const DISTRICT_FILE: &str = "district.json";
/// File name of the staff list.
pub const STAFF_FILE: &str = "staff.json";

/// File name of a layer: `<layer>.geojson`.
pub fn layer_file(kind: LayerKind) -> String {
    format!("{}.geojson", kind.name())
}

/// Every file of the directory format as `(file name, contents)`, in a fixed order.
pub fn render(data: &Dataset) -> Vec<(String, String)> {
    let mut files = Vec::with_capacity(LayerKind::ALL.len() + 2);
    let district = serde_json::to_string_pretty(&data.district).unwrap_or_default();
    files.push((DISTRICT_FILE.to_string(), district + "\n"));
    for kind in LayerKind::ALL {
        files.push((layer_file(kind), write_feature_collection(data.features(kind))));
    }
    let mut staff = String::from("[\n");
    for (i, s) in data.staff.iter().enumerate() {
        if i > 0 {
            staff.push_str(",\n");
        }
        staff.push_str(&serde_json::to_string(s).unwrap_or_default());
    }
    staff.push_str(if data.staff.is_empty() { "]\n" } else { "\n]\n" });
    files.push((STAFF_FILE.to_string(), staff));
    files
}

/// Writes `data` into `dir` (created if missing): `<layer>.geojson` for every layer,
/// `staff.json` and `district.json`. Existing files of those names are replaced.
pub fn write_dir(dir: &Path, data: &Dataset) -> Result<(), StoreError> {
    let file_error =
        |path: &Path, e: std::io::Error| StoreError::File { path: path.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    for (name, text) in render(data) {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| file_error(&path, e))?;
    }
    Ok(())
}

/// Reads a dataset written by [`write_dir`]. Every file must be present. All unreadable
/// features, in every layer, are reported together in one [`StoreError::Invalid`].
pub fn read_dir(dir: &Path) -> Result<Dataset, StoreError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| StoreError::File {
            path: path.display().to_string(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("missing; a dataset directory holds {DISTRICT_FILE}, {STAFF_FILE} and one <layer>.geojson per layer")
            } else {
                e.to_string()
            },
        })
    };
    let district = read(DISTRICT_FILE)?;
    let staff = read(STAFF_FILE)?;
    let mut layers = Vec::with_capacity(LayerKind::ALL.len());
    for kind in LayerKind::ALL {
        layers.push((kind, read(&layer_file(kind))?));
    }
    let layers: Vec<(LayerKind, &str)> = layers.iter().map(|(k, t)| (*k, t.as_str())).collect();
    from_texts(&district, &layers, &staff)
}

/// Parses a dataset from in-memory texts (as embedded in the binary): `district` is the
/// content of `district.json`, `layers` the layer files (layers not given stay empty) and
/// `staff` the content of `staff.json`. All problems are reported together.
pub fn from_texts(district: &str, layers: &[(LayerKind, &str)], staff: &str) -> Result<Dataset, StoreError> {
    let district: DistrictInfo =
        serde_json::from_str(district).map_err(|e| StoreError::Invalid(format!("{DISTRICT_FILE}: {e}")))?;
    if district.code.level() != Level::District {
        return Err(StoreError::Invalid(format!(
            "{DISTRICT_FILE}: code {} is not a 6-digit district code",
            district.code
        )));
    }
    let grid_len = 12 + district.grid_width as usize;
    let mut data = Dataset::empty(district);
    let mut problems: Vec<String> = Vec::new();

    for &(kind, text) in layers {
        let file = layer_file(kind);
        let features = match parse_features(text) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{file}: {e}"));
                continue;
            }
        };
        if let Err(errors) = data.set_features(kind, &features) {
            problems.extend(errors.into_iter().map(|(label, message)| format!("{file}: {label}: {message}")));
            continue;
        }
        if let Some(level) = kind.region_level() {
            for r in data.regions(level).unwrap_or_default() {
                if !r.code.is_within(&data.district.code) {
                    problems.push(format!(
                        "{file}: feature {:?}: code is outside district {}",
                        r.code.as_str(),
                        data.district.code
                    ));
                } else if level == Level::Grid && r.code.as_str().len() != grid_len {
                    problems.push(format!(
                        "{file}: feature {:?}: grid codes of this district have {grid_len} digits (grid_width {})",
                        r.code.as_str(),
                        data.district.grid_width
                    ));
                }
            }
        }
    }

    match serde_json::from_str::<Vec<Value>>(staff) {
        Err(e) => problems.push(format!("{STAFF_FILE}: {e}")),
        Ok(entries) => {
            for (i, v) in entries.into_iter().enumerate() {
                let label = v.get("id").map_or_else(|| format!("entry #{i}"), |id| format!("staff {id}"));
                match Staff::deserialize(v) {
                    Ok(s) if s.grids.is_empty() => {
                        problems.push(format!("{STAFF_FILE}: {label}: serves no grid; list at least one"))
                    }
                    Ok(s) => data.staff.push(s),
                    Err(e) => problems.push(format!("{STAFF_FILE}: {label}: {e}")),
                }
            }
        }
    }

    if problems.is_empty() {
        Ok(data)
    } else {
        Err(StoreError::Invalid(format!("{} problem(s):\n{}", problems.len(), problems.join("\n"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GenParams};

    #[test]
    fn round_trips_through_texts_and_reports_every_bad_feature() {
        let data = generate(&GenParams { seed: 3, grids: Some(12) }, &|_, _, _| {});
        let files = render(&data);
        let text = |name: &str| files.iter().find(|f| f.0 == name).map(|f| f.1.clone()).unwrap();
        let layers: Vec<(LayerKind, String)> = LayerKind::ALL.iter().map(|&k| (k, text(&layer_file(k)))).collect();
        let borrowed: Vec<(LayerKind, &str)> = layers.iter().map(|(k, t)| (*k, t.as_str())).collect();
        let back = from_texts(&text(DISTRICT_FILE), &borrowed, &text(STAFF_FILE)).unwrap();
        assert_eq!(back, data, "coordinates are written at full precision, so reading gives the same dataset");

        // Break two entrances and one grid: all three are reported.
        let entrances = text(&layer_file(LayerKind::Entrances)).replacen("\"unit\":", "\"unit_x\":", 2);
        let grids = text(&layer_file(LayerKind::Grids)).replacen("\"households\":", "\"households\":-", 1);
        let bad = [(LayerKind::Grids, grids.as_str()), (LayerKind::Entrances, entrances.as_str())];
        let err = from_texts(&text(DISTRICT_FILE), &bad, &text(STAFF_FILE)).unwrap_err().to_string();
        assert!(err.contains("3 problem(s)"), "{err}");
        assert!(err.contains("entrances.geojson: feature 1:") && err.contains("grids.geojson: feature \""), "{err}");
    }

    #[test]
    fn write_then_read_a_directory() {
        let data = generate(&GenParams { seed: 4, grids: Some(6) }, &|_, _, _| {});
        let dir = tempfile::tempdir().unwrap();
        write_dir(dir.path(), &data).unwrap();
        assert_eq!(read_dir(dir.path()).unwrap(), data);
        std::fs::remove_file(dir.path().join(STAFF_FILE)).unwrap();
        let err = read_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("staff.json") && err.contains("missing"), "{err}");
    }
}
