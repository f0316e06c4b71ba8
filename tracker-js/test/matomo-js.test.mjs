// spurlos's /matomo.js driven in Chromium through @datapunt/matomo-tracker-js (npm), which
// loads matomo.js from the server and talks to it through Matomo's `_paq` queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSpurlos, startCustomerSite, launchBrowser, waitForRows, CHROME_UA } from './harness.mjs';

let spurlos, site, browser, siteId;
const DOMAIN = 'matomojs.test';

const byName = { site_id: DOMAIN, date_range: 'all', metrics: ['events'], dimensions: ['event:name'], order_by: [['event:name', 'asc']] };
const total = (rows) => rows.reduce((n, r) => n + r[1][0], 0);

before(async () => {
  spurlos = await startSpurlos();
  siteId = (await spurlos.addSite(DOMAIN)).id;
  site = await startCustomerSite({
    '/shop': `<!doctype html><html><head><title>Shop</title>
      <script type="module">
        import MatomoTracker from '/node_modules/@datapunt/matomo-tracker-js/es/MatomoTracker.js';
        window.tracker = new MatomoTracker({ urlBase: '${spurlos.base}/', siteId: ${siteId}, heartBeat: { active: true, seconds: 5 } });
        window.tracker.pushInstruction('setCustomDimension', 2, 'gold');
        window.tracker.pushInstruction('someCommandSpurlosDoesNotKnow', 1, 2);
        window.tracker.trackPageView();
      </script></head><body>
      <a id="out" href="https://elsewhere.example/page">out</a>
      <a id="file" href="/files/report.pdf">report</a>
      </body></html>`,
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  site?.close();
  await spurlos?.stop();
});

test('page views, events, searches, goals, links, downloads and custom dimensions', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${site.origin}/shop?utm_source=mail`);
  await page.waitForFunction(() => window._paq && !Array.isArray(window._paq));
  await waitForRows(spurlos, byName, (rows) => total(rows) >= 1);
  await page.evaluate(() => {
    const t = window.tracker;
    t.trackEvent({ category: 'Video', action: 'Play', name: 'Intro', value: 3 });
    t.trackSiteSearch({ keyword: 'boots', category: 'shop', count: 4 });
    t.pushInstruction('trackGoal', 2, 9.5);
  });
  // Links are tracked on click (the navigation itself is not waited for).
  await page.evaluate(() => {
    for (const id of ['out', 'file']) {
      const a = document.getElementById(id);
      a.addEventListener('click', (e) => e.preventDefault());
      a.click();
    }
  });
  const rows = await waitForRows(spurlos, byName, (rows) => total(rows) >= 6);
  assert.deepEqual(rows, [
    [['File Download'], [1]],
    [['Goal 2'], [1]],
    [['Outbound Link: Click'], [1]],
    [['Site Search'], [1]],
    [['Video'], [1]],
    [['pageview'], [1]],
  ]);
  const pages = await spurlos.query({ site_id: DOMAIN, date_range: 'all', metrics: ['visitors'], dimensions: ['event:page', 'visit:source', 'event:props:dimension2'], filters: [['is', 'event:name', ['pageview']]] });
  assert.deepEqual(pages.results.map((r) => r.dimensions), [['/shop', 'mail', 'gold']]);
  const props = await spurlos.query({ site_id: DOMAIN, date_range: 'all', metrics: ['events'], dimensions: ['event:props:url'], filters: [['is', 'event:name', ['File Download']]] });
  assert.deepEqual(props.results.map((r) => r.dimensions), [[`${site.origin}/files/report.pdf`]]);
  // Unknown commands were ignored without errors, and no cookie was set.
  assert.deepEqual(errors, []);
  assert.deepEqual(await context.cookies(), []);
  await context.close();
});

test('optUserOut and mtm_consent_removed stop tracking; forgetUserOptOut resumes it', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA });
  const page = await context.newPage();
  await page.goto(`${site.origin}/shop`);
  await page.waitForFunction(() => window._paq && !Array.isArray(window._paq));
  const before = total(await waitForRows(spurlos, byName, (rows) => total(rows) >= 7));
  assert.equal(before, 7);
  const optedOut = await page.evaluate(
    () =>
      new Promise((resolve) => {
        window._paq.push(['optUserOut']);
        window._paq.push([function () { resolve(this.isUserOptedOut()); }]);
      }),
  );
  assert.equal(optedOut, true);
  const cookies = await context.cookies();
  assert.deepEqual(cookies.map((c) => c.name), ['mtm_consent_removed']);
  await page.evaluate(() => window.tracker.trackEvent({ category: 'Hidden', action: 'Nope' }));
  // A new page load with the cookie: matomo.js sends nothing.
  await page.goto(`${site.origin}/shop`);
  await page.waitForFunction(() => window._paq && !Array.isArray(window._paq));
  await page.evaluate(() => window._paq.push(['forgetUserOptOut']));
  assert.deepEqual(await context.cookies(), []);
  await page.evaluate(() => window.tracker.trackEvent({ category: 'Back', action: 'Again' }));
  const rows = await waitForRows(spurlos, byName, (rows) => rows.some((r) => r[0][0] === 'Back'));
  assert.ok(!rows.some((r) => r[0][0] === 'Hidden'), JSON.stringify(rows));
  assert.equal(total(rows), before + 1);
  await context.close();
});

test('requireConsent holds requests until consent is given', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA });
  const page = await context.newPage();
  await page.goto(`${site.origin}/shop`);
  await page.waitForFunction(() => window._paq && !Array.isArray(window._paq));
  const start = total(await waitForRows(spurlos, byName, (rows) => total(rows) >= 9));
  await page.evaluate(() => {
    window._paq.push(['requireConsent']);
    window.tracker.trackEvent({ category: 'BeforeConsent', action: 'x' });
    window._paq.push(['setConsentGiven']);
    window.tracker.trackEvent({ category: 'AfterConsent', action: 'x' });
  });
  const rows = await waitForRows(spurlos, byName, (rows) => rows.some((r) => r[0][0] === 'AfterConsent'));
  assert.ok(!rows.some((r) => r[0][0] === 'BeforeConsent'));
  assert.equal(total(rows), start + 1);
  await context.close();
});

test("Matomo's optOutJS checkbox on the customer's page stops and resumes matomo.js", async () => {
  const page2 = await startCustomerSite({
    '/privacy': `<!doctype html><html><head><title>Privacy</title>
      <script>
        var _paq = window._paq = window._paq || [];
        _paq.push(['setTrackerUrl', '${spurlos.base}/piwik/piwik.php']);
        _paq.push(['setSiteId', '${siteId}']);
        window.track = (name) => _paq.push(['trackEvent', name, 'x']);
      </script>
      <script async src="${spurlos.base}/piwik/piwik.js"></script>
      </head><body><div id="matomo-opt-out"></div>
      <script src="${spurlos.base}/index.php?module=CoreAdminHome&action=optOutJS&divId=matomo-opt-out&language=de"></script>
      </body></html>`,
  });
  const context = await browser.newContext({ userAgent: CHROME_UA });
  const page = await context.newPage();
  await page.goto(`${page2.origin}/privacy`);
  await page.waitForFunction(() => window._paq && !Array.isArray(window._paq));
  const box = page.locator('#matomo-opt-out input[type=checkbox]');
  assert.equal(await box.isChecked(), true);
  assert.match(await page.locator('#matomo-opt-out').innerText(), /gezählt/);
  await box.uncheck();
  assert.deepEqual((await context.cookies()).map((c) => c.name), ['mtm_consent_removed']);
  assert.match(await page.locator('#matomo-opt-out').innerText(), /widersprochen/);
  await page.evaluate(() => window.track('WhileOptedOut'));
  await page.locator('#matomo-opt-out input[type=checkbox]').check();
  assert.deepEqual(await context.cookies(), []);
  await page.evaluate(() => window.track('AfterOptIn'));
  const rows = await waitForRows(spurlos, byName, (rows) => rows.some((r) => r[0][0] === 'AfterOptIn'));
  assert.ok(!rows.some((r) => r[0][0] === 'WhileOptedOut'), JSON.stringify(rows));
  await context.close();
  page2.close();
});
