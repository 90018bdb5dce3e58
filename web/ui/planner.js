// Hexward planner's panel: the analyses of package analysis on the map.
// Plain ES module, loaded by index.html next to app.js; like operator.js
// it needs nothing from app.js but what app.js publishes anyway:
//   body[data-ready="true"]    the map has loaded (window.hexwardMap)
//   the map's "remove" event   the map is gone (logout, session ended)
//   html[data-lang]            the language ("zh" | "en")
//   #hx-layer-groups input[data-layer]   the layer switcher's checkboxes
//       (the panel's layer toggles drive them, so both stay in step)
//
// Every signed-in user gets the "Planning" button in the header and the
// figures of the areas; the roles with run_analyses (admin, planner) also
// get the hypothetical camera, placement suggestions, placard overrides
// and "Recompute". Nothing is requested before the panel is first opened.
//
// Server contract (web/analysis.go):
//   auth/me                                   {user, role, scope, csrf}
//   api/analysis                              levels, level, result_layers,
//       area_layers, last_run {at, total_ms, …}; at is the zero time until
//       the first run ends, and the endpoints below answer 409 until then:
//       the panel shows "computing…" and asks api/analysis again.
//   api/analysis/figures?layer=               {level, areas: [Figures]}
//   api/analysis/figures?format=csv           the figures as CSV (download)
//   api/analysis/figures/{layer}/{id}         one area's Figures
//   POST api/analysis/run                     recompute now → last_run
//   POST api/analysis/whatif {lon, lat, bearing, hfov, tilt, mount_height}
//       → {camera, views: [{level, range_m, area_m2, geometry}], gain: [{level, street_length_m, …}]}
//   POST api/analysis/suggest {k, level, area: {layer, id}} → {cameras: [{camera: {Pos, Bearing}, views, gain, score}]}
//   PUT api/analysis/placards/{compound} {rating | null, reason}
//   api/collections/{layer}/items?bbox=&limit= (following "next" links)
//       the areas' outlines, their unseen gates, and the GeoJSON export
// State-changing requests carry X-CSRF-Token.
//
// window.hexwardPlanner exposes the state for tests and the console.

import { $, abs, el, getJSON, HTTPError, lang, request, tilesOver, translator, withMap } from './lib.js';

const PLANNERS = new Set(['admin', 'planner']); // roles with run_analyses (auth/roles.go)
const AREA_LAYERS = ['compounds', 'village_zones', 'communities', 'subdistricts'];
const TOGGLES = ['blind_spots', 'fence_gaps', 'leaks', 'frontage_gaps', 'grid_cells', 'placards', 'camera_views'];
const EXPORTS = ['blind_spots', 'fence_gaps', 'leaks', 'frontages', 'frontage_gaps', 'grid_cells', 'placards', 'camera_views'];
const LEVEL_COLORS = { detect: '#1e88e5', observe: '#43a047', recognise: '#fb8c00', identify: '#d81b60' };
const RATING_COLORS = { red: '#d32f2f', yellow: '#f9a825', green: '#388e3c' };
const DEFAULT_LENS = { hfov: 90, tilt: 20, mount_height: 4 }; // spatial.StandardCamera
const HANDLE_PX = 70; // the bearing handle's distance from the camera on screen
const DEBOUNCE_MS = 100;
const POLL_MS = 2000; // asking api/analysis again while the first run computes
const META = 'hexward:layer';
const SRC_AREA = 'hexward-plan-area';
const SRC_GATES = 'hexward-plan-gates';
const SRC_VIEWS = 'hexward-plan-views';
const SRC_SUGGEST = 'hexward-plan-suggested';
const SRC_AIM = 'hexward-plan-aim';

const TEXT = {
  zh: {
    toggle: '规划',
    toggleTitle: '规划分析面板',
    title: '规划分析',
    close: '关闭',
    computing: '正在计算分析结果…',
    lastRun: '分析于 {at}（{s} 秒）',
    notEnabled: '此服务器未启用分析。',
    loadFailed: '无法加载：{msg}',
    area: '区域',
    areaLayer: '图层',
    areaPick: '选择区域',
    areaHint: '或在地图上点击一个区域',
    noArea: '尚未选择区域',
    lay_compounds: '小区', lay_village_zones: '村内片区', lay_communities: '社区', lay_subdistricts: '街道',
    coverage: '监控覆盖率',
    total: '总量',
    m_street_length: '街巷长度', m_street_area: '街巷面积', m_gates: '出入口', m_fence: '围墙',
    lvl_detect: '探测', lvl_observe: '观察', lvl_recognise: '识别', lvl_identify: '辨认',
    unseenGates: '未覆盖出入口（{level}）',
    showGates: '在地图上显示',
    enclosure: '围合',
    perimeter_m: '周长', enclosed_share: '围合比例', controlled_share: '受控比例', gaps: '缺口',
    gates: '出入口', max_gate_spacing_m: '最大出入口间距', leaks: '漏洞',
    counts: '统计',
    Buildings: '建筑', Households: '户数', Shops: '商铺', Sensors: '传感器', OpenAlerts: '未处理告警',
    AreaM2: '面积', CoveredM2: '覆盖面积', incidents: '事件',
    placard: '挂牌',
    rating_red: '红牌', rating_yellow: '黄牌', rating_green: '绿牌', rating_: '未评定',
    overridden: '人工设定（计算结果：{r}）',
    computedRating: '按指标计算',
    override: '人工调整挂牌',
    ratingAuto: '恢复按指标计算',
    reason: '理由',
    reasonPlaceholder: '例如：已现场核查',
    save: '保存',
    saved: '已保存',
    layers: '分析图层',
    lay_blind_spots: '盲区', lay_fence_gaps: '围墙缺口', lay_leaks: '漏洞点', lay_frontage_gaps: '门前三包缺口',
    lay_grid_cells: '网格', lay_placards: '挂牌', lay_camera_views: '摄像机视域', lay_frontages: '门前三包',
    whatif: '假设摄像机',
    place: '放置摄像机',
    placing: '在地图上点击放置…',
    placeHint: '点击地图放置摄像机，拖动圆点调整朝向。',
    bearing: '朝向',
    hfov: '水平视角',
    tilt: '俯角',
    height: '安装高度',
    clear: '清除',
    gain: '新增覆盖',
    level: '等级',
    gainStreet: '街巷',
    gainArea: '面积',
    gainGates: '出入口',
    gainFence: '围墙',
    evaluating: '计算中…',
    noCamera: '尚未放置摄像机',
    suggest: '建议点位',
    k: '数量',
    run: '计算建议',
    needArea: '请先选择区域',
    suggesting: '正在计算建议点位…',
    useSuggestion: '作为假设摄像机',
    noSuggestions: '没有可增加覆盖的点位',
    exports: '导出',
    csv: '指标（CSV）',
    geojson: '图层（GeoJSON）',
    extent: '范围',
    extentAll: '全街道',
    extentArea: '所选区域',
    download: '下载',
    exporting: '正在导出 {n} 个要素…',
    recompute: '重新计算',
    recomputing: '正在重新计算…',
    m: '{n} 米', m2: '{n} 平方米', deg: '{n}°', pct: '{n}%', n: '{n}',
    failed: '失败：{msg}',
  },
  en: {
    toggle: 'Planning',
    toggleTitle: 'Planner\'s panel',
    title: 'Planning',
    close: 'Close',
    computing: 'Computing the analyses…',
    lastRun: 'Analysed {at} ({s} s)',
    notEnabled: 'Analyses are not enabled on this server.',
    loadFailed: 'Could not load: {msg}',
    area: 'Area',
    areaLayer: 'Layer',
    areaPick: 'Choose an area',
    areaHint: 'or click an area on the map',
    noArea: 'No area chosen',
    lay_compounds: 'Compounds', lay_village_zones: 'Village zones', lay_communities: 'Communities', lay_subdistricts: 'Subdistricts',
    coverage: 'Camera coverage',
    total: 'Total',
    m_street_length: 'Street length', m_street_area: 'Street area', m_gates: 'Gates', m_fence: 'Fence',
    lvl_detect: 'Detect', lvl_observe: 'Observe', lvl_recognise: 'Recognise', lvl_identify: 'Identify',
    unseenGates: 'Unseen gates ({level})',
    showGates: 'Show on map',
    enclosure: 'Enclosure',
    perimeter_m: 'Perimeter', enclosed_share: 'Enclosed', controlled_share: 'Controlled', gaps: 'Gaps',
    gates: 'Gates', max_gate_spacing_m: 'Max gate spacing', leaks: 'Leaks',
    counts: 'Counts',
    Buildings: 'Buildings', Households: 'Households', Shops: 'Shops', Sensors: 'Sensors', OpenAlerts: 'Open alerts',
    AreaM2: 'Area', CoveredM2: 'Covered', incidents: 'Incidents',
    placard: 'Placard',
    rating_red: 'Red', rating_yellow: 'Yellow', rating_green: 'Green', rating_: 'Not rated',
    overridden: 'Set by hand (computed: {r})',
    computedRating: 'computed from the indicators',
    override: 'Override the placard',
    ratingAuto: 'Back to the computed rating',
    reason: 'Reason',
    reasonPlaceholder: 'e.g. checked on site',
    save: 'Save',
    saved: 'Saved',
    layers: 'Analysis layers',
    lay_blind_spots: 'Blind spots', lay_fence_gaps: 'Fence gaps', lay_leaks: 'Leaks', lay_frontage_gaps: 'Frontage gaps',
    lay_grid_cells: 'Grid cells', lay_placards: 'Placards', lay_camera_views: 'Camera views', lay_frontages: 'Frontages',
    whatif: 'Hypothetical camera',
    place: 'Place camera',
    placing: 'Click the map to place…',
    placeHint: 'Click the map to place a camera; drag the dot to turn it.',
    bearing: 'Bearing',
    hfov: 'Field of view',
    tilt: 'Tilt',
    height: 'Mount height',
    clear: 'Clear',
    gain: 'Gain',
    level: 'Level',
    gainStreet: 'Street',
    gainArea: 'Area',
    gainGates: 'Gates',
    gainFence: 'Fence',
    evaluating: 'Computing…',
    noCamera: 'No camera placed',
    suggest: 'Suggested sites',
    k: 'Cameras',
    run: 'Suggest',
    needArea: 'Choose an area first',
    suggesting: 'Finding sites…',
    useSuggestion: 'Use as hypothetical camera',
    noSuggestions: 'No site adds coverage',
    exports: 'Export',
    csv: 'Figures (CSV)',
    geojson: 'Layer (GeoJSON)',
    extent: 'Extent',
    extentAll: 'Whole district',
    extentArea: 'Chosen area',
    download: 'Download',
    exporting: 'Exporting {n} features…',
    recompute: 'Recompute',
    recomputing: 'Recomputing…',
    m: '{n} m', m2: '{n} m²', deg: '{n}°', pct: '{n}%', n: '{n}',
    failed: 'Failed: {msg}',
  },
};

