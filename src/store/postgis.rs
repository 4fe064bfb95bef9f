//! The PostGIS store: gridmap's production storage, PostgreSQL + PostGIS through sqlx.
//!
//! This file owns every SQL statement the service sends to PostGIS; the schema itself is in
//! `migrations/` (numbered, commented, run by [`PgStore::connect`]). It knows the [`Dataset`]
//! and nothing of indexes or HTTP.
//!
//! * Geometries travel as 2D WKB in EPSG:4326: written with `ST_GeomFromWKB($1, 4326)` and read
//!   with `ST_AsBinary(geom)`, so coordinates round-trip bit for bit.
//! * Timestamps are `timestamptz`, which has **microsecond** precision: a `DateTime<Utc>` with
//!   sub-microsecond digits is stored without them. Data gridmap makes is whole seconds, so a
//!   round trip is exact; writers of new versions should truncate `Utc::now()` to microseconds.
//! * Region layers keep every version (see `migrations/0002_regions.sql`); [`Store::load`]
//!   returns only the current ones (`valid_to IS NULL`). [`Store::replace_all`] is an import:
//!   it replaces everything, history and code registries included, with exactly `data`.
//! * Rows come back in the order they were written (an `ord` column), so `load` after
//!   `replace_all(d)` gives a dataset `== d` when `d` holds only current versions.
//! * Writes are batched: one `INSERT ... SELECT FROM UNNEST($1::type[], ...)` per layer and
//!   [`CHUNK`] rows, one parameter per column (never the 65,535-parameter limit).
//! * Constraints are named `<table>_<rule>`; a violation becomes [`StoreError::Invalid`]
//!   naming the constraint, with a sentence saying what it means and the failing row's key.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use geo::{Geometry, MultiPolygon, Point, Polygon};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgPool, PgPoolOptions, PgRow};
use sqlx::{Decode, Postgres, Row, Transaction, Type};

use super::wkb::{from_wkb, to_wkb};
use super::{Store, StoreError};
use crate::model::{
    AccessPoint, Building, Code, Compound, Dataset, DistrictInfo, Entrance, Region, Responder, Schedule, Staff,
    StandardAddress,
};

/// Rows per batched INSERT: 100,000 grids take 20 round trips, and one statement's
/// parameters stay a few MB.
const CHUNK: usize = 5_000;

/// Key of the transaction-level advisory lock every write takes, so that two writers (two
/// `replace_all`s, or later an import and an edit) run one after the other instead of
/// interleaving their deletes and inserts. Any fixed number works; this one spells "gridmap".
const WRITE_LOCK: i64 = 0x0067_7269_646d_6170;

type Tx<'c> = Transaction<'c, Postgres>;

/// Runs `sql` in transaction `tx` (a `&mut Tx`) with `params` bound to `$1`, `$2`, ... in
/// order; errors are mapped by [`db_error`].
macro_rules! execute {
    ($tx:expr, $sql:expr $(, $param:expr)* $(,)?) => {
        sqlx::query($sql)$(.bind($param))*.execute(&mut **$tx).await.map_err(db_error)
    };
}

/// The production store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), checks that PostGIS
    /// can be used there, and runs the migrations in `migrations/`.
    ///
    /// Fails with [`StoreError::Unavailable`] when the server cannot be reached within a few
    /// seconds, and with [`StoreError::NoPostgis`] (saying what to install or run) when PostGIS
    /// is neither enabled in the database nor installable by this role.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("{} is not a PostgreSQL URL: {e}", redact(url))))?
            .application_name("gridmap");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to {}: {e}", redact(url))))?;
        check_postgis(&pool).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// The connection pool, for what is not part of [`Store`] (LISTEN/NOTIFY, tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

// ---------------------------------------------------------------------------------------------
// Start-up check
// ---------------------------------------------------------------------------------------------

/// Why PostGIS cannot be used; see [`no_postgis_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum PostgisProblem {
    /// The server has no PostGIS files: a package must be installed on the database host.
    NotInstalled { server_major: i32 },
    /// The files are there but the extension is not created in this database, and this role
    /// (not a superuser) may not create it.
    NotEnabled { database: String, role: String },
}

/// Checks, before any migration runs, that `CREATE EXTENSION postgis` in migration 0001 can
/// succeed, so that a missing package is reported as what to do, not as a failed migration.
async fn check_postgis(pool: &PgPool) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis') AS enabled,
                EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis') AS available,
                (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
                current_setting('server_version_num')::int / 10000 AS server_major,
                current_database()::text AS database,
                current_user::text AS role",
    )
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    let (enabled, available): (bool, bool) = (row.try_get("enabled")?, row.try_get("available")?);
    let superuser: Option<bool> = row.try_get("superuser")?;
    let problem = if enabled {
        return Ok(());
    } else if !available {
        PostgisProblem::NotInstalled { server_major: row.try_get("server_major")? }
    } else if superuser != Some(true) {
        PostgisProblem::NotEnabled { database: row.try_get("database")?, role: row.try_get("role")? }
    } else {
        return Ok(());
    };
    Err(StoreError::NoPostgis(no_postgis_message(&problem)))
}

