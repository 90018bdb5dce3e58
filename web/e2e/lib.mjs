// Shared helpers of the browser and tile tests (not a test file itself).
//
// HEXWARD_URL names the server under test (e.g. http://127.0.0.1:8080).
// Unset, the tests skip, except under CI=true, where they fail: CI must
// never pass by testing nothing.
//
// Every map read needs a signed-in user. The tests use the demo accounts
// of `hexward serve --demo` (password = user name + "-pass"): in the
// browser through the login card (login), from Node through POST
// /auth/login and the session cookie sent along (apiLogin, getJSON,
// getBytes).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'out');

const ci = ['true', '1'].includes(String(process.env.CI || '').toLowerCase());

/** The base URL without trailing slash, or null when unset. */
export function baseURL() {
  const u = (process.env.HEXWARD_URL || '').trim();
  return u ? u.replace(/\/+$/, '') : null;
}

/**
 * Options for describe(): skip when HEXWARD_URL is unset outside CI.
 * Under CI the suite runs and requireBase() fails it.
 */
export function suiteOptions() {
  if (baseURL() || ci) return {};
  return { skip: 'HEXWARD_URL is not set (e.g. HEXWARD_URL=http://127.0.0.1:8080)' };
}

/**
 * live wraps a test body: without a server it skips (the suite's first
 * test, serverTest, is the one that fails under CI).
 */
export function live(getBase, fn) {
  return async (t) => {
    if (!getBase()) {
      t.skip('HEXWARD_URL is not set');
      return;
    }
    await fn(t);
  };
}

/** The first test of a suite: fails under CI when HEXWARD_URL is unset. */
export const serverTest = ['HEXWARD_URL names a Hexward server to test', () => { requireBase(); }];

export function requireBase() {
  const b = baseURL();
  if (!b) throw new Error('HEXWARD_URL is not set: CI=true needs a running Hexward server to test (make e2e / scripts/e2e.sh starts one)');
  return b;
}

/** The password of a demo account of `hexward serve --demo`. */
export function passwordOf(user) {
  return `${user}-pass`;
}

/** The default user of the map tests. */
export const DEFAULT_USER = 'demo-operator';

/**
 * Signs in from Node: POST /auth/login. Returns the Cookie header to send
 * with later requests ({ cookie }) and the body of the answer ({ me }:
 * user, role, scope, csrf).
 */
export async function apiLogin(base, user = DEFAULT_USER, password = passwordOf(user)) {
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ user, password }),
  });
  if (res.status !== 200) {
    throw new Error(`POST ${base}/auth/login as ${user}: HTTP ${res.status} ${await res.text().catch(() => '')}`);
  }
  const me = await res.json();
  // Set-Cookie "name=value; attributes" → Cookie "name=value; name2=value2".
  const set = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [res.headers.get('set-cookie')].filter(Boolean);
  const cookie = set.map((c) => c.split(';')[0].trim()).filter((c) => /^[^=]+=./.test(c)).join('; ');
  if (!cookie) throw new Error(`POST ${base}/auth/login as ${user}: no session cookie in the answer`);
  return { cookie, me };
}

function headersWith(cookie, extra = {}) {
  return cookie ? { ...extra, Cookie: cookie } : extra;
}

