// Plausible's official npm tracker (@plausible-analytics/tracker) pointed at spurlos.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSpurlos, startCustomerSite, launchBrowser, waitForRows, CHROME_UA } from './harness.mjs';

let spurlos, site, browser;
const DOMAIN = 'plausible.test';

before(async () => {
  spurlos = await startSpurlos();
  await spurlos.addSite(DOMAIN);
  site = await startCustomerSite({
    '/shop/cart': `<!doctype html><html><head><title>Cart</title>
      <script type="module">
        import { init, track } from '/node_modules/@plausible-analytics/tracker/plausible.js';
        window.__plausible = true;
        init({ domain: '${DOMAIN}', endpoint: '${spurlos.base}/api/event', captureOnLocalhost: true });
        window.buy = () => track('Purchase', { props: { tier: 'startup' }, interactive: true });
      </script></head><body>cart</body></html>`,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  site?.close();
  await spurlos?.stop();
});

test('the official Plausible tracker is recorded correctly', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA });
  const page = await context.newPage();
  await page.goto(`${site.origin}/shop/cart?utm_source=newsletter`);
  await page.waitForFunction(() => typeof window.buy === 'function');
  await page.evaluate(() => window.buy());
  const rows = await waitForRows(
    spurlos,
    { site_id: DOMAIN, date_range: 'all', metrics: ['visitors', 'events'], dimensions: ['event:name', 'event:page', 'visit:source'], order_by: [['event:name', 'asc']] },
    (rows) => rows.length >= 2,
  );
  assert.deepEqual(rows, [
    [['Purchase', '/shop/cart', 'newsletter'], [1, 1]],
    [['pageview', '/shop/cart', 'newsletter'], [1, 1]],
  ]);
  const tier = await spurlos.query({ site_id: DOMAIN, date_range: 'all', metrics: ['events'], dimensions: ['event:props:tier'], filters: [['is', 'event:name', ['Purchase']]] });
  assert.deepEqual(tier.results[0].dimensions, ['startup']);
  await context.close();
});