/// The instructions given with [`StoreError::NoPostgis`].
fn no_postgis_message(problem: &PostgisProblem) -> String {
    match problem {
        PostgisProblem::NotInstalled { server_major: v } => format!(
            "the PostgreSQL {v} server has no PostGIS extension available. Install it on the \
             database host (Debian/Ubuntu: `apt-get install postgresql-{v}-postgis-3`, or run \
             scripts/setup-postgis), then restart gridmap, which runs `CREATE EXTENSION postgis` \
             itself when its role is a superuser (otherwise run it in the database as one)"
        ),
        PostgisProblem::NotEnabled { database, role } => format!(
            "PostGIS is installed on the server but not enabled in database {database:?}, and \
             role {role:?} may not enable it. As a superuser, run `CREATE EXTENSION postgis;` \
             in database {database:?}, then restart gridmap"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Maps a sqlx error: bad data (SQLSTATE classes 23, integrity, and 22, data exception) to
/// [`StoreError::Invalid`] with the constraint's meaning, lost connections to
/// [`StoreError::Unavailable`], anything else to [`StoreError::Database`].
fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // 08: connection exception; 57P: the server is shutting down or restarting.
            if code.starts_with("08") || code.starts_with("57P") {
                return StoreError::Unavailable(e.to_string());
            }
            if !(code.starts_with("23") || code.starts_with("22")) {
                return StoreError::Database(e);
            }
            let detail = db.try_downcast_ref::<PgDatabaseError>().and_then(|pg| pg.detail());
            let row = detail.and_then(failing_key).map(|k| format!(" (row {k})")).unwrap_or_default();
            match db.constraint() {
                Some(name) => StoreError::Invalid(format!("{name}: {}{row}", constraint_meaning(name))),
                // e.g. "Geometry type (Polygon) does not match column type (MultiPolygon)".
                None => StoreError::Invalid(format!("{}{row}", db.message())),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Database(e),
    }
}

/// Meanings of the constraints of the migrations, by the `_<rule>` end of their names.
/// The first matching suffix wins, so a suffix comes before any shorter ending of it
/// (`_geom_in_range` before `_range`).
const RULES: &[(&str, &str)] = &[
    ("_geom_valid", "the geometry is not valid (self-intersection, bad ring, ...)"),
    ("_geom_not_empty", "the geometry is empty"),
    ("_geom_in_range", "the geometry is outside lon -180..180, lat -90..90 (EPSG:4326)"),
    ("_code_format", "the code does not have the form of its level (src/model/code.rs)"),
    ("_in_district", "the code does not start with its district's code"),
    ("_in_subdistrict", "the code does not start with its subdistrict's code"),
    ("_in_community", "the code does not start with its community's code"),
    ("_width_matches_district", "the grid code's length does not match the district's grid_width"),
    ("_code_not_retired", "the code is retired, and a retired code is never used again"),
    ("_registered", "the code, with this parent, is not in the code registry"),
    ("_known", "it refers to something that does not exist, or has an unknown kind"),
    ("_one_current", "one region has two current versions (valid_to unset)"),
    ("_no_overlapping_versions", "two versions of one region are valid at the same time"),
    ("_valid_period", "valid_to is not after valid_from"),
    ("_version_positive", "versions start at 1"),
    ("_nonnegative", "a count is negative"),
    ("_range", "a number is out of range"),
    ("_hours_format", "the opening hours are not 24h, closed or HH:MM-HH:MM,..."),
    ("_duty_format", "the duty hours are not 24h, closed or HH:MM-HH:MM,..."),
    ("_pkey", "the same key appears twice"),
    ("_single_row", "the database describes one district only"),
];

fn constraint_meaning(name: &str) -> &'static str {
    RULES.iter().find(|(suffix, _)| name.ends_with(suffix)).map_or("constraint violated", |r| r.1)
}

/// The key of the row named in PostgreSQL's error detail: the first value of "Failing row
/// contains (...)" (every table puts its key first) or the "Key (...)=(...)" of a key error.
fn failing_key(detail: &str) -> Option<String> {
    if let Some(rest) = detail.strip_prefix("Failing row contains (") {
        return rest.split([',', ')']).next().map(str::to_string);
    }
    let text = &detail[detail.find("Key (")?..];
    let close = text.find(")=(")? + 3;
    Some(text[..close + text[close..].find(')')? + 1].to_string())
}

/// `url` with its password replaced, for error messages and logs.
fn redact(url: &str) -> String {
    let (Some(scheme), Some(at)) = (url.find("://"), url.rfind('@')) else { return url.to_string() };
    match url.get(scheme + 3..at).and_then(|user| user.find(':')) {
        Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
        None => url.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// From the model to SQL parameters
// ---------------------------------------------------------------------------------------------

/// One column of a batch: `f` applied to every item.
fn col<'a, T, U>(items: &'a [T], f: impl FnMut(&'a T) -> U) -> Vec<U> {
    items.iter().map(f).collect()
}

/// One column of a batch whose values may be refused.
fn try_col<'a, T, U>(items: &'a [T], f: impl FnMut(&'a T) -> Result<U, StoreError>) -> Result<Vec<U>, StoreError> {
    items.iter().map(f).collect()
}

/// A model count as a PostgreSQL `integer`; above `i32::MAX` is refused.
fn int(value: u32, what: &str, key: impl Display) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|_| StoreError::Invalid(format!("{key}: {what} {value} is above 2147483647")))
}

/// The `ord` values (positions in the layer) of chunk number `chunk` of `len` rows.
fn ords(chunk: usize, len: usize) -> Result<Vec<i32>, StoreError> {
    let ord = |i: usize| i32::try_from(chunk * CHUNK + i);
    (0..len).map(ord).collect::<Result<_, _>>().map_err(|_| StoreError::Invalid("too many rows".into()))
}

/// A model enum as its serde (snake_case) name: the text the CHECK constraints list.
fn enum_text<T: Serialize + std::fmt::Debug>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Invalid(format!("{value:?} has no text form"))),
    }
}

