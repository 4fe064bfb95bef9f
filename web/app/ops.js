// ops.js: split and merge in the edit view (after reshaping, the other two grid edits).
//
// Split: click points on the map to draw a line across the grid (right-click or "undo point"
// removes the last one); each change is checked by POST /api/validate {op: "split"}, whose answer
// (the parts as new grids, violations, impact) is drawn; saving sends
// POST /api/grids/{code}/split with If-Match. Merge: click the neighbouring grids to join
// (clicking one again removes it); POST /api/validate {op: "merge"}, then POST /api/grids/merge
// with each grid's version. Both need a reason, like every edit.

import { request, versionOf } from './api.js';
import { h } from './dom.js';
import { t } from './i18n.js';

const EMPTY = { type: 'FeatureCollection', features: [] };
const VALIDATE_DELAY_MS = 350;
const PART_COLOURS = ['#1f78b4', '#33a02c', '#ff7f00', '#6a3d9a', '#b15928'];

export const OP_LAYERS = [
  {
    id: 'op-result-fill', type: 'fill', source: 'op-result',
    paint: { 'fill-color': ['to-color', ['at', ['%', ['get', 'index'], PART_COLOURS.length], ['literal', PART_COLOURS]]], 'fill-opacity': 0.3 },
  },
  { id: 'op-result-line', type: 'line', source: 'op-result', paint: { 'line-color': '#333', 'line-width': 1.5 } },
  { id: 'op-draft-line', type: 'line', source: 'op-draft', paint: { 'line-color': '#c2185b', 'line-width': 3, 'line-dasharray': [1, 1] } },
  {
    id: 'op-draft-point', type: 'circle', source: 'op-draft', filter: ['==', ['geometry-type'], 'Point'],
    paint: { 'circle-radius': 5, 'circle-color': '#c2185b', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1.5 },
  },
];
export const OP_SOURCES = ['op-result', 'op-draft'];

/**
 * A split or merge of grid `grid` ({code, version, name}). `hooks`: {map, ctx, reason() → string,
 * needReason() → string, showValidation(result | null, state), done(code | null), render()}.
 */
