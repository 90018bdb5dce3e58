// Hexward map UI: one live map of every governance layer for the command
// centre's big screen and for planners. Plain ES module, no build step.
//
// Server contract (web/, tiles/, auth/):
//   auth/me                          200 {user, role, scope, csrf} for the
//                                    session cookie (HttpOnly), else 401
//   auth/login                       POST {user, password} → 200 as auth/me
//                                    and the cookie; 401 wrong; 429 with
//                                    Retry-After; 400 malformed
//   auth/logout                      POST with X-CSRF-Token → 204
//   Every map read below needs the session: 401 without it. A state-changing
//   request carries X-CSRF-Token (csrfHeaders).
//   style.json                       MapLibre style; every style layer of a
//                                    catalogue layer has metadata
//                                    {"hexward:layer": "<layer name>"}
//   api/collections                  catalogue: id, title, title_zh, kind, minzoom, maxzoom
//   api/collections/{layer}/queryables      property titles (title / x-title-zh)
//   api/collections/{layer}/items/{id}      one GeoJSON feature
//   vendor/maplibre-gl.mjs, fonts/…  served by web/ui.go (scripts/ui-vendor.sh)
//
// Nothing of the map is requested before a user is signed in: main() asks
// auth/me first and shows the login card on 401. A 401 from any later map
// request (the session ended) brings the login card back.
//
// window.hexwardMap is the maplibregl.Map, for tests and the console.

const RESP_FIELDS = ['responsible', 'phone', 'party_branch', 'property_company', 'manager', 'owner'];
const KINDS = ['plane', 'line', 'point'];
// Chinese labels are drawn by the browser from a local CJK font rather than
// from glyph PBFs (MapLibre's localIdeographFontFamily).
const CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
const META = 'hexward:layer';
const SELECTION = 'hexward-selection';

const TEXT = {
  zh: {
    title: '街道空间治理',
    subtitle: 'Subdistrict spatial governance',
    switchLang: 'EN',
    switchLangAria: '切换到英文 / Switch to English',
    mapAria: '街道治理地图',
    layers: '图层',
    fold: '收起/展开',
    loading: '加载中…',
    kind_plane: '面',
    kind_line: '线',
    kind_point: '点',
    kindHint_plane: '区域',
    kindHint_line: '线状',
    kindHint_point: '点位',
    groupToggle: '全部显示/隐藏',
    zoomFrom: '{z} 级起显示',
    zoom: '缩放 {z}',
    close: '关闭',
    responsibility: '责任信息',
    properties: '属性',
    featureId: '要素编号',
    unnamed: '未命名',
    yes: '是',
    no: '否',
    none: '—',
    notRecorded: '未登记',
    catalogueError: '无法加载图层目录，仅显示地图样式中的图层。',
    featureError: '无法加载该要素的完整属性，显示的是地图瓦片中的属性。',
    mapError: '地图出错：{msg}',
    webglError: '此浏览器无法创建 WebGL 地图（需要 WebGL 2）。',
    vendorMissing: '地图组件（MapLibre GL JS）未安装。请在源码目录运行 make ui（即 scripts/ui-vendor.sh），然后重新构建 hexward。',
    loginTitle: '登录',
    loginLead: '请登录后查看街道治理地图。',
    userName: '用户名',
    password: '密码',
    loginSubmit: '登录',
    loggingIn: '正在登录…',
    demoNote: '以 hexward serve --demo 启动的服务器带有演示账户（demo-admin、demo-operator、demo-planner、demo-officer、demo-viewer、demo-community），密码见 Hexward 的说明文档。',
    errMissing: '请输入用户名和密码',
    errWrong: '用户名或密码错误',
    errTooMany: '尝试过多，请 {n} 秒后再试',
    errTooManyLater: '尝试过多，请稍后再试',
    errBadRequest: '服务器拒绝了此登录请求，请检查用户名和密码',
    errServer: '登录失败（HTTP {status}），请稍后再试',
    errNetwork: '无法连接服务器，请检查网络后重试',
    errNoSession: '服务器接受了登录，但浏览器没有保存会话（Cookie 被阻止？）',
    sessionExpired: '登录已失效，请重新登录。',
    logout: '退出登录',
    logoutError: '退出登录失败：{msg}',
    forbidden: '此账户无权查看地图。',
    userAria: '当前用户',
    scope: '范围 {scope}',
    role_admin: '管理员',
    role_operator: '值班员',
    role_planner: '规划员',
    role_officer: '网格员',
    role_device: '设备',
    role_viewer: '查看者',
  },
  en: {
    title: 'Subdistrict spatial governance',
    subtitle: '街道空间治理',
    switchLang: '中文',
    switchLangAria: '切换到中文 / Switch to Chinese',
    mapAria: 'Subdistrict governance map',
    layers: 'Layers',
    fold: 'Collapse/expand',
    loading: 'Loading…',
    kind_plane: 'Planes',
    kind_line: 'Lines',
    kind_point: 'Points',
    kindHint_plane: 'areas',
    kindHint_line: 'rows & streets',
    kindHint_point: 'sites',
    groupToggle: 'Show/hide all',
    zoomFrom: 'from zoom {z}',
    zoom: 'Zoom {z}',
    close: 'Close',
    responsibility: 'Responsibility',
    properties: 'Properties',
    featureId: 'Feature id',
    unnamed: 'Unnamed',
    yes: 'Yes',
    no: 'No',
    none: '—',
    notRecorded: 'not recorded',
    catalogueError: 'Could not load the layer catalogue; showing the layers of the map style only.',
    featureError: 'Could not load the full feature; showing the properties from the map tile.',
    mapError: 'Map error: {msg}',
    webglError: 'This browser cannot create a WebGL map (WebGL 2 is required).',
    vendorMissing: 'The map library (MapLibre GL JS) is missing. Run make ui (scripts/ui-vendor.sh) in the source tree, then rebuild hexward.',
    loginTitle: 'Sign in',
    loginLead: 'Sign in to see the subdistrict map.',
    userName: 'User name',
    password: 'Password',
    loginSubmit: 'Sign in',
    loggingIn: 'Signing in…',
    demoNote: 'A server started with hexward serve --demo has demo accounts (demo-admin, demo-operator, demo-planner, demo-officer, demo-viewer, demo-community); their passwords are in the Hexward documentation.',
    errMissing: 'Enter a user name and password',
    errWrong: 'Wrong user name or password',
    errTooMany: 'Too many attempts, try again in {n} s',
    errTooManyLater: 'Too many attempts, try again later',
    errBadRequest: 'The server refused this sign-in request; check the user name and password',
    errServer: 'Sign-in failed (HTTP {status}); try again later',
    errNetwork: 'Cannot reach the server; check the network and try again',
    errNoSession: 'The server accepted the sign-in, but the browser kept no session (are cookies blocked?)',
    sessionExpired: 'Your session has ended; please sign in again.',
    logout: 'Log out',
    logoutError: 'Could not log out: {msg}',
    forbidden: 'This account may not view the map.',
    userAria: 'Signed-in user',
    scope: 'Area {scope}',
    role_admin: 'Administrator',
    role_operator: 'Operator',
    role_planner: 'Planner',
    role_officer: 'Officer',
    role_device: 'Device',
    role_viewer: 'Viewer',
  },
};

