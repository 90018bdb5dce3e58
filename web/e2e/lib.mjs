// Shared helpers of the browser and tile tests (not a test file itself).
//
// HEXWARD_URL names the server under test (e.g. http://127.0.0.1:8080).
// Unset, the tests skip, except under CI=true, where they fail: CI must
// never pass by testing nothing.

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

export async function getJSON(url) {
  const res = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.json();
}

export async function getBytes(url) {
  const res = await fetch(url);
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

/**
 * Starts Chromium with a fresh profile and records console errors, page
 * errors, failed requests, HTTP errors and requests to other origins.
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
  const log = { errors: [], failed: [], foreign: [], requests: 0 };
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => { if (m.type() === 'error') log.errors.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => log.errors.push(`page: ${e.message}`));
  page.on('request', (r) => {
    log.requests++;
    const u = r.url();
    if (!/^(data|blob|about):/.test(u) && new URL(u).origin !== origin) log.foreign.push(u);
  });
  page.on('requestfailed', (r) => log.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) log.failed.push(`${r.url()}: HTTP ${r.status()}`); });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, log, close };
}

/** Waits for the map to render with nothing pending ('idle'). */
export async function mapIdle(page, timeout = 30000) {
  await page.evaluate((ms) => new Promise((resolve, reject) => {
    const map = window.hexwardMap;
    const timer = setTimeout(() => reject(new Error(`map not idle after ${ms} ms`)), ms);
    map.once('idle', () => { clearTimeout(timer); resolve(); });
    map.triggerRepaint();
  }), timeout);
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
