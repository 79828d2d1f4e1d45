// Loads a page of the example in a real, headless Chromium (Debian's, driven by playwright-core),
// interacts with it and hides it, so the page's web-vitals report to the service's RUM endpoint.
//
//   node rum-browser.mjs <page URL>
//
// Prints one JSON line: the document response's status and traceparent header, what the page
// itself read (its Server-Timing entry and <meta name="traceparent">), and console errors; the
// caller checks what arrived in the service's /metrics. Exits non-zero when the browser cannot start or the page fails.
// CHROMIUM overrides the executable (default /usr/bin/chromium).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const url = process.argv[2];
if (!url) {
  console.error('usage: node rum-browser.mjs <page URL>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const userDataDir = mkdtempSync(join(tmpdir(), 'glimpse-rum-chromium-'));
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--user-data-dir=${userDataDir}`,
];

const out = { consoleErrors: [] };
let context;
try {
  // launchPersistentContext: the fresh --user-data-dir above is the profile.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: args.filter((a) => !a.startsWith('--user-data-dir')),
    timeout: 30_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error') out.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => out.consoleErrors.push(String(e)));
  const response = await page.goto(url, { waitUntil: 'load' });
  out.documentStatus = response.status();
  out.documentTraceparent = response.headers()['traceparent'] ?? null;
  // web-vitals reports FCP and TTFB soon after load; the late banner shifts the layout at 300 ms.
  await page.waitForTimeout(800);
  out.seenByPage = await page.evaluate(() => ({
    serverTiming:
      performance.getEntriesByType('navigation')[0]?.serverTiming?.find((e) => e.name === 'traceparent')
        ?.description ?? null,
    meta: document.querySelector('meta[name="traceparent"]')?.content ?? null,
  }));
  // A real click (pointer events through the browser's input pipeline): INP, and the end of LCP.
  await page.click('#like');
  // web-vitals processes interactions in an idle callback; a user reads before leaving.
  await page.waitForTimeout(1500);
  // Leaving the page hides it: web-vitals reports LCP, CLS and INP, the snippet sends the batch.
  await page.goto('about:blank');
  // sendBeacon is fire-and-forget: give the requests time to leave before the browser closes.
  await page.waitForTimeout(1000);
} catch (e) {
  out.error = String(e && e.stack ? e.stack : e);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
process.exit(out.error ? 1 : 0);
