// coverage.js: the coverage view (覆盖分析). Who can be where within 1, 3 or 5 minutes at an
// hour of the day, over a region (the district by default).
//
// From GET /api/coverage it draws every grid of the region shaded by its covered share of
// households and the blind spots (places nobody reaches in time) in a warning colour, and lists
// the totals; from GET /api/coverage/suggest it draws the suggested staging points, numbered in
// the order picked. A click on the map asks GET /api/response (with geometry) and lists who can
// reach that point and how long each takes, drawing their reach areas. Coverage needs a
// coordinator token (see api.js); a refusal is shown as the server's reason.
//
// The panel (#coverage-panel) carries data-state = idle | loading | done | error, and the totals
// carry data-field attributes, for the browser tests.

import { getJson } from './api.js';
import { h } from './dom.js';
import { currentLang, t, tEnum } from './i18n.js';
import { SOURCE } from './style.js';

const BEFORE_GRIDS = 'compounds-fill';
const BEFORE_TOP = 'selection-fill';
const EMPTY = { type: 'FeatureCollection', features: [] };
const SUGGEST_ADD = 3;
/** Covered share of households → colour (pale = few covered, deep blue = all). */
const SHARE_RAMP = [0, '#f3f6fa', 0.5, '#9ecae1', 1, '#2b6cb0'];

const fmt = (n, digits = 0) =>
  typeof n === 'number' ? n.toLocaleString(currentLang() === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: digits }) : '–';
const pct = (x) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : '–');
const hh = (hour) => `${String(hour).padStart(2, '0')}:00`;

