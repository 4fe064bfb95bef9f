// style.js: the page's changes to the server's MapLibre style (GET /style.json).
//
// The server's style draws every layer from this server's vector tiles (/tiles/{z}/{x}/{y}.mvt)
// and has no `glyphs` URL: MapLibre then draws labels with the browser's local fonts (Noto Sans
// CJK on Debian), which covers Chinese. The page adds what only a page has: the responder icons
// (drawn on a canvas, no image files), the highlight of the selected region (a filtered layer
// over the same tiles, so it works at any size of city), and the browser's own clock for the
// gates' open/closed colours (MapLibre global state `minute`).

/** Responder kinds and their colours (the same as the server style, the legend and the icons). */
export const RESPONDER_COLOURS = {
  joint_defence: '#e07b00',
  police_post: '#1f5fbf',
  service_station: '#8a3fb5',
  patrol: '#0f8b8d',
};

/** The vector source's id in the server's style. */
export const SOURCE = 'gridmap';

const SOURCE_LAYER = { subdistrict: 'subdistricts', community: 'communities', grid: 'grids' };
const SELECTION_BEFORE = 'entrances';

/**
 * The two highlight layers for region `code` of `level` ('grid', 'community', 'subdistrict');
 * with no code they match nothing.
 */
export function selectionLayers(level, code) {
  const common = {
    source: SOURCE,
    'source-layer': SOURCE_LAYER[level] ?? 'grids',
    filter: ['==', ['get', 'code'], code ?? ''],
  };
  return [
    { id: 'selection-fill', type: 'fill', ...common, paint: { 'fill-color': '#ffb000', 'fill-opacity': 0.18 } },
    {
      id: 'selection-line', type: 'line', ...common,
      layout: { 'line-join': 'round' },
      paint: { 'line-color': '#e08a00', 'line-width': 3 },
    },
  ];
}

/**
 * The server's style, adapted for the page: responders as icons (same layer id), the selection
 * layers below the gates, and the gates' clock set to `minute` (minutes since local midnight).
 */
export function adaptStyle(style, minute) {
  const layers = [];
  for (const layer of style.layers) {
    if (layer.id === SELECTION_BEFORE) layers.push(...selectionLayers('grid', null));
    if (layer.id === 'responders') {
      layers.push({
        id: 'responders', type: 'symbol', source: layer.source, 'source-layer': layer['source-layer'],
        layout: {
          'icon-image': ['concat', 'responder-', ['get', 'kind']],
          'icon-size': ['interpolate', ['linear'], ['zoom'], 11, 0.6, 16, 1],
          'icon-allow-overlap': true,
          'icon-ignore-placement': true,
        },
      });
    } else {
      layers.push(layer);
    }
  }
  if (!layers.some((l) => l.id === 'selection-line')) layers.push(...selectionLayers('grid', null));
  return { ...style, layers, state: { ...style.state, minute: { default: minute } } };
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