fn wkb_multi_polygon(g: &MultiPolygon<f64>) -> Vec<u8> {
    to_wkb(&Geometry::MultiPolygon(g.clone()))
}

fn wkb_polygon(g: &Polygon<f64>) -> Vec<u8> {
    to_wkb(&Geometry::Polygon(g.clone()))
}

fn wkb_point(g: &Point<f64>) -> Vec<u8> {
    to_wkb(&Geometry::Point(*g))
}

// ---------------------------------------------------------------------------------------------
// From SQL rows to the model
// ---------------------------------------------------------------------------------------------

/// A stored row being read back into the model; errors name its layer and key.
struct Reader<'r> {
    row: &'r PgRow,
    layer: &'static str,
    key: String,
}

impl<'r> Reader<'r> {
    /// Reads `row` of `layer`, whose key is in column `key` (a bigint id or a text code).
    fn new(row: &'r PgRow, layer: &'static str, key: &str) -> Self {
        let key = row
            .try_get::<i64, _>(key)
            .map(|id| id.to_string())
            .or_else(|_| row.try_get::<String, _>(key))
            .unwrap_or_else(|_| "?".into());
        Reader { row, layer, key }
    }

    fn corrupt(&self, message: String) -> StoreError {
        StoreError::Corrupt { layer: self.layer.into(), id: self.key.clone(), message }
    }

    fn get<T: Decode<'r, Postgres> + Type<Postgres>>(&self, column: &str) -> Result<T, StoreError> {
        self.row.try_get(column).map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    /// A bigint column (ids, door numbers) as a `u32`.
    fn id(&self, column: &str) -> Result<u32, StoreError> {
        let v: i64 = self.get(column)?;
        u32::try_from(v).map_err(|_| self.corrupt(format!("{column} {v} is not a u32")))
    }

    fn opt_id(&self, column: &str) -> Result<Option<u32>, StoreError> {
        let v: Option<i64> = self.get(column)?;
        v.map(|v| u32::try_from(v).map_err(|_| self.corrupt(format!("{column} {v} is not a u32")))).transpose()
    }

    /// An integer column (counts) as a `u32`.
    fn count(&self, column: &str) -> Result<u32, StoreError> {
        let v: i32 = self.get(column)?;
        u32::try_from(v).map_err(|_| self.corrupt(format!("{column} {v} is negative")))
    }

    fn code(&self, column: &str) -> Result<Code, StoreError> {
        Code::parse(self.get(column)?).map_err(|e| self.corrupt(e.to_string()))
    }

    fn schedule(&self, column: &str) -> Result<Schedule, StoreError> {
        Schedule::parse(self.get(column)?).map_err(|e| self.corrupt(e.to_string()))
    }

    /// A model enum from its serde name.
    fn enum_of<T: DeserializeOwned>(&self, text: &str) -> Result<T, StoreError> {
        serde_json::from_value(serde_json::Value::String(text.into()))
            .map_err(|e| self.corrupt(format!("unknown value {text:?}: {e}")))
    }

