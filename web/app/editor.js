// editor.js: the planner's grid editing view (网格编辑).
//
// Pick a grid (click it, or open #...&view=edit&grid=CODE); its boundary comes from
// GET /api/grids/{code} with its version as ETag. The boundary is drawn from a GeoJSON source
// with a handle on every vertex: drag a vertex to move it, drag an edge's midpoint to insert a
// vertex there, right-click or double-click a vertex to delete it. Every change is checked by
// POST /api/validate (a dry run, debounced) and the violations are drawn (errors red, warnings
// orange) and listed in the UI language, with the impact of the change (buildings, households,
// gates, entrances and staff that would change grid).
//
// Saving needs a reason: PUT /api/grids/{code} with If-Match: "<version>". When someone else
// saved first (412), the user's drawing is kept, the other version is drawn dashed beside it, and
// "re-apply" merges the drawing onto the newer version (shape.js rebase) with its new ETag, ready
// to validate and save again. The history (GET /api/grids/{code}/history) can be previewed and a
// version restored (POST /api/grids/{code}/revert). Edits need a planner token (api.js).
//
// For the browser tests: #edit-panel carries data-code, data-version, data-validation
// (idle | pending | valid | invalid | error) and data-save (idle | saving | saved | conflict |
// rejected | error); window.__editor exposes the drawing.

import { ApiProblem, getJson, request, versionOf } from './api.js';
import { h } from './dom.js';
import { bounds } from './geo.js';
import { currentLang, t } from './i18n.js';
import { clone, fromGeometry, handles, rebase, sameShape, toGeometry } from './shape.js';
import { createOp, OP_LAYERS, OP_SOURCES } from './ops.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
const VALIDATE_DELAY_MS = 350;
const COLOURS = { error: '#d32f2f', warning: '#f57c00', edit: '#1f5fbf', other: '#8e24aa' };
const severityColour = ['match', ['get', 'severity'], 'error', COLOURS.error, COLOURS.warning];