// Chinese names of the catalogue's enum values, by "layer.property".
const ENUM_ZH = {
  'compounds.kind': { residential: '住宅小区', urban_village: '城中村', old_estate: '老旧小区', commercial: '商业', industrial: '工业', public: '公共' },
  'buildings.use': { residential: '住宅', commercial: '商业', mixed: '商住混合', industrial: '工业', public: '公共', dormitory: '宿舍' },
  'streets.kind': { main: '主干道', secondary: '次干道', street: '街道', alley: '小巷', lane: '巷道', footway: '步行道' },
  'fences.kind': { wall: '围墙', fence: '围栏', plant_wall: '绿篱', isolation_belt: '隔离带' },
  'camera_views.level': { detect: '探测', observe: '观察', recognise: '识别', identify: '辨认' },
  'shops.category': { food: '餐饮', retail: '零售', grocery: '杂货便利', service: '生活服务', repair: '维修', pharmacy: '药店', hotel: '旅馆', entertainment: '娱乐', other: '其他' },
  'gates.kind': { main: '主出入口', side: '侧门', remote: '偏远出入口', emergency: '应急通道' },
};

const state = {
  lang: initialLang(),
  user: null, // { user, role, scope, csrf } of auth/me while signed in
  loginMessage: null, // { key, vars, kind: 'error' | 'info' } on the login card
  retryUntil: 0, // after a 429: no new attempt before this time (ms)
  gen: 0, // bumped when a map starts or is torn down: stale callbacks check it
  map: null,
  collections: new Map(), // layer name -> collection (catalogue order)
  order: [], // layer names in catalogue order, then style-only ones
  styleIds: new Map(), // layer name -> style layer ids
  layerOfId: new Map(), // style layer id -> layer name
  kindOf: new Map(), // layer name -> plane | line | point
  legend: new Map(), // layer name -> legend description
  labelFields: new Map(), // symbol layer id -> its text-field in the style
  schemas: new Map(), // layer name -> Promise of queryables (or null)
  hidden: new Set(),
  selected: null, // { layer, id, props, feature }
};

const $ = (sel) => document.querySelector(sel);

function initialLang() {
  const q = new URLSearchParams(location.search).get('lang');
  if (q === 'en' || q === 'zh') return q;
  try {
    const saved = localStorage.getItem('hexward.lang');
    if (saved === 'en' || saved === 'zh') return saved;
  } catch { /* storage disabled */ }
  return 'zh';
}

