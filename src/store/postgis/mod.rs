//! The PostGIS store: gridmap's production storage, PostgreSQL + PostGIS through sqlx.
//!
//! This module owns every SQL statement the service sends to PostGIS; the schema itself is in
//! `migrations/` (numbered, commented, run by [`PgStore::connect`]). It knows the [`Dataset`]
//! and nothing of indexes or HTTP.
//!
//! * `read`: the current dataset back into the model; `write`: the batched inserts;
//!   [`listen`]: the [`ChangeFeed`] over LISTEN/NOTIFY that lets several instances share one
//!   database. This file: connecting, the start-up check, error mapping and the [`Store`].
//! * Geometries travel as 2D WKB in EPSG:4326: written with `ST_GeomFromWKB($1, 4326)` and read
//!   as the column itself (EWKB in binary results), so coordinates round-trip bit for bit.
//! * Timestamps are `timestamptz`, which has **microsecond** precision: a `DateTime<Utc>` with
//!   sub-microsecond digits is stored without them. Data gridmap makes is whole seconds, so a
//!   round trip is exact; writers of new versions should truncate `Utc::now()` to microseconds.
//! * Region layers keep every version (see `migrations/0002_regions.sql`); [`Store::load`]
//!   returns only the current ones (`valid_to IS NULL`). [`Store::replace_all`] is an import:
//!   it replaces everything, history and code registries included, with exactly `data`.
//! * Rows come back in the order they were written (an `ord` column), so `load` after
//!   `replace_all(d)` gives a dataset `== d` when `d` holds only current versions.
//! * Writes are batched: one `INSERT ... SELECT FROM UNNEST($1::type[], ...)` per layer and
//!   `CHUNK` rows, one parameter per column (never the 65,535-parameter limit).
//! * Every write holds `WRITE_LOCK` and appends to `change_log` before it commits, so change
//!   numbers (`change_log.id`) increase in commit order, as [`ChangeSeq`] promises. Writes
//!   that do not come from gridmap (QGIS, psql) do the same through triggers
//!   (`migrations/0007_direct_writes.sql`, a 'direct' entry), so instances reload after them too.
//! * Constraints are named `<table>_<rule>`; a violation becomes [`StoreError::Invalid`]
//!   naming the constraint, with a sentence saying what it means and the failing row's key.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

use super::{ChangeFeed, ChangeSeq, Committed, GridEdit, GridVersion, Store, StoreError};
use crate::model::{Code, Dataset, Region};

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

/// Starts a gridmap write: a transaction that holds [`WRITE_LOCK`] and says it is gridmap's
/// (`gridmap.writer`, transaction-local), so that the triggers of
/// `migrations/0007_direct_writes.sql`, which log every other write to the snapshot's tables as
/// a 'direct' change, leave it to log itself.
async fn begin_write(pool: &PgPool) -> Result<Tx<'static>, StoreError> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let t = &mut tx;
    execute!(t, "SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)?;
    execute!(t, "SELECT set_config('gridmap.writer', 'on', true)")?;
    Ok(tx)
}

// Declared after `execute!`, which the submodules use.
mod auth;
mod edit;
pub mod listen;
mod read;
mod write;

/// How long `ping` waits for an answer: `/healthz` must say "degraded" quickly rather than
/// hang for the pool's acquire timeout while the database is down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The production store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Where the pool connects; the change feed opens its own connection with these.
    options: PgConnectOptions,
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
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot connect to {}: {e}", redact(url))))?;
        check_postgis(&pool).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(PgStore { pool, options })
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
    ("_reason_length", "an edit's reason must be 1 to 500 characters"),
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
// The three region layers (shared by read and write)
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

// ---------------------------------------------------------------------------------------------
// The Store
// ---------------------------------------------------------------------------------------------

/// The number of the last committed change (0 before any).
const LATEST_CHANGE: &str = "SELECT coalesce(max(id), 0)::int8 FROM change_log";

/// Name and definition of every index on the tables `$1` (a `text[]`) that no constraint
/// owns: what `replace_all` may drop and build again.
const SECONDARY_INDEXES: &str = "SELECT i.indexname::text, i.indexdef
     FROM pg_indexes i
     JOIN pg_namespace n ON n.nspname = i.schemaname
     JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = n.oid
     WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
       AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
     ORDER BY i.indexname";

/// Every table of the dataset (not the append-only change log), in the one order in which both
/// `load` and `replace_all` lock them, so that the two never deadlock.
/// What [`StoreError::Empty`] says for a database without a dataset. Not `Corrupt`: nothing
/// was ever written, and the caller may seed or import.
const EMPTY_DATABASE: &str = "the database holds no dataset yet (no district row): import one with \
                              `gridmap import DIR` (a directory as written by `gridmap generate` or \
                              `gridmap export`)";

const TABLES: &str = "district, subdistrict_codes, community_codes, grid_codes, \
                      subdistricts, communities, grids, compounds, access_points, buildings, \
                      entrances, responders, staff, staff_grids";

