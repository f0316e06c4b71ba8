// Our tracker (/s.js) in real Chromium: page views incl. SPA and hash routing, custom events,
// outbound links, downloads, the 404 helper, and silence under GPC/DNT.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSpurlos, startCustomerSite, launchBrowser, waitForRows, CHROME_UA } from './harness.mjs';

let spurlos, site, browser;
const DOMAIN = 'tracker.test';

before(async () => {
  spurlos = await startSpurlos();
  await spurlos.addSite(DOMAIN);
  const tag = (extra = '') => `<script defer data-domain="${DOMAIN}" ${extra} src="${spurlos.base}/s.js"></script>`;
  site = await startCustomerSite({
    '/': `<!doctype html><html><head><title>Home</title>${tag()}</head><body>
      <a id="out" href="https://external.example/landing?secret=1">out</a>
      <a id="dl" href="/files/report.pdf">report</a>
      <script>document.addEventListener('click', function (e) { e.preventDefault(); });</script>
      </body></html>`,
    '/hash.html': `<!doctype html><html><head>${tag('data-hash')}</head><body>hash</body></html>`,
    '/quiet.html': `<!doctype html><html><head>${tag()}</head><body>quiet</body></html>`,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  site?.close();
  await spurlos?.stop();
});

const q = (extra) => ({ site_id: DOMAIN, date_range: 'all', ...extra });

test('page views, SPA navigation, hash routing, events, links, downloads and 404s', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  let beacons = 0;
  page.on('request', (r) => { if (r.url().endsWith('/api/event')) beacons++; });
  await page.goto(`${site.origin}/`);
  await page.waitForFunction(() => typeof window.spurlos === 'function');
  await page.evaluate(() => history.pushState({}, '', '/spa/second'));
  await page.evaluate(() => window.spurlos('Signup', { props: { plan: 'pro' } }));
  await page.evaluate(() => window.spurlos('404'));
  await page.click('#out');
  await page.click('#dl');
  await page.goto(`${site.origin}/hash.html`);
  await page.waitForFunction(() => typeof window.spurlos === 'function');
  await page.evaluate(() => { location.hash = '#/settings'; });

  const names = await waitForRows(
    spurlos,
    q({ metrics: ['events'], dimensions: ['event:name'], order_by: [['event:name', 'asc']] }),
    (rows) => rows.reduce((n, r) => n + r[1][0], 0) >= 8,
  );
  assert.deepEqual(names, [
    [['404'], [1]],
    [['File Download'], [1]],
    [['Outbound Link: Click'], [1]],
    [['Signup'], [1]],
    [['pageview'], [4]],
  ]);
  const pages = await spurlos.query(q({ metrics: ['pageviews'], dimensions: ['event:page'], order_by: [['event:page', 'asc']], filters: [['is', 'event:name', ['pageview']]] }));
  assert.deepEqual(pages.results.map((r) => r.dimensions[0]), ['/', '/hash.html', '/hash.html#/settings', '/spa/second']);
  const urls = await spurlos.query(q({ metrics: ['events'], dimensions: ['event:props:url'], filters: [['is_not', 'event:name', ['pageview', 'Signup', '404']]], order_by: [['event:props:url', 'asc']] }));
  assert.deepEqual(urls.results.map((r) => r.dimensions[0]), [`${site.origin}/files/report.pdf`, 'https://external.example/landing']);
  const plan = await spurlos.query(q({ metrics: ['events'], dimensions: ['event:props:plan'], filters: [['is', 'event:name', ['Signup']]] }));
  assert.deepEqual(plan.results[0].dimensions, ['pro']);
  const notFound = await spurlos.query(q({ metrics: ['events'], dimensions: ['event:props:path'], filters: [['is', 'event:name', ['404']]] }));
  assert.deepEqual(notFound.results[0].dimensions, ['/spa/second']);
  const screen = await spurlos.query(q({ metrics: ['visitors'], dimensions: ['visit:screen', 'visit:browser'] }));
  assert.deepEqual(screen.results[0].dimensions, ['Laptop', 'Chrome']);
  assert.equal(beacons, 8);
  await context.close();
});

test('stays silent under Global Privacy Control and Do Not Track', async () => {
  for (const prop of ['globalPrivacyControl', 'doNotTrack']) {
    const context = await browser.newContext({ userAgent: CHROME_UA });
    await context.addInitScript((p) => {
      Object.defineProperty(Navigator.prototype, p, { get: () => (p === 'doNotTrack' ? '1' : true) });
    }, prop);
    const page = await context.newPage();
    let sent = 0;
    page.on('request', (r) => { if (r.url().endsWith('/api/event')) sent++; });
    await page.goto(`${site.origin}/quiet.html`);
    await page.waitForFunction(() => typeof window.spurlos === 'function');
    await page.evaluate(() => window.spurlos('Signup'));
    await page.waitForTimeout(300);
    assert.equal(sent, 0, prop);
    await context.close();
  }
});