const LAYERS = [
  { id: 'edit-other-fill', type: 'fill', source: 'edit-other', paint: { 'fill-color': COLOURS.other, 'fill-opacity': 0.08 } },
  { id: 'edit-other-line', type: 'line', source: 'edit-other', paint: { 'line-color': COLOURS.other, 'line-width': 2.5, 'line-dasharray': [2, 1.5] } },
  { id: 'edit-fill', type: 'fill', source: 'edit-shape', paint: { 'fill-color': COLOURS.edit, 'fill-opacity': 0.12 } },
  { id: 'edit-line', type: 'line', source: 'edit-shape', paint: { 'line-color': COLOURS.edit, 'line-width': 2.5 } },
  {
    id: 'edit-viol-fill', type: 'fill', source: 'edit-violations', filter: ['==', ['geometry-type'], 'Polygon'],
    paint: { 'fill-color': severityColour, 'fill-opacity': 0.35 },
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

  function drawShape() {
    const shape = st?.mine;
    map.getSource('edit-shape').setData(shape ? feature(toGeometry(shape, st.multi)) : EMPTY);
    map.getSource('edit-handles').setData(shape && !st.op ? handles(shape) : EMPTY);
  }

  function drawOther(shape) {
    map.getSource('edit-other').setData(shape ? feature(toGeometry(shape, true)) : EMPTY);
  }

  function drawViolations() {
    map.getSource('edit-violations').setData(st?.validation?.violations ?? EMPTY);
  }

  function startDrag(e, insert) {
    if (!active || !st || st.op || e.originalEvent.button !== 0) return;
    e.preventDefault();
    const { p, r, i } = e.features[0].properties;
    let at = i;
    if (insert) {
      at = i + 1;
      st.mine[p][r].splice(at, 0, [e.lngLat.lng, e.lngLat.lat]);
    }
    drag = { p, r, i: at };
    map.getCanvas().style.cursor = 'grabbing';
    map.on('mousemove', onDragMove);
    map.once('mouseup', endDrag);
    if (insert) drawShape();
  }

  function onDragMove(e) {
    if (!drag) return;
    st.mine[drag.p][drag.r][drag.i] = [e.lngLat.lng, e.lngLat.lat];
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
    const ring = st.mine[p][r];
    if (ring.length <= 3) {
      ctx.showMessage(t('edit_min_vertices'), 'error');
      return;
    }
    ring.splice(i, 1);
    drawShape();
    changed();
  }

  /** After every change of the drawing: redraw the panel and validate soon. */
  function changed() {
    st.dirty = !sameShape(st.mine, st.base);
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

  function proposal() {
    const properties = { reason: reasonEl.value.trim() };
    return feature(toGeometry(st.mine, st.multi), properties);
  }

  async function validate() {
    if (!st?.dirty) return;
    validateAbort?.abort();
    const abort = new AbortController();
    validateAbort = abort;
    const mine = st;
    try {
      const { body: result } = await request('/api/validate', {
        method: 'POST',
        json: { op: 'reshape', code: mine.code, version: mine.version, feature: proposal() },
        signal: abort.signal,
      });
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
    const f = got.body;
    const base = fromGeometry(f.geometry);
    st = {
      code: f.properties.code,
      name: f.properties.name,
      version: versionOf(got.etag) ?? f.properties.version,
      multi: f.geometry.type === 'MultiPolygon',
      base,
      mine: clone(base),
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
      const b = bounds(f.geometry);
      if (b) map.fitBounds(b, { padding: { top: 90, bottom: 60, left: 380, right: 80 }, maxZoom: 18, duration: 0 });
    }
    ctx.saveHash();
    render();
    loadHistory();
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
      const resp = await request(`/api/grids/${encodeURIComponent(mine.code)}`, { method: 'PUT', ifMatch: mine.version, json: proposal() });
      const saved = resp.body?.grids?.features?.find((g) => g.properties.code === mine.code);
      st.version = versionOf(resp.etag) ?? saved?.properties.version ?? st.version + 1;
      st.base = saved ? fromGeometry(saved.geometry) : clone(st.mine);
      st.mine = clone(st.base);
      st.dirty = false;
      st.validation = null;
      st.validationState = 'idle';
      st.conflict = null;
      st.saveState = 'saved';
      reasonEl.value = '';
      drawShape();
      drawOther(null);
      drawViolations();
      ctx.showMessage(t('edit_saved', { code: st.code, version: st.version }), 'info');
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

  /** 412: someone saved first. Keep the drawing, fetch and show their version. */
  async function conflict(err) {
    const mine = st;
    st.saveState = 'conflict';
    try {
      const got = await request(`/api/grids/${encodeURIComponent(mine.code)}`);
      if (st !== mine) return;
      const version = versionOf(got.etag) ?? got.body.properties.version;
      st.conflict = { version, theirs: fromGeometry(got.body.geometry), entry: null };
      drawOther(st.conflict.theirs);
      ctx.showMessage(t('edit_conflict_msg', { version }), 'error');
      await loadHistory();
      if (st === mine && st.conflict) st.conflict.entry = st.history?.find((v) => v.version === version) ?? null;
    } catch (e) {
      st.conflict = { version: err.problem?.current_version ?? null, theirs: null, entry: null };
      ctx.showProblem(e instanceof ApiProblem ? e : err);
    }
    render();
  }

  /** Re-applies the user's drawing on top of the newer version: new base, new ETag. */
  function reapply() {
    const c = st?.conflict;
    if (!c?.theirs) return;
    const { shape, conflicts } = rebase(st.base, st.mine, c.theirs);
    st.base = c.theirs;
    st.version = c.version;
    st.mine = shape;
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
        method: 'POST', ifMatch: mine.version, json: { version, reason },
      });
      reasonEl.value = '';
      await select(mine.code, { fit: false });
      ctx.showMessage(t('edit_reverted', { code: mine.code, version, now: versionOf(resp.etag) ?? st?.version }), 'info');
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
        h('button', { type: 'button', id: 'edit-reapply', onclick: reapply, disabled: !c.theirs }, t('edit_reapply', { version: c.version ?? '?' })),
        h('button', { type: 'button', id: 'edit-discard', onclick: () => select(st.code, { fit: false }) }, t('edit_discard'))));
  }

  function historyList() {
    if (st.historyError) return h('p', { class: 'muted' }, t('edit_history_failed', { detail: st.historyError }));
    if (!st.history) return h('p', { class: 'muted' }, t('loading'));
    const when = (s) => (s ? new Date(s).toLocaleString(currentLang() === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'short', timeStyle: 'short' }) : '');
    return h('ol', { class: 'history', 'data-field': 'history' }, st.history.map((v) =>
      h('li', { 'data-version': String(v.version) },
        h('div', {}, h('strong', {}, `v${v.version}`), ' ', h('span', { class: 'muted' }, `${when(v.valid_from)} · ${v.changed_by ?? ''}`)),
        v.reason ? h('div', { class: 'reason' }, v.reason) : null,
        h('div', { class: 'buttons' },
          v.geometry ? h('button', { type: 'button', class: 'small', onclick: () => drawOther(fromGeometry(v.geometry)) }, t('edit_preview')) : null,
          v.version === st.version
            ? h('span', { class: 'muted small' }, t('edit_current'))
            : h('button', { type: 'button', class: 'small', onclick: () => revert(v.version) }, t('edit_revert'))))));
  }

  function render() {
    panel.dataset.code = st?.code ?? '';
    panel.dataset.version = st ? String(st.version) : '';
    panel.dataset.validation = st?.validationState ?? 'idle';
    panel.dataset.save = st?.saveState ?? 'idle';
    panel.dataset.dirty = st?.dirty ? 'true' : 'false';
    saveEl.disabled = !st?.dirty || st.saveState === 'saving' || Boolean(st.conflict);
    saveEl.hidden = Boolean(st?.op);
    panel.querySelector('#edit-form').hidden = !st;
    if (!st) {
      body.replaceChildren(h('p', { class: 'muted' }, t('edit_pick')));
      return;
    }
    body.replaceChildren(...[
      h('p', { class: 'kicker' }, t('level_grid'), ' ', h('code', { 'data-field': 'code' }, st.code), ` · v${st.version}`),
      h('h2', { 'data-field': 'name' }, st.name ?? st.code),
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
    st.op = createOp(kind, { code: st.code, version: st.version, name: st.name }, {
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
    st.mine = clone(st.base);
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
