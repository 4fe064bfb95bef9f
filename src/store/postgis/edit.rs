//! Grid edits and grid history in PostGIS: [`commit`] writes one planned edit in one
//! transaction; [`history`], [`ended_versions`] and [`codes_ever`] read the past back.
//!
//! An edit takes the same write lock as `replace_all` (`WRITE_LOCK`), so the version check
//! (every version the edit ends must still be current) and the writes see no other writer in
//! between, and change numbers stay in commit order. The schema of what is written is in
//! `migrations/0002_regions.sql` (versions, code registry) and `migrations/0005_edits.sql` (who
//! and why). Nothing here knows the edit rules: the plan was checked before it came here; the
//! database constraints and triggers still refuse anything structurally wrong (overlapping
//! versions, a retired code made current again), which rolls the whole edit back.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use geo::Geometry;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::Row;

use super::{begin_write, db_error, Tx, LATEST_CHANGE};
use crate::model::{Code, Region, Staff};
use crate::store::wkb::{from_wkb, to_wkb};
use crate::store::{
    check_grid_edit, touched_codes, ChangeSeq, Committed, CurrentVersion, GridEdit, GridVersion, StoreError, StoredEdit,
};

/// Commits `e` (see [`crate::store::Store::commit_grid_edit`]).
pub(super) async fn commit(pool: &PgPool, e: &GridEdit) -> Result<Committed, StoreError> {
    let mut tx = begin_write(pool).await?;
    let t = &mut tx;
    let previous: ChangeSeq = sqlx::query_scalar(LATEST_CHANGE).fetch_one(&mut **t).await.map_err(db_error)?;
    let codes: Vec<String> = touched_codes(e).iter().map(|c| c.to_string()).collect();
    let (current, registered) = current_versions(t, &codes).await?;
    let at = check_grid_edit(e, &current, &registered)?;

    let ended: Vec<&str> = e.retire.iter().map(|(c, _)| c.as_str()).collect();
    execute!(t, "UPDATE grids SET valid_to = $1 WHERE valid_to IS NULL AND code = ANY($2::text[])", at, &ended)?;
    let new_codes: Vec<&Region> = e.write.iter().filter(|r| !registered.contains(&r.code)).collect();
    execute!(
        t,
        "INSERT INTO grid_codes (code, community_code)
         SELECT code, left(code, 12) FROM UNNEST($1::text[]) AS t (code)",
        new_codes.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
    )?;
    let retired: Vec<&str> = e.retired_codes.iter().map(Code::as_str).collect();
    execute!(t, "UPDATE grid_codes SET retired_at = $1 WHERE code = ANY($2::text[])", at, &retired)?;
    insert_versions(t, e, at).await?;
    update_staff(t, e).await?;

    let detail = serde_json::json!({
        "changed_by": e.changed_by,
        "reason": e.reason,
        "retire": e.retire.iter().map(|(c, v)| serde_json::json!({"code": c, "version": v})).collect::<Vec<_>>(),
        "write": e.write.iter().map(|r| serde_json::json!({"code": r.code, "version": r.version})).collect::<Vec<_>>(),
        "retired_codes": e.retired_codes,
        "staff": e.staff.iter().map(|s| s.id).collect::<Vec<_>>(),
    });
    let seq: ChangeSeq = sqlx::query_scalar(
        "INSERT INTO change_log (kind, layer, key, detail) VALUES ('edit', 'grids', $1, $2::jsonb) RETURNING id",
    )
    .bind(codes.join(","))
    .bind(detail.to_string())
    .fetch_one(&mut **t)
    .await
    .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    Ok(Committed { at, seq: Some(seq), previous: Some(previous) })
}

