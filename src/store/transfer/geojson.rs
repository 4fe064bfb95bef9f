//! Reading GeoJSON sources for an import, feature by feature, collecting every problem.
//!
//! A layer file is parsed as a stream: the FeatureCollection's `features` array is walked one
//! element at a time (a serde visitor), and features are turned into the model in chunks of
//! [`CHUNK`]. So a 600 MB `entrances.geojson` never exists as one JSON tree in memory, and a
//! malformed feature is reported with its label while its neighbours are still read. The
//! layers of a directory are read on parallel threads.

use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Layer, TransferError};
use crate::model::geojson::Feature;
use crate::model::{Code, Dataset, DistrictInfo, LayerKind, Level, Problem, Staff, Unread};
use crate::store::files::DISTRICT_FILE;
use crate::store::StoreError;

/// Features turned into the model at a time.
const CHUNK: usize = 10_000;

/// What reading met besides the features it could read.
#[derive(Debug, Default)]
pub(super) struct Reading {
    pub(super) problems: Vec<Problem>,
    /// The features behind those problems, left out of the dataset.
    pub(super) unread: Unread,
}

impl Reading {
    fn absorb(&mut self, other: Reading) {
        self.problems.extend(other.problems);
        self.unread.codes.extend(other.unread.codes);
        for (kind, ids) in other.unread.ids {
            self.unread.ids.entry(kind).or_default().extend(ids);
        }
    }
}

pub(super) fn read_text(path: &Path) -> Result<String, StoreError> {
    std::fs::read_to_string(path)
        .map_err(|e| StoreError::File { path: path.display().to_string(), message: e.to_string() })
}

/// Reads a whole directory: `district.json` must be readable; every other problem is collected.
pub(super) fn read_whole_dir(dir: &Path, read: &mut Reading) -> Result<Dataset, TransferError> {
    let district_path = dir.join(DISTRICT_FILE);
    let district: DistrictInfo = serde_json::from_str(&read_text(&district_path)?).map_err(|e| StoreError::File {
        path: district_path.display().to_string(),
        message: format!("not a district description: {e}"),
    })?;
    if district.code.level() != Level::District {
        return Err(TransferError::Usage(format!(
            "{}: code {} is not a 6-digit district code",
            district_path.display(),
            district.code
        )));
    }
    // Every file must be there before any parsing starts.
    let texts =
        Layer::all().map(|l| Ok((l, read_text(&dir.join(l.file_name()))?))).collect::<Result<Vec<_>, StoreError>>()?;
    let mut data = Dataset::empty(district);
    let parts = std::thread::scope(|scope| {
        let tasks: Vec<_> = texts
            .into_iter()
            .map(|(layer, text)| {
                let district = data.district.clone();
                scope.spawn(move || {
                    let mut part = Dataset::empty(district);
                    let mut reading = Reading::default();
                    read_layer(&mut part, layer, &text, &mut reading);
                    (layer, part, reading)
                })
            })
            .collect();
        tasks.into_iter().map(|t| t.join()).collect::<Vec<_>>()
    });
    for part in parts {
        let (layer, mut part, reading) =
            part.map_err(|_| TransferError::Usage("a thread reading the directory panicked".into()))?;
        layer.move_into(&mut part, &mut data);
        read.absorb(reading);
    }
    Ok(data)
}