/** GET url as JSON; { cookie } from apiLogin signs the request in. */
export async function getJSON(url, { cookie } = {}) {
  const res = await fetch(url, { headers: headersWith(cookie, { Accept: 'application/json' }) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

/** GET url as bytes (gunzipped); { cookie } from apiLogin signs it in. */
export async function getBytes(url, { cookie } = {}) {
  const res = await fetch(url, { headers: headersWith(cookie) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  let b = new Uint8Array(await res.arrayBuffer());
  // A tile stored gzipped but sent without Content-Encoding still decodes.
  if (b.length > 2 && b[0] === 0x1f && b[1] === 0x8b) b = new Uint8Array(gunzipSync(b));
  return { bytes: b, type: res.headers.get('content-type') || '' };
}

export const CHROMIUM = process.env.HEXWARD_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// Chromium reports every HTTP error answer to a page's fetch as a console
// error, "Failed to load resource: the server responded with a status of
// 401 (Unauthorized)", and a page cannot prevent it. The login page must
// ask GET /auth/me whether a session exists, and the answer without one is
// 401 by contract, so that one message (and that one response) is expected
// and not counted; any other 4xx/5xx is. A test that provokes another
// error on purpose (a wrong password, a read after logout) declares it
// with log.expect(method, path, status) first (path: exact, or a RegExp).
// Only Chromium's own message for an allowed answer is skipped: any other
// console error still fails the test.
const LOAD_FAILED_RE = /^Failed to load resource: the server responded with a status of (\d{3})\b/;

/**
 * assertClean fails when the page of browser (openBrowser) logged a console
 * error, a failed request or a request to another origin; when says at
 * which step.
 */
export function assertClean(browser, when) {
  const { errors, failed, foreign } = browser.log;
  assert.deepEqual(errors, [], `console errors ${when}`);
  assert.deepEqual(failed, [], `failed requests ${when}`);
  assert.deepEqual(foreign, [], `requests to other origins ${when}`);
}

/**
 * Starts Chromium with a fresh profile and records console errors, page
 * errors, failed requests, HTTP errors and requests to other origins.
 * log.requests counts requests; log.urls lists "METHOD url" of each.
 */
export async function openBrowser(base, { width = 1600, height = 1000 } = {}) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'hexward-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width, height },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  const origin = new URL(base).origin;
  const log = {
    errors: [], failed: [], foreign: [], requests: 0, urls: [], expected: [],
    allowed: [{ method: 'GET', path: '/auth/me', status: 401 }],
    /** Declares an HTTP error answer the test provokes on purpose. */
    expect(method, path, status) { this.allowed.push({ method, path, status }); },
    /** Forgets what expect() declared (the /auth/me 401 stays allowed). */
    resetExpected() { this.allowed.splice(1); },
  };
  const allowedAnswer = (method, url, status) => {
    let u;
    try { u = new URL(url); } catch { return false; }
    return u.origin === origin && log.allowed.some((a) => a.status === status
      && (a.method === undefined || method === undefined || a.method === method)
      && (a.path instanceof RegExp ? a.path.test(u.pathname) : a.path === u.pathname));
  };
  // The request of a console message is known by its URL only; the method
  // is that of the last response seen for the URL.
  const lastMethod = new Map();
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const st = LOAD_FAILED_RE.exec(text);
    const url = m.location()?.url || '';
    if (st && allowedAnswer(lastMethod.get(url), url, Number(st[1]))) {
      log.expected.push(`console: ${text} (${url})`);
      return;
    }
    log.errors.push(`console: ${text}${st && url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (e) => log.errors.push(`page: ${e.message}`));
  page.on('request', (r) => {
    log.requests++;
    const u = r.url();
    log.urls.push(`${r.method()} ${u}`);
    if (!/^(data|blob|about):/.test(u) && new URL(u).origin !== origin) log.foreign.push(u);
  });
  page.on('requestfailed', (r) => log.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    const method = r.request().method();
    lastMethod.set(r.url(), method);
    if (r.status() < 400) return;
    const line = `${method} ${r.url()}: HTTP ${r.status()}`;
    if (allowedAnswer(method, r.url(), r.status())) log.expected.push(line);
    else log.failed.push(line);
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, log, close };
}

/**
 * Signs in through the login card as user (a demo account; password
 * passwordOf(user) unless given) and waits until the header shows the
 * user. Opens path first (default "/") unless { goto: false }; when the
 * page is already signed in as someone else, logs out first. It does not
 * wait for the map: see mapReady.
 */
export async function login(page, user = DEFAULT_USER, { path = '/', goto = true, password = passwordOf(user), timeout = 15000 } = {}) {
  if (goto) await page.goto(`${requireBase()}${path}`, { waitUntil: 'load' });
  // Either the card or a signed-in header shows once /auth/me answered.
  await page.waitForSelector('#hx-login:not([hidden]), #hx-user:not([hidden])', { timeout });
  if (await page.isVisible('#hx-user')) {
    if ((await page.textContent('#hx-user-name'))?.trim() === user) return;
    await logout(page, { timeout });
  }
  await page.fill('#hx-login-user', user);
  await page.fill('#hx-login-password', password);
  await page.click('#hx-login-submit');
  await page.waitForFunction((u) => {
    const name = document.querySelector('#hx-user:not([hidden]) #hx-user-name');
    return name?.textContent.trim() === u && document.querySelector('#hx-login').hidden;
  }, user, { timeout });
}

/** Logs out with the header's button and waits for the login card. */
export async function logout(page, { timeout = 15000 } = {}) {
  await page.click('#hx-logout');
  await page.waitForSelector('#hx-login:not([hidden])', { timeout });
}

/** Waits until the map has loaded its style and catalogue (body[data-ready]). */
export async function mapReady(page, timeout = 60000) {
  await page.waitForFunction(() => document.body.dataset.ready === 'true' && window.hexwardMap, null, { timeout });
}

/**
 * Waits until the page's live stream is subscribed and caught up (the
 * operator module, web/ui/operator.js, runs for every role that reads the
 * map): a test that then ends the session sees how the page handles the
 * end, not a connection still being made.
 */
export async function liveReady(page, timeout = 30000) {
  await page.waitForFunction(() => {
    const o = window.hexwardOps;
    return Boolean(o && o.map === window.hexwardMap && o.areaLive.ready && (!o.officersLive || o.officersLive.ready));
  }, null, { timeout });
}

/**
 * Waits for the map to render with nothing pending: its 'idle' event. With
 * { settled: true } it also accepts, after a frame drawn since the call,
 * every tile loaded and the camera still for two checks in a row: live
 * updates (the operator's moving officers) can keep a source busy so that
 * 'idle' never comes. Tests that count what is rendered use plain 'idle'.
 */
export async function mapIdle(page, { timeout = 60000, settled = false } = {}) { // generous: software GL on 2 busy cores
  await page.evaluate(({ ms, settled }) => new Promise((resolve, reject) => {
    const map = window.hexwardMap;
    let still = 0;
    let rendered = false;
    const done = () => { clearTimeout(timer); clearInterval(poll); resolve(); };
    const timer = setTimeout(() => { clearInterval(poll); reject(new Error(`map not idle after ${ms} ms`)); }, ms);
    const poll = setInterval(() => {
      if (!settled) return;
      still = rendered && map.loaded() && map.areTilesLoaded() && !map.isMoving() ? still + 1 : 0;
      if (still >= 2) done();
    }, 250);
    map.once('render', () => { rendered = true; });
    map.once('idle', done);
    map.triggerRepaint();
  }), { ms: timeout, settled });
}

export function outPath(name) {
  mkdirSync(OUT_DIR, { recursive: true });
  return join(OUT_DIR, name);
}

/** First [lon, lat] of a GeoJSON geometry. */
export function firstCoord(g) {
  let c = g?.coordinates;
  while (Array.isArray(c) && Array.isArray(c[0])) c = c[0];
  return Array.isArray(c) && typeof c[0] === 'number' ? c : null;
}

/** The XYZ tile holding lon/lat at zoom z. */
export function tileOf(lon, lat, z) {
  const n = 2 ** z;
  const x = Math.floor(((lon + 180) / 360) * n);
  const r = (lat * Math.PI) / 180;
  const y = Math.floor(((1 - Math.asinh(Math.tan(r)) / Math.PI) / 2) * n);
  return { z, x: Math.min(n - 1, Math.max(0, x)), y: Math.min(n - 1, Math.max(0, y)) };
}
