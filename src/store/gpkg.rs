//! The embedded store: one OGC GeoPackage 1.3 file (SQLite) that QGIS and GDAL open as is.
//!
//! This is what gridmap uses when no `DATABASE_URL` is set. The file holds:
//!
//! * the GeoPackage core tables (`gpkg_spatial_ref_sys` with the three required rows,
//!   `gpkg_contents`, `gpkg_geometry_columns`), `application_id = 'GPKG'`, `user_version = 10300`;
//! * one feature table per [`LayerKind`], named after the layer, with `fid INTEGER PRIMARY KEY`,
//!   a `geom` column of the layer's geometry type in EPSG:4326 (GeoPackage geometry blobs, see
//!   [`super::wkb`]) and one typed column per GeoJSON property of the layer, same names;
//! * two attributes tables without geometry: `staff` and `gridmap_district` (one row).
//!
//! Rows are written in the order of the [`Dataset`]'s vectors (`fid` 1, 2, ...) and read back in
//! `fid` order, so that `load()` returns a dataset equal (`==`) to the one written when that holds
//! only current versions of regions. Region tables keep every version written (history: `version`,
//! `valid_from`, `valid_to`, key `(code, version)`, at most one current version per code); `load`
//! returns the current ones (`valid_to IS NULL`), as the PostGIS store does. Values pass
//! through each layer's GeoJSON properties (`to_feature` / `from_feature`), so the column names are
//! the property names and the model stays the one place that knows its fields.
//!
//! What is deliberately not here: GDAL's R-tree spatial index. Its triggers call `ST_IsEmpty`,
//! `ST_MinX`... which plain SQLite lacks, and an index without triggers goes stale the moment
//! QGIS edits the file. gridmap answers spatial queries from its in-memory index anyway.
//!
//! The journal is SQLite's classic rollback journal, not WAL, so the file is always one
//! self-contained file that can be copied or opened read-only by GDAL while the server runs.
//! All SQL of this store is in this file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::wkb::{self, SRID_WGS84};
use super::{Committed, GridEdit, GridVersion, Store, StoreError};
use crate::model::geojson::Feature;
use crate::model::{Code, Dataset, DistrictInfo, LayerKind, Region, Staff};

/// `PRAGMA application_id` of a GeoPackage: the ASCII bytes "GPKG".
const GPKG_APPLICATION_ID: i64 = 0x4750_4B47;
/// `PRAGMA user_version` of GeoPackage 1.3.0.
const GPKG_USER_VERSION: i64 = 10300;

/// The GeoPackage core tables and the three spatial reference systems the standard requires
/// (GeoPackage 1.3 §1.1.2-1.1.3, Annex C). `IF NOT EXISTS` / `OR IGNORE` make it idempotent, so it
/// runs on every open and also completes a GeoPackage made by another tool.
const CORE_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
    srs_name TEXT NOT NULL,
    srs_id INTEGER NOT NULL PRIMARY KEY,
    organization TEXT NOT NULL,
    organization_coordsys_id INTEGER NOT NULL,
    definition TEXT NOT NULL,
    description TEXT
);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
    ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined',
     'undefined cartesian coordinate reference system'),
    ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined',
     'undefined geographic coordinate reference system'),
    ('WGS 84 geodetic', 4326, 'EPSG', 4326,
     'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
     'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE IF NOT EXISTS gpkg_contents (
    table_name TEXT NOT NULL PRIMARY KEY,
    data_type TEXT NOT NULL,
    identifier TEXT UNIQUE,
    description TEXT DEFAULT '',
    last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
    srs_id INTEGER,
    CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
    table_name TEXT NOT NULL,
    column_name TEXT NOT NULL,
    geometry_type_name TEXT NOT NULL,
    srs_id INTEGER NOT NULL,
    z TINYINT NOT NULL,
    m TINYINT NOT NULL,
    CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
    CONSTRAINT uk_gc_table_name UNIQUE (table_name),
    CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
    CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id)
);
"#;

/// How a property is stored. The names are GeoPackage column types (§1.1.4.1.1), which GDAL maps
/// to its field types (BOOLEAN to an integer with the boolean subtype, DATETIME to a date-time).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Text,
    Integer,
    Boolean,
    /// ISO 8601 UTC text, `YYYY-MM-DDTHH:MM:SS.SSSZ` as GeoPackage prescribes.
    DateTime,
    /// A list (gate `passes`, staff `grids`) as JSON text: GeoPackage has no array type.
    Json,
}

impl Ty {
    fn sql(self) -> &'static str {
        match self {
            Ty::Text | Ty::Json => "TEXT",
            Ty::Integer => "INTEGER",
            Ty::Boolean => "BOOLEAN",
            Ty::DateTime => "DATETIME",
        }
    }
}

