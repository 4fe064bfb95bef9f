// main.js: the gridmap web map. Builds the map, loads the layers, and wires click, search,
// language and legend.
//
// Everything comes from this server: MapLibre from /vendor, data from /api. The view lives in
// the URL hash (#zoom/lat/lon, MapLibre's own hash handler), so a link reopens the same place.
// When the region layers are drawn and MapLibre is idle for the first time, window.__mapIdle
// becomes true (the browser tests wait for it); window.__map is the map, for the same tests.

import { Map as MapLibreMap, NavigationControl, ScaleControl } from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { applyTo, currentLang, onLangChange, setLang, t } from './i18n.js';
import { addResponderIcons, buildStyle, GRID_PALETTE } from './style.js';
import { bounds, colourRegions, isOpenAt, labelPoints, minuteNow, unionBounds } from './geo.js';
import { levelOfCode, regionPath, renderPointCard, renderRegionCard } from './card.js';

/** The district's rough centre, used only until the layers are loaded (Karamay, lon/lat). */
const FALLBACK_CENTER = [84.87, 45.6];
const REGION_LAYERS = { subdistrict: 'subdistricts', community: 'communities', grid: 'grids' };

const $ = (sel) => document.querySelector(sel);
const api = (path) => new URL(path, location.origin).href;

/** Regions loaded from the layers, by level then code: the search by name and the card's parents. */
const regions = { subdistrict: new Map(), community: new Map(), grid: new Map() };
let gates = null;
/** What the card shows, kept so a language switch can redraw it: {kind, ...}. */
let cardModel = null;

/** GET a JSON document; a failure throws an Error whose message is the problem's detail. */
async function fetchJson(path) {
  const resp = await fetch(path, { headers: { Accept: 'application/json, application/geo+json' } });
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = new Error(body?.detail ?? `${resp.status} ${resp.statusText}`);
    err.status = resp.status;
    throw err;
  }
  return body;
}

// ---------------------------------------------------------------------------------------------
// Messages and the card

let messageTimer = 0;
function showMessage(text, kind = 'info') {
  const el = $('#message');
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => (el.hidden = true), 8000);
}

function hideMessage() {
  $('#message').hidden = true;
}

function drawCard() {
  const card = $('#card');
  if (!cardModel) {
    card.hidden = true;
    return;
  }
  const body = $('#card-body');
  if (cardModel.kind === 'point') renderPointCard(card, body, cardModel);
  else renderRegionCard(card, body, { feature: cardModel.feature, lookup: lookupRegion });
  card.hidden = false;
}

function closeCard() {
  cardModel = null;
  drawCard();
  select(null);
}

function lookupRegion(code) {
  const f = regions[levelOfCode(code)]?.get(code);
  return f ? { code, name: f.properties.name } : null;
}

// ---------------------------------------------------------------------------------------------
// The map

const hasHashView = /^#\d+(\.\d+)?\/-?\d+(\.\d+)?\/-?\d+(\.\d+)?/.test(location.hash);

const map = new MapLibreMap({
  container: 'map',
  style: buildStyle(api),
  center: FALLBACK_CENTER,
  zoom: 11,
  hash: true,
  dragRotate: false,
  pitchWithRotate: false,
  touchPitch: false,
  attributionControl: false,
  // Chinese labels come from local fonts (the style has no glyphs URL).
  localIdeographFontFamily: "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif",
});
window.__map = map;
map.addControl(new NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new ScaleControl({ maxWidth: 140, unit: 'metric' }), 'bottom-left');
map.touchZoomRotate.disableRotation();

function setSource(id, data) {
  map.getSource(id)?.setData(data);
}

/** Highlights a region geometry (or clears the highlight with null). */
function select(feature) {
  setSource('selection', { type: 'FeatureCollection', features: feature ? [{ type: 'Feature', properties: {}, geometry: feature.geometry }] : [] });
}

/** Marks every gate open or closed at the current minute and redraws them. */
function refreshGates() {
  if (!gates) return;
  const now = minuteNow();
  for (const f of gates.features) f.properties.open = isOpenAt(f.properties.hours, now);
  setSource('gates', gates);
}

