//! A small Mapbox Vector Tile 2.1 codec: the protobuf wire format written and read by hand.
//!
//! The tile schema (`vector_tile.proto`) has four messages and needs only varints and
//! length-delimited fields, so a hundred lines replace a protobuf toolchain. [`TileWriter`]
//! encodes tiles from geometry already in tile coordinates (integers, `0..extent` inside the
//! tile, y down); [`decode`] reads any MVT 2.x tile back (the tests compare its output with the
//! index; unknown fields are skipped as the spec requires).
//!
//! Geometry follows the spec's command encoding: `MoveTo`/`LineTo`/`ClosePath` with zig-zag
//! deltas; polygon exterior rings are clockwise in tile coordinates (positive area by the
//! spec's surveyor's formula), holes counter-clockwise. This module does no clipping or
//! simplification (see [`super::clip`]); it writes what it is given.

use std::collections::HashMap;

/// A property value, as MVT types them.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    String(String),
    /// Written as `uint_value`.
    Uint(u64),
    /// Written as `sint_value`.
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl PropValue {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an `f64`, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            PropValue::Uint(v) => Some(v as f64),
            PropValue::Int(v) => Some(v as f64),
            PropValue::Double(v) => Some(v),
            _ => None,
        }
    }

    /// Feeds the value into a hasher (doubles by their bits), for content fingerprints.
    pub(crate) fn hash_into(&self, h: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        match self {
            PropValue::String(s) => (0u8, s).hash(h),
            PropValue::Uint(v) => (1u8, v).hash(h),
            PropValue::Int(v) => (2u8, v).hash(h),
            PropValue::Double(v) => (3u8, v.to_bits()).hash(h),
            PropValue::Bool(v) => (4u8, v).hash(h),
        }
    }
}

/// A non-string value by its encoding, for de-duplication (so a `NaN` cannot break the table).
fn scalar_key(v: &PropValue) -> Option<(u8, u64)> {
    match *v {
        PropValue::String(_) => None,
        PropValue::Uint(u) => Some((1, u)),
        PropValue::Int(i) => Some((2, i as u64)),
        PropValue::Double(d) => Some((3, d.to_bits())),
        PropValue::Bool(b) => Some((4, u64::from(b))),
    }
}

/// FxHash (rustc's hasher): the key and value tables hash short strings and integers from our
/// own data for every feature, where SipHash's protection against crafted keys buys nothing
/// and costs a tenth of a tile's time.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// The geometry type of a feature (`GeomType` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeomType {
    Unknown = 0,
    Point = 1,
    LineString = 2,
    Polygon = 3,
}

impl GeomType {
    fn from_u64(v: u64) -> GeomType {
        match v {
            1 => GeomType::Point,
            2 => GeomType::LineString,
            3 => GeomType::Polygon,
            _ => GeomType::Unknown,
        }
    }
}

const CMD_MOVE_TO: u32 = 1;
const CMD_LINE_TO: u32 = 2;
const CMD_CLOSE_PATH: u32 = 7;

fn command(id: u32, count: usize) -> u32 {
    (id & 0x7) | ((count as u32) << 3)
}