/// The current version of each of `codes` (locked FOR UPDATE), and which of them are registered.
async fn current_versions(
    t: &mut Tx<'_>,
    codes: &[String],
) -> Result<(HashMap<Code, CurrentVersion>, BTreeSet<Code>), StoreError> {
    let rows = sqlx::query(
        "SELECT code, version, valid_from FROM grids
         WHERE valid_to IS NULL AND code = ANY($1::text[]) FOR UPDATE",
    )
    .bind(codes)
    .fetch_all(&mut **t)
    .await
    .map_err(db_error)?;
    let mut current = HashMap::new();
    for row in &rows {
        let code = code_of(row, "code")?;
        let version: i32 = row.try_get("version")?;
        let valid_from: DateTime<Utc> = row.try_get("valid_from")?;
        current.insert(code, CurrentVersion { version: version.max(0) as u32, valid_from });
    }
    let registered: Vec<String> = sqlx::query_scalar("SELECT code FROM grid_codes WHERE code = ANY($1::text[])")
        .bind(codes)
        .fetch_all(&mut **t)
        .await
        .map_err(db_error)?;
    let registered = registered.iter().map(|c| parse_code(c)).collect::<Result<_, _>>()?;
    Ok((current, registered))
}

/// Inserts the new versions. A new version of a code keeps the `ord` (load order) of the one
/// it follows; a new code goes after every stored grid.
async fn insert_versions(t: &mut Tx<'_>, e: &GridEdit, at: DateTime<Utc>) -> Result<(), StoreError> {
    let w = &e.write;
    let int = |v: u32, what: &str, code: &Code| {
        i32::try_from(v).map_err(|_| StoreError::Invalid(format!("{code}: {what} {v} is above 2147483647")))
    };
    execute!(
        t,
        "INSERT INTO grids (code, version, community_code, name, households, population,
                            valid_from, valid_to, ord, geom, changed_by, reason)
         SELECT t.code, t.version, left(t.code, 12), t.name, t.households, t.population,
                $7, NULL,
                coalesce((SELECT o.ord FROM grids o WHERE o.code = t.code AND o.version = t.version - 1),
                         (SELECT coalesce(max(ord), -1) FROM grids) + t.i::int4),
                ST_GeomFromWKB(t.wkb, 4326), $8, $9
         FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::int4[], $5::int4[], $6::bytea[])
              WITH ORDINALITY AS t (code, version, name, households, population, wkb, i)",
        w.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
        w.iter().map(|r| int(r.version, "version", &r.code)).collect::<Result<Vec<_>, _>>()?,
        w.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        w.iter().map(|r| int(r.households, "households", &r.code)).collect::<Result<Vec<_>, _>>()?,
        w.iter().map(|r| int(r.population, "population", &r.code)).collect::<Result<Vec<_>, _>>()?,
        w.iter().map(|r| to_wkb(&Geometry::MultiPolygon(r.geometry.clone()))).collect::<Vec<_>>(),
        at,
        &e.changed_by,
        &e.reason,
    )?;
    Ok(())
}

/// Gives every person of `e.staff` exactly their new grid list (and their other fields).
async fn update_staff(t: &mut Tx<'_>, e: &GridEdit) -> Result<(), StoreError> {
    if e.staff.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = e.staff.iter().map(|s| i64::from(s.id)).collect();
    let updated: Vec<i64> = sqlx::query_scalar(
        "UPDATE staff s SET name = t.name, role = t.role, force = t.force, phone = t.phone
         FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t (id, name, role, force, phone)
         WHERE s.id = t.id RETURNING s.id",
    )
    .bind(&ids)
    .bind(e.staff.iter().map(|s| s.name.as_str()).collect::<Vec<_>>())
    .bind(e.staff.iter().map(|s| enum_text(&s.role)).collect::<Result<Vec<_>, _>>()?)
    .bind(e.staff.iter().map(|s| enum_text(&s.force)).collect::<Result<Vec<_>, _>>()?)
    .bind(e.staff.iter().map(|s| s.phone.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut **t)
    .await
    .map_err(db_error)?;
    if let Some(missing) = ids.iter().find(|id| !updated.contains(id)) {
        return Err(StoreError::Invalid(format!("staff {missing} does not exist")));
    }
    execute!(t, "DELETE FROM staff_grids WHERE staff_id = ANY($1::int8[])", &ids)?;
    let links: Vec<(i64, &str, i32)> = e
        .staff
        .iter()
        .flat_map(|s| s.grids.iter().zip(0..).map(move |(g, i)| (i64::from(s.id), g.as_str(), i)))
        .collect();
    execute!(
        t,
        "INSERT INTO staff_grids (staff_id, grid_code, ord) SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int4[])",
        links.iter().map(|l| l.0).collect::<Vec<_>>(),
        links.iter().map(|l| l.1).collect::<Vec<_>>(),
        links.iter().map(|l| l.2).collect::<Vec<_>>(),
    )?;
    Ok(())
}

/// A model enum as its serde (snake_case) name: the text the CHECK constraints list.
fn enum_text<T: serde::Serialize + std::fmt::Debug>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Invalid(format!("{value:?} has no text form"))),
    }
}