    /// The geometry in column `wkb` (`ST_AsBinary(geom) AS wkb`).
    fn geometry(&self) -> Result<Geometry<f64>, StoreError> {
        let bytes: Vec<u8> = self.get("wkb")?;
        from_wkb(&bytes).map_err(|e| self.corrupt(format!("geometry: {e}")))
    }

    fn multi_polygon(&self) -> Result<MultiPolygon<f64>, StoreError> {
        match self.geometry()? {
            Geometry::MultiPolygon(g) => Ok(g),
            _ => Err(self.corrupt("geometry is not a MultiPolygon".into())),
        }
    }

    fn polygon(&self) -> Result<Polygon<f64>, StoreError> {
        match self.geometry()? {
            Geometry::Polygon(g) => Ok(g),
            _ => Err(self.corrupt("geometry is not a Polygon".into())),
        }
    }

    fn point(&self) -> Result<Point<f64>, StoreError> {
        match self.geometry()? {
            Geometry::Point(g) => Ok(g),
            _ => Err(self.corrupt("geometry is not a Point".into())),
        }
    }
}

/// Runs a query and reads every row with `read`.
async fn fetch<T>(
    tx: &mut Tx<'_>,
    sql: &str,
    read: impl Fn(&PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let rows = sqlx::query(sql).fetch_all(&mut **tx).await.map_err(db_error)?;
    rows.iter().map(read).collect()
}

// ---------------------------------------------------------------------------------------------
// The three region layers
// ---------------------------------------------------------------------------------------------

/// One region layer: its table, its code registry, and the parent column both share.
struct RegionTable {
    table: &'static str,
    registry: &'static str,
    parent: &'static str,
}

const SUBDISTRICTS: RegionTable =
    RegionTable { table: "subdistricts", registry: "subdistrict_codes", parent: "district_code" };
const COMMUNITIES: RegionTable =
    RegionTable { table: "communities", registry: "community_codes", parent: "subdistrict_code" };
const GRIDS: RegionTable = RegionTable { table: "grids", registry: "grid_codes", parent: "community_code" };

/// Writes the code registry and every version of one region layer.
async fn insert_regions(tx: &mut Tx<'_>, t: &RegionTable, regions: &[Region]) -> Result<(), StoreError> {
    let parent_of = |r: &Region| r.parent().map(|p| p.to_string()).unwrap_or_default();
    // The registry: one row per code, retired at the end of its last version when none of
    // its versions is current. A BTreeMap writes it in code order.
    let mut codes: BTreeMap<&str, (String, Option<DateTime<Utc>>)> = BTreeMap::new();
    for r in regions {
        let entry = codes.entry(r.code.as_str()).or_insert((parent_of(r), r.valid_to));
        entry.1 = entry.1.zip(r.valid_to).map(|(a, b)| a.max(b));
    }
    let codes: Vec<_> = codes.into_iter().collect();
    let sql = format!(
        "INSERT INTO {registry} (code, {parent}, retired_at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[])",
        registry = t.registry,
        parent = t.parent
    );
    for chunk in codes.chunks(CHUNK) {
        execute!(tx, &sql, col(chunk, |c| c.0), col(chunk, |c| c.1 .0.as_str()), col(chunk, |c| c.1 .1))?;
    }
    let sql = format!(
        "INSERT INTO {table} (code, version, {parent}, name, households, population,
                              valid_from, valid_to, ord, geom)
         SELECT code, version, parent, name, households, population,
                valid_from, valid_to, ord, ST_GeomFromWKB(wkb, 4326)
         FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::int4[], $6::int4[],
                     $7::timestamptz[], $8::timestamptz[], $9::int4[], $10::bytea[])
              AS t (code, version, parent, name, households, population,
                    valid_from, valid_to, ord, wkb)",
        table = t.table,
        parent = t.parent
    );
    for (c, chunk) in regions.chunks(CHUNK).enumerate() {
        execute!(
            tx,
            &sql,
            col(chunk, |r| r.code.as_str()),
            try_col(chunk, |r| int(r.version, "version", &r.code))?,
            col(chunk, parent_of),
            col(chunk, |r| r.name.as_str()),
            try_col(chunk, |r| int(r.households, "households", &r.code))?,
            try_col(chunk, |r| int(r.population, "population", &r.code))?,
            col(chunk, |r| r.valid_from),
            col(chunk, |r| r.valid_to),
            ords(c, chunk.len())?,
            col(chunk, |r| wkb_multi_polygon(&r.geometry)),
        )?;
    }
    Ok(())
}

