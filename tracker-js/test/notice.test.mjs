// The privacy notice embedded in a customer's privacy policy (issue 14, item 5): it renders
// inside another site's page, in German and English, and states the site's own settings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSpurlos, startCustomerSite, launchBrowser, CHROME_UA } from './harness.mjs';

let spurlos, site, browser;
const DOMAIN = 'notice.test';

before(async () => {
  spurlos = await startSpurlos();
  await spurlos.addSite(DOMAIN);
  const page = (lang) => `<!doctype html><html><head><title>Privacy</title></head><body>
    <iframe id="notice" style="width:700px;height:700px" src="${spurlos.base}/privacy-notice?site=${DOMAIN}&lang=${lang}"></iframe></body></html>`;
  site = await startCustomerSite({ '/privacy-de.html': page('de'), '/privacy-en.html': page('en') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  site?.close();
  await spurlos?.stop();
});

for (const [lang, title, truncation] of [
  ['de', 'Webanalyse auf notice.test', 'IPv4 auf /24, IPv6 auf /48'],
  ['en', 'Web analytics on notice.test', 'IPv4 to /24, IPv6 to /48'],
]) {
  test(`the privacy notice is framed by the customer's page (${lang})`, async () => {
    const context = await browser.newContext({ userAgent: CHROME_UA });
    const page = await context.newPage();
    await page.goto(`${site.origin}/privacy-${lang}.html`);
    const frame = page.frameLocator('#notice');
    await frame.locator('h2').waitFor();
    assert.equal(await frame.locator('h2').textContent(), title);
    const text = await frame.locator('body').innerText();
    assert.ok(text.includes(truncation), text);
    assert.ok(text.includes('/opt-out'), text);
    await context.close();
  });
}