#[async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgis"
    }

    /// Reads the current version of every layer from one snapshot (REPEATABLE READ, shared by
    /// the parallel layer reads, see `read`), so a concurrent `replace_all` is seen entirely
    /// or not at all.
    async fn load(&self) -> Result<Dataset, StoreError> {
        Ok(self.load_with_seq().await?.0)
    }

    /// The number is `change_log`'s largest id (0 before any change), read in the same
    /// snapshot as the data, so it names exactly the last change the dataset includes.
    async fn load_with_seq(&self) -> Result<(Dataset, Option<ChangeSeq>), StoreError> {
        let (data, seq) = read::load(&self.pool).await?.ok_or_else(|| {
            // Not Corrupt: nothing was ever written, and the caller may seed or import.
            StoreError::Empty(EMPTY_DATABASE.into())
        })?;
        Ok((data, Some(seq)))
    }

    async fn load_regions(&self) -> Result<Option<(Dataset, Option<ChangeSeq>)>, StoreError> {
        let (data, seq) =
            read::load_regions(&self.pool).await?.ok_or_else(|| StoreError::Empty(EMPTY_DATABASE.into()))?;
        Ok(Some((data, Some(seq))))
    }

    /// Deletes everything and writes `data`, in one transaction, then appends a `replace_all`
    /// entry to the change log (which notifies listeners on commit).
    ///
    /// The tables are emptied with TRUNCATE: DELETE of 100,000 grids and their key checks took
    /// longer than writing them. TRUNCATE is not MVCC-safe (an older snapshot would see empty
    /// tables), which `load` guards against by locking the tables before its snapshot.
    ///
    /// Secondary indexes (those no constraint owns: GiST on geometries, btrees on foreign-key
    /// columns) are dropped after the TRUNCATE and built again after the inserts, in the same
    /// transaction, so a failure restores them. Building a GiST index over 2.7 million entrances
    /// took 7 s; keeping it up to date row by row during the insert took 25 s more.
    async fn replace_all(&self, data: &Dataset) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let t = &mut tx;
        execute!(t, &format!("TRUNCATE {TABLES}"))?;
        let tables: Vec<&str> = TABLES.split(',').map(str::trim).collect();
        let indexes: Vec<(String, String)> =
            sqlx::query_as(SECONDARY_INDEXES).bind(&tables).fetch_all(&mut **t).await.map_err(db_error)?;
        for (name, _) in &indexes {
            execute!(t, &format!("DROP INDEX \"{}\"", name.replace('"', "\"\"")))?;
        }
        execute!(t, "SET LOCAL maintenance_work_mem = '256MB'")?;
        let d = &data.district;
        execute!(
            t,
            "INSERT INTO district (code, name, prefix, grid_width) VALUES ($1, $2, $3, $4)",
            d.code.as_str(),
            &d.name,
            &d.prefix,
            i16::from(d.grid_width),
        )?;
        write::insert_regions(t, &SUBDISTRICTS, &data.subdistricts).await?;
        write::insert_regions(t, &COMMUNITIES, &data.communities).await?;
        write::insert_regions(t, &GRIDS, &data.grids).await?;
        write::insert_features(t, data).await?;
        for (_, definition) in &indexes {
            execute!(t, definition)?;
        }
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
        tx.commit().await.map_err(db_error)?;
        // After a bulk load PostgreSQL has no statistics for the planner (QGIS's queries and
        // ours would be planned blind until autovacuum gets round to it), and every row still
        // needs its hint bits set, which the first reader would otherwise do by writing the
        // pages back. VACUUM (ANALYZE) does both now (9 s for the 100,000-grid city), outside
        // the transaction as it must. The data is committed; a failure here is only logged.
        if let Err(e) = sqlx::query(&format!("VACUUM (ANALYZE) {TABLES}")).execute(&self.pool).await {
            tracing::warn!(error = %e, "VACUUM (ANALYZE) after the import failed; the first start-up will be slower");
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let ping = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(PING_TIMEOUT, ping).await {
            Ok(result) => result.map(drop).map_err(db_error),
            Err(_) => Err(StoreError::Unavailable(format!("no answer within {} s", PING_TIMEOUT.as_secs()))),
        }
    }

    /// See `edit`: under the write lock, appends an `edit` entry to the change log (which
    /// notifies the other instances on commit).
    async fn commit_grid_edit(&self, edit: &GridEdit) -> Result<Committed, StoreError> {
        edit::commit(&self.pool, edit).await
    }

    async fn grid_history(&self, code: &Code) -> Result<Vec<GridVersion>, StoreError> {
        edit::history(&self.pool, code).await
    }

    async fn ended_grid_versions(&self) -> Result<Vec<Region>, StoreError> {
        edit::ended_versions(&self.pool).await
    }

    async fn grid_codes_ever(&self) -> Result<std::collections::BTreeSet<Code>, StoreError> {
        edit::codes_ever(&self.pool).await
    }

    async fn edits_after(
        &self,
        after: ChangeSeq,
        limit: usize,
    ) -> Result<Option<Vec<crate::store::StoredEdit>>, StoreError> {
        edit::edits_after(&self.pool, after, limit).await
    }

    /// LISTEN on `gridmap_changes`, on a connection of its own (see [`listen`]).
    fn changes(&self) -> Option<Box<dyn ChangeFeed>> {
        Some(Box::new(listen::PgChangeFeed::new(self.options.clone())))
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
