//! Coordinate systems.
//!
//! * **WGS84 / EPSG:4326** (`lon`, `lat` in degrees) is what gridmap stores and serves.
//!   CGCS2000 (EPSG:4490) differs by centimetres here and is treated as identical.
//! * **GCJ-02** is the obfuscated datum that Chinese consumer web maps use. Every point-taking
//!   endpoint accepts `crs=gcj02`; [`gcj02_to_wgs84`] converts (iteratively, to ~1e-9°).
//! * **Local metres** ([`LocalProjection`]): an equirectangular projection centred on the data,
//!   used for distances, areas and travel times. Over a 20 km district its scale error is below
//!   0.1 %, far under the accuracy of the data.

use serde::{Deserialize, Serialize};

/// Mean Earth radius in metres (IUGG), used by the local projection.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Which datum a caller's coordinates are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputCrs {
    /// EPSG:4326 (and CGCS2000), the default.
    #[default]
    Wgs84,
    /// GCJ-02, as used by consumer web maps in China.
    Gcj02,
}

impl InputCrs {
    /// Parses `wgs84`, `epsg:4326`, `4326`, `cgcs2000`, `epsg:4490` or `gcj02` (case-insensitive).
    pub fn parse(s: &str) -> Option<InputCrs> {
        match s.to_ascii_lowercase().as_str() {
            "wgs84" | "epsg:4326" | "4326" | "cgcs2000" | "epsg:4490" | "4490" => Some(InputCrs::Wgs84),
            "gcj02" | "gcj-02" => Some(InputCrs::Gcj02),
            _ => None,
        }
    }

    /// Converts `(lon, lat)` in this CRS to WGS84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            InputCrs::Wgs84 => (lon, lat),
            InputCrs::Gcj02 => gcj02_to_wgs84(lon, lat),
        }
    }
}

/// Checks that `(lon, lat)` are finite degrees in range. Returns a message a person can act on.
pub fn check_lon_lat(lon: f64, lat: f64) -> Result<(), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!("coordinates must be finite numbers, got lon={lon}, lat={lat}"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("lon={lon} is out of range: longitude must be between -180 and 180"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("lat={lat} is out of range: latitude must be between -90 and 90"));
    }
    Ok(())
}

/// An equirectangular projection to metres around a centre `(lon0, lat0)` (EPSG:4326 degrees).
/// `x` grows east, `y` grows north, both in metres from the centre.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LocalProjection {
    pub lon0: f64,
    pub lat0: f64,
    m_per_deg_lon: f64,
    m_per_deg_lat: f64,
}

impl LocalProjection {
    /// A projection centred on `(lon0, lat0)` in degrees.
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let m_per_deg_lat = EARTH_RADIUS_M.to_radians();
        LocalProjection { lon0, lat0, m_per_deg_lon: m_per_deg_lat * lat0.to_radians().cos(), m_per_deg_lat }
    }

    /// Degrees (lon, lat) → local metres (x, y).
    #[inline]
    pub fn to_local(&self, lon: f64, lat: f64) -> (f64, f64) {
        ((lon - self.lon0) * self.m_per_deg_lon, (lat - self.lat0) * self.m_per_deg_lat)
    }

    /// Local metres (x, y) → degrees (lon, lat).
    #[inline]
    pub fn to_lon_lat(&self, x: f64, y: f64) -> (f64, f64) {
        (self.lon0 + x / self.m_per_deg_lon, self.lat0 + y / self.m_per_deg_lat)
    }

    /// Metres per degree of longitude and of latitude at the centre.
    pub fn scale(&self) -> (f64, f64) {
        (self.m_per_deg_lon, self.m_per_deg_lat)
    }
}

// GCJ-02 constants (Krasovsky 1940 ellipsoid), from the widely published reverse-engineered
// transform.
const GCJ_A: f64 = 6_378_245.0;
const GCJ_EE: f64 = 0.006_693_421_622_965_943;

fn outside_china(lon: f64, lat: f64) -> bool {
    !(72.004..=137.8347).contains(&lon) || !(0.8293..=55.8271).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    use std::f64::consts::PI;
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

/// WGS84 → GCJ-02 (degrees). Identity outside China, as the datum is defined.
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    use std::f64::consts::PI;
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let dlat = transform_lat(lon - 105.0, lat - 35.0);
    let dlon = transform_lon(lon - 105.0, lat - 35.0);
    let radlat = lat / 180.0 * PI;
    let magic = 1.0 - GCJ_EE * radlat.sin() * radlat.sin();
    let sqrtmagic = magic.sqrt();
    let dlat = (dlat * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrtmagic) * PI);
    let dlon = (dlon * 180.0) / (GCJ_A / sqrtmagic * radlat.cos() * PI);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS84 (degrees), by fixed-point iteration of the forward transform; converges to
/// better than 1e-9° (0.1 mm) in a few steps.
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if outside_china(lon, lat) {
        return (lon, lat);
    }
    let (mut wlon, mut wlat) = (lon, lat);
    for _ in 0..30 {
        let (glon, glat) = wgs84_to_gcj02(wlon, wlat);
        let (dlon, dlat) = (glon - lon, glat - lat);
        wlon -= dlon;
        wlat -= dlat;
        if dlon.abs() < 1e-10 && dlat.abs() < 1e-10 {
            break;
        }
    }
    (wlon, wlat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcj02_round_trip_is_sub_millimetre_in_karamay() {
        for i in 0..100 {
            let lon = 84.80 + i as f64 * 0.002;
            let lat = 45.55 + i as f64 * 0.001;
            let (glon, glat) = wgs84_to_gcj02(lon, lat);
            // The GCJ-02 offset in Xinjiang is tens to hundreds of metres, never zero.
            assert!((glon - lon).abs() > 1e-4 || (glat - lat).abs() > 1e-4);
            let (wlon, wlat) = gcj02_to_wgs84(glon, glat);
            assert!((wlon - lon).abs() < 1e-8 && (wlat - lat).abs() < 1e-8, "{wlon},{wlat} vs {lon},{lat}");
        }
    }

    #[test]
    fn outside_china_gcj02_is_identity() {
        assert_eq!(gcj02_to_wgs84(2.35, 48.85), (2.35, 48.85));
    }

    #[test]
    fn local_projection_round_trips_and_has_metre_scale() {
        let p = LocalProjection::new(84.87, 45.6);
        let (x, y) = p.to_local(84.88, 45.61);
        // 0.01° of latitude is ~1112 m anywhere; 0.01° of longitude at 45.6° is ~778 m.
        assert!((y - 1111.95).abs() < 0.1, "{y}");
        assert!((x - 777.9).abs() < 0.5, "{x}");
        let (lon, lat) = p.to_lon_lat(x, y);
        assert!((lon - 84.88).abs() < 1e-12 && (lat - 45.61).abs() < 1e-12);
    }

    #[test]
    fn rejects_out_of_range_and_nan() {
        assert!(check_lon_lat(f64::NAN, 45.0).is_err());
        assert!(check_lon_lat(181.0, 45.0).is_err());
        assert!(check_lon_lat(84.0, -90.5).is_err());
        assert!(check_lon_lat(84.0, 45.0).is_ok());
    }
}
