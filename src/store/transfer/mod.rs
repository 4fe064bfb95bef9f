//! `gridmap import` and `gridmap export`: data in and out of a store, in the formats planners'
//! tools use.
//!
//! Sources an import reads:
//!
//! * a **directory** in the `data/karamay` format ([`super::files`]): a whole dataset, or with a
//!   [`Layer`] only that layer's file;
//! * a **GeoJSON file**: one FeatureCollection holding one layer, named by `--layer` or by the
//!   file name (`grids.geojson`); or `staff.json`, the staff list;
//! * a **GeoPackage** as gridmap writes it ([`super::gpkg`]): every layer, or one.
//!
//! An import never writes half of anything. It reads every feature, merges what it read into
//! the store's current data (one layer replaces that layer; a whole dataset replaces
//! everything), checks the result with [`validate`](crate::model::validate()), and only when nothing at all is wrong
//! writes it with one [`Store::replace_all`], which is one transaction. Otherwise it returns
//! [`TransferError::Problems`] listing **every** problem found, each with its feature.
//!
//! An export writes the store's current data as a GeoJSON directory or a GeoPackage; importing
//! what was exported gives back the same dataset.
//!
//! `geojson` reads GeoJSON sources (streaming, in parallel, every problem collected); this
//! file chooses the source, merges, validates, writes, and exports.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tracing::info;

use super::files::{layer_file, STAFF_FILE};
use super::gpkg::GpkgStore;
use super::{files, Store, StoreError};
use crate::model::{validate_except, Dataset, LayerKind, Problem};

mod geojson;

use geojson::{read_layer, read_text, read_whole_dir, Reading};

/// What one import or export can replace: a layer of features, or the staff list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Features(LayerKind),
    Staff,
}

impl Layer {
    /// Every layer, in dependency order.
    pub fn all() -> impl Iterator<Item = Layer> {
        LayerKind::ALL.into_iter().map(Layer::Features).chain([Layer::Staff])
    }

    /// Parses a layer name: `grids`, `access_points`, ..., `staff`.
    pub fn parse(name: &str) -> Option<Layer> {
        match name {
            "staff" => Some(Layer::Staff),
            _ => LayerKind::parse(name).map(Layer::Features),
        }
    }

    /// The layer's name, as in file names and `--layer`.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Features(kind) => kind.name(),
            Layer::Staff => "staff",
        }
    }

    /// The layer a file holds, from its name: `grids.geojson` → grids, `staff.json` → staff.
    pub fn from_file_name(path: &Path) -> Option<Layer> {
        Layer::parse(path.file_stem()?.to_str()?)
    }

    /// The layer's file in the directory format.
    fn file_name(self) -> String {
        match self {
            Layer::Features(kind) => layer_file(kind),
            Layer::Staff => STAFF_FILE.to_string(),
        }
    }

    /// Moves this layer of `from` into `to`, replacing what `to` held.
    fn move_into(self, from: &mut Dataset, to: &mut Dataset) {
        use std::mem::take;
        match self {
            Layer::Staff => to.staff = take(&mut from.staff),
            Layer::Features(kind) => match kind {
                LayerKind::Subdistricts => to.subdistricts = take(&mut from.subdistricts),
                LayerKind::Communities => to.communities = take(&mut from.communities),
                LayerKind::Grids => to.grids = take(&mut from.grids),
                LayerKind::Compounds => to.compounds = take(&mut from.compounds),
                LayerKind::AccessPoints => to.access_points = take(&mut from.access_points),
                LayerKind::Buildings => to.buildings = take(&mut from.buildings),
                LayerKind::Entrances => to.entrances = take(&mut from.entrances),
                LayerKind::Responders => to.responders = take(&mut from.responders),
            },
        }
    }

    /// Moves this layer of `from` to the end of the same layer of `to`.
    fn append_into(self, from: &mut Dataset, to: &mut Dataset) {
        match self {
            Layer::Staff => to.staff.append(&mut from.staff),
            Layer::Features(kind) => match kind {
                LayerKind::Subdistricts => to.subdistricts.append(&mut from.subdistricts),
                LayerKind::Communities => to.communities.append(&mut from.communities),
                LayerKind::Grids => to.grids.append(&mut from.grids),
                LayerKind::Compounds => to.compounds.append(&mut from.compounds),
                LayerKind::AccessPoints => to.access_points.append(&mut from.access_points),
                LayerKind::Buildings => to.buildings.append(&mut from.buildings),
                LayerKind::Entrances => to.entrances.append(&mut from.entrances),
                LayerKind::Responders => to.responders.append(&mut from.responders),
            },
        }
    }
}

/// The two formats of `gridmap export` (and of import sources besides single GeoJSON files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A directory of `<layer>.geojson` files, `staff.json` and `district.json`.
    GeoJson,
    /// One GeoPackage file.
    Gpkg,
}

