// geo.js: small geometry and schedule helpers for the page, on GeoJSON in EPSG:4326 (lon, lat).
//
// No map code here: bounds of geometries, a label point inside each region, a colouring that gives
// neighbouring grids different fills, and whether a gate's opening hours include a time of day
// (the same text format as the server's Schedule: "24h", "closed" or "HH:MM-HH:MM,...").

/** [[minLon, minLat], [maxLon, maxLat]] of a GeoJSON geometry, or null when it has no positions. */
export function bounds(geometry) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      if (c[0] < minX) minX = c[0];
      if (c[0] > maxX) maxX = c[0];
      if (c[1] < minY) minY = c[1];
      if (c[1] > maxY) maxY = c[1];
    } else {
      for (const x of c) visit(x);
    }
  };
  if (geometry?.coordinates) visit(geometry.coordinates);
  return minX <= maxX ? [[minX, minY], [maxX, maxY]] : null;
}

/** The union of several bounds (nulls ignored). */
export function unionBounds(list) {
  const ok = list.filter(Boolean);
  if (!ok.length) return null;
  return [
    [Math.min(...ok.map((b) => b[0][0])), Math.min(...ok.map((b) => b[0][1]))],
    [Math.max(...ok.map((b) => b[1][0])), Math.max(...ok.map((b) => b[1][1]))],
  ];
}

function polygonsOf(geometry) {
  if (geometry?.type === 'Polygon') return [geometry.coordinates];
  if (geometry?.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

function ringArea(ring) {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) a += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  return Math.abs(a / 2);
}

/** The widest horizontal run inside `polygon` (rings) at latitude y: [x0, x1] or null. */
function widestRunAt(polygon, y) {
  const xs = [];
  for (const ring of polygon) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [x1, y1] = ring[j];
      const [x2, y2] = ring[i];
      if ((y1 > y) !== (y2 > y)) xs.push(x1 + ((y - y1) / (y2 - y1)) * (x2 - x1));
    }
  }
  xs.sort((a, b) => a - b);
  let best = null;
  for (let i = 0; i + 1 < xs.length; i += 2) {
    if (!best || xs[i + 1] - xs[i] > best[1] - best[0]) best = [xs[i], xs[i + 1]];
  }
  return best;
}

/**
 * A point inside a (Multi)Polygon where a label reads well: on the biggest part, the middle of the
 * widest horizontal run among a few scanlines. Labels come from these points rather than from the
 * polygons so that a region split across tiles is labelled once.
 */
export function labelPoint(geometry) {
  const parts = polygonsOf(geometry);
  if (!parts.length) return null;
  const main = parts.reduce((a, b) => (ringArea(b[0]) > ringArea(a[0]) ? b : a));
  const b = bounds({ coordinates: main });
  let best = null;
  for (const f of [0.5, 0.35, 0.65, 0.2, 0.8]) {
    const y = b[0][1] + f * (b[1][1] - b[0][1]);
    const run = widestRunAt(main, y);
    // Prefer the middle scanline unless another is clearly wider.
    if (run && (!best || run[1] - run[0] > 1.25 * (best.run[1] - best.run[0]))) best = { run, y };
  }
  return best ? [(best.run[0] + best.run[1]) / 2, best.y] : main[0][0];
}

/** A FeatureCollection of label points for regions, with the regions' properties. */
export function labelPoints(fc) {
  return {
    type: 'FeatureCollection',
    features: fc.features
      .map((f) => ({ type: 'Feature', properties: f.properties, geometry: { type: 'Point', coordinates: labelPoint(f.geometry) } }))
      .filter((f) => f.geometry.coordinates),
  };
}

/**
 * Sets `properties.color` (0..colours-1) on every region so that regions sharing a vertex mostly
 * differ (greedy colouring, most-connected first). Neighbouring grids share their edges' vertices
 * because the four levels nest without gaps.
 */
export function colourRegions(fc, colours) {
  const byVertex = new Map();
  fc.features.forEach((f, i) => {
    for (const poly of polygonsOf(f.geometry)) {
      for (const ring of poly) {
        for (const [x, y] of ring) {
          const key = `${x.toFixed(7)},${y.toFixed(7)}`;
          let list = byVertex.get(key);
          if (!list) byVertex.set(key, (list = new Set()));
          list.add(i);
        }
      }
    }
  });
  const neighbours = fc.features.map(() => new Set());
  for (const list of byVertex.values()) {
    for (const a of list) for (const b of list) if (a !== b) neighbours[a].add(b);
  }
  const order = fc.features.map((_, i) => i).sort((a, b) => neighbours[b].size - neighbours[a].size);
  const colour = new Array(fc.features.length).fill(-1);
  for (const i of order) {
    const used = new Set([...neighbours[i]].map((j) => colour[j]));
    let c = 0;
    while (used.has(c) && c < colours) c++;
    colour[i] = c % colours;
  }
  fc.features.forEach((f, i) => (f.properties.color = colour[i]));
  return fc;
}

function minutesOf(hm) {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hm.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}

/**
 * Whether a schedule ("24h", "closed", "06:00-23:00", "22:00-06:00", "a-b,c-d") includes `minute`
 * (minutes since local midnight). An interval whose end is not after its start runs past midnight.
 * Unreadable text counts as closed.
 */
export function isOpenAt(hours, minute) {
  const text = String(hours ?? '').trim().toLowerCase();
  if (text === '24h') return true;
  if (text === 'closed' || !text) return false;
  return text.split(',').some((part) => {
    const [a, b] = part.split('-').map(minutesOf);
    if (Number.isNaN(a) || Number.isNaN(b)) return false;
    return b > a ? minute >= a && minute < b : minute >= a || minute < b;
  });
}

/** Minutes since local midnight now. */
export function minuteNow(date = new Date()) {
  return date.getHours() * 60 + date.getMinutes();
}
