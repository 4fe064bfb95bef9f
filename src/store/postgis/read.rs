//! Reading the current [`Dataset`] back from PostGIS.
//!
//! Geometries come back as the `geometry` column itself, which binary results carry as EWKB
//! (2D, SRID 4326), so coordinates round-trip bit for bit. A row that cannot be read into the
//! model is [`StoreError::Corrupt`] naming its layer and key.
//!
//! A big city is millions of rows (the 100,000-grid benchmark city has 1.2 million buildings and
//! 2.7 million entrances), so [`load`] reads the layers in parallel, each on its own pooled
//! connection, all in **one** snapshot: the first transaction locks the tables, exports its
//! snapshot (`pg_export_snapshot()`), and every layer's transaction imports it (`SET
//! TRANSACTION SNAPSHOT`), so the layers are as consistent as if read in one transaction.
//! Rows are decoded as they arrive, on tokio's worker threads, and put back in their written
//! order by their `ord` column in Rust: an `ORDER BY` made PostgreSQL sort millions of rows on
//! disk (work_mem is small), which took as long as producing them.

use std::sync::Arc;

use futures_util::TryStreamExt;
use geo::{Geometry, MultiPolygon, Point, Polygon};
use serde::de::DeserializeOwned;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Decode, Postgres, Row, Type};
use tokio::sync::Semaphore;

use super::{db_error, RegionTable, COMMUNITIES, GRIDS, LATEST_CHANGE, SUBDISTRICTS, TABLES};
use crate::model::{
    AccessPoint, Building, Code, Compound, Dataset, DistrictInfo, Entrance, Region, Responder, Schedule, Staff,
    StandardAddress,
};
use crate::store::wkb::from_wkb;
use crate::store::{ChangeSeq, StoreError};

/// Times a layer read waits for the pool's acquire timeout before giving up.
const ACQUIRE_ATTEMPTS: u32 = 4;

/// Rows decoded between two yields to the scheduler (see `Snap::fetch`).
const YIELD_EVERY_ROWS: usize = 512;

/// Layers read at the same time: two per core of a small server is plenty, and it leaves
/// pooled connections free for `/healthz` and other callers.
const PARALLEL_LAYERS: usize = 4;

/// Reads the district and the current version of every layer, from one snapshot, with the
/// number of the last change that snapshot includes. `Ok(None)` when nothing was ever written
/// (no district row).
///
/// The tables are locked (ACCESS SHARE, which only TRUNCATE and DDL conflict with) before the
/// snapshot is taken, because `replace_all` empties tables with TRUNCATE, which is not
/// MVCC-safe: a load that meets a `replace_all` in progress waits for its commit and then sees
/// the new data, never the empty tables TRUNCATE leaves to older snapshots.
pub(super) async fn load(pool: &PgPool) -> Result<Option<(Dataset, ChangeSeq)>, StoreError> {
    load_layers(pool, true).await
}

/// [`load`] of the district, the regions and the staff only: what locating a point needs,
/// about a tenth of a big city's rows (see `Store::load_regions`).
pub(super) async fn load_regions(pool: &PgPool) -> Result<Option<(Dataset, ChangeSeq)>, StoreError> {
    load_layers(pool, false).await
}

