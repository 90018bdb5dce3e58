// Hexward operator's view: the live alert list, the open incident reports
// in view and the officers moving on the map, for the roles that handle
// alerts (admin, operator). Every other role that reads the map sees the
// incident list only, without its Close button. Plain ES module, loaded
// by index.html next to app.js; it needs nothing from app.js but what
// app.js publishes anyway:
//   body[data-ready="true"]    the map has loaded (window.hexwardMap)
//   the map's "remove" event   the map is gone (logout, session ended)
//   html[data-lang]            the language ("zh" | "en")
//
// Server contract:
//   auth/me                                   {user, role, scope, csrf}
//   api/collections/alerts/items?state=…      the open alerts at start and after "reload"
//   api/collections/incidents/items?state=open  the open incidents, likewise
//   POST api/alerts/{id}/acknowledge | dispatch {"to"} | resolve {"note"}  (X-CSRF-Token)
//   POST api/incidents/{id}/close {"note"}    (X-CSRF-Token; handle_alerts)
//   api/alerts/{id}/nearest-officers?limit=5  available officers nearest first (distance_m)
//   api/alerts/{id}/transitions               who did what when
//   api/officers/{id}/trail?minutes=30        an officer's recent positions (LineString)
//   live (websocket, web/live/PROTOCOL.md)    two connections: alerts and
//       incidents over the whole area (the alert list must show alerts
//       outside the view too; the incident list filters by the view
//       itself, so panning needs no reload), officers over the viewport
//       (re-subscribed on moveend); both resume with since = the last seq
//       seen after a reconnect (backoff 1 s … 30 s).
//
// New critical alerts flash in the list, pulse on the map and beep (Web
// Audio; only once the page has had a user gesture, as browsers require).
// Tiles of a changed alert, incident or officer are refreshed in place
// (map.refreshTiles), so the style's layers redraw without a reload.
// Officers that moved since the page loaded are drawn from a GeoJSON
// source (animated, with a trail of their last positions) and left out of
// the tiles' officers layer.
//
// window.hexwardOps exposes the state for tests and the console.

import { $, abs, el, getJSON, lang, request, tilesOver, translator, withMap } from './lib.js';

const HANDLERS = new Set(['admin', 'operator']); // roles with handle_alerts (auth/roles.go)
const SEVERITIES = ['critical', 'major', 'minor', 'warning'];
const COLORS = { critical: '#b71c1c', major: '#e53935', minor: '#fb8c00', warning: '#fdd835' };
const OPEN_STATES = ['raised', 'acknowledged', 'dispatched'];
const INCIDENT_COLOR = '#8e24aa'; // the catalogue's style of an open incident
const AGO_EVERY_MS = 30000; // "how long ago" is rewritten this often
const TRAIL_MAX = 200; // positions per officer trail
const TRAIL_MINUTES = 30;
const ANIM_MS = 1200; // a live officer glides to a new position this long
const SRC_OFFICERS = 'hexward-ops-officers';
const SRC_TRAILS = 'hexward-ops-trails';
const SRC_SELECTED = 'hexward-ops-selected';
const META = 'hexward:layer';

const TEXT = {
  zh: {
    title: '告警',
    empty: '暂无未处理告警',
    live: '实时',
    offline: '连接中断，正在重连…',
    sev_critical: '紧急', sev_major: '严重', sev_minor: '一般', sev_warning: '预警',
    st_raised: '待确认', st_acknowledged: '已确认', st_dispatched: '已派遣', st_resolved: '已解决',
    acknowledge: '确认',
    dispatch: '派遣',
    resolve: '解决',
    cancel: '取消',
    nearest: '最近的可调度人员',
    noOfficers: '附近没有可调度的人员',
    loadingOfficers: '正在查找最近人员…',
    notePrompt: '处置说明',
    notePlaceholder: '例如：阀门已关闭，现场已处理',
    noteMissing: '请填写处置说明',
    confirmResolve: '确认解决',
    condition: '条件', source: '来源', value: '读数', raised_at: '发生时间',
    acknowledged_by: '确认人', dispatched_to: '派遣给', note: '处置说明',
    history: '处置记录',
    ev_raised: '产生', ev_acknowledged: '确认', ev_dispatched: '派遣', ev_resolved: '解决', ev_cleared: '自动恢复', ev_escalated: '升级',
    actionFailed: '操作失败：{msg}',
    conflict: '该告警已被他人处理，已刷新。',
    metres: '{n} 米',
    km: '{n} 公里',
    newCritical: '新的紧急告警：{title}',
    untitled: '告警 #{id}',
    count: '{n} 条',
    duty_patrol: '巡逻', duty_safety: '安全员', duty_grid_worker: '网格员', duty_guard: '保安', duty_volunteer: '志愿者',
    incTitle: '事件上报',
    incEmpty: '视野内暂无未办结事件',
    kind_fire_hazard: '消防隐患', kind_sanitation: '环境卫生', kind_blocked_passage: '通道堵塞', kind_illegal_construction: '违章搭建',
    kind_public_order: '治安', kind_facility_damage: '设施损坏', kind_other: '其他',
    noNote: '（无说明）',
    kind: '类型', incNote: '说明', reported_by: '上报人', reported_at: '上报时间',
    closeIncident: '办结',
    closePrompt: '办结说明',
    closePlaceholder: '例如：已清理，通道恢复',
    closeMissing: '请填写办结说明',
    confirmClose: '确认办结',
    incClosedElsewhere: '事件 #{id} 已被他人办结。',
    justNow: '刚刚', minutesAgo: '{n} 分钟前', hoursAgo: '{n} 小时前', daysAgo: '{n} 天前',
  },
  en: {
    title: 'Alerts',
    empty: 'No open alerts',
    live: 'Live',
    offline: 'Connection lost, reconnecting…',
    sev_critical: 'Critical', sev_major: 'Major', sev_minor: 'Minor', sev_warning: 'Warning',
    st_raised: 'Raised', st_acknowledged: 'Acknowledged', st_dispatched: 'Dispatched', st_resolved: 'Resolved',
    acknowledge: 'Acknowledge',
    dispatch: 'Dispatch',
    resolve: 'Resolve',
    cancel: 'Cancel',
    nearest: 'Nearest available officers',
    noOfficers: 'No available officer nearby',
    loadingOfficers: 'Finding the nearest officers…',
    notePrompt: 'Resolution note',
    notePlaceholder: 'e.g. valve closed, site made safe',
    noteMissing: 'Write a resolution note',
    confirmResolve: 'Resolve alert',
    condition: 'Condition', source: 'Source', value: 'Value', raised_at: 'Raised',
    acknowledged_by: 'Acknowledged by', dispatched_to: 'Dispatched to', note: 'Note',
    history: 'History',
    ev_raised: 'raised', ev_acknowledged: 'acknowledged', ev_dispatched: 'dispatched', ev_resolved: 'resolved', ev_cleared: 'cleared', ev_escalated: 'escalated',
    actionFailed: 'Action failed: {msg}',
    conflict: 'Someone else handled this alert; refreshed.',
    metres: '{n} m',
    km: '{n} km',
    newCritical: 'New critical alert: {title}',
    untitled: 'Alert #{id}',
    count: '{n}',
    duty_patrol: 'patrol', duty_safety: 'safety', duty_grid_worker: 'grid worker', duty_guard: 'guard', duty_volunteer: 'volunteer',
    incTitle: 'Incident reports',
    incEmpty: 'No open incident in view',
    kind_fire_hazard: 'Fire hazard', kind_sanitation: 'Sanitation', kind_blocked_passage: 'Blocked passage', kind_illegal_construction: 'Illegal construction',
    kind_public_order: 'Public order', kind_facility_damage: 'Facility damage', kind_other: 'Other',
    noNote: '(no note)',
    kind: 'Kind', incNote: 'Note', reported_by: 'Reported by', reported_at: 'Reported',
    closeIncident: 'Close',
    closePrompt: 'How it was dealt with',
    closePlaceholder: 'e.g. cleared, passage open again',
    closeMissing: 'Say how the incident was dealt with',
    confirmClose: 'Close incident',
    incClosedElsewhere: 'Incident #{id} was closed by someone else.',
    justNow: 'just now', minutesAgo: '{n} min ago', hoursAgo: '{n} h ago', daysAgo: '{n} d ago',
  },
};

