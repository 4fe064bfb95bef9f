// card.js: the information card beside the map, for a clicked point or a searched region.
//
// Built with DOM calls (never innerHTML), so names from the data cannot inject markup. Staff are
// shown by role and force only: the API sends no names or phone numbers to the public page.
// #card carries data-level and data-code for the region it shows (the browser tests read them).

import { currentLang, t, tEnum } from './i18n.js';
import { isOpenAt, minuteNow } from './geo.js';
import { h } from './dom.js';

const PLURAL = { subdistrict: 'subdistricts', community: 'communities', grid: 'grids' };

/** The level of a code, by its length (GB/T 30428.1: 9 subdistrict, 12 community, 14-15 grid). */
export function levelOfCode(code) {
  return { 6: 'district', 9: 'subdistrict', 12: 'community', 14: 'grid', 15: 'grid' }[String(code).length] ?? null;
}

/** The API path of a region. */
export function regionPath(level, code) {
  return `/api/${PLURAL[level]}/${encodeURIComponent(code)}`;
}

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString(currentLang() === 'zh' ? 'zh-CN' : 'en') : '–');

function codeEl(code, field) {
  return h('code', { 'data-field': field }, code);
}

/** "网格长 · 社区民警 ×2" lines, leaders first. */
function staffList(staff) {
  if (!staff?.length) return h('p', { class: 'muted' }, t('staff_none'));
  const groups = new Map();
  for (const s of staff) {
    const key = `${s.role}|${s.force}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  const rows = [...groups.entries()].sort(([a], [b]) => (a.startsWith('grid_leader') ? -1 : 0) - (b.startsWith('grid_leader') ? -1 : 0) || a.localeCompare(b));
  return h('ul', { class: 'staff', 'data-field': 'staff' },
    rows.map(([key, n]) => {
      const [role, force] = key.split('|');
      return h('li', { class: `role-${role}` },
        h('span', { class: 'role' }, tEnum('role', role)), ' · ', tEnum('force', force),
        n > 1 ? h('span', { class: 'n' }, ` ×${n}`) : null);
    }));
}

function regionLine(labelKey, region, field) {
  if (!region) return [];
  return [h('dt', {}, t(labelKey)), h('dd', {}, region.name, ' ', codeEl(region.code, field))];
}

function apiLink(level, code) {
  return h('a', { class: 'api-link', href: regionPath(level, code), target: '_blank', rel: 'noopener' }, t('api_link'), ' ↗');
}

/** Gates and responders under the click, one line each. */
function placeLines(places) {
  if (!places?.length) return null;
  return h('ul', { class: 'places' }, places.map((f) => {
    const p = f.properties;
    if (f.layer === 'gates') {
      const open = isOpenAt(p.hours, minuteNow());
      const hours = p.hours === '24h' ? t('hours_24h') : p.hours === 'closed' ? t('hours_closed') : p.hours;
      return h('li', {}, h('i', { class: `sw dot ${open ? 'open' : 'closed'}` }),
        `${p.name ?? tEnum('gate', p.kind)} · ${open ? t('gate_open') : t('gate_closed')} (${t('hours')} ${hours})`);
    }
    return h('li', {}, h('i', { class: `sw responder ${p.kind}` }),
      `${p.name} · ${tEnum('kind', p.kind)} · ${tEnum('mode', p.mode)}`);
  }));
}

/**
 * Fills `root` (#card-body) for the answer of GET /api/locate at `lngLat`, plus any gates and
 * responders drawn under the click (`places`: {layer, properties}).
 */
export function renderPointCard(card, root, { lngLat, located, places }) {
  const grid = located.grid;
  card.dataset.level = grid ? 'grid' : '';
  card.dataset.code = grid?.code ?? '';
  const kicker = h('p', { class: 'kicker' }, `${t('point')} ${lngLat.lng.toFixed(5)}, ${lngLat.lat.toFixed(5)}`);
  if (!grid) {
    root.replaceChildren(kicker, h('p', { class: 'outside', 'data-field': 'outside' }, t('outside')), placeLines(places) ?? '');
    return;
  }
  root.replaceChildren(
    kicker,
    h('h2', { 'data-field': 'name' }, grid.name),
    h('p', { class: 'code' }, t('level_grid'), ' ', codeEl(grid.code, 'code')),
    h('dl', {}, regionLine('level_community', located.community, 'community'), regionLine('level_subdistrict', located.subdistrict, 'subdistrict')),
    h('h3', {}, t('staff'), ' ', h('span', { class: 'muted' }, t('staff_count', { n: located.staff.length }))),
    staffList(located.staff),
    placeLines(places) ?? '',
    apiLink('grid', grid.code),
  );
}

/**
 * Fills `root` for a region Feature from GET /api/{level}s/{code}. `lookup(code)` gives the
 * {code, name} of a parent region from the page's loaded layers (or null).
 */
export function renderRegionCard(card, root, { feature, lookup }) {
  const p = feature.properties;
  const level = p.level ?? levelOfCode(p.code);
  card.dataset.level = level;
  card.dataset.code = p.code;
  const parents = [];
  if (level === 'grid') parents.push(regionLine('level_community', lookup(p.code.slice(0, 12)), 'community'));
  if (level === 'grid' || level === 'community') parents.push(regionLine('level_subdistrict', lookup(p.code.slice(0, 9)), 'subdistrict'));
  const childKey = { subdistrict: 'children_subdistrict', community: 'children_community' }[level];
  root.replaceChildren(
    h('p', { class: 'kicker' }, t(`level_${level}`)),
    h('h2', { 'data-field': 'name' }, p.name),
    h('p', { class: 'code' }, t(`level_${level}`), ' ', codeEl(p.code, 'code')),
    h('dl', {},
      parents,
      h('dt', {}, t('households')), h('dd', {}, fmt(p.households)),
      h('dt', {}, t('population')), h('dd', {}, fmt(p.population)),
      childKey && p.children ? [h('dt', {}, t(childKey)), h('dd', {}, t('count', { n: p.children.length }))] : []),
    h('h3', {}, t('staff'), ' ', h('span', { class: 'muted' }, t('staff_count', { n: p.staff?.length ?? 0 }))),
    staffList(p.staff),
    apiLink(level, p.code),
  );
}
