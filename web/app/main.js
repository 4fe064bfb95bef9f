// main.js: the gridmap web map. Loads the server's style, builds the map over the server's vector
// tiles, and wires click, search, language, legend, the token dialog and the three views:
// 网格地图 (the map and its card), 覆盖分析 (coverage.js) and 网格编辑 (editor.js).
//
// Everything comes from this server: MapLibre from /vendor, the style from /style.json, every
// layer from /tiles/{z}/{x}/{y}.mvt (only the tiles in view, so a city of 100,000 grids loads as
// fast as a small one), answers from /api. Region names for search by name come from
// /tiles/regions.json, fetched in the background once the map is drawn. The view lives in the URL
// hash with the current view and its parameters (#zoom/lat/lon&view=coverage&minutes=3, see
// hash.js), so a link reopens the same place and view. When the
// map has drawn its first view and is idle, window.__mapIdle becomes true (the browser tests wait
// for it); window.__map is the map, for the same tests.

import { Map as MapLibreMap, NavigationControl, ScaleControl } from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { applyTo, currentLang, onLangChange, setLang, t } from './i18n.js';
import { addResponderIcons, adaptStyle, selectionLayers, SOURCE } from './style.js';
import { bounds, minuteNow } from './geo.js';
import { levelOfCode, regionPath, renderPointCard, renderRegionCard } from './card.js';
import { getJson, getToken, setToken } from './api.js';
import { cameraOf, formatHash, readHash, replaceHash } from './hash.js';
import { createCoverageView } from './coverage.js';
import { createEditView } from './editor.js';

const $ = (sel) => document.querySelector(sel);

/** Region names by level then code (from /tiles/regions.json): search by name, the card's parents. */
const names = { subdistrict: new Map(), community: new Map(), grid: new Map() };
let namesLoading = null;
/** What the card shows, kept so a language switch can redraw it: {kind, ...}. */
let cardModel = null;
/** The map, once the style has loaded. */
let map = null;

/** GET a JSON document; a failure throws an ApiProblem whose message is the problem's detail. */
const fetchJson = (path) => getJson(path);