const t = translator(TEXT);





// ---- sound -----------------------------------------------------------------

// Browsers let a page play sound only after a user gesture: the audio
// context is made in the first one, and a beep before that is skipped.
let audio = null;
function unlockAudio() {
  if (audio) return;
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (AC) audio = new AC();
  } catch { audio = null; }
}
for (const ev of ['pointerdown', 'keydown']) window.addEventListener(ev, unlockAudio, { capture: true, passive: true });

function beep() {
  if (!audio) return false;
  try {
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.connect(audio.destination);
    gain.gain.setValueAtTime(0.0001, now);
    // Two short tones, high then higher: hard to mistake for anything else.
    [[880, 0], [1320, 0.22]].forEach(([f, at]) => {
      const osc = audio.createOscillator();
      osc.type = 'square';
      osc.frequency.setValueAtTime(f, now + at);
      osc.connect(gain);
      gain.gain.exponentialRampToValueAtTime(0.18, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.18);
      osc.start(now + at);
      osc.stop(now + at + 0.2);
    });
    return true;
  } catch {
    return false;
  }
}

// ---- the live stream ---------------------------------------------------------

// LiveSocket keeps one subscription of the live stream open: it resumes
// with the last seq seen after a drop, with backoff, and only while the
// session lasts (asking auth/me first, whose 401 the page expects).
class LiveSocket {
  constructor({ name, onMessage, subscription, onState }) {
    this.name = name;
    this.onMessage = onMessage;
    this.subscription = subscription; // () => {layers, bbox, zoom}
    this.onState = onState;
    this.seq = null; // the last seq seen
    this.ws = null;
    this.closed = false;
    this.retry = 0;
    this.timer = 0;
    this.ready = false; // subscribed and caught up
    this.replays = 0; // subscriptions the server has caught up
    this.connectSignedIn();
  }

  // connectSignedIn connects while the session lasts. A websocket refused
  // for a lost session cannot be told from a network error, and Chromium
  // logs the refusal: ask auth/me first (whose 401 the page expects), also
  // before the first connection, as the session may have ended while the
  // view was starting.
  async connectSignedIn() {
    if (this.closed) return;
    try {
      const res = await fetch(abs('auth/me'), { credentials: 'same-origin', cache: 'no-store' });
      if (res.status === 401 || res.status === 403) { this.closed = true; return; }
    } catch { /* offline: the connection fails and is tried again */ }
    this.connect();
  }

  connect() {
    if (this.closed) return;
    const url = new URL('live', document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url.href);
    this.ws = ws;
    ws.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (typeof m.seq === 'number' && (this.seq === null || m.seq > this.seq) && m.type !== 'hello') this.seq = m.seq;
      if (m.type === 'hello') {
        this.retry = 0;
        const resume = this.seq !== null;
        if (!resume) this.seq = m.seq;
        this.onMessage(m, { resume });
        this.subscribe();
        return;
      }
      if (m.type === 'replayed' || m.type === 'reload') {
        this.replays++; // a subscription is in force (tests wait for it)
        this.setReady(true);
      }
      this.onMessage(m, {});
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setReady(false);
      if (!this.closed) this.schedule();
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  setReady(v) {
    if (this.ready === v) return;
    this.ready = v;
    this.onState?.(v);
  }

  subscribe() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    const msg = { type: 'subscribe', ...this.subscription() };
    if (this.seq !== null) msg.since = this.seq;
    this.ws.send(JSON.stringify(msg));
  }

  schedule() {
    const delay = Math.min(30000, 1000 * 2 ** this.retry) * (0.75 + Math.random() * 0.5);
    this.retry = Math.min(this.retry + 1, 5);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connectSignedIn(), delay);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    // Closing before the handshake ends makes Chromium log an error.
    if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000);
    else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  }
}

// ---- the operator's view -------------------------------------------------------

let ops = null; // the running view, or null

