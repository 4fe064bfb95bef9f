// geo.js: small geometry and schedule helpers for the page, on GeoJSON in EPSG:4326 (lon, lat).
//
// No map code here: bounds of geometries, and whether a gate's opening hours include a time of
// day (the same text format as the server's Schedule: "24h", "closed" or "HH:MM-HH:MM,...").
// Label points and grid colours are computed by the server and come with the vector tiles.

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