/// The grid edits after change `after` (see [`crate::store::Store::edits_after`]), read in one
/// REPEATABLE READ transaction: the change log, the versions the edits ended and wrote, and the
/// staff they named all come from the same snapshot. Change numbers are taken under the write
/// lock, so the changes a snapshot sees are exactly those up to its latest: no gap to fill.
pub(super) async fn edits_after(
    pool: &PgPool,
    after: ChangeSeq,
    limit: usize,
) -> Result<Option<Vec<StoredEdit>>, StoreError> {
    let mut tx = pool.begin().await.map_err(db_error)?;
    let t = &mut tx;
    execute!(t, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    let rows: Vec<(ChangeSeq, String, String)> =
        sqlx::query_as("SELECT id, kind, detail::text FROM change_log WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1))
            .fetch_all(&mut **t)
            .await
            .map_err(db_error)?;
    if rows.len() > limit || rows.iter().any(|(_, kind, _)| kind != "edit") {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    struct Version {
        code: String,
        version: u32,
    }
    #[derive(serde::Deserialize)]
    struct Detail {
        retire: Vec<Version>,
        write: Vec<Version>,
        staff: Vec<i64>,
    }
    let mut details = Vec::with_capacity(rows.len());
    for (seq, _, detail) in &rows {
        let d: Detail = serde_json::from_str(detail).map_err(|e| StoreError::Corrupt {
            layer: "change_log".into(),
            id: seq.to_string(),
            message: format!("detail of an edit: {e}"),
        })?;
        details.push((*seq, d));
    }
    // Every version the edits ended or wrote: rows of `grids` never change once ended, and the
    // ones written are current or ended by a later edit of this same read.
    let (codes, versions): (Vec<&str>, Vec<i32>) = details
        .iter()
        .flat_map(|(_, d)| d.retire.iter().chain(&d.write))
        .map(|v| (v.code.as_str(), i32::try_from(v.version).unwrap_or(i32::MAX)))
        .unzip();
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM grids
         WHERE (code, version) IN (SELECT * FROM UNNEST($1::text[], $2::int4[]))"
    );
    let rows = sqlx::query(&sql).bind(&codes).bind(&versions).fetch_all(&mut **t).await.map_err(db_error)?;
    let mut stored: HashMap<(String, u32), Region> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let r = region_of(row)?;
        stored.insert((r.code.to_string(), r.version), r);
    }
    let mut staff_ids: Vec<i64> = details.iter().flat_map(|(_, d)| d.staff.iter().copied()).collect();
    staff_ids.sort_unstable();
    staff_ids.dedup();
    let staff = super::read::staff_by_ids(t, &staff_ids).await?;
    tx.commit().await.map_err(db_error)?;

    let mut edits = Vec::with_capacity(details.len());
    for (seq, d) in details {
        let missing = |v: &Version| StoreError::Corrupt {
            layer: "change_log".into(),
            id: seq.to_string(),
            message: format!("the edit names grid {} version {}, which is not stored", v.code, v.version),
        };
        let find = |v: &Version| stored.get(&(v.code.clone(), v.version)).ok_or_else(|| missing(v));
        let write = d.write.iter().map(|v| find(v).cloned()).collect::<Result<Vec<Region>, _>>()?;
        let retire =
            d.retire.iter().map(|v| Ok((find(v)?.code.clone(), v.version))).collect::<Result<Vec<_>, StoreError>>()?;
        // The instant: when the new versions start, or (an edit that only ends some) when the
        // ended ones stop.
        let at =
            match write.first() {
                Some(w) => w.valid_from,
                None => d.retire.first().and_then(|v| stored.get(&(v.code.clone(), v.version))?.valid_to).ok_or_else(
                    || StoreError::Corrupt {
                        layer: "change_log".into(),
                        id: seq.to_string(),
                        message: "an edit that neither ends nor writes a grid version".into(),
                    },
                )?,
            };
        let named: Vec<Staff> = d
            .staff
            .iter()
            .filter_map(|id| staff.binary_search_by_key(id, |s| i64::from(s.id)).ok().map(|i| staff[i].clone()))
            .collect();
        edits.push(StoredEdit { seq, at, retire, write, staff: named });
    }
    Ok(Some(edits))
}

const VERSION_COLUMNS: &str = "code, name, households, population, valid_from, valid_to, version,
                               changed_by, reason, ST_AsBinary(geom) AS wkb";

/// Every version of grid `code`, oldest first.
pub(super) async fn history(pool: &PgPool, code: &Code) -> Result<Vec<GridVersion>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {VERSION_COLUMNS} FROM grids WHERE code = $1 ORDER BY version"))
        .bind(code.as_str())
        .fetch_all(pool)
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            Ok(GridVersion {
                region: region_of(row)?,
                changed_by: row.try_get("changed_by")?,
                reason: row.try_get("reason")?,
            })
        })
        .collect()
}