function t(key, vars = {}) {
  const s = TEXT[state.lang][key] ?? TEXT.zh[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function absolute(url) {
  return new URL(url, document.baseURI).href;
}

// httpError carries the status, so callers can tell a lost session (401)
// from other failures.
function httpError(url, status) {
  const err = new Error(`${url}: HTTP ${status}`);
  err.status = status;
  return err;
}

async function fetchJSON(url) {
  const res = await fetch(absolute(url), {
    headers: { Accept: 'application/json, application/geo+json' },
    credentials: 'same-origin',
  });
  if (res.status === 401) sessionEnded();
  if (!res.ok) throw httpError(url, res.status);
  return res.json();
}

// csrfHeaders are the headers every state-changing request made with the
// session cookie must carry.
function csrfHeaders() {
  return state.user?.csrf ? { 'X-CSRF-Token': state.user.csrf } : {};
}

let noticeTimer = 0;
function notice(msg, { sticky = false } = {}) {
  const n = $('#hx-notice');
  n.textContent = msg;
  n.hidden = false;
  clearTimeout(noticeTimer);
  if (!sticky) noticeTimer = setTimeout(() => { n.hidden = true; }, 10000);
}

// ---- language -------------------------------------------------------------

function setLang(lang) {
  if (!TEXT[lang] || lang === state.lang) return;
  state.lang = lang;
  try { localStorage.setItem('hexward.lang', lang); } catch { /* ignore */ }
  applyLang();
}

function applyLang() {
  const root = document.documentElement;
  root.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
  root.dataset.lang = state.lang;
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of document.querySelectorAll('[data-i18n-aria]')) e.setAttribute('aria-label', t(e.dataset.i18nAria));
  for (const e of document.querySelectorAll('[data-i18n-title]')) e.title = t(e.dataset.i18nTitle);
  $('.hx-subtitle').lang = state.lang === 'zh' ? 'en' : 'zh-CN';
  document.title = `Hexward ${t('title')} · ${t('subtitle')}`;
  if (document.documentElement.dataset.vendor === 'missing') showVendorMissing();
  updateZoom();
  if (state.order.length) renderLayers();
  renderPanel();
  applyLabelLanguage();
  renderUser();
  renderLoginMessage();
}

// Map labels follow the UI language: English shows name_en where a
// feature has one.
function applyLabelLanguage() {
  const map = state.map;
  if (!map || !state.labelFields.size) return;
  for (const [id, original] of state.labelFields) {
    if (!map.getLayer(id)) continue;
    const field = state.lang === 'en' ? ['coalesce', ['get', 'name_en'], toExpression(original)] : original;
    map.setLayoutProperty(id, 'text-field', field);
  }
}

function toExpression(field) {
  if (typeof field === 'string') {
    const m = /^\{([^{}]+)\}$/.exec(field);
    return m ? ['get', m[1]] : field;
  }
  return field;
}

// ---- header ---------------------------------------------------------------

function startClock() {
  const clock = $('#hx-clock');
  const tick = () => {
    const d = new Date();
    const p = (n) => String(n).padStart(2, '0');
    clock.textContent = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    clock.dateTime = d.toISOString();
  };
  tick();
  setInterval(tick, 1000);
}

function updateZoom() {
  const z = state.map ? state.map.getZoom() : null;
  $('#hx-zoom').textContent = z === null ? '' : t('zoom', { z: z.toFixed(1) });
  for (const row of document.querySelectorAll('.hx-layer[data-layer]')) {
    const c = state.collections.get(row.dataset.layer);
    const out = z !== null && c && (z < (c.minzoom ?? 0) || z > (c.maxzoom ?? 24));
    row.classList.toggle('hx-out-of-zoom', Boolean(out));
  }
}

function showVendorMissing() {
  let box = $('#hx-vendor-missing');
  if (!box) {
    box = el('div', { id: 'hx-vendor-missing', class: 'hx-card hx-vendor-missing', role: 'alert' });
    $('#map').append(box);
  }
  box.replaceChildren(
    el('h2', { text: state.lang === 'zh' ? '地图无法显示' : 'The map cannot be shown' }),
    el('p', { text: t('vendorMissing') }),
    el('p', { class: 'hx-muted', lang: state.lang === 'zh' ? 'en' : 'zh-CN', text: TEXT[state.lang === 'zh' ? 'en' : 'zh'].vendorMissing }),
    el('pre', { text: 'make ui && go build ./cmd/hexward' }),
  );
  $('#hx-layers').hidden = true;
}

// ---- style index and legend -------------------------------------------------

function kindOfStyleLayer(type) {
  if (type === 'fill' || type === 'fill-extrusion') return 'plane';
  if (type === 'line') return 'line';
  return 'point';
}

function indexStyle() {
  const map = state.map;
  state.styleIds.clear();
  state.layerOfId.clear();
  state.labelFields.clear();
  const styleLayers = map.getStyle().layers || [];
  const byName = new Map();
  for (const l of styleLayers) {
    const name = l.metadata?.[META];
    if (!name) continue;
    if (!byName.has(name)) byName.set(name, []);
    byName.get(name).push(l);
    state.layerOfId.set(l.id, name);
    if (l.type === 'symbol' && l.layout?.['text-field'] !== undefined) {
      state.labelFields.set(l.id, l.layout['text-field']);
    }
  }
  state.order = [...state.collections.keys()].filter((n) => byName.has(n));
  for (const n of byName.keys()) if (!state.order.includes(n)) state.order.push(n);
  for (const [name, ls] of byName) {
    // Without the catalogue (its request failed), the style's own metadata
    // names the layer.
    if (!state.collections.has(name)) {
      const m = ls[0].metadata;
      state.collections.set(name, {
        id: name, title: m['hexward:title'] || name, title_zh: m['hexward:title_zh'] || m['hexward:title'] || name,
        kind: m['hexward:kind'], minzoom: Math.min(...ls.map((l) => l.minzoom ?? 0)),
      });
    }
    state.styleIds.set(name, ls.map((l) => l.id));
    const main = ls.find((l) => l.id === name) || ls.find((l) => l.type !== 'symbol') || ls[0];
    const kind = state.collections.get(name)?.kind || kindOfStyleLayer(main.type);
    state.kindOf.set(name, kind);
    state.legend.set(name, legendOf(name, kind, ls, main));
    if (ls.every((l) => (l.layout?.visibility ?? 'visible') === 'none')) state.hidden.add(name);
  }
}

const COLOR_RE = /^(#[0-9a-f]{3,8}|rgba?\(|hsla?\(|[a-z]+$)/i;

// firstColor finds the default colour of a paint value: the value itself,
// a match's fallback, or the first colour in any other expression.
function firstColor(v) {
  if (typeof v === 'string') return COLOR_RE.test(v) ? v : null;
  if (!Array.isArray(v)) return null;
  if (v[0] === 'match' && v.length >= 4) {
    const fb = firstColor(v[v.length - 1]);
    if (fb) return fb;
  }
  for (const x of v.slice(1)) {
    const c = Array.isArray(x) ? firstColor(x) : (typeof x === 'string' && /^(#|rgb|hsl)/i.test(x) ? x : null);
    if (c) return c;
  }
  return null;
}

function firstNumber(v, dflt) {
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) {
    // interpolate/step: the first output after the input stops
    const nums = v.flat(Infinity).filter((x) => typeof x === 'number');
    if (v[0] === 'interpolate' && nums.length >= 2) return nums[1 + (v[1]?.[0] === 'exponential' ? 1 : 0)] ?? dflt;
    if (nums.length) return nums[nums.length - 1];
  }
  return dflt;
}

// classesOf reads ["match", ["get", prop], v1, c1, v2, c2, …, fallback].
function classesOf(v) {
  if (!Array.isArray(v) || v[0] !== 'match' || !Array.isArray(v[1]) || v[1][0] !== 'get') return null;
  const prop = v[1][1];
  const out = [];
  for (let i = 2; i < v.length - 2; i += 2) {
    const values = Array.isArray(v[i]) ? v[i] : [v[i]];
    const color = firstColor(v[i + 1]);
    if (color) out.push({ values: values.map(String), color });
  }
  return out.length ? { prop, items: out } : null;
}

function legendOf(name, kind, ls, main) {
  const p = main.paint || {};
  const outline = ls.find((l) => l.id === `${name}-outline`) || ls.find((l) => l.type === 'line' && l !== main);
  const op = outline?.paint || {};
  const g = { kind, color: '#888', opacity: 1, stroke: null, dashed: false, width: 2, radius: 5, classes: null };
  if (main.type === 'fill' || main.type === 'fill-extrusion') {
    const key = main.type === 'fill' ? 'fill' : 'fill-extrusion';
    g.color = firstColor(p[`${key}-color`]) || '#888';
    g.opacity = firstNumber(p[`${key}-opacity`], 1);
    g.classes = classesOf(p[`${key}-color`]);
    g.stroke = firstColor(op['line-color']) || firstColor(p['fill-outline-color']);
    g.dashed = Boolean(op['line-dasharray']);
  } else if (main.type === 'line') {
    g.color = firstColor(p['line-color']) || '#888';
    g.width = Math.min(6, Math.max(1.5, firstNumber(p['line-width'], 2)));
    g.dashed = Boolean(p['line-dasharray']);
    g.classes = classesOf(p['line-color']);
    g.stroke = outline && outline !== main ? firstColor(op['line-color']) : null; // casing
  } else if (main.type === 'circle') {
    g.color = firstColor(p['circle-color']) || '#888';
    g.radius = Math.min(8, Math.max(3, firstNumber(p['circle-radius'], 5)));
    g.stroke = firstColor(p['circle-stroke-color']);
    g.classes = classesOf(p['circle-color']);
  } else if (main.type === 'symbol') {
    g.color = firstColor(p['icon-color']) || firstColor(p['text-color']) || '#888';
  }
  return g;
}

const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) e.setAttribute(k, v);
  return e;
}

// shade darkens a #rrggbb colour for outlines; other colours pass.
function shade(color, f = 0.7) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1], 16);
  const c = [n >> 16, (n >> 8) & 255, n & 255].map((v) => Math.round(v * f).toString(16).padStart(2, '0'));
  return `#${c.join('')}`;
}