/// One attribute column: a GeoJSON property name, its type, and whether it may be NULL.
struct Col(&'static str, Ty, bool);

const REQ: bool = false;
const OPT: bool = true;

/// One table of the file.
struct Table {
    name: &'static str,
    /// The geometry type of a feature table; `None` for an attributes table.
    geometry: Option<&'static str>,
    columns: &'static [Col],
    /// The key that must be unique, made a named constraint so that a duplicate fails the write.
    unique: &'static str,
    /// A region table holding every version of each region; `load` reads the current ones.
    versioned: bool,
    description: &'static str,
}

/// Subdistricts, communities and grids share their columns. `level` and `parent` follow from
/// the code and are stored for GIS users; history lives in `valid_from`/`valid_to`/`version`,
/// so several versions of one code may be stored and `(code, version)` is the key.
const REGION_COLUMNS: &[Col] = &[
    Col("code", Ty::Text, REQ),
    Col("level", Ty::Text, OPT),
    Col("parent", Ty::Text, OPT),
    Col("name", Ty::Text, REQ),
    Col("households", Ty::Integer, REQ),
    Col("population", Ty::Integer, REQ),
    Col("valid_from", Ty::DateTime, REQ),
    Col("valid_to", Ty::DateTime, OPT),
    Col("version", Ty::Integer, REQ),
];

const fn region_table(name: &'static str, description: &'static str) -> Table {
    Table {
        name,
        geometry: Some("MULTIPOLYGON"),
        columns: REGION_COLUMNS,
        unique: "code, version",
        versioned: true,
        description,
    }
}

const SUBDISTRICTS: Table = region_table("subdistricts", "街道/乡镇 subdistricts");
const COMMUNITIES: Table = region_table("communities", "社区/村 communities");
const GRIDS: Table = region_table("grids", "基础网格 basic grids");
const COMPOUNDS: Table = Table {
    name: "compounds",
    geometry: Some("POLYGON"),
    columns: &[
        Col("id", Ty::Integer, REQ),
        Col("community", Ty::Text, REQ),
        Col("name", Ty::Text, REQ),
        Col("gated", Ty::Boolean, REQ),
    ],
    unique: "id",
    versioned: false,
    description: "小区/院落 compounds",
};
const ACCESS_POINTS: Table = Table {
    name: "access_points",
    geometry: Some("POINT"),
    columns: &[
        Col("id", Ty::Integer, REQ),
        Col("compound_id", Ty::Integer, REQ),
        Col("name", Ty::Text, REQ),
        Col("kind", Ty::Text, REQ),
        Col("passes", Ty::Json, REQ),
        Col("hours", Ty::Text, REQ),
        Col("has_device", Ty::Boolean, REQ),
    ],
    unique: "id",
    versioned: false,
    description: "门禁 gates",
};
const BUILDINGS: Table = Table {
    name: "buildings",
    geometry: Some("POLYGON"),
    columns: &[
        Col("id", Ty::Integer, REQ),
        Col("compound_id", Ty::Integer, OPT),
        Col("road", Ty::Text, REQ),
        Col("door_number", Ty::Integer, REQ),
        Col("compound", Ty::Text, OPT),
        Col("building_number", Ty::Integer, OPT),
        Col("address_text", Ty::Text, REQ),
        Col("floors", Ty::Integer, REQ),
        Col("units", Ty::Integer, REQ),
        Col("households", Ty::Integer, REQ),
        Col("population", Ty::Integer, REQ),
    ],
    unique: "id",
    versioned: false,
    description: "建筑 buildings",
};
const ENTRANCES: Table = Table {
    name: "entrances",
    geometry: Some("POINT"),
    columns: &[Col("id", Ty::Integer, REQ), Col("building_id", Ty::Integer, REQ), Col("unit", Ty::Integer, REQ)],
    unique: "id",
    versioned: false,
    description: "单元门 building entrances",
};
const RESPONDERS: Table = Table {
    name: "responders",
    geometry: Some("POINT"),
    columns: &[
        Col("id", Ty::Integer, REQ),
        Col("kind", Ty::Text, REQ),
        Col("name", Ty::Text, REQ),
        Col("mode", Ty::Text, REQ),
        Col("headcount", Ty::Integer, REQ),
        Col("duty", Ty::Text, REQ),
    ],
    unique: "id",
    versioned: false,
    description: "应急力量 responders",
};
/// Personal data (`name`, `phone`): the file must be protected like the database would be.
const STAFF: Table = Table {
    name: "staff",
    geometry: None,
    columns: &[
        Col("id", Ty::Integer, REQ),
        Col("name", Ty::Text, REQ),
        Col("role", Ty::Text, REQ),
        Col("force", Ty::Text, REQ),
        Col("phone", Ty::Text, REQ),
        Col("grids", Ty::Json, REQ),
    ],
    unique: "id",
    versioned: false,
    description: "网格员 grid staff (personal data)",
};
/// The district the file covers: exactly one row once data is written.
const DISTRICT: Table = Table {
    name: "gridmap_district",
    geometry: None,
    columns: &[
        Col("code", Ty::Text, REQ),
        Col("name", Ty::Text, REQ),
        Col("prefix", Ty::Text, REQ),
        Col("grid_width", Ty::Integer, REQ),
    ],
    unique: "code",
    versioned: false,
    description: "gridmap: the district this file covers",
};

fn table(kind: LayerKind) -> &'static Table {
    match kind {
        LayerKind::Subdistricts => &SUBDISTRICTS,
        LayerKind::Communities => &COMMUNITIES,
        LayerKind::Grids => &GRIDS,
        LayerKind::Compounds => &COMPOUNDS,
        LayerKind::AccessPoints => &ACCESS_POINTS,
        LayerKind::Buildings => &BUILDINGS,
        LayerKind::Entrances => &ENTRANCES,
        LayerKind::Responders => &RESPONDERS,
    }
}

