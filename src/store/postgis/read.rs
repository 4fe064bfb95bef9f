//! Reading the current [`Dataset`] back from PostGIS, inside the caller's transaction.
//!
//! Geometries come back as `ST_AsBinary(geom)` (2D WKB, EPSG:4326), so coordinates round-trip
//! bit for bit; rows come back in their written `ord` order. A row that cannot be read into the
//! model is [`StoreError::Corrupt`] naming its layer and key.

use geo::{Geometry, MultiPolygon, Point, Polygon};
use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};

use super::{db_error, RegionTable, Tx, COMMUNITIES, GRIDS, SUBDISTRICTS};
use crate::model::{
    AccessPoint, Building, Code, Compound, Dataset, DistrictInfo, Entrance, Region, Responder, Schedule, Staff,
    StandardAddress,
};
use crate::store::wkb::from_wkb;
use crate::store::StoreError;

/// Reads the district and the current version of every layer. `Ok(None)` when nothing was
/// ever written (no district row).
pub(super) async fn load_dataset(tx: &mut Tx<'_>) -> Result<Option<Dataset>, StoreError> {
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
    .pop();
    let Some(district) = district else { return Ok(None) };
    Ok(Some(Dataset {
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
    }))
}

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