const t = translator(TEXT);

// placardReasons puts the server's placard reasons (grid/manage Rate: "camera
// coverage 40%; enclosure 70%; 2.0 incidents per 100 households; 3 open
// alerts") into the page's language; a reason written by hand passes as is.
const REASONS_ZH = [
  [/^camera coverage (\S+)$/, '摄像头覆盖 $1'],
  [/^enclosure (\S+)$/, '围合 $1'],
  [/^(\S+) incidents per 100 households$/, '每百户事件 $1 起'],
  [/^(\d+) open alerts$/, '未处理告警 $1 条'],
];
function placardReasons(s) {
  if (lang() !== 'zh') return s;
  return s.split('; ').map((r) => {
    const m = REASONS_ZH.find(([re]) => re.test(r));
    return m ? r.replace(m[0], m[1]) : r;
  }).join('；');
}




// tx is an element whose text is TEXT[key], re-read when the language changes.
function tx(tag, key, attrs = {}) {
  return el(tag, { ...attrs, dataset: { ...(attrs.dataset || {}), t: key }, text: t(key) });
}



function locale() { return lang() === 'zh' ? 'zh-CN' : 'en-GB'; }

function num(v, digits = 0) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return v.toLocaleString(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function pct(share) {
  if (typeof share !== 'number' || !Number.isFinite(share)) return '—';
  return t('pct', { n: num(share * 100, share < 0.1 && share > 0 ? 1 : 0) });
}

function normBearing(b) {
  const r = Math.round(((b % 360) + 360) % 360);
  return r === 360 ? 0 : r;
}

// bboxOf is [w, s, e, n] of a GeoJSON geometry, or null.
function bboxOf(g) {
  let b = null;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      if (!b) b = [c[0], c[1], c[0], c[1]];
      else b = [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])];
      return;
    }
    for (const x of c) walk(x);
  };
  if (g?.type === 'GeometryCollection') for (const x of g.geometries || []) { const bb = bboxOf(x); if (bb) walk([[bb[0], bb[1]], [bb[2], bb[3]]]); }
  else if (g?.coordinates) walk(g.coordinates);
  return b;
}

// tilesOver lists the XYZ tiles at zoom z over bounds [w, s, e, n].

const EMPTY = { type: 'FeatureCollection', features: [] };

// ---- the planner's panel ------------------------------------------------------

class PlannerView {
  constructor(map, ml) {
    this.map = map;
    this.ml = ml;
    this.me = null; // auth/me, read when the panel first opens
    this.canPlan = false;
    this.open = false;
    this.started = false;
    this.gone = false;
    this.info = null; // api/analysis
    this.state = 'idle'; // idle | loading | computing | ready | error
    this.pollTimer = 0;
    this.areaLayer = 'compounds';
    this.areas = new Map(); // layer -> [Figures] of the list
    this.area = null; // { layer, id } picked
    this.figures = null; // Figures of the picked area
    this.areaFeature = null; // its GeoJSON feature
    this.unseen = []; // GeoJSON features of its unseen gates
    this.cam = null; // { lon, lat, bearing, hfov, tilt, mount_height } of the what-if camera
    this.whatif = null; // the last answer for this.cam
    this.whatifSeq = 0; // requests sent
    this.whatifDone = 0; // the seq of the answer shown
    this.whatifBusy = false;
    this.whatifTimer = 0;
    this.whatifError = null;
    this.placing = false;
    this.suggestions = null; // the last suggest answer's cameras
    this.suggestBusy = false;
    this.suggestError = null;
    this.markers = { cam: null, handle: null };
    this.message = null;

    this.button = el('button', {
      id: 'hx-plan-toggle', class: 'hx-plan-toggle', type: 'button', 'aria-pressed': 'false', 'aria-controls': 'hx-plan',
      dataset: { t: 'toggle' }, text: t('toggle'), title: t('toggleTitle'),
      onclick: () => this.setOpen(!this.open),
    });
    const tools = $('.hx-tools');
    tools?.insertBefore(this.button, $('#hx-lang'));
    this.panel = this.buildPanel();
    this.panel.hidden = true;
    document.getElementById('hx-main').append(this.panel);

    this.onClick = (e) => this.mapClick(e);
    map.on('click', this.onClick);
    this.onMove = () => this.placeHandle();
    map.on('move', this.onMove);
    // A click that places the camera must not also select what is under it
    // (app.js's click): it is taken in the capture phase, before MapLibre.
    this.container = map.getContainer();
    this.down = null;
    this.onDown = (e) => { this.down = [e.clientX, e.clientY]; };
    this.onCapture = (e) => this.captureClick(e);
    this.container.addEventListener('pointerdown', this.onDown, true);
    this.container.addEventListener('click', this.onCapture, true);
    this.onKey = (e) => {
      if (e.key === 'Escape' && this.placing) { this.setPlacing(false); }
    };
    document.addEventListener('keydown', this.onKey);
    this.langObserver = new MutationObserver(() => this.relabel());
    this.langObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-lang'] });
  }

