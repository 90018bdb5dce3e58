// Headless-browser test of the map UI at "/": signed in as demo-operator
// through the login card, the map renders buildings, a click shows the
// feature's properties and who is responsible, the layer switcher hides a
// layer, the language toggles; no console error, no failed request,
// nothing fetched from another origin. (The login card itself, roles and
// scopes: auth.test.mjs.)
//
//   HEXWARD_URL=http://127.0.0.1:8080 node --test web/e2e/

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  suiteOptions, serverTest, live, baseURL, getJSON, assertClean, openBrowser, mapIdle, mapReady, outPath, apiLogin, login, DEFAULT_USER,
} from './lib.mjs';

const LAYER = 'buildings';
const USER = DEFAULT_USER; // demo-operator: reads the whole subdistrict

describe('map UI', suiteOptions(), () => {
  let base;
  let browser;
  let page;
  let collections;
  let schema;
  let style;
  let auth; // { cookie } of USER for the reads made from Node

  it(...serverTest);

  before(async () => {
    base = baseURL();
    if (!base) return;
    auth = await apiLogin(base, USER);
    collections = (await getJSON(`${base}/api/collections`, auth)).collections;
    schema = await getJSON(`${base}/api/collections/${LAYER}/queryables`, auth);
    style = await getJSON(`${base}/style.json`, auth);
    browser = await openBrowser(base);
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
  });

  const renderedCount = () => page.evaluate((layer) => {
    const map = window.hexwardMap;
    const ids = map.getStyle().layers.filter((l) => l.metadata?.['hexward:layer'] === layer).map((l) => l.id);
    return map.queryRenderedFeatures({ layers: ids }).length;
  }, LAYER);

  // clickTarget finds a rendered building whose centre is on the map
  // canvas (not under a panel), inside the building, and not within a few
  // pixels of a point or line feature, which a click would prefer.
  const clickTarget = () => page.evaluate(({ layer, small }) => {
    const map = window.hexwardMap;
    const styleLayers = map.getStyle().layers.filter((l) => l.metadata?.['hexward:layer']);
    const own = styleLayers.filter((l) => l.metadata['hexward:layer'] === layer).map((l) => l.id);
    const smallIds = styleLayers.filter((l) => small.includes(l.metadata['hexward:layer'])
      && (l.layout?.visibility ?? 'visible') !== 'none').map((l) => l.id);
    const planeIds = styleLayers.filter((l) => !small.includes(l.metadata['hexward:layer'])).map((l) => l.id);
    const rect = map.getContainer().getBoundingClientRect();
    const cx = rect.width / 2;
    const cy = rect.height / 2;
    const cands = [];
    for (const f of map.queryRenderedFeatures({ layers: own })) {
      if (f.id === undefined || f.id === null) continue;
      let ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates?.[0]?.[0];
      if (!ring || ring.length < 4) continue;
      ring = ring.slice(0, -1);
      const lon = ring.reduce((s, p) => s + p[0], 0) / ring.length;
      const lat = ring.reduce((s, p) => s + p[1], 0) / ring.length;
      const p = map.project([lon, lat]);
      cands.push({ f, p, d: (p.x - cx) ** 2 + (p.y - cy) ** 2 });
    }
    cands.sort((a, b) => a.d - b.d);
    for (const { f, p } of cands) {
      if (p.x < 20 || p.y < 20 || p.x > rect.width - 20 || p.y > rect.height - 20) continue;
      const hit = document.elementFromPoint(rect.left + p.x, rect.top + p.y);
      if (hit !== map.getCanvas()) continue;
      const top = map.queryRenderedFeatures([p.x, p.y], { layers: planeIds })[0];
      if (!top || top.layer.metadata?.['hexward:layer'] !== layer || top.id !== f.id) continue;
      if (smallIds.length && map.queryRenderedFeatures([[p.x - 10, p.y - 10], [p.x + 10, p.y + 10]], { layers: smallIds }).length) continue;
      return { x: rect.left + p.x, y: rect.top + p.y, id: f.id };
    }
    return null;
  }, { layer: LAYER, small: collections.filter((c) => c.kind !== 'plane').map((c) => c.id) });

  // ensureBuildings makes rendered buildings clickable: when the view shows
  // none, or only merged ones (no id, at low zoom), it goes to one building.
  async function ensureBuildings() {
    if ((await renderedCount()) > 0 && (await clickTarget())) return;
    const items = await getJSON(`${base}/api/collections/${LAYER}/items?limit=1`, auth);
    const g = items.features?.[0]?.geometry;
    assert.ok(g, 'the server has no building to show');
    const ring = g.type === 'Polygon' ? g.coordinates[0] : g.coordinates[0][0];
    const lon = ring.reduce((s, p) => s + p[0], 0) / ring.length;
    const lat = ring.reduce((s, p) => s + p[1], 0) / ring.length;
    await page.evaluate(([lo, la]) => window.hexwardMap.jumpTo({ center: [lo, la], zoom: 18 }), [lon, lat]);
    await mapIdle(page);
  }

  async function clickBuilding() {
    const target = await clickTarget();
    assert.ok(target, 'no rendered building is free to click');
    await page.mouse.move(target.x, target.y);
    await page.waitForFunction(() => window.hexwardMap.getCanvas().style.cursor === 'pointer', null, { timeout: 5000 });
    await page.mouse.click(target.x, target.y);
    // Generous: on a loaded machine with software WebGL the click, the item
    // and its queryables can take a while.
    await page.waitForSelector('#hx-panel:not([hidden]):not(.hx-loading)', { timeout: 30000 });
    const item = await getJSON(`${base}/api/collections/${LAYER}/items/${encodeURIComponent(target.id)}`, auth);
    assert.equal(String(item.id), String(target.id), 'item id');
    return { target, props: item.properties || {} };
  }

  const text = (sel) => page.locator(sel).first().textContent().then((s) => s.trim());
  const title = (name, lang) => {
    const s = schema.properties?.[name] || {};
    return lang === 'zh' ? (s['x-title-zh'] || s.title || name) : (s.title || s['x-title-zh'] || name);
  };

  it('loads the map with rendered buildings, offline and without errors', live(() => base, async () => {
    await login(page, USER, { path: '/?lang=zh' });
    await mapReady(page);
    await mapIdle(page);
    assert.ok((await renderedCount()) > 0 || (await page.evaluate(() => window.hexwardMap.getZoom())) < 14,
      'buildings are rendered at the style\'s view');
    await ensureBuildings();
    assert.ok((await renderedCount()) > 0, 'buildings are rendered');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    assert.equal(await text('.hx-title'), '街道空间治理');
    assert.equal(await text('.hx-subtitle'), 'Subdistrict spatial governance');
    // The switcher is grouped 面 / 线 / 点 with the catalogue's titles.
    const groups = await page.locator('.hx-group .hx-kind').allInnerTexts();
    assert.deepEqual(groups.map((s) => s.trim()), ['面', '线', '点'].filter((_, i) => collections.some((c) => c.kind === ['plane', 'line', 'point'][i])));
    for (const c of collections) {
      const row = page.locator(`.hx-layer[data-layer="${c.id}"]`);
      assert.equal(await row.count(), 1, `switcher row of ${c.id}`);
      assert.equal((await row.locator('.hx-layer-title').innerText()).trim(), c.title_zh || c.title);
      assert.equal(await row.getAttribute('data-kind'), c.kind);
      assert.equal(await row.locator('svg.hx-swatch').count() >= 1, true, `legend symbol of ${c.id}`);
    }
    assert.ok(browser.log.requests > 5, 'the page made its requests');
    assertClean(browser, 'while loading');
  }));

  it('shows the clicked building with its responsible person', live(() => base, async () => {
    const { target, props } = await clickBuilding();
    assert.equal(await page.getAttribute('#hx-panel-layer', 'data-layer'), LAYER);
    const expected = props.name || props.name_en || `未命名 #${target.id}`;
    assert.equal(await text('#hx-panel-title'), expected);
    for (const p of ['responsible', 'phone']) {
      if (!schema.properties?.[p]) continue;
      const row = page.locator(`#hx-resp .hx-row[data-prop="${p}"]`);
      assert.equal(await row.count(), 1, `responsibility row ${p}`);
      assert.equal((await row.locator('dt').innerText()).trim(), title(p, 'zh'));
      const want = props[p] === undefined || props[p] === null || props[p] === '' ? '未登记' : String(props[p]);
      assert.equal((await row.locator('dd').innerText()).trim(), want);
    }
    assert.equal(await page.isVisible('#hx-resp'), true, 'responsibility block is shown');
    const nameRow = page.locator('#hx-props-list .hx-row[data-prop="name"] dt');
    if (schema.properties?.name) assert.equal((await nameRow.innerText()).trim(), title('name', 'zh'));
    // For the README: the selected building close up, panel open.
    await page.evaluate(({ x, y }) => {
      const m = window.hexwardMap;
      const r = m.getContainer().getBoundingClientRect();
      m.jumpTo({ center: m.unproject([x - r.left, y - r.top]), zoom: Math.max(m.getZoom(), 16.5) });
    }, target);
    await mapIdle(page);
    assert.equal(await page.isVisible('#hx-panel'), true, 'the panel stays open while the map moves');
    await page.screenshot({ path: outPath('map.png') });
    assertClean(browser, 'after the click');
  }));

  it('hides and shows a layer from the switcher', live(() => base, async () => {
    const box = page.locator(`#hx-layer-groups input[data-layer="${LAYER}"]`);
    await box.uncheck();
    const vis = () => page.evaluate((layer) => window.hexwardMap.getStyle().layers
      .filter((l) => l.metadata?.['hexward:layer'] === layer)
      .map((l) => l.layout?.visibility ?? 'visible'), LAYER);
    assert.ok((await vis()).every((v) => v === 'none'), 'all style layers of the layer are hidden');
    await mapIdle(page);
    assert.equal(await renderedCount(), 0, 'no building rendered when hidden');
    assert.equal(await page.isHidden('#hx-panel'), true, 'the panel of a hidden layer closes');
    await box.check();
    assert.ok((await vis()).every((v) => v === 'visible'));
    await mapIdle(page);
    assert.ok((await renderedCount()) > 0, 'buildings back');
    assertClean(browser, 'after toggling');
  }));

  it('switches the language to English and back', live(() => base, async () => {
    await page.click('#hx-lang');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await text('.hx-title'), 'Subdistrict spatial governance');
    assert.equal(await text('.hx-subtitle'), '街道空间治理');
    assert.equal(await text('#hx-layers h2'), 'Layers');
    assert.equal(await text('#hx-lang'), '中文');
    const c = collections.find((x) => x.id === LAYER);
    assert.equal(await text(`.hx-layer[data-layer="${LAYER}"] .hx-layer-title`), c.title || c.title_zh);
    assert.equal(await text('.hx-group[data-kind="plane"] .hx-kind'), 'Planes');
    // Map labels prefer the English name; in Chinese they are the style's.
    const labelLayer = style.layers.find((x) => x.metadata?.['hexward:layer'] === LAYER && x.type === 'symbol');
    const labelField = () => page.evaluate((id) => window.hexwardMap.getLayoutProperty(id, 'text-field'), labelLayer.id);
    if (labelLayer) {
      const en = await labelField();
      assert.deepEqual(en.slice(0, 2), ['coalesce', ['get', 'name_en']], 'English labels use name_en first');
    }

    const { target, props } = await clickBuilding();
    assert.equal(await text('#hx-panel-title'), props.name_en || props.name || `Unnamed #${target.id}`);
    if (schema.properties?.responsible) {
      assert.equal(await text('#hx-resp .hx-row[data-prop="responsible"] dt'), title('responsible', 'en'));
    }
    assert.equal(await text('#hx-resp h3'), 'Responsibility');

    await page.click('#hx-lang');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    assert.equal(await text('#hx-layers h2'), '图层');
    assert.equal(await text(`.hx-layer[data-layer="${LAYER}"] .hx-layer-title`), c.title_zh || c.title);
    if (schema.properties?.responsible) {
      assert.equal(await text('#hx-resp .hx-row[data-prop="responsible"] dt'), title('responsible', 'zh'));
    }
    if (labelLayer) assert.deepEqual(await labelField(), labelLayer.layout['text-field'], 'Chinese labels are the style\'s again');
    await page.keyboard.press('Escape');
    assert.equal(await page.isHidden('#hx-panel'), true, 'Escape closes the panel');
    await mapIdle(page);
    assertClean(browser, 'after switching language');
  }));
});