fn zigzag(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn unzigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Writes the command stream of one feature's geometry. The cursor starts at (0, 0) for
/// every feature, as the spec says.
#[derive(Debug, Default)]
pub struct GeometryEncoder {
    out: Vec<u32>,
    cursor: (i32, i32),
}

impl GeometryEncoder {
    /// An empty command stream, cursor at (0, 0).
    pub fn new() -> Self {
        GeometryEncoder::default()
    }

    fn delta(&mut self, p: (i32, i32)) {
        self.out.push(zigzag(p.0 - self.cursor.0));
        self.out.push(zigzag(p.1 - self.cursor.1));
        self.cursor = p;
    }

    /// One point (several calls make a multi-point).
    pub fn point(&mut self, p: (i32, i32)) {
        self.out.push(command(CMD_MOVE_TO, 1));
        self.delta(p);
    }

    /// One polygon ring, without its closing point (`ring[0] != ring[last]`), at least three
    /// points. Orientation is the caller's business.
    pub fn ring(&mut self, ring: &[(i32, i32)]) {
        let Some((&first, rest)) = ring.split_first() else { return };
        self.out.reserve(2 * ring.len() + 3);
        self.out.push(command(CMD_MOVE_TO, 1));
        self.delta(first);
        self.out.push(command(CMD_LINE_TO, rest.len()));
        for &p in rest {
            self.delta(p);
        }
        self.out.push(command(CMD_CLOSE_PATH, 1));
    }

    /// Whether nothing was written (such a feature must not be added).
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The command integers, for [`LayerWriter::add`].
    pub fn finish(self) -> Vec<u32> {
        self.out
    }
}

/// One layer being written.
#[derive(Debug)]
pub struct LayerWriter {
    name: String,
    extent: u32,
    features: Vec<u8>,
    keys: Vec<String>,
    values: Vec<PropValue>,
    /// String values by their FxHash; on a (rare) collision the value is simply not shared.
    string_index: FxMap<u64, u32>,
    scalar_index: FxMap<(u8, u64), u32>,
    /// Reused buffers: one feature's bytes and tags.
    scratch: Vec<u8>,
    tags: Vec<u32>,
    count: usize,
}

impl LayerWriter {
    /// An empty layer called `name` with `extent` units per tile side.
    pub fn new(name: &str, extent: u32) -> LayerWriter {
        LayerWriter {
            name: name.to_string(),
            extent,
            features: Vec::new(),
            keys: Vec::new(),
            values: Vec::new(),
            string_index: FxMap::default(),
            scalar_index: FxMap::default(),
            scratch: Vec::new(),
            tags: Vec::new(),
            count: 0,
        }
    }

    fn key(&mut self, k: &str) -> u32 {
        // A layer has a dozen keys at most: a scan beats hashing.
        if let Some(i) = self.keys.iter().position(|have| have == k) {
            return i as u32;
        }
        self.keys.push(k.to_string());
        (self.keys.len() - 1) as u32
    }

    fn value(&mut self, v: &PropValue) -> u32 {
        let next = self.values.len() as u32;
        let i = match v {
            PropValue::String(s) => {
                let mut h = FxHasher::default();
                std::hash::Hasher::write(&mut h, s.as_bytes());
                let h = std::hash::Hasher::finish(&h);
                match self.string_index.get(&h) {
                    Some(&i) if self.values[i as usize].as_str() == Some(s.as_str()) => return i,
                    Some(_) => next,
                    None => {
                        self.string_index.insert(h, next);
                        next
                    }
                }
            }
            _ => match scalar_key(v) {
                Some(k) => *self.scalar_index.entry(k).or_insert(next),
                None => next,
            },
        };
        if i == next {
            self.values.push(v.clone());
        }
        i
    }

    /// Adds a feature. Empty geometry is skipped (the spec forbids it).
    pub fn add(&mut self, id: Option<u64>, kind: GeomType, geometry: &[u32], props: &[(&str, PropValue)]) {
        if geometry.is_empty() {
            return;
        }
        let mut tags = std::mem::take(&mut self.tags);
        tags.clear();
        for (k, v) in props {
            tags.push(self.key(k));
            tags.push(self.value(v));
        }
        let f = &mut self.scratch;
        f.clear();
        if let Some(id) = id {
            put_tag(f, 1, WIRE_VARINT);
            put_varint(f, id);
        }
        put_packed(f, 2, &tags);
        put_tag(f, 3, WIRE_VARINT);
        put_varint(f, kind as u64);
        put_packed(f, 4, geometry);
        put_bytes(&mut self.features, 2, f);
        self.tags = tags;
        self.count += 1;
    }

    /// Features added so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no feature was added (the layer is then left out of the tile).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut l = Vec::with_capacity(self.features.len() + 64 * (self.keys.len() + self.values.len()));
        put_tag(&mut l, 15, WIRE_VARINT);
        put_varint(&mut l, 2);
        put_bytes(&mut l, 1, self.name.as_bytes());
        l.extend_from_slice(&self.features);
        for k in &self.keys {
            put_bytes(&mut l, 3, k.as_bytes());
        }
        let mut v = Vec::new();
        for value in &self.values {
            v.clear();
            match value {
                PropValue::String(s) => put_bytes(&mut v, 1, s.as_bytes()),
                PropValue::Double(d) => {
                    put_tag(&mut v, 3, WIRE_FIXED64);
                    v.extend_from_slice(&d.to_le_bytes());
                }
                PropValue::Uint(u) => {
                    put_tag(&mut v, 5, WIRE_VARINT);
                    put_varint(&mut v, *u);
                }
                PropValue::Int(i) => {
                    put_tag(&mut v, 6, WIRE_VARINT);
                    put_varint(&mut v, ((i << 1) ^ (i >> 63)) as u64);
                }
                PropValue::Bool(b) => {
                    put_tag(&mut v, 7, WIRE_VARINT);
                    put_varint(&mut v, u64::from(*b));
                }
            }
            put_bytes(&mut l, 4, &v);
        }
        put_tag(&mut l, 5, WIRE_VARINT);
        put_varint(&mut l, u64::from(self.extent));
        put_bytes(out, 3, &l);
    }
}