/// Reads the current version of every region of one layer, in stored order.
async fn load_regions(tx: &mut Tx<'_>, t: &RegionTable) -> Result<Vec<Region>, StoreError> {
    let sql = format!(
        "SELECT code, name, households, population, valid_from, valid_to, version,
                ST_AsBinary(geom) AS wkb
         FROM {table} WHERE valid_to IS NULL ORDER BY ord, code",
        table = t.table
    );
    fetch(tx, &sql, |row| {
        let r = Reader::new(row, t.table, "code");
        Ok(Region {
            code: r.code("code")?,
            name: r.get("name")?,
            households: r.count("households")?,
            population: r.count("population")?,
            valid_from: r.get("valid_from")?,
            valid_to: r.get("valid_to")?,
            version: r.count("version")?,
            geometry: r.multi_polygon()?,
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The feature layers and staff
// ---------------------------------------------------------------------------------------------

async fn insert_features(tx: &mut Tx<'_>, data: &Dataset) -> Result<(), StoreError> {
    for (c, chunk) in data.compounds.chunks(CHUNK).enumerate() {
        execute!(
            tx,
            "INSERT INTO compounds (id, community_code, name, gated, ord, geom)
             SELECT id, community_code, name, gated, ord, ST_GeomFromWKB(wkb, 4326)
             FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::bool[], $5::int4[], $6::bytea[])
                  AS t (id, community_code, name, gated, ord, wkb)",
            col(chunk, |x| i64::from(x.id)),
            col(chunk, |x| x.community.as_str()),
            col(chunk, |x| x.name.as_str()),
            col(chunk, |x| x.gated),
            ords(c, chunk.len())?,
            col(chunk, |x| wkb_polygon(&x.geometry)),
        )?;
    }
    for (c, chunk) in data.access_points.chunks(CHUNK).enumerate() {
        // Arrays of arrays cannot be unnested row by row, so each list of passers travels as
        // one comma-separated text and is split back in SQL (the names contain no commas).
        let passes = try_col(chunk, |x| Ok(try_col(&x.passes, enum_text)?.join(",")))?;
        execute!(
            tx,
            "INSERT INTO access_points (id, compound_id, name, kind, passes, hours, has_device,
                                        ord, geom)
             SELECT id, compound_id, name, kind, string_to_array(passes, ','), hours, has_device,
                    ord, ST_GeomFromWKB(wkb, 4326)
             FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::bool[], $8::int4[], $9::bytea[])
                  AS t (id, compound_id, name, kind, passes, hours, has_device, ord, wkb)",
            col(chunk, |x| i64::from(x.id)),
            col(chunk, |x| i64::from(x.compound_id)),
            col(chunk, |x| x.name.as_str()),
            try_col(chunk, |x| enum_text(&x.kind))?,
            passes,
            col(chunk, |x| x.hours.as_str()),
            col(chunk, |x| x.has_device),
            ords(c, chunk.len())?,
            col(chunk, |x| wkb_point(&x.location)),
        )?;
    }
    for (c, chunk) in data.buildings.chunks(CHUNK).enumerate() {
        let key = |x: &Building| format!("building {}", x.id);
        execute!(
            tx,
            "INSERT INTO buildings (id, compound_id, road, door_number, compound_name,
                                    building_number, address_text, floors, units, households,
                                    population, ord, geom)
             SELECT id, compound_id, road, door_number, compound_name,
                    building_number, address_text, floors, units, households,
                    population, ord, ST_GeomFromWKB(wkb, 4326)
             FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::text[],
                         $6::int8[], $7::text[], $8::int4[], $9::int4[], $10::int4[],
                         $11::int4[], $12::int4[], $13::bytea[])
                  AS t (id, compound_id, road, door_number, compound_name,
                        building_number, address_text, floors, units, households,
                        population, ord, wkb)",
            col(chunk, |x| i64::from(x.id)),
            col(chunk, |x| x.compound_id.map(i64::from)),
            col(chunk, |x| x.address.road.as_str()),
            col(chunk, |x| i64::from(x.address.door_number)),
            col(chunk, |x| x.address.compound.as_deref()),
            col(chunk, |x| x.address.building_number.map(i64::from)),
            col(chunk, |x| x.address_text.as_str()),
            try_col(chunk, |x| int(x.floors, "floors", key(x)))?,
            try_col(chunk, |x| int(x.units, "units", key(x)))?,
            try_col(chunk, |x| int(x.households, "households", key(x)))?,
            try_col(chunk, |x| int(x.population, "population", key(x)))?,
            ords(c, chunk.len())?,
            col(chunk, |x| wkb_polygon(&x.geometry)),
        )?;
    }
    for (c, chunk) in data.entrances.chunks(CHUNK).enumerate() {
        execute!(
            tx,
            "INSERT INTO entrances (id, building_id, unit, ord, geom)
             SELECT id, building_id, unit, ord, ST_GeomFromWKB(wkb, 4326)
             FROM UNNEST($1::int8[], $2::int8[], $3::int4[], $4::int4[], $5::bytea[])
                  AS t (id, building_id, unit, ord, wkb)",
            col(chunk, |x| i64::from(x.id)),
            col(chunk, |x| i64::from(x.building_id)),
            try_col(chunk, |x| int(x.unit, "unit", format!("entrance {}", x.id)))?,
            ords(c, chunk.len())?,
            col(chunk, |x| wkb_point(&x.location)),
        )?;
    }
    for (c, chunk) in data.responders.chunks(CHUNK).enumerate() {
        execute!(
            tx,
            "INSERT INTO responders (id, kind, name, mode, headcount, duty, ord, geom)
             SELECT id, kind, name, mode, headcount, duty, ord, ST_GeomFromWKB(wkb, 4326)
             FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::text[],
                         $7::int4[], $8::bytea[])
                  AS t (id, kind, name, mode, headcount, duty, ord, wkb)",
            col(chunk, |x| i64::from(x.id)),
            try_col(chunk, |x| enum_text(&x.kind))?,
            col(chunk, |x| x.name.as_str()),
            try_col(chunk, |x| enum_text(&x.mode))?,
            try_col(chunk, |x| int(x.headcount, "headcount", format!("responder {}", x.id)))?,
            col(chunk, |x| x.duty.as_str()),
            ords(c, chunk.len())?,
            col(chunk, |x| wkb_point(&x.location)),
        )?;
    }
    for (c, chunk) in data.staff.chunks(CHUNK).enumerate() {
        execute!(
            tx,
            "INSERT INTO staff (id, name, role, force, phone, ord)
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::int4[])",
            col(chunk, |x| i64::from(x.id)),
            col(chunk, |x| x.name.as_str()),
            try_col(chunk, |x| enum_text(&x.role))?,
            try_col(chunk, |x| enum_text(&x.force))?,
            col(chunk, |x| x.phone.as_str()),
            ords(c, chunk.len())?,
        )?;
    }
    // Each person's grid list, flattened to one row per (person, grid) with its position.
    let links: Vec<(i64, &str, i32)> = data
        .staff
        .iter()
        .flat_map(|s| s.grids.iter().zip(0..).map(move |(g, i)| (i64::from(s.id), g.as_str(), i)))
        .collect();
    for chunk in links.chunks(CHUNK) {
        execute!(
            tx,
            "INSERT INTO staff_grids (staff_id, grid_code, ord)
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int4[])",
            col(chunk, |l| l.0),
            col(chunk, |l| l.1),
            col(chunk, |l| l.2),
        )?;
    }
    Ok(())
}