fn all_tables() -> impl Iterator<Item = &'static Table> {
    LayerKind::ALL.into_iter().map(table).chain([&STAFF, &DISTRICT])
}

impl Table {
    /// `CREATE TABLE` (and index) for the table. The geometry column's declared type is the geometry type
    /// name, as GeoPackage requires (§2.1.6.1.2).
    fn create_sql(&self) -> String {
        let mut cols = vec!["fid INTEGER PRIMARY KEY".to_string()];
        if let Some(g) = self.geometry {
            cols.push(format!("geom {g}"));
        }
        for Col(name, ty, nullable) in self.columns {
            cols.push(format!("\"{name}\" {}{}", ty.sql(), if *nullable { "" } else { " NOT NULL" }));
        }
        cols.push(format!("CONSTRAINT \"{}_unique\" UNIQUE ({})", self.name, self.unique));
        let mut sql = format!("CREATE TABLE IF NOT EXISTS \"{}\" (\n    {}\n);", self.name, cols.join(",\n    "));
        if self.versioned {
            // At most one current version per code (the PostGIS schema has the same rule).
            sql.push_str(&format!(
                "\nCREATE UNIQUE INDEX IF NOT EXISTS \"{0}_one_current\" ON \"{0}\" (code) WHERE valid_to IS NULL;",
                self.name
            ));
        }
        sql
    }

    /// Every column in storage order, as read and written: `fid`, `geom` (feature tables), then
    /// the attributes.
    fn column_names(&self) -> Vec<&'static str> {
        let mut names = vec!["fid"];
        names.extend(self.geometry.map(|_| "geom"));
        names.extend(self.columns.iter().map(|c| c.0));
        names
    }

    fn insert_sql(&self) -> String {
        let names = self.column_names();
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let marks = vec!["?"; names.len()].join(", ");
        format!("INSERT INTO \"{}\" ({}) VALUES ({marks})", self.name, quoted.join(", "))
    }

    fn select_sql(&self) -> String {
        let quoted: Vec<String> = self.column_names().iter().map(|n| format!("\"{n}\"")).collect();
        // Region tables also hold closed versions (history); a load wants the current map.
        let filter = if self.versioned { " WHERE valid_to IS NULL" } else { "" };
        format!("SELECT {} FROM \"{}\"{filter} ORDER BY fid", quoted.join(", "), self.name)
    }
}

