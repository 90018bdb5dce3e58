// Headless-browser test of the operator's view (web/ui/operator.js):
// signed in as demo-operator, the page follows the live stream. From Node,
// demo-officer's phone reports positions near a gas sensor of demo-device,
// and demo-device reports readings above the sensor's alarm threshold for
// longer than its minimum duration. The page then shows the officer moving
// with a trail, and the new critical alert in the list (flashing) and on
// the map (the tiles' alerts layer and a pulsing marker); the operator
// acknowledges it, dispatches the nearest officer offered, and resolves
// it with a note, each state seen in the list and confirmed by the API.
// demo-officer reports incidents through the API: the one in the view
// appears in the incident list without a reload (the one outside it does
// not) and on the map; the operator closes it from the list with a note
// and it leaves the list, closed in the API. demo-viewer sees the
// incident list, following the stream too, but no Close button.
// No console error, no failed request.
//
//   HEXWARD_URL=http://127.0.0.1:8080 node --test web/e2e/operator.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  suiteOptions, serverTest, live, baseURL, getJSON, assertClean, openBrowser, mapIdle, mapReady, outPath, apiLogin, login, logout,
} from './lib.mjs';

const USER = 'demo-operator';

describe('operator view', suiteOptions(), () => {
  let base;
  let browser;
  let page;
  let operator; // { cookie, me } of USER, for reads from Node
  let deviceToken; // API token of demo-device
  let officerToken; // API token of demo-officer (the first demo officer's phone)
  let sensor; // the gas sensor that raises the alert
  let officer; // demo-officer's officer feature
  let alertId;
  let incident; // the incident demo-officer reports in the operator's view
  let farIncident; // and one outside it

  it(...serverTest);

  // token asks, as demo-admin, for an API token of user.
  async function token(admin, user) {
    const res = await fetch(`${base}/auth/users/${user}/tokens`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Cookie: admin.cookie, 'X-CSRF-Token': admin.me.csrf },
      body: JSON.stringify({ name: 'e2e operator view', ttl_hours: 1 }),
    });
    assert.equal(res.status, 201, `token for ${user}: ${await res.clone().text()}`);
    return (await res.json()).token;
  }

  // post sends body with an API token (or as the signed-in operator
  // when tok is null) and expects status.
  async function post(path, tok, body, status = 200) {
    const auth = tok ? { Authorization: `Bearer ${tok}` } : { Cookie: operator.cookie, 'X-CSRF-Token': operator.me.csrf };
    const res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...auth },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, status, `POST ${path}: ${text}`);
    return JSON.parse(text);
  }

  const alertItem = (id) => getJSON(`${base}/api/collections/alerts/items/${id}`, operator);
  const incidentItem = (id) => getJSON(`${base}/api/collections/incidents/items/${id}`, operator);

  // report has demo-officer report an incident at [lon, lat].
  async function report(kind, note, at) {
    const f = await post('/api/incidents', officerToken, { kind, note, position: at }, 201);
    assert.equal(f.properties.state, 'open');
    assert.equal(f.properties.reported_by, 'demo-officer');
    return f;
  }

  // listed: the ids of the incident list, in its order.
  const listed = () => page.$$eval('#hx-ops-incidents .hx-ops-item', (els) => els.map((e) => Number(e.dataset.incident)));

  // The ids of the open incidents within the page's view, as the API
  // answers them, newest first (as the list orders them).
  async function openInView() {
    const b = await page.evaluate(() => window.hexwardMap.getBounds().toArray().flat().map((v) => v.toFixed(7)));
    const fc = await getJSON(`${base}/api/collections/incidents/items?state=open&bbox=${b.join(',')}&limit=10000`, operator);
    return fc.features.sort((x, y) => String(y.properties.reported_at).localeCompare(String(x.properties.reported_at)) || y.id - x.id).map((f) => f.id);
  }

  // Waits until the map draws the incident with the given state.
  async function drawnIncident(id, state) {
    await page.waitForFunction(([fid, st]) => {
      const m = window.hexwardMap;
      const ids = m.getStyle().layers.filter((l) => l.metadata?.['hexward:layer'] === 'incidents').map((l) => l.id);
      return m.queryRenderedFeatures({ layers: ids }).some((f) => f.id === fid && f.properties.state === st);
    }, [id, state], { timeout: 30000, polling: 250 });
  }

  before(async () => {
    base = baseURL();
    if (!base) return;
    operator = await apiLogin(base, USER);
    const admin = await apiLogin(base, 'demo-admin');
    deviceToken = await token(admin, 'demo-device');
    officerToken = await token(admin, 'demo-officer');
    // A gas sensor of demo-device at rest with no open alert: its readings
    // above alarm_above for min_duration_s raise a critical alert.
    const sensors = await getJSON(`${base}/api/collections/sensors/items?device=demo-device&kind=gas&status=normal&limit=500`, operator);
    for (const s of sensors.features) {
      const open = await getJSON(`${base}/api/collections/alerts/items?source=sensor:${s.id}&limit=50`, operator);
      if (open.features.every((a) => a.properties.state === 'resolved')) { sensor = s; break; }
    }
    assert.ok(sensor, 'the demo has a gas sensor of demo-device without an open alert');
    const officers = await getJSON(`${base}/api/collections/officers/items?device=demo-officer`, operator);
    officer = officers.features[0];
    assert.ok(officer, 'the demo has an officer with the phone demo-officer');
    browser = await openBrowser(base);
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
  });

  // Waits until both live subscriptions are in force after the view moved.
  async function jumpAndSubscribe(center, zoom) {
    const before = await page.evaluate(() => window.hexwardOps.officersLive.replays);
    await page.evaluate(([c, z]) => window.hexwardMap.jumpTo({ center: c, zoom: z }), [center, zoom]);
    await page.waitForFunction((n) => window.hexwardOps.officersLive.replays > n, before, { timeout: 15000 });
    await mapIdle(page);
  }

  it('shows the live alert panel to the operator', live(() => base, async () => {
    await login(page, USER, { path: '/?lang=zh' });
    await mapReady(page);
    await page.waitForSelector('#hx-ops[data-live="open"]', { timeout: 20000 });
    assert.equal((await page.textContent('#hx-ops-title')).trim(), '告警');
    // The list holds what the API lists as open, critical first.
    const open = [];
    for (const st of ['raised', 'acknowledged', 'dispatched']) {
      open.push(...(await getJSON(`${base}/api/collections/alerts/items?state=${st}&limit=10000`, operator)).features);
    }
    await page.waitForFunction((n) => document.querySelectorAll('#hx-ops-list .hx-ops-item').length === n, open.length, { timeout: 10000 });
    const sev = await page.$$eval('#hx-ops-list .hx-ops-item', (els) => els.map((e) => e.dataset.severity));
    const rank = ['critical', 'major', 'minor', 'warning'];
    assert.deepEqual(sev, [...sev].sort((a, b) => rank.indexOf(a) - rank.indexOf(b)), 'sorted by severity');
    assertClean(browser, 'while loading');
  }));

  it('shows an officer moving live with a trail', live(() => base, async () => {
    const [lon, lat] = sensor.geometry.coordinates;
    await jumpAndSubscribe([lon, lat], 17);
    // demo-officer walks towards the sensor: three fixes, the last 45 m off.
    const now = Date.now();
    const fixes = [[0.0012, 0.0004, 40], [0.0008, 0.0003, 20], [0.0004, 0.0002, 0]].map(([dx, dy, ago]) => ({
      ts: new Date(now - ago * 1000).toISOString(), lon: lon + dx, lat: lat + dy, speed: 1.4, battery: 80,
    }));
    const res = await post('/ingest/positions', officerToken, { positions: fixes });
    assert.equal(res.officer, officer.id);
    assert.equal(res.moved, true, 'the marker moved');
    // The officer is drawn from the live stream, with the stored fixes as trail.
    await page.waitForFunction(({ id, to }) => {
      const o = window.hexwardOps?.officers.get(id);
      return o && o.trail.length >= 3 && Math.abs(o.pos[0] - to[0]) < 1e-7 && Math.abs(o.pos[1] - to[1]) < 1e-7;
    }, { id: officer.id, to: [fixes[2].lon, fixes[2].lat] }, { timeout: 20000 });
    await mapIdle(page, { settled: true }); // the officer glides: a source may stay busy
    const drawn = await page.evaluate((id) => {
      const m = window.hexwardMap;
      return {
        marker: m.queryRenderedFeatures({ layers: ['hexward-ops-officer'] }).filter((f) => f.id === id).length,
        trail: m.queryRenderedFeatures({ layers: ['hexward-ops-trail'] }).filter((f) => f.id === id).length,
      };
    }, officer.id);
    assert.ok(drawn.marker >= 1, 'the live officer marker is rendered');
    assert.ok(drawn.trail >= 1, 'the officer\'s trail is rendered');
    assertClean(browser, 'after the officer moved');
  }));

  it('shows a new critical alert in the list and on the map', live(() => base, async () => {
    const now = Date.now();
    const alarm = Number(sensor.properties.alarm_above ?? 20);
    const hold = Number(sensor.properties.min_duration_s ?? 0);
    // Above the alarm threshold from hold + 2 s ago until now.
    const readings = [hold + 2, Math.ceil((hold + 2) / 2), 0].map((ago) => ({
      sensor: sensor.id, ts: new Date(now - ago * 1000).toISOString(), value: alarm + 15,
    }));
    const accepted = await post('/ingest/readings', deviceToken, { readings });
    assert.equal(accepted.accepted, 3);
    const raised = await getJSON(`${base}/api/collections/alerts/items?source=sensor:${sensor.id}&state=raised`, operator);
    assert.equal(raised.features.length, 1, 'the readings raised one alert');
    const alert = raised.features[0];
    alertId = alert.id;
    assert.equal(alert.properties.severity, 'critical');

    // In the list: critical, raised, flashing.
    const item = `#hx-ops-list .hx-ops-item[data-alert="${alertId}"]`;
    await page.waitForSelector(item, { timeout: 20000 });
    assert.equal(await page.getAttribute(item, 'data-severity'), 'critical');
    assert.equal(await page.getAttribute(item, 'data-state'), 'raised');
    assert.match(await page.getAttribute(item, 'class'), /hx-ops-flash/);
    assert.equal((await page.textContent(`${item} .hx-ops-sev`)).trim(), '紧急');
    assert.equal((await page.textContent(`${item} .hx-ops-state`)).trim(), '待确认');
    assert.equal((await page.$$eval('#hx-ops-list .hx-ops-item', (els) => els[0].dataset.severity)), 'critical', 'critical alerts lead the list');
    // On the map: a pulsing marker, and the tiles' alerts layer redrawn
    // with the alert (the page refreshed the tiles the stream named).
    await page.waitForSelector(`.hx-ops-pulse[data-alert="${alertId}"]`, { timeout: 10000 });
    await page.waitForFunction((id) => {
      const m = window.hexwardMap;
      const ids = m.getStyle().layers.filter((l) => l.metadata?.['hexward:layer'] === 'alerts').map((l) => l.id);
      return m.queryRenderedFeatures({ layers: ids }).some((f) => f.id === id);
    }, alertId, { timeout: 30000, polling: 250 });
    assertClean(browser, 'after the alert was raised');
  }));

  it('lists the open incidents in view, live, and draws them', live(() => base, async () => {
    await page.waitForSelector('#hx-ops-inc #hx-ops-incidents');
    assert.equal((await page.textContent('#hx-ops-inc-title')).trim(), '事件上报');
    assert.deepEqual(await listed(), await openInView(), 'the list holds the API\'s open incidents in view');
    const loads = () => browser.log.urls.filter((u) => u.includes('/api/collections/incidents/items')).length;
    const loadsBefore = loads();
    await page.evaluate(() => { window.hexwardE2E = 'no reload'; });

    // demo-officer reports one in the view (near its middle) and one 2 km off.
    const [lon, lat] = await page.evaluate(() => window.hexwardMap.getCenter().toArray());
    const round = (v) => Math.round(v * 1e7) / 1e7;
    incident = await report('blocked_passage', '电动车堵住消防通道 (e2e)', [round(lon + 0.0003), round(lat - 0.0002)]);
    farIncident = await report('sanitation', '垃圾堆放 (e2e)', [round(lon + 0.02), round(lat + 0.01)]);
    const item = `#hx-ops-incidents .hx-ops-item[data-incident="${incident.id}"]`;
    await page.waitForSelector(item, { timeout: 20000 });
    await page.waitForFunction((id) => window.hexwardOps.incidents.has(id), farIncident.id, { timeout: 20000 });
    assert.equal(await page.evaluate(() => window.hexwardE2E), 'no reload', 'the page was not reloaded');
    assert.equal(loads(), loadsBefore, 'the list followed the live stream, not a new read');
    assert.equal(await page.locator(`#hx-ops-incidents .hx-ops-item[data-incident="${farIncident.id}"]`).count(), 0, 'an incident outside the view is not listed');
    assert.deepEqual(await listed(), await openInView());
    assert.equal((await page.textContent(`${item} .hx-ops-kind`)).trim(), '通道堵塞');
    assert.equal((await page.textContent(`${item} .hx-ops-title`)).trim(), '电动车堵住消防通道 (e2e)');
    assert.equal((await page.textContent(`${item} .hx-ops-by`)).trim(), 'demo-officer');
    assert.equal((await page.textContent(`${item} .hx-ops-ago`)).trim(), '刚刚');
    assert.match(await page.getAttribute(item, 'class'), /hx-ops-flash/);
    assert.equal((await page.textContent('#hx-ops-inc-count')).trim(), `${(await listed()).length} 条`);
    assert.equal(await page.locator(`${item} button[data-action="close-incident"]`).count(), 1, 'the operator may close it');
    // On the map: the tiles' incidents layer, refreshed, draws it open.
    await drawnIncident(incident.id, 'open');
    assertClean(browser, 'after the incidents were reported');
  }));

  it('acknowledges, dispatches the nearest officer and resolves the alert', live(() => base, async () => {
    const item = `#hx-ops-list .hx-ops-item[data-alert="${alertId}"]`;
    // A click shows the details and flies there.
    await page.click(`${item} .hx-ops-head`);
    await page.waitForSelector(`${item}.hx-ops-selected .hx-ops-details .hx-row[data-prop="source"]`, { timeout: 10000 });
    assert.equal((await page.textContent(`${item} .hx-row[data-prop="source"] dd`)).trim(), `sensor:${sensor.id}`);

    await page.click(`${item} button[data-action="acknowledge"]`);
    await page.waitForSelector(`${item}[data-state="acknowledged"]`, { timeout: 10000 });
    assert.equal((await page.textContent(`${item} .hx-ops-state`)).trim(), '已确认');
    let a = await alertItem(alertId);
    assert.equal(a.properties.state, 'acknowledged');
    assert.equal(a.properties.acknowledged_by, USER);
    assert.equal(await page.locator(`.hx-ops-pulse[data-alert="${alertId}"]`).count(), 0, 'the pulse stops once acknowledged');

    // Dispatch: the nearest available officers, demo-officer's among them.
    await page.click(`${item} button[data-action="dispatch"]`);
    await page.waitForSelector(`${item} [data-form="dispatch"] .hx-ops-officer`, { timeout: 10000 });
    const offered = await page.$$eval(`${item} .hx-ops-officer`, (els) => els.map((e) => Number(e.dataset.officer)));
    const near = await getJSON(`${base}/api/alerts/${alertId}/nearest-officers?limit=5`, operator);
    assert.deepEqual(offered, near.officers.map((o) => o.id), 'the page offers what the API answers');
    assert.ok(offered.includes(officer.id), 'the officer who walked over is offered');
    const dists = near.officers.map((o) => o.distance_m);
    assert.deepEqual(dists, [...dists].sort((x, y) => x - y), 'nearest first');
    await mapIdle(page, { settled: true });
    await page.screenshot({ path: outPath('operator.png') }); // docs/operator.png is a copy of a good one
    await page.click(`${item} .hx-ops-officer[data-officer="${officer.id}"]`);
    await page.waitForSelector(`${item}[data-state="dispatched"]`, { timeout: 10000 });
    assert.equal((await page.textContent(`${item} .hx-ops-state`)).trim(), '已派遣');
    a = await alertItem(alertId);
    assert.equal(a.properties.state, 'dispatched');
    assert.equal(a.properties.dispatched_to, officer.properties.name);

    // Resolve needs a note; then the alert leaves the list.
    await page.click(`${item} button[data-action="resolve"]`);
    await page.click(`${item} button[data-action="confirm-resolve"]`);
    await page.waitForSelector(`${item} .hx-ops-msg:not([hidden])`, { timeout: 5000 });
    await page.fill(`${item} .hx-ops-note`, '阀门已关闭 valve closed (e2e)');
    await page.click(`${item} button[data-action="confirm-resolve"]`);
    await page.waitForSelector(item, { state: 'detached', timeout: 10000 });
    a = await alertItem(alertId);
    assert.equal(a.properties.state, 'resolved');
    assert.equal(a.properties.note, '阀门已关闭 valve closed (e2e)');
    const h = await getJSON(`${base}/api/alerts/${alertId}/transitions`, operator);
    assert.deepEqual(h.transitions.map((x) => `${x.event}:${x.actor}`).slice(-3),
      [`acknowledged:${USER}`, `dispatched:${USER}`, `resolved:${USER}`]);
    assertClean(browser, 'after handling the alert');
  }));

  it('closes an incident from the list with a note', live(() => base, async () => {
    const item = `#hx-ops-incidents .hx-ops-item[data-incident="${incident.id}"]`;
    // A click shows the details and flies there.
    await page.click(`${item} .hx-ops-head`);
    await page.waitForSelector(`${item}.hx-ops-selected .hx-ops-details .hx-row[data-prop="reported_by"]`, { timeout: 10000 });
    const to = incident.geometry.coordinates;
    await page.waitForFunction((c) => {
      const m = window.hexwardMap;
      const at = m.getCenter();
      return !m.isMoving() && Math.abs(at.lng - c[0]) < 1e-6 && Math.abs(at.lat - c[1]) < 1e-6;
    }, to, { timeout: 15000 });

    // Close needs a note; then the incident leaves the list.
    await page.click(`${item} button[data-action="close-incident"]`);
    await page.click(`${item} button[data-action="confirm-close"]`);
    await page.waitForSelector(`${item} [data-form="close"] .hx-ops-msg:not([hidden])`, { timeout: 5000 });
    assert.equal((await incidentItem(incident.id)).properties.state, 'open', 'nothing was sent without a note');
    await page.fill(`${item} .hx-ops-note`, '已清理，通道恢复 cleared (e2e)');
    await page.click(`${item} button[data-action="confirm-close"]`);
    await page.waitForSelector(item, { state: 'detached', timeout: 10000 });
    const f = await incidentItem(incident.id);
    assert.equal(f.properties.state, 'closed');
    assert.equal(f.properties.closed_by, USER);
    assert.equal(f.properties.close_note, '已清理，通道恢复 cleared (e2e)');
    assert.equal(await page.evaluate((id) => window.hexwardOps.incidents.has(id), incident.id), false);
    assert.deepEqual(await listed(), await openInView());
    // The map redraws it closed.
    await drawnIncident(incident.id, 'closed');

    // Closed elsewhere (through the API), the far one leaves the page's list too.
    await post(`/api/incidents/${farIncident.id}/close`, null, { note: '已清运 (e2e)' });
    await page.waitForFunction((id) => !window.hexwardOps.incidents.has(id), farIncident.id, { timeout: 20000 });
    assertClean(browser, 'after closing the incidents');
  }));

  it('speaks English', live(() => base, async () => {
    await page.click('#hx-lang');
    assert.equal((await page.textContent('#hx-ops-title')).trim(), 'Alerts');
    assert.equal((await page.textContent('#hx-ops-inc-title')).trim(), 'Incident reports');
    const first = page.locator('#hx-ops-list .hx-ops-item .hx-ops-sev').first();
    if (await first.count()) assert.match((await first.textContent()).trim(), /^(Critical|Major|Minor|Warning)$/);
    await page.click('#hx-lang');
    assert.equal((await page.textContent('#hx-ops-title')).trim(), '告警');
    assertClean(browser, 'after switching language');
  }));

  it('shows a viewer the open incidents but no Close button', live(() => base, async () => {
    await logout(page);
    await login(page, 'demo-viewer', { goto: false });
    await mapReady(page);
    await page.waitForSelector('#hx-ops[data-role="viewer"][data-live="open"]', { timeout: 20000 });
    assert.equal((await page.textContent('#hx-ops-title')).trim(), '事件上报');
    assert.equal(await page.locator('#hx-ops-list').count(), 0, 'no alert list for a viewer');
    const [lon, lat] = sensor.geometry.coordinates;
    await page.evaluate((c) => window.hexwardMap.jumpTo({ center: c, zoom: 17 }), [lon, lat]);
    await mapIdle(page);
    const f = await report('facility_damage', '井盖破损 (e2e)', [lon - 0.0002, lat + 0.0001]);
    const item = `#hx-ops-incidents .hx-ops-item[data-incident="${f.id}"]`;
    await page.waitForSelector(item, { timeout: 20000 });
    assert.equal((await page.textContent(`${item} .hx-ops-kind`)).trim(), '设施损坏');
    assert.deepEqual(await listed(), await openInView());
    assert.equal(await page.locator('#hx-ops button[data-action="close-incident"]').count(), 0, 'no Close button for a viewer');
    await page.click(`${item} .hx-ops-head`);
    await page.waitForSelector(`${item}.hx-ops-selected .hx-ops-details`, { timeout: 10000 });
    assert.equal(await page.locator('#hx-ops button[data-action="close-incident"], #hx-ops [data-form="close"]').count(), 0);
    // Closed by the operator, it leaves the viewer's list.
    await post(`/api/incidents/${f.id}/close`, null, { note: '已修复 (e2e)' });
    await page.waitForSelector(item, { state: 'detached', timeout: 20000 });
    assertClean(browser, 'as a viewer');
  }));
});