/// Every ended grid version, in code and version order.
pub(super) async fn ended_versions(pool: &PgPool) -> Result<Vec<Region>, StoreError> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM grids WHERE valid_to IS NOT NULL ORDER BY code, version");
    let rows = sqlx::query(&sql).fetch_all(pool).await.map_err(db_error)?;
    rows.iter().map(region_of).collect()
}

/// Every registered grid code.
pub(super) async fn codes_ever(pool: &PgPool) -> Result<BTreeSet<Code>, StoreError> {
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT code FROM grid_codes").fetch_all(pool).await.map_err(db_error)?;
    codes.iter().map(|c| parse_code(c)).collect()
}

fn corrupt(code: &str, message: String) -> StoreError {
    StoreError::Corrupt { layer: "grids".into(), id: code.into(), message }
}

fn parse_code(s: &str) -> Result<Code, StoreError> {
    Code::parse(s).map_err(|e| corrupt(s, e.to_string()))
}

fn code_of(row: &PgRow, column: &str) -> Result<Code, StoreError> {
    parse_code(&row.try_get::<String, _>(column)?)
}

/// A grid version from a row of [`VERSION_COLUMNS`].
fn region_of(row: &PgRow) -> Result<Region, StoreError> {
    let code: String = row.try_get("code")?;
    let count = |column: &str| -> Result<u32, StoreError> {
        let v: i32 = row.try_get(column)?;
        u32::try_from(v).map_err(|_| corrupt(&code, format!("{column} {v} is negative")))
    };
    let wkb: Vec<u8> = row.try_get("wkb")?;
    let geometry = match from_wkb(&wkb).map_err(|e| corrupt(&code, format!("geometry: {e}")))? {
        Geometry::MultiPolygon(g) => g,
        _ => return Err(corrupt(&code, "geometry is not a MultiPolygon".into())),
    };
    Ok(Region {
        code: parse_code(&code)?,
        name: row.try_get("name")?,
        households: count("households")?,
        population: count("population")?,
        valid_from: row.try_get("valid_from")?,
        valid_to: row.try_get("valid_to")?,
        version: count("version")?,
        geometry,
    })
}
