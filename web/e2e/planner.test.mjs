// Headless-browser test of the planner's panel (web/ui/planner.js): signed
// in as demo-planner, the page opens the "Planning" panel once the
// analyses have run, picks a compound from the list and another on the map
// and shows the figures the API answers for it; the panel's layer toggles
// drive the layer switcher; a hypothetical camera placed with a click on a
// street and turned by dragging its handle (then set exactly with the
// bearing field) shows a positive gain at the detect level, equal to what
// POST /api/analysis/whatif answers for the same camera, and its views are
// drawn on the map; placement suggestions are listed and drawn; a placard
// override is saved and given back; the figures download as CSV and a
// result layer as GeoJSON. As demo-viewer the figures show, but none of
// the controls that change things. No console error, no failed request.
// Saves out/planner.png (docs/planner.png is a copy of a good one).
//
// `hexward serve` runs the analyses in the background at start; the suite
// waits for the first run (GET /api/analysis until last_run.total_ms > 0,
// at most HEXWARD_ANALYSIS_WAIT_S seconds, default 900).
//
//   HEXWARD_URL=http://127.0.0.1:8080 node --test web/e2e/planner.test.mjs

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  suiteOptions, serverTest, live, baseURL, getJSON, assertClean, openBrowser, mapIdle, mapReady, outPath, apiLogin, login, logout,
} from './lib.mjs';

const PLANNER = 'demo-planner';
const VIEWER = 'demo-viewer';
const WAIT_S = Number(process.env.HEXWARD_ANALYSIS_WAIT_S || 900);

