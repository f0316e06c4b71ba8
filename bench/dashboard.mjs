// Dashboard benchmark: signs in to a running spurlos in Debian's Chromium and loads a site's
// dashboard (all panels filled) 11 times; prints the load times and the median.
// Usage: node bench/dashboard.mjs BASE_URL EMAIL PASSWORD SITE FROM TO   (from bench/dashboard.sh)
import { createRequire } from 'node:module';
const require = createRequire(new URL('../tracker-js/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const [base, email, password, site, from, to] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext()).newPage();
await page.goto(`${base}/login`);
await page.fill('input[name=email]', email);
await page.fill('input[name=password]', password);
await Promise.all([page.waitForURL(/account/), page.click('button[type=submit]')]);
const times = [];
for (let i = 0; i < 11; i++) {
  const t = Date.now();
  await page.goto(`${base}/dashboard/${site}?period=custom&from=${from}&to=${to}`, { waitUntil: 'load' });
  const rows = await page.locator('section.panel tr').count();
  times.push(Date.now() - t);
  if (rows === 0) throw new Error('the panels are empty');
}
times.sort((a, b) => a - b);
console.log(`dashboard load (ms): ${times.join(', ')}; median ${times[5]}`);
await browser.close();
