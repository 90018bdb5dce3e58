// Signing in: every map read needs a session (401 without one); the page
// shows a bilingual login card and asks nothing of the map before a user
// signs in; wrong passwords and too many attempts are explained; the
// header names the user, role and scope; logging out (or a session that
// ends elsewhere) brings the card back; a community user reads only its
// community. Uses the demo accounts of `hexward serve --demo`.
//
//   HEXWARD_URL=http://127.0.0.1:8080 node --test web/e2e/

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  suiteOptions, serverTest, live, baseURL, getJSON, assertClean, openBrowser, liveReady, mapIdle, mapReady, apiLogin, login, logout, tileOf, DEFAULT_USER,
} from './lib.mjs';

// What counts as reading the map: needs a session.
const MAP_READ = /^\/(?:api(?:\/|$)|tiles\/|style\.json$)/;

describe('sign-in', suiteOptions(), () => {
  let base;
  let browser;
  let page;

  it(...serverTest);

  before(async () => {
    base = baseURL();
    if (!base) return;
    browser = await openBrowser(base);
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
  });

  const pathOf = (line) => new URL(line.slice(line.indexOf(' ') + 1)).pathname;
  const mapReads = () => browser.log.urls.filter((l) => MAP_READ.test(pathOf(l)));
  const text = (sel) => page.locator(sel).first().textContent().then((s) => s.trim());
  const cardShown = () => page.waitForSelector('#hx-login:not([hidden])', { timeout: 15000 });

  it('answers map reads without a session with 401', live(() => base, async () => {
    const { cookie, me } = await apiLogin(base, DEFAULT_USER);
    assert.equal(me.user, DEFAULT_USER);
    assert.equal(me.role, 'operator');
    assert.equal(me.scope, '');
    assert.ok(typeof me.csrf === 'string' && me.csrf.length >= 16, 'a CSRF token comes with the session');
    const style = await getJSON(`${base}/style.json`, { cookie });
    const t = tileOf(style.center[0], style.center[1], 15);
    const tile = style.sources.hexward.tiles[0].replace('{z}', t.z).replace('{x}', t.x).replace('{y}', t.y);
    const tilePath = new URL(tile, `${base}/`).pathname;
    for (const path of ['/style.json', '/api/collections', '/api/collections/buildings/items?limit=1', tilePath]) {
      const res = await fetch(`${base}${path}`, { headers: { Accept: 'application/json' } });
      await res.arrayBuffer();
      assert.equal(res.status, 401, `GET ${path} without a session`);
    }
    const anon = await fetch(`${base}/auth/me`);
    assert.equal(anon.status, 401, 'GET /auth/me without a session');
    assert.match(anon.headers.get('content-type') || '', /^application\/problem\+json/);
    const problem = await anon.json();
    assert.equal(problem.status, 401);
    const mine = await getJSON(`${base}/auth/me`, { cookie });
    assert.deepEqual({ ...mine }, { ...me }, 'GET /auth/me answers like the login did');
  }));

  it('shows the login card and asks nothing of the map before sign-in', live(() => base, async () => {
    await page.goto(`${base}/?lang=zh`, { waitUntil: 'load' });
    await cardShown();
    // Give the page time to request whatever it would on its own.
    await page.waitForTimeout(750);
    assert.ok(browser.log.urls.some((l) => l.startsWith('GET ') && pathOf(l) === '/auth/me'), 'the page asked /auth/me');
    assert.deepEqual(mapReads(), [], 'no /api, /tiles or /style.json request before sign-in');
    assert.equal(await page.evaluate(() => window.hexwardMap === undefined), true, 'no map');
    assert.equal(await page.isHidden('#hx-main'), true, 'the map area is hidden');
    assert.equal(await page.isHidden('#hx-user'), true, 'no user in the header');
    assert.equal(await page.isHidden('#hx-login-error'), true, 'no error before trying');

    // Chinese first, centred on the page.
    assert.equal(await text('#hx-login h2'), '登录');
    assert.equal(await text('#hx-login-submit'), '登录');
    assert.equal(await text('.hx-field span'), '用户名');
    const note = await text('.hx-login-demo');
    assert.match(note, /--demo/);
    assert.match(note, /demo-operator/);
    assert.doesNotMatch(note, /-pass\b/, 'the page does not print demo passwords');
    const box = await page.locator('.hx-login-card').boundingBox();
    const vw = page.viewportSize().width;
    assert.ok(Math.abs(box.x + box.width / 2 - vw / 2) <= 2, `the card is centred (x ${box.x}, width ${box.width})`);
    assert.equal(await page.getAttribute('#hx-login-user', 'autocomplete'), 'username');
    assert.equal(await page.getAttribute('#hx-login-password', 'type'), 'password');

    // …and English with the language switch.
    await page.click('#hx-lang');
    assert.equal(await text('#hx-login h2'), 'Sign in');
    assert.equal(await text('#hx-login-submit'), 'Sign in');
    assert.match(await text('.hx-login-demo'), /demo accounts/);
    await page.click('#hx-lang');
    assert.equal(await text('#hx-login h2'), '登录');
    assertClean(browser, 'on the login card');
  }));

  it('says so when the password is wrong', live(() => base, async () => {
    browser.log.expect('POST', '/auth/login', 401);
    await page.fill('#hx-login-user', DEFAULT_USER);
    await page.fill('#hx-login-password', `wrong-${Date.now()}`);
    await page.click('#hx-login-submit');
    await page.waitForSelector('#hx-login-error:not([hidden])', { timeout: 10000 });
    assert.equal(await text('#hx-login-error'), '用户名或密码错误');
    assert.equal(await page.inputValue('#hx-login-password'), '', 'the wrong password is cleared');
    assert.equal(await page.inputValue('#hx-login-user'), DEFAULT_USER, 'the user name stays');
    assert.equal(await page.isHidden('#hx-user'), true, 'still signed out');
    await page.click('#hx-lang');
    assert.equal(await text('#hx-login-error'), 'Wrong user name or password');
    await page.click('#hx-lang');
    assert.deepEqual(mapReads(), [], 'still nothing of the map');
    assertClean(browser, 'after a wrong password');
  }));

  it('says how long to wait after too many attempts (429 answered in the browser)', live(() => base, async () => {
    // The server's limit is not provoked for real: that would lock the demo
    // accounts for the other tests. The answer is the contract's.
    browser.log.expect('POST', '/auth/login', 429);
    const route = '**/auth/login';
    await page.route(route, (r) => r.fulfill({
      status: 429,
      headers: { 'Retry-After': '3', 'Content-Type': 'application/problem+json' },
      body: JSON.stringify({ title: 'Too Many Requests', status: 429, detail: 'too many attempts' }),
    }));
    try {
      await page.fill('#hx-login-user', DEFAULT_USER);
      await page.fill('#hx-login-password', 'whatever');
      await page.click('#hx-login-submit');
      await page.waitForSelector('#hx-login-error[data-error="errTooMany"]:not([hidden])', { timeout: 10000 });
      assert.match(await text('#hx-login-error'), /^尝试过多，请 [1-3] 秒后再试$/);
      assert.equal(await page.isDisabled('#hx-login-submit'), true, 'no new attempt while waiting');
      await page.click('#hx-lang');
      assert.match(await text('#hx-login-error'), /^Too many attempts, try again in [1-3] s$/);
      await page.click('#hx-lang');
      // The wait ends by itself.
      await page.waitForSelector('#hx-login-submit:not([disabled])', { timeout: 10000 });
      assert.equal(await page.isHidden('#hx-login-error'), true, 'the message goes when the wait is over');
    } finally {
      await page.unroute(route);
    }
    assertClean(browser, 'after too many attempts');
  }));

  it('shows the map to demo-viewer', live(() => base, async () => {
    await login(page, 'demo-viewer', { goto: false });
    await mapReady(page);
    await mapIdle(page);
    assert.equal(await text('#hx-user-name'), 'demo-viewer');
    assert.equal(await text('#hx-user-role'), '查看者');
    assert.equal(await page.isHidden('#hx-user-scope'), true, 'no scope: the whole subdistrict');
    assert.equal(await text('#hx-logout'), '退出登录');
    assert.equal(await page.isHidden('#hx-login'), true);
    assert.ok(await page.evaluate(() => window.hexwardMap.queryRenderedFeatures().length > 0), 'features are rendered');
    assert.ok(mapReads().length > 0, 'the map was read after sign-in');
    await page.click('#hx-lang');
    assert.equal(await text('#hx-user-role'), 'Viewer');
    assert.equal(await text('#hx-logout'), 'Log out');
    await page.click('#hx-lang');
    assertClean(browser, 'after signing in');
  }));

  it('logs out: the map goes, the card comes back, the session is closed', live(() => base, async () => {
    await liveReady(page);
    const csrf = await page.evaluate(async () => (await (await fetch('/auth/me')).json()).csrf);
    const [req] = await Promise.all([
      page.waitForRequest((r) => new URL(r.url()).pathname === '/auth/logout'),
      logout(page),
    ]);
    assert.equal(req.method(), 'POST');
    assert.equal(req.headers()['x-csrf-token'], csrf, 'logout carries the CSRF token');
    assert.equal(await page.evaluate(() => window.hexwardMap === undefined), true, 'the map is removed');
    assert.equal(await page.locator('#map canvas').count(), 0, 'no map canvas left');
    assert.equal(await page.isHidden('#hx-main'), true);
    assert.equal(await page.isHidden('#hx-user'), true, 'no user in the header');
    assert.equal(await page.isHidden('#hx-login-error'), true, 'logging out is no error');
    browser.log.expect('GET', '/api/collections', 401);
    const status = await page.evaluate(async () => {
      const r = await fetch('/api/collections', { headers: { Accept: 'application/json' } });
      await r.text(); // read to the end: a reload must not abort it
      return r.status;
    });
    assert.equal(status, 401, '/api/collections after logout');
    // A reload finds no session either.
    await page.reload({ waitUntil: 'load' });
    await cardShown();
    assert.equal(await page.isHidden('#hx-user'), true);
    assertClean(browser, 'after logging out');
    browser.log.resetExpected();
  }));

  it('brings the card back when the session ends while the map is open', live(() => base, async () => {
    await login(page, DEFAULT_USER, { goto: false });
    await mapReady(page);
    await mapIdle(page);
    await liveReady(page);
    // End the session behind the page's back, as an expiry would.
    const ended = await page.evaluate(async () => {
      const me = await (await fetch('/auth/me')).json();
      return (await fetch('/auth/logout', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf } })).status;
    });
    assert.equal(ended, 204);
    browser.log.expect(undefined, MAP_READ, 401);
    // A zoom the map has not loaded yet makes it ask for new tiles.
    await page.evaluate(() => {
      const m = window.hexwardMap;
      m.jumpTo({ zoom: Math.min(Math.floor(m.getZoom()) + 1, 20) });
    });
    await cardShown();
    assert.equal(await page.getAttribute('#hx-login-error', 'data-error'), 'sessionExpired');
    assert.equal(await text('#hx-login-error'), '登录已失效，请重新登录。');
    assert.equal(await page.evaluate(() => window.hexwardMap === undefined), true, 'the map is removed');
    assertClean(browser, 'after the session ended');
    browser.log.resetExpected();
  }));

  it('shows a community user only its community', live(() => base, async () => {
    const count = () => page.evaluate(async () => {
      const r = await fetch('/api/collections/buildings/items?limit=10000', { headers: { Accept: 'application/geo+json' } });
      if (!r.ok) throw new Error(`buildings: HTTP ${r.status}`);
      return (await r.json()).features.length;
    });
    await login(page, 'demo-community', { goto: false });
    await mapReady(page);
    await liveReady(page);
    const me = await page.evaluate(async () => (await fetch('/auth/me')).json());
    assert.equal(me.user, 'demo-community');
    assert.equal(me.role, 'operator');
    assert.ok(me.scope, 'demo-community has a scope');
    assert.equal(await text('#hx-user-role'), '值班员');
    assert.equal(await page.isVisible('#hx-user-scope'), true, 'the scope is shown');
    assert.equal(await text('#hx-user-scope'), `范围 ${me.scope}`);
    const mine = await count();

    await login(page, DEFAULT_USER, { goto: false }); // logs demo-community out first
    await mapReady(page);
    assert.equal(await page.isHidden('#hx-user-scope'), true);
    const all = await count();
    assert.ok(mine > 0, `demo-community sees buildings (${mine})`);
    assert.ok(mine < all, `demo-community sees fewer buildings than demo-operator (${mine} vs ${all})`);
    await mapIdle(page);
    assertClean(browser, 'after switching users');
  }));
});
