// shape.js: the editor's geometry model, on plain arrays (no map code, easy to reason about).
//
// A shape is an array of polygons, each an array of rings (outer first, then holes), each an
// array of [lon, lat] vertices WITHOUT the closing repeat of the first vertex. GeoJSON closes
// its rings; fromGeometry and toGeometry convert.

/** A shape from a GeoJSON Polygon or MultiPolygon. */
export function fromGeometry(geometry) {
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  return polys.map((rings) => rings.map((ring) => {
    const open = ring.map(([x, y]) => [x, y]);
    const [a, b] = [open[0], open[open.length - 1]];
    if (open.length > 1 && a[0] === b[0] && a[1] === b[1]) open.pop();
    return open;
  }));
}

/** A GeoJSON Polygon (one polygon, unless `multi`) or MultiPolygon for `shape`, rings closed. */
export function toGeometry(shape, multi) {
  const polys = shape.map((rings) => rings.map((ring) => [...ring.map(([x, y]) => [x, y]), [ring[0][0], ring[0][1]]]));
  return !multi && polys.length === 1 ? { type: 'Polygon', coordinates: polys[0] } : { type: 'MultiPolygon', coordinates: polys };
}

/** A deep copy. */
export function clone(shape) {
  return shape.map((rings) => rings.map((ring) => ring.map(([x, y]) => [x, y])));
}

const samePoint = (a, b) => a[0] === b[0] && a[1] === b[1];
const sameRing = (a, b) => a.length === b.length && a.every((v, i) => samePoint(v, b[i]));

/** Whether two shapes have exactly the same vertices. */
export function sameShape(a, b) {
  return a.length === b.length && a.every((rings, p) => rings.length === b[p].length && rings.every((ring, r) => sameRing(ring, b[p][r])));
}

/**
 * The user's drawing `mine` (made from `base`) re-applied on top of `theirs` (someone else's
 * newer version of `base`): a three-way merge, ring by ring. A ring only one side changed takes
 * that side's ring; a ring both changed without adding or removing vertices takes each vertex
 * from the side that moved it (the user's side when both did); otherwise the user's ring wins.
 * Returns {shape, conflicts}: how many rings both sides changed in incompatible ways.
 */
export function rebase(base, mine, theirs) {
  let conflicts = 0;
  const shape = mine.map((rings, p) => rings.map((ring, r) => {
    const b = base[p]?.[r];
    const t = theirs[p]?.[r];
    if (!b || !t || sameRing(t, b)) return ring.map((v) => [...v]);
    if (sameRing(ring, b)) return t.map((v) => [...v]);
    if (ring.length === b.length && t.length === b.length) {
      return ring.map((v, i) => {
        if (!samePoint(v, b[i]) && !samePoint(t[i], b[i]) && !samePoint(v, t[i])) conflicts++;
        return [...(samePoint(v, b[i]) ? t[i] : v)];
      });
    }
    conflicts++;
    return ring.map((v) => [...v]);
  }));
  return { shape, conflicts };
}

/** GeoJSON points for the editor's handles: every vertex, and the midpoint of every edge. */
export function handles(shape) {
  const features = [];
  shape.forEach((rings, p) => rings.forEach((ring, r) => ring.forEach((v, i) => {
    const w = ring[(i + 1) % ring.length];
    features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: v }, properties: { kind: 'vertex', p, r, i } });
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [(v[0] + w[0]) / 2, (v[1] + w[1]) / 2] },
      properties: { kind: 'mid', p, r, i },
    });
  })));
  return { type: 'FeatureCollection', features };
}

const EPS = 1e-9;
const near = (a, b) => Math.abs(a[0] - b[0]) <= EPS && Math.abs(a[1] - b[1]) <= EPS;

/** Every vertex of `shape` at `pt` (a neighbour's copy of a shared vertex): [{p, r, i}]. */
export function verticesAt(shape, pt) {
  const found = [];
  shape.forEach((rings, p) => rings.forEach((ring, r) => ring.forEach((v, i) => {
    if (near(v, pt)) found.push({ p, r, i });
  })));
  return found;
}

/**
 * Every edge of `shape` joining `a` and `b` (in either direction: a neighbour runs a shared
 * edge the other way): [{p, r, at}], where `at` is the index a vertex between them is inserted at.
 */
export function edgesBetween(shape, a, b) {
  const found = [];
  shape.forEach((rings, p) => rings.forEach((ring, r) => ring.forEach((v, j) => {
    const w = ring[(j + 1) % ring.length];
    if ((near(v, a) && near(w, b)) || (near(v, b) && near(w, a))) found.push({ p, r, at: j + 1 });
  })));
  return found;
}