class OperatorView {
  constructor(map, ml, me) {
    this.map = map;
    this.ml = ml;
    this.me = me;
    this.canHandle = HANDLERS.has(me.role); // alerts, and the Close of incidents
    this.alerts = new Map(); // id -> GeoJSON feature (open alerts)
    this.fresh = new Set(); // ids of alerts that arrived live and still flash
    this.pulses = new Map(); // id -> maplibregl.Marker of a new critical alert
    this.selected = null; // alert id
    this.mode = null; // { id, kind: 'dispatch' | 'resolve', officers, error }
    this.history = new Map(); // id -> transitions
    this.officers = new Map(); // id -> { feature, pos, from, to, t0, trail }
    this.beeps = 0;
    this.busy = new Set(); // alert ids with a request in flight
    this.incidents = new Map(); // id -> GeoJSON feature (open incidents, in view or not)
    this.incFresh = new Set(); // ids of incidents reported live that still flash
    this.incSelected = null; // incident id
    this.incMode = null; // { id, kind: 'close', note, error } | { id: null, kind: 'message', text }
    this.incBusy = new Set(); // incident ids with a close in flight
    this.incShown = ''; // the ids the incident list shows, to skip a re-render on moveend
    this.refreshQueue = new Map(); // source id -> [bounds]
    this.refreshTimer = 0;
    this.animating = false;
    this.gone = false;

    // The style's layers of the catalogue's officers and their source.
    const styleLayers = map.getStyle()?.layers || [];
    this.officerIds = styleLayers.filter((l) => l.metadata?.[META] === 'officers').map((l) => l.id);
    this.baseFilters = new Map(styleLayers.filter((l) => l.metadata?.[META] === 'officers').map((l) => [l.id, l.filter]));
    this.sources = new Map();
    for (const l of styleLayers) if (l.metadata?.[META] && l.source && !this.sources.has(l.metadata[META])) this.sources.set(l.metadata[META], l.source);

    this.panel = this.buildPanel();
    document.getElementById('hx-main').append(this.panel);
    this.addLayers();
    // Alerts (for those who handle them) and incidents over the whole area.
    this.areaLive = new LiveSocket({
      name: 'area',
      subscription: () => ({ layers: this.canHandle ? ['alerts', 'incidents'] : ['incidents'], bbox: [-180, -90, 180, 90], zoom: Math.round(map.getZoom()) }),
      onMessage: (m, o) => this.onAreaMessage(m, o),
      onState: () => this.renderStatus(),
    });
    this.officersLive = this.canHandle ? new LiveSocket({
      name: 'officers',
      subscription: () => this.viewport(),
      onMessage: (m) => this.onOfficerMessage(m),
      onState: () => this.renderStatus(),
    }) : null;
    this.onMoveEnd = () => {
      this.officersLive?.subscribe();
      this.renderIncidents({ ifChanged: true });
    };
    map.on('moveend', this.onMoveEnd);
    this.agoTimer = setInterval(() => this.updateAgo(), AGO_EVERY_MS);
    this.onStyleData = () => this.syncVisibility();
    map.on('styledata', this.onStyleData);
    this.langObserver = new MutationObserver(() => this.render());
    this.langObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-lang'] });
    this.render();
  }

  viewport() {
    const b = this.map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return {
      layers: ['officers'],
      bbox: [clamp(b.getWest(), -180, 180), clamp(b.getSouth(), -90, 90), clamp(b.getEast(), -180, 180), clamp(b.getNorth(), -90, 90)],
      zoom: Math.round(this.map.getZoom()),
    };
  }

  destroy() {
    this.gone = true;
    this.areaLive.close();
    this.officersLive?.close();
    this.langObserver.disconnect();
    clearTimeout(this.refreshTimer);
    clearInterval(this.agoTimer);
    for (const m of this.pulses.values()) m.remove();
    this.pulses.clear();
    this.panel.remove();
    try {
      this.map.off('moveend', this.onMoveEnd);
      this.map.off('styledata', this.onStyleData);
    } catch { /* the map is gone */ }
  }

  // ---- alerts ----

  async loadAlerts() {
    // Changes that arrive while the lists load are newer than the lists.
    const during = new Map();
    this.during = during;
    let lists;
    try {
      lists = await Promise.all(OPEN_STATES.map((s) => getJSON(`api/collections/alerts/items?state=${s}&limit=10000`)));
    } finally {
      if (this.during === during) this.during = null;
    }
    if (this.gone) return;
    const fresh = new Map();
    for (const fc of lists) for (const f of fc.features || []) fresh.set(Number(f.id), f);
    for (const [id, f] of during) {
      if (f && OPEN_STATES.includes(f.properties?.state)) fresh.set(id, f);
      else fresh.delete(id);
    }
    this.alerts = fresh;
    for (const id of [...this.pulses.keys()]) if (!fresh.has(id) || fresh.get(id).properties?.state !== 'raised') this.unpulse(id);
    this.render();
  }

  // load reads the open alerts (for those who handle them) and incidents.
  load() {
    if (this.canHandle) this.loadAlerts().catch(() => {});
    this.loadIncidents().catch(() => {});
  }

  onAreaMessage(m, { resume } = {}) {
    switch (m.type) {
      case 'hello':
        // First connection: read the lists, then follow the changes after
        // hello's seq (the subscription asks for them with since).
        if (!resume) this.load();
        break;
      case 'feature':
        if (m.layer === 'alerts') this.applyAlert(Number(m.id), m.op === 'delete' ? null : m.feature);
        else if (m.layer === 'incidents') this.applyIncident(Number(m.id), m.op === 'delete' ? null : m.feature);
        break;
      case 'tiles':
        this.queueRefresh(m.layer, m.boxes || [m.bounds]);
        break;
      case 'reload':
        this.load();
        this.queueRefresh('alerts', [null]);
        this.queueRefresh('incidents', [null]);
        break;
      default:
    }
  }

  applyAlert(id, f) {
    this.during?.set(id, f);
    const had = this.alerts.get(id);
    const open = f && OPEN_STATES.includes(f.properties?.state);
    if (!open) {
      if (!had) return;
      this.alerts.delete(id);
      this.fresh.delete(id);
      this.unpulse(id);
      if (this.selected === id) this.selected = null;
      if (this.mode?.id === id) this.mode = null;
      this.render();
      return;
    }
    this.alerts.set(id, f);
    this.history.delete(id);
    const p = f.properties || {};
    if (!had && p.state === 'raised') {
      this.fresh.add(id);
      setTimeout(() => { this.fresh.delete(id); this.$item(id)?.classList.remove('hx-ops-flash'); }, 6000);
      if (p.severity === 'critical') {
        this.pulse(id, f);
        if (beep()) this.beeps++;
      }
    }
    if (p.state !== 'raised') this.unpulse(id);
    if (this.mode?.id === id && this.mode.kind === 'dispatch' && !['acknowledged', 'dispatched'].includes(p.state)) this.mode = null;
    this.render();
    if (this.selected === id) this.loadHistory(id);
  }