/// The embedded GeoPackage store. Cheap to share behind an `Arc`; one SQLite connection
/// serialises every read and write of this process (edits are rare, reads go to the index).
#[derive(Debug, Clone)]
pub struct GpkgStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl GpkgStore {
    /// Opens the GeoPackage at `path`, creating the file (and its directory) with the gridmap
    /// schema if missing. An existing GeoPackage gets any missing gridmap tables; a file that is
    /// not SQLite, or an SQLite file that is not a GeoPackage, is refused with a clear message.
    pub async fn open(path: &Path) -> Result<GpkgStore, StoreError> {
        let file_err = |message: String| StoreError::File { path: path.display().to_string(), message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| file_err(format!("cannot create the directory {}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // A single self-contained file (see the module docs); QGIS or ogrinfo holding the file
            // briefly makes us wait rather than fail.
            .journal_mode(SqliteJournalMode::Delete)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| file_err(format!("cannot open as SQLite: {e}")))?;
        let store = GpkgStore { pool, path: path.to_path_buf() };
        store.ensure_schema().await?;
        store.ensure_edit_columns().await?;
        Ok(store)
    }

    /// Opens `path`; on first start (no file, or a file without data) fills it from `seed`,
    /// in one transaction. A file that already holds a dataset is used as is and `seed` is not
    /// called, so edits made since survive restarts.
    pub async fn open_or_seed(
        path: &Path,
        seed: impl FnOnce() -> Result<Dataset, StoreError>,
    ) -> Result<GpkgStore, StoreError> {
        let store = GpkgStore::open(path).await?;
        if !store.has_data().await? {
            let data = seed()?;
            store.replace_all(&data).await?;
            tracing::info!(path = %path.display(), "created the GeoPackage from the seed dataset");
        }
        Ok(store)
    }

    /// The file this store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a dataset has been written (the district row exists).
    pub async fn has_data(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM gridmap_district").fetch_one(&self.pool).await?;
        Ok(n > 0)
    }

    /// Closes the connection; later calls fail. Not needed for durability (every write is
    /// committed before it returns), only to release the file early.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn file_error(&self, message: String) -> StoreError {
        StoreError::File { path: self.path.display().to_string(), message }
    }

    /// Creates the GeoPackage core tables and gridmap's tables if missing, registers them, and
    /// checks that existing tables have the columns this version reads.
    async fn ensure_schema(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let app_id: i64 = sqlx::query_scalar("PRAGMA application_id")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.file_error(format!("not an SQLite file, so not a GeoPackage: {e}")))?;
        let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_master").fetch_one(&mut *tx).await?;
        if app_id != GPKG_APPLICATION_ID && (app_id != 0 || tables > 0) {
            return Err(self.file_error(format!(
                "an SQLite file but not a GeoPackage (application_id {app_id:#x}, {tables} schema objects); \
                 move it away or choose another path"
            )));
        }
        // PRAGMA values cannot be bound parameters; these are constants.
        sqlx::raw_sql(&format!(
            "PRAGMA application_id = {GPKG_APPLICATION_ID}; PRAGMA user_version = {GPKG_USER_VERSION};"
        ))
        .execute(&mut *tx)
        .await?;
        sqlx::raw_sql(CORE_SCHEMA).execute(&mut *tx).await?;
        for t in all_tables() {
            sqlx::raw_sql(&t.create_sql()).execute(&mut *tx).await?;
            // Register the table; the extent is filled in on every write.
            sqlx::query(
                "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(t.name)
            .bind(if t.geometry.is_some() { "features" } else { "attributes" })
            .bind(t.name)
            .bind(t.description)
            .bind(t.geometry.map(|_| SRID_WGS84))
            .execute(&mut *tx)
            .await?;
            if let Some(geometry_type) = t.geometry {
                // 2D only: z = 0 and m = 0 (prohibited).
                sqlx::query(
                    "INSERT OR IGNORE INTO gpkg_geometry_columns
                         (table_name, column_name, geometry_type_name, srs_id, z, m)
                     VALUES (?, 'geom', ?, ?, 0, 0)",
                )
                .bind(t.name)
                .bind(geometry_type)
                .bind(SRID_WGS84)
                .execute(&mut *tx)
                .await?;
            }
            check_columns(&mut tx, t).await.map_err(|m| self.file_error(m))?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Fails when an existing table lacks a column gridmap reads (a file from another version).
async fn check_columns(conn: &mut SqliteConnection, t: &Table) -> Result<(), String> {
    let rows = sqlx::query(&format!("PRAGMA table_info(\"{}\")", t.name))
        .fetch_all(conn)
        .await
        .map_err(|e| format!("cannot read the columns of {}: {e}", t.name))?;
    let have: BTreeSet<String> = rows.iter().filter_map(|r| r.try_get::<String, _>("name").ok()).collect();
    let missing: Vec<&str> = t.column_names().into_iter().filter(|c| !have.contains(*c)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "table {} lacks the columns {missing:?}; the file was written by another version of gridmap",
            t.name
        ))
    }
}

/// A datetime as GeoPackage wants it (`2026-01-01T00:00:00.000Z`). Sub-millisecond instants keep
/// their nanoseconds (still ISO 8601, which GDAL reads) so that `load` gives back what was written.
fn gpkg_datetime(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_nanos() % 1_000_000 == 0 {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    } else {
        t.to_rfc3339_opts(SecondsFormat::Nanos, true)
    }
}

/// A property value ready to bind: SQLite has only these two kinds among our columns.
enum Bound {
    Text(Option<String>),
    Int(Option<i64>),
}

fn to_column(col: &Col, v: Option<&Value>) -> Result<Bound, String> {
    let Col(name, ty, _) = col;
    let v = match v {
        None | Some(Value::Null) => {
            return Ok(if matches!(ty, Ty::Integer | Ty::Boolean) { Bound::Int(None) } else { Bound::Text(None) })
        }
        Some(v) => v,
    };
    let wrong = || format!("property {name} = {v} is not a valid {ty:?}");
    Ok(match ty {
        Ty::Text => Bound::Text(Some(v.as_str().ok_or_else(wrong)?.to_string())),
        Ty::Integer => Bound::Int(Some(v.as_i64().ok_or_else(wrong)?)),
        Ty::Boolean => Bound::Int(Some(i64::from(v.as_bool().ok_or_else(wrong)?))),
        Ty::DateTime => {
            let t: DateTime<Utc> = v.as_str().and_then(|s| s.parse().ok()).ok_or_else(wrong)?;
            Bound::Text(Some(gpkg_datetime(t)))
        }
        Ty::Json => Bound::Text(Some(v.to_string())),
    })
}

fn from_column(row: &SqliteRow, index: usize, col: &Col) -> Result<Value, String> {
    let Col(name, ty, _) = col;
    let bad = |e: sqlx::Error| format!("column {name}: {e}");
    Ok(match ty {
        Ty::Text | Ty::DateTime => {
            row.try_get::<Option<String>, _>(index).map_err(bad)?.map_or(Value::Null, Value::from)
        }
        Ty::Integer => row.try_get::<Option<i64>, _>(index).map_err(bad)?.map_or(Value::Null, Value::from),
        Ty::Boolean => row.try_get::<Option<i64>, _>(index).map_err(bad)?.map_or(Value::Null, |b| Value::Bool(b != 0)),
        Ty::Json => match row.try_get::<Option<String>, _>(index).map_err(bad)? {
            None => Value::Null,
            Some(s) => serde_json::from_str(&s).map_err(|e| format!("column {name} is not JSON: {e}"))?,
        },
    })
}

/// Serialises a value whose serde form is a JSON object (staff, district) to its properties.
fn properties<T: serde::Serialize>(t: &T) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(t) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(StoreError::Invalid(format!("expected an object, serialised to {other}"))),
        Err(e) => Err(StoreError::Invalid(e.to_string())),
    }
}

