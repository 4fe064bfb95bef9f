//! Writing a [`Dataset`] into PostGIS: the batched `INSERT ... SELECT FROM UNNEST(...)` of
//! every layer, inside the caller's transaction.
//!
//! One statement per layer and [`CHUNK`] rows, one array parameter per column (never the
//! 65,535-parameter limit). Rows carry an `ord` column (their position in the layer) so that
//! [`super::read`] gives them back in the written order. This module neither begins nor commits
//! transactions; `PgStore::replace_all` does.

use std::collections::BTreeMap;
use std::fmt::Display;

use chrono::{DateTime, Utc};
use geo::{Geometry, MultiPolygon, Point, Polygon};
use serde::Serialize;

use super::{db_error, RegionTable, Tx, CHUNK};
use crate::model::{Building, Dataset, Region};
use crate::store::wkb::to_wkb;
use crate::store::StoreError;

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
/// Writes the code registry and every version of one region layer.
pub(super) async fn insert_regions(tx: &mut Tx<'_>, t: &RegionTable, regions: &[Region]) -> Result<(), StoreError> {
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

/// Writes every feature layer and the staff of `data` (the regions are written by [`insert_regions`]).
pub(super) async fn insert_features(tx: &mut Tx<'_>, data: &Dataset) -> Result<(), StoreError> {
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
