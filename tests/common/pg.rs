//! Throw-away PostGIS databases for tests: one fresh database per test, dropped afterwards.
//!
//! Tests need `GRIDMAP_TEST_DATABASE_URL`, an admin URL (a role that may CREATE DATABASE and
//! CREATE EXTENSION), e.g. `postgres://gridmap:gridmap@127.0.0.1:5432/postgres` as printed by
//! `scripts/setup-postgis`. When it is unset the tests **fail**: a store test that silently
//! skips is a store that is silently untested.
//!
//! Databases are named `gridmap_test_<unix seconds>_<random>`. Each is dropped when its
//! [`TestDb`] is dropped; databases left behind by a crashed run are dropped by the first test
//! of a later run once they are an hour old (the creation time is in the name).

// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gridmap::store::postgis::PgStore;
use sqlx::{Connection, PgConnection};

/// The environment variable holding the admin URL.
pub const ADMIN_URL_VAR: &str = "GRIDMAP_TEST_DATABASE_URL";

/// Prefix of every database these helpers create.
const PREFIX: &str = "gridmap_test_";

/// Stale test databases older than this are dropped.
const STALE_AFTER: Duration = Duration::from_secs(3600);

/// The admin URL from [`ADMIN_URL_VAR`]; panics with instructions when it is unset.
pub fn admin_url() -> String {
    match std::env::var(ADMIN_URL_VAR) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{ADMIN_URL_VAR} is not set, so the PostGIS store cannot be tested. Run \
             `scripts/setup-postgis` (installs and starts PostgreSQL + PostGIS, prints the URL) and \
             `export {ADMIN_URL_VAR}=postgres://gridmap:gridmap@127.0.0.1:5432/postgres`, or run \
             the whole suite with `scripts/test`."
        ),
    }
}

/// `url` pointing at database `database` instead (the path part replaced, the query kept).
pub fn with_database(url: &str, database: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let host_end = base[after_scheme..].find('/').map_or(base.len(), |i| after_scheme + i);
    format!("{}/{database}{query}", &base[..host_end])
}

/// `url` logging in as `user` with `password` instead.
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let host_start = url[after_scheme..].find('@').map_or(after_scheme, |i| after_scheme + i + 1);
    format!("{}{user}:{password}@{}", &url[..after_scheme], &url[host_start..])
}

/// A test database; dropped (with any open connections) when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// Database name, `gridmap_test_...`.
    pub name: String,
    /// URL of this database, as the admin role.
    pub url: String,
    admin_url: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside any async context we can rely on (the test's runtime may be
        // shutting down), so the DROP runs on its own thread with its own small runtime.
        let admin = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(drop_database(&admin, &name)).map_err(std::io::Error::other)
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {} (a later run drops it): {dropped:?}", self.name);
        }
    }
}

async fn drop_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect(admin_url).await?;
    // WITH (FORCE) (PostgreSQL 13+) ends the store's pooled connections still open.
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await?;
    conn.close().await
}

/// Creates an empty database (no PostGIS, no migrations) and returns it.
pub async fn empty_database() -> TestDb {
    let admin = admin_url();
    let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("cannot connect to {ADMIN_URL_VAR}; is PostgreSQL running (scripts/setup-postgis)? {e}")
    });
    drop_stale_databases(&mut conn).await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let name = format!("{PREFIX}{now}_{:08x}", rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e} (the role in {ADMIN_URL_VAR} needs CREATEDB)"));
    let _ = conn.close().await;
    TestDb { url: with_database(&admin, &name), name, admin_url: admin }
}

/// A fresh database with a connected, migrated [`PgStore`]: the factory of the store suite.
pub async fn fresh_database() -> (PgStore, TestDb) {
    let db = empty_database().await;
    let store = PgStore::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("PgStore::connect to test database {}: {e}", db.name));
    (store, db)
}

/// Drops test databases older than [`STALE_AFTER`], once per test process.
async fn drop_stale_databases(conn: &mut PgConnection) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
        .bind(PREFIX)
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for name in names {
        let created = name[PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > STALE_AFTER.as_secs()) {
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            if let Err(e) = sqlx::query(&sql).execute(&mut *conn).await {
                eprintln!("could not drop stale test database {name}: {e}");
            }
        }
    }
}