/// A whole tile being written: layers in the order they are added; empty layers are left out.
#[derive(Debug, Default)]
pub struct TileWriter {
    out: Vec<u8>,
}

impl TileWriter {
    /// An empty tile.
    pub fn new() -> TileWriter {
        TileWriter::default()
    }

    /// Appends a layer; an empty one is skipped.
    pub fn add_layer(&mut self, layer: &LayerWriter) {
        if !layer.is_empty() {
            layer.encode(&mut self.out);
        }
    }

    /// The encoded tile (empty bytes for a tile with no features: a valid, empty MVT).
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_BYTES: u8 = 2;
const WIRE_FIXED32: u8 = 5;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(out, field, WIRE_BYTES);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_packed(out: &mut Vec<u8>, field: u32, values: &[u32]) {
    if values.is_empty() {
        return;
    }
    // Length first, then the varints straight into `out`: no temporary buffer.
    let len: usize = values.iter().map(|&v| varint_len(u64::from(v))).sum();
    put_tag(out, field, WIRE_BYTES);
    put_varint(out, len as u64);
    for &v in values {
        put_varint(out, u64::from(v));
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Why a tile cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the tile ends inside a field")]
    Truncated,
    #[error("a varint is longer than 10 bytes")]
    BadVarint,
    #[error("wire type {0} is not used by MVT")]
    BadWireType(u8),
    #[error("feature tag {0} points past the layer's keys or values")]
    BadTag(u32),
    #[error("a geometry command is malformed: {0}")]
    BadGeometry(&'static str),
    #[error("a string is not UTF-8")]
    BadUtf8,
}

/// A decoded feature; coordinates in tile units.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedFeature {
    pub id: Option<u64>,
    pub kind: GeomType,
    pub props: Vec<(String, PropValue)>,
    /// Points: one part per point. Polygons: one part per ring (closing point not repeated);
    /// exterior rings have positive [`ring_area`], holes negative.
    pub parts: Vec<Vec<(i32, i32)>>,
}

impl DecodedFeature {
    /// A property by key.
    pub fn prop(&self, key: &str) -> Option<&PropValue> {
        self.props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// A decoded layer.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedLayer {
    pub name: String,
    pub version: u32,
    pub extent: u32,
    pub features: Vec<DecodedFeature>,
}

/// The spec's surveyor's-formula area of a ring in tile coordinates (y down): positive for an
/// exterior ring, negative for a hole. Twice the area, as an integer.
pub fn ring_area(ring: &[(i32, i32)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a.0) * i64::from(b.1) - i64::from(b.0) * i64::from(a.1)
        })
        .sum()
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(DecodeError::BadVarint);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::BadVarint)
    }

    fn tag(&mut self) -> Result<(u32, u8), DecodeError> {
        let t = self.varint()?;
        Ok(((t >> 3) as u32, (t & 7) as u8))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()? as usize;
        let end = self.pos.checked_add(len).filter(|&e| e <= self.buf.len()).ok_or(DecodeError::Truncated)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(DecodeError::Truncated)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_FIXED64 => self.fixed(8).map(drop),
            WIRE_BYTES => self.bytes().map(drop),
            WIRE_FIXED32 => self.fixed(4).map(drop),
            w => Err(DecodeError::BadWireType(w)),
        }
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| DecodeError::BadUtf8)
    }

    fn packed(&mut self) -> Result<Vec<u32>, DecodeError> {
        let mut r = Reader::new(self.bytes()?);
        let mut out = Vec::new();
        while !r.done() {
            out.push(r.varint()? as u32);
        }
        Ok(out)
    }
}

