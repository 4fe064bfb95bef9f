// editor.js: the planner's grid editing view (网格编辑).
//
// Pick a grid (click it, or open #...&view=edit&grid=CODE); its boundary comes from
// GET /api/grids/{code} with its version as ETag, and so do its neighbours in the community
// (grids sharing a vertex with it). The boundary is drawn from a GeoJSON source with a handle on
// every vertex: drag a vertex to move it, drag an edge's midpoint to insert a vertex there,
// right-click or double-click a vertex to delete it. A vertex or edge shared with a neighbour is
// moved, split or deleted in the neighbour too, so the grids keep tiling the community (moving
// one grid alone leaves a gap or an overlap, which the rules refuse). Every change is checked by
// POST /api/validate (a dry run, debounced) and the violations are drawn (errors red, warnings
// orange) and listed in the UI language, with the impact of the change (buildings, households,
// gates, entrances and staff that would change grid).
//
// Saving needs a reason: PUT /api/grids/{code} with If-Match: "<version>" when only this grid
// changed, POST /api/grids/boundary with every changed grid and its version when neighbours moved
// with it. When someone else saved first (412), the user's drawing is kept, the other versions
// are drawn dashed beside it, and "re-apply" merges the drawing onto the newer versions
// (shape.js rebase) with their new ETags, ready to validate and save again. The history (GET /api/grids/{code}/history) can be previewed and a
// version restored (POST /api/grids/{code}/revert). Edits need a planner token (api.js).
//
// With no grid chosen, "check the whole map" asks GET /api/check for every rule the current grids
// break (what an import or an edit straight in the database can leave) and draws and lists them;
// a listed violation opens its grid.
//
// For the browser tests: #edit-panel carries data-check (idle | pending | done | error),
// data-code, data-version, data-validation
// (idle | pending | valid | invalid | error) and data-save (idle | saving | saved | conflict |
// rejected | error); window.__editor.state is the editor's state (state.main.mine: the drawing).

import { ApiProblem, getJson, request, versionOf } from './api.js';
import { h } from './dom.js';
import { bounds } from './geo.js';
import { currentLang, t } from './i18n.js';
import { clone, edgesBetween, fromGeometry, handles, rebase, sameShape, toGeometry, verticesAt } from './shape.js';
import { createOp, OP_LAYERS, OP_SOURCES } from './ops.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
const VALIDATE_DELAY_MS = 350;
const COLOURS = { error: '#d32f2f', warning: '#f57c00', edit: '#1f5fbf', neighbour: '#4f6d8a', other: '#8e24aa' };
const severityColour = ['match', ['get', 'severity'], 'error', COLOURS.error, COLOURS.warning];

const LAYERS = [
  { id: 'edit-other-fill', type: 'fill', source: 'edit-other', paint: { 'fill-color': COLOURS.other, 'fill-opacity': 0.08 } },
  { id: 'edit-other-line', type: 'line', source: 'edit-other', paint: { 'line-color': COLOURS.other, 'line-width': 2.5, 'line-dasharray': [2, 1.5] } },
  { id: 'edit-fill', type: 'fill', source: 'edit-shape', filter: ['get', 'main'], paint: { 'fill-color': COLOURS.edit, 'fill-opacity': 0.12 } },
  {
    id: 'edit-line', type: 'line', source: 'edit-shape',
    paint: {
      'line-color': ['case', ['get', 'main'], COLOURS.edit, COLOURS.neighbour],
      'line-width': ['case', ['get', 'main'], 2.5, ['get', 'changed'], 2, 1],
    },
  },
  {
    id: 'edit-viol-fill', type: 'fill', source: 'edit-violations', filter: ['==', ['geometry-type'], 'Polygon'],
    // A warning may cover a whole grid (a load warning): lighter, so the map stays readable.
    paint: { 'fill-color': severityColour, 'fill-opacity': ['match', ['get', 'severity'], 'error', 0.35, 0.12] },
  },
  {
    id: 'edit-viol-line', type: 'line', source: 'edit-violations', filter: ['!=', ['geometry-type'], 'Point'],
    paint: { 'line-color': severityColour, 'line-width': 3 },
  },
  {
    id: 'edit-viol-point', type: 'circle', source: 'edit-violations', filter: ['==', ['geometry-type'], 'Point'],
    paint: { 'circle-radius': 7, 'circle-color': severityColour, 'circle-opacity': 0.8, 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5 },
  },
  {
    id: 'edit-mid', type: 'circle', source: 'edit-handles', filter: ['==', ['get', 'kind'], 'mid'],
    paint: { 'circle-radius': 4, 'circle-color': '#fff', 'circle-opacity': 0.85, 'circle-stroke-color': COLOURS.edit, 'circle-stroke-width': 1.5 },
  },
  {
    id: 'edit-vertex', type: 'circle', source: 'edit-handles', filter: ['==', ['get', 'kind'], 'vertex'],
    paint: { 'circle-radius': 6, 'circle-color': '#fff', 'circle-stroke-color': COLOURS.edit, 'circle-stroke-width': 2.5 },
  },
];