impl Format {
    /// The format a path suggests: `.gpkg` is a GeoPackage, anything else a GeoJSON directory.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("gpkg") => Format::Gpkg,
            _ => Format::GeoJson,
        }
    }
}

/// Why an import or export did not happen. In every case nothing was written to the store.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data has problems; all of them, each naming its layer and feature.
    #[error("{} problem(s):\n{}", .0.len(), list(.0))]
    Problems(Vec<Problem>),
    /// The command cannot be carried out as asked (and says what to do instead).
    #[error("{0}")]
    Usage(String),
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// The stages of an import, reported to a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Reading the source (a path).
    Reading(String),
    /// Checking the merged dataset (its feature count).
    Checking(usize),
    /// Writing to the store (its kind).
    Writing(&'static str),
}

impl Stage {
    /// Position of the stage, from 1, of [`Stage::COUNT`].
    pub fn number(&self) -> u64 {
        match self {
            Stage::Reading(_) => 1,
            Stage::Checking(_) => 2,
            Stage::Writing(_) => 3,
        }
    }

    /// How many stages an import has.
    pub const COUNT: u64 = 3;
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stage::Reading(path) => write!(f, "reading {path}"),
            Stage::Checking(n) => write!(f, "checking {n} features"),
            Stage::Writing(kind) => write!(f, "writing to {kind} (one transaction)"),
        }
    }
}

/// What an import wrote.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The layers that were replaced (every layer for a whole dataset).
    pub layers: Vec<Layer>,
    /// The dataset now in the store.
    pub data: Dataset,
}

/// Imports `path` into `store`: a whole dataset, or only `layer` (which a single GeoJSON file
/// may also name by its file name). See the module docs for the sources and the guarantees.
pub async fn import(
    store: &dyn Store,
    path: &Path,
    layer: Option<Layer>,
    progress: &(dyn Fn(Stage) + Sync),
) -> Result<Imported, TransferError> {
    let started = Instant::now();
    progress(Stage::Reading(path.display().to_string()));
    let mut read = Reading::default();
    let (data, layers) = read_source(store, path, layer, &mut read).await?;
    let count = feature_count(&data);
    info!(features = count, problems = read.problems.len(), ms = started.elapsed().as_millis() as u64, "read");

    let started = Instant::now();
    progress(Stage::Checking(count));
    let unread = read.unread;
    let (data, found) = tokio::task::spawn_blocking(move || {
        let found = validate_except(&data, &unread);
        (data, found)
    })
    .await
    .map_err(|e| TransferError::Usage(format!("the validation task failed: {e}")))?;
    info!(problems = found.len(), ms = started.elapsed().as_millis() as u64, "checked");
    let mut problems = read.problems;
    problems.extend(found);
    if !problems.is_empty() {
        return Err(TransferError::Problems(problems));
    }

    let started = Instant::now();
    progress(Stage::Writing(store.kind()));
    store.replace_all(&data).await?;
    info!(store = store.kind(), ms = started.elapsed().as_millis() as u64, "written");
    Ok(Imported { layers, data })
}

/// Writes the store's current data to `path` in `format`: a directory for GeoJSON (created if
/// missing; files of the same names are replaced), a file for a GeoPackage (refused if it
/// exists, unless `overwrite`). Returns what was written.
pub async fn export(store: &dyn Store, format: Format, path: &Path, overwrite: bool) -> Result<Dataset, TransferError> {
    let data = store.load().await?;
    match format {
        Format::GeoJson => {
            let dir = path.to_path_buf();
            Ok(blocking(move || files::write_dir(&dir, &data).map(|()| data)).await??)
        }
        Format::Gpkg => {
            write_gpkg(path, &data, overwrite).await?;
            Ok(data)
        }
    }
}

/// Writes a GeoPackage beside `path` and renames it into place, so that a failed export
/// leaves no half-written file under the requested name.
async fn write_gpkg(path: &Path, data: &Dataset, overwrite: bool) -> Result<(), TransferError> {
    if path.exists() && !overwrite {
        return Err(TransferError::Usage(format!(
            "{} exists; choose another file or pass --force to replace it",
            path.display()
        )));
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file_error =
        |p: &Path, e: std::io::Error| StoreError::File { path: p.display().to_string(), message: e.to_string() };
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(|e| file_error(&partial, e))?;
    }
    let out = GpkgStore::open(&partial).await?;
    let written = out.replace_all(data).await;
    out.close().await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e.into());
    }
    std::fs::rename(&partial, path).map_err(|e| file_error(path, e))?;
    Ok(())
}

fn feature_count(d: &Dataset) -> usize {
    d.subdistricts.len()
        + d.communities.len()
        + d.grids.len()
        + d.compounds.len()
        + d.access_points.len()
        + d.buildings.len()
        + d.entrances.len()
        + d.responders.len()
        + d.staff.len()
}

/// What kind of source a path is.
enum Source {
    Dir,
    Gpkg,
    File,
}