export function createOp(kind, grid, hooks) {
  const { map, ctx } = hooks;
  const op = { kind, line: [], grids: [{ ...grid }], saving: false };
  let timer = 0;
  let abort = null;

  function draw() {
    const features = [];
    if (kind === 'split') {
      if (op.line.length >= 2) features.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: op.line }, properties: {} });
      for (const c of op.line) features.push({ type: 'Feature', geometry: { type: 'Point', coordinates: c }, properties: {} });
    }
    map.getSource('op-draft').setData({ type: 'FeatureCollection', features });
  }

  function drawResult(result) {
    const features = (result?.grids?.features ?? []).map((f, index) => ({ ...f, properties: { ...f.properties, index } }));
    map.getSource('op-result').setData({ type: 'FeatureCollection', features });
  }

  function body() {
    const base = hooks.reason() ? { reason: hooks.reason() } : {};
    if (kind === 'split') return { ...base, op: 'split', code: grid.code, version: op.grids[0].version, line: { type: 'LineString', coordinates: op.line } };
    return { ...base, op: 'merge', grids: op.grids.map(({ code, version }) => ({ code, version })) };
  }

  const ready = () => (kind === 'split' ? op.line.length >= 2 : op.grids.length >= 2);

  function changed() {
    draw();
    clearTimeout(timer);
    abort?.abort();
    drawResult(null);
    if (!ready()) {
      hooks.showValidation(null, 'idle');
    } else {
      hooks.showValidation(null, 'pending');
      timer = setTimeout(validate, VALIDATE_DELAY_MS);
    }
    hooks.render();
  }

  async function validate() {
    const a = new AbortController();
    abort = a;
    try {
      const { body: result } = await request('/api/validate', { method: 'POST', json: body(), signal: a.signal });
      if (a.signal.aborted) return;
      drawResult(result);
      hooks.showValidation(result, result.valid ? 'valid' : 'invalid');
    } catch (err) {
      if (err.name === 'AbortError') return;
      hooks.showValidation(null, 'error');
      ctx.showProblem(err);
    }
  }

  async function save() {
    if (!ready() || !hooks.needReason()) return;
    op.saving = true;
    hooks.render();
    const json = { ...body(), reason: hooks.reason() };
    delete json.op;
    try {
      const resp = kind === 'split'
        ? await request(`/api/grids/${encodeURIComponent(grid.code)}/split`, { method: 'POST', ifMatch: op.grids[0].version, json: { line: json.line, reason: json.reason } })
        : await request('/api/grids/merge', { method: 'POST', json: { grids: json.grids, reason: json.reason } });
      const codes = (resp.body?.grids?.features ?? []).map((f) => f.properties.code);
      ctx.showMessage(t(kind === 'split' ? 'op_split_saved' : 'op_merge_saved', { codes: codes.join('、') }), 'info');
      ctx.reloadTiles();
      clear();
      hooks.done(codes[0] ?? null);
    } catch (err) {
      op.saving = false;
      if (err.status === 412 || err.status === 428) {
        await refreshVersions();
        ctx.showMessage(t('op_stale'), 'error');
      } else if (err.status === 422 && err.problem?.violations) {
        hooks.showValidation({ valid: false, violations: err.problem.violations, impact: err.problem.impact }, 'invalid');
        ctx.showMessage(t('edit_rejected', { detail: err.message }), 'error');
      } else {
        ctx.showProblem(err);
      }
      hooks.render();
    }
  }

  /** After a 412: the current versions of the grids, keeping the line and the selection. */
  async function refreshVersions() {
    for (const g of op.grids) {
      try {
        const got = await request(`/api/grids/${encodeURIComponent(g.code)}`);
        g.version = versionOf(got.etag) ?? got.body.properties.version;
      } catch (err) {
        ctx.showProblem(err);
      }
    }
    changed();
  }

  function clear() {
    clearTimeout(timer);
    abort?.abort();
    map.getSource('op-draft').setData(EMPTY);
    map.getSource('op-result').setData(EMPTY);
  }

  async function onClick(e) {
    if (kind === 'split') {
      op.line.push([e.lngLat.lng, e.lngLat.lat]);
      changed();
      return;
    }
    const code = await ctx.locateGrid(e.lngLat);
    if (!code) return;
    const at = op.grids.findIndex((g) => g.code === code);
    if (at === 0) return;
    if (at > 0) {
      op.grids.splice(at, 1);
    } else {
      try {
        const got = await request(`/api/grids/${encodeURIComponent(code)}`);
        op.grids.push({ code, version: versionOf(got.etag) ?? got.body.properties.version, name: got.body.properties.name });
      } catch (err) {
        ctx.showProblem(err);
        return;
      }
    }
    changed();
  }

  function undoPoint() {
    op.line.pop();
    changed();
  }

  function panel() {
    const list = kind === 'split'
      ? h('p', { 'data-field': 'op-points' }, t('op_points', { n: op.line.length }))
      : h('ul', { class: 'merge-list', 'data-field': 'op-grids' }, op.grids.map((g) => h('li', {}, h('code', {}, g.code), ` ${g.name ?? ''} · v${g.version}`)));
    return h('div', { class: 'op', id: 'op-box', 'data-kind': kind },
      h('h3', {}, t(kind === 'split' ? 'op_split' : 'op_merge')),
      h('p', { class: 'muted' }, t(kind === 'split' ? 'op_split_howto' : 'op_merge_howto')),
      list,
      h('div', { class: 'buttons' },
        kind === 'split' ? h('button', { type: 'button', class: 'small', disabled: !op.line.length, onclick: undoPoint }, t('op_undo_point')) : null,
        h('button', { type: 'button', class: 'small primary', id: 'op-save', disabled: !ready() || op.saving, onclick: save }, t(kind === 'split' ? 'op_split_save' : 'op_merge_save')),
        h('button', { type: 'button', class: 'small', id: 'op-cancel', onclick: () => { clear(); hooks.done(undefined); } }, t('cancel'))));
  }

  draw();
  return { kind, onClick, panel, clear, undoPoint };
}
