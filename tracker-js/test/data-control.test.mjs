// Data control in Chromium (issue 14): an owner downloads the site's export, deletes a day
// after the confirmation (typing the domain) and sees the numbers change, sets how long
// statistics are kept, and reads the audit log of it all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSpurlos, launchBrowser, CHROME_UA, ADMIN } from './harness.mjs';

let spurlos, browser;
const PASSWORD = 'data control password';
const DOMAIN = 'control.test';

async function admin(method, path, body) {
  const r = await fetch(`${spurlos.base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

before(async () => {
  spurlos = await startSpurlos();
  await admin('PUT', '/api/admin/customers/acme', { name: 'Acme' });
  const site = await admin('POST', '/api/admin/sites', { domain: DOMAIN, customer: 'acme' });
  await admin('PUT', '/api/admin/users/owner@example.com', { memberships: [{ customer: 'acme', role: 'owner' }] });
  const link = await admin('POST', '/api/admin/users/owner@example.com/password-link');
  const token = new URL(link.url).searchParams.get('token');
  const r = await fetch(`${spurlos.base}/set-password`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: spurlos.base },
    body: new URLSearchParams({ token, password: PASSWORD, confirm: PASSWORD }),
  });
  assert.equal(r.status, 200);
  // Past page views on two days (Matomo's cdt with the admin token), then archived.
  for (const [path, when, ip] of [
    ['/a', '2024-06-01 10:00:00', '192.0.2.1'],
    ['/b', '2024-06-01 10:03:00', '192.0.2.1'],
    ['/a', '2024-06-02 09:00:00', '198.51.100.7'],
  ]) {
    const q = new URLSearchParams({
      idsite: String(site.id), rec: '1', url: `https://${DOMAIN}${path}`, cdt: when, cip: ip, token_auth: ADMIN,
    });
    const h = await fetch(`${spurlos.base}/matomo.php?${q}`, { headers: { 'User-Agent': CHROME_UA } });
    assert.equal(h.status, 200);
  }
  for (let i = 0; i < 100; i++) {
    const v = await spurlos.query({ site_id: DOMAIN, metrics: ['events'], date_range: 'all' });
    if (v.results[0]?.metrics[0] === 3) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  await admin('POST', '/api/admin/archive');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await spurlos?.stop();
});

test('an owner exports, deletes a day after confirming, sets retention and reads the audit log', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${spurlos.base}/login`);
  await page.fill('input[name=email]', 'owner@example.com');
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL(/\/account$/), page.click('button[type=submit]')]);
  const period = 'period=custom&from=2024-06-01&to=2024-06-02';
  await page.goto(`${spurlos.base}/dashboard/${DOMAIN}?${period}`);
  const metric = (name) => page.locator(`[data-metric=${name}] b`).innerText();
  assert.equal(await metric('pageviews'), '3');

  // The export: a zip that starts like one and names Plausible's files.
  await page.goto(`${spurlos.base}/dashboard/${DOMAIN}/settings`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-zip')]);
  const zip = readFileSync(await download.path());
  assert.equal(zip.subarray(0, 2).toString(), 'PK');
  assert.ok(zip.includes('imported_visitors_20240601_20240602.csv'));
  assert.ok(zip.includes('manifest.json'));

  // Delete 2024-06-01: the confirmation names the site and the day; a wrong domain deletes
  // nothing; the right one deletes, and the dashboard shows it.
  await page.fill('#delete ~ form input[name=from]', '2024-06-01');
  await page.fill('#delete ~ form input[name=to]', '2024-06-01');
  await Promise.all([page.waitForURL(/\/delete\?/), page.click('#delete ~ form button')]);
  const what = await page.locator('#erase-what').innerText();
  assert.match(what, /2024-06-01/);
  assert.match(what, /control\.test/);
  await page.fill('input[name=confirm]', 'other.test');
  await page.click('button.danger');
  assert.match(await page.locator('[role=alert]').innerText(), /nothing was deleted/);
  await page.fill('input[name=confirm]', DOMAIN);
  await page.click('button.danger');
  const deleted = await page.locator('#erased').innerText();
  assert.match(deleted, /Events \(page views included\)\s+2/);
  await page.goto(`${spurlos.base}/dashboard/${DOMAIN}?${period}`);
  assert.equal(await metric('pageviews'), '1');

  // Retention: shorter, in CNIL mode; the page says what applies.
  await page.goto(`${spurlos.base}/dashboard/${DOMAIN}/settings`);
  await page.fill('input[name=retention_days]', '400');
  await page.check('input[name=cnil]');
  await page.click('form[action$="/settings"] button[type=submit]');
  assert.match(await page.locator('#retention-applies').innerText(), /400 days.*25 months/);

  // The audit log has it all.
  await page.goto(`${spurlos.base}/dashboard/team/acme/audit`);
  const log = await page.locator('#audit').innerText();
  for (const action of ['sign_in', 'statistics_exported', 'statistics_deleted', 'site_settings_changed']) {
    assert.ok(log.includes(action), `${action} missing: ${log}`);
  }
  assert.deepEqual(errors, []);
  await context.close();
});