describe('planner\'s panel', suiteOptions(), () => {
  let base;
  let browser;
  let page;
  let planner; // { cookie, me } of PLANNER, for reads and what-ifs from Node
  let compound; // the Figures of the compound the test works on
  let site; // { lon, lat, bearing, gain } a street point where a camera adds coverage

  it(...serverTest);

  async function post(path, body, who = planner, method = 'POST') {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', Cookie: who.cookie, 'X-CSRF-Token': who.me.csrf },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `${method} ${path}: ${text}`);
    return JSON.parse(text);
  }

  const ran = (run) => run && run.total_ms > 0 && !String(run.at).startsWith('0001-');

  before(async () => {
    base = baseURL();
    if (!base) return;
    planner = await apiLogin(base, PLANNER);
    // The first run of the analyses, started by serve in the background.
    const deadline = Date.now() + WAIT_S * 1000;
    let info;
    for (;;) {
      info = await getJSON(`${base}/api/analysis`, planner);
      if (ran(info.last_run)) break;
      if (info.last_error) throw new Error(`the analyses failed: ${info.last_error}`);
      if (Date.now() > deadline) throw new Error(`the analyses have not run after ${WAIT_S} s: ${JSON.stringify(info.last_run)}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    // A compound with streets, a placard, and a street point where a new
    // camera adds coverage at the detect level.
    const figs = (await getJSON(`${base}/api/analysis/figures?layer=compounds`, planner)).areas;
    const candidates = figs.filter((f) => f.placard && f.coverage.total.street_area_m2 > 200 && f.name)
      .sort((a, b) => b.coverage.total.street_area_m2 - a.coverage.total.street_area_m2);
    for (const f of candidates.slice(0, 8)) {
      const feat = await getJSON(`${base}/api/collections/compounds/items/${f.id}`, planner);
      const bb = bboxOf(feat.geometry);
      const streets = await getJSON(`${base}/api/collections/streets/items?bbox=${bb.join(',')}&limit=40`, planner);
      for (const s of streets.features) {
        const line = s.geometry.type === 'MultiLineString' ? s.geometry.coordinates[0] : s.geometry.coordinates;
        if (!line || line.length < 2) continue;
        const a = line[Math.floor((line.length - 1) / 2)];
        const b = line[Math.floor((line.length - 1) / 2) + 1];
        const p = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
        if (p[0] < bb[0] || p[0] > bb[2] || p[1] < bb[1] || p[1] > bb[3]) continue;
        for (const bearing of [45, 135, 225, 315]) {
          const ans = await post('/api/analysis/whatif', { lon: p[0], lat: p[1], bearing });
          const g = ans.gain.find((x) => x.level === 'detect');
          if (g && g.street_area_m2 > 20 && (!site || g.street_area_m2 > site.gain)) site = { lon: p[0], lat: p[1], bearing, gain: g.street_area_m2 };
        }
        if (site) break;
      }
      if (site) { compound = f; break; }
    }
    assert.ok(compound && site, 'the demo has a compound with a street where a new camera adds coverage');
    browser = await openBrowser(base);
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
  });

  async function openPanel() {
    await page.click('#hx-plan-toggle');
    await page.waitForSelector('#hx-plan[data-state="ready"]', { timeout: 30000 });
    assert.equal(await page.getAttribute('#hx-plan-toggle', 'aria-pressed'), 'true');
  }

  async function pickFromList(f) {
    await page.selectOption('#hx-plan-layer', f.layer);
    await page.waitForSelector(`#hx-plan-area option[value="${f.id}"]`, { state: 'attached', timeout: 15000 });
    await page.selectOption('#hx-plan-area', String(f.id));
    await page.waitForSelector(`#hx-plan-figures[data-area="${f.layer}/${f.id}"]`, { timeout: 15000 });
  }

  // The coverage shares shown, by level and metric, as the data attributes hold them.
  const shownShares = () => page.$$eval('#hx-plan-figures .hx-plan-cov tbody tr[data-level]', (rows) => Object.fromEntries(rows.map((r) => [
    r.dataset.level, Object.fromEntries([...r.querySelectorAll('td[data-metric]')].map((td) => [td.dataset.metric, Number(td.dataset.share)]))])));

  it('shows the figures of a compound picked from the list', live(() => base, async () => {
    await login(page, PLANNER, { path: '/?lang=zh' });
    await mapReady(page);
    // Nothing of the analyses is asked before the panel opens.
    assert.ok(!browser.log.urls.some((u) => u.includes('/api/analysis')), 'no analysis request before the panel opens');
    await openPanel();
    assert.equal((await page.textContent('#hx-plan-title')).trim(), '规划分析');
    await pickFromList(compound);
    const api = await getJSON(`${base}/api/analysis/figures/compounds/${compound.id}`, planner);
    const want = Object.fromEntries(api.coverage.levels.map((l) => [l.level, {
      street_length: l.shares.street_length, street_area: l.shares.street_area, gates: l.shares.gates, fence_length: l.shares.fence_length,
    }]));
    assert.deepEqual(await shownShares(), want, 'the coverage shares per level are the API\'s');
    assert.deepEqual(Object.keys(want), ['detect', 'observe', 'recognise', 'identify']);
    assert.equal((await page.textContent('#hx-plan-figures .hx-plan-name span')).trim(), api.name);
    assert.equal(Number(await page.getAttribute('#hx-plan-figures .hx-plan-unseen', 'data-count')), api.unseen_gates.length);
    assert.equal(await page.getAttribute('#hx-plan-placard', 'data-rating'), api.placard.rating);
    if (api.placard.reasons) { // the server's reasons, in the page's language (中文 here)
      const shown = (await page.textContent('#hx-plan-placard .hx-plan-reasons')).trim();
      assert.doesNotMatch(shown, /camera coverage|enclosure|incidents per|open alerts/, `placard reasons shown in English: ${shown}`);
      assert.match(shown, /摄像头覆盖|围合|每百户事件|未处理告警/);
    }
    if (api.counts) {
      assert.equal((await page.textContent('#hx-plan-counts .hx-row[data-prop="Buildings"] dd')).trim(), api.counts.Buildings.toLocaleString('zh-CN'));
    }
    if (api.enclosure) assert.equal(await page.locator('#hx-plan-enclosure .hx-row[data-prop="leaks"]').count(), 1);
    // The outline of the compound is drawn, and its unseen gates ringed.
    await mapIdle(page);
    await page.waitForFunction(() => window.hexwardMap.queryRenderedFeatures({ layers: ['hexward-plan-area-line'] }).length > 0, null, { timeout: 10000 });
    if (api.unseen_gates.length) {
      await page.waitForFunction((n) => window.hexwardPlanner.unseen.length === n, api.unseen_gates.length, { timeout: 10000 });
    }
    assertClean(browser, 'after picking from the list');
  }));

  it('picks the area under a click on the map', live(() => base, async () => {
    await mapIdle(page);
    // Whatever compound the map draws at the middle of the view.
    const target = await page.evaluate(() => {
      const map = window.hexwardMap;
      const ids = map.getStyle().layers.filter((l) => l.metadata?.['hexward:layer'] === 'compounds' && l.type === 'fill').map((l) => l.id);
      const c = map.getCanvas();
      for (const [fx, fy] of [[0.5, 0.5], [0.45, 0.55], [0.55, 0.45], [0.6, 0.6], [0.4, 0.4]]) {
        const pt = [c.clientWidth * fx, c.clientHeight * fy];
        const f = map.queryRenderedFeatures(pt, { layers: ids }).find((x) => x.id !== undefined && x.id !== null);
        const r = c.getBoundingClientRect();
        // Not under the panels that cover the map's left edge.
        if (f && pt[0] > document.querySelector('#hx-plan').getBoundingClientRect().right - r.left + 10) {
          return { id: f.id, x: r.left + pt[0], y: r.top + pt[1] };
        }
      }
      return null;
    });
    assert.ok(target, 'a compound is drawn in the view');
    await page.mouse.click(target.x, target.y);
    await page.waitForSelector(`#hx-plan-figures[data-area="compounds/${target.id}"]`, { timeout: 15000 });
    assert.equal(await page.inputValue('#hx-plan-area'), String(target.id));
    // Back to the test's compound.
    await pickFromList(compound);
    assertClean(browser, 'after picking on the map');
  }));

  it('toggles the result layers through the layer switcher', live(() => base, async () => {
    const vis = () => page.evaluate(() => ({
      style: window.hexwardMap.getLayoutProperty('blind_spots', 'visibility') ?? 'visible',
      switcher: document.querySelector('#hx-layer-groups input[data-layer="blind_spots"]').checked,
    }));
    const panelBox = '#hx-plan .hx-plan-toggles input[data-layer="blind_spots"]';
    // Overlays such as the blind spots start off (their style says so).
    assert.equal(await page.isChecked(panelBox), false, 'the blind spots start off');
    assert.deepEqual(await vis(), { style: 'none', switcher: false });
    await page.check(panelBox);
    assert.deepEqual(await vis(), { style: 'visible', switcher: true });
    await page.uncheck('#hx-layer-groups input[data-layer="blind_spots"]');
    assert.equal(await page.isChecked(panelBox), false, 'the switcher updates the panel');
    assert.deepEqual(await vis(), { style: 'none', switcher: false });
    await page.check(panelBox); // shown for the rest of the suite and its screenshot
  }));

  it('places a hypothetical camera, turns it, and shows the gain', live(() => base, async () => {
    // The site right of the middle, clear of the panels on the left.
    await page.evaluate(([lon, lat]) => {
      const map = window.hexwardMap;
      map.jumpTo({ center: [lon, lat], zoom: 18.5, bearing: 0, pitch: 0 });
      map.panBy([-250, 0], { animate: false });
    }, [site.lon, site.lat]);
    await mapIdle(page);
    await page.click('#hx-plan-place');
    assert.equal(await page.getAttribute('#hx-plan-place', 'aria-pressed'), 'true');
    const at = await page.evaluate(([lon, lat]) => {
      const map = window.hexwardMap;
      const p = map.project([lon, lat]);
      const r = map.getCanvas().getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    }, [site.lon, site.lat]);
    if (await page.isVisible('#hx-panel')) await page.click('#hx-panel-close');
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('.hx-plan-handle', { timeout: 5000 });
    assert.equal(await page.getAttribute('#hx-plan-place', 'aria-pressed'), 'false', 'one click places');
    assert.equal(await page.isVisible('#hx-panel'), false, 'the placing click selects nothing under it');
    const cam = await page.evaluate(() => window.hexwardPlanner.cam);
    assert.ok(Math.abs(cam.lon - site.lon) < 2e-5 && Math.abs(cam.lat - site.lat) < 2e-5, `the camera is where clicked: ${JSON.stringify(cam)}`);

    // Turn it: drag the handle round to the site's bearing.
    const h = await page.locator('.hx-plan-handle').boundingBox();
    const from = { x: h.x + h.width / 2, y: h.y + h.height / 2 };
    const rad = (site.bearing * Math.PI) / 180;
    const to = { x: at.x + 90 * Math.sin(rad), y: at.y - 90 * Math.cos(rad) };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(from.x + ((to.x - from.x) * i) / 10, from.y + ((to.y - from.y) * i) / 10);
    await page.mouse.up();
    const dragged = await page.evaluate(() => window.hexwardPlanner.cam.bearing);
    const off = Math.abs(((dragged - site.bearing + 540) % 360) - 180);
    assert.ok(off <= 3, `the drag turned the camera to ${dragged}°, wanted about ${site.bearing}°`);
    assert.equal(Number(await page.inputValue('#hx-plan-bearing')), dragged, 'the slider follows the handle');
    // And exactly, with the bearing field (the keyboard's way).
    await page.fill('#hx-plan-bearing-n', String(site.bearing));
    await page.waitForFunction((b) => {
      const p = window.hexwardPlanner;
      return p.cam.bearing === b && p.whatif?.request.bearing === b && document.querySelector('#hx-plan').dataset.whatif === 'ready';
    }, site.bearing, { timeout: 15000 });

    // The gain shown is positive at the detect level and what the API
    // answers for the same camera.
    const shown = await page.$$eval('#hx-plan-gain .hx-plan-gaintab tbody tr[data-level]', (rows) => Object.fromEntries(rows.map((r) => [
      r.dataset.level, Object.fromEntries([...r.querySelectorAll('td[data-metric]')].map((td) => [td.dataset.metric, Number(td.dataset.value)]))])));
    assert.ok(shown.detect?.street_area_m2 > 0, `a positive street-area gain at detect: ${JSON.stringify(shown.detect)}`);
    const c = await page.evaluate(() => window.hexwardPlanner.cam);
    const api = await post('/api/analysis/whatif', { lon: c.lon, lat: c.lat, bearing: c.bearing, hfov: c.hfov, tilt: c.tilt, mount_height: c.mount_height });
    assert.deepEqual(shown, Object.fromEntries(api.gain.map((g) => [g.level, {
      street_area_m2: g.street_area_m2, street_length_m: g.street_length_m, gates: g.gates, fence_length_m: g.fence_length_m,
    }])), 'the panel shows the API\'s gain');
    assert.match((await page.textContent('#hx-plan-gain tr[data-level="detect"] td[data-metric="street_area_m2"]')).trim(), /^[\d,.]+ 平方米$/);
    // Its views are drawn, one per level with a view.
    await mapIdle(page);
    const drawn = await page.evaluate(() => [...new Set(window.hexwardMap.queryRenderedFeatures({ layers: ['hexward-plan-views-fill'] })
      .filter((f) => f.properties.kind === 'whatif').map((f) => f.properties.level))].sort());
    assert.deepEqual(drawn, api.views.filter((v) => v.geometry).map((v) => v.level).sort(), 'the views of every level are drawn');

    // A wider lens changes the answer.
    await page.fill('#hx-plan-hfov', '120');
    await page.waitForFunction(() => window.hexwardPlanner.whatif?.request.hfov === 120 && document.querySelector('#hx-plan').dataset.whatif === 'ready', null, { timeout: 15000 });
    assert.equal(await page.evaluate(() => window.hexwardPlanner.whatif.camera.HFOVDeg), 120);
    await page.fill('#hx-plan-hfov', '90');
    await page.waitForFunction(() => window.hexwardPlanner.whatif?.request.hfov === 90 && document.querySelector('#hx-plan').dataset.whatif === 'ready', null, { timeout: 15000 });
    // The picture: the views over the blind spots, without the grid and
    // placard fills, and the gain in sight.
    for (const l of ['grid_cells', 'placards']) await page.uncheck(`#hx-plan .hx-plan-toggles input[data-layer="${l}"]`);
    await page.evaluate(() => window.hexwardMap.zoomTo(window.hexwardMap.getZoom() - 0.5, { animate: false }));
    await page.$eval('#hx-plan-gain', (e) => e.scrollIntoView({ block: 'end' }));
    await mapIdle(page);
    await page.screenshot({ path: outPath('planner.png') }); // docs/planner.png is a copy of a good one
    for (const l of ['grid_cells', 'placards']) await page.check(`#hx-plan .hx-plan-toggles input[data-layer="${l}"]`);
    assertClean(browser, 'after placing the camera');
  }));

  it('suggests camera sites for the compound', live(() => base, async () => {
    await page.fill('#hx-plan-k', '2');
    await page.selectOption('#hx-plan-suggest-level', 'observe');
    await page.click('#hx-plan-suggest-run');
    await page.waitForFunction(() => {
      const p = window.hexwardPlanner;
      return !p.suggestBusy && (p.suggestions || p.suggestError);
    }, null, { timeout: 120000 });
    assert.equal(await page.evaluate(() => window.hexwardPlanner.suggestError), null);
    const n = await page.locator('#hx-plan-suggestions .hx-plan-suggest-list li').count();
    assert.ok(n >= 1 && n <= 2, `1 or 2 sites suggested, got ${n}`);
    const sites = await page.evaluate(() => window.hexwardPlanner.suggestions.cameras.map((c) => c.score));
    assert.deepEqual(sites, [...sites].sort((a, b) => b - a), 'the gains never increase');
    // A click on the first flies there, where its marker is drawn.
    await page.click('#hx-plan-suggestions li[data-rank="1"] .hx-plan-sugg');
    await page.waitForFunction(() => !window.hexwardMap.isMoving(), null, { timeout: 10000 });
    await mapIdle(page);
    const ranks = await page.evaluate(() => window.hexwardMap.queryRenderedFeatures({ layers: ['hexward-plan-suggested'] }).map((f) => f.properties.rank));
    assert.ok(ranks.includes(1), `the first site is drawn: ${JSON.stringify(ranks)}`);
    assertClean(browser, 'after the suggestions');
  }));

  it('overrides the placard and gives it back', live(() => base, async () => {
    await page.selectOption('#hx-plan-placard-form select', 'red');
    await page.fill('#hx-plan-placard-form input', 'e2e: checked on site');
    await page.click('#hx-plan-placard-form button[type="submit"]');
    await page.waitForSelector('#hx-plan-placard[data-overridden="true"][data-rating="red"]', { timeout: 15000 });
    let api = await getJSON(`${base}/api/analysis/figures/compounds/${compound.id}`, planner);
    assert.equal(api.placard.rating, 'red');
    assert.equal(api.placard.overridden, true);
    await page.selectOption('#hx-plan-placard-form select', '');
    await page.fill('#hx-plan-placard-form input', 'e2e: back to the indicators');
    await page.click('#hx-plan-placard-form button[type="submit"]');
    await page.waitForSelector('#hx-plan-placard[data-overridden="false"]', { timeout: 15000 });
    api = await getJSON(`${base}/api/analysis/figures/compounds/${compound.id}`, planner);
    assert.equal(api.placard.overridden, false);
    assert.equal(api.placard.rating, compound.placard.computed_rating);
    assertClean(browser, 'after the placard override');
  }));

  it('exports the figures as CSV and a result layer as GeoJSON', live(() => base, async () => {
    const csv = await page.evaluate(async () => {
      const res = await fetch(document.querySelector('#hx-plan-csv').href);
      return { type: res.headers.get('content-type'), text: await res.text() };
    });
    assert.match(csv.type, /^text\/csv/);
    assert.match(csv.text, /^layer,id,code,name,/);
    assert.ok(csv.text.includes(`compounds,${compound.id},`), 'the CSV has the compound');

    await page.selectOption('#hx-plan-export-layer', 'fence_gaps');
    await page.selectOption('#hx-plan-export-extent', 'area');
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), page.click('#hx-plan-export')]);
    assert.match(dl.suggestedFilename(), new RegExp(`^hexward-fence_gaps-compounds-${compound.id}\\.geojson$`));
    const fc = JSON.parse(readFileSync(await dl.path(), 'utf8'));
    assert.equal(fc.type, 'FeatureCollection');
    const b = await page.evaluate(() => window.hexwardPlanner.lastExport.bbox.map((v) => v.toFixed(7)).join(','));
    const api = await getJSON(`${base}/api/collections/fence_gaps/items?bbox=${b}&limit=10000`, planner);
    assert.deepEqual(fc.features.map((f) => f.id).sort((x, y) => x - y), api.features.map((f) => f.id).sort((x, y) => x - y));
    assertClean(browser, 'after the exports');
  }));

  it('speaks English', live(() => base, async () => {
    await page.click('#hx-lang');
    assert.equal((await page.textContent('#hx-plan-title')).trim(), 'Planning');
    assert.equal((await page.textContent('#hx-plan-toggle')).trim(), 'Planning');
    assert.match((await page.textContent('#hx-plan-gain tr[data-level="detect"] th')).trim(), /^Detect$/);
    await page.click('#hx-lang');
    assert.equal((await page.textContent('#hx-plan-title')).trim(), '规划分析');
    assertClean(browser, 'after switching language');
  }));

  it('shows a viewer the figures but no controls that change things', live(() => base, async () => {
    await logout(page);
    await login(page, VIEWER, { goto: false });
    await mapReady(page);
    assert.equal(await page.getAttribute('#hx-plan-toggle', 'aria-pressed'), 'false', 'a new session starts with the panel closed');
    await openPanel();
    await pickFromList(compound);
    const api = await getJSON(`${base}/api/analysis/figures/compounds/${compound.id}`, planner);
    assert.equal(Object.keys(await shownShares()).length, api.coverage.levels.length);
    assert.equal(await page.getAttribute('#hx-plan-placard', 'data-rating'), api.placard.rating);
    for (const sel of ['#hx-plan-whatif', '#hx-plan-place', '#hx-plan-suggest', '#hx-plan-run', '#hx-plan-placard-form']) {
      assert.equal(await page.locator(sel).count(), 0, `${sel} is not offered to a viewer`);
    }
    assert.equal(await page.locator('#hx-plan-csv').count(), 1, 'the viewer may download the figures');
    assertClean(browser, 'as a viewer');
  }));
});

function bboxOf(g) {
  let b = null;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      b = b ? [Math.min(b[0], c[0]), Math.min(b[1], c[1]), Math.max(b[2], c[0]), Math.max(b[3], c[1])] : [c[0], c[1], c[0], c[1]];
      return;
    }
    for (const x of c) walk(x);
  };
  walk(g.coordinates);
  return b;
}