  pulse(id, f) {
    const c = f.geometry?.type === 'Point' ? f.geometry.coordinates : null;
    if (!c || this.pulses.has(id)) return;
    const dot = el('div', { class: 'hx-ops-pulse', dataset: { alert: String(id) }, title: f.properties?.title || '' });
    dot.addEventListener('click', (e) => { e.stopPropagation(); this.select(id, { fly: true }); });
    this.pulses.set(id, new this.ml.Marker({ element: dot }).setLngLat(c).addTo(this.map));
  }

  unpulse(id) {
    this.pulses.get(id)?.remove();
    this.pulses.delete(id);
  }

  sorted() {
    const rank = (s) => { const i = SEVERITIES.indexOf(s); return i < 0 ? SEVERITIES.length : i; };
    return [...this.alerts.entries()].sort(([ia, a], [ib, b]) => {
      const pa = a.properties || {};
      const pb = b.properties || {};
      return rank(pa.severity) - rank(pb.severity)
        || String(pb.raised_at || '').localeCompare(String(pa.raised_at || ''))
        || ib - ia;
    });
  }

  select(id, { fly = false } = {}) {
    this.selected = this.selected === id && !fly ? null : id;
    if (this.mode && this.mode.id !== this.selected) this.mode = null;
    if (this.selected !== null) { this.incSelected = null; this.incMode = null; }
    const f = this.alerts.get(id);
    const c = f?.geometry?.type === 'Point' ? f.geometry.coordinates : null;
    this.highlight(this.selected === id ? c : null);
    if (this.selected === id && c) {
      this.map.flyTo({ center: c, zoom: Math.max(this.map.getZoom(), 17), speed: 1.6 });
      this.loadHistory(id);
    }
    this.render();
  }

  async loadHistory(id) {
    try {
      const h = await getJSON(`api/alerts/${id}/transitions`);
      if (this.gone) return;
      this.history.set(id, h.transitions || []);
      if (this.selected === id) this.render();
    } catch { /* the details show without it */ }
  }

