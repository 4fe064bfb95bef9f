// style.js: the MapLibre style, built here so that the page needs nothing from the internet.
//
// A plain background and GeoJSON sources from this server's /api/layers. The style has no
// `glyphs` URL: MapLibre then draws labels with the browser's local fonts (Noto Sans CJK on
// Debian), which covers Chinese. Region and gate sources start empty and are filled by main.js
// (which adds label points, fill colours and open-now flags); the others load by URL.

/** Muted fills for grids; colourRegions() keeps neighbours apart. */
export const GRID_PALETTE = ['#dfe9d6', '#e9e0cc', '#d6e3ec', '#ecdcd8', '#e4e6cf', '#dedaea', '#d5e8e3'];

/** Responder kinds and their colours (also used by the legend and the icons). */
export const RESPONDER_COLOURS = {
  joint_defence: '#e07b00',
  police_post: '#1f5fbf',
  service_station: '#8a3fb5',
  patrol: '#0f8b8d',
};

export const GATE_OPEN = '#2e9d57';
export const GATE_CLOSED = '#d0453b';

const FONT = ['Noto Sans CJK SC Regular'];
const FONT_BOLD = ['Noto Sans CJK SC Bold'];
const EMPTY = { type: 'FeatureCollection', features: [] };

const paletteExpr = ['match', ['%', ['coalesce', ['get', 'color'], 0], GRID_PALETTE.length],
  ...GRID_PALETTE.flatMap((c, i) => (i ? [i, c] : [])), GRID_PALETTE[0]];

const kindColourExpr = ['match', ['get', 'kind'],
  ...Object.entries(RESPONDER_COLOURS).flat(), '#555555'];