/// The label of a row in messages: its code or id.
fn label(props: &Map<String, Value>, fid: i64) -> String {
    match props.get("code").or_else(|| props.get("id")) {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => format!("fid {fid}"),
    }
}

/// Writes `rows` (geometry + GeoJSON properties) into `t`, which the caller has emptied, and
/// records the layer's extent in `gpkg_contents`.
async fn write_table(conn: &mut SqliteConnection, t: &Table, rows: &[Feature]) -> Result<(), StoreError> {
    // A property without a column would be silently lost: that is a schema bug, say so.
    let known: BTreeSet<&str> = t.columns.iter().map(|c| c.0).collect();
    let sql = t.insert_sql();
    let mut extent: Option<[f64; 4]> = None;
    for (i, row) in rows.iter().enumerate() {
        let fid = i as i64 + 1;
        let invalid = |m: String| StoreError::Invalid(format!("{} {}: {m}", t.name, label(&row.properties, fid)));
        if let Some(extra) = row.properties.keys().find(|k| !known.contains(k.as_str())) {
            return Err(invalid(format!("property {extra} has no column in the GeoPackage schema (store/gpkg.rs)")));
        }
        let mut q = sqlx::query(&sql).bind(fid);
        if t.geometry.is_some() {
            let blob = row.geometry.as_ref().map(|g| {
                if let Some([x0, x1, y0, y1]) = wkb::envelope(g) {
                    extent = Some(match extent {
                        None => [x0, x1, y0, y1],
                        Some([a, b, c, d]) => [a.min(x0), b.max(x1), c.min(y0), d.max(y1)],
                    });
                }
                wkb::to_gpkg_blob(g, SRID_WGS84)
            });
            q = q.bind(blob);
        }
        for col in t.columns {
            q = match to_column(col, row.properties.get(col.0)).map_err(invalid)? {
                Bound::Text(v) => q.bind(v),
                Bound::Int(v) => q.bind(v),
            };
        }
        q.execute(&mut *conn).await.map_err(|e| match e.as_database_error() {
            // Constraint violations are bad data (duplicate ids, missing values), not a broken database.
            Some(d) if d.kind() != sqlx::error::ErrorKind::Other => invalid(d.message().to_string()),
            _ => StoreError::Database(e),
        })?;
    }
    if t.geometry.is_some() {
        let [min_x, max_x, min_y, max_y] = extent.map_or([None; 4], |e| e.map(Some));
        sqlx::query(
            "UPDATE gpkg_contents
             SET min_x = ?, min_y = ?, max_x = ?, max_y = ?,
                 last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE table_name = ?",
        )
        .bind(min_x)
        .bind(min_y)
        .bind(max_x)
        .bind(max_y)
        .bind(t.name)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Reads every row of `t` in `fid` order as (geometry, properties) features.
async fn read_table(conn: &mut SqliteConnection, t: &Table) -> Result<Vec<Feature>, StoreError> {
    let rows = sqlx::query(&t.select_sql()).fetch_all(conn).await?;
    let first_attr = if t.geometry.is_some() { 2 } else { 1 };
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let fid: i64 = row.try_get(0)?;
        let corrupt = |message: String| StoreError::Corrupt { layer: t.name.into(), id: format!("fid {fid}"), message };
        let geometry = match t.geometry {
            None => None,
            Some(_) => match row.try_get::<Option<Vec<u8>>, _>(1)? {
                None => None,
                Some(blob) => Some(wkb::from_gpkg_blob(&blob).map_err(|e| corrupt(e.to_string()))?.geometry),
            },
        };
        let mut properties = Map::new();
        for (i, col) in t.columns.iter().enumerate() {
            properties.insert(col.0.to_string(), from_column(row, first_attr + i, col).map_err(corrupt)?);
        }
        let id = properties.get("code").or_else(|| properties.get("id")).cloned();
        out.push(Feature { id, geometry, properties });
    }
    Ok(out)
}

#[async_trait]
impl Store for GpkgStore {
    fn kind(&self) -> &'static str {
        "gpkg"
    }

    async fn load(&self) -> Result<Dataset, StoreError> {
        // One read transaction: a consistent snapshot even if another program writes the file.
        let mut tx = self.pool.begin().await?;
        let district_rows = read_table(&mut tx, &DISTRICT).await?;
        let district: DistrictInfo = match district_rows.as_slice() {
            [row] => serde_json::from_value(Value::Object(row.properties.clone())).map_err(|e| {
                StoreError::Corrupt { layer: DISTRICT.name.into(), id: "fid 1".into(), message: e.to_string() }
            })?,
            [] => {
                return Err(StoreError::Empty(format!(
                    "the GeoPackage {} holds no dataset yet: import one, or start the server to seed it",
                    self.path.display()
                )))
            }
            more => {
                return Err(self.file_error(format!(
                    "{} holds {} districts; one is expected",
                    DISTRICT.name,
                    more.len()
                )))
            }
        };
        let mut data = Dataset::empty(district);
        for kind in LayerKind::ALL {
            let features = read_table(&mut tx, table(kind)).await?;
            data.set_features(kind, &features).map_err(|errors| {
                let (id, message) = errors.first().cloned().unwrap_or_default();
                let more = if errors.len() > 1 { format!(" (and {} more)", errors.len() - 1) } else { String::new() };
                StoreError::Corrupt { layer: kind.name().into(), id, message: format!("{message}{more}") }
            })?;
        }
        for row in read_table(&mut tx, &STAFF).await? {
            let id = row.id.as_ref().map_or_else(String::new, Value::to_string);
            let staff: Staff = serde_json::from_value(Value::Object(row.properties))
                .map_err(|e| StoreError::Corrupt { layer: STAFF.name.into(), id, message: e.to_string() })?;
            data.staff.push(staff);
        }
        tx.commit().await?;
        Ok(data)
    }

    async fn replace_all(&self, data: &Dataset) -> Result<(), StoreError> {
        let district = Feature { id: None, geometry: None, properties: properties(&data.district)? };
        let staff = data
            .staff
            .iter()
            .map(|s| Ok(Feature { id: None, geometry: None, properties: properties(s)? }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // IMMEDIATE takes the write lock up front, so a concurrent writer (QGIS) is waited for at
        // the start rather than found at commit. Dropping `tx` on an error rolls everything back.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for t in all_tables() {
            sqlx::query(&format!("DELETE FROM \"{}\"", t.name)).execute(&mut *tx).await?;
        }
        write_table(&mut tx, &DISTRICT, std::slice::from_ref(&district)).await?;
        for kind in LayerKind::ALL {
            write_table(&mut tx, table(kind), &data.features(kind)).await?;
        }
        write_table(&mut tx, &STAFF, &staff).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn commit_grid_edit(&self, edit: &GridEdit) -> Result<Committed, StoreError> {
        self.commit_edit(edit).await
    }

    async fn grid_history(&self, code: &Code) -> Result<Vec<GridVersion>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_grid_versions(&mut conn, "code = ?", Some(code.as_str())).await
    }

    async fn ended_grid_versions(&self) -> Result<Vec<Region>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let versions = read_grid_versions(&mut conn, "valid_to IS NOT NULL", None).await?;
        Ok(versions.into_iter().map(|v| v.region).collect())
    }

    async fn grid_codes_ever(&self) -> Result<BTreeSet<Code>, StoreError> {
        let codes: Vec<String> = sqlx::query_scalar("SELECT DISTINCT code FROM grids").fetch_all(&self.pool).await?;
        codes.iter().map(|c| Code::parse(c).map_err(|e| edit_corrupt(c, e.to_string()))).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Grid edits and history (the edit API's part of this store)
//
// Who changed a version and why are two extra columns of the `grids` table, `changed_by` and
// `reason` (NULL for imported versions), added to files made before edits existed. They are not
// GeoJSON properties of a region, so `replace_all`/`load` neither write nor read them. The file
// has no separate code registry: a code is registered when any version of it is stored (every
// version is kept), and retired when none of its versions is current.
// ---------------------------------------------------------------------------------------------

/// The columns an edit adds to `grids`.
const EDIT_COLUMNS: [&str; 2] = ["changed_by", "reason"];

fn edit_corrupt(key: &str, message: String) -> StoreError {
    StoreError::Corrupt { layer: GRIDS.name.into(), id: key.into(), message }
}

impl GpkgStore {
    /// Adds [`EDIT_COLUMNS`] to `grids` when the file predates them.
    async fn ensure_edit_columns(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query("PRAGMA table_info(\"grids\")").fetch_all(&mut *conn).await?;
        let have: BTreeSet<String> = rows.iter().filter_map(|r| r.try_get::<String, _>("name").ok()).collect();
        for column in EDIT_COLUMNS.iter().filter(|c| !have.contains(**c)) {
            sqlx::query(&format!("ALTER TABLE \"grids\" ADD COLUMN \"{column}\" TEXT")).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// [`Store::commit_grid_edit`]: one `BEGIN IMMEDIATE` transaction (SQLite's write lock, taken
    /// before the version check so no other writer can slip in between); dropping it on any
    /// error rolls everything back.
    async fn commit_edit(&self, e: &GridEdit) -> Result<Committed, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut current = std::collections::HashMap::new();
        let mut registered = BTreeSet::new();
        for code in super::touched_codes(e) {
            let rows = sqlx::query("SELECT version, valid_to IS NULL AS current, valid_from FROM grids WHERE code = ?")
                .bind(code.as_str())
                .fetch_all(&mut *tx)
                .await?;
            if !rows.is_empty() {
                registered.insert(code.clone());
            }
            for row in rows.iter().filter(|r| r.try_get::<bool, _>("current").unwrap_or(false)) {
                let version: i64 = row.try_get("version")?;
                let from: String = row.try_get("valid_from")?;
                let valid_from = from.parse().map_err(|e| edit_corrupt(code.as_str(), format!("valid_from: {e}")))?;
                let version = u32::try_from(version).map_err(|_| edit_corrupt(code.as_str(), "version".into()))?;
                current.insert(code.clone(), super::CurrentVersion { version, valid_from });
            }
        }
        let at = super::check_grid_edit(e, &current, &registered)?;
        let at_text = gpkg_datetime(at);
        for (code, _) in &e.retire {
            sqlx::query("UPDATE grids SET valid_to = ? WHERE code = ? AND valid_to IS NULL")
                .bind(&at_text)
                .bind(code.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let next_fid: i64 =
            sqlx::query_scalar("SELECT coalesce(max(fid), 0) + 1 FROM grids").fetch_one(&mut *tx).await?;
        let mut names = GRIDS.column_names();
        names.extend(EDIT_COLUMNS);
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let sql = format!("INSERT INTO grids ({}) VALUES ({})", quoted.join(", "), vec!["?"; names.len()].join(", "));
        let mut extent: Option<[f64; 4]> = None;
        for (i, r) in e.write.iter().enumerate() {
            let mut version = r.clone();
            version.valid_from = at;
            let feature = version.to_feature();
            let invalid = |m: String| StoreError::Invalid(format!("grids {}: {m}", r.code));
            let geometry = feature.geometry.as_ref().ok_or_else(|| invalid("no geometry".into()))?;
            if let Some([x0, x1, y0, y1]) = wkb::envelope(geometry) {
                extent =
                    Some(extent.map_or([x0, x1, y0, y1], |[a, b, c, d]| [a.min(x0), b.max(x1), c.min(y0), d.max(y1)]));
            }
            let mut q = sqlx::query(&sql).bind(next_fid + i as i64).bind(wkb::to_gpkg_blob(geometry, SRID_WGS84));
            for col in GRIDS.columns {
                q = match to_column(col, feature.properties.get(col.0)).map_err(invalid)? {
                    Bound::Text(v) => q.bind(v),
                    Bound::Int(v) => q.bind(v),
                };
            }
            q.bind(&e.changed_by).bind(&e.reason).execute(&mut *tx).await.map_err(|err| {
                match err.as_database_error() {
                    Some(d) if d.kind() != sqlx::error::ErrorKind::Other => invalid(d.message().to_string()),
                    _ => StoreError::Database(err),
                }
            })?;
        }
        if let Some([x0, x1, y0, y1]) = extent {
            sqlx::query(
                "UPDATE gpkg_contents
                 SET min_x = min(coalesce(min_x, ?1), ?1), max_x = max(coalesce(max_x, ?2), ?2),
                     min_y = min(coalesce(min_y, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4),
                     last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE table_name = 'grids'",
            )
            .bind(x0)
            .bind(x1)
            .bind(y0)
            .bind(y1)
            .execute(&mut *tx)
            .await?;
        }
        for person in &e.staff {
            let props = properties(person)?;
            let sets: Vec<String> = STAFF.columns.iter().skip(1).map(|c| format!("\"{}\" = ?", c.0)).collect();
            let sql = format!("UPDATE staff SET {} WHERE id = ?", sets.join(", "));
            let mut q = sqlx::query(&sql);
            for col in STAFF.columns.iter().skip(1) {
                let invalid = |m: String| StoreError::Invalid(format!("staff {}: {m}", person.id));
                q = match to_column(col, props.get(col.0)).map_err(invalid)? {
                    Bound::Text(v) => q.bind(v),
                    Bound::Int(v) => q.bind(v),
                };
            }
            let done = q.bind(i64::from(person.id)).execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Invalid(format!("staff {} does not exist", person.id)));
            }
        }
        tx.commit().await?;
        Ok(Committed { at, seq: None, previous: None })
    }
}

/// Grid versions matching `filter` (SQL over the `grids` columns, with at most one `?` bound
/// to `bind`), in code and version order, with who made them and why.
async fn read_grid_versions(
    conn: &mut SqliteConnection,
    filter: &str,
    bind: Option<&str>,
) -> Result<Vec<GridVersion>, StoreError> {
    let mut names = GRIDS.column_names();
    names.extend(EDIT_COLUMNS);
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let sql = format!("SELECT {} FROM grids WHERE {filter} ORDER BY code, version", quoted.join(", "));
    let mut q = sqlx::query(&sql);
    if let Some(b) = bind {
        q = q.bind(b);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let fid: i64 = row.try_get(0)?;
        let corrupt = |m: String| edit_corrupt(&format!("fid {fid}"), m);
        let blob: Vec<u8> = row.try_get(1)?;
        let geometry = wkb::from_gpkg_blob(&blob).map_err(|e| corrupt(e.to_string()))?.geometry;
        let mut properties = Map::new();
        for (i, col) in GRIDS.columns.iter().enumerate() {
            properties.insert(col.0.to_string(), from_column(row, 2 + i, col).map_err(corrupt)?);
        }
        let feature = Feature { id: None, geometry: Some(geometry), properties };
        let region = Region::from_feature(&feature).map_err(|e| corrupt(e.to_string()))?;
        let extra = 2 + GRIDS.columns.len();
        out.push(GridVersion { region, changed_by: row.try_get(extra)?, reason: row.try_get(extra + 1)? });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_unique_key_among_its_columns() {
        for t in all_tables() {
            for key in t.unique.split(", ") {
                assert!(t.columns.iter().any(|c| c.0 == key), "{}: unique key {key} is not a column", t.name);
            }
            let sql = t.create_sql();
            assert!(sql.starts_with(&format!("CREATE TABLE IF NOT EXISTS \"{}\"", t.name)), "{sql}");
        }
    }

    #[test]
    fn datetimes_use_the_geopackage_form_and_keep_their_precision() {
        let t: DateTime<Utc> = "2026-01-01T08:00:00Z".parse().unwrap();
        assert_eq!(gpkg_datetime(t), "2026-01-01T08:00:00.000Z");
        let fine: DateTime<Utc> = "2026-01-01T08:00:00.123456789Z".parse().unwrap();
        assert_eq!(gpkg_datetime(fine).parse::<DateTime<Utc>>().unwrap(), fine);
    }
}