async fn load_layers(pool: &PgPool, all: bool) -> Result<Option<(Dataset, ChangeSeq)>, StoreError> {
    let mut main = pool.begin().await.map_err(db_error)?;
    let tx = &mut main;
    execute!(tx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    execute!(tx, &format!("LOCK TABLE {TABLES} IN ACCESS SHARE MODE"))?;
    // The first query takes the snapshot that every later one, on any connection, reads.
    let (seq, snapshot): (ChangeSeq, String) =
        sqlx::query_as(&format!("SELECT ({LATEST_CHANGE}), pg_export_snapshot()"))
            .fetch_one(&mut **tx)
            .await
            .map_err(db_error)?;
    let rows = sqlx::query("SELECT code, name, prefix, grid_width FROM district")
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    let Some(row) = rows.first() else {
        main.commit().await.map_err(db_error)?;
        return Ok(None);
    };
    let r = Reader::new(row, "district", "code");
    let width: i16 = r.get("grid_width")?;
    let district = DistrictInfo {
        code: r.code("code")?,
        name: r.get("name")?,
        prefix: r.get("prefix")?,
        grid_width: u8::try_from(width).map_err(|_| r.corrupt(format!("grid_width {width}")))?,
    };
    let snap = Snap::new(pool, &snapshot)?;
    // Biggest first, so that the small layers fill in around them.
    let entrances = all.then(|| spawn(load_entrances(snap.clone())));
    let buildings = all.then(|| spawn(load_buildings(snap.clone())));
    let access_points = all.then(|| spawn(load_access_points(snap.clone())));
    let staff = spawn(load_staff(snap.clone()));
    let compounds = all.then(|| spawn(load_compounds(snap.clone())));
    let grids = spawn(read_regions(snap.clone(), &GRIDS));
    let communities = spawn(read_regions(snap.clone(), &COMMUNITIES));
    let subdistricts = spawn(read_regions(snap.clone(), &SUBDISTRICTS));
    let responders = all.then(|| spawn(load_responders(snap.clone())));
    let data = Dataset {
        district,
        subdistricts: join(subdistricts, "subdistricts").await?.into(),
        communities: join(communities, "communities").await?.into(),
        grids: join(grids, "grids").await?.into(),
        compounds: join_some(compounds, "compounds").await?.into(),
        access_points: join_some(access_points, "access_points").await?.into(),
        buildings: join_some(buildings, "buildings").await?.into(),
        entrances: join_some(entrances, "entrances").await?.into(),
        responders: join_some(responders, "responders").await?.into(),
        staff: join(staff, "staff").await?.into(),
    };
    // Kept open until here: it holds the locks, and the snapshot it exported.
    main.commit().await.map_err(db_error)?;
    Ok(Some((data, seq)))
}

type Task<T> = tokio::task::JoinHandle<Result<T, StoreError>>;

fn spawn<T: Send + 'static>(
    load: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Task<T> {
    tokio::spawn(load)
}

/// [`join`] of a layer that may not have been asked for (empty then).
async fn join_some<T: Default>(task: Option<Task<T>>, layer: &str) -> Result<T, StoreError> {
    match task {
        Some(task) => join(task, layer).await,
        None => Ok(T::default()),
    }
}

async fn join<T>(task: Task<T>, layer: &str) -> Result<T, StoreError> {
    task.await.map_err(|e| StoreError::Corrupt {
        layer: layer.into(),
        id: "-".into(),
        message: format!("the task reading it failed: {e}"),
    })?
}

/// An exported snapshot that layer queries read in, and the pool they run on.
#[derive(Clone)]
struct Snap {
    pool: PgPool,
    id: Arc<str>,
    permits: Arc<Semaphore>,
}

impl Snap {
    fn new(pool: &PgPool, id: &str) -> Result<Snap, StoreError> {
        // It goes into SQL text (SET TRANSACTION SNAPSHOT takes no parameters): hex and dashes only.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(StoreError::Invalid(format!("unexpected snapshot id {id:?}")));
        }
        Ok(Snap { pool: pool.clone(), id: id.into(), permits: Arc::new(Semaphore::new(PARALLEL_LAYERS)) })
    }

    /// A transaction on a pooled connection. Waiting for the pool is retried a few times: a
    /// load is a batch of several connections, and on a machine busy enough that opening one
    /// takes longer than the pool's acquire timeout, failing the whole load helps nobody (the
    /// main transaction, holding the exported snapshot, stays open meanwhile).
    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let mut attempt = 1;
        loop {
            match self.pool.begin().await {
                Err(sqlx::Error::PoolTimedOut) if attempt < ACQUIRE_ATTEMPTS => {
                    tracing::warn!(attempt, "waiting for a pooled connection to read a layer");
                    attempt += 1;
                }
                other => return other.map_err(db_error),
            }
        }
    }

    /// Runs `sql` in the snapshot and reads each row with `read` as it arrives; `read` gives
    /// the row's `ord` and its value, and the values come back in `ord` order.
    async fn fetch<T: Send + Unpin + 'static>(
        &self,
        sql: &str,
        read: impl Fn(&PgRow) -> Result<(i32, T), StoreError> + Send + 'static,
    ) -> Result<Vec<T>, StoreError> {
        let _permit = self.permits.acquire().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut tx = self.begin().await?;
        let t = &mut tx;
        execute!(t, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        execute!(t, &format!("SET TRANSACTION SNAPSHOT '{}'", self.id))?;
        // A decoding error travels through sqlx as `Decode` and is unwrapped below.
        let mut rows = Vec::new();
        {
            let mut stream = sqlx::query(sql)
                .try_map(move |row: PgRow| read(&row).map_err(|e| sqlx::Error::Decode(Box::new(e))))
                .fetch(&mut **t);
            let unwrap = |e| match e {
                sqlx::Error::Decode(inner) => match inner.downcast::<StoreError>() {
                    Ok(store) => *store,
                    Err(other) => db_error(sqlx::Error::Decode(other)),
                },
                other => db_error(other),
            };
            while let Some(row) = stream.try_next().await.map_err(unwrap)? {
                rows.push(row);
                // Rows already buffered come without waiting, so a big layer would hold a worker
                // thread for seconds; give the other tasks (requests answered while a staged
                // start-up loads the rest) a turn every so often.
                if rows.len() % YIELD_EVERY_ROWS == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }
        tx.commit().await.map_err(db_error)?;
        // Usually in order already (a table scan after an import returns rows as written).
        if !rows.is_sorted_by_key(|r| r.0) {
            rows.sort_by_key(|r| r.0);
        }
        Ok(rows.into_iter().map(|r| r.1).collect())
    }
}

/// A stored row being read back into the model; errors name its layer and key.
struct Reader<'r> {
    row: &'r PgRow,
    layer: &'static str,
    /// The key column, read only when an error needs it (millions of rows, rarely an error).
    key: &'static str,
}

