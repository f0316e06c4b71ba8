// The dashboard in Chromium: a customer's user signs in, sees the numbers of known hits,
// filters by clicking a row and clears the filter, changes the period, exports CSV; changes a
// site setting, shares the dashboard, manages the team and tokens; hostile
// paths, referrers and event names show as text and nothing executes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startSpurlos, launchBrowser, CHROME_UA, ADMIN } from './harness.mjs';

let spurlos, browser;
const PASSWORD = 'browser test password';

async function admin(method, path, body) {
  const r = await fetch(`${spurlos.base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return text ? JSON.parse(text) : null;
}

async function hit(body, ua = CHROME_UA) {
  const r = await fetch(`${spurlos.base}/api/event`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain', 'User-Agent': ua },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 202);
}

before(async () => {
  spurlos = await startSpurlos();
  await admin('PUT', '/api/admin/customers/acme', { name: 'Acme' });
  await admin('POST', '/api/admin/sites', { domain: 'dash.test', customer: 'acme' });
  await admin('PUT', '/api/admin/users/ann@example.com', { memberships: [{ customer: 'acme', role: 'owner' }] });
  const link = await admin('POST', '/api/admin/users/ann@example.com/password-link');
  const token = new URL(link.url).searchParams.get('token');
  const r = await fetch(`${spurlos.base}/set-password`, {
    method: 'POST',
    // As the browser's form post would: spurlos refuses form posts without a same-origin Origin.
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: spurlos.base },
    body: new URLSearchParams({ token, password: PASSWORD, confirm: PASSWORD }),
  });
  assert.equal(r.status, 200);
  await hit({ n: 'pageview', u: 'https://dash.test/', d: 'dash.test', r: 'https://www.google.com/' });
  await hit({ n: 'pageview', u: 'https://dash.test/pricing', d: 'dash.test', r: 'https://www.google.com/' });
  await hit(
    { n: 'pageview', u: 'https://dash.test/<script>alert(1)</script>', d: 'dash.test', r: 'https://evil.example/"><img src=x onerror=alert(2)>' },
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  );
  await hit(
    { n: '<img src=x onerror=alert(3)>', u: 'https://dash.test/', d: 'dash.test' },
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
  );
  for (let i = 0; i < 100; i++) {
    const v = await spurlos.query({ site_id: 'dash.test', metrics: ['events'], date_range: 'all' });
    if (v.results[0]?.metrics[0] === 4) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await spurlos?.stop();
});

test('sign in, read the numbers, filter, change the period, export CSV; hostile text stays text', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA, acceptDownloads: true });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${spurlos.base}/dashboard`);
  assert.match(page.url(), /\/login$/);
  await page.fill('input[name=email]', 'ann@example.com');
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL(/\/account$/), page.click('button[type=submit]')]);
  const cookie = (await context.cookies()).find((c) => c.name === 'spurlos_session');
  assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Lax');
  await page.goto(`${spurlos.base}/dashboard`);
  await Promise.all([page.waitForURL(/\/dashboard\/dash/), page.click('text=dash.test')]);
  await page.goto(`${spurlos.base}/dashboard/dash.test?period=day`);
  const metric = (name) => page.locator(`[data-metric=${name}] b`).innerText();
  assert.equal(await metric('visitors'), '2');
  assert.equal(await metric('pageviews'), '3');
  // Hostile strings are shown as text; nothing ran.
  const pages = await page.locator('[data-dimension="event:page"]').innerText();
  assert.match(pages, /\/<script>alert\(1\)<\/script>/);
  const events = await page.locator('[data-dimension="event:name"]').innerText();
  assert.match(events, /<img src=x onerror=alert\(3\)>/);
  assert.equal(await page.locator('script').count(), 0);
  assert.equal(await page.locator('main img').count(), 0);
  // Filter by clicking the Google row, then clear it with the back button and the chip.
  await Promise.all([
    page.waitForURL(/f=visit%3Asource%7CGoogle/),
    page.locator('[data-dimension="visit:source"] a', { hasText: 'Google' }).click(),
  ]);
  assert.equal(await metric('visitors'), '1');
  assert.match(await page.locator('.filters').innerText(), /visit:source = Google/);
  await page.goBack();
  assert.equal(await metric('visitors'), '2');
  await page.goForward();
  await Promise.all([page.waitForURL((u) => !u.search.includes('f=')), page.locator('.filters a').click()]);
  assert.equal(await metric('visitors'), '2');
  // Another period.
  await Promise.all([page.waitForURL(/period=7d/), page.locator('nav a', { hasText: '7d' }).click()]);
  assert.equal(await metric('visitors'), '2');
  // CSV of the pages panel.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.locator('[data-dimension="event:page"] a.csv').click(),
  ]);
  const csv = readFileSync(await download.path(), 'utf8');
  assert.match(csv, /^"event:page","visitors","visits","pageviews","bounce_rate","visit_duration"\r\n/);
  assert.match(csv, /"\/pricing",1,/);
  assert.deepEqual(dialogs, []);
  assert.deepEqual(errors, []);
  await context.close();
});

async function signIn(context) {
  const page = await context.newPage();
  await page.goto(`${spurlos.base}/login`);
  await page.fill('input[name=email]', 'ann@example.com');
  await page.fill('input[name=password]', PASSWORD);
  await Promise.all([page.waitForURL(/\/account$/), page.click('button[type=submit]')]);
  return page;
}

