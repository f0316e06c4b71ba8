// The opt-out iframe embedded in a page of another site: opting out stops counting, opting
// back in resumes it, and the iframe speaks German and English.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSpurlos, startCustomerSite, launchBrowser, waitForRows, CHROME_UA } from './harness.mjs';

let spurlos, site, browser;
const DOMAIN = 'optout.test';

before(async () => {
  spurlos = await startSpurlos();
  await spurlos.addSite(DOMAIN);
  const page = (lang) => `<!doctype html><html><head><title>Privacy</title>
    <script defer data-domain="${DOMAIN}" src="${spurlos.base}/s.js"></script></head><body>
    <iframe id="optout" style="width:600px;height:200px" src="${spurlos.base}/opt-out?lang=${lang}"></iframe></body></html>`;
  site = await startCustomerSite({ '/privacy-de.html': page('de'), '/privacy-en.html': page('en') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  site?.close();
  await spurlos?.stop();
});

const pageviews = { site_id: DOMAIN, date_range: 'all', metrics: ['pageviews'], dimensions: ['event:page'] };
const total = (rows) => rows.reduce((n, r) => n + r[1][0], 0);

test('opting out in the iframe stops counting; opting back in resumes it', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA });
  const page = await context.newPage();
  await page.goto(`${site.origin}/privacy-de.html`);
  const frame = page.frameLocator('#optout');
  await frame.locator('#spurlos-status').waitFor();
  assert.match(await frame.locator('#spurlos-status').textContent(), /Ihr Besuch wird/);
  assert.equal(await frame.locator('#spurlos-toggle').textContent(), 'Widersprechen');
  assert.equal(total(await waitForRows(spurlos, pageviews, (r) => total(r) === 1)), 1);

  await frame.locator('#spurlos-toggle').click();
  await frame.locator('#spurlos-optout[data-opted-out="1"]').waitFor();
  assert.match(await frame.locator('#spurlos-status').textContent(), /Sie haben widersprochen/);

  // The next page view carries the opt-out cookie: answered, but not stored.
  const answered = page.waitForResponse((r) => r.url().endsWith('/api/event'));
  await page.reload();
  // sendBeacon responses are not always observable; the iframe state shows the cookie is sent.
  await Promise.race([answered, page.waitForTimeout(1000)]);
  await frame.locator('#spurlos-optout[data-opted-out="1"]').waitFor();

  await frame.locator('#spurlos-toggle').click();
  await frame.locator('#spurlos-optout[data-opted-out="0"]').waitFor();
  await page.reload();
  const rows = await waitForRows(spurlos, pageviews, (r) => total(r) >= 2);
  // Hits are stored in order, so the opted-out one would have been stored before this one.
  await page.waitForTimeout(300);
  assert.equal(total(await spurlos.query(pageviews).then((v) => v.results.map((r) => [r.dimensions, r.metrics]))), 2);
  assert.equal(total(rows), 2);
  await context.close();
});

test('the opt-out page speaks English too and may be framed', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA });
  const page = await context.newPage();
  await page.goto(`${site.origin}/privacy-en.html`);
  const frame = page.frameLocator('#optout');
  await frame.locator('#spurlos-status').waitFor();
  assert.match(await frame.locator('#spurlos-status').textContent(), /counted anonymously/);
  assert.equal(await frame.locator('#spurlos-toggle').textContent(), 'Opt out');
  await context.close();
});