/// Replaces `layer` of `data` with the features (or staff) in `text`. Features that cannot be
/// read are left out and reported in `read`, each with its label.
pub(super) fn read_layer(data: &mut Dataset, layer: Layer, text: &str, read: &mut Reading) {
    let name = layer.name();
    let file_problem = |message: String| Problem::new(name, "the file", message);
    match layer {
        Layer::Staff => {
            let entries: Vec<Value> = match serde_json::from_str(text) {
                Ok(Value::Array(entries)) => entries,
                Ok(_) => {
                    return read.problems.push(file_problem("the staff list must be a JSON array of people".into()))
                }
                Err(e) => return read.problems.push(file_problem(format!("not valid JSON: {e}"))),
            };
            data.staff.clear();
            for (i, v) in entries.into_iter().enumerate() {
                let label = v.get("id").map_or_else(|| format!("entry #{i}"), |id| format!("staff {id}"));
                match Staff::deserialize(v) {
                    Ok(s) => data.staff.push(s),
                    Err(e) => read.problems.push(Problem::new(name, label, e.to_string())),
                }
            }
        }
        Layer::Features(kind) => {
            let mut layer_reader = LayerReader::new(data, kind, read);
            let mut de = serde_json::Deserializer::from_str(text);
            let walked = Collection { each: &mut |i, v: Value| layer_reader.feature(i, &v) }.deserialize(&mut de);
            let problem = match walked.and_then(|shape| de.end().map(|()| shape)) {
                Ok(Shape { kind: Some(k), features: true }) if k == "FeatureCollection" => None,
                Ok(Shape { features: false, kind: Some(k) }) if k == "FeatureCollection" => {
                    Some("a FeatureCollection needs a \"features\" array".to_string())
                }
                Ok(_) => Some(format!("expected a GeoJSON FeatureCollection of {name}")),
                Err(e) if e.is_data() => Some(format!("expected a GeoJSON FeatureCollection of {name}: {e}")),
                Err(e) => Some(format!("not valid JSON: {e}")),
            };
            layer_reader.finish();
            if let Some(message) = problem {
                read.problems.push(file_problem(message));
            }
        }
    }
}

/// Turns the features of one layer into the model, a chunk at a time.
struct LayerReader<'a> {
    data: &'a mut Dataset,
    kind: LayerKind,
    read: &'a mut Reading,
    chunk: Vec<Feature>,
    scratch: Dataset,
}

impl<'a> LayerReader<'a> {
    fn new(data: &'a mut Dataset, kind: LayerKind, read: &'a mut Reading) -> Self {
        let scratch = Dataset::empty(data.district.clone());
        // The layer is replaced: what the file holds is all it will hold.
        Layer::Features(kind).move_into(&mut Dataset::empty(data.district.clone()), data);
        LayerReader { data, kind, read, chunk: Vec::with_capacity(CHUNK), scratch }
    }

    /// One element of the `features` array, at position `index`.
    fn feature(&mut self, index: usize, v: &Value) {
        match Feature::from_json(v) {
            Ok(f) => {
                self.chunk.push(f);
                if self.chunk.len() == CHUNK {
                    self.flush();
                }
            }
            Err(e) => {
                self.read.problems.push(Problem::new(self.kind.name(), raw_label(v, index), e.to_string()));
                let properties = v.get("properties").and_then(Value::as_object);
                note_unread(&mut self.read.unread, self.kind, v.get("id"), properties);
            }
        }
    }

    /// Reads the chunk into the model and appends it to the layer.
    fn flush(&mut self) {
        let (kind, name) = (self.kind, self.kind.name());
        if let Err(errors) = self.scratch.set_features(kind, &self.chunk) {
            self.read.problems.extend(errors.into_iter().map(|(label, message)| Problem::new(name, label, message)));
            // Keep the readable ones, so that the whole-dataset checks still see them.
            let (scratch, unread) = (&mut self.scratch, &mut self.read.unread);
            self.chunk.retain(|f| {
                let readable = scratch.set_features(kind, std::slice::from_ref(f)).is_ok();
                if !readable {
                    note_unread(unread, kind, f.id.as_ref(), Some(&f.properties));
                }
                readable
            });
            if self.scratch.set_features(kind, &self.chunk).is_err() {
                tracing::warn!(layer = name, "features readable one by one failed together");
            }
        }
        Layer::Features(kind).append_into(&mut self.scratch, self.data);
        self.chunk.clear();
    }

    fn finish(mut self) {
        self.flush();
    }
}

/// What the top level of a layer file turned out to be.
struct Shape {
    /// Its `"type"`.
    kind: Option<String>,
    /// Whether it had a `"features"` array.
    features: bool,
}

/// A GeoJSON object whose `features` array is handed element by element to `each`.
struct Collection<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(usize, Value)> DeserializeSeed<'de> for Collection<'_, F> {
    type Value = Shape;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(usize, Value)> Visitor<'de> for Collection<'_, F> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut shape = Shape { kind: None, features: false };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => shape.kind = Some(map.next_value::<String>()?),
                "features" => {
                    map.next_value_seed(Elements { each: &mut *self.each })?;
                    shape.features = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(shape)
    }
}