test('an owner changes a site setting and shares the dashboard; a logged-out browser opens the link', async () => {
  const owner = await browser.newContext({ userAgent: CHROME_UA, locale: 'en-US' });
  const page = await signIn(owner);
  await page.goto(`${spurlos.base}/dashboard/dash.test`);
  await Promise.all([page.waitForURL(/\/settings$/), page.click('#settings')]);
  // Change the time zone and add an alias; the page says so and shows the new values.
  await page.fill('input[name=timezone]', 'Europe/Berlin');
  await page.fill('input[name=aliases]', 'shop.dash.test');
  await page.click('form[action$="/settings"] button[type=submit]');
  assert.equal(await page.locator('[role=status]').innerText(), 'Saved.');
  assert.equal(await page.inputValue('input[name=timezone]'), 'Europe/Berlin');
  assert.equal(await page.inputValue('input[name=aliases]'), 'shop.dash.test');
  const site = (await admin('GET', '/api/admin/sites')).find((s) => s.domain === 'dash.test');
  assert.equal(site.timezone, 'Europe/Berlin');
  assert.deepEqual(site.aliases, ['shop.dash.test']);
  // A bad time zone is refused with a message, and nothing changes.
  await page.fill('input[name=timezone]', 'Mars/Olympus');
  await page.click('form[action$="/settings"] button[type=submit]');
  assert.match(await page.locator('[role=alert]').innerText(), /time ?zone/i);
  assert.equal((await admin('GET', '/api/admin/sites')).find((s) => s.domain === 'dash.test').timezone, 'Europe/Berlin');
  // A shared link with a password.
  await page.goto(`${spurlos.base}/dashboard/dash.test/settings`);
  await page.fill('form[action$="/shares"] input[name=password]', 'share secret');
  await page.click('form[action$="/shares"] button[type=submit]');
  const url = await page.locator('#new-share').getAttribute('href');
  assert.match(url, /\/share\/[A-Za-z0-9_-]{20,}$/);
  assert.equal(await page.locator('#shares li').count(), 1);

  // Logged out: a fresh browser context without any cookie.
  const visitor = await browser.newContext({ userAgent: CHROME_UA, locale: 'en-US' });
  const shared = await visitor.newPage();
  await shared.goto(url);
  await shared.fill('input[name=password]', 'wrong');
  await shared.click('button[type=submit]');
  assert.equal(await shared.locator('[data-metric=visitors]').count(), 0);
  await shared.fill('input[name=password]', 'share secret');
  await shared.click('button[type=submit]');
  assert.equal(await shared.locator('[data-metric=visitors] b').innerText(), '2');
  assert.equal(await shared.locator('[data-metric=pageviews] b').innerText(), '3');
  assert.match(await shared.locator('[data-dimension="event:page"]').innerText(), /\/pricing/);
  // Read-only: no settings, no account links.
  assert.equal(await shared.locator('#settings').count(), 0);
  assert.equal(await shared.locator('a[href="/account"]').count(), 0);
  assert.equal((await visitor.cookies()).filter((c) => c.name === 'spurlos_session').length, 0);

  // Revoked: the link is gone for the visitor.
  await page.goto(`${spurlos.base}/dashboard/dash.test/settings`);
  await page.click('#shares li button[type=submit]');
  assert.equal(await page.locator('[role=status]').innerText(), 'Revoked.');
  assert.equal(await page.locator('#shares li').count(), 0);
  const gone = await shared.goto(url);
  assert.equal(gone.status(), 404);
  await owner.close();
  await visitor.close();
});

test('an owner adds a user and creates and revokes an API token on the team page', async () => {
  const context = await browser.newContext({ userAgent: CHROME_UA, locale: 'en-US' });
  const page = await signIn(context);
  await page.goto(`${spurlos.base}/dashboard`);
  await Promise.all([page.waitForURL(/\/dashboard\/team\/acme$/), page.click('a.team')]);
  assert.match(await page.locator('#users').innerText(), /ann@example\.com/);
  // A new viewer, then a one-time set-password link for them.
  await page.fill('form[action$="/users"] input[name=email]', 'vic@example.com');
  await page.selectOption('select[name=role]', 'viewer');
  await page.click('form[action$="/users"] button[type=submit]');
  assert.equal(await page.locator('[role=status]').innerText(), 'Done.');
  const row = page.locator('#users tr', { hasText: 'vic@example.com' });
  assert.match(await row.innerText(), /Viewer \(read only\)/);
  await row.locator('form[action$="/users/link"] button').click();
  assert.match(await page.locator('#shown-once').innerText(), /\/set-password\?token=/);
  // A read token for one site: shown once, it reads that site.
  await page.selectOption('select[name=site]', 'dash.test');
  await page.selectOption('select[name=access]', 'read');
  await page.click('form[action$="/tokens"] button[type=submit]');
  const token = await page.locator('#shown-once').innerText();
  const ask = () =>
    fetch(`${spurlos.base}/api/v2/query`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ site_id: 'dash.test', metrics: ['visitors'], date_range: 'day' }),
    });
  assert.equal((await ask()).status, 200);
  const tokens = page.locator('#tokens tr');
  assert.equal(await tokens.count(), 1);
  assert.match(await tokens.first().innerText(), /dash\.test/);
  assert.ok(!(await page.locator('#tokens').innerText()).includes(token), 'listed by id only');
  await tokens.first().locator('button').click();
  assert.equal(await page.locator('#tokens tr').count(), 0);
  assert.equal((await ask()).status, 401);
  await context.close();
});