impl<'r> Reader<'r> {
    /// Reads `row` of `layer`, whose key is in column `key` (a bigint id or a text code).
    fn new(row: &'r PgRow, layer: &'static str, key: &'static str) -> Self {
        Reader { row, layer, key }
    }

    fn corrupt(&self, message: String) -> StoreError {
        let id = (self.row.try_get::<i64, _>(self.key).map(|id| id.to_string()))
            .or_else(|_| self.row.try_get::<String, _>(self.key))
            .unwrap_or_else(|_| "?".into());
        StoreError::Corrupt { layer: self.layer.into(), id, message }
    }

    /// The row's position in its layer as written (the `ord` column).
    fn ord(&self) -> Result<i32, StoreError> {
        self.get("ord")
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

    /// The geometry in column `wkb` (`geom AS wkb`): in binary results PostGIS sends a
    /// geometry as EWKB, which costs the server less than `ST_AsBinary` (a tenth less for the
    /// 2.7 million entrances), and it is read here without a copy.
    fn geometry(&self) -> Result<Geometry<f64>, StoreError> {
        // Unchecked: sqlx knows no `geometry` type; `from_wkb` checks the bytes.
        let bytes: &[u8] = self.row.try_get_unchecked("wkb").map_err(|e| self.corrupt(format!("wkb: {e}")))?;
        from_wkb(bytes).map_err(|e| self.corrupt(format!("geometry: {e}")))
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

/// Reads the current version of every region of one layer, in stored order.
async fn read_regions(snap: Snap, t: &'static RegionTable) -> Result<Vec<Region>, StoreError> {
    let sql = format!(
        "SELECT code, name, households, population, valid_from, valid_to, version, ord,
                geom AS wkb
         FROM {table} WHERE valid_to IS NULL",
        table = t.table
    );
    snap.fetch(&sql, |row| {
        let r = Reader::new(row, t.table, "code");
        Ok((
            r.ord()?,
            Region {
                code: r.code("code")?,
                name: r.get("name")?,
                households: r.count("households")?,
                population: r.count("population")?,
                valid_from: r.get("valid_from")?,
                valid_to: r.get("valid_to")?,
                version: r.count("version")?,
                geometry: r.multi_polygon()?,
            },
        ))
    })
    .await
}

async fn load_compounds(snap: Snap) -> Result<Vec<Compound>, StoreError> {
    let sql = "SELECT id, community_code, name, gated, ord, geom AS wkb FROM compounds";
    snap.fetch(sql, |row| {
        let r = Reader::new(row, "compounds", "id");
        Ok((
            r.ord()?,
            Compound {
                id: r.id("id")?,
                community: r.code("community_code")?,
                name: r.get("name")?,
                gated: r.get("gated")?,
                geometry: r.polygon()?,
            },
        ))
    })
    .await
}

async fn load_access_points(snap: Snap) -> Result<Vec<AccessPoint>, StoreError> {
    let sql = "SELECT id, compound_id, name, kind, passes, hours, has_device, ord, geom AS wkb
               FROM access_points";
    snap.fetch(sql, |row| {
        let r = Reader::new(row, "access_points", "id");
        let passes: Vec<String> = r.get("passes")?;
        Ok((
            r.ord()?,
            AccessPoint {
                id: r.id("id")?,
                compound_id: r.id("compound_id")?,
                name: r.get("name")?,
                kind: r.enum_of(r.get("kind")?)?,
                passes: passes.iter().map(|p| r.enum_of(p)).collect::<Result<_, _>>()?,
                hours: r.schedule("hours")?,
                has_device: r.get("has_device")?,
                location: r.point()?,
            },
        ))
    })
    .await
}

async fn load_buildings(snap: Snap) -> Result<Vec<Building>, StoreError> {
    let sql = "SELECT id, compound_id, road, door_number, compound_name, building_number,
                      address_text, floors, units, households, population, ord,
                      geom AS wkb
               FROM buildings";
    snap.fetch(sql, |row| {
        let r = Reader::new(row, "buildings", "id");
        Ok((
            r.ord()?,
            Building {
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
            },
        ))
    })
    .await
}

async fn load_entrances(snap: Snap) -> Result<Vec<Entrance>, StoreError> {
    let sql = "SELECT id, building_id, unit, ord, geom AS wkb FROM entrances";
    snap.fetch(sql, |row| {
        let r = Reader::new(row, "entrances", "id");
        Ok((
            r.ord()?,
            Entrance {
                id: r.id("id")?,
                building_id: r.id("building_id")?,
                unit: r.count("unit")?,
                location: r.point()?,
            },
        ))
    })
    .await
}

async fn load_responders(snap: Snap) -> Result<Vec<Responder>, StoreError> {
    let sql = "SELECT id, kind, name, mode, headcount, duty, ord, geom AS wkb FROM responders";
    snap.fetch(sql, |row| {
        let r = Reader::new(row, "responders", "id");
        Ok((
            r.ord()?,
            Responder {
                id: r.id("id")?,
                kind: r.enum_of(r.get("kind")?)?,
                name: r.get("name")?,
                mode: r.enum_of(r.get("mode")?)?,
                headcount: r.count("headcount")?,
                duty: r.schedule("duty")?,
                location: r.point()?,
            },
        ))
    })
    .await
}

/// A person from a row of `staff` (id, name, role, force, phone), without their grids.
fn staff_of(r: &Reader) -> Result<Staff, StoreError> {
    Ok(Staff {
        id: r.id("id")?,
        name: r.get("name")?,
        role: r.enum_of(r.get("role")?)?,
        force: r.enum_of(r.get("force")?)?,
        phone: r.get("phone")?,
        grids: Vec::new(),
    })
}

/// The people with ids `ids` (those that exist), each with their grid list in stored order,
/// read on `conn` (inside the caller's transaction).
pub(super) async fn staff_by_ids(conn: &mut sqlx::PgConnection, ids: &[i64]) -> Result<Vec<Staff>, StoreError> {
    let rows = sqlx::query("SELECT id, name, role, force, phone FROM staff WHERE id = ANY($1::int8[]) ORDER BY id")
        .bind(ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    let mut people = rows
        .iter()
        .map(|row| staff_of(&Reader::new(row, "staff", "id")))
        .collect::<Result<Vec<Staff>, StoreError>>()?;
    let links = sqlx::query(
        "SELECT staff_id, grid_code FROM staff_grids WHERE staff_id = ANY($1::int8[]) ORDER BY staff_id, ord",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)?;
    for row in &links {
        let r = Reader::new(row, "staff_grids", "staff_id");
        let id = r.id("staff_id")?;
        if let Ok(i) = people.binary_search_by_key(&id, |s| s.id) {
            people[i].grids.push(r.code("grid_code")?);
        }
    }
    Ok(people)
}

/// Staff and their grid lists, read as two tables and joined here: a correlated
/// `array_agg` per person cost PostgreSQL six times as long as the two plain scans.
async fn load_staff(snap: Snap) -> Result<Vec<Staff>, StoreError> {
    let links = snap.fetch("SELECT staff_id, grid_code, ord FROM staff_grids", |row| {
        let r = Reader::new(row, "staff_grids", "staff_id");
        Ok((r.ord()?, (r.id("staff_id")?, r.code("grid_code")?)))
    });
    let sql = "SELECT id, name, role, force, phone, ord FROM staff";
    let people = snap.fetch(sql, |row| {
        let r = Reader::new(row, "staff", "id");
        Ok((r.ord()?, staff_of(&r)?))
    });
    let (links, mut people) = tokio::try_join!(links, people)?;
    // `links` is in `ord` order (each person's list in its stored order), so pushing keeps it.
    let position: std::collections::HashMap<u32, usize> = people.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    for (id, grid) in links {
        let i = position.get(&id).ok_or_else(|| StoreError::Corrupt {
            layer: "staff_grids".into(),
            id: id.to_string(),
            message: "links a person who is not in staff".into(),
        })?;
        people[*i].grids.push(grid);
    }
    Ok(people)
}