function isLight(color) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return /^(white|#fff|#ffff)$/i.test(color);
  const n = parseInt(m[1], 16);
  return 0.2126 * (n >> 16) + 0.7152 * ((n >> 8) & 255) + 0.0722 * (n & 255) > 225;
}

function swatch(g, color = g.color) {
  const s = svg('svg', { class: 'hx-swatch', viewBox: '0 0 24 16', 'aria-hidden': 'true' });
  if (g.kind === 'plane') {
    s.append(svg('rect', {
      x: 2, y: 2, width: 20, height: 12, rx: 2,
      fill: color, 'fill-opacity': Math.max(0.3, Math.min(1, g.opacity || 0)),
      stroke: g.stroke || shade(color), 'stroke-width': 1.6, 'stroke-dasharray': g.dashed ? '3 2' : null,
    }));
  } else if (g.kind === 'line') {
    // A white street on the white card needs a casing to be seen.
    const casing = g.stroke || (isLight(color) ? '#9aa5b1' : null);
    if (casing) s.append(svg('path', { d: 'M2 12 C8 2, 14 14, 22 4', fill: 'none', stroke: casing, 'stroke-width': g.width + 2, 'stroke-linecap': 'round' }));
    s.append(svg('path', {
      d: 'M2 12 C8 2, 14 14, 22 4', fill: 'none', stroke: color, 'stroke-width': g.width,
      'stroke-linecap': 'round', 'stroke-dasharray': g.dashed ? '4 3' : null,
    }));
  } else {
    s.append(svg('circle', { cx: 12, cy: 8, r: g.radius, fill: color, stroke: g.stroke || '#fff', 'stroke-width': 1.5 }));
  }
  return s;
}

// ---- labels of layers, properties and values --------------------------------

function layerTitle(name) {
  const c = state.collections.get(name);
  if (!c) return name;
  return state.lang === 'zh' ? (c.title_zh || c.title || name) : (c.title || c.title_zh || name);
}

function layerTitleOther(name) {
  const c = state.collections.get(name);
  if (!c) return '';
  return state.lang === 'zh' ? (c.title || '') : (c.title_zh || '');
}

