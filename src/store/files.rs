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

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::Value;

use super::StoreError;
use crate::model::geojson::parse_features;
use crate::model::geojson::Feature;
use crate::model::{
    AccessPoint, Building, Compound, Dataset, DistrictInfo, Entrance, LayerKind, Level, Region, Responder, Staff,
};

/// File name of the district description.
pub const DISTRICT_FILE: &str = "district.json";
/// File name of the staff list.
pub const STAFF_FILE: &str = "staff.json";

/// File name of a layer: `<layer>.geojson`.
pub fn layer_file(kind: LayerKind) -> String {
    format!("{}.geojson", kind.name())
}

/// One file of the directory format.
#[derive(Debug, Clone, Copy)]
enum File {
    District,
    Layer(LayerKind),
    Staff,
}

impl File {
    /// Every file, in the order [`render`] lists them.
    fn all() -> Vec<File> {
        std::iter::once(File::District).chain(LayerKind::ALL.map(File::Layer)).chain([File::Staff]).collect()
    }

    fn name(self) -> String {
        match self {
            File::District => DISTRICT_FILE.to_string(),
            File::Layer(kind) => layer_file(kind),
            File::Staff => STAFF_FILE.to_string(),
        }
    }

    /// Writes the file's bytes to `w`.
    fn write(self, data: &Dataset, w: &mut impl Write) -> std::io::Result<()> {
        match self {
            File::District => {
                serde_json::to_writer_pretty(&mut *w, &data.district)?;
                w.write_all(b"\n")
            }
            File::Layer(kind) => write_layer(data, kind, w),
            File::Staff => {
                w.write_all(b"[\n")?;
                for (i, s) in data.staff.iter().enumerate() {
                    if i > 0 {
                        w.write_all(b",\n")?;
                    }
                    serde_json::to_writer(&mut *w, s)?;
                }
                w.write_all(if data.staff.is_empty() { b"]\n" } else { b"\n]\n" })
            }
        }
    }

    fn render(self, data: &Dataset) -> String {
        let mut out = Vec::new();
        // Writing to memory cannot fail, and serde_json writes UTF-8.
        let _ = self.write(data, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Streams one layer as a FeatureCollection, byte for byte what
/// [`write_feature_collection`](crate::model::geojson::write_feature_collection) makes of `data.features(kind)`, without holding every feature
/// (or the whole text) in memory: a 100,000-grid city has millions of entrances.
fn write_layer(data: &Dataset, kind: LayerKind, w: &mut impl Write) -> std::io::Result<()> {
    fn each<T>(items: &[T], to_feature: impl Fn(&T) -> Feature, w: &mut impl Write) -> std::io::Result<()> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                w.write_all(b",\n")?;
            }
            serde_json::to_writer(&mut *w, &to_feature(item).to_json())?;
        }
        Ok(())
    }
    w.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
    match kind {
        LayerKind::Subdistricts => each(&data.subdistricts, Region::to_feature, w)?,
        LayerKind::Communities => each(&data.communities, Region::to_feature, w)?,
        LayerKind::Grids => each(&data.grids, Region::to_feature, w)?,
        LayerKind::Compounds => each(&data.compounds, Compound::to_feature, w)?,
        LayerKind::AccessPoints => each(&data.access_points, AccessPoint::to_feature, w)?,
        LayerKind::Buildings => each(&data.buildings, Building::to_feature, w)?,
        LayerKind::Entrances => each(&data.entrances, Entrance::to_feature, w)?,
        LayerKind::Responders => each(&data.responders, Responder::to_feature, w)?,
    }
    w.write_all(b"\n]}\n")
}

/// Every file of the directory format as `(file name, contents)`, in a fixed order.
pub fn render(data: &Dataset) -> Vec<(String, String)> {
    File::all().into_iter().map(|f| (f.name(), f.render(data))).collect()
}

/// Writes `data` into `dir` (created if missing): `<layer>.geojson` for every layer,
/// `staff.json` and `district.json`. Existing files of those names are replaced.
///
/// Files are streamed to disk, a few at a time on as many threads, largest layers first: a
/// 100,000-grid city has gigabyte-sized layers. The bytes do not depend on the threads.
pub fn write_dir(dir: &Path, data: &Dataset) -> Result<(), StoreError> {
    let file_error =
        |path: &Path, e: std::io::Error| StoreError::File { path: path.display().to_string(), message: e.to_string() };
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let mut files = File::all();
    // Entrances and buildings are by far the largest; start them first.
    files.sort_by_key(|f| match f {
        File::Layer(LayerKind::Entrances) => 0,
        File::Layer(LayerKind::Buildings) => 1,
        _ => 2,
    });
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result<(), StoreError> {
                    while let Some(&file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let path = dir.join(file.name());
                        let write = || -> std::io::Result<()> {
                            let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
                            file.write(data, &mut w)?;
                            w.flush()
                        };
                        write().map_err(|e| file_error(&path, e))?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
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
    use crate::model::geojson::write_feature_collection;

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
    fn streamed_layers_match_the_model_writer() {
        let data = generate(&GenParams { seed: 5, grids: Some(10) }, &|_, _, _| {});
        for kind in LayerKind::ALL {
            assert_eq!(
                File::Layer(kind).render(&data),
                write_feature_collection(data.features(kind)),
                "{} is written exactly as model::geojson writes it",
                kind.name()
            );
        }
        let empty = Dataset::empty(data.district.clone());
        assert_eq!(File::Layer(LayerKind::Grids).render(&empty), write_feature_collection(vec![]));
        assert_eq!(File::Staff.render(&empty), "[\n]\n");
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