async function loadLayers() {
  const [subdistricts, communities, grids, accessPoints] = await Promise.all(
    ['subdistricts', 'communities', 'grids', 'access_points'].map((l) => fetchJson(`/api/layers/${l}`)),
  );
  colourRegions(grids, GRID_PALETTE.length);
  for (const [level, fc] of [['subdistrict', subdistricts], ['community', communities], ['grid', grids]]) {
    for (const f of fc.features) regions[level].set(f.properties.code, f);
    setSource(REGION_LAYERS[level], fc);
    setSource(`${level}-labels`, labelPoints(fc));
  }
  gates = accessPoints;
  refreshGates();
  setInterval(refreshGates, 60_000);
  const district = unionBounds(subdistricts.features.map((f) => bounds(f.geometry)));
  if (district) {
    map.setMaxBounds(pad(district, 0.6));
    if (!hasHashView) map.fitBounds(district, { padding: 40, animate: false });
  }
}

/** `b` grown by `f` times its size on each side. */
function pad(b, f) {
  const dx = (b[1][0] - b[0][0]) * f, dy = (b[1][1] - b[0][1]) * f;
  return [[b[0][0] - dx, b[0][1] - dy], [b[1][0] + dx, b[1][1] + dy]];
}

// Icons before any tile is laid out, so no symbol asks for a missing image.
map.once('style.load', () => addResponderIcons(map));

map.on('load', async () => {
  try {
    await loadLayers();
  } catch (e) {
    showMessage(t('load_failed', { detail: e.message }), 'error');
  }
  map.once('idle', () => {
    window.__mapIdle = true;
  });
});

// ---------------------------------------------------------------------------------------------
// Click: which grid is this?

map.on('click', async (e) => {
  const box = [[e.point.x - 6, e.point.y - 6], [e.point.x + 6, e.point.y + 6]];
  const places = map
    .queryRenderedFeatures(box, { layers: ['gates', 'responders'] })
    .map((f) => ({ layer: f.layer.id, properties: f.properties }));
  const { lng, lat } = e.lngLat;
  try {
    const located = await fetchJson(`/api/locate?lon=${lng.toFixed(7)}&lat=${lat.toFixed(7)}`);
    hideMessage();
    cardModel = { kind: 'point', lngLat: e.lngLat, located, places };
    drawCard();
    select(located.grid ? regions.grid.get(located.grid.code) : null);
  } catch (err) {
    showMessage(t('load_failed', { detail: err.message }), 'error');
  }
});

// ---------------------------------------------------------------------------------------------
// Search: a code (or a name) → fly there and show the card.

/** The code of a region whose name is `q` (exact first, then containing `q`), or null. */
function codeByName(q) {
  const all = ['grid', 'community', 'subdistrict'].flatMap((l) => [...regions[l].values()]);
  const exact = all.find((f) => f.properties.name === q);
  if (exact) return exact.properties.code;
  // Shortest containing name: 社区 before its 网格.
  const partial = all.filter((f) => f.properties.name?.includes(q)).sort((a, b) => a.properties.name.length - b.properties.name.length);
  return partial[0]?.properties.code ?? null;
}

async function search(raw) {
  const q = raw.trim().replace(/\s+/g, '');
  const example = regions.community.keys().next().value ?? '650203001001';
  if (!q) return showMessage(t('empty_query'), 'error');
  const code = /^\d+$/.test(q) ? q : codeByName(q);
  const level = code && levelOfCode(code);
  if (!level || level === 'district') return showMessage(t('not_found', { q, example }), 'error');
  let feature;
  try {
    feature = await fetchJson(regionPath(level, code));
  } catch (err) {
    if (err.status === 404 || err.status === 400) return showMessage(t('not_found', { q, example }), 'error');
    return showMessage(t('load_failed', { detail: err.message }), 'error');
  }
  hideMessage();
  const b = bounds(feature.geometry);
  if (b) map.fitBounds(b, { padding: { top: 80, bottom: 40, left: 40, right: 380 }, maxZoom: 17, duration: 800 });
  select(feature);
  cardModel = { kind: 'region', feature };
  drawCard();
}

$('#search').addEventListener('submit', (e) => {
  e.preventDefault();
  search($('#search-input').value);
});

// ---------------------------------------------------------------------------------------------
// Language, card close, legend

function drawLangButton() {
  const b = $('#lang');
  const other = currentLang() === 'zh' ? 'en' : 'zh';
  b.textContent = other === 'en' ? 'EN' : '中文';
  b.lang = other === 'en' ? 'en' : 'zh-CN';
  b.title = other === 'en' ? 'English' : '切换到中文';
}

$('#lang').addEventListener('click', () => setLang(currentLang() === 'zh' ? 'en' : 'zh'));
onLangChange(() => {
  drawLangButton();
  drawCard();
});
$('#card-close').addEventListener('click', closeCard);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && cardModel) closeCard();
});

applyTo();
drawLangButton();