function enumLabel(layer, prop, value) {
  const v = String(value);
  if (state.lang === 'zh') return ENUM_ZH[`${layer}.${prop}`]?.[v] ?? v;
  return v.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

function propTitle(schema, prop) {
  const s = schema?.properties?.[prop];
  if (!s) return prop;
  return state.lang === 'zh' ? (s['x-title-zh'] || s.title || prop) : (s.title || s['x-title-zh'] || prop);
}

function formatValue(layer, prop, value, schema) {
  if (value === null || value === undefined || value === '') return null;
  const s = schema?.properties?.[prop] || {};
  if (typeof value === 'boolean') return value ? t('yes') : t('no');
  if (Array.isArray(value) && value.length === 2 && value.every((x) => typeof x === 'number')) {
    return `${value[0].toFixed(6)}, ${value[1].toFixed(6)}`;
  }
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'number') {
    return value.toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 2 });
  }
  if (Array.isArray(s.enum) || ENUM_ZH[`${layer}.${prop}`]) return enumLabel(layer, prop, value);
  return String(value);
}

function featureName(props) {
  const zh = props?.name;
  const en = props?.name_en;
  if (state.lang === 'en') return en || zh || props?.shop_name || null;
  return zh || en || props?.shop_name || null;
}

// ---- layer switcher and legend ----------------------------------------------

function setLayerVisible(name, visible) {
  const map = state.map;
  if (visible) state.hidden.delete(name); else state.hidden.add(name);
  for (const id of state.styleIds.get(name) || []) {
    if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
  }
  if (!visible && state.selected?.layer === name) clearSelection();
  syncLayerRows();
}

function syncLayerRows() {
  for (const row of document.querySelectorAll('.hx-layer[data-layer]')) {
    const on = !state.hidden.has(row.dataset.layer);
    row.querySelector('input').checked = on;
    row.classList.toggle('hx-off', !on);
  }
  for (const grp of document.querySelectorAll('.hx-group[data-kind]')) {
    const names = state.order.filter((n) => state.kindOf.get(n) === grp.dataset.kind);
    const on = names.filter((n) => !state.hidden.has(n)).length;
    const box = grp.querySelector('.hx-group-toggle');
    box.checked = on === names.length;
    box.indeterminate = on > 0 && on < names.length;
  }
}

function renderLayers() {
  const root = $('#hx-layer-groups');
  const groups = [];
  for (const kind of KINDS) {
    const names = state.order.filter((n) => state.kindOf.get(n) === kind);
    if (!names.length) continue;
    const rows = names.map((name) => {
      const g = state.legend.get(name);
      const c = state.collections.get(name);
      const other = layerTitleOther(name);
      let classes = null;
      if (g?.classes) {
        // Class swatches: stronger fill and their own outline, so the
        // classes tell apart even for faint layers.
        const cg = { ...g, opacity: Math.max(0.7, g.opacity), stroke: null };
        classes = el('ul', { class: 'hx-classes' }, g.classes.items.map((it) => el('li', {},
          swatch(cg, it.color),
          el('span', { text: it.values.map((v) => enumLabel(name, g.classes.prop, v)).join(' / ') }))));
      }
      return el('li', { class: 'hx-layer', dataset: { layer: name, kind } },
        el('label', { class: 'hx-layer-label', title: other || null },
          el('input', {
            type: 'checkbox', checked: !state.hidden.has(name), dataset: { layer: name },
            onchange: (e) => setLayerVisible(name, e.target.checked),
          }),
          g ? swatch(g) : null,
          el('span', { class: 'hx-layer-title', text: layerTitle(name) }),
          c?.minzoom ? el('span', { class: 'hx-zoom-hint', text: t('zoomFrom', { z: c.minzoom }) }) : null),
        classes);
    });
    const toggle = el('input', {
      type: 'checkbox', class: 'hx-group-toggle', title: t('groupToggle'), 'aria-label': t('groupToggle'),
      onchange: (e) => { for (const n of names) setLayerVisible(n, e.target.checked); },
    });
    groups.push(el('section', { class: 'hx-group', dataset: { kind } },
      el('h3', {},
        el('label', {}, toggle,
          el('span', { class: 'hx-kind', text: t(`kind_${kind}`) }),
          el('span', { class: 'hx-kind-hint', text: t(`kindHint_${kind}`) }))),
      el('ul', { class: 'hx-layer-list' }, rows)));
  }
  root.replaceChildren(...groups);
  syncLayerRows();
  updateZoom();
}

// ---- selection and property panel -------------------------------------------

function schemaOf(layer) {
  if (!state.schemas.has(layer)) {
    state.schemas.set(layer, fetchJSON(`api/collections/${encodeURIComponent(layer)}/queryables`).catch(() => null));
  }
  return state.schemas.get(layer);
}

function interactiveIds(kinds) {
  const ids = [];
  for (const [name, list] of state.styleIds) {
    if (state.hidden.has(name)) continue;
    if (kinds && !kinds.includes(state.kindOf.get(name))) continue;
    ids.push(...list.filter((id) => state.map.getLayer(id)));
  }
  return ids;
}

// pick returns the feature under a screen point: points and lines within a
// few pixels first (they are drawn above the planes), else the topmost
// plane that holds the point.
function pick(point, slop = 6) {
  const map = state.map;
  const small = interactiveIds(['point', 'line']);
  if (small.length) {
    const box = [[point.x - slop, point.y - slop], [point.x + slop, point.y + slop]];
    const near = map.queryRenderedFeatures(box, { layers: small });
    if (near.length) return near[0];
  }
  const planes = interactiveIds(['plane']);
  if (!planes.length) return null;
  return map.queryRenderedFeatures([point.x, point.y], { layers: planes })[0] || null;
}