/// The `features` array, element by element.
struct Elements<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(usize, Value)> DeserializeSeed<'de> for Elements<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(usize, Value)> Visitor<'de> for Elements<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            (self.each)(index, v);
            index += 1;
        }
        Ok(())
    }
}

/// Records the code or id of an unreadable feature (when it has a readable one).
fn note_unread(unread: &mut Unread, kind: LayerKind, id: Option<&Value>, properties: Option<&Map<String, Value>>) {
    let key = |name: &str| properties.and_then(|p| p.get(name)).or(id);
    if kind.region_level().is_some() {
        if let Some(code) = key("code").and_then(Value::as_str).and_then(|c| Code::parse(c).ok()) {
            unread.codes.insert(code);
        }
    } else if let Some(id) = key("id").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()) {
        unread.ids.entry(kind).or_default().insert(id);
    }
}

/// The label of a raw JSON feature, as [`Feature::label`] would give it.
fn raw_label(v: &Value, index: usize) -> String {
    match v.get("id") {
        Some(Value::String(s)) => format!("feature {s:?}"),
        Some(id @ Value::Number(_)) => format!("feature {id}"),
        _ => format!("feature #{index}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::{generate, GenParams};

    #[test]
    fn every_unreadable_feature_is_reported_and_the_rest_kept() {
        let mut data = generate(&GenParams { seed: 9, grids: Some(6) }, &|_, _, _| {});
        let features: Vec<Value> = data.features(LayerKind::Entrances).iter().map(Feature::to_json).collect();
        let mut broken = features.clone();
        // A point with one coordinate, and an entrance without a unit.
        broken[0]["geometry"]["coordinates"] = serde_json::json!([84.8]);
        broken[2]["properties"].as_object_mut().map(|p| p.remove("unit"));
        let text = serde_json::json!({"type": "FeatureCollection", "features": broken}).to_string();
        let mut read = Reading::default();
        read_layer(&mut data, Layer::Features(LayerKind::Entrances), &text, &mut read);
        let problems = &read.problems;
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].feature.starts_with("feature ") && problems[0].message.contains("[lon, lat]"));
        assert!(problems[1].message.contains("unit"), "{}", problems[1]);
        assert_eq!(data.entrances.len(), features.len() - 2, "the readable features are kept");
        let unread = read.unread.ids.get(&LayerKind::Entrances).map(|ids| ids.len());
        assert_eq!(unread, Some(2), "both are known to exist, so nothing else reports them as missing");
    }

    #[test]
    fn features_stream_in_chunks_in_order() {
        let mut data = generate(&GenParams { seed: 9, grids: Some(6) }, &|_, _, _| {});
        let want = data.entrances.clone();
        // More than two chunks, so that appending keeps the order across chunk boundaries.
        let mut many = Vec::new();
        while many.len() <= 2 * CHUNK {
            many.extend(want.iter().cloned());
        }
        data.entrances = many.clone().into();
        let text = crate::model::geojson::write_feature_collection(data.features(LayerKind::Entrances));
        data.entrances.clear();
        let mut read = Reading::default();
        read_layer(&mut data, Layer::Features(LayerKind::Entrances), &text, &mut read);
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert!(data.entrances == many, "every feature, in file order");
    }

    #[test]
    fn files_that_are_not_feature_collections_are_one_problem() {
        let mut data = generate(&GenParams { seed: 9, grids: Some(6) }, &|_, _, _| {});
        for (text, says) in [
            ("{\"type\":\"Feature\"}", "expected a GeoJSON FeatureCollection"),
            ("{\"type\":\"FeatureCollection\"}", "needs a \"features\" array"),
            ("{\"type\":\"FeatureCollection\",\"features\":[", "not valid JSON"),
            ("[1, 2]", "expected a GeoJSON FeatureCollection"),
        ] {
            let mut read = Reading::default();
            read_layer(&mut data, Layer::Features(LayerKind::Grids), text, &mut read);
            assert_eq!(read.problems.len(), 1, "{text}: {:?}", read.problems);
            assert!(read.problems[0].message.contains(says), "{text}: {}", read.problems[0]);
        }
    }
}
