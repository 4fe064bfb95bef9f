//! Well-Known Binary for gridmap's geometries: ISO/OGC WKB, PostGIS EWKB and the GeoPackage
//! geometry blob (GeoPackage 1.3 §2.1.3).
//!
//! Coordinates are EPSG:4326 (lon, lat) as everywhere in gridmap, but nothing here depends on
//! that: the SRID travels as a number. Only 2D is written. Readers accept either byte order,
//! ISO (`1001`, `2001`, `3001`...) and EWKB (`0x80000000`, `0x40000000`) Z/M type codes, and drop
//! the Z and M values, since gridmap's model is 2D.
//!
//! Writing is infallible: every `geo::Geometry` has a WKB form (`Line` is written as a
//! LineString, `Rect` and `Triangle` as Polygons). Reading checks every length against the bytes
//! that remain, so hostile or truncated input gives a [`WkbError`], never a panic or a huge
//! allocation.
//!
//! Empty geometries: an empty Polygon / LineString / Multi* has zero parts; an empty Point is
//! written, as OGC and GeoPackage prescribe, with NaN coordinates (and read back as a Point whose
//! coordinates are NaN, since `geo` has no empty Point).
//!
//! This module owns only the byte formats; it knows nothing of SQL or of the layers.

use geo::{Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

/// The SRID gridmap stores everything in (WGS84 lon/lat).
pub const SRID_WGS84: i32 = 4326;

/// Why a WKB, EWKB or GeoPackage blob could not be read. Offsets are byte offsets into the
/// input that was passed in.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WkbError {
    #[error("WKB is truncated: {needed} more bytes needed at offset {offset}, only {available} left")]
    Truncated { offset: usize, needed: usize, available: usize },
    #[error("invalid WKB byte-order byte {found:#04x} at offset {offset} (0 = big-endian, 1 = little-endian)")]
    ByteOrder { offset: usize, found: u8 },
    #[error("unsupported WKB geometry type {code} at offset {offset}; gridmap reads types 1-7 in 2D, Z, M or ZM")]
    UnsupportedType { offset: usize, code: u32 },
    #[error("a {container} at offset {offset} holds a {found}; it may hold only {expected}s")]
    WrongMember { offset: usize, container: &'static str, expected: &'static str, found: &'static str },
    #[error("{what} at offset {offset} claims {count} elements, more than the {available} bytes left could hold")]
    BadCount { offset: usize, what: &'static str, count: u32, available: usize },
    #[error("geometry collections nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("{0} unexpected bytes after the end of the geometry")]
    TrailingBytes(usize),
    #[error("not a GeoPackage geometry blob: it starts with {found:02x?}, not the magic \"GP\" (47 50)")]
    GpkgMagic { found: Vec<u8> },
    #[error("unsupported GeoPackage geometry blob version {0}; only version 0 (GeoPackage 1.x) exists")]
    GpkgVersion(u8),
    #[error("GeoPackage extended geometry blobs (flag bit 5 set) are not supported")]
    GpkgExtended,
    #[error("invalid GeoPackage envelope indicator {0}; 0-4 are defined")]
    GpkgEnvelope(u8),
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// EWKB flag: an SRID follows the type code (PostGIS extension).
const EWKB_SRID: u32 = 0x2000_0000;
const EWKB_Z: u32 = 0x8000_0000;
const EWKB_M: u32 = 0x4000_0000;

const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;
const MULTIPOINT: u32 = 4;
const MULTILINESTRING: u32 = 5;
const MULTIPOLYGON: u32 = 6;
const COLLECTION: u32 = 7;

/// Encodes `geom` as 2D ISO/OGC WKB, little-endian.
pub fn to_wkb(geom: &Geometry<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(wkb_size_hint(geom));
    write_geometry(&mut out, geom, None);
    out
}

/// Encodes `geom` as PostGIS EWKB (little-endian) carrying `srid`, e.g. [`SRID_WGS84`].
/// PostGIS accepts it as a `geometry` parameter with the SRID already set.
pub fn to_ewkb(geom: &Geometry<f64>, srid: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(wkb_size_hint(geom) + 4);
    write_geometry(&mut out, geom, Some(srid));
    out
}

/// Encodes `geom` as a GeoPackage geometry blob (GeoPackage 1.3 §2.1.3): magic `GP`, version 0,
/// little-endian header with the `[minx, maxx, miny, maxy]` envelope (or none and the empty flag
/// for an empty geometry), `srs_id`, then 2D ISO WKB.
pub fn to_gpkg_blob(geom: &Geometry<f64>, srs_id: i32) -> Vec<u8> {
    let envelope = envelope(geom);
    let mut out = Vec::with_capacity(8 + 32 + wkb_size_hint(geom));
    out.extend_from_slice(b"GP");
    out.push(0); // version 0 = GeoPackage 1.x
                 // Flags: bit 0 = little-endian header, bits 1-3 = envelope kind (1 = xy), bit 4 = empty.
    let flags = match envelope {
        Some(_) => 0b0000_0011,
        None => 0b0001_0001,
    };
    out.push(flags);
    out.extend_from_slice(&srs_id.to_le_bytes());
    if let Some([min_x, max_x, min_y, max_y]) = envelope {
        for v in [min_x, max_x, min_y, max_y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_geometry(&mut out, geom, None);
    out
}

/// The `[min_x, max_x, min_y, max_y]` envelope of `geom` in the order GeoPackage headers use,
/// or `None` for an empty geometry. NaN coordinates (empty points) are ignored.
pub fn envelope(geom: &Geometry<f64>) -> Option<[f64; 4]> {
    let mut env: Option<[f64; 4]> = None;
    for_each_coord(geom, &mut |c| {
        if c.x.is_nan() || c.y.is_nan() {
            return;
        }
        env = Some(match env {
            None => [c.x, c.x, c.y, c.y],
            Some([a, b, y0, y1]) => [a.min(c.x), b.max(c.x), y0.min(c.y), y1.max(c.y)],
        });
    });
    env
}

fn for_each_coord(geom: &Geometry<f64>, f: &mut impl FnMut(Coord<f64>)) {
    fn polygon(p: &Polygon<f64>, f: &mut impl FnMut(Coord<f64>)) {
        p.exterior().0.iter().for_each(|c| f(*c));
        p.interiors().iter().flat_map(|r| r.0.iter()).for_each(|c| f(*c));
    }
    match geom {
        Geometry::Point(p) => f(p.0),
        Geometry::Line(l) => {
            f(l.start);
            f(l.end)
        }
        Geometry::LineString(ls) => ls.0.iter().for_each(|c| f(*c)),
        Geometry::Polygon(p) => polygon(p, f),
        Geometry::MultiPoint(mp) => mp.0.iter().for_each(|p| f(p.0)),
        Geometry::MultiLineString(ml) => ml.0.iter().flat_map(|l| l.0.iter()).for_each(|c| f(*c)),
        Geometry::MultiPolygon(mp) => mp.0.iter().for_each(|p| polygon(p, f)),
        Geometry::GeometryCollection(gc) => gc.0.iter().for_each(|g| for_each_coord(g, f)),
        Geometry::Rect(r) => polygon(&r.to_polygon(), f),
        Geometry::Triangle(t) => polygon(&t.to_polygon(), f),
    }
}

/// A close upper-ish guess of the encoded size, to allocate once.
fn wkb_size_hint(geom: &Geometry<f64>) -> usize {
    let mut n = 0usize;
    for_each_coord(geom, &mut |_| n += 1);
    9 + 16 * n + 64
}

fn header(out: &mut Vec<u8>, code: u32, srid: Option<i32>) {
    out.push(1); // little-endian
    match srid {
        Some(s) => {
            out.extend_from_slice(&(code | EWKB_SRID).to_le_bytes());
            out.extend_from_slice(&s.to_le_bytes());
        }
        None => out.extend_from_slice(&code.to_le_bytes()),
    }
}

fn count(out: &mut Vec<u8>, n: usize) {
    // WKB counts are u32; a geometry with more than 4 billion parts cannot be in memory anyway.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn coord(out: &mut Vec<u8>, c: Coord<f64>) {
    out.extend_from_slice(&c.x.to_le_bytes());
    out.extend_from_slice(&c.y.to_le_bytes());
}

fn coords(out: &mut Vec<u8>, ls: &LineString<f64>) {
    count(out, ls.0.len());
    ls.0.iter().for_each(|c| coord(out, *c));
}

fn polygon_body(out: &mut Vec<u8>, p: &Polygon<f64>) {
    // An empty polygon is zero rings (not one empty ring), so that it reads back as empty.
    if p.exterior().0.is_empty() && p.interiors().is_empty() {
        count(out, 0);
        return;
    }
    count(out, 1 + p.interiors().len());
    coords(out, p.exterior());
    p.interiors().iter().for_each(|r| coords(out, r));
}

fn write_geometry(out: &mut Vec<u8>, geom: &Geometry<f64>, srid: Option<i32>) {
    match geom {
        Geometry::Point(p) => {
            header(out, POINT, srid);
            coord(out, p.0);
        }
        Geometry::Line(l) => {
            header(out, LINESTRING, srid);
            coords(out, &LineString(vec![l.start, l.end]));
        }
        Geometry::LineString(ls) => {
            header(out, LINESTRING, srid);
            coords(out, ls);
        }
        Geometry::Polygon(p) => {
            header(out, POLYGON, srid);
            polygon_body(out, p);
        }
        Geometry::MultiPoint(mp) => {
            header(out, MULTIPOINT, srid);
            count(out, mp.0.len());
            for p in &mp.0 {
                header(out, POINT, None);
                coord(out, p.0);
            }
        }
        Geometry::MultiLineString(ml) => {
            header(out, MULTILINESTRING, srid);
            count(out, ml.0.len());
            for ls in &ml.0 {
                header(out, LINESTRING, None);
                coords(out, ls);
            }
        }
        Geometry::MultiPolygon(mp) => {
            header(out, MULTIPOLYGON, srid);
            count(out, mp.0.len());
            for p in &mp.0 {
                header(out, POLYGON, None);
                polygon_body(out, p);
            }
        }
        Geometry::GeometryCollection(gc) => {
            header(out, COLLECTION, srid);
            count(out, gc.0.len());
            gc.0.iter().for_each(|g| write_geometry(out, g, None));
        }
        Geometry::Rect(r) => write_geometry(out, &Geometry::Polygon(r.to_polygon()), srid),
        Geometry::Triangle(t) => write_geometry(out, &Geometry::Polygon(t.to_polygon()), srid),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Decodes ISO/OGC WKB (either byte order; Z and M dropped). EWKB is accepted too, its SRID
/// ignored; use [`from_ewkb`] to get it. The whole input must be one geometry.
pub fn from_wkb(bytes: &[u8]) -> Result<Geometry<f64>, WkbError> {
    from_ewkb(bytes).map(|(g, _)| g)
}

/// Decodes PostGIS EWKB (or plain WKB) and returns the geometry with its SRID, if it has one.
pub fn from_ewkb(bytes: &[u8]) -> Result<(Geometry<f64>, Option<i32>), WkbError> {
    let mut r = Reader { bytes, pos: 0, big_endian: false };
    let (geom, srid) = r.geometry(0)?;
    if r.pos != bytes.len() {
        return Err(WkbError::TrailingBytes(bytes.len() - r.pos));
    }
    Ok((geom, srid))
}

/// A geometry read from a GeoPackage blob, with the blob's header fields.
#[derive(Debug, Clone, PartialEq)]
pub struct GpkgGeometry {
    /// `srs_id` from the header (a row of `gpkg_spatial_ref_sys`; 4326 in gridmap's files).
    pub srs_id: i32,
    /// The header's empty flag.
    pub empty: bool,
    pub geometry: Geometry<f64>,
}

/// Decodes a GeoPackage geometry blob (GeoPackage 1.3 §2.1.3): any header byte order, any
/// envelope kind (skipped, since it is derivable), then standard WKB.
pub fn from_gpkg_blob(bytes: &[u8]) -> Result<GpkgGeometry, WkbError> {
    let mut r = Reader { bytes, pos: 0, big_endian: false };
    let magic = r.take(2)?;
    if magic != b"GP" {
        return Err(WkbError::GpkgMagic { found: magic.to_vec() });
    }
    let version = r.u8()?;
    if version != 0 {
        return Err(WkbError::GpkgVersion(version));
    }
    let flags = r.u8()?;
    if flags & 0b0010_0000 != 0 {
        return Err(WkbError::GpkgExtended);
    }
    let empty = flags & 0b0001_0000 != 0;
    // Doubles in the envelope: none, xy, xyz, xym, xyzm.
    let envelope_doubles = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 4,
        2 | 3 => 6,
        4 => 8,
        other => return Err(WkbError::GpkgEnvelope(other)),
    };
    r.big_endian = flags & 1 == 0;
    let srs_id = r.u32()? as i32;
    r.take(envelope_doubles * 8)?;
    let (geometry, _) = r.geometry(0)?;
    if r.pos != bytes.len() {
        return Err(WkbError::TrailingBytes(bytes.len() - r.pos));
    }
    Ok(GpkgGeometry { srs_id, empty, geometry })
}

/// How deep GeometryCollections may nest before we refuse (stack safety on hostile input).
const MAX_DEPTH: usize = 32;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Byte order of the geometry being read; every (sub)geometry sets its own.
    big_endian: bool,
}

/// A parsed geometry header: base type (1-7), number of ordinates per coordinate, SRID.
struct Header {
    offset: usize,
    kind: u32,
    dims: usize,
    srid: Option<i32>,
}

fn type_name(kind: u32) -> &'static str {
    match kind {
        POINT => "Point",
        LINESTRING => "LineString",
        POLYGON => "Polygon",
        MULTIPOINT => "MultiPoint",
        MULTILINESTRING => "MultiLineString",
        MULTIPOLYGON => "MultiPolygon",
        _ => "GeometryCollection",
    }
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WkbError> {
        if self.remaining() < n {
            return Err(WkbError::Truncated { offset: self.pos, needed: n, available: self.remaining() });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, WkbError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, WkbError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(if self.big_endian { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
    }

    fn f64(&mut self) -> Result<f64, WkbError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(if self.big_endian { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) })
    }

    /// Reads an element count and checks that `min_bytes_each` times it fits in what is left,
    /// so that a corrupt count cannot make us allocate gigabytes.
    fn count(&mut self, what: &'static str, min_bytes_each: usize) -> Result<usize, WkbError> {
        let offset = self.pos;
        let count = self.u32()?;
        let n = count as usize;
        if n.saturating_mul(min_bytes_each) > self.remaining() {
            return Err(WkbError::BadCount { offset, what, count, available: self.remaining() });
        }
        Ok(n)
    }

    fn header(&mut self) -> Result<Header, WkbError> {
        let offset = self.pos;
        self.big_endian = match self.u8()? {
            0 => true,
            1 => false,
            found => return Err(WkbError::ByteOrder { offset, found }),
        };
        let code = self.u32()?;
        let srid = if code & EWKB_SRID != 0 { Some(self.u32()? as i32) } else { None };
        let ewkb_dims = usize::from(code & EWKB_Z != 0) + usize::from(code & EWKB_M != 0);
        let iso = code & 0x0FFF_FFFF;
        let (kind, iso_dims) = (iso % 1000, iso / 1000);
        if !(POINT..=COLLECTION).contains(&kind) || iso_dims > 3 || (iso_dims > 0 && ewkb_dims > 0) {
            return Err(WkbError::UnsupportedType { offset, code });
        }
        // ISO thousands: 1 = Z, 2 = M, 3 = ZM.
        let iso_extra = match iso_dims {
            0 => 0,
            3 => 2,
            _ => 1,
        };
        let extra = iso_extra + ewkb_dims;
        Ok(Header { offset, kind, dims: 2 + extra, srid })
    }

    fn coord(&mut self, dims: usize) -> Result<Coord<f64>, WkbError> {
        let x = self.f64()?;
        let y = self.f64()?;
        // Z and M are read past and dropped: gridmap is 2D.
        self.take((dims - 2) * 8)?;
        Ok(Coord { x, y })
    }

    fn line(&mut self, dims: usize) -> Result<LineString<f64>, WkbError> {
        let n = self.count("LineString", dims * 8)?;
        let mut cs = Vec::with_capacity(n);
        for _ in 0..n {
            cs.push(self.coord(dims)?);
        }
        Ok(LineString(cs))
    }

    fn polygon(&mut self, dims: usize) -> Result<Polygon<f64>, WkbError> {
        let n = self.count("Polygon", 4)?;
        if n == 0 {
            return Ok(Polygon::new(LineString(vec![]), vec![]));
        }
        let exterior = self.line(dims)?;
        let mut interiors = Vec::with_capacity(n - 1);
        for _ in 1..n {
            interiors.push(self.line(dims)?);
        }
        Ok(Polygon::new(exterior, interiors))
    }

    /// Reads a member of a Multi* and checks its type.
    fn member(&mut self, container: u32, expected: u32) -> Result<Header, WkbError> {
        let h = self.header()?;
        if h.kind != expected {
            return Err(WkbError::WrongMember {
                offset: h.offset,
                container: type_name(container),
                expected: type_name(expected),
                found: type_name(h.kind),
            });
        }
        Ok(h)
    }

    fn geometry(&mut self, depth: usize) -> Result<(Geometry<f64>, Option<i32>), WkbError> {
        if depth > MAX_DEPTH {
            return Err(WkbError::TooDeep(MAX_DEPTH));
        }
        let h = self.header()?;
        let geom = match h.kind {
            POINT => Geometry::Point(Point(self.coord(h.dims)?)),
            LINESTRING => Geometry::LineString(self.line(h.dims)?),
            POLYGON => Geometry::Polygon(self.polygon(h.dims)?),
            MULTIPOINT => {
                // A member is at least a 5-byte header plus its coordinate.
                let n = self.count("MultiPoint", 5 + 16)?;
                let mut ps = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.member(MULTIPOINT, POINT)?;
                    ps.push(Point(self.coord(m.dims)?));
                }
                Geometry::MultiPoint(MultiPoint(ps))
            }
            MULTILINESTRING => {
                let n = self.count("MultiLineString", 5 + 4)?;
                let mut ls = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.member(MULTILINESTRING, LINESTRING)?;
                    ls.push(self.line(m.dims)?);
                }
                Geometry::MultiLineString(MultiLineString(ls))
            }
            MULTIPOLYGON => {
                let n = self.count("MultiPolygon", 5 + 4)?;
                let mut ps = Vec::with_capacity(n);
                for _ in 0..n {
                    let m = self.member(MULTIPOLYGON, POLYGON)?;
                    ps.push(self.polygon(m.dims)?);
                }
                Geometry::MultiPolygon(MultiPolygon(ps))
            }
            _ => {
                let n = self.count("GeometryCollection", 5)?;
                let mut gs = Vec::with_capacity(n);
                for _ in 0..n {
                    gs.push(self.geometry(depth + 1)?.0);
                }
                Geometry::GeometryCollection(GeometryCollection(gs))
            }
        };
        Ok((geom, h.srid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{line_string, point, polygon};

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn square_with_hole() -> Polygon<f64> {
        polygon!(
            exterior: [(x: 84.0, y: 45.0), (x: 84.1, y: 45.0), (x: 84.1, y: 45.1), (x: 84.0, y: 45.1), (x: 84.0, y: 45.0)],
            interiors: [[(x: 84.02, y: 45.02), (x: 84.04, y: 45.02), (x: 84.04, y: 45.04), (x: 84.02, y: 45.02)]],
        )
    }

    fn samples() -> Vec<Geometry<f64>> {
        vec![
            // Coordinates chosen so that decimal printing would not round-trip them.
            Geometry::Point(point!(x: 84.873_456_789_012_34, y: 0.1 + 0.2)),
            Geometry::LineString(line_string![(x: 84.0, y: 45.0), (x: -179.999_999_999, y: -89.5)]),
            Geometry::Polygon(square_with_hole()),
            Geometry::MultiPolygon(MultiPolygon(vec![
                square_with_hole(),
                polygon![(x: 85.0, y: 46.0), (x: 85.5, y: 46.0), (x: 85.0, y: 46.5), (x: 85.0, y: 46.0)],
            ])),
            Geometry::MultiPoint(MultiPoint(vec![point!(x: 1.0, y: 2.0), point!(x: 3.0, y: 4.0)])),
            Geometry::MultiLineString(MultiLineString(vec![line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)]])),
            Geometry::GeometryCollection(GeometryCollection(vec![
                Geometry::Point(point!(x: 1.0, y: 2.0)),
                Geometry::Polygon(square_with_hole()),
            ])),
        ]
    }

    fn empties() -> Vec<Geometry<f64>> {
        vec![
            Geometry::LineString(LineString(vec![])),
            Geometry::Polygon(Polygon::new(LineString(vec![]), vec![])),
            Geometry::MultiPolygon(MultiPolygon(vec![])),
            Geometry::MultiPoint(MultiPoint(vec![])),
            Geometry::GeometryCollection(GeometryCollection(vec![])),
        ]
    }

    #[test]
    fn known_bytes_match_the_ogc_and_postgis_encodings() {
        // POINT(1 2) as written by PostGIS ST_AsBinary / ST_AsEWKB with SRID 4326.
        let p = Geometry::Point(point!(x: 1.0, y: 2.0));
        assert_eq!(to_wkb(&p), hex("0101000000000000000000F03F0000000000000040"));
        assert_eq!(to_ewkb(&p, 4326), hex("0101000020E6100000000000000000F03F0000000000000040"));
        assert_eq!(from_ewkb(&to_ewkb(&p, 4326)).unwrap(), (p, Some(4326)));
    }

    #[test]
    fn every_type_round_trips_bit_for_bit() {
        for g in samples().into_iter().chain(empties()) {
            assert_eq!(from_wkb(&to_wkb(&g)).unwrap(), g, "WKB");
            assert_eq!(from_ewkb(&to_ewkb(&g, SRID_WGS84)).unwrap(), (g.clone(), Some(4326)), "EWKB");
            let blob = from_gpkg_blob(&to_gpkg_blob(&g, SRID_WGS84)).unwrap();
            assert_eq!((blob.srs_id, blob.geometry), (4326, g), "GeoPackage blob");
        }
    }

    #[test]
    fn big_endian_input_is_read() {
        // POINT(1 2), big-endian (XDR).
        let be = hex("00000000013FF00000000000004000000000000000");
        assert_eq!(from_wkb(&be).unwrap(), Geometry::Point(point!(x: 1.0, y: 2.0)));
        // MULTIPOLYGON(((0 0,1 0,0 1,0 0))): big-endian outside, little-endian member.
        let mut mp = hex("000000000600000001");
        mp.extend(to_wkb(&Geometry::Polygon(polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)])));
        match from_wkb(&mp).unwrap() {
            Geometry::MultiPolygon(m) => assert_eq!(m.0[0].exterior().0.len(), 4),
            other => panic!("expected a MultiPolygon, got {other:?}"),
        }
    }

    #[test]
    fn z_and_m_are_dropped_in_iso_and_ewkb_forms() {
        let want = Geometry::Point(point!(x: 1.0, y: 2.0));
        let xyz = [1.0f64, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>();
        let xyzm = [1.0f64, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>();
        for (code, body) in
            [(1001u32, &xyz), (2001, &xyz), (3001, &xyzm), (1 | EWKB_Z, &xyz), (1 | EWKB_Z | EWKB_M, &xyzm)]
        {
            let mut b = vec![1u8];
            b.extend(code.to_le_bytes());
            b.extend(body);
            assert_eq!(from_wkb(&b).unwrap(), want, "type code {code:#x}");
        }
    }

    #[test]
    fn truncated_input_is_an_error_at_every_length() {
        for g in samples() {
            let full = to_wkb(&g);
            for len in 0..full.len() {
                let err = from_wkb(&full[..len]).unwrap_err();
                assert!(matches!(err, WkbError::Truncated { .. } | WkbError::BadCount { .. }), "{len}: {err}");
            }
            let blob = to_gpkg_blob(&g, 4326);
            for len in 0..blob.len() {
                assert!(from_gpkg_blob(&blob[..len]).is_err(), "blob prefix of {len} bytes");
            }
        }
    }

    #[test]
    fn hostile_counts_and_junk_are_rejected_without_allocating() {
        // A LineString claiming 4 billion points in 9 bytes.
        let mut b = vec![1u8];
        b.extend(2u32.to_le_bytes());
        b.extend(u32::MAX.to_le_bytes());
        assert!(matches!(from_wkb(&b), Err(WkbError::BadCount { count: u32::MAX, .. })));
        assert!(matches!(from_wkb(&[7, 1, 0, 0, 0]), Err(WkbError::ByteOrder { found: 7, .. })));
        let mut unknown = vec![1u8];
        unknown.extend(17u32.to_le_bytes());
        assert!(matches!(from_wkb(&unknown), Err(WkbError::UnsupportedType { code: 17, .. })));
        let mut trailing = to_wkb(&Geometry::Point(point!(x: 1.0, y: 2.0)));
        trailing.push(0);
        assert_eq!(from_wkb(&trailing), Err(WkbError::TrailingBytes(1)));
        // A MultiPolygon whose member is a Point.
        let mut wrong = vec![1u8];
        wrong.extend(6u32.to_le_bytes());
        wrong.extend(1u32.to_le_bytes());
        wrong.extend(to_wkb(&Geometry::Point(point!(x: 1.0, y: 2.0))));
        let msg = from_wkb(&wrong).unwrap_err().to_string();
        assert!(msg.contains("MultiPolygon") && msg.contains("Point"), "{msg}");
    }

    #[test]
    fn gpkg_header_layout_follows_the_standard() {
        let g = Geometry::Polygon(square_with_hole());
        let b = to_gpkg_blob(&g, 4326);
        assert_eq!(&b[..4], b"GP\x00\x03", "magic, version 0, flags: little-endian + xy envelope");
        assert_eq!(i32::from_le_bytes([b[4], b[5], b[6], b[7]]), 4326);
        let env: Vec<f64> = (0..4).map(|i| f64::from_le_bytes(b[8 + 8 * i..16 + 8 * i].try_into().unwrap())).collect();
        assert_eq!(env, [84.0, 84.1, 45.0, 45.1], "envelope order is minx, maxx, miny, maxy");
        assert_eq!(&b[40..], to_wkb(&g).as_slice(), "the body is plain ISO WKB");

        let empty = to_gpkg_blob(&Geometry::MultiPolygon(MultiPolygon(vec![])), 4326);
        assert_eq!(empty[3], 0b0001_0001, "empty flag, no envelope");
        assert!(from_gpkg_blob(&empty).unwrap().empty);
        let nan_point = to_gpkg_blob(&Geometry::Point(Point::new(f64::NAN, f64::NAN)), 4326);
        assert_eq!(nan_point[3], 0b0001_0001, "an empty point is NaN, NaN with the empty flag");
    }

    #[test]
    fn gpkg_blobs_from_other_writers_are_read() {
        // Big-endian header with an xyz envelope (as some writers produce), then big-endian WKB.
        let mut b = b"GP\x00".to_vec();
        b.push(0b0000_0100); // big-endian header, envelope kind 2 (xyz)
        b.extend(4326i32.to_be_bytes());
        b.extend([0u8; 48]);
        b.extend(hex("00000000013FF00000000000004000000000000000"));
        let g = from_gpkg_blob(&b).unwrap();
        assert_eq!((g.srs_id, g.geometry), (4326, Geometry::Point(point!(x: 1.0, y: 2.0))));

        assert!(matches!(from_gpkg_blob(b"XX\x00\x01\0\0\0\0"), Err(WkbError::GpkgMagic { .. })));
        assert_eq!(from_gpkg_blob(b"GP\x01\x01\0\0\0\0"), Err(WkbError::GpkgVersion(1)));
        assert_eq!(from_gpkg_blob(b"GP\x00\x21\0\0\0\0"), Err(WkbError::GpkgExtended));
        assert_eq!(from_gpkg_blob(b"GP\x00\x0b\0\0\0\0"), Err(WkbError::GpkgEnvelope(5)));
    }
}
