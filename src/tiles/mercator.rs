//! EPSG:3857 (Web Mercator) tile maths: the XYZ tile scheme of OSM, Google and MapLibre.
//!
//! Zoom `z` splits the world into `2^z × 2^z` tiles; `x` grows east from 180°W, `y` grows south
//! from 85.0511°N (the latitude where Web Mercator turns the world into a square). Inside a
//! tile, coordinates run `0..EXTENT` with y down, and [`BUFFER`] units beyond each edge are kept
//! so that lines and circles near an edge are drawn whole by both neighbours.
//!
//! Inputs are EPSG:4326 degrees; "world" coordinates are Web Mercator scaled to `0..1`.

use geo::Rect;

/// Tile coordinates per tile side (MVT's usual 4096: 1/8 px on a 512-px tile).
pub const EXTENT: u32 = 4096;
/// Tile units kept beyond each edge: 16 px of a 512-px tile, more than half the widest line
/// and the biggest circle the style draws.
pub const BUFFER: u32 = 128;
/// The deepest zoom served. Beyond it MapLibre over-zooms: at z16 a tile unit is about 1 dm.
pub const MAX_ZOOM: u8 = 16;
/// Web Mercator's latitude limit, degrees.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Longitude (degrees) → world x in `0..1`.
#[inline]
pub fn lon_to_world(lon: f64) -> f64 {
    (lon + 180.0) / 360.0
}

/// Latitude (degrees) → world y in `0..1` (north at 0); clamped to [`MAX_LAT`].
#[inline]
pub fn lat_to_world(lat: f64) -> f64 {
    // ln(tan φ + sec φ) = ½ ln((1 + sin φ) / (1 − sin φ)): one sine and one logarithm, the
    // cheapest form (this runs for every vertex of every tile).
    let s = lat.clamp(-MAX_LAT, MAX_LAT).to_radians().sin();
    0.5 - ((1.0 + s) / (1.0 - s)).ln() / (4.0 * std::f64::consts::PI)
}

/// World x → longitude (degrees).
#[inline]
pub fn world_to_lon(x: f64) -> f64 {
    x * 360.0 - 180.0
}

/// World y → latitude (degrees).
#[inline]
pub fn world_to_lat(y: f64) -> f64 {
    let n = std::f64::consts::PI * (1.0 - 2.0 * y);
    n.sinh().atan().to_degrees()
}

/// Why a tile address is not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileIdError {
    #[error("zoom {z} is beyond the deepest zoom served ({MAX_ZOOM}); clients over-zoom from {MAX_ZOOM}")]
    ZoomTooDeep { z: u32 },
    #[error("tile {x}/{y} does not exist at zoom {z}: x and y run from 0 to {max}")]
    OutOfRange { z: u8, x: u32, y: u32, max: u32 },
}

