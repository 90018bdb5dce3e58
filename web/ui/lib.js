// lib.js — what the map's modules (operator.js, planner.js) share: the
// page language, translated text, element building, same-origin JSON
// requests, the tiles over a box, and starting with the map.

export const $ = (sel, root = document) => root.querySelector(sel);

/** The page language, as app.js sets it: 'zh' or 'en'. */
export function lang() {
  return document.documentElement.dataset.lang === 'en' ? 'en' : 'zh';
}

/** translator returns t(key, vars) over a module's TEXT table {zh, en}. */
export function translator(TEXT) {
  return (key, vars = {}) => {
    const s = TEXT[lang()][key] ?? TEXT.zh[key] ?? key;
    return s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
  };
}

/** el builds an element: class, text, dataset, on… listeners, attributes. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export const abs = (url) => new URL(url, document.baseURI).href;

/** An HTTP error answer, with its status and the problem's detail. */
export class HTTPError extends Error {
  constructor(url, status, detail) {
    super(detail ? `${detail} (HTTP ${status})` : `${url}: HTTP ${status}`);
    this.status = status;
  }
}

/** request sends JSON (with the CSRF token unless GET) and reads JSON. */
export async function request(method, url, { body, csrf, accept = 'application/json' } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf || '';
  const res = await fetch(abs(url), {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    const detail = (await res.json().catch(() => null))?.detail;
    throw new HTTPError(url, res.status, detail);
  }
  return res.json();
}

export const getJSON = (url) => request('GET', url, { accept: 'application/json, application/geo+json' });

/** tilesOver lists the tiles of zoom z over the box [w, s, e, n]. */
export function tilesOver(b, z) {
  const n = 2 ** z;
  const pad = 0.05;
  const x = (lon) => ((lon + 180) / 360) * n;
  const y = (lat) => {
    const r = (Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180;
    return ((1 - Math.asinh(Math.tan(r)) / Math.PI) / 2) * n;
  };
  const clamp = (v) => Math.min(n - 1, Math.max(0, Math.floor(v)));
  const out = [];
  for (let tx = clamp(x(b[0]) - pad); tx <= clamp(x(b[2]) + pad); tx++) {
    for (let ty = clamp(y(b[3]) - pad); ty <= clamp(y(b[1]) + pad); ty++) out.push({ z, x: tx, y: ty });
  }
  return out;
}

/** withMap calls start whenever app.js has a map ready (after each sign-in). */
export function withMap(start) {
  new MutationObserver(() => {
    if (document.body.dataset.ready === 'true') start();
  }).observe(document.body, { attributes: true, attributeFilter: ['data-ready'] });
  if (document.body?.dataset.ready === 'true') start();
}
