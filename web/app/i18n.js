// i18n.js: every piece of UI text, in Chinese (default) and English, and the code that applies it.
//
// Static text sits in index.html under data-i18n (textContent), data-i18n-placeholder and
// data-i18n-aria attributes; scripts call t(key, {name: value}) for the rest. The chosen language
// is kept in localStorage. Map data (place names) is Chinese in both languages.

const TEXT = {
  zh: {
    title: '网格地图',
    map: '网格地图',
    search: '查找',
    search_placeholder: '网格/社区/街道编码或名称',
    close: '关闭',
    legend: '图例',
    lg_subdistrict: '街道界',
    lg_community: '社区界',
    lg_grid: '网格',
    lg_compound: '小区（围墙）',
    lg_building: '建筑',
    lg_gate_open: '门禁 · 现在开放',
    lg_gate_closed: '门禁 · 现在关闭',
    lg_responder: '应急力量',
    level_district: '区',
    level_subdistrict: '街道',
    level_community: '社区',
    level_grid: '网格',
    households: '户数',
    population: '人口',
    children_subdistrict: '下辖社区',
    children_community: '下辖网格',
    count: '{n} 个',
    staff: '网格力量',
    staff_none: '暂无登记人员',
    staff_count: '{n} 人',
    outside: '此处不在本区任何网格内。',
    api_link: '查看 API 数据',
    point: '位置',
    here: '此处',
    gate_open: '现在开放',
    gate_closed: '现在关闭',
    hours: '开放时间',
    hours_24h: '全天',
    hours_closed: '常闭',
    loading: '正在加载…',
    not_found: '未找到“{q}”。请输入网格、社区或街道编码（如 {example}），或其名称。',
    empty_query: '请输入网格、社区或街道的编码或名称。',
    load_failed: '加载失败：{detail}',
    role_grid_leader: '网格长',
    role_grid_staff: '网格员',
    force_community_worker: '专职网格员',
    force_community_police: '社区民警',
    force_resident_work_team: '居民工作队',
    force_party_volunteer: '党员志愿者',
    force_property_security: '物业保安',
    force_building_head: '楼栋长',
    force_governance_cadre: '综治干部',
    force_urban_management: '城管队员',
    force_safety_volunteer: '平安志愿者',
    kind_joint_defence: '联防队',
    kind_police_post: '警务站',
    kind_service_station: '服务站',
    kind_patrol: '巡逻队',
    mode_walk: '步行',
    mode_run: '跑步',
    mode_ebike: '电动车',
    mode_car: '汽车',
    gate_pedestrian: '人行门',
    gate_vehicle: '车行门',
    gate_both: '人车混行门',
  },
  en: {
    title: 'Grid map',
    map: 'Grid map',
    search: 'Find',
    search_placeholder: 'Grid or community code / name',
    close: 'Close',
    legend: 'Legend',
    lg_subdistrict: 'Subdistrict boundary',
    lg_community: 'Community boundary',
    lg_grid: 'Grid',
    lg_compound: 'Compound (walled)',
    lg_building: 'Building',
    lg_gate_open: 'Gate · open now',
    lg_gate_closed: 'Gate · closed now',
    lg_responder: 'Responders',
    level_district: 'District',
    level_subdistrict: 'Subdistrict',
    level_community: 'Community',
    level_grid: 'Grid',
    households: 'Households',
    population: 'Population',
    children_subdistrict: 'Communities',
    children_community: 'Grids',
    count: '{n}',
    staff: 'Grid staff',
    staff_none: 'No staff registered',
    staff_count: '{n} people',
    outside: 'This point lies in no grid of the district.',
    api_link: 'View API data',
    point: 'Point',
    here: 'Here',
    gate_open: 'open now',
    gate_closed: 'closed now',
    hours: 'Hours',
    hours_24h: 'all day',
    hours_closed: 'always closed',
    loading: 'Loading…',
    not_found: 'Nothing found for “{q}”. Enter a grid, community or subdistrict code (e.g. {example}) or name.',
    empty_query: 'Enter a grid, community or subdistrict code or name.',
    load_failed: 'Could not load: {detail}',
    role_grid_leader: 'Grid leader',
    role_grid_staff: 'Grid staff',
    force_community_worker: 'Community worker',
    force_community_police: 'Community police',
    force_resident_work_team: 'Resident work team',
    force_party_volunteer: 'Party-member volunteer',
    force_property_security: 'Property security',
    force_building_head: 'Building head',
    force_governance_cadre: 'Governance cadre',
    force_urban_management: 'Urban management',
    force_safety_volunteer: 'Safety volunteer',
    kind_joint_defence: 'Joint-defence team',
    kind_police_post: 'Police post',
    kind_service_station: 'Service station',
    kind_patrol: 'Patrol',
    mode_walk: 'on foot',
    mode_run: 'running',
    mode_ebike: 'e-bike',
    mode_car: 'car',
    gate_pedestrian: 'Pedestrian gate',
    gate_vehicle: 'Vehicle gate',
    gate_both: 'Gate',
  },
};

const STORE_KEY = 'gridmap.lang';
const listeners = [];

let lang = readStoredLang();

function readStoredLang() {
  try {
    const v = localStorage.getItem(STORE_KEY);
    return v in TEXT ? v : 'zh';
  } catch {
    return 'zh';
  }
}

/** The current language: 'zh' or 'en'. */
export function currentLang() {
  return lang;
}

/** The text for `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const s = TEXT[lang][key] ?? TEXT.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** Like t(), but for API enum values (roles, forces, kinds): the raw value when not in the table. */
export function tEnum(prefix, value) {
  const key = `${prefix}_${value}`;
  return key in TEXT[lang] ? TEXT[lang][key] : String(value);
}

/** Writes the current language into every data-i18n element under `root`. */
export function applyTo(root = document) {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = `gridmap ${t('title')}`;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

/** Switches language, re-applies static text and tells the listeners (which redraw dynamic text). */
export function setLang(next) {
  if (!(next in TEXT) || next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORE_KEY, next);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
  applyTo();
  for (const f of listeners) f(lang);
}

/** Calls `f(lang)` after every language switch. */
export function onLangChange(f) {
  listeners.push(f);
}