/// One tile of the XYZ scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// A tile, checked: `z <= MAX_ZOOM` and `x, y < 2^z`.
    pub fn new(z: u32, x: u32, y: u32) -> Result<TileId, TileIdError> {
        if z > u32::from(MAX_ZOOM) {
            return Err(TileIdError::ZoomTooDeep { z });
        }
        let n = 1u32 << z;
        if x >= n || y >= n {
            return Err(TileIdError::OutOfRange { z: z as u8, x, y, max: n - 1 });
        }
        Ok(TileId { z: z as u8, x, y })
    }

    /// Tiles per side at this zoom.
    #[inline]
    pub fn scale(self) -> f64 {
        f64::from(1u32 << self.z)
    }

    /// (lon, lat) degrees → tile units (float; y down; may lie outside `0..EXTENT`).
    #[inline]
    pub fn project(self, lon: f64, lat: f64) -> (f64, f64) {
        let s = self.scale();
        let e = f64::from(EXTENT);
        ((lon_to_world(lon) * s - f64::from(self.x)) * e, (lat_to_world(lat) * s - f64::from(self.y)) * e)
    }

    /// Tile units → (lon, lat) degrees.
    pub fn unproject(self, tx: f64, ty: f64) -> (f64, f64) {
        let s = self.scale();
        let e = f64::from(EXTENT);
        (world_to_lon((tx / e + f64::from(self.x)) / s), world_to_lat((ty / e + f64::from(self.y)) / s))
    }

    /// The tile's box in EPSG:4326, grown by `buffer` tile units on every side.
    pub fn bounds_lonlat(self, buffer: u32) -> Rect<f64> {
        let b = f64::from(buffer);
        let e = f64::from(EXTENT);
        let (w, n) = self.unproject(-b, -b);
        let (east, s) = self.unproject(e + b, e + b);
        Rect::new((w, s), (east, n))
    }

    /// The tile's box in world coordinates (`0..1`), grown by `buffer` tile units.
    pub fn bounds_world(self, buffer: u32) -> [f64; 4] {
        let s = self.scale();
        let b = f64::from(buffer) / f64::from(EXTENT);
        [
            (f64::from(self.x) - b) / s,
            (f64::from(self.y) - b) / s,
            (f64::from(self.x) + 1.0 + b) / s,
            (f64::from(self.y) + 1.0 + b) / s,
        ]
    }

    /// Metres per tile unit at this tile's centre (for tolerances in tests and docs).
    pub fn metres_per_unit(self) -> f64 {
        let (_, lat) = self.unproject(f64::from(EXTENT) / 2.0, f64::from(EXTENT) / 2.0);
        40_075_016.686 * lat.to_radians().cos() / self.scale() / f64::from(EXTENT)
    }

    /// The tiles of zoom `z` whose box (grown by `buffer`) meets `bbox` (EPSG:4326), row by row.
    pub fn covering(bbox: Rect<f64>, z: u8, buffer: u32) -> impl Iterator<Item = TileId> {
        let s = f64::from(1u32 << z);
        let max = (1u32 << z) - 1;
        let b = f64::from(buffer) / f64::from(EXTENT);
        let cell = |v: f64| ((v * s).floor().max(0.0) as u32).min(max);
        let (x0, x1) = (cell(lon_to_world(bbox.min().x) - b / s), cell(lon_to_world(bbox.max().x) + b / s));
        let (y0, y1) = (cell(lat_to_world(bbox.max().y) - b / s), cell(lat_to_world(bbox.min().y) + b / s));
        (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| TileId { z, x, y }))
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn karamay_centre_falls_in_the_known_tile() {
        // 84.87°E 45.60°N at z14: x = floor((84.87 + 180) / 360 × 2^14) = floor(12054.5) = 12054.
        let t = TileId::covering(Rect::new((84.87, 45.6), (84.87, 45.6)), 14, 0).next().unwrap();
        assert_eq!((t.z, t.x), (14, 12054));
        let (tx, ty) = t.project(84.87, 45.6);
        assert!((0.0..4096.0).contains(&tx) && (0.0..4096.0).contains(&ty), "({tx}, {ty}) inside its tile");
    }

    #[test]
    fn project_and_unproject_are_inverse() {
        let t = TileId::new(12, 3013, 1456).unwrap();
        for (lon, lat) in [(84.8, 45.55), (84.95, 45.7), (-10.0, -30.0)] {
            let (tx, ty) = t.project(lon, lat);
            let (lo, la) = t.unproject(tx, ty);
            assert!((lo - lon).abs() < 1e-9 && (la - lat).abs() < 1e-9, "{lon},{lat} → {lo},{la}");
        }
    }

    #[test]
    fn latitude_formula_matches_the_textbook_one() {
        for lat in [-85.0, -45.6, 0.0, 12.3, 45.6, 84.9] {
            let phi = f64::to_radians(lat);
            let textbook = (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0;
            assert!((lat_to_world(lat) - textbook).abs() < 1e-14, "{lat}");
            assert!((world_to_lat(lat_to_world(lat)) - lat).abs() < 1e-10);
        }
    }

    #[test]
    fn the_world_tile_spans_the_mercator_square() {
        let b = TileId::new(0, 0, 0).unwrap().bounds_lonlat(0);
        assert!((b.min().x + 180.0).abs() < 1e-9 && (b.max().x - 180.0).abs() < 1e-9);
        assert!((b.max().y - MAX_LAT).abs() < 1e-9 && (b.min().y + MAX_LAT).abs() < 1e-9);
    }

    #[test]
    fn out_of_range_tiles_are_refused() {
        assert!(TileId::new(MAX_ZOOM.into(), 0, 0).is_ok());
        assert_eq!(TileId::new(17, 0, 0), Err(TileIdError::ZoomTooDeep { z: 17 }));
        assert_eq!(TileId::new(2, 4, 0), Err(TileIdError::OutOfRange { z: 2, x: 4, y: 0, max: 3 }));
        assert!(TileId::new(2, 3, 3).is_ok());
    }

    #[test]
    fn buffered_bounds_grow_by_the_buffer() {
        let t = TileId::new(14, 12055, 5800).unwrap();
        let (inner, outer) = (t.bounds_world(0), t.bounds_world(BUFFER));
        let unit = (inner[2] - inner[0]) / f64::from(EXTENT);
        assert!(((inner[0] - outer[0]) / unit - f64::from(BUFFER)).abs() < 1e-6);
        let covering: Vec<_> = TileId::covering(t.bounds_lonlat(0), 14, 0).collect();
        assert!(covering.contains(&t) && covering.len() <= 4, "a tile's own box covers it: {covering:?}");
    }
}
