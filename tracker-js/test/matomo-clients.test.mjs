// Matomo's real tracking clients pointed at spurlos: the Node client `matomo-tracker` (npm)
// and the Python `matomo` package (PyPI). The Stats API then shows exactly what they sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSpurlos, waitForRows, ADMIN, CHROME_UA } from './harness.mjs';

const require = createRequire(import.meta.url);
const MatomoTracker = require('matomo-tracker');
const here = dirname(fileURLToPath(import.meta.url));

let spurlos;

before(async () => {
  spurlos = await startSpurlos();
});

after(async () => {
  await spurlos?.stop();
});

test('the Node client matomo-tracker: page views, events, searches, goals and bulk', async () => {
  const site = await spurlos.addSite('node.test');
  const matomo = new MatomoTracker(site.id, `${spurlos.base}/matomo.php`);
  const errors = [];
  matomo.on('error', (e) => errors.push(e));
  const common = { ua: CHROME_UA, token_auth: ADMIN, cip: '203.0.113.7' };
  matomo.track({ ...common, url: 'https://node.test/node/a', action_name: 'A', urlref: 'https://duckduckgo.com/' });
  // track() does not wait for its answer: let the visit's first page view land first.
  await waitForRows(
    spurlos,
    { site_id: 'node.test', date_range: 'all', metrics: ['events'] },
    (rows) => rows.length > 0 && rows[0][1][0] >= 1,
  );
  matomo.track({ ...common, url: 'https://node.test/node/a', e_c: 'Video', e_a: 'Play', e_n: 'Intro', e_v: 2 });
  matomo.track({ ...common, url: 'https://node.test/node/search', search: 'boots', search_cat: 'shop', search_count: 3 });
  matomo.track({ ...common, url: 'https://node.test/node/checkout', idgoal: 1, revenue: 9.5 });
  const bulkAnswer = await new Promise((resolve) =>
    matomo.trackBulk(
      [
        { url: 'https://node.test/node/b', ua: CHROME_UA, cip: '198.51.100.9', token_auth: ADMIN },
        { url: 'https://node.test/node/c', ua: CHROME_UA, cip: '198.51.100.9', token_auth: ADMIN },
      ],
      resolve,
    ),
  );
  assert.deepEqual(JSON.parse(bulkAnswer), { status: 'success', tracked: 2, invalid: 0, invalid_indices: [] });
  const q = {
    site_id: 'node.test',
    date_range: 'all',
    metrics: ['events'],
    dimensions: ['event:name', 'event:page'],
    order_by: [['event:name', 'asc'], ['event:page', 'asc']],
  };
  const rows = await waitForRows(spurlos, q, (rows) => rows.reduce((n, r) => n + r[1][0], 0) >= 6);
  assert.deepEqual(rows, [
    [['Goal 1', '/node/checkout'], [1]],
    [['Site Search', '/node/search'], [1]],
    [['Video', '/node/a'], [1]],
    [['pageview', '/node/a'], [1]],
    [['pageview', '/node/b'], [1]],
    [['pageview', '/node/c'], [1]],
  ]);
  const sources = await spurlos.query({ site_id: 'node.test', date_range: 'all', metrics: ['visitors'], dimensions: ['visit:source'] });
  // The first visit came from DuckDuckGo; the bulk's visitor came directly.
  assert.deepEqual(sources.results.map((r) => r.dimensions[0]).sort(), ['Direct / None', 'DuckDuckGo']);
  assert.deepEqual(errors, []);
});

test('the Python client (matomo on PyPI): page views, events, searches, goals and bulk', async () => {
  const site = await spurlos.addSite('python.test');
  const out = execFileSync('python3', [join(here, 'clients', 'matomo_python.py'), spurlos.base, String(site.id), ADMIN], {
    encoding: 'utf8',
  });
  assert.match(out, /done/);
  const q = {
    site_id: 'python.test',
    date_range: 'all',
    metrics: ['events'],
    dimensions: ['event:name', 'event:page'],
    order_by: [['event:name', 'asc'], ['event:page', 'asc']],
  };
  const rows = await waitForRows(spurlos, q, (rows) => rows.reduce((n, r) => n + r[1][0], 0) >= 7);
  assert.deepEqual(rows, [
    [['Goal 4', '/python/start'], [1]],
    [['Site Search', '/python/start'], [1]],
    [['Video', '/python/bulk-two'], [1]],
    [['Video', '/python/start'], [1]],
    [['pageview', '/python/bulk'], [1]],
    [['pageview', '/python/bulk-two'], [1]],
    [['pageview', '/python/start'], [1]],
  ]);
  const props = await spurlos.query({ site_id: 'python.test', date_range: 'all', metrics: ['events'], dimensions: ['event:props:keyword'], filters: [['is', 'event:name', ['Site Search']]] });
  assert.deepEqual(props.results.map((r) => r.dimensions), [['boots']]);
});