fn source_of(path: &Path) -> Result<Source, TransferError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| StoreError::File { path: path.display().to_string(), message: format!("cannot read it: {e}") })?;
    if meta.is_dir() {
        return Ok(Source::Dir);
    }
    // A GeoPackage is an SQLite file, whatever its name.
    let mut magic = [0u8; 16];
    let is_sqlite = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == b"SQLite format 3\0");
    Ok(if is_sqlite || Format::from_path(path) == Format::Gpkg { Source::Gpkg } else { Source::File })
}

/// Reads `path` and, for one layer, merges it into what `store` holds: the dataset to write and
/// the layers it replaced. Unreadable features are left out of the dataset and reported in
/// `read`.
async fn read_source(
    store: &dyn Store,
    path: &Path,
    layer: Option<Layer>,
    read: &mut Reading,
) -> Result<(Dataset, Vec<Layer>), TransferError> {
    let source = source_of(path)?;
    let layer = match (&source, layer) {
        (Source::File, None) => Some(Layer::from_file_name(path).ok_or_else(|| unknown_layer(path))?),
        (_, layer) => layer,
    };
    let data = match layer {
        None => match source {
            Source::Dir => {
                let dir = path.to_path_buf();
                let (data, reading) = blocking(move || {
                    let mut reading = Reading::default();
                    read_whole_dir(&dir, &mut reading).map(|data| (data, reading))
                })
                .await??;
                *read = reading;
                data
            }
            Source::Gpkg => read_gpkg(path).await?,
            Source::File => return Err(unknown_layer(path)),
        },
        Some(layer) => {
            // One layer is merged into what the store holds, so the store must hold something.
            let current = match store.load().await {
                Ok(data) => Some(data),
                Err(StoreError::Empty(_)) => None,
                Err(e) => return Err(e.into()),
            };
            let mut base = current.ok_or_else(|| {
                TransferError::Usage(format!(
                    "the store holds no dataset yet, so a single layer ({}) cannot be merged into it: \
                     import a whole dataset first (a directory as written by `gridmap generate` or \
                     `gridmap export`, or a GeoPackage)",
                    layer.name()
                ))
            })?;
            match source {
                Source::Dir | Source::File => {
                    let file = if matches!(source, Source::Dir) { path.join(layer.file_name()) } else { path.into() };
                    let (data, reading) = blocking(move || {
                        let mut reading = Reading::default();
                        read_layer(&mut base, layer, &read_text(&file)?, &mut reading);
                        Ok::<_, StoreError>((base, reading))
                    })
                    .await??;
                    *read = reading;
                    data
                }
                Source::Gpkg => {
                    layer.move_into(&mut read_gpkg(path).await?, &mut base);
                    base
                }
            }
        }
    };
    let layers = match layer {
        Some(l) => vec![l],
        None => Layer::all().collect(),
    };
    Ok((data, layers))
}

/// Runs CPU- and file-heavy work (parsing a 600 MB layer) off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, TransferError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| TransferError::Usage(format!("a reading task failed: {e}")))
}

fn unknown_layer(path: &Path) -> TransferError {
    TransferError::Usage(format!(
        "cannot tell which layer {} holds from its name; name the file <layer>.geojson or pass --layer \
         (one of {})",
        path.display(),
        Layer::all().map(Layer::name).collect::<Vec<_>>().join(", ")
    ))
}

/// Reads a GeoPackage from a private copy: opening a GeoPackage completes its schema, and an
/// import must not change its source.
async fn read_gpkg(path: &Path) -> Result<Dataset, TransferError> {
    struct Copy(PathBuf);
    impl Drop for Copy {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let copy = Copy(std::env::temp_dir().join(format!("gridmap-import-{}-{nanos}.gpkg", std::process::id())));
    std::fs::copy(path, &copy.0)
        .map_err(|e| StoreError::File { path: path.display().to_string(), message: format!("cannot copy it: {e}") })?;
    let gpkg = GpkgStore::open(&copy.0).await?;
    let data = gpkg.load().await;
    gpkg.close().await;
    data.map_err(|e| match e {
        StoreError::Empty(_) => TransferError::Usage(format!("{} holds no gridmap dataset", path.display())),
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_named_like_their_files() {
        assert_eq!(Layer::from_file_name(Path::new("/x/grids.geojson")), Some(Layer::Features(LayerKind::Grids)));
        assert_eq!(Layer::from_file_name(Path::new("staff.json")), Some(Layer::Staff));
        assert_eq!(Layer::from_file_name(Path::new("my-grids.geojson")), None);
        assert_eq!(Layer::all().count(), 9);
        assert!(Layer::all().all(|l| Layer::parse(l.name()) == Some(l)));
        assert_eq!(Format::from_path(Path::new("out.GPKG")), Format::Gpkg);
        assert_eq!(Format::from_path(Path::new("out")), Format::GeoJson);
    }
}