/** A numbered round icon for staging point `n` (canvas, no image files). */
function stagingIcon(map, n) {
  const id = `staging-${n}`;
  if (map.hasImage(id)) return id;
  const ratio = 2, size = 26 * ratio, c = size / 2;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d');
  ctx.beginPath();
  ctx.arc(c, c, c - 2 * ratio, 0, 2 * Math.PI);
  ctx.fillStyle = '#6a1b9a';
  ctx.fill();
  ctx.lineWidth = 2.5 * ratio;
  ctx.strokeStyle = '#fff';
  ctx.stroke();
  ctx.fillStyle = '#fff';
  ctx.font = `bold ${13 * ratio}px sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(String(n), c, c + ratio);
  map.addImage(id, ctx.getImageData(0, 0, size, size), { pixelRatio: ratio });
  return id;
}

const LAYERS = [
  {
    id: 'cov-grids', type: 'fill', source: SOURCE, 'source-layer': 'grids', before: BEFORE_GRIDS,
    filter: ['==', ['get', 'code'], ''],
    paint: { 'fill-color': '#fff', 'fill-opacity': 0.75 },
  },
  // Every responder's reach area in the region (fetched after the totals: it takes longer).
  { id: 'cov-areas-fill', type: 'fill', source: 'cov-areas', before: BEFORE_TOP, paint: { 'fill-color': '#3b7dd8', 'fill-opacity': 0.08 } },
  { id: 'cov-areas-line', type: 'line', source: 'cov-areas', before: BEFORE_TOP, paint: { 'line-color': '#3b7dd8', 'line-width': 1, 'line-opacity': 0.7 } },
  { id: 'cov-reach-fill', type: 'fill', source: 'cov-reach', before: BEFORE_TOP, paint: { 'fill-color': '#2e9d57', 'fill-opacity': 0.14 } },
  { id: 'cov-reach-line', type: 'line', source: 'cov-reach', before: BEFORE_TOP, paint: { 'line-color': '#2e9d57', 'line-width': 1.5 } },
  { id: 'cov-blind', type: 'fill', source: 'cov-blind', before: BEFORE_TOP, paint: { 'fill-color': '#e4572e', 'fill-opacity': 0.6 } },
  { id: 'cov-blind-line', type: 'line', source: 'cov-blind', before: BEFORE_TOP, paint: { 'line-color': '#b23a1a', 'line-width': 1 } },
  {
    id: 'cov-point', type: 'circle', source: 'cov-point',
    paint: { 'circle-radius': 6, 'circle-color': '#111', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
  },
  {
    id: 'cov-staging', type: 'symbol', source: 'cov-staging',
    layout: { 'icon-image': ['get', 'icon'], 'icon-allow-overlap': true, 'icon-ignore-placement': true },
  },
];

/**
 * The coverage view. `ctx`: {map, showProblem(err), hideMessage(), showCard(render | null),
 * saveHash(), districtCode()}.
 */
export function createCoverageView(ctx) {
  const { map } = ctx;
  const panel = document.querySelector('#coverage-panel');
  const minutesEl = panel.querySelector('#cov-minutes');
  const hourEl = panel.querySelector('#cov-hour');
  const regionEl = panel.querySelector('#cov-region');
  const resultEl = panel.querySelector('#cov-result');
  for (let hour = 0; hour < 24; hour++) hourEl.append(h('option', { value: String(hour) }, hh(hour)));
  const state = { minutes: 1, hour: new Date().getHours(), region: '', coverage: null, suggest: null, response: null, seq: 0 };
  let layersAdded = false;

  function addLayers() {
    if (layersAdded) return;
    for (const id of ['cov-areas', 'cov-reach', 'cov-blind', 'cov-point', 'cov-staging']) map.addSource(id, { type: 'geojson', data: EMPTY });
    for (const { before, ...layer } of LAYERS) map.addLayer(layer, map.getLayer(before) ? before : undefined);
    layersAdded = true;
  }

  function setVisible(on) {
    if (!layersAdded) return;
    for (const { id } of LAYERS) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  }

  function syncControls() {
    minutesEl.value = String(state.minutes);
    hourEl.value = String(state.hour);
    regionEl.value = state.region;
  }

  function query(path, extra = '') {
    return `${path}?region=${encodeURIComponent(state.region)}&minutes=${state.minutes}&at=${hh(state.hour)}${extra}`;
  }

  async function run() {
    const seq = ++state.seq;
    ctx.saveHash();
    panel.dataset.state = 'loading';
    renderResult();
    try {
      const [coverage, suggest] = await Promise.all([
        getJson(query('/api/coverage')),
        getJson(query('/api/coverage/suggest', `&add=${SUGGEST_ADD}`)),
      ]);
      if (seq !== state.seq) return;
      Object.assign(state, { coverage, suggest });
      drawCoverage();
      panel.dataset.state = 'done';
      ctx.hideMessage();
      drawReachAreas(seq);
    } catch (err) {
      if (seq !== state.seq) return;
      Object.assign(state, { coverage: null, suggest: null });
      drawCoverage();
      panel.dataset.state = 'error';
      ctx.showProblem(err);
    }
    renderResult();
  }

  /** Fetches and draws every responder's reach area (slower than the totals, so drawn after). */
  async function drawReachAreas(seq) {
    map.getSource('cov-areas').setData(EMPTY);
    try {
      const areas = await getJson(query('/api/coverage', '&blind_spots=false&reach_areas=true'));
      if (seq !== state.seq) return;
      map.getSource('cov-areas').setData(areas.reach_areas ?? EMPTY);
      panel.dataset.areas = String(areas.reach_areas?.features?.length ?? 0);
    } catch (err) {
      if (seq === state.seq) ctx.showProblem(err);
    }
  }

  function drawCoverage() {
    const grids = state.coverage?.grids ?? [];
    if (grids.length) {
      const match = ['match', ['get', 'code']];
      for (const g of grids) match.push(g.code, g.households ? g.households_share : g.area_share);
      match.push(-1);
      map.setFilter('cov-grids', ['in', ['get', 'code'], ['literal', grids.map((g) => g.code)]]);
      map.setPaintProperty('cov-grids', 'fill-color', ['interpolate', ['linear'], match, ...SHARE_RAMP]);
    } else {
      map.setFilter('cov-grids', ['==', ['get', 'code'], '']);
    }
    map.getSource('cov-blind').setData(state.coverage?.blind_spots ?? EMPTY);
    const points = (state.suggest?.suggestions ?? []).map((s) => ({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: s.location },
      properties: { rank: s.rank, icon: stagingIcon(map, s.rank) },
    }));
    map.getSource('cov-staging').setData({ type: 'FeatureCollection', features: points });
  }

  function renderResult() {
    const c = state.coverage;
    if (panel.dataset.state === 'loading') {
      resultEl.replaceChildren(h('p', { class: 'muted' }, t('cov_computing')));
      return;
    }
    if (!c) {
      resultEl.replaceChildren();
      return;
    }
    const tt = c.totals;
    const blind = c.blind_spots.features;
    const blindArea = blind.reduce((s, f) => s + (f.properties.area_m2 ?? 0), 0);
    const row = (label, field, value, share) =>
      [h('dt', {}, label), h('dd', { 'data-field': field }, value, share === undefined ? '' : h('span', { class: 'muted' }, ` (${pct(share)})`))];
    const s = state.suggest;
    resultEl.replaceChildren(
      h('p', { class: 'kicker' }, `${c.region.name} · ${t('cov_within', { m: c.minutes })} · ${c.at}`),
      h('dl', { class: 'totals' },
        row(t('cov_households'), 'households', `${fmt(tt.households_covered)} / ${fmt(tt.households)}`, tt.households_share),
        row(t('cov_area'), 'area', `${fmt(tt.area_covered_m2 / 1e6, 2)} / ${fmt(tt.area_m2 / 1e6, 2)} km²`, tt.area_share),
        row(t('cov_gates'), 'gates', `${fmt(tt.gates_covered)} / ${fmt(tt.gates)}`, tt.gates_share),
        row(t('cov_entrances'), 'entrances', `${fmt(tt.entrances_covered)} / ${fmt(tt.entrances)}`, tt.entrances_share),
        row(t('cov_blind'), 'blind', t('cov_blind_value', { n: fmt(blind.length), area: fmt(blindArea / 1e4, 2) })),
      ),
      h('h3', {}, t('cov_suggest', { n: s?.suggestions.length ?? 0 })),
      s?.suggestions.length
        ? h('ol', { class: 'staging', 'data-field': 'staging' }, s.suggestions.map((p) =>
          h('li', {}, t('cov_gain', { n: fmt(p.gain_households) }),
            p.gate !== null && p.gate !== undefined ? h('span', { class: 'muted' }, ` · ${t('cov_at_gate', { id: p.gate })}`) : '')))
        : h('p', { class: 'muted' }, t('cov_suggest_none')),
      s ? h('p', { class: 'muted small' }, t('cov_suggest_note', { kind: tEnum('kind', s.kind), mode: tEnum('mode', s.mode), after: pct(s.households ? s.households_covered_after / s.households : 0) })) : '',
    );
  }

  /** The card for a clicked point: who reaches it in time. */
  function renderResponse(card, body) {
    const r = state.response;
    card.dataset.level = 'point';
    card.dataset.code = '';
    const head = h('p', { class: 'kicker' }, `${t('point')} ${r.point[0].toFixed(5)}, ${r.point[1].toFixed(5)} · ${r.at}`);
    if (!r.responders.length) {
      body.replaceChildren(head, h('h2', {}, t('cov_reach_title', { m: r.minutes })),
        h('p', { class: 'warn', 'data-field': 'unmet' }, t('cov_nobody', { m: r.minutes })));
      return;
    }
    body.replaceChildren(head,
      h('h2', {}, t('cov_reach_title', { m: r.minutes })),
      h('p', { class: 'muted' }, t('cov_reach_count', { n: r.responders.length })),
      h('ol', { class: 'responders', 'data-field': 'responders' }, r.responders.map((x) =>
        h('li', { 'data-id': String(x.id) },
          h('i', { class: `sw responder ${x.kind}` }),
          h('span', { class: 'who' }, x.name, h('span', { class: 'muted' }, ` · ${tEnum('kind', x.kind)} · ${tEnum('mode', x.mode)}`)),
          h('span', { class: 'time', 'data-field': 'travel' }, t('cov_travel', { s: fmt(x.travel_s, 1), m: fmt(x.distance_m) }))))),
    );
  }

  async function onClick(e) {
    const { lng, lat } = e.lngLat;
    const seq = ++state.seq;
    map.getSource('cov-point').setData({ type: 'Feature', geometry: { type: 'Point', coordinates: [lng, lat] }, properties: {} });
    try {
      const r = await getJson(`/api/response?lon=${lng.toFixed(7)}&lat=${lat.toFixed(7)}&minutes=${state.minutes}&at=${hh(state.hour)}&geometry=true`);
      if (seq !== state.seq) return;
      state.response = r;
      map.getSource('cov-reach').setData({
        type: 'FeatureCollection',
        features: r.responders.map((x) => ({ type: 'Feature', geometry: x.reach_area, properties: { id: x.id } })),
      });
      ctx.hideMessage();
      ctx.showCard(renderResponse);
    } catch (err) {
      ctx.showProblem(err);
    }
  }

  function clearPoint() {
    state.response = null;
    if (!layersAdded) return;
    map.getSource('cov-reach').setData(EMPTY);
    map.getSource('cov-point').setData(EMPTY);
  }

  minutesEl.addEventListener('change', () => {
    state.minutes = Number(minutesEl.value);
    clearPoint();
    ctx.showCard(null);
    run();
  });
  hourEl.addEventListener('change', () => {
    state.hour = Number(hourEl.value);
    clearPoint();
    ctx.showCard(null);
    run();
  });
  panel.querySelector('#cov-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.region = regionEl.value.trim() || state.region;
    run();
  });

  return {
    name: 'coverage',
    /** Opens the view with the hash's parameters (minutes, hour, region). */
    async enter(params) {
      addLayers();
      setVisible(true);
      const m = Number(params.get('minutes'));
      if ([1, 3, 5].includes(m)) state.minutes = m;
      const hour = Number(params.get('hour'));
      if (params.has('hour') && Number.isInteger(hour) && hour >= 0 && hour < 24) state.hour = hour;
      state.region = params.get('region') || state.region || (await ctx.districtCode());
      syncControls();
      panel.hidden = false;
      run();
    },
    leave() {
      state.seq++;
      panel.hidden = true;
      clearPoint();
      setVisible(false);
    },
    params() {
      return [['minutes', state.minutes], ['hour', state.hour], ['region', state.region]];
    },
    onClick,
    onCardClosed: clearPoint,
    redraw: renderResult,
  };
}
