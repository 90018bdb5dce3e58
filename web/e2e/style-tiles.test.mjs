// The style and the tiles as other people's code reads them: /style.json
// through MapLibre's own style validator, tiles through @mapbox/vector-tile
// and pbf (decoders that are not Hexward's). Every read is signed in as
// demo-operator (POST /auth/login from Node, the session cookie sent with
// each request); without it the server answers 401.
//
//   HEXWARD_URL=http://127.0.0.1:8080 node --test web/e2e/

import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import {
  suiteOptions, serverTest, live, baseURL, getJSON, getBytes, firstCoord, tileOf, apiLogin, DEFAULT_USER,
} from './lib.mjs';

const GEOM = { point: 1, line: 2, plane: 3 }; // MVT GeomType by catalogue kind
const BUFFER = 64 * 16; // tolerated overhang outside the tile extent, in tile units

describe('style and tiles', suiteOptions(), () => {
  let base;
  let style;
  let collections;
  let auth; // { cookie } of the signed-in session

  it(...serverTest);

  before(async () => {
    base = baseURL();
    if (!base) return;
    auth = await apiLogin(base, DEFAULT_USER);
    style = await getJSON(`${base}/style.json`, auth);
    collections = (await getJSON(`${base}/api/collections`, auth)).collections;
  });

  const abs = (u) => new URL(u, `${base}/`).href;

  it('is a valid MapLibre style v8 with every catalogue layer', live(() => base, async () => {
    const problems = validateStyleMin(style);
    const errors = problems.filter((e) => e.severity !== 'warning').map((e) => e.message);
    for (const w of problems.filter((e) => e.severity === 'warning')) console.log(`# style warning: ${w.message}`);
    assert.deepEqual(errors, [], 'style-spec validation errors');
    assert.equal(style.version, 8);
    assert.ok(Array.isArray(style.center) && typeof style.zoom === 'number', 'center and zoom');
    assert.ok(style.sources?.hexward?.type === 'vector', 'vector source "hexward"');
    assert.match(style.glyphs, /\{fontstack\}\/\{range\}\.pbf$/);
    const meta = new Map();
    for (const l of style.layers) {
      const name = l.metadata?.['hexward:layer'];
      if (!name) continue;
      assert.ok(l.id === name || l.id === `${name}-outline` || l.id === `${name}-label`, `style layer id ${l.id} of ${name}`);
      assert.equal(l['source-layer'], name, `${l.id} reads source-layer ${name}`);
      if (!meta.has(name)) meta.set(name, []);
      meta.get(name).push(l.id);
    }
    for (const c of collections) {
      assert.ok(meta.get(c.id)?.includes(c.id), `style layer "${c.id}" of collection ${c.id}`);
    }
  }));

  it('serves the glyphs the style asks for', live(() => base, async () => {
    const stacks = new Set();
    for (const l of style.layers) {
      const f = l.layout?.['text-font'];
      if (Array.isArray(f) && f.every((x) => typeof x === 'string')) stacks.add(f.join(','));
    }
    assert.ok(stacks.size > 0, 'some layer has labels');
    for (const stack of stacks) {
      for (const range of ['0-255', '19968-20223']) {
        const url = abs(style.glyphs.replace('{fontstack}', encodeURIComponent(stack)).replace('{range}', range));
        const { bytes, type } = await getBytes(url, auth);
        assert.match(type, /protobuf/, `${url} content type`);
        // glyphs.proto: field 1 "stacks" (length-delimited) first.
        assert.equal(bytes[0], 0x0a, `${url} is a glyphs PBF`);
        if (range === '0-255') assert.ok(bytes.length > 1000, `${url} holds Latin glyphs`);
      }
    }
  }));

  it('tiles decode with the right geometry type per layer', live(() => base, async () => {
    const src = style.sources.hexward;
    const tmpl = src.tiles?.[0];
    assert.ok(tmpl, 'the vector source lists a tile URL');
    const srcMax = src.maxzoom ?? 22;
    const seen = new Map(); // url -> VectorTile
    const decode = async (t) => {
      const url = abs(tmpl.replace('{z}', t.z).replace('{x}', t.x).replace('{y}', t.y));
      if (!seen.has(url)) {
        const { bytes } = await getBytes(url, auth);
        seen.set(url, new VectorTile(new PbfReader(bytes)));
      }
      return { url, tile: seen.get(url) };
    };
    const kinds = new Map(collections.map((c) => [c.id, c.kind]));
    let checkedLayers = 0;
    for (const c of collections) {
      const items = await getJSON(`${base}/api/collections/${c.id}/items?limit=3`, auth);
      const feats = (items.features || []).filter((f) => f.geometry);
      if (!feats.length) continue; // an empty layer has no tile to look at
      checkedLayers++;
      const zooms = [...new Set([Math.max(c.minzoom ?? 0, src.minzoom ?? 0), Math.min(16, srcMax), srcMax])]
        .filter((z) => z >= (c.minzoom ?? 0) && z <= Math.min(c.maxzoom ?? 22, srcMax));
      for (const f of feats) {
        const [lon, lat] = firstCoord(f.geometry);
        for (const z of zooms) {
          const { url, tile } = await decode(tileOf(lon, lat, z));
          const layer = tile.layers[c.id];
          assert.ok(layer && layer.length > 0, `${url}: layer ${c.id} has features`);
          if (z === srcMax) {
            const ids = new Set();
            for (let i = 0; i < layer.length; i++) ids.add(String(layer.feature(i).id));
            assert.ok(ids.has(String(f.id)), `${url}: ${c.id} feature ${f.id} is in its tile at zoom ${z} with its id`);
          }
        }
      }
    }
    assert.ok(checkedLayers > 0, 'the server has features in some layer');
    // Every layer of every decoded tile: right type, coordinates in range.
    for (const [url, tile] of seen) {
      for (const [name, layer] of Object.entries(tile.layers)) {
        const kind = kinds.get(name);
        assert.ok(kind, `${url}: layer ${name} is in the catalogue`);
        assert.ok([1, 2].includes(layer.version), `${url}: ${name} version ${layer.version}`);
        const ext = layer.extent;
        for (let i = 0; i < layer.length; i++) {
          const f = layer.feature(i);
          assert.equal(f.type, GEOM[kind], `${url}: ${name} feature ${i} type ${f.type}, want ${GEOM[kind]} (${kind})`);
          for (const ring of f.loadGeometry()) {
            assert.ok(ring.length > 0, `${url}: ${name} feature ${i} has an empty part`);
            if (kind === 'line') assert.ok(ring.length >= 2, `${url}: ${name} line of one point`);
            if (kind === 'plane') assert.ok(ring.length >= 4, `${url}: ${name} ring of ${ring.length} points`);
            for (const p of ring) {
              assert.ok(p.x >= -BUFFER && p.x <= ext + BUFFER && p.y >= -BUFFER && p.y <= ext + BUFFER,
                `${url}: ${name} feature ${i} point ${p.x},${p.y} outside ${ext}±${BUFFER}`);
            }
          }
        }
      }
    }
  }));
});