function select(f) {
  const layer = state.layerOfId.get(f.layer.id);
  if (!layer) return;
  const id = f.id;
  const sel = { layer, id, props: { ...f.properties }, feature: null, partial: id !== undefined && id !== null };
  state.selected = sel;
  highlight({ type: 'Feature', geometry: f.geometry, properties: {} });
  renderPanel();
  schemaOf(layer).then(() => { if (state.selected === sel) renderPanel(); });
  if (!sel.partial) return;
  fetchJSON(`api/collections/${encodeURIComponent(layer)}/items/${encodeURIComponent(id)}`)
    .then((gj) => {
      if (state.selected !== sel) return;
      sel.props = { ...sel.props, ...(gj.properties || {}) };
      sel.feature = gj;
      sel.partial = false;
      if (gj.geometry) highlight(gj);
      renderPanel();
    })
    .catch(() => {
      if (state.selected !== sel) return;
      sel.partial = false;
      notice(t('featureError'));
      renderPanel();
    });
}

function clearSelection() {
  state.selected = null;
  highlight(null);
  renderPanel();
}

function highlight(feature) {
  const src = state.map?.getSource(SELECTION);
  if (src) src.setData({ type: 'FeatureCollection', features: feature ? [feature] : [] });
}

function addSelectionLayers() {
  const map = state.map;
  if (map.getSource(SELECTION)) return;
  map.addSource(SELECTION, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: `${SELECTION}-fill`, type: 'fill', source: SELECTION, filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#ffd400', 'fill-opacity': 0.25 } });
  map.addLayer({ id: `${SELECTION}-casing`, type: 'line', source: SELECTION, filter: ['!=', ['geometry-type'], 'Point'], layout: { 'line-join': 'round', 'line-cap': 'round' }, paint: { 'line-color': '#0b1726', 'line-width': 7, 'line-opacity': 0.55 } });
  map.addLayer({ id: `${SELECTION}-line`, type: 'line', source: SELECTION, filter: ['!=', ['geometry-type'], 'Point'], layout: { 'line-join': 'round', 'line-cap': 'round' }, paint: { 'line-color': '#ffd400', 'line-width': 3.5 } });
  map.addLayer({ id: `${SELECTION}-point`, type: 'circle', source: SELECTION, filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 11, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ffd400', 'circle-stroke-width': 4 } });
}

function dlRow(prop, label, value, { missing = false, tel = false } = {}) {
  let dd;
  if (value === null) {
    dd = el('dd', { class: 'hx-empty', text: missing ? t('notRecorded') : t('none') });
  } else if (tel) {
    dd = el('dd', {}, el('a', { href: `tel:${String(value).replace(/[^0-9+]/g, '')}`, text: value }));
  } else {
    dd = el('dd', { text: value });
  }
  return el('div', { class: 'hx-row', dataset: { prop } }, el('dt', { text: label }), dd);
}

async function renderPanel() {
  const panel = $('#hx-panel');
  const sel = state.selected;
  if (!sel) {
    panel.hidden = true;
    document.body.classList.remove('hx-panel-open');
    return;
  }
  const schema = await (state.schemas.get(sel.layer) || null);
  if (state.selected !== sel) return;
  const props = sel.props || {};
  const g = state.legend.get(sel.layer);
  const layerLine = $('#hx-panel-layer');
  layerLine.replaceChildren(g ? swatch(g) : '', el('span', { text: layerTitle(sel.layer) }));
  layerLine.dataset.layer = sel.layer;
  $('#hx-panel-title').textContent = featureName(props) || `${t('unnamed')} #${sel.id ?? ''}`;

  const schemaProps = schema?.properties ? Object.keys(schema.properties).filter((p) => p !== 'geometry' && !schema.properties[p]?.format?.startsWith?.('geometry')) : [];
  const known = new Set(schemaProps);
  const respRows = [];
  for (const p of RESP_FIELDS) {
    if (!known.has(p) && !(p in props)) continue;
    respRows.push(dlRow(p, propTitle(schema, p), formatValue(sel.layer, p, props[p], schema), { missing: true, tel: p === 'phone' }));
  }
  $('#hx-resp').hidden = respRows.length === 0;
  $('#hx-resp-list').replaceChildren(...respRows);

  const rows = [];
  if (sel.id !== undefined && sel.id !== null) rows.push(dlRow('id', t('featureId'), String(sel.id)));
  // Names first, then the schema's order, then whatever else the feature has.
  const first = ['name', 'name_en'].filter((p) => known.has(p) || p in props);
  const order = [...new Set([...first, ...schemaProps, ...Object.keys(props).filter((p) => !known.has(p))])];
  for (const p of order) {
    if (RESP_FIELDS.includes(p)) continue;
    rows.push(dlRow(p, propTitle(schema, p), formatValue(sel.layer, p, props[p], schema)));
  }
  $('#hx-props-list').replaceChildren(...rows);
  panel.classList.toggle('hx-loading', Boolean(sel.partial));
  panel.hidden = false;
  document.body.classList.add('hx-panel-open');
}

// ---- sign-in -----------------------------------------------------------------

function renderUser() {
  const box = $('#hx-user');
  const u = state.user;
  box.hidden = !u;
  if (!u) return;
  const roleKey = `role_${u.role}`;
  const role = TEXT.zh[roleKey] ? t(roleKey) : (u.role || '');
  $('#hx-user-name').textContent = u.user;
  const roleEl = $('#hx-user-role');
  roleEl.textContent = role;
  roleEl.dataset.role = u.role || '';
  const scope = $('#hx-user-scope');
  scope.hidden = !u.scope;
  scope.textContent = u.scope ? t('scope', { scope: u.scope }) : '';
  box.setAttribute('aria-label', t('userAria'));
  box.title = [u.user, role, scope.textContent].filter(Boolean).join(' · ');
}

function setLoginMessage(key, vars = {}, kind = 'error') {
  state.loginMessage = key ? { key, vars, kind } : null;
  renderLoginMessage();
}

let retryTimer = 0;

function renderLoginMessage() {
  const p = $('#hx-login-error');
  const m = state.loginMessage;
  const waiting = state.retryUntil > Date.now();
  $('#hx-login-submit').disabled = waiting || $('#hx-login').dataset.busy === 'true';
  if (!m) {
    p.hidden = true;
    p.textContent = '';
    delete p.dataset.error;
    return;
  }
  let { key } = m;
  const vars = { ...m.vars };
  if (key === 'errTooMany') {
    // The wait counts down on the card.
    vars.n = Math.max(1, Math.ceil((state.retryUntil - Date.now()) / 1000));
    if (!waiting) key = 'errTooManyLater';
  }
  p.textContent = t(key, vars);
  p.dataset.error = m.key;
  p.classList.toggle('hx-login-info', m.kind === 'info');
  p.hidden = false;
}

// retryAfter reads a Retry-After header: delta-seconds or an HTTP date.
function retryAfter(value) {
  const v = String(value ?? '').trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(1, Math.ceil((at - Date.now()) / 1000));
}

function startRetryWait(seconds) {
  clearInterval(retryTimer);
  if (!seconds) {
    state.retryUntil = 0;
    setLoginMessage('errTooManyLater');
    return;
  }
  state.retryUntil = Date.now() + seconds * 1000;
  setLoginMessage('errTooMany');
  retryTimer = setInterval(() => {
    if (Date.now() >= state.retryUntil) {
      clearInterval(retryTimer);
      state.retryUntil = 0;
      if (state.loginMessage?.key === 'errTooMany') setLoginMessage(null);
      return;
    }
    if (state.loginMessage?.key === 'errTooMany') renderLoginMessage();
  }, 250);
}

function setLoginBusy(busy) {
  const card = $('#hx-login');
  card.dataset.busy = String(busy);
  const btn = $('#hx-login-submit');
  btn.dataset.i18n = busy ? 'loggingIn' : 'loginSubmit';
  btn.textContent = t(btn.dataset.i18n);
  renderLoginMessage();
}

// showLogin removes the map (if any) and shows the login card, with a
// message key for why (null on a first visit or after logging out).
function showLogin(messageKey = null, kind = 'error') {
  teardownMap();
  state.user = null;
  renderUser();
  $('#hx-main').hidden = true;
  document.body.classList.add('hx-signed-out');
  $('#hx-login').hidden = false;
  $('#hx-login-password').value = '';
  setLoginBusy(false);
  setLoginMessage(messageKey, {}, kind);
  const u = $('#hx-login-user');
  (u.value ? $('#hx-login-password') : u).focus();
}

function signedIn(me) {
  state.user = { user: String(me.user ?? ''), role: String(me.role ?? ''), scope: String(me.scope ?? ''), csrf: String(me.csrf ?? '') };
  clearInterval(retryTimer);
  state.retryUntil = 0;
  setLoginMessage(null);
  $('#hx-login').hidden = true;
  document.body.classList.remove('hx-signed-out');
  $('#hx-main').hidden = false;
  renderUser();
  startMap();
}

// sessionEnded: a map request answered 401, so the session expired or was
// logged out elsewhere. Idempotent: every pending tile may answer 401.
function sessionEnded() {
  if (!state.user) return;
  showLogin('sessionExpired', 'info');
}

// authMe returns the signed-in user, or null on 401.
async function authMe() {
  const res = await fetch(absolute('auth/me'), {
    headers: { Accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (res.status === 401) return null;
  if (!res.ok) throw httpError('auth/me', res.status);
  return res.json();
}

async function submitLogin(e) {
  e.preventDefault();
  const card = $('#hx-login');
  if (card.dataset.busy === 'true' || state.retryUntil > Date.now()) return;
  const userEl = $('#hx-login-user');
  const passEl = $('#hx-login-password');
  const user = userEl.value.trim();
  const password = passEl.value;
  if (!user || !password) {
    setLoginMessage('errMissing');
    (user ? passEl : userEl).focus();
    return;
  }
  setLoginMessage(null);
  setLoginBusy(true);
  let res;
  let me = null;
  try {
    res = await fetch(absolute('auth/login'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ user, password }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (res.ok) {
      me = await res.json().catch(() => null);
      // The contract answers like auth/me; ask it if the body was not that.
      if (!me?.user) me = await authMe();
    }
  } catch {
    setLoginBusy(false);
    setLoginMessage('errNetwork');
    return;
  }
  setLoginBusy(false);
  if (res.ok && me?.user) {
    passEl.value = '';
    signedIn(me);
    return;
  }
  passEl.value = '';
  passEl.focus();
  if (res.status === 401) setLoginMessage('errWrong');
  else if (res.status === 429) startRetryWait(retryAfter(res.headers.get('Retry-After')));
  else if (res.status === 400) setLoginMessage('errBadRequest');
  else if (res.ok) setLoginMessage('errNoSession');
  else setLoginMessage('errServer', { status: res.status });
}

async function logout() {
  const btn = $('#hx-logout');
  btn.disabled = true;
  try {
    const res = await fetch(absolute('auth/logout'), {
      method: 'POST',
      headers: { ...csrfHeaders() },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    // 401: the session had already ended; either way it is gone now.
    if (!res.ok && res.status !== 401) throw httpError('auth/logout', res.status);
    showLogin(null);
  } catch (err) {
    notice(t('logoutError', { msg: err.message }));
  } finally {
    btn.disabled = false;
  }
}

function wireLogin() {
  $('#hx-login-form').addEventListener('submit', submitLogin);
  $('#hx-logout').addEventListener('click', logout);
}

// ---- start ------------------------------------------------------------------

function loadCSS(href) {
  return new Promise((resolve) => {
    if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) {
      resolve();
      return;
    }
    const link = el('link', { rel: 'stylesheet', href });
    link.onload = resolve;
    link.onerror = resolve;
    document.head.prepend(link);
  });
}

async function loadCollections(gen) {
  try {
    const doc = await fetchJSON('api/collections');
    if (gen !== state.gen) return;
    for (const c of doc.collections || []) if (c && c.id) state.collections.set(c.id, c);
  } catch (err) {
    if (gen === state.gen && err.status !== 401) notice(t('catalogueError'));
  }
}

function wireHeader() {
  $('#hx-lang').addEventListener('click', () => setLang(state.lang === 'zh' ? 'en' : 'zh'));
  $('#hx-panel-close').addEventListener('click', clearSelection);
  $('#hx-layers-fold').addEventListener('click', (e) => {
    const nav = $('#hx-layers');
    const folded = nav.classList.toggle('hx-folded');
    e.currentTarget.setAttribute('aria-expanded', String(!folded));
    e.currentTarget.textContent = folded ? '▸' : '▾';
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.selected) clearSelection();
  });
}

// teardownMap removes the map and forgets everything learnt from the
// server, so the next user starts afresh.
function teardownMap() {
  state.gen++;
  if (state.map) {
    try { state.map.remove(); } catch { /* already gone */ }
  }
  state.map = null;
  delete window.hexwardMap;
  state.collections.clear();
  state.order = [];
  state.styleIds.clear();
  state.layerOfId.clear();
  state.kindOf.clear();
  state.legend.clear();
  state.labelFields.clear();
  state.schemas.clear();
  state.hidden.clear();
  state.selected = null;
  delete document.body.dataset.ready;
  document.body.classList.remove('hx-panel-open');
  $('#hx-panel').hidden = true;
  $('#hx-notice').hidden = true;
  $('#hx-vendor-missing')?.remove();
  $('#hx-layers').hidden = false;
  $('#hx-layer-groups').replaceChildren(el('p', { class: 'hx-muted', dataset: { i18n: 'loading' }, text: t('loading') }));
  updateZoom();
}

async function main() {
  wireHeader();
  wireLogin();
  startClock();
  applyLang();
  let me;
  try {
    me = await authMe();
  } catch (err) {
    showLogin(err.status ? null : 'errNetwork');
    if (err.status) setLoginMessage('errServer', { status: err.status });
    return;
  }
  if (me?.user) signedIn(me);
  else showLogin(null);
}

async function startMap() {
  const gen = ++state.gen;
  if (document.documentElement.dataset.vendor === 'missing') {
    showVendorMissing();
    return;
  }
  let ml;
  try {
    ml = await import('./vendor/maplibre-gl.mjs');
  } catch (err) {
    document.documentElement.dataset.vendor = 'missing';
    showVendorMissing();
    return;
  }
  if (gen !== state.gen) return;
  const catalogue = loadCollections(gen);
  await loadCSS('vendor/maplibre-gl.css');
  if (gen !== state.gen) return;

  let map;
  try {
    map = new ml.Map({
      container: 'map',
      style: absolute('style.json'),
      localIdeographFontFamily: CJK_FONTS,
      hash: 'map',
      maxPitch: 60,
      attributionControl: { compact: true },
      // The style names the server's paths ("/tiles/…", "/fonts/…"): make
      // them absolute against this page. The session cookie goes along.
      transformRequest: (url) => ({ url: absolute(url), credentials: 'same-origin' }),
    });
  } catch (err) {
    notice(t('webglError'), { sticky: true });
    return;
  }
  state.map = map;
  window.hexwardMap = map;

  map.addControl(new ml.NavigationControl({ visualizePitch: true }), 'bottom-right');
  map.addControl(new ml.FullscreenControl({ container: document.body }), 'bottom-right');
  map.addControl(new ml.ScaleControl({ maxWidth: 180, unit: 'metric' }), 'bottom-left');

  map.on('error', (e) => {
    if (gen !== state.gen) return;
    const status = e?.error?.status;
    if (status === 401) {
      sessionEnded();
      return;
    }
    if (status === 403) {
      notice(t('forbidden'), { sticky: true });
      return;
    }
    const msg = e?.error?.message || String(e?.error || 'unknown');
    console.error('hexward map:', msg);
    notice(t('mapError', { msg }));
  });
  map.on('zoom', updateZoom);

  map.on('load', async () => {
    await catalogue;
    if (gen !== state.gen) return;
    indexStyle();
    addSelectionLayers();
    renderLayers();
    applyLabelLanguage();
    updateZoom();
    document.body.dataset.ready = 'true';
  });

  map.on('click', (e) => {
    const f = pick(e.point);
    if (!f) {
      clearSelection();
    } else if (f.properties?.merged && (f.id === undefined || f.id === null)) {
      // At low zoom dense layers come merged (count = how many features):
      // a click zooms in towards them instead.
      map.easeTo({ center: e.lngLat, zoom: Math.min(map.getZoom() + 2, map.getMaxZoom()) });
    } else {
      select(f);
    }
  });

  let hoverPoint = null;
  let hoverQueued = false;
  map.on('mousemove', (e) => {
    hoverPoint = e.point;
    if (hoverQueued) return;
    hoverQueued = true;
    requestAnimationFrame(() => {
      hoverQueued = false;
      if (state.map !== map || !state.styleIds.size || !hoverPoint) return;
      map.getCanvas().style.cursor = pick(hoverPoint) ? 'pointer' : '';
    });
  });
  map.on('mouseout', () => { hoverPoint = null; map.getCanvas().style.cursor = ''; });
}

main();