fn decode_value(buf: &[u8]) -> Result<PropValue, DecodeError> {
    let mut r = Reader::new(buf);
    let mut value = None;
    while !r.done() {
        let (field, wire) = r.tag()?;
        value = Some(match (field, wire) {
            (1, WIRE_BYTES) => PropValue::String(r.string()?),
            (2, WIRE_FIXED32) => {
                let b = r.fixed(4)?;
                PropValue::Double(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            (3, WIRE_FIXED64) => {
                let b = r.fixed(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                PropValue::Double(f64::from_le_bytes(a))
            }
            (4, WIRE_VARINT) => PropValue::Int(r.varint()? as i64),
            (5, WIRE_VARINT) => PropValue::Uint(r.varint()?),
            (6, WIRE_VARINT) => {
                let u = r.varint()?;
                PropValue::Int(((u >> 1) as i64) ^ -((u & 1) as i64))
            }
            (7, WIRE_VARINT) => PropValue::Bool(r.varint()? != 0),
            (_, w) => {
                r.skip(w)?;
                continue;
            }
        });
    }
    value.ok_or(DecodeError::BadGeometry("a value message holds no value"))
}

fn decode_geometry(kind: GeomType, cmds: &[u32]) -> Result<Vec<Vec<(i32, i32)>>, DecodeError> {
    let mut parts: Vec<Vec<(i32, i32)>> = Vec::new();
    let (mut x, mut y) = (0i32, 0i32);
    let mut i = 0;
    while i < cmds.len() {
        let (id, count) = (cmds[i] & 7, (cmds[i] >> 3) as usize);
        i += 1;
        match id {
            CMD_MOVE_TO | CMD_LINE_TO => {
                if i + 2 * count > cmds.len() {
                    return Err(DecodeError::BadGeometry("parameters run past the end"));
                }
                for _ in 0..count {
                    x = x.wrapping_add(unzigzag(cmds[i]));
                    y = y.wrapping_add(unzigzag(cmds[i + 1]));
                    i += 2;
                    if id == CMD_MOVE_TO {
                        parts.push(vec![(x, y)]);
                    } else {
                        parts.last_mut().ok_or(DecodeError::BadGeometry("LineTo before MoveTo"))?.push((x, y));
                    }
                }
            }
            CMD_CLOSE_PATH => {
                if kind != GeomType::Polygon {
                    return Err(DecodeError::BadGeometry("ClosePath outside a polygon"));
                }
            }
            _ => return Err(DecodeError::BadGeometry("unknown command")),
        }
    }
    Ok(parts)
}

fn decode_feature(buf: &[u8], keys: &[String], values: &[PropValue]) -> Result<DecodedFeature, DecodeError> {
    let mut r = Reader::new(buf);
    let (mut id, mut kind, mut tags, mut geometry) = (None, GeomType::Unknown, Vec::new(), Vec::new());
    while !r.done() {
        match r.tag()? {
            (1, WIRE_VARINT) => id = Some(r.varint()?),
            (2, WIRE_BYTES) => tags = r.packed()?,
            (3, WIRE_VARINT) => kind = GeomType::from_u64(r.varint()?),
            (4, WIRE_BYTES) => geometry = r.packed()?,
            (_, w) => r.skip(w)?,
        }
    }
    let mut props = Vec::with_capacity(tags.len() / 2);
    for pair in tags.chunks(2) {
        let [k, v] = pair else { return Err(DecodeError::BadTag(pair[0])) };
        let key = keys.get(*k as usize).ok_or(DecodeError::BadTag(*k))?;
        let value = values.get(*v as usize).ok_or(DecodeError::BadTag(*v))?;
        props.push((key.clone(), value.clone()));
    }
    Ok(DecodedFeature { id, kind, props, parts: decode_geometry(kind, &geometry)? })
}

fn decode_layer(buf: &[u8]) -> Result<DecodedLayer, DecodeError> {
    // Features refer to keys and values that may come after them: collect first.
    let mut r = Reader::new(buf);
    let (mut name, mut version, mut extent) = (String::new(), 1, 4096);
    let (mut features, mut keys, mut values) = (Vec::new(), Vec::new(), Vec::new());
    while !r.done() {
        match r.tag()? {
            (1, WIRE_BYTES) => name = r.string()?,
            (2, WIRE_BYTES) => features.push(r.bytes()?),
            (3, WIRE_BYTES) => keys.push(r.string()?),
            (4, WIRE_BYTES) => values.push(decode_value(r.bytes()?)?),
            (5, WIRE_VARINT) => extent = r.varint()? as u32,
            (15, WIRE_VARINT) => version = r.varint()? as u32,
            (_, w) => r.skip(w)?,
        }
    }
    let features = features.into_iter().map(|f| decode_feature(f, &keys, &values)).collect::<Result<_, _>>()?;
    Ok(DecodedLayer { name, version, extent, features })
}

/// Decodes an (uncompressed) MVT tile into its layers, in tile order.
pub fn decode(tile: &[u8]) -> Result<Vec<DecodedLayer>, DecodeError> {
    let mut r = Reader::new(tile);
    let mut layers = Vec::new();
    while !r.done() {
        match r.tag()? {
            (3, WIRE_BYTES) => layers.push(decode_layer(r.bytes()?)?),
            (_, w) => r.skip(w)?,
        }
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16383, 16384, u64::from(u32::MAX), u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(varint_len(v), b.len(), "{v}");
        }
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, 1, -1, 2, -2, 4095, -4096, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1, "the spec's example: -1 → 1");
        assert_eq!(zigzag(1), 2);
    }

    /// The spec's own example (4.3.5): a point at (25, 17) is `[9, 50, 34]`.
    #[test]
    fn point_matches_the_spec_example() {
        let mut g = GeometryEncoder::new();
        g.point((25, 17));
        assert_eq!(g.finish(), vec![9, 50, 34]);
    }

    /// The spec's polygon example: `[9, 6, 12, 18, 10, 12, 24, 44, 15]` for (3,6) (8,12) (20,34).
    #[test]
    fn polygon_matches_the_spec_example() {
        let mut g = GeometryEncoder::new();
        g.ring(&[(3, 6), (8, 12), (20, 34)]);
        assert_eq!(g.finish(), vec![9, 6, 12, 18, 10, 12, 24, 44, 15]);
    }

    #[test]
    fn a_tile_round_trips_through_the_decoder() {
        let mut layer = LayerWriter::new("gates", 4096);
        let mut g = GeometryEncoder::new();
        g.point((10, 4000));
        layer.add(
            Some(7),
            GeomType::Point,
            &g.finish(),
            &[
                ("name", PropValue::String("南门".into())),
                ("open", PropValue::Bool(true)),
                ("n", PropValue::Uint(1 << 40)),
                ("t", PropValue::Int(-3)),
                ("d", PropValue::Double(0.5)),
            ],
        );
        let mut poly = LayerWriter::new("grids", 4096);
        let mut g = GeometryEncoder::new();
        let outer = [(0, 0), (100, 0), (100, 100), (0, 100)];
        let hole = [(10, 10), (10, 20), (20, 20), (20, 10)];
        assert!(ring_area(&outer) > 0 && ring_area(&hole) < 0, "exterior clockwise with y down");
        g.ring(&outer);
        g.ring(&hole);
        poly.add(Some(65020300100102), GeomType::Polygon, &g.finish(), &[("name", PropValue::String("南门".into()))]);
        let mut empty = LayerWriter::new("nothing", 4096);
        empty.add(None, GeomType::Point, &[], &[]);
        let mut tile = TileWriter::new();
        tile.add_layer(&layer);
        tile.add_layer(&poly);
        tile.add_layer(&empty);
        let layers = decode(&tile.finish()).unwrap();
        assert_eq!(layers.len(), 2, "empty layers are left out");
        assert_eq!((layers[0].name.as_str(), layers[0].version, layers[0].extent), ("gates", 2, 4096));
        let f = &layers[0].features[0];
        assert_eq!(f.id, Some(7));
        assert_eq!(f.parts, vec![vec![(10, 4000)]]);
        assert_eq!(f.prop("name"), Some(&PropValue::String("南门".into())));
        assert_eq!(f.prop("open"), Some(&PropValue::Bool(true)));
        assert_eq!(f.prop("n"), Some(&PropValue::Uint(1 << 40)));
        assert_eq!(f.prop("t"), Some(&PropValue::Int(-3)));
        assert_eq!(f.prop("d"), Some(&PropValue::Double(0.5)));
        let p = &layers[1].features[0];
        assert_eq!(p.kind, GeomType::Polygon);
        assert_eq!(p.parts, vec![outer.to_vec(), hole.to_vec()]);
        assert_eq!(layers[1].features[0].id, Some(65020300100102));
    }

    #[test]
    fn repeated_values_are_stored_once() {
        let mut layer = LayerWriter::new("l", 4096);
        for i in 0..10u64 {
            let props = [("kind", PropValue::String("both".into())), ("n", PropValue::Uint(i % 2))];
            layer.add(Some(i), GeomType::Point, &[9, 2, 2], &props);
        }
        assert_eq!(layer.keys.len(), 2);
        assert_eq!(layer.values.len(), 3, "one string and two numbers: {:?}", layer.values);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(&[0x1a, 0x05, 0x01]).is_err(), "a length past the end");
        assert!(decode(&[0xff; 11]).is_err(), "an endless varint");
        assert_eq!(decode(&[]).unwrap(), vec![], "an empty tile has no layers");
    }
}