/** Loads the region names once; later calls share the same request. */
function loadNames() {
  namesLoading ??= fetchJson('/tiles/regions.json').then((doc) => {
    for (const level of Object.keys(names)) {
      for (const [code, name] of doc[level] ?? []) names[level].set(code, name);
    }
    drawCard();
  });
  return namesLoading;
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

/**
 * Shows a failed request: a missing or refused token (401/403) as a sentence in the UI language
 * around the server's reason (the problem's detail), anything else as "could not load".
 */
function showProblem(err) {
  if (err.status === 401) showMessage(t('auth_401', { detail: err.message }), 'error');
  else if (err.status === 403) showMessage(t('auth_403', { detail: err.message }), 'error');
  else showMessage(t('load_failed', { detail: err.message }), 'error');
}

function drawCard() {
  const card = $('#card');
  if (!cardModel) {
    card.hidden = true;
    return;
  }
  const body = $('#card-body');
  if (cardModel.kind === 'custom') cardModel.render(card, body);
  else if (cardModel.kind === 'point') renderPointCard(card, body, cardModel);
  else renderRegionCard(card, body, { feature: cardModel.feature, lookup: lookupRegion });
  card.hidden = false;
}

function closeCard() {
  cardModel = null;
  drawCard();
  select(null, null);
  currentView?.onCardClosed?.();
}

/** Shows a card drawn by a view (`render(card, body)`, called again after a language switch). */
function showCard(render) {
  cardModel = render ? { kind: 'custom', render } : null;
  drawCard();
}

function lookupRegion(code) {
  const name = names[levelOfCode(code)]?.get(code);
  return name ? { code, name } : null;
}

// ---------------------------------------------------------------------------------------------
// The map

const initialHash = readHash();

/** `b` grown by `f` times its size on each side. */
function pad(b, f) {
  const dx = (b[1][0] - b[0][0]) * f, dy = (b[1][1] - b[0][1]) * f;
  return [[b[0][0] - dx, b[0][1] - dy], [b[1][0] + dx, b[1][1] + dy]];
}

/** Highlights region `code` of `level` (or nothing, with a null code). */
function select(level, code) {
  if (!map?.getLayer('selection-line')) return;
  const before = map.getStyle().layers.map((l) => l.id).find((id, i, ids) => ids[i - 1] === 'selection-line');
  map.removeLayer('selection-fill');
  map.removeLayer('selection-line');
  for (const layer of selectionLayers(level ?? 'grid', code)) map.addLayer(layer, before);
}

async function createMap() {
  const style = adaptStyle(await fetchJson('/style.json'), minuteNow());
  const [w, s, e, n] = style.sources[SOURCE].bounds;
  const district = [[w, s], [e, n]];
  map = new MapLibreMap({
    container: 'map',
    style,
    ...(initialHash.camera
      ? { center: [initialHash.camera.lon, initialHash.camera.lat], zoom: initialHash.camera.zoom }
      : { bounds: district, fitBoundsOptions: { padding: 40 } }),
    maxBounds: pad(district, 0.6),
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
  // Icons before any tile is laid out, so no symbol asks for a missing image.
  map.once('style.load', () => addResponderIcons(map));
  map.once('load', () => {
    views = { coverage: createCoverageView(viewContext()), edit: createEditView(viewContext()) };
    switchView(initialHash.params.get('view') ?? 'map', initialHash.params);
    map.once('idle', () => {
      // Milliseconds from navigation start to the first complete drawing (the tests report it).
      window.__mapIdleAt = performance.now();
      window.__mapIdle = true;
      loadNames().catch((err) => showMessage(t('load_failed', { detail: err.message }), 'error'));
    });
  });
  // Gates turn green or red with the clock: the style compares each gate's hours with `minute`.
  setInterval(() => map.setGlobalStateProperty('minute', minuteNow()), 60_000);
  map.on('click', (e) => (currentView ? currentView.onClick(e) : onClick(e)));
  map.on('moveend', saveHash);
}

// ---------------------------------------------------------------------------------------------
// Click: which grid is this?

/** The code of the grid at `lngLat`, or null outside every grid (errors are shown). */
async function locateGrid({ lng, lat }) {
  try {
    const located = await fetchJson(`/api/locate?lon=${lng.toFixed(7)}&lat=${lat.toFixed(7)}`);
    return located.grid?.code ?? null;
  } catch (err) {
    showProblem(err);
    return null;
  }
}

async function onClick(e) {
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
    select('grid', located.grid?.code ?? null);
  } catch (err) {
    showProblem(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Views: 网格地图 (null: the map and its card), 覆盖分析, 网格编辑

/** The views other than the map, by name, once the map has loaded. */
let views = {};
/** The open view; null for the map view. */
let currentView = null;

/** What the views get from the page. */
function viewContext() {
  return {
    map, showMessage, hideMessage, showProblem, showCard, saveHash, locateGrid,
    /** The district's code (the first six digits of any region code). */
    async districtCode() {
      await loadNames().catch(() => {});
      const any = names.subdistrict.keys().next().value;
      return any ? any.slice(0, 6) : '';
    },
    /** Re-fetches the vector tiles (after an edit; each tile revalidates by its ETag). */
    reloadTiles() {
      const source = map.getSource(SOURCE);
      if (source?.tiles) source.setTiles([...source.tiles]);
    },
  };
}

/** Writes the camera, the view and its parameters into the URL hash. */
function saveHash() {
  if (!map) return;
  const params = [];
  if (currentView) params.push(['view', currentView.name], ...currentView.params());
  replaceHash(formatHash(cameraOf(map), params));
}

/** Opens view `name` ('map', 'coverage' or 'edit') with the hash's `params`. */
function switchView(name, params = new Map()) {
  const next = views[name] ?? null;
  if (next !== currentView) {
    currentView?.leave();
    closeCard();
    hideMessage();
    currentView = next;
  }
  document.body.dataset.view = currentView?.name ?? 'map';
  for (const b of document.querySelectorAll('#views button')) b.setAttribute('aria-pressed', String(b.dataset.view === (currentView?.name ?? 'map')));
  $('#legend').hidden = Boolean(currentView);
  if (currentView) currentView.enter(params);
  saveHash();
}

for (const b of document.querySelectorAll('#views button')) {
  b.addEventListener('click', () => {
    // Before the map has loaded there are no views yet: the hash takes the choice.
    if (Object.keys(views).length) switchView(b.dataset.view);
  });
}

// A link pasted into the same tab: follow its view and camera.
window.addEventListener('hashchange', () => {
  const { camera, params } = readHash();
  if (camera && map) map.jumpTo({ center: [camera.lon, camera.lat], zoom: camera.zoom });
  if (map) switchView(params.get('view') ?? 'map', params);
});

// ---------------------------------------------------------------------------------------------
// The token dialog: the token stays in this tab (sessionStorage) and goes with every /api call.

function drawTokenButton() {
  const b = $('#token');
  b.dataset.set = getToken() ? 'true' : 'false';
  b.textContent = getToken() ? t('token_set') : t('token');
}

$('#token').addEventListener('click', () => {
  $('#token-input').value = getToken();
  $('#token-dialog').showModal();
});
$('#token-form').addEventListener('submit', (e) => {
  // method=dialog closes the dialog; the button pressed says what to do.
  const action = e.submitter?.value;
  if (action === 'save') setToken($('#token-input').value.trim());
  if (action === 'clear') setToken('');
  drawTokenButton();
  if (action !== 'cancel' && currentView) currentView.enter(readHash().params);
});

// ---------------------------------------------------------------------------------------------
// Search: a code (or a name) → fly there and show the card.

/** The code of a region whose name is `q` (exact first, then the shortest containing `q`), or null. */
function codeByName(q) {
  const all = ['grid', 'community', 'subdistrict'].flatMap((l) => [...names[l].entries()]);
  const exact = all.find(([, name]) => name === q);
  if (exact) return exact[0];
  // Shortest containing name: 社区 before its 网格.
  const partial = all.filter(([, name]) => name.includes(q)).sort((a, b) => a[1].length - b[1].length);
  return partial[0]?.[0] ?? null;
}

async function search(raw) {
  const q = raw.trim().replace(/\s+/g, '');
  if (!q) return showMessage(t('empty_query'), 'error');
  const isCode = /^\d+$/.test(q);
  if (!isCode) {
    try {
      await loadNames();
    } catch (err) {
      return showMessage(t('load_failed', { detail: err.message }), 'error');
    }
  }
  const example = names.community.keys().next().value ?? '650203001001';
  const code = isCode ? q : codeByName(q);
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
  if (b) map?.fitBounds(b, { padding: { top: 80, bottom: 40, left: 40, right: 380 }, maxZoom: 17, duration: 800 });
  select(level, code);
  // In the edit view a searched grid is opened for editing.
  if (currentView?.name === 'edit' && level === 'grid') return currentView.open(code);
  cardModel = { kind: 'region', feature };
  drawCard();
  // The card names the region's parents: make sure their names are here.
  loadNames().catch(() => {});
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
  drawTokenButton();
  drawCard();
  currentView?.redraw();
});
$('#card-close').addEventListener('click', closeCard);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && cardModel) closeCard();
});

applyTo();
drawLangButton();
drawTokenButton();
createMap().catch((err) => showMessage(t('load_failed', { detail: err.message }), 'error'));