const ALL_LAYERS = [...LAYERS.slice(0, -2), ...OP_LAYERS, ...LAYERS.slice(-2)];

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString(currentLang() === 'zh' ? 'zh-CN' : 'en') : '–');
const len = (a) => (Array.isArray(a) ? a.length : 0);
const feature = (geometry, properties = {}) => ({ type: 'Feature', geometry, properties });

/**
 * The editing view. `ctx`: {map, showMessage(text, kind), showProblem(err), hideMessage(),
 * saveHash(), locateGrid(lngLat) → code | null, reloadTiles()}.
 */
export function createEditView(ctx) {
  const { map } = ctx;
  const panel = document.querySelector('#edit-panel');
  const body = panel.querySelector('#edit-body');
  const reasonEl = panel.querySelector('#edit-reason');
  const saveEl = panel.querySelector('#edit-save');
  let layersAdded = false;
  let active = false;
  /** The grid being edited; null before one is picked. */
  let st = null;
  let validateTimer = 0;
  let validateAbort = null;
  let drag = null;
  /** Whether the user opened the history (kept across redraws). */
  let historyOpen = false;
  /** The whole-map check: state idle | pending | done | error; result: GET /api/check's answer. */
  let mapCheck = { state: 'idle', result: null };

  function addLayers() {
    if (layersAdded) return;
    for (const id of ['edit-other', 'edit-shape', 'edit-violations', 'edit-handles', ...OP_SOURCES]) map.addSource(id, { type: 'geojson', data: EMPTY });
    for (const layer of ALL_LAYERS) map.addLayer(layer);
    map.on('contextmenu', (e) => {
      if (active && st?.op?.kind === 'split' && !e.defaultPrevented) st.op.undoPoint();
    });
    map.on('mousedown', 'edit-vertex', (e) => startDrag(e, false));
    map.on('mousedown', 'edit-mid', (e) => startDrag(e, true));
    map.on('contextmenu', 'edit-vertex', deleteVertex);
    map.on('dblclick', 'edit-vertex', deleteVertex);
    map.on('mouseenter', 'edit-vertex', () => (map.getCanvas().style.cursor = 'move'));
    map.on('mouseenter', 'edit-mid', () => (map.getCanvas().style.cursor = 'copy'));
    for (const id of ['edit-vertex', 'edit-mid']) map.on('mouseleave', id, () => (map.getCanvas().style.cursor = ''));
    layersAdded = true;
  }

  function setVisible(on) {
    if (!layersAdded) return;
    for (const { id } of ALL_LAYERS) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  }

  // -------------------------------------------------------------------------------------------
  // Drawing

  /** The grids being edited: the chosen one first, then its neighbours. */
  const grids = () => (st ? [st.main, ...st.neighbours] : []);
  /** The grids whose drawing differs from the version they were loaded at. */
  const changedGrids = () => grids().filter((g) => !sameShape(g.mine, g.base));

  function drawShape() {
    const features = grids().map((g) => feature(toGeometry(g.mine, g.multi), {
      code: g.code, main: g === st.main, changed: !sameShape(g.mine, g.base),
    }));
    map.getSource('edit-shape').setData({ type: 'FeatureCollection', features });
    map.getSource('edit-handles').setData(st && !st.op ? handles(st.main.mine) : EMPTY);
  }

  /** Draws other versions (a conflict's, a history entry's) dashed: a list of shapes. */
  function drawOther(shapes) {
    const features = (shapes ?? []).map((shape) => feature(toGeometry(shape, true)));
    map.getSource('edit-other').setData({ type: 'FeatureCollection', features });
  }

  /** The chosen grid's violations; with no grid chosen, those of the whole-map check. */
  function drawViolations() {
    const data = st ? st.validation?.violations : mapCheck.result;
    map.getSource('edit-violations').setData(data ?? EMPTY);
  }

  // -------------------------------------------------------------------------------------------
  // The whole map against the rules (GET /api/check): what an import or a QGIS edit broke.

  async function runCheck() {
    mapCheck = { state: 'pending', result: null };
    render();
    try {
      const result = await getJson('/api/check');
      mapCheck = { state: 'done', result };
      if (!st) {
        drawViolations();
        const b = bounds({ coordinates: result.features.map((f) => f.geometry?.coordinates ?? []) });
        if (b) map.fitBounds(b, { padding: 60, maxZoom: 16, duration: 0 });
      }
    } catch (err) {
      mapCheck = { state: 'error', result: null };
      ctx.showProblem(err);
    }
    render();
  }

  function checkBox() {
    const r = mapCheck.result;
    const line = mapCheck.state === 'pending' ? h('p', { class: 'muted' }, t('edit_check_running'))
      : mapCheck.state === 'done' ? h('p', { class: r.errors ? 'warn' : 'ok', 'data-field': 'check' },
        r.errors ? t('edit_check_broken', { e: fmt(r.errors), w: fmt(r.warnings) }) : t('edit_check_clean', { w: fmt(r.warnings) }))
      : null;
    const list = mapCheck.state === 'done' && r.features.length
      ? h('ul', { class: 'violations', 'data-field': 'check-violations' }, r.features.map((f) => {
        const p = f.properties;
        const code = p.codes?.[0];
        return h('li', { class: `${p.severity}${code ? ' link' : ''}`, 'data-rule': p.rule, 'data-codes': (p.codes ?? []).join(','),
          title: code ? t('edit_check_open', { code }) : '', onclick: code ? () => select(code) : null },
        h('i', { class: `sev ${p.severity}` }), (currentLang() === 'zh' ? p.message_zh : p.message_en) ?? p.rule);
      }))
      : null;
    return [
      h('div', { class: 'buttons' },
        h('button', { type: 'button', id: 'edit-check', class: 'small', disabled: mapCheck.state === 'pending', onclick: runCheck }, t('edit_check'))),
      line,
      list,
    ];
  }

  function startDrag(e, insert) {
    if (!active || !st || st.op || e.originalEvent.button !== 0) return;
    e.preventDefault();
    const { p, r, i } = e.features[0].properties;
    const ring = st.main.mine[p][r];
    const targets = [];
    if (insert) {
      // A new vertex on the edge, in this grid and in every neighbour sharing the edge.
      const a = ring[i], b = ring[(i + 1) % ring.length];
      const pt = [e.lngLat.lng, e.lngLat.lat];
      for (const g of st.neighbours) {
        for (const m of edgesBetween(g.mine, a, b)) {
          g.mine[m.p][m.r].splice(m.at, 0, [...pt]);
          targets.push({ g, p: m.p, r: m.r, i: m.at });
        }
      }
      ring.splice(i + 1, 0, pt);
      targets.push({ g: st.main, p, r, i: i + 1 });
    } else {
      for (const g of st.neighbours) for (const m of verticesAt(g.mine, ring[i])) targets.push({ g, ...m });
      targets.push({ g: st.main, p, r, i });
    }
    drag = { targets };
    map.getCanvas().style.cursor = 'grabbing';
    map.on('mousemove', onDragMove);
    map.once('mouseup', endDrag);
    if (insert) drawShape();
  }

  function onDragMove(e) {
    if (!drag) return;
    for (const { g, p, r, i } of drag.targets) g.mine[p][r][i] = [e.lngLat.lng, e.lngLat.lat];
    drawShape();
  }

  function endDrag() {
    map.off('mousemove', onDragMove);
    map.getCanvas().style.cursor = '';
    if (!drag) return;
    drag = null;
    changed();
  }

  function deleteVertex(e) {
    if (!active || !st || st.op) return;
    e.preventDefault();
    e.originalEvent.preventDefault?.();
    const { p, r, i } = e.features[0].properties;
    const ring = st.main.mine[p][r];
    const shared = st.neighbours.flatMap((g) => verticesAt(g.mine, ring[i]).map((m) => ({ g, ...m })));
    if (ring.length <= 3 || shared.some(({ g, p: q, r: s }) => g.mine[q][s].length <= 3)) {
      ctx.showMessage(t('edit_min_vertices'), 'error');
      return;
    }
    // Highest index first, so the indices of the others stay right.
    for (const { g, p: q, r: s, i: j } of shared.sort((a, b) => b.i - a.i)) g.mine[q][s].splice(j, 1);
    ring.splice(i, 1);
    drawShape();
    changed();
  }

  /** After every change of the drawing: redraw the panel and validate soon. */
  function changed() {
    st.dirty = changedGrids().length > 0;
    if (st.saveState === 'saved') st.saveState = 'idle';
    if (!st.dirty) {
      clearTimeout(validateTimer);
      validateAbort?.abort();
      st.validation = null;
      st.validationState = 'idle';
      drawViolations();
    } else {
      st.validationState = 'pending';
      clearTimeout(validateTimer);
      validateTimer = setTimeout(validate, VALIDATE_DELAY_MS);
    }
    render();
  }

  // -------------------------------------------------------------------------------------------
  // Server calls

  /**
   * The edit as a request: PUT /api/grids/{code} of the chosen grid alone, or a boundary move
   * of every changed grid. {op, path, method, ifMatch, json} (json without `op`; the reason only
   * when there is one).
   */
  function proposal() {
    const reason = reasonEl.value.trim();
    const changed = changedGrids();
    const main = st.main;
    if (changed.length <= 1 && (!changed.length || changed[0] === main)) {
      const f = feature(toGeometry(main.mine, main.multi), reason ? { reason } : {});
      return {
        op: 'reshape', method: 'PUT', path: `/api/grids/${encodeURIComponent(main.code)}`, ifMatch: main.version, json: f,
        validate: { op: 'reshape', code: main.code, version: main.version, feature: f },
      };
    }
    const fc = {
      type: 'FeatureCollection',
      features: changed.map((g) => feature(toGeometry(g.mine, g.multi), { code: g.code, version: g.version })),
    };
    const json = { ...(reason ? { reason } : {}), grids: fc };
    return { op: 'boundary', method: 'POST', path: '/api/grids/boundary', json, validate: { op: 'boundary', ...json } };
  }

  async function validate() {
    if (!st?.dirty) return;
    validateAbort?.abort();
    const abort = new AbortController();
    validateAbort = abort;
    const mine = st;
    try {
      const { body: result } = await request('/api/validate', { method: 'POST', json: proposal().validate, signal: abort.signal });
      if (st !== mine || abort.signal.aborted) return;
      st.validation = result;
      st.validationState = result.valid ? 'valid' : 'invalid';
    } catch (err) {
      if (err.name === 'AbortError' || st !== mine) return;
      st.validation = null;
      st.validationState = 'error';
      ctx.showProblem(err);
    }
    drawViolations();
    render();
  }

  /** Loads grid `code` for editing (dropping any drawing), optionally keeping a message. */
  async function select(code, { fit = true } = {}) {
    let got;
    try {
      got = await request(`/api/grids/${encodeURIComponent(code)}`);
    } catch (err) {
      ctx.showProblem(err);
      return;
    }
    const main = gridOf(got);
    st = {
      code: main.code,
      main,
      neighbours: [],
      dirty: false,
      validation: null,
      validationState: 'idle',
      saveState: 'idle',
      conflict: null,
      op: null,
      history: null,
      historyError: null,
    };
    window.__editor = { get state() { return st; } };
    drawShape();
    drawOther(null);
    drawViolations();
    if (fit) {
      const b = bounds(got.body.geometry);
      if (b) map.fitBounds(b, { padding: { top: 90, bottom: 60, left: 380, right: 80 }, maxZoom: 18, duration: 0 });
    }
    ctx.saveHash();
    render();
    loadHistory();
    await loadNeighbours();
  }

  /** A grid being edited, from the answer of GET /api/grids/{code}. */
  function gridOf(got) {
    const f = got.body;
    const base = fromGeometry(f.geometry);
    return {
      code: f.properties.code,
      name: f.properties.name,
      version: versionOf(got.etag) ?? f.properties.version,
      multi: f.geometry.type === 'MultiPolygon',
      base,
      mine: clone(base),
    };
  }

  /** The grids of the same community that share a vertex with the chosen one. */
  async function loadNeighbours() {
    const mine = st;
    try {
      const community = await getJson(`/api/communities/${encodeURIComponent(mine.code.slice(0, 12))}`);
      const codes = (community.properties.children ?? []).map((c) => c.code).filter((c) => c !== mine.code);
      const loaded = await Promise.all(codes.map(async (c) => gridOf(await request(`/api/grids/${encodeURIComponent(c)}`))));
      if (st !== mine) return;
      const vertices = mine.main.base.flat(2);
      st.neighbours = loaded.filter((g) => vertices.some((v) => verticesAt(g.base, v).length));
    } catch (err) {
      if (st !== mine) return;
      ctx.showProblem(err);
    }
    st.neighboursLoaded = true;
    drawShape();
    render();
  }

  async function loadHistory() {
    const mine = st;
    try {
      const doc = await getJson(`/api/grids/${encodeURIComponent(mine.code)}/history`);
      if (st !== mine) return;
      st.history = [...doc.versions].sort((a, b) => b.version - a.version);
      st.historyError = null;
    } catch (err) {
      if (st !== mine) return;
      st.history = null;
      st.historyError = err.message;
    }
    render();
  }

  function needReason() {
    const reason = reasonEl.value.trim();
    if (!reason) {
      ctx.showMessage(t('edit_reason_required'), 'error');
      reasonEl.focus();
      reasonEl.setAttribute('aria-invalid', 'true');
    }
    return reason;
  }

  async function save() {
    if (!st?.dirty || !needReason()) return;
    const mine = st;
    st.saveState = 'saving';
    render();
    try {
      const edit = proposal();
      const changed = changedGrids();
      const resp = await request(edit.path, { method: edit.method, ifMatch: edit.ifMatch, json: edit.json });
      for (const g of changed) {
        const saved = resp.body?.grids?.features?.find((f) => f.properties.code === g.code);
        const etagVersion = edit.op === 'reshape' ? versionOf(resp.etag) : null;
        g.version = etagVersion ?? saved?.properties.version ?? g.version + 1;
        g.base = saved?.geometry ? fromGeometry(saved.geometry) : clone(g.mine);
        g.mine = clone(g.base);
      }
      st.dirty = false;
      st.validation = null;
      st.validationState = 'idle';
      st.conflict = null;
      st.saveState = 'saved';
      reasonEl.value = '';
      drawShape();
      drawOther(null);
      drawViolations();
      ctx.showMessage(t('edit_saved', { code: st.code, version: st.main.version }), 'info');
      ctx.reloadTiles();
      loadHistory();
    } catch (err) {
      if (st !== mine) return;
      if (err.status === 412) return conflict(err);
      if (err.status === 422 && err.problem?.violations) {
        st.validation = { valid: false, violations: err.problem.violations, impact: err.problem.impact };
        st.validationState = 'invalid';
        st.saveState = 'rejected';
        drawViolations();
        ctx.showMessage(t('edit_rejected', { detail: err.message }), 'error');
      } else {
        st.saveState = 'error';
        ctx.showProblem(err);
      }
    }
    render();
  }

  /**
   * 412: someone saved first. Keep the drawing; fetch the current version of every grid being
   * edited and show those that changed (dashed).
   */
  async function conflict(err) {
    const mine = st;
    st.saveState = 'conflict';
    try {
      const fresh = await Promise.all(grids().map(async (g) => ({ g, now: gridOf(await request(`/api/grids/${encodeURIComponent(g.code)}`)) })));
      if (st !== mine) return;
      const stale = fresh.filter(({ g, now }) => now.version !== g.version).map(({ g, now }) => ({ g, version: now.version, theirs: now.base }));
      const main = stale.find((s) => s.g === st.main);
      st.conflict = { stale, version: main?.version ?? stale[0]?.version ?? err.problem?.current_version ?? null, entry: null };
      drawOther(stale.map((s) => s.theirs));
      ctx.showMessage(t('edit_conflict_msg', { version: st.conflict.version ?? '?' }), 'error');
      await loadHistory();
      if (st === mine && st.conflict && main) st.conflict.entry = st.history?.find((v) => v.version === main.version) ?? null;
    } catch (e) {
      st.conflict = { stale: [], version: err.problem?.current_version ?? null, entry: null };
      ctx.showProblem(e instanceof ApiProblem ? e : err);
    }
    render();
  }

  /** Re-applies the user's drawing on top of the newer versions: new bases, new ETags. */
  function reapply() {
    const c = st?.conflict;
    if (!c) return;
    let conflicts = 0;
    for (const { g, version, theirs } of c.stale) {
      const merged = rebase(g.base, g.mine, theirs);
      conflicts += merged.conflicts;
      g.base = theirs;
      g.version = version;
      g.mine = merged.shape;
    }
    st.conflict = null;
    st.saveState = 'idle';
    drawOther(null);
    drawShape();
    ctx.showMessage(t(conflicts ? 'edit_reapplied_overlap' : 'edit_reapplied', { version: c.version, n: conflicts }), 'info');
    changed();
  }

  async function revert(version) {
    const reason = needReason();
    if (!reason || !st) return;
    const mine = st;
    try {
      const resp = await request(`/api/grids/${encodeURIComponent(mine.code)}/revert`, {
        method: 'POST', ifMatch: mine.main.version, json: { version, reason },
      });
      reasonEl.value = '';
      await select(mine.code, { fit: false });
      ctx.showMessage(t('edit_reverted', { code: mine.code, version, now: versionOf(resp.etag) ?? st?.main.version }), 'info');
      ctx.reloadTiles();
    } catch (err) {
      if (err.status === 412) {
        await select(mine.code, { fit: false });
        ctx.showMessage(t('edit_revert_stale'), 'error');
      }
      else ctx.showProblem(err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // The panel

  function validationLine() {
    const s = st.validationState;
    if (s === 'idle') return h('p', { class: 'muted' }, st.dirty || st.op ? '' : t('edit_howto'));
    if (s === 'pending') return h('p', { class: 'muted' }, t('edit_validating'));
    if (s === 'error') return h('p', { class: 'warn' }, t('edit_validate_failed'));
    const v = st.validation;
    const errors = v.violations.features.filter((f) => f.properties.severity === 'error').length;
    const warnings = len(v.violations.features) - errors;
    return h('p', { class: v.valid ? 'ok' : 'warn', 'data-field': 'validity' },
      v.valid ? t('edit_valid', { w: warnings }) : t('edit_invalid', { e: errors, w: warnings }));
  }

  function violationList() {
    const features = st.validation?.violations?.features ?? [];
    if (!features.length) return null;
    return h('ul', { class: 'violations', 'data-field': 'violations' }, features.map((f) => {
      const p = f.properties;
      return h('li', { class: p.severity, 'data-rule': p.rule },
        h('i', { class: `sev ${p.severity}` }), (currentLang() === 'zh' ? p.message_zh : p.message_en) ?? p.message_zh ?? p.rule);
    }));
  }

  function impactList() {
    const i = st.validation?.impact;
    if (!i) return null;
    const row = (key, field, value) => [h('dt', {}, t(key)), h('dd', { 'data-field': field }, value)];
    return [
      h('h3', {}, t('edit_impact')),
      h('dl', { class: 'impact' },
        row('edit_imp_buildings', 'buildings', fmt(len(i.buildings))),
        row('edit_imp_households', 'households', fmt(i.households_moved)),
        row('edit_imp_population', 'population', fmt(i.population_moved)),
        row('edit_imp_gates', 'gates', fmt(len(i.access_points))),
        row('edit_imp_entrances', 'entrances', fmt(len(i.entrances))),
        row('edit_imp_staff', 'staff', len(i.staff_to_decide)
          ? t('edit_imp_staff_decide', { n: fmt(len(i.staff)), d: fmt(len(i.staff_to_decide)) })
          : fmt(len(i.staff)))),
      (i.grids ?? []).length
        ? h('ul', { class: 'grid-changes' }, i.grids.map((g) =>
          h('li', {}, h('code', {}, g.code), ` ${t('households')} ${fmt(g.households_before)} → ${fmt(g.households_after)}`)))
        : null,
    ];
  }

  function conflictBox() {
    const c = st.conflict;
    if (!c) return null;
    const e = c.entry;
    return h('div', { class: 'conflict', id: 'edit-conflict', role: 'alert' },
      h('p', {}, h('strong', {}, t('edit_conflict_title'))),
      h('p', {}, t('edit_conflict_text', { version: c.version ?? '?' })),
      e ? h('p', { class: 'muted' }, t('edit_conflict_by', { who: e.changed_by ?? '?', reason: e.reason ?? '' })) : null,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', id: 'edit-reapply', onclick: reapply, disabled: !c.stale.length }, t('edit_reapply', { version: c.version ?? '?' })),
        h('button', { type: 'button', id: 'edit-discard', onclick: () => select(st.code, { fit: false }) }, t('edit_discard'))));
  }

  function historyList() {
    if (st.historyError) return h('p', { class: 'muted' }, t('edit_history_failed', { detail: st.historyError }));
    if (!st.history) return h('p', { class: 'muted' }, t('loading'));
    const when = (s) => (s ? new Date(s).toLocaleString(currentLang() === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'short', timeStyle: 'short' }) : '');
    return h('ol', { class: 'history', 'data-field': 'history' }, st.history.map((v) =>
      h('li', { 'data-version': String(v.version) },
        h('div', {}, h('strong', {}, `v${v.version}`), ' ', h('span', { class: 'muted' }, [when(v.valid_from), v.changed_by].filter(Boolean).join(' · '))),
        v.reason ? h('div', { class: 'reason' }, v.reason) : null,
        h('div', { class: 'buttons' },
          v.geometry ? h('button', { type: 'button', class: 'small', onclick: () => drawOther([fromGeometry(v.geometry)]) }, t('edit_preview')) : null,
          v.version === st.main.version
            ? h('span', { class: 'muted small' }, t('edit_current'))
            : h('button', { type: 'button', class: 'small', onclick: () => revert(v.version) }, t('edit_revert'))))));
  }

  function render() {
    panel.dataset.code = st?.code ?? '';
    panel.dataset.version = st ? String(st.main.version) : '';
    panel.dataset.validation = st?.validationState ?? 'idle';
    panel.dataset.save = st?.saveState ?? 'idle';
    panel.dataset.dirty = st?.dirty ? 'true' : 'false';
    panel.dataset.check = mapCheck.state;
    saveEl.disabled = !st?.dirty || st.saveState === 'saving' || Boolean(st.conflict);
    saveEl.hidden = Boolean(st?.op);
    panel.querySelector('#edit-form').hidden = !st;
    if (!st) {
      body.replaceChildren(...[h('p', { class: 'muted' }, t('edit_pick')), ...checkBox()].filter(Boolean));
      return;
    }
    body.replaceChildren(...[
      h('p', { class: 'kicker' }, t('level_grid'), ' ', h('code', { 'data-field': 'code' }, st.code), ` · v${st.main.version}`),
      h('h2', { 'data-field': 'name' }, st.main.name ?? st.code),
      st.neighboursLoaded ? h('p', { class: 'muted small', 'data-field': 'neighbours' }, t('edit_neighbours', { n: st.neighbours.length, changed: changedGrids().filter((g) => g !== st.main).length })) : null,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', id: 'edit-reset', class: 'small', disabled: !st.dirty || Boolean(st.op), onclick: resetDrawing }, t('edit_reset')),
        h('button', { type: 'button', id: 'edit-split', class: 'small', disabled: st.dirty || Boolean(st.op), onclick: () => startOp('split') }, t('op_split')),
        h('button', { type: 'button', id: 'edit-merge', class: 'small', disabled: st.dirty || Boolean(st.op), onclick: () => startOp('merge') }, t('op_merge')),
        h('button', { type: 'button', id: 'edit-other-grid', class: 'small', onclick: pickAnother }, t('edit_pick_other'))),
      st.op ? st.op.panel() : null,
      conflictBox(),
      validationLine(),
      violationList(),
      impactList(),
      h('details', { class: 'history-box', open: historyOpen }, h('summary', {}, t('edit_history')), historyList()),
    ].flat().filter(Boolean));
    body.querySelector('details.history-box').addEventListener('toggle', (e) => (historyOpen = e.target.open));
  }

  /** Starts a split or merge of the current grid (only with no unsaved reshaping). */
  function startOp(kind) {
    if (!st || st.dirty) return;
    const mine = st;
    st.op = createOp(kind, { code: st.code, version: st.main.version, name: st.main.name }, {
      map, ctx,
      reason: () => reasonEl.value.trim(),
      needReason,
      showValidation(result, state) {
        if (st !== mine) return;
        st.validation = result;
        st.validationState = state;
        drawViolations();
        render();
      },
      done(code) {
        if (st !== mine) return;
        st.op = null;
        st.validation = null;
        st.validationState = 'idle';
        drawViolations();
        if (code === undefined) {
          drawShape();
          render();
        } else if (code) {
          reasonEl.value = '';
          select(code, { fit: false });
        } else {
          pickAnother();
        }
      },
      render,
    });
    drawShape();
    render();
  }

  function resetDrawing() {
    for (const g of grids()) g.mine = clone(g.base);
    drawShape();
    changed();
  }

  function pickAnother() {
    st?.op?.clear();
    st = null;
    drawShape();
    drawOther(null);
    drawViolations();
    ctx.saveHash();
    render();
  }

  panel.querySelector('#edit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    save();
  });
  reasonEl.addEventListener('input', () => reasonEl.removeAttribute('aria-invalid'));

  return {
    name: 'edit',
    async enter(params) {
      addLayers();
      setVisible(true);
      active = true;
      map.doubleClickZoom.disable();
      panel.hidden = false;
      const code = params.get('grid');
      if (code && code !== st?.code) await select(code);
      else render();
    },
    leave() {
      active = false;
      endDrag();
      map.doubleClickZoom.enable();
      panel.hidden = true;
      setVisible(false);
    },
    params() {
      return [['grid', st?.code ?? '']];
    },
    /** Opens grid `code` for editing (dropping an unsaved drawing of another grid). */
    open(code) {
      st?.op?.clear();
      return select(code, { fit: false });
    },
    /** A click picks the grid to edit, while none is being edited. */
    async onClick(e) {
      if (st?.op) return st.op.onClick(e);
      if (st) return;
      const code = await ctx.locateGrid(e.lngLat);
      if (code) select(code);
      else ctx.showMessage(t('outside'), 'error');
    },
    redraw: render,
  };
}