async fn load_compounds(tx: &mut Tx<'_>) -> Result<Vec<Compound>, StoreError> {
    let sql = "SELECT id, community_code, name, gated, ST_AsBinary(geom) AS wkb
               FROM compounds ORDER BY ord, id";
    fetch(tx, sql, |row| {
        let r = Reader::new(row, "compounds", "id");
        Ok(Compound {
            id: r.id("id")?,
            community: r.code("community_code")?,
            name: r.get("name")?,
            gated: r.get("gated")?,
            geometry: r.polygon()?,
        })
    })
    .await
}

async fn load_access_points(tx: &mut Tx<'_>) -> Result<Vec<AccessPoint>, StoreError> {
    let sql = "SELECT id, compound_id, name, kind, passes, hours, has_device,
                      ST_AsBinary(geom) AS wkb
               FROM access_points ORDER BY ord, id";
    fetch(tx, sql, |row| {
        let r = Reader::new(row, "access_points", "id");
        let passes: Vec<String> = r.get("passes")?;
        Ok(AccessPoint {
            id: r.id("id")?,
            compound_id: r.id("compound_id")?,
            name: r.get("name")?,
            kind: r.enum_of(r.get("kind")?)?,
            passes: passes.iter().map(|p| r.enum_of(p)).collect::<Result<_, _>>()?,
            hours: r.schedule("hours")?,
            has_device: r.get("has_device")?,
            location: r.point()?,
        })
    })
    .await
}

async fn load_buildings(tx: &mut Tx<'_>) -> Result<Vec<Building>, StoreError> {
    let sql = "SELECT id, compound_id, road, door_number, compound_name, building_number,
                      address_text, floors, units, households, population,
                      ST_AsBinary(geom) AS wkb
               FROM buildings ORDER BY ord, id";
    fetch(tx, sql, |row| {
        let r = Reader::new(row, "buildings", "id");
        Ok(Building {
            id: r.id("id")?,
            compound_id: r.opt_id("compound_id")?,
            address: StandardAddress {
                road: r.get("road")?,
                door_number: r.id("door_number")?,
                compound: r.get("compound_name")?,
                building_number: r.opt_id("building_number")?,
            },
            address_text: r.get("address_text")?,
            floors: r.count("floors")?,
            units: r.count("units")?,
            households: r.count("households")?,
            population: r.count("population")?,
            geometry: r.polygon()?,
        })
    })
    .await
}