  destroy() {
    this.gone = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.whatifTimer);
    this.langObserver.disconnect();
    this.removeMarkers();
    this.button.remove();
    this.panel.remove();
    document.body.classList.remove('hx-plan-open', 'hx-plan-placing');
    document.removeEventListener('keydown', this.onKey);
    this.container.removeEventListener('pointerdown', this.onDown, true);
    this.container.removeEventListener('click', this.onCapture, true);
    if (this.onStyleData) $('#hx-layer-groups')?.removeEventListener('change', this.onStyleData);
    try {
      this.map.off('click', this.onClick);
      this.map.off('move', this.onMove);
    } catch { /* the map is gone */ }
  }

  // ---- opening and the analyses' state ----

  setOpen(open) {
    this.open = open;
    this.panel.hidden = !open;
    this.button.setAttribute('aria-pressed', String(open));
    document.body.classList.toggle('hx-plan-open', open);
    if (!open) this.setPlacing(false);
    if (open && !this.started) {
      this.started = true;
      this.start();
    }
  }

  async start() {
    this.setState('loading');
    try {
      this.me = await getJSON('auth/me');
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.gone) return;
    this.canPlan = PLANNERS.has(this.me.role);
    this.panel.dataset.role = this.me.role || '';
    this.addLayers();
    this.buildPlanning();
    this.poll();
  }

  async poll() {
    clearTimeout(this.pollTimer);
    let info;
    try {
      info = await getJSON('api/analysis');
    } catch (err) {
      if (err.status === 503) { this.setState('error', t('notEnabled')); return; }
      this.fail(err);
      this.pollTimer = setTimeout(() => this.poll(), POLL_MS * 5);
      return;
    }
    if (this.gone) return;
    this.info = info;
    if (!ran(info.last_run) && info.last_error) { // the first run failed: say so rather than wait
      this.fail(new Error(info.last_error));
      this.pollTimer = setTimeout(() => this.poll(), POLL_MS * 5);
      return;
    }
    if (!ran(info.last_run)) {
      this.setState('computing');
      this.pollTimer = setTimeout(() => this.poll(), POLL_MS);
      return;
    }
    await this.loaded();
  }

  // loaded: the analyses have run; (re)load the list and the picked area.
  async loaded() {
    this.renderLevels();
    this.areas.clear();
    try {
      await this.loadAreas(this.areaLayer);
      if (this.area) await this.loadFigures();
    } catch (err) {
      if (err.status === 409) { this.setState('computing'); this.pollTimer = setTimeout(() => this.poll(), POLL_MS); return; }
      this.fail(err);
      return;
    }
    this.setState('ready');
    if (this.cam) this.queueWhatIf(0);
  }

  setState(s, msg = null) {
    this.state = s;
    this.panel.dataset.state = s;
    this.message = msg;
    this.renderStatus();
  }

  fail(err) {
    this.setState('error', t('loadFailed', { msg: err.message }));
  }

  // ---- areas and their figures ----

  async loadAreas(layer) {
    if (!this.areas.has(layer)) {
      const doc = await getJSON(`api/analysis/figures?layer=${encodeURIComponent(layer)}`);
      const list = (doc.areas || []).slice().sort((a, b) => (a.name || a.code || '').localeCompare(b.name || b.code || '', 'zh-CN') || a.id - b.id);
      this.areas.set(layer, list);
    }
    if (layer === this.areaLayer) this.renderAreaList();
  }

  async pick(layer, id, { fit = false } = {}) {
    this.area = { layer, id: Number(id) };
    if (layer !== this.areaLayer) {
      this.areaLayer = layer;
      $('#hx-plan-layer', this.panel).value = layer;
      try { await this.loadAreas(layer); } catch { /* the figures below still load */ }
    }
    $('#hx-plan-area', this.panel).value = String(id);
    this.suggestions = null;
    this.drawSuggestions();
    this.renderSuggest();
    try {
      await this.loadFigures({ fit });
    } catch (err) {
      this.figures = null;
      this.renderFigures(t('loadFailed', { msg: err.message }));
    }
  }

  async loadFigures({ fit = false } = {}) {
    const area = this.area;
    const fig = await getJSON(`api/analysis/figures/${area.layer}/${area.id}`);
    if (this.area !== area || this.gone) return;
    this.figures = fig;
    this.renderFigures();
    this.renderSuggest();
    // Its outline and unseen gates on the map.
    const feat = await getJSON(`api/collections/${area.layer}/items/${area.id}`).catch(() => null);
    if (this.area !== area || this.gone) return;
    this.areaFeature = feat;
    this.unseen = [];
    this.drawArea();
    const b = bboxOf(feat?.geometry);
    if (b && fit) this.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 80, maxZoom: 18, duration: 600 });
    if (b && fig.unseen_gates?.length) {
      const want = new Set(fig.unseen_gates.map(Number));
      const gates = await this.fetchAll(`api/collections/gates/items?bbox=${b.map((v) => v.toFixed(7)).join(',')}&limit=10000`, 10000).catch(() => []);
      if (this.area !== area || this.gone) return;
      this.unseen = gates.filter((g) => want.has(Number(g.id)));
      this.drawArea();
    }
  }

  // fetchAll reads the features of an items URL, following "next" links.
  async fetchAll(url, max = Infinity, progress = null) {
    const out = [];
    let next = url;
    while (next && out.length < max) {
      const page = await getJSON(next);
      out.push(...(page.features || []));
      progress?.(out.length);
      const link = (page.links || []).find((l) => l.rel === 'next');
      // The server writes absolute links; ask this page's origin all the same.
      next = link ? (() => { const u = new URL(link.href, document.baseURI); return `${u.pathname.replace(/^\//, '')}${u.search}`; })() : null;
      if (next && !(page.features || []).length) break;
    }
    return out;
  }

  // mapClick picks the area under the cursor while the panel is open: of
  // the layer chosen in the list first, else the smallest kind.
  mapClick(e) {
    if (!this.open || this.placing || this.state !== 'ready') return;
    const order = [this.areaLayer, ...AREA_LAYERS.filter((l) => l !== this.areaLayer)];
    const styleLayers = this.map.getStyle()?.layers || [];
    for (const layer of order) {
      const ids = styleLayers.filter((l) => l.metadata?.[META] === layer && l.type === 'fill').map((l) => l.id)
        .filter((id) => this.map.getLayer(id) && this.map.getLayoutProperty(id, 'visibility') !== 'none');
      if (!ids.length) continue;
      const f = this.map.queryRenderedFeatures(e.point, { layers: ids }).find((x) => x.id !== undefined && x.id !== null);
      if (f) {
        this.pick(layer, f.id);
        return;
      }
    }
  }

  async setPlacard(rating, reason) {
    const area = this.area;
    if (!area || area.layer !== 'compounds') return;
    const form = $('#hx-plan-placard-form', this.panel);
    const msg = $('.hx-plan-msg', form);
    msg.textContent = '';
    form.dataset.busy = 'true';
    try {
      await request('PUT', `api/analysis/placards/${area.id}`, { body: { rating: rating || null, reason }, csrf: this.me.csrf });
      if (this.area !== area) return;
      await this.loadFigures();
      const m = $('#hx-plan-placard-form .hx-plan-msg', this.panel);
      if (m) { m.textContent = t('saved'); m.dataset.ok = 'true'; }
      this.refreshTiles(bboxOf(this.areaFeature?.geometry));
    } catch (err) {
      msg.textContent = t('failed', { msg: err.message });
      delete msg.dataset.ok;
    } finally {
      form.dataset.busy = 'false';
    }
  }

  // refreshTiles reloads the map's tiles over bounds (all without), now and
  // once more a moment later (the tile index applies a change shortly after).
  refreshTiles(b) {
    const srcs = new Set((this.map.getStyle()?.layers || []).filter((l) => l.metadata?.[META] && l.source).map((l) => l.source));
    const go = () => {
      if (this.gone || typeof this.map.refreshTiles !== 'function') return;
      for (const src of srcs) {
        const source = this.map.getSource(src);
        if (!source) continue;
        if (!b) { this.map.refreshTiles(src); continue; }
        const z0 = Math.floor(this.map.getZoom());
        const tiles = new Map();
        for (let z = Math.max(source.minzoom ?? 0, z0 - 1); z <= Math.min(source.maxzoom ?? 22, z0 + 1); z++) {
          for (const tl of tilesOver(b, z)) tiles.set(`${tl.z}/${tl.x}/${tl.y}`, tl);
        }
        if (tiles.size > 256) this.map.refreshTiles(src);
        else if (tiles.size) this.map.refreshTiles(src, [...tiles.values()]);
      }
    };
    go();
    setTimeout(go, 1500);
  }

  async recompute() {
    const btn = $('#hx-plan-run', this.panel);
    btn.disabled = true;
    this.setState('computing');
    $('#hx-plan-status', this.panel).textContent = t('recomputing');
    try {
      await request('POST', 'api/analysis/run', { body: {}, csrf: this.me.csrf });
      await this.poll();
      this.refreshTiles(null);
    } catch (err) {
      this.fail(err);
    } finally {
      btn.disabled = false;
    }
  }

  // ---- layer toggles (through the layer switcher) ----

  styleIds(layer) {
    return (this.map.getStyle()?.layers || []).filter((l) => l.metadata?.[META] === layer).map((l) => l.id);
  }

  layerVisible(layer) {
    const box = document.querySelector(`#hx-layer-groups input[data-layer="${layer}"]`);
    if (box) return box.checked;
    const ids = this.styleIds(layer);
    return ids.some((id) => this.map.getLayoutProperty(id, 'visibility') !== 'none');
  }

  setLayerVisible(layer, on) {
    const box = document.querySelector(`#hx-layer-groups input[data-layer="${layer}"]`);
    if (box) {
      if (box.checked !== on) {
        box.checked = on;
        box.dispatchEvent(new Event('change', { bubbles: true }));
      }
    } else {
      for (const id of this.styleIds(layer)) this.map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
    }
    this.syncToggles();
  }

  syncToggles() {
    for (const box of this.panel.querySelectorAll('.hx-plan-toggles input[data-layer]')) box.checked = this.layerVisible(box.dataset.layer);
  }

  // ---- the hypothetical camera ----

  setPlacing(on) {
    if (on && !this.canPlan) return;
    this.placing = on;
    document.body.classList.toggle('hx-plan-placing', on);
    const b = $('#hx-plan-place', this.panel);
    if (b) {
      b.setAttribute('aria-pressed', String(on));
      b.textContent = t(on ? 'placing' : 'place');
      b.dataset.t = on ? 'placing' : 'place';
    }
  }

  captureClick(e) {
    if (!this.placing) return;
    const d = this.down;
    if (d && Math.hypot(e.clientX - d[0], e.clientY - d[1]) > 5) return; // the end of a pan
    if (e.target.closest?.('.maplibregl-ctrl, .maplibregl-marker')) return;
    e.stopPropagation();
    e.preventDefault();
    const r = this.map.getCanvas().getBoundingClientRect();
    const ll = this.map.unproject([e.clientX - r.left, e.clientY - r.top]);
    this.placeCamera(ll.lng, ll.lat);
    this.setPlacing(false);
  }

  lens() {
    const v = (id, d) => {
      const x = Number($(id, this.panel)?.value);
      return Number.isFinite(x) && x > 0 ? x : d;
    };
    return { hfov: v('#hx-plan-hfov', DEFAULT_LENS.hfov), tilt: v('#hx-plan-tilt', DEFAULT_LENS.tilt), mount_height: v('#hx-plan-height', DEFAULT_LENS.mount_height) };
  }

  placeCamera(lon, lat, bearing = this.cam?.bearing ?? Number($('#hx-plan-bearing', this.panel)?.value ?? 0)) {
    this.cam = { lon, lat, bearing: normBearing(bearing), ...this.lens() };
    this.ensureMarkers();
    this.markers.cam.setLngLat([lon, lat]);
    this.placeHandle();
    this.syncBearingInputs();
    this.queueWhatIf();
    this.renderWhatIf();
  }

  setBearing(b, { inputs = true } = {}) {
    if (!this.cam) {
      if (inputs) this.syncBearingInputs(normBearing(b));
      return;
    }
    this.cam.bearing = normBearing(b);
    this.placeHandle();
    if (inputs) this.syncBearingInputs();
    this.queueWhatIf();
  }

  syncBearingInputs(b = this.cam?.bearing) {
    if (b === undefined) return;
    for (const id of ['#hx-plan-bearing', '#hx-plan-bearing-n']) {
      const i = $(id, this.panel);
      if (i && document.activeElement !== i) i.value = String(b);
    }
    const h = this.markers.handle?.getElement();
    if (h) {
      h.setAttribute('aria-valuenow', String(b));
      h.setAttribute('aria-valuetext', t('deg', { n: b }));
    }
  }

  clearCamera() {
    this.cam = null;
    this.whatif = null;
    this.whatifError = null;
    clearTimeout(this.whatifTimer);
    this.whatifDone = this.whatifSeq; // an answer in flight is stale now
    this.removeMarkers();
    this.drawWhatIf();
    this.renderWhatIf();
    this.setPlacing(false);
  }

  ensureMarkers() {
    if (this.markers.cam) return;
    const camEl = el('div', { class: 'hx-plan-cam', title: t('whatif'), 'aria-hidden': 'true' });
    camEl.addEventListener('click', (e) => e.stopPropagation());
    const cam = new this.ml.Marker({ element: camEl, draggable: true }).setLngLat([this.cam.lon, this.cam.lat]).addTo(this.map);
    cam.on('drag', () => {
      const ll = cam.getLngLat();
      this.cam.lon = ll.lng;
      this.cam.lat = ll.lat;
      this.placeHandle();
      this.queueWhatIf();
    });
    const hEl = el('div', {
      class: 'hx-plan-handle', tabindex: '0', role: 'slider', 'aria-valuemin': '0', 'aria-valuemax': '359',
      'aria-label': t('bearing'), title: t('bearing'),
    });
    hEl.addEventListener('click', (e) => e.stopPropagation());
    hEl.addEventListener('keydown', (e) => {
      if (!this.cam) return;
      const step = e.shiftKey ? 15 : 5;
      if (e.key === 'ArrowRight' || e.key === 'ArrowUp') this.setBearing(this.cam.bearing + step);
      else if (e.key === 'ArrowLeft' || e.key === 'ArrowDown') this.setBearing(this.cam.bearing - step);
      else return;
      e.preventDefault();
    });
    const handle = new this.ml.Marker({ element: hEl, draggable: true }).setLngLat([this.cam.lon, this.cam.lat]).addTo(this.map);
    handle.on('drag', () => {
      const c = this.map.project([this.cam.lon, this.cam.lat]);
      const h = this.map.project(handle.getLngLat());
      if (Math.hypot(h.x - c.x, h.y - c.y) < 4) return;
      // Screen angle from up, clockwise, plus the map's own rotation.
      const b = (Math.atan2(h.x - c.x, -(h.y - c.y)) * 180) / Math.PI + this.map.getBearing();
      this.cam.bearing = normBearing(b);
      this.syncBearingInputs();
      this.drawAim(h);
      this.queueWhatIf();
    });
    handle.on('dragend', () => this.placeHandle());
    this.markers = { cam, handle };
  }

  removeMarkers() {
    this.markers.cam?.remove();
    this.markers.handle?.remove();
    this.markers = { cam: null, handle: null };
    this.map.getSource(SRC_AIM)?.setData(EMPTY);
  }

  // placeHandle puts the bearing handle HANDLE_PX from the camera on screen.
  placeHandle() {
    if (!this.cam || !this.markers.handle) return;
    const c = this.map.project([this.cam.lon, this.cam.lat]);
    const a = ((this.cam.bearing - this.map.getBearing()) * Math.PI) / 180;
    const p = { x: c.x + HANDLE_PX * Math.sin(a), y: c.y - HANDLE_PX * Math.cos(a) };
    this.markers.handle.setLngLat(this.map.unproject([p.x, p.y]));
    this.drawAim(p);
  }

  drawAim(p) {
    if (!this.cam) return;
    const ll = this.map.unproject([p.x, p.y]);
    this.map.getSource(SRC_AIM)?.setData({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: [[this.cam.lon, this.cam.lat], [ll.lng, ll.lat]] } }] });
  }

  // queueWhatIf asks for the camera's views and gain after DEBOUNCE_MS of
  // quiet, one request at a time: the latest camera is sent when the one in
  // flight answers, and a stale answer is not shown.
  queueWhatIf(delay = DEBOUNCE_MS) {
    if (!this.cam || !this.canPlan) return;
    clearTimeout(this.whatifTimer);
    this.whatifTimer = setTimeout(() => this.sendWhatIf(), delay);
    this.panel.dataset.whatif = 'pending';
  }

  async sendWhatIf() {
    if (!this.cam || this.state !== 'ready') return;
    if (this.whatifBusy) { this.whatifAgain = true; return; }
    this.whatifBusy = true;
    const seq = ++this.whatifSeq;
    const cam = { ...this.cam };
    const body = { lon: cam.lon, lat: cam.lat, bearing: cam.bearing, hfov: cam.hfov, tilt: cam.tilt, mount_height: cam.mount_height };
    try {
      const ans = await request('POST', 'api/analysis/whatif', { body, csrf: this.me.csrf });
      if (seq > this.whatifDone && this.cam) {
        this.whatifDone = seq;
        this.whatif = { ...ans, request: body };
        this.whatifError = null;
      }
    } catch (err) {
      if (seq > this.whatifDone && this.cam) {
        this.whatifDone = seq;
        this.whatif = null;
        this.whatifError = err.message;
      }
    } finally {
      this.whatifBusy = false;
    }
    if (this.gone) return;
    if (this.whatifAgain) {
      this.whatifAgain = false;
      this.sendWhatIf();
      return;
    }
    const same = this.cam && this.whatif && ['lon', 'lat', 'bearing', 'hfov', 'tilt', 'mount_height'].every((k) => this.whatif.request[k] === this.cam[k]);
    this.panel.dataset.whatif = same ? 'ready' : (this.whatifError ? 'error' : 'pending');
    this.drawWhatIf();
    this.renderWhatIf();
  }

  // ---- suggestions ----

  async suggest() {
    if (!this.area || this.suggestBusy) return;
    const k = Math.max(1, Math.min(20, Math.round(Number($('#hx-plan-k', this.panel).value) || 3)));
    const level = $('#hx-plan-suggest-level', this.panel).value;
    const area = this.area;
    this.suggestBusy = true;
    this.suggestError = null;
    this.renderSuggest();
    try {
      const ans = await request('POST', 'api/analysis/suggest', { body: { k, level, area: { layer: area.layer, id: area.id } }, csrf: this.me.csrf });
      if (this.area !== area) return;
      this.suggestions = { level, cameras: ans.cameras || [] };
    } catch (err) {
      this.suggestError = err.message;
    } finally {
      this.suggestBusy = false;
      if (!this.gone) {
        this.drawSuggestions();
        this.renderSuggest();
      }
    }
  }

  // ---- export ----

  async exportLayer() {
    const layer = $('#hx-plan-export-layer', this.panel).value;
    const onlyArea = $('#hx-plan-export-extent', this.panel).value === 'area';
    const msg = $('#hx-plan-export-msg', this.panel);
    const btn = $('#hx-plan-export', this.panel);
    let url = `api/collections/${encodeURIComponent(layer)}/items?limit=10000`;
    const b = onlyArea ? bboxOf(this.areaFeature?.geometry) : null;
    if (b) url += `&bbox=${b.map((v) => v.toFixed(7)).join(',')}`;
    btn.disabled = true;
    try {
      const features = await this.fetchAll(url, Infinity, (n) => { msg.textContent = t('exporting', { n }); });
      const fc = { type: 'FeatureCollection', name: layer, features };
      const blob = new Blob([JSON.stringify(fc)], { type: 'application/geo+json' });
      const href = URL.createObjectURL(blob);
      const suffix = b ? `-${this.area.layer}-${this.area.id}` : '';
      const a = el('a', { href, download: `hexward-${layer}${suffix}.geojson`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60000);
      msg.textContent = t('exporting', { n: features.length }).replace('…', ' ✓');
      this.lastExport = { layer, count: features.length, bbox: b };
    } catch (err) {
      msg.textContent = t('failed', { msg: err.message });
    } finally {
      btn.disabled = false;
    }
  }

  // ---- map layers of the panel ----

  addLayers() {
    const map = this.map;
    for (const id of [SRC_AREA, SRC_GATES, SRC_VIEWS, SRC_SUGGEST, SRC_AIM]) if (!map.getSource(id)) map.addSource(id, { type: 'geojson', data: EMPTY });
    const font = (map.getStyle().layers || []).find((l) => l.layout?.['text-font'])?.layout['text-font'] || ['Noto Sans Regular'];
    const levelColor = ['match', ['get', 'level'], ...Object.entries(LEVEL_COLORS).flat(), '#607d8b'];
    map.addLayer({ id: 'hexward-plan-area-line', type: 'line', source: SRC_AREA, layout: { 'line-join': 'round' },
      paint: { 'line-color': '#6a1b9a', 'line-width': 3, 'line-dasharray': [2, 1.2] } });
    map.addLayer({ id: 'hexward-plan-views-fill', type: 'fill', source: SRC_VIEWS,
      paint: { 'fill-color': levelColor, 'fill-opacity': ['case', ['==', ['get', 'kind'], 'whatif'], 0.4, 0.28] } });
    map.addLayer({ id: 'hexward-plan-views-line', type: 'line', source: SRC_VIEWS,
      paint: { 'line-color': levelColor, 'line-width': ['case', ['==', ['get', 'kind'], 'whatif'], 2.5, 1.5], 'line-opacity': 0.95 } });
    map.addLayer({ id: 'hexward-plan-gates', type: 'circle', source: SRC_GATES,
      paint: { 'circle-radius': 9, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#d50000', 'circle-stroke-width': 3 } });
    map.addLayer({ id: 'hexward-plan-aim', type: 'line', source: SRC_AIM,
      paint: { 'line-color': '#4a148c', 'line-width': 2, 'line-dasharray': [1, 1] } });
    map.addLayer({ id: 'hexward-plan-suggested', type: 'circle', source: SRC_SUGGEST,
      paint: { 'circle-radius': 10, 'circle-color': '#4a148c', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
    map.addLayer({ id: 'hexward-plan-suggested-label', type: 'symbol', source: SRC_SUGGEST,
      layout: { 'text-field': ['to-string', ['get', 'rank']], 'text-font': font, 'text-size': 12, 'text-allow-overlap': true },
      paint: { 'text-color': '#fff' } });
  }

  drawArea() {
    const feats = this.areaFeature ? [{ type: 'Feature', properties: {}, geometry: this.areaFeature.geometry }] : [];
    this.map.getSource(SRC_AREA)?.setData({ type: 'FeatureCollection', features: feats });
    this.map.getSource(SRC_GATES)?.setData({ type: 'FeatureCollection', features: this.unseen.map((g) => ({ type: 'Feature', id: g.id, properties: {}, geometry: g.geometry })) });
  }

  viewFeatures() {
    const out = [];
    // Lowest density (largest view) first, so the smaller views lie on top.
    const order = (lv) => { const i = this.levelNames().indexOf(lv); return i < 0 ? 99 : i; };
    if (this.whatif) {
      for (const v of [...(this.whatif.views || [])].sort((a, b) => order(a.level) - order(b.level))) {
        if (v.geometry) out.push({ type: 'Feature', properties: { kind: 'whatif', level: v.level }, geometry: v.geometry });
      }
    }
    for (const [i, s] of (this.suggestions?.cameras || []).entries()) {
      const v = (s.views || []).find((x) => x.level === this.suggestions.level) || s.views?.[0];
      if (v?.geometry) out.push({ type: 'Feature', properties: { kind: 'suggest', level: v.level, rank: i + 1 }, geometry: v.geometry });
    }
    return out;
  }

  drawWhatIf() {
    this.map.getSource(SRC_VIEWS)?.setData({ type: 'FeatureCollection', features: this.viewFeatures() });
  }

  drawSuggestions() {
    const pts = (this.suggestions?.cameras || []).map((s, i) => ({
      type: 'Feature', properties: { rank: i + 1 }, geometry: { type: 'Point', coordinates: s.camera?.Pos || [0, 0] },
    }));
    this.map.getSource(SRC_SUGGEST)?.setData({ type: 'FeatureCollection', features: pts });
    this.drawWhatIf();
  }

  levelNames() {
    return (this.info?.levels || []).map((l) => l.Name ?? l.name).filter(Boolean);
  }

  // ---- rendering ----

  buildPanel() {
    return el('aside', { id: 'hx-plan', class: 'hx-card hx-plan', 'aria-labelledby': 'hx-plan-title', dataset: { state: 'idle' } },
      el('div', { class: 'hx-card-head' },
        el('h2', { id: 'hx-plan-title' }, tx('span', 'title')),
        el('button', { id: 'hx-plan-close', class: 'hx-icon-btn', type: 'button', text: '✕', dataset: { tTitle: 'close' }, title: t('close'), 'aria-label': t('close'), onclick: () => this.setOpen(false) })),
      el('div', { class: 'hx-plan-body' },
        el('p', { id: 'hx-plan-status', class: 'hx-plan-status hx-muted', role: 'status' })));
  }

  // buildPlanning adds the sections once the role is known.
  buildPlanning() {
    const body = $('.hx-plan-body', this.panel);
    const layerSel = el('select', { id: 'hx-plan-layer', onchange: (e) => { this.areaLayer = e.target.value; this.loadAreas(this.areaLayer).catch((err) => this.fail(err)); } },
      AREA_LAYERS.map((l) => tx('option', `lay_${l}`, { value: l })));
    layerSel.value = this.areaLayer;
    const areaSel = el('select', { id: 'hx-plan-area', onchange: (e) => { if (e.target.value) this.pick(this.areaLayer, Number(e.target.value), { fit: true }); } });
    const sections = [
      el('section', { class: 'hx-plan-sec', dataset: { sec: 'area' } },
        tx('h3', 'area'),
        el('div', { class: 'hx-plan-pick' },
          el('label', { class: 'hx-plan-field' }, tx('span', 'areaLayer'), layerSel),
          el('label', { class: 'hx-plan-field hx-plan-grow' }, tx('span', 'areaPick'), areaSel)),
        tx('p', 'areaHint', { class: 'hx-plan-hint hx-muted' }),
        el('div', { id: 'hx-plan-figures', class: 'hx-plan-figures' })),
      el('section', { class: 'hx-plan-sec', dataset: { sec: 'layers' } },
        tx('h3', 'layers'),
        el('div', { class: 'hx-plan-toggles' }, TOGGLES.map((l) => el('label', { class: 'hx-plan-check' },
          el('input', { type: 'checkbox', dataset: { layer: l }, onchange: (e) => this.setLayerVisible(l, e.target.checked) }),
          tx('span', `lay_${l}`))))),
    ];
    if (this.canPlan) {
      const num = (id, key, value, min, max, step = 1) => el('label', { class: 'hx-plan-field' }, tx('span', key),
        el('input', { id, type: 'number', value: String(value), min: String(min), max: String(max), step: String(step), oninput: () => this.lensChanged() }));
      sections.push(
        el('section', { id: 'hx-plan-whatif', class: 'hx-plan-sec', dataset: { sec: 'whatif' } },
          tx('h3', 'whatif'),
          el('div', { class: 'hx-plan-row' },
            el('button', { id: 'hx-plan-place', type: 'button', class: 'hx-plan-btn hx-plan-primary', 'aria-pressed': 'false', dataset: { t: 'place' }, text: t('place'), onclick: () => this.setPlacing(!this.placing) }),
            el('button', { id: 'hx-plan-clear', type: 'button', class: 'hx-plan-btn', dataset: { t: 'clear' }, text: t('clear'), onclick: () => this.clearCamera() })),
          tx('p', 'placeHint', { class: 'hx-plan-hint hx-muted' }),
          el('div', { class: 'hx-plan-bearing' },
            el('label', { class: 'hx-plan-field hx-plan-grow' }, tx('span', 'bearing'),
              el('input', { id: 'hx-plan-bearing', type: 'range', min: '0', max: '359', step: '1', value: '0', oninput: (e) => this.setBearing(Number(e.target.value)) })),
            el('input', { id: 'hx-plan-bearing-n', type: 'number', min: '0', max: '359', step: '1', value: '0', 'aria-label': t('bearing'), dataset: { tAria: 'bearing' },
              oninput: (e) => { const v = Number(e.target.value); if (Number.isFinite(v) && e.target.value !== '') this.setBearing(v); } })),
          el('div', { class: 'hx-plan-lens' },
            num('hx-plan-hfov', 'hfov', DEFAULT_LENS.hfov, 1, 179),
            num('hx-plan-tilt', 'tilt', DEFAULT_LENS.tilt, 1, 89),
            num('hx-plan-height', 'height', DEFAULT_LENS.mount_height, 0.5, 100, 0.5)),
          el('div', { id: 'hx-plan-gain', class: 'hx-plan-gain' })),
        el('section', { id: 'hx-plan-suggest', class: 'hx-plan-sec', dataset: { sec: 'suggest' } },
          tx('h3', 'suggest'),
          el('div', { class: 'hx-plan-row' },
            el('label', { class: 'hx-plan-field' }, tx('span', 'k'), el('input', { id: 'hx-plan-k', type: 'number', min: '1', max: '20', step: '1', value: '3' })),
            el('label', { class: 'hx-plan-field' }, tx('span', 'level'), el('select', { id: 'hx-plan-suggest-level' })),
            el('button', { id: 'hx-plan-suggest-run', type: 'button', class: 'hx-plan-btn', dataset: { t: 'run' }, text: t('run'), onclick: () => this.suggest() })),
          el('div', { id: 'hx-plan-suggestions' })),
      );
    }
    const exportSel = el('select', { id: 'hx-plan-export-layer' }, EXPORTS.map((l) => tx('option', `lay_${l}`, { value: l })));
    sections.push(el('section', { class: 'hx-plan-sec', dataset: { sec: 'export' } },
      tx('h3', 'exports'),
      el('div', { class: 'hx-plan-row' },
        el('a', { id: 'hx-plan-csv', class: 'hx-plan-btn', href: abs('api/analysis/figures?format=csv'), download: 'hexward-figures.csv', dataset: { t: 'csv' }, text: t('csv') }),
        this.canPlan && el('button', { id: 'hx-plan-run', type: 'button', class: 'hx-plan-btn', dataset: { t: 'recompute' }, text: t('recompute'), onclick: () => this.recompute() })),
      el('div', { class: 'hx-plan-row' },
        el('label', { class: 'hx-plan-field' }, tx('span', 'geojson'), exportSel),
        el('label', { class: 'hx-plan-field' }, tx('span', 'extent'), el('select', { id: 'hx-plan-export-extent' },
          tx('option', 'extentAll', { value: 'all' }), tx('option', 'extentArea', { value: 'area' }))),
        el('button', { id: 'hx-plan-export', type: 'button', class: 'hx-plan-btn', dataset: { t: 'download' }, text: t('download'), onclick: () => this.exportLayer() })),
      el('p', { id: 'hx-plan-export-msg', class: 'hx-plan-hint hx-muted', role: 'status' })));
    body.append(...sections);
    this.syncToggles();
    this.onStyleData = () => this.syncToggles();
    // The layer switcher changes visibility too: keep the toggles in step.
    $('#hx-layer-groups')?.addEventListener('change', this.onStyleData);
    this.renderFigures();
    this.renderWhatIf();
    this.renderSuggest();
  }

  lensChanged() {
    if (!this.cam) return;
    Object.assign(this.cam, this.lens());
    this.queueWhatIf();
  }

  renderLevels() {
    const sel = $('#hx-plan-suggest-level', this.panel);
    if (!sel) return;
    const keep = sel.value;
    sel.replaceChildren(...this.levelNames().map((l) => tx('option', `lvl_${l}`, { value: l })));
    sel.value = keep || this.info?.level || 'observe';
  }

  renderStatus() {
    const s = $('#hx-plan-status', this.panel);
    if (!s) return;
    const run = this.info?.last_run;
    if (this.state === 'computing') s.textContent = t('computing');
    else if (this.state === 'error') s.textContent = this.message || '';
    else if (this.state === 'ready' && ran(run)) s.textContent = t('lastRun', { at: new Date(run.at).toLocaleString(locale()), s: num((run.total_ms || 0) / 1000, 1) });
    else s.textContent = '';
    s.classList.toggle('hx-plan-error', this.state === 'error');
  }

  renderAreaList() {
    const sel = $('#hx-plan-area', this.panel);
    if (!sel) return;
    const list = this.areas.get(this.areaLayer) || [];
    sel.replaceChildren(el('option', { value: '', text: `— ${t('areaPick')} —` }),
      ...list.map((a) => el('option', { value: String(a.id), text: [a.name, a.code].filter(Boolean).join(' · ') || `#${a.id}` })));
    sel.value = this.area?.layer === this.areaLayer ? String(this.area.id) : '';
  }

  renderFigures(error = null) {
    const root = $('#hx-plan-figures', this.panel);
    if (!root) return;
    const f = this.figures;
    if (error || !f) {
      root.replaceChildren(el('p', { class: error ? 'hx-plan-error' : 'hx-muted', text: error || t('noArea') }));
      delete root.dataset.area;
      return;
    }
    root.dataset.area = `${f.layer}/${f.id}`;
    const level = this.figures && this.info?.level;
    const cov = f.coverage || {};
    const tot = cov.total || {};
    const metrics = [
      ['street_length', 'm_street_length', tot.street_length_m, 'm'],
      ['street_area', 'm_street_area', tot.street_area_m2, 'm2'],
      ['gates', 'm_gates', tot.gates, 'n'],
      ['fence_length', 'm_fence', tot.fence_length_m, 'm'],
    ];
    const bars = el('table', { class: 'hx-plan-cov' },
      el('thead', {}, el('tr', {}, el('th', {}), metrics.map(([, k]) => el('th', { text: t(k) })))),
      el('tbody', {},
        (cov.levels || []).map((lv) => el('tr', { dataset: { level: lv.level }, class: lv.level === level ? 'hx-plan-main' : null },
          el('th', { text: t(`lvl_${lv.level}`), style: `--hx-lv: ${LEVEL_COLORS[lv.level] || '#607d8b'}` }),
          metrics.map(([m]) => {
            const share = lv.shares?.[m] ?? 0;
            return el('td', { dataset: { metric: m, share: String(share) }, title: pct(share) },
              el('span', { class: 'hx-plan-bar' }, el('span', { style: `width: ${Math.max(0, Math.min(100, share * 100)).toFixed(1)}%; background: ${LEVEL_COLORS[lv.level] || '#607d8b'}` })),
              el('span', { class: 'hx-plan-pct', text: pct(share) }));
          }))),
        el('tr', { class: 'hx-plan-total' }, el('th', { text: t('total') }),
          metrics.map(([m, , v, unit]) => el('td', { dataset: { metric: m }, text: t(unit, { n: num(v) }) })))));
    const parts = [
      el('h4', { class: 'hx-plan-name' }, el('span', { text: f.name || `#${f.id}` }), f.code ? el('span', { class: 'hx-muted', text: f.code }) : null),
      tx('h3', 'coverage'), bars,
      el('div', { class: 'hx-plan-unseen', dataset: { count: String(f.unseen_gates?.length || 0) } },
        el('span', { text: t('unseenGates', { level: t(`lvl_${level}`) }) }),
        el('strong', { id: 'hx-plan-unseen-n', text: num(f.unseen_gates?.length || 0) }),
        f.unseen_gates?.length ? el('button', { type: 'button', class: 'hx-plan-btn hx-plan-small', text: t('showGates'), onclick: () => this.flyToGates() }) : null),
    ];
    if (f.enclosure) {
      const e = f.enclosure;
      parts.push(tx('h3', 'enclosure'), el('dl', { class: 'hx-plan-dl', id: 'hx-plan-enclosure' },
        row('perimeter_m', t('m', { n: num(e.perimeter_m) })),
        row('enclosed_share', pct(e.enclosed_share)),
        row('controlled_share', pct(e.controlled_share)),
        row('gaps', `${num(e.gaps)} · ${t('m', { n: num(e.gaps_m, 1) })}`),
        row('gates', num(e.gates)),
        row('max_gate_spacing_m', t('m', { n: num(e.max_gate_spacing_m) })),
        row('leaks', num(e.leaks))));
    }
    if (f.counts) {
      const c = f.counts;
      parts.push(tx('h3', 'counts'), el('dl', { class: 'hx-plan-dl', id: 'hx-plan-counts' },
        ['Buildings', 'Households', 'Shops', 'Sensors', 'OpenAlerts'].map((k) => row(k, num(c[k]))),
        row('incidents', num(f.incidents)),
        row('AreaM2', t('m2', { n: num(c.AreaM2) }))));
    }
    if (f.placard) parts.push(this.renderPlacard(f.placard));
    root.replaceChildren(...parts);
  }

  renderPlacard(p) {
    const badge = el('span', { class: 'hx-plan-rating', dataset: { rating: p.rating || '' }, style: `--hx-rating: ${RATING_COLORS[p.rating] || '#90a4ae'}`, text: t(`rating_${p.rating || ''}`) });
    const box = el('div', { id: 'hx-plan-placard', class: 'hx-plan-placard', dataset: { rating: p.rating || '', overridden: String(Boolean(p.overridden)) } },
      tx('h3', 'placard'),
      el('p', {}, badge, ' ', el('span', { class: 'hx-muted', text: p.overridden ? t('overridden', { r: t(`rating_${p.computed_rating || ''}`) }) : t('computedRating') })),
      p.reasons ? el('p', { class: 'hx-plan-reasons', text: placardReasons(p.reasons) }) : null);
    if (this.canPlan && this.area?.layer === 'compounds') {
      const sel = el('select', { class: 'hx-plan-rating-sel', 'aria-label': t('placard') },
        el('option', { value: '', text: t('ratingAuto') }),
        ['red', 'yellow', 'green'].map((r) => el('option', { value: r, text: t(`rating_${r}`) })));
      sel.value = p.overridden ? p.rating : '';
      const reason = el('input', { class: 'hx-plan-reason', type: 'text', maxlength: '500', placeholder: t('reasonPlaceholder'), 'aria-label': t('reason') });
      box.append(el('form', {
        id: 'hx-plan-placard-form', class: 'hx-plan-row',
        onsubmit: (e) => { e.preventDefault(); this.setPlacard(sel.value, reason.value.trim()); },
      },
      el('span', { class: 'hx-plan-label', text: t('override') }),
      sel, reason,
      el('button', { type: 'submit', class: 'hx-plan-btn', text: t('save') }),
      el('span', { class: 'hx-plan-msg', role: 'status' })));
    }
    return box;
  }

  flyToGates() {
    const pts = this.unseen.map((g) => g.geometry?.coordinates).filter(Array.isArray);
    if (!pts.length) return;
    const b = bboxOf({ type: 'MultiPoint', coordinates: pts });
    this.map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 100, maxZoom: 18, duration: 600 });
  }

  renderWhatIf() {
    const root = $('#hx-plan-gain', this.panel);
    if (!root) return;
    if (!this.cam) {
      root.replaceChildren(el('p', { class: 'hx-muted', text: t('noCamera') }));
      delete this.panel.dataset.whatif;
      return;
    }
    if (this.whatifError) {
      root.replaceChildren(el('p', { class: 'hx-plan-error', text: t('failed', { msg: this.whatifError }) }));
      return;
    }
    if (!this.whatif) {
      root.replaceChildren(el('p', { class: 'hx-muted', text: t('evaluating') }));
      return;
    }
    root.replaceChildren(tx('h4', 'gain'), gainTable(this.whatif.gain, this.whatif.views));
  }

  renderSuggest() {
    const root = $('#hx-plan-suggestions', this.panel);
    if (!root) return;
    const btn = $('#hx-plan-suggest-run', this.panel);
    btn.disabled = !this.area || this.suggestBusy;
    if (!this.area) { root.replaceChildren(el('p', { class: 'hx-muted', text: t('needArea') })); return; }
    if (this.suggestBusy) { root.replaceChildren(el('p', { class: 'hx-muted', text: t('suggesting') })); return; }
    if (this.suggestError) { root.replaceChildren(el('p', { class: 'hx-plan-error', text: t('failed', { msg: this.suggestError }) })); return; }
    const s = this.suggestions;
    if (!s) { root.replaceChildren(); return; }
    if (!s.cameras.length) { root.replaceChildren(el('p', { class: 'hx-muted', text: t('noSuggestions') })); return; }
    root.replaceChildren(el('ol', { class: 'hx-plan-suggest-list' }, s.cameras.map((c, i) => {
      const g = (c.gain || []).find((x) => x.level === s.level) || {};
      const pos = c.camera?.Pos || [0, 0];
      return el('li', { dataset: { rank: String(i + 1), gain: String(g.street_area_m2 ?? 0) } },
        el('button', {
          type: 'button', class: 'hx-plan-sugg',
          onclick: () => this.map.flyTo({ center: pos, zoom: Math.max(this.map.getZoom(), 17.5), speed: 1.6 }),
        },
        el('span', { class: 'hx-plan-rank', text: String(i + 1) }),
        el('span', { text: `${t('deg', { n: Math.round(c.camera?.Bearing ?? 0) })} · +${t('m2', { n: num(g.street_area_m2) })} · +${t('m', { n: num(g.street_length_m) })} · +${num(g.gates)} ${t('gainGates')}` })),
        el('button', {
          type: 'button', class: 'hx-plan-btn hx-plan-small', text: t('useSuggestion'),
          onclick: () => this.placeCamera(pos[0], pos[1], c.camera?.Bearing ?? 0),
        }));
    })));
  }

  relabel() {
    for (const e of this.panel.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
    for (const e of this.panel.querySelectorAll('[data-t-title]')) { e.title = t(e.dataset.tTitle); e.setAttribute('aria-label', t(e.dataset.tTitle)); }
    for (const e of this.panel.querySelectorAll('[data-t-aria]')) e.setAttribute('aria-label', t(e.dataset.tAria));
    this.button.textContent = t('toggle');
    this.button.title = t('toggleTitle');
    this.renderStatus();
    this.renderAreaList();
    this.renderFigures();
    this.renderWhatIf();
    this.renderSuggest();
  }
}

function row(key, value) {
  return el('div', { class: 'hx-row', dataset: { prop: key } }, el('dt', { text: t(key) }), el('dd', { text: value }));
}

function ran(run) {
  return Boolean(run?.at) && !String(run.at).startsWith('0001-');
}

function gainTable(gain, views) {
  const range = new Map((views || []).map((v) => [v.level, v.range_m]));
  return el('table', { class: 'hx-plan-gaintab' },
    el('thead', {}, el('tr', {},
      tx('th', 'level'), tx('th', 'gainArea'), tx('th', 'gainStreet'), tx('th', 'gainGates'), tx('th', 'gainFence'))),
    el('tbody', {}, (gain || []).map((g) => el('tr', { dataset: { level: g.level } },
      el('th', { style: `--hx-lv: ${LEVEL_COLORS[g.level] || '#607d8b'}`, title: range.has(g.level) ? t('m', { n: num(range.get(g.level), 1) }) : null, text: t(`lvl_${g.level}`) }),
      el('td', { dataset: { metric: 'street_area_m2', value: String(g.street_area_m2) }, text: t('m2', { n: num(g.street_area_m2) }) }),
      el('td', { dataset: { metric: 'street_length_m', value: String(g.street_length_m) }, text: t('m', { n: num(g.street_length_m) }) }),
      el('td', { dataset: { metric: 'gates', value: String(g.gates) }, text: num(g.gates) }),
      el('td', { dataset: { metric: 'fence_length_m', value: String(g.fence_length_m) }, text: t('m', { n: num(g.fence_length_m) }) })))));
}

// ---- start and stop with the map ------------------------------------------------

let view = null;

async function start() {
  const map = window.hexwardMap;
  if (!map || view?.map === map) return;
  view?.destroy();
  view = null;
  const ml = await import('./vendor/maplibre-gl.mjs');
  if (window.hexwardMap !== map || document.body.dataset.ready !== 'true') return;
  const v = new PlannerView(map, ml);
  view = v;
  window.hexwardPlanner = v;
  map.once('remove', () => {
    v.destroy();
    if (view === v) { view = null; delete window.hexwardPlanner; }
  });
}

withMap(start);
