// hash.js: the page's state in the URL hash, so a link reopens the same view.
//
// Format: `#<zoom>/<lat>/<lon>&view=coverage&minutes=3&hour=8&grid=...`. The first part is the
// map's camera (the same as MapLibre's own hash, which the page does not use because it would
// overwrite the other parts); the rest are the current view's parameters. Writes use
// history.replaceState, so moving the map does not fill the back button's history.

/** {camera: {zoom, lat, lon} | null, params: Map of the other parts}. */
export function readHash(hash = location.hash) {
  const parts = hash.replace(/^#/, '').split('&').filter(Boolean);
  let camera = null;
  const params = new Map();
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      const [zoom, lat, lon] = part.split('/').map(Number);
      if ([zoom, lat, lon].every(Number.isFinite)) camera = { zoom, lat, lon };
    } else {
      params.set(decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1)));
    }
  }
  return { camera, params };
}

/** The hash for `camera` and `params` (parameters with empty values are left out). */
export function formatHash(camera, params) {
  const parts = [];
  if (camera) parts.push(`${camera.zoom}/${camera.lat}/${camera.lon}`);
  for (const [k, v] of params) {
    if (v !== null && v !== undefined && v !== '') parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.length ? `#${parts.join('&')}` : '';
}

/** The camera of `map`, rounded as MapLibre rounds it (zoom to 0.01, position to the pixel). */
export function cameraOf(map) {
  const zoom = Math.round(map.getZoom() * 100) / 100;
  const c = map.getCenter();
  const precision = Math.max(0, Math.ceil((zoom * Math.LN2 + Math.log(512 / 360 / 0.5)) / Math.LN10));
  const m = 10 ** precision;
  return { zoom, lat: Math.round(c.lat * m) / m, lon: Math.round(c.lng * m) / m };
}

/** Replaces the URL's hash without adding a history entry. */
export function replaceHash(hash) {
  if (hash === location.hash || (!hash && !location.hash)) return;
  history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
}