async fn load_entrances(tx: &mut Tx<'_>) -> Result<Vec<Entrance>, StoreError> {
    let sql = "SELECT id, building_id, unit, ST_AsBinary(geom) AS wkb
               FROM entrances ORDER BY ord, id";
    fetch(tx, sql, |row| {
        let r = Reader::new(row, "entrances", "id");
        Ok(Entrance {
            id: r.id("id")?,
            building_id: r.id("building_id")?,
            unit: r.count("unit")?,
            location: r.point()?,
        })
    })
    .await
}

async fn load_responders(tx: &mut Tx<'_>) -> Result<Vec<Responder>, StoreError> {
    let sql = "SELECT id, kind, name, mode, headcount, duty, ST_AsBinary(geom) AS wkb
               FROM responders ORDER BY ord, id";
    fetch(tx, sql, |row| {
        let r = Reader::new(row, "responders", "id");
        Ok(Responder {
            id: r.id("id")?,
            kind: r.enum_of(r.get("kind")?)?,
            name: r.get("name")?,
            mode: r.enum_of(r.get("mode")?)?,
            headcount: r.count("headcount")?,
            duty: r.schedule("duty")?,
            location: r.point()?,
        })
    })
    .await
}

async fn load_staff(tx: &mut Tx<'_>) -> Result<Vec<Staff>, StoreError> {
    // Each person's grid list is aggregated in its stored order; no grids gives '{}'.
    let sql = "SELECT s.id, s.name, s.role, s.force, s.phone,
                      COALESCE((SELECT array_agg(g.grid_code ORDER BY g.ord)
                                FROM staff_grids g WHERE g.staff_id = s.id), '{}') AS grids
               FROM staff s ORDER BY s.ord, s.id";
    fetch(tx, sql, |row| {
        let r = Reader::new(row, "staff", "id");
        let grids: Vec<String> = r.get("grids")?;
        Ok(Staff {
            id: r.id("id")?,
            name: r.get("name")?,
            role: r.enum_of(r.get("role")?)?,
            force: r.enum_of(r.get("force")?)?,
            phone: r.get("phone")?,
            grids: grids
                .iter()
                .map(|g| Code::parse(g).map_err(|e| r.corrupt(e.to_string())))
                .collect::<Result<_, _>>()?,
        })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// The Store
// ---------------------------------------------------------------------------------------------

/// Every table of the dataset (not the append-only change log), in the one order in which both
/// `load` and `replace_all` lock them, so that the two never deadlock.
const TABLES: &str = "district, subdistrict_codes, community_codes, grid_codes, \
                      subdistricts, communities, grids, compounds, access_points, buildings, \
                      entrances, responders, staff, staff_grids";

#[async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgis"
    }

    /// Reads the current version of every layer from one snapshot (REPEATABLE READ), so a
    /// concurrent `replace_all` is seen entirely or not at all.
    ///
    /// The tables are locked (ACCESS SHARE, which only TRUNCATE and DDL conflict with) before
    /// the first query, because the snapshot is taken at the first query: a `load` that meets a
    /// `replace_all` in progress waits for its commit and then sees the new data, never the
    /// empty tables that TRUNCATE leaves to older snapshots.
    async fn load(&self) -> Result<Dataset, StoreError> {
        let mut transaction = self.pool.begin().await.map_err(db_error)?;
        let tx = &mut transaction;
        execute!(tx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        execute!(tx, &format!("LOCK TABLE {TABLES} IN ACCESS SHARE MODE"))?;
        let district = fetch(tx, "SELECT code, name, prefix, grid_width FROM district", |row| {
            let r = Reader::new(row, "district", "code");
            let width: i16 = r.get("grid_width")?;
            Ok(DistrictInfo {
                code: r.code("code")?,
                name: r.get("name")?,
                prefix: r.get("prefix")?,
                grid_width: u8::try_from(width).map_err(|_| r.corrupt(format!("grid_width {width}")))?,
            })
        })
        .await?
        .pop()
        .ok_or_else(|| {
            // Not Corrupt: nothing was ever written, and the caller may seed or import.
            StoreError::Invalid("the database holds no dataset yet (no district row); import or seed one".into())
        })?;
        let data = Dataset {
            district,
            subdistricts: load_regions(tx, &SUBDISTRICTS).await?,
            communities: load_regions(tx, &COMMUNITIES).await?,
            grids: load_regions(tx, &GRIDS).await?,
            compounds: load_compounds(tx).await?,
            access_points: load_access_points(tx).await?,
            buildings: load_buildings(tx).await?,
            entrances: load_entrances(tx).await?,
            responders: load_responders(tx).await?,
            staff: load_staff(tx).await?,
        };
        transaction.commit().await.map_err(db_error)?;
        Ok(data)
    }

    /// Deletes everything and writes `data`, in one transaction, then appends a `replace_all`
    /// entry to the change log (which notifies listeners on commit).
    ///
    /// The tables are emptied with TRUNCATE: DELETE of 100,000 grids and their key checks took
    /// longer than writing them. TRUNCATE is not MVCC-safe (an older snapshot would see empty
    /// tables), which `load` guards against by locking the tables before its snapshot.
    async fn replace_all(&self, data: &Dataset) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let t = &mut tx;
        execute!(t, "SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)?;
        execute!(t, &format!("TRUNCATE {TABLES}"))?;
        let d = &data.district;
        execute!(
            t,
            "INSERT INTO district (code, name, prefix, grid_width) VALUES ($1, $2, $3, $4)",
            d.code.as_str(),
            &d.name,
            &d.prefix,
            i16::from(d.grid_width),
        )?;
        insert_regions(t, &SUBDISTRICTS, &data.subdistricts).await?;
        insert_regions(t, &COMMUNITIES, &data.communities).await?;
        insert_regions(t, &GRIDS, &data.grids).await?;
        insert_features(t, data).await?;
        let detail = serde_json::json!({
            "district": d.code.as_str(),
            "subdistricts": data.subdistricts.len(),
            "communities": data.communities.len(),
            "grids": data.grids.len(),
            "compounds": data.compounds.len(),
            "access_points": data.access_points.len(),
            "buildings": data.buildings.len(),
            "entrances": data.entrances.len(),
            "responders": data.responders.len(),
            "staff": data.staff.len(),
        });
        let sql = "INSERT INTO change_log (kind, detail) VALUES ('replace_all', $1::jsonb)";
        execute!(t, sql, detail.to_string())?;
        tx.commit().await.map_err(db_error)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_postgis_message_says_what_to_install_and_run() {
        let m = no_postgis_message(&PostgisProblem::NotInstalled { server_major: 15 });
        assert!(m.contains("apt-get install postgresql-15-postgis-3"), "names the package: {m}");
        assert!(m.contains("CREATE EXTENSION postgis"), "names the SQL to run: {m}");
        assert!(m.contains("restart gridmap"), "{m}");
        let p = PostgisProblem::NotEnabled { database: "gm".into(), role: "web".into() };
        let m = no_postgis_message(&p);
        assert!(m.contains("CREATE EXTENSION postgis") && m.contains("\"gm\""), "{m}");
        assert!(m.contains("superuser") && m.contains("\"web\""), "{m}");
    }

    #[test]
    fn constraint_names_map_to_meanings() {
        assert!(constraint_meaning("grids_code_in_community").contains("community's code"));
        assert!(constraint_meaning("grids_geom_valid").contains("not valid"));
        assert!(constraint_meaning("grids_geom_in_range").contains("EPSG:4326"), "not the generic _range");
        assert!(constraint_meaning("compounds_id_range").contains("out of range"));
        // Every suffix is reachable: no earlier suffix is an ending of a later one.
        for (i, (later, _)) in RULES.iter().enumerate() {
            for (earlier, _) in &RULES[..i] {
                assert!(!later.ends_with(earlier), "{earlier} shadows {later}");
            }
        }
        assert!(constraint_meaning("grid_codes_community_known").contains("does not exist"));
        assert!(constraint_meaning("grids_code_not_retired").contains("retired"));
        assert_eq!(constraint_meaning("something_else"), "constraint violated");
    }

    #[test]
    fn failing_key_is_read_from_postgres_details() {
        let check = "Failing row contains (65020300100101, 1, 650203001001, g, 1, ...)";
        assert_eq!(failing_key(check).as_deref(), Some("65020300100101"));
        let fk = "Key (community_code)=(650203001009) is not present in table \"community_codes\".";
        assert_eq!(failing_key(fk).as_deref(), Some("Key (community_code)=(650203001009)"));
        assert_eq!(failing_key("Failing row contains (65020300100101)").as_deref(), Some("65020300100101"));
        assert_eq!(failing_key(""), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://gm:secret@db:5432/x"), "postgres://gm:***@db:5432/x");
        assert_eq!(redact("postgres://gm@db/x"), "postgres://gm@db/x");
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
    }
}