/** The whole style. `api(path)` turns an API path into an absolute URL (the worker needs one). */
export function buildStyle(api) {
  const geojson = (data) => ({ type: 'geojson', data, attribution: '' });
  return {
    version: 8,
    name: 'gridmap',
    sources: {
      subdistricts: geojson(EMPTY),
      communities: geojson(EMPTY),
      grids: geojson(EMPTY),
      'subdistrict-labels': geojson(EMPTY),
      'community-labels': geojson(EMPTY),
      'grid-labels': geojson(EMPTY),
      gates: geojson(EMPTY),
      selection: geojson(EMPTY),
      compounds: geojson(api('/api/layers/compounds')),
      buildings: geojson(api('/api/layers/buildings')),
      responders: geojson(api('/api/layers/responders')),
    },
    layers: [
      { id: 'background', type: 'background', paint: { 'background-color': '#eef0ec' } },
      {
        id: 'grids-fill', type: 'fill', source: 'grids',
        paint: { 'fill-color': paletteExpr, 'fill-opacity': ['interpolate', ['linear'], ['zoom'], 12, 0.95, 17, 0.7] },
      },
      {
        id: 'compounds-fill', type: 'fill', source: 'compounds', minzoom: 13,
        paint: {
          'fill-color': ['case', ['get', 'gated'], '#f7f3e8', '#f3f3ef'],
          'fill-opacity': ['interpolate', ['linear'], ['zoom'], 13, 0, 14, 0.85],
        },
      },
      {
        id: 'buildings-fill', type: 'fill', source: 'buildings', minzoom: 14,
        paint: {
          'fill-color': '#cfc6b8',
          'fill-outline-color': '#a89c8a',
          'fill-opacity': ['interpolate', ['linear'], ['zoom'], 14, 0, 15, 1],
        },
      },
      {
        id: 'compounds-wall', type: 'line', source: 'compounds', minzoom: 13, filter: ['get', 'gated'],
        paint: { 'line-color': '#a47e4a', 'line-width': ['interpolate', ['linear'], ['zoom'], 13, 0.5, 17, 2] },
      },
      {
        id: 'compounds-open', type: 'line', source: 'compounds', minzoom: 14, filter: ['!', ['get', 'gated']],
        paint: { 'line-color': '#a49a8a', 'line-width': 1, 'line-dasharray': [3, 2] },
      },
      {
        id: 'grids-line', type: 'line', source: 'grids',
        paint: {
          'line-color': '#6f8576',
          'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.3, 14, 1, 17, 1.6],
          'line-opacity': ['interpolate', ['linear'], ['zoom'], 10, 0.4, 13, 0.9],
        },
      },
      {
        id: 'communities-line', type: 'line', source: 'communities',
        layout: { 'line-join': 'round' },
        paint: { 'line-color': '#56799a', 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.8, 13, 1.3, 16, 2.5] },
      },
      {
        id: 'subdistricts-casing', type: 'line', source: 'subdistricts',
        layout: { 'line-join': 'round' },
        paint: { 'line-color': '#ffffff', 'line-opacity': 0.8, 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 4.5, 13, 6, 16, 9] },
      },
      {
        id: 'subdistricts-line', type: 'line', source: 'subdistricts',
        layout: { 'line-join': 'round' },
        paint: { 'line-color': '#27405a', 'line-width': ['interpolate', ['linear'], ['zoom'], 11, 2.2, 13, 3, 16, 4.5] },
      },
      {
        id: 'selection-fill', type: 'fill', source: 'selection',
        paint: { 'fill-color': '#ffb000', 'fill-opacity': 0.18 },
      },
      {
        id: 'selection-line', type: 'line', source: 'selection',
        layout: { 'line-join': 'round' },
        paint: { 'line-color': '#e08a00', 'line-width': 3 },
      },
      {
        id: 'gates', type: 'circle', source: 'gates', minzoom: 14,
        paint: {
          'circle-color': ['case', ['get', 'open'], GATE_OPEN, GATE_CLOSED],
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 14, 2.5, 18, 6],
          'circle-stroke-color': '#ffffff',
          'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 14, 0.5, 17, 1.5],
        },
      },
      {
        id: 'responders-halo', type: 'circle', source: 'responders',
        paint: {
          'circle-color': kindColourExpr,
          'circle-opacity': 0.15,
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 11, 5, 16, 16],
        },
      },
      {
        id: 'responders', type: 'symbol', source: 'responders',
        layout: {
          'icon-image': ['concat', 'responder-', ['get', 'kind']],
          'icon-size': ['interpolate', ['linear'], ['zoom'], 11, 0.6, 16, 1],
          'icon-allow-overlap': true,
          'icon-ignore-placement': true,
        },
      },
      {
        id: 'grid-labels', type: 'symbol', source: 'grid-labels', minzoom: 14,
        layout: {
          'text-field': ['get', 'name'],
          'text-font': FONT,
          'text-size': ['interpolate', ['linear'], ['zoom'], 14, 11, 17, 14],
          'text-max-width': 6,
          'text-padding': 4,
        },
        paint: { 'text-color': '#3c4a40', 'text-halo-color': 'rgba(255,255,255,0.9)', 'text-halo-width': 1.2 },
      },
      {
        id: 'community-labels', type: 'symbol', source: 'community-labels', minzoom: 11.5,
        layout: {
          'text-field': ['get', 'name'],
          'text-font': FONT_BOLD,
          'text-size': ['interpolate', ['linear'], ['zoom'], 11.5, 11, 15, 15],
          'text-max-width': 7,
          'text-padding': 6,
        },
        paint: {
          'text-color': '#1f3b57',
          'text-halo-color': '#ffffff',
          'text-halo-width': 1.6,
          'text-opacity': ['interpolate', ['linear'], ['zoom'], 15.5, 1, 16.5, 0.5],
        },
      },
      {
        // Last layer: placed first, so community labels give way to it on the overview.
        id: 'subdistrict-labels', type: 'symbol', source: 'subdistrict-labels', maxzoom: 13.6,
        layout: {
          'text-field': ['get', 'name'],
          'text-font': FONT_BOLD,
          'text-size': ['interpolate', ['linear'], ['zoom'], 11, 15, 13, 19],
          'text-letter-spacing': 0.15,
          'text-padding': 10,
        },
        paint: {
          'text-color': '#a3381f',
          'text-halo-color': 'rgba(255,255,255,0.95)',
          'text-halo-width': 2.2,
          'text-opacity': ['interpolate', ['linear'], ['zoom'], 13.1, 1, 13.6, 0],
        },
      },
    ],
  };
}

/** Draws one diamond icon per responder kind (canvas, no image files) and adds them to `map`. */
export function addResponderIcons(map) {
  const ratio = 2;
  const size = 22 * ratio;
  for (const [kind, colour] of Object.entries(RESPONDER_COLOURS)) {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = size;
    const ctx = canvas.getContext('2d');
    const c = size / 2;
    const r = c - 2 * ratio;
    ctx.beginPath();
    ctx.moveTo(c, c - r);
    ctx.lineTo(c + r, c);
    ctx.lineTo(c, c + r);
    ctx.lineTo(c - r, c);
    ctx.closePath();
    ctx.fillStyle = colour;
    ctx.fill();
    ctx.lineWidth = 2 * ratio;
    ctx.strokeStyle = '#ffffff';
    ctx.stroke();
    // A white cross: "help is here".
    ctx.fillStyle = '#ffffff';
    const arm = r * 0.42, w = r * 0.16;
    ctx.fillRect(c - arm, c - w, 2 * arm, 2 * w);
    ctx.fillRect(c - w, c - arm, 2 * w, 2 * arm);
    map.addImage(`responder-${kind}`, ctx.getImageData(0, 0, size, size), { pixelRatio: ratio });
  }
}