  async act(id, action, body) {
    if (this.busy.has(id)) return;
    this.busy.add(id);
    this.render();
    let res;
    try {
      res = await fetch(abs(`api/alerts/${id}/${action}`), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/geo+json', 'X-CSRF-Token': this.me.csrf || '' },
        body: JSON.stringify(body || {}),
        credentials: 'same-origin',
      });
      if (res.ok) {
        const f = await res.json();
        this.mode = null;
        this.busy.delete(id);
        this.applyAlert(id, f);
        return;
      }
      const detail = (await res.json().catch(() => null))?.detail || `HTTP ${res.status}`;
      if (res.status === 409) {
        const f = await getJSON(`api/collections/alerts/items/${id}`).catch(() => null);
        if (f) this.applyAlert(id, f);
        this.message(id, t('conflict'));
      } else {
        this.message(id, t('actionFailed', { msg: detail }));
      }
    } catch (err) {
      this.message(id, t('actionFailed', { msg: err.message }));
    } finally {
      this.busy.delete(id);
      this.render();
    }
  }

  message(id, text) {
    this.mode = { id, kind: 'message', text };
  }

  async startDispatch(id) {
    this.mode = { id, kind: 'dispatch', officers: null };
    this.render();
    try {
      const doc = await getJSON(`api/alerts/${id}/nearest-officers?limit=5`);
      if (this.mode?.id === id && this.mode.kind === 'dispatch') this.mode.officers = doc.officers || [];
    } catch (err) {
      if (this.mode?.id === id) this.mode = { id, kind: 'message', text: t('actionFailed', { msg: err.message }) };
    }
    this.render();
  }

  // ---- incidents ----

  async loadIncidents() {
    // Changes that arrive while the list loads are newer than the list.
    const during = new Map();
    this.incDuring = during;
    let fc;
    try {
      fc = await getJSON('api/collections/incidents/items?state=open&limit=10000');
    } finally {
      if (this.incDuring === during) this.incDuring = null;
    }
    if (this.gone) return;
    const fresh = new Map();
    for (const f of fc.features || []) fresh.set(Number(f.id), f);
    for (const [id, f] of during) {
      if (f?.properties?.state === 'open') fresh.set(id, f);
      else fresh.delete(id);
    }
    this.incidents = fresh;
    if (this.incSelected !== null && !fresh.has(this.incSelected)) this.incSelected = null;
    this.renderIncidents();
  }

  applyIncident(id, f) {
    this.incDuring?.set(id, f);
    const had = this.incidents.has(id);
    if (f?.properties?.state !== 'open') {
      if (!had) return;
      this.incidents.delete(id);
      this.incFresh.delete(id);
      if (this.incSelected === id) { this.incSelected = null; this.highlight(null); }
      if (this.incMode?.id === id) this.incMode = null;
      this.renderIncidents();
      return;
    }
    this.incidents.set(id, f);
    if (!had) {
      this.incFresh.add(id);
      setTimeout(() => { this.incFresh.delete(id); this.$incident(id)?.classList.remove('hx-ops-flash'); }, 6000);
    }
    this.renderIncidents();
  }

  // inView lists the open incidents within the map's view, newest first.
  inView() {
    const b = this.map.getBounds();
    return [...this.incidents.entries()]
      .filter(([, f]) => f.geometry?.type === 'Point' && b.contains(f.geometry.coordinates))
      .sort(([ia, a], [ib, b2]) => String(b2.properties?.reported_at || '').localeCompare(String(a.properties?.reported_at || '')) || ib - ia);
  }

  selectIncident(id) {
    this.incSelected = this.incSelected === id ? null : id;
    if (this.incMode && this.incMode.id !== this.incSelected) this.incMode = null;
    const c = this.incidents.get(id)?.geometry?.coordinates;
    if (this.incSelected === id && c) {
      // One selection at a time: the ring marks the incident.
      this.selected = null;
      this.mode = null;
      this.highlight(c);
      this.map.flyTo({ center: c, zoom: Math.max(this.map.getZoom(), 17), speed: 1.6 });
    } else {
      this.highlight(null);
    }
    this.render();
  }

  async closeIncident(id, note) {
    if (this.incBusy.has(id)) return;
    this.incBusy.add(id);
    this.renderIncidents();
    try {
      const f = await request('POST', `api/incidents/${id}/close`, { body: { note }, csrf: this.me.csrf, accept: 'application/geo+json' });
      this.incMode = null;
      this.incBusy.delete(id);
      this.applyIncident(id, f);
    } catch (err) {
      if (err.status === 409 || err.status === 404) {
        // Closed (or gone) meanwhile: the list follows the API.
        const f = await getJSON(`api/collections/incidents/items/${id}`).catch(() => null);
        this.incBusy.delete(id);
        if (f || err.status === 404) this.applyIncident(id, f);
        this.incMode = { id: null, kind: 'message', text: t('incClosedElsewhere', { id }) };
      } else {
        this.incMode = { id, kind: 'message', text: t('actionFailed', { msg: err.message }) };
      }
    } finally {
      this.incBusy.delete(id);
      this.renderIncidents();
    }
  }

  // updateAgo rewrites the "how long ago" of the listed incidents.
  updateAgo() {
    for (const e of this.panel.querySelectorAll('time.hx-ops-ago')) e.textContent = ago(e.dateTime);
  }

  // ---- officers ----

  onOfficerMessage(m) {
    if (m.type === 'feature' && m.layer === 'officers') this.applyOfficer(Number(m.id), m.op === 'delete' ? null : m.feature);
    else if (m.type === 'tiles') this.queueRefresh(m.layer, m.boxes || [m.bounds]);
    else if (m.type === 'reload') this.queueRefresh('officers', [null]);
  }

  applyOfficer(id, f) {
    if (!f || f.geometry?.type !== 'Point') {
      if (this.officers.delete(id)) { this.filterTileOfficers(); this.drawOfficers(); }
      return;
    }
    const to = f.geometry.coordinates.slice(0, 2);
    let o = this.officers.get(id);
    if (!o) {
      o = { feature: f, pos: to, from: to, to, t0: 0, trail: [to] };
      this.officers.set(id, o);
      this.filterTileOfficers();
      this.seedTrail(id, o);
    } else {
      o.from = o.pos;
      o.to = to;
      o.t0 = performance.now();
      o.feature = f;
      const last = o.trail[o.trail.length - 1];
      if (!last || last[0] !== to[0] || last[1] !== to[1]) o.trail.push(to);
      if (o.trail.length > TRAIL_MAX) o.trail.splice(0, o.trail.length - TRAIL_MAX);
    }
    this.animate();
  }

  async seedTrail(id, o) {
    try {
      const tr = await getJSON(`api/officers/${id}/trail?minutes=${TRAIL_MINUTES}`);
      const coords = tr.geometry?.coordinates || [];
      if (this.gone || this.officers.get(id) !== o || !coords.length) return;
      // The live positions since are newer than the stored ones.
      const live = o.trail.filter((p) => !coords.some((c) => c[0] === p[0] && c[1] === p[1]));
      o.trail = [...coords, ...live].slice(-TRAIL_MAX);
      this.drawOfficers();
    } catch { /* no trail: the live positions still draw one */ }
  }

  animate() {
    if (this.animating) return;
    this.animating = true;
    const step = (now) => {
      if (this.gone) return;
      let moving = false;
      for (const o of this.officers.values()) {
        const k = o.t0 ? Math.min(1, (now - o.t0) / ANIM_MS) : 1;
        const e = k < 1 ? 1 - (1 - k) ** 3 : 1; // ease out
        o.pos = [o.from[0] + (o.to[0] - o.from[0]) * e, o.from[1] + (o.to[1] - o.from[1]) * e];
        if (k < 1) moving = true;
      }
      this.drawOfficers();
      if (moving) requestAnimationFrame(step);
      else this.animating = false;
    };
    requestAnimationFrame(step);
  }

  drawOfficers() {
    const pts = [];
    const lines = [];
    for (const [id, o] of this.officers) {
      const p = o.feature.properties || {};
      pts.push({ type: 'Feature', id, geometry: { type: 'Point', coordinates: o.pos }, properties: { name: p.name || '', available: p.available !== false } });
      // The trail ends where the marker is now, so it grows behind it.
      const line = [...o.trail.slice(0, -1), o.pos];
      if (line.length >= 2) lines.push({ type: 'Feature', id, geometry: { type: 'LineString', coordinates: line }, properties: {} });
    }
    this.map.getSource(SRC_OFFICERS)?.setData({ type: 'FeatureCollection', features: pts });
    this.map.getSource(SRC_TRAILS)?.setData({ type: 'FeatureCollection', features: lines });
  }

  // The tiles' officers layer leaves out the officers drawn live here.
  filterTileOfficers() {
    const ids = [...this.officers.keys()];
    for (const [id, base] of this.baseFilters) {
      if (!this.map.getLayer(id)) continue;
      const not = ['!', ['in', ['id'], ['literal', ids]]];
      this.map.setFilter(id, base ? ['all', base, not] : not);
    }
  }

  // The live officers show and hide with the officers layer of the switcher.
  syncVisibility() {
    const main = this.officerIds.find((id) => this.map.getLayer(id));
    if (!main) return;
    const vis = this.map.getLayoutProperty(main, 'visibility') === 'none' ? 'none' : 'visible';
    for (const id of ['hexward-ops-trail', 'hexward-ops-officer', 'hexward-ops-officer-label']) {
      if (this.map.getLayer(id) && this.map.getLayoutProperty(id, 'visibility') !== vis) this.map.setLayoutProperty(id, 'visibility', vis);
    }
  }

  addLayers() {
    const map = this.map;
    const empty = { type: 'FeatureCollection', features: [] };
    for (const id of [SRC_OFFICERS, SRC_TRAILS, SRC_SELECTED]) if (!map.getSource(id)) map.addSource(id, { type: 'geojson', data: empty });
    const style = map.getStyle();
    const font = (style.layers || []).find((l) => l.layout?.['text-font'])?.layout['text-font'] || ['Noto Sans Regular'];
    map.addLayer({ id: 'hexward-ops-trail', type: 'line', source: SRC_TRAILS, layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: { 'line-color': '#00897b', 'line-width': 3, 'line-opacity': 0.65, 'line-dasharray': [1, 1.5] } });
    map.addLayer({ id: 'hexward-ops-selected', type: 'circle', source: SRC_SELECTED,
      paint: { 'circle-radius': 17, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ffd400', 'circle-stroke-width': 4 } });
    map.addLayer({ id: 'hexward-ops-officer', type: 'circle', source: SRC_OFFICERS,
      paint: { 'circle-radius': 7, 'circle-color': ['case', ['get', 'available'], '#00897b', '#78909c'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 2.5 } });
    map.addLayer({ id: 'hexward-ops-officer-label', type: 'symbol', source: SRC_OFFICERS,
      layout: { 'text-field': ['get', 'name'], 'text-font': font, 'text-size': 12, 'text-offset': [0, 1.3], 'text-anchor': 'top', 'text-optional': true },
      paint: { 'text-color': '#004d40', 'text-halo-color': '#fff', 'text-halo-width': 1.5 } });
    this.syncVisibility();
  }

  highlight(c) {
    this.map.getSource(SRC_SELECTED)?.setData({ type: 'FeatureCollection', features: c ? [{ type: 'Feature', geometry: { type: 'Point', coordinates: c }, properties: {} }] : [] });
  }

  // ---- tiles ----

  // queueRefresh gathers the changed areas of a layer's source (boxes
  // [w, s, e, n]; a null box: all of it) and reloads the tiles over them
  // shortly after: the tile index applies a change a moment after the live
  // stream reports it, so once more a second later.
  queueRefresh(layer, boxes) {
    const src = this.sourceOf(layer);
    if (!src) return;
    if (!this.refreshQueue.has(src)) this.refreshQueue.set(src, []);
    this.refreshQueue.get(src).push(...boxes);
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = 0;
      const q = this.refreshQueue;
      this.refreshQueue = new Map();
      this.refresh(q);
      setTimeout(() => { if (!this.gone) this.refresh(q); }, 1200);
    }, 250);
  }

  sourceOf(layer) {
    return this.sources.get(layer) || null;
  }

  refresh(queue) {
    if (this.gone) return;
    for (const [src, list] of queue) {
      const source = this.map.getSource(src);
      if (!source) continue;
      if (typeof this.map.refreshTiles !== 'function') {
        if (source.setTiles && source.tiles) source.setTiles(source.tiles);
        continue;
      }
      if (list.some((b) => !b)) {
        this.map.refreshTiles(src);
        continue;
      }
      const tiles = new Map();
      const z0 = Math.floor(this.map.getZoom());
      const maxz = source.maxzoom ?? 22;
      const minz = source.minzoom ?? 0;
      for (let z = Math.max(minz, z0 - 1); z <= Math.min(maxz, z0 + 1); z++) {
        for (const b of list) for (const tl of tilesOver(b, z)) tiles.set(`${tl.z}/${tl.x}/${tl.y}`, tl);
      }
      if (tiles.size > 256) this.map.refreshTiles(src);
      else if (tiles.size) this.map.refreshTiles(src, [...tiles.values()]);
    }
  }

  // ---- rendering ----

  buildPanel() {
    // Those who handle alerts see the alert list and, below it, the
    // incidents; everyone else the incidents alone, under the card's head.
    const incidents = el('section', { id: 'hx-ops-inc', class: 'hx-ops-inc' },
      this.canHandle && el('div', { class: 'hx-ops-subhead' },
        el('h3', {}, el('span', { id: 'hx-ops-inc-title' }), el('span', { id: 'hx-ops-inc-count', class: 'hx-ops-count' }))),
      el('ol', { id: 'hx-ops-incidents', class: 'hx-ops-list' }));
    return el('aside', { id: 'hx-ops', class: 'hx-card hx-ops', 'aria-live': 'polite', dataset: { live: 'connecting', role: this.me.role || '' } },
      el('div', { class: 'hx-card-head' },
        el('h2', {}, el('span', { id: 'hx-ops-title' }), el('span', { id: 'hx-ops-count', class: 'hx-ops-count' })),
        el('span', { id: 'hx-ops-status', class: 'hx-ops-status' }),
        el('button', {
          id: 'hx-ops-fold', class: 'hx-icon-btn', type: 'button', 'aria-expanded': 'true', 'aria-controls': 'hx-ops-list', text: '▾',
          onclick: (e) => {
            const folded = this.panel.classList.toggle('hx-folded');
            e.currentTarget.setAttribute('aria-expanded', String(!folded));
            e.currentTarget.textContent = folded ? '▸' : '▾';
          },
        })),
      this.canHandle && el('ol', { id: 'hx-ops-list', class: 'hx-ops-list' }),
      incidents);
  }

  $item(id) { return this.panel.querySelector(`.hx-ops-item[data-alert="${id}"]`); }

  $incident(id) { return this.panel.querySelector(`.hx-ops-item[data-incident="${id}"]`); }

  renderStatus() {
    const up = [this.areaLive, this.officersLive].every((s) => s === null || s?.ready);
    this.panel.dataset.live = up ? 'open' : 'connecting';
    const s = $('#hx-ops-status', this.panel);
    s.textContent = up ? `● ${t('live')}` : t('offline');
    s.classList.toggle('hx-ops-down', !up);
  }

  render() {
    if (this.gone) return;
    $('#hx-ops-title', this.panel).textContent = this.canHandle ? t('title') : t('incTitle');
    $('#hx-ops-fold', this.panel).title = lang() === 'zh' ? '收起/展开' : 'Collapse/expand';
    this.renderStatus();
    if (this.canHandle) {
      $('#hx-ops-count', this.panel).textContent = t('count', { n: this.alerts.size });
      const items = this.sorted().map(([id, f]) => this.renderItem(id, f));
      fill($('#hx-ops-list', this.panel), items.length ? items : [el('li', { class: 'hx-ops-empty hx-muted', text: t('empty') })]);
    }
    this.renderIncidents();
  }

  // renderIncidents lists the open incidents in view; with ifChanged only
  // when that set differs from the one shown (the view moved).
  renderIncidents({ ifChanged = false } = {}) {
    if (this.gone) return;
    const shown = this.inView();
    const key = shown.map(([id]) => id).join(',');
    if (ifChanged && key === this.incShown) return;
    this.incShown = key;
    const count = t('count', { n: shown.length });
    if (this.canHandle) {
      $('#hx-ops-inc-title', this.panel).textContent = t('incTitle');
      $('#hx-ops-inc-count', this.panel).textContent = count;
    } else {
      $('#hx-ops-count', this.panel).textContent = count;
    }
    const items = shown.map(([id, f]) => this.renderIncident(id, f));
    const m = this.incMode;
    fill($('#hx-ops-incidents', this.panel), [
      m?.kind === 'message' && m.id === null && el('li', { class: 'hx-ops-msg', role: 'alert', text: m.text }),
      ...(items.length ? items : [el('li', { class: 'hx-ops-empty hx-muted', text: t('incEmpty') })]),
    ]);
  }

  renderIncident(id, f) {
    const p = f.properties || {};
    const sel = this.incSelected === id;
    const busy = this.incBusy.has(id);
    const li = el('li', {
      class: `hx-ops-item hx-ops-incident${sel ? ' hx-ops-selected' : ''}${this.incFresh.has(id) ? ' hx-ops-flash' : ''}`,
      dataset: { incident: String(id), kind: p.kind || '' },
      style: `--hx-sev: ${INCIDENT_COLOR}`,
    },
    el('button', { class: 'hx-ops-head', type: 'button', 'aria-expanded': String(sel), onclick: () => this.selectIncident(id) },
      el('span', { class: 'hx-ops-sev hx-ops-kind', text: kindLabel(p.kind) }),
      el('span', { class: `hx-ops-title${p.note ? '' : ' hx-muted'}`, text: p.note || t('noNote') }),
      el('span', { class: 'hx-ops-time' },
        el('span', { class: 'hx-ops-by', text: p.reported_by || '' }), p.reported_by ? ' · ' : '',
        el('time', { class: 'hx-ops-ago', datetime: p.reported_at || null, title: p.reported_at ? fullTime(p.reported_at) : null, text: ago(p.reported_at) }))));
    // Closing needs handle_alerts (auth/roles.go): the others only read.
    if (this.canHandle && this.incMode?.id !== id) {
      li.append(el('div', { class: 'hx-ops-actions' },
        el('button', {
          type: 'button', class: 'hx-ops-btn', dataset: { action: 'close-incident' }, disabled: busy, text: t('closeIncident'),
          onclick: () => { this.incMode = { id, kind: 'close' }; this.renderIncidents(); $('.hx-ops-note', this.$incident(id))?.focus(); },
        })));
    }
    const m = this.incMode;
    if (m?.id === id && m.kind === 'message') li.append(el('p', { class: 'hx-ops-msg', role: 'alert', text: m.text }));
    if (m?.id === id && m.kind === 'close') li.append(this.renderCloseForm(id, m, busy));
    if (sel) {
      const rows = [['kind', 'kind', kindLabel(p.kind)], ['note', 'incNote', p.note], ['reported_by', 'reported_by', p.reported_by],
        ['reported_at', 'reported_at', p.reported_at && fullTime(p.reported_at)]]
        .filter(([, , v]) => v)
        .map(([k, label, v]) => el('div', { class: 'hx-row', dataset: { prop: k } }, el('dt', { text: t(label) }), el('dd', { text: String(v) })));
      li.append(el('div', { class: 'hx-ops-details' }, el('dl', {}, rows)));
    }
    return li;
  }

  renderCloseForm(id, m, busy) {
    const area = el('textarea', { class: 'hx-ops-note', rows: '2', maxlength: '500', placeholder: t('closePlaceholder'), 'aria-label': t('closePrompt') });
    area.value = m.note || '';
    area.addEventListener('input', () => { m.note = area.value; });
    return el('div', { class: 'hx-ops-form', dataset: { form: 'close' } },
      el('label', { class: 'hx-ops-label', text: t('closePrompt') }), area,
      el('p', { class: 'hx-ops-msg', hidden: !m.error, text: m.error ? t('closeMissing') : '' }),
      el('div', { class: 'hx-ops-actions' },
        el('button', {
          type: 'button', class: 'hx-ops-btn hx-ops-primary', dataset: { action: 'confirm-close' }, disabled: busy, text: t('confirmClose'),
          onclick: () => {
            const note = area.value.trim();
            if (!note) { m.error = true; this.renderIncidents(); return; }
            this.closeIncident(id, note);
          },
        }),
        el('button', { type: 'button', class: 'hx-ops-btn', text: t('cancel'), onclick: () => { this.incMode = null; this.renderIncidents(); } })));
  }

  renderItem(id, f) {
    const p = f.properties || {};
    const sev = SEVERITIES.includes(p.severity) ? p.severity : 'warning';
    const sel = this.selected === id;
    const busy = this.busy.has(id);
    const title = p.title || t('untitled', { id });
    const li = el('li', {
      class: `hx-ops-item${sel ? ' hx-ops-selected' : ''}${this.fresh.has(id) ? ' hx-ops-flash' : ''}`,
      dataset: { alert: String(id), severity: sev, state: p.state || '' },
      style: `--hx-sev: ${COLORS[sev]}`,
    });
    const head = el('button', { class: 'hx-ops-head', type: 'button', 'aria-expanded': String(sel), onclick: () => this.select(id, { fly: !sel }) },
      el('span', { class: 'hx-ops-sev', text: t(`sev_${sev}`) }),
      el('span', { class: 'hx-ops-title', text: title }),
      el('span', { class: `hx-ops-state hx-ops-state-${p.state}`, text: t(`st_${p.state}`) }),
      el('time', { class: 'hx-ops-time', datetime: p.raised_at || null, text: shortTime(p.raised_at) }));
    li.append(head);
    const actions = el('div', { class: 'hx-ops-actions' },
      p.state === 'raised' && el('button', { type: 'button', class: 'hx-ops-btn hx-ops-primary', dataset: { action: 'acknowledge' }, disabled: busy, text: t('acknowledge'), onclick: () => this.act(id, 'acknowledge') }),
      ['acknowledged', 'dispatched'].includes(p.state) && el('button', { type: 'button', class: 'hx-ops-btn', dataset: { action: 'dispatch' }, disabled: busy, text: t('dispatch'), onclick: () => this.startDispatch(id) }),
      ['acknowledged', 'dispatched'].includes(p.state) && el('button', {
        type: 'button', class: 'hx-ops-btn', dataset: { action: 'resolve' }, disabled: busy, text: t('resolve'),
        onclick: () => { this.mode = { id, kind: 'resolve' }; this.render(); $('.hx-ops-note', this.$item(id))?.focus(); },
      }));
    li.append(actions);
    if (this.mode?.id === id) li.append(this.renderMode(id));
    if (sel) li.append(this.renderDetails(id, p));
    return li;
  }

  renderMode(id) {
    const m = this.mode;
    if (m.kind === 'message') return el('p', { class: 'hx-ops-msg', role: 'alert', text: m.text });
    if (m.kind === 'resolve') {
      const area = el('textarea', { class: 'hx-ops-note', rows: '2', maxlength: '2000', placeholder: t('notePlaceholder'), 'aria-label': t('notePrompt') });
      area.value = m.note || '';
      area.addEventListener('input', () => { m.note = area.value; });
      const err = el('p', { class: 'hx-ops-msg', hidden: !m.error, text: m.error ? t('noteMissing') : '' });
      return el('div', { class: 'hx-ops-form', dataset: { form: 'resolve' } },
        el('label', { class: 'hx-ops-label', text: t('notePrompt') }), area, err,
        el('div', { class: 'hx-ops-actions' },
          el('button', {
            type: 'button', class: 'hx-ops-btn hx-ops-primary', dataset: { action: 'confirm-resolve' }, text: t('confirmResolve'),
            onclick: () => {
              const note = area.value.trim();
              if (!note) { m.error = true; this.render(); return; }
              this.act(id, 'resolve', { note });
            },
          }),
          el('button', { type: 'button', class: 'hx-ops-btn', text: t('cancel'), onclick: () => { this.mode = null; this.render(); } })));
    }
    // dispatch: the nearest available officers, one click sends.
    const rows = m.officers === null
      ? [el('li', { class: 'hx-muted', text: t('loadingOfficers') })]
      : m.officers.length === 0
        ? [el('li', { class: 'hx-muted', text: t('noOfficers') })]
        : m.officers.map((o) => el('li', {},
          el('button', {
            type: 'button', class: 'hx-ops-officer', dataset: { officer: String(o.id), name: o.name },
            onclick: () => this.act(id, 'dispatch', { to: o.name || `#${o.id}` }),
          },
          el('span', { class: 'hx-ops-officer-name', text: o.name || `#${o.id}` }),
          el('span', { class: 'hx-muted', text: [o.team, o.duty && t(`duty_${o.duty}`)].filter(Boolean).join(' · ') }),
          el('span', { class: 'hx-ops-dist', text: distance(o.distance_m) }))));
    return el('div', { class: 'hx-ops-form', dataset: { form: 'dispatch' } },
      el('div', { class: 'hx-ops-label', text: t('nearest') }),
      el('ul', { class: 'hx-ops-officers' }, rows),
      el('div', { class: 'hx-ops-actions' },
        el('button', { type: 'button', class: 'hx-ops-btn', text: t('cancel'), onclick: () => { this.mode = null; this.render(); } })));
  }

  renderDetails(id, p) {
    const rows = [];
    for (const k of ['condition', 'source', 'value', 'raised_at', 'acknowledged_by', 'dispatched_to', 'note']) {
      const v = p[k];
      if (v === undefined || v === null || v === '') continue;
      rows.push(el('div', { class: 'hx-row', dataset: { prop: k } }, el('dt', { text: t(k) }), el('dd', { text: k === 'raised_at' ? fullTime(v) : String(v) })));
    }
    const h = this.history.get(id);
    const hist = h?.length
      ? el('ol', { class: 'hx-ops-history' }, h.map((r) => el('li', {},
        el('time', { datetime: r.at, text: shortTime(r.at) }), ' ',
        el('span', { text: t(`ev_${r.event}`) }), ' ',
        el('span', { class: 'hx-muted', text: [r.actor, r.note].filter(Boolean).join(' · ') }))))
      : null;
    return el('div', { class: 'hx-ops-details' },
      el('dl', {}, rows),
      hist && el('h3', { text: t('history') }), hist);
  }
}

// fill replaces a list's items, keeping the caret in a note being written
// in it across the re-render (one note form is open per list at most).
function fill(list, items) {
  const typing = document.activeElement?.classList.contains('hx-ops-note') && list.contains(document.activeElement) ? document.activeElement : null;
  const caret = typing ? [typing.selectionStart, typing.selectionEnd] : null;
  list.replaceChildren(...items.filter(Boolean));
  const note = typing && $('.hx-ops-note', list);
  if (note) {
    note.focus();
    note.setSelectionRange(...caret);
  }
}

// kindLabel is an incident kind's name; an unknown kind as it is.
function kindLabel(k) {
  const key = `kind_${k}`;
  const s = t(key);
  return s === key ? String(k ?? '') : s;
}

// ago says how long ago time s was: just now, minutes, hours or days.
function ago(s) {
  const d = s ? new Date(s) : null;
  if (!d || Number.isNaN(d.getTime())) return '';
  const min = Math.floor((Date.now() - d.getTime()) / 60000);
  if (min < 1) return t('justNow');
  if (min < 60) return t('minutesAgo', { n: min });
  if (min < 24 * 60) return t('hoursAgo', { n: Math.floor(min / 60) });
  return t('daysAgo', { n: Math.floor(min / 1440) });
}

function distance(m) {
  if (typeof m !== 'number') return '';
  return m < 1000 ? t('metres', { n: Math.round(m) }) : t('km', { n: (m / 1000).toFixed(1) });
}

function shortTime(s) {
  const d = s ? new Date(s) : null;
  if (!d || Number.isNaN(d.getTime())) return '';
  const sameDay = d.toDateString() === new Date().toDateString();
  const loc = lang() === 'zh' ? 'zh-CN' : 'en-GB';
  return sameDay
    ? d.toLocaleTimeString(loc, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString(loc, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

function fullTime(s) {
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB');
}

// ---- start and stop with the map ------------------------------------------------

async function start() {
  const map = window.hexwardMap;
  if (!map || ops?.map === map) return;
  ops?.destroy();
  ops = null;
  let me;
  try {
    me = await getJSON('auth/me');
  } catch { return; }
  // Every role that reads the map gets the view; it holds what the role may see and do.
  if (window.hexwardMap !== map || document.body.dataset.ready !== 'true') return;
  const ml = await import('./vendor/maplibre-gl.mjs');
  if (window.hexwardMap !== map) return;
  const view = new OperatorView(map, ml, me);
  ops = view;
  window.hexwardOps = view;
  map.once('remove', () => {
    view.destroy();
    if (ops === view) { ops = null; delete window.hexwardOps; }
  });
}

withMap(start);
