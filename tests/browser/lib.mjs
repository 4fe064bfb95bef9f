// lib.mjs: what every browser-test driver shares (tests/browser.rs runs one driver per test).
//
// A driver is `node tests/browser/<name>.mjs <base_url> <screenshot.png> [args...]`. It launches
// Debian's /usr/bin/chromium through playwright-core (from web/node_modules; never a downloaded
// browser), records every request, console error and page error, runs its scenario, saves a
// screenshot and prints ONE line of JSON on stdout: {ok, requests, external, consoleErrors, ...}.
// The Rust test asserts on that JSON. A driver failure (timeout, exception) prints
// {ok: false, error} and exits 1; the whole run is capped so a hung browser cannot hang the tests.

import { createRequire } from 'node:module';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const CHROMIUM = process.env.GRIDMAP_CHROMIUM || '/usr/bin/chromium';
// Headless WebGL through SwiftShader; no traffic of Chromium's own (see shared STACK.md).
const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--enable-unsafe-swiftshader',
];
const HARD_LIMIT_MS = Number(process.env.GRIDMAP_BROWSER_TIMEOUT_MS || 120_000);
export const VIEWPORT = { width: 1280, height: 800 };

/** Waits for the page's first "layers drawn and idle" flag (set by web/app/main.js). */
export async function waitForMap(page, timeout = 60_000) {
  await page.waitForFunction(() => window.__mapIdle === true, null, { timeout });
}

/** Waits until MapLibre has finished moving and drawing (after a click, fly or zoom). */
export async function waitForIdle(page) {
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.__map;
    if (!map.isMoving() && map.loaded() && map.areTilesLoaded()) resolve();
    else map.once('idle', resolve);
  }));
}

/** The pixel of (lon, lat) in the viewport. */
export async function project(page, lon, lat) {
  return page.evaluate(([x, y]) => {
    const p = window.__map.project([x, y]);
    return { x: p.x, y: p.y };
  }, [lon, lat]);
}

/** The map's view: {zoom, center: [lon, lat], bounds: [[w, s], [e, n]], hash}. */
export async function view(page) {
  return page.evaluate(() => {
    const m = window.__map;
    const b = m.getBounds();
    return {
      zoom: m.getZoom(),
      center: m.getCenter().toArray(),
      bounds: [[b.getWest(), b.getSouth()], [b.getEast(), b.getNorth()]],
      hash: location.hash,
    };
  });
}

/**
 * Runs `scenario({page, context, base, args, screenshot})` in a fresh browser and prints the
 * JSON report. `screenshot()` saves the screenshot; if the scenario never calls it, it is taken
 * at the end.
 */
export async function run(scenario) {
  const [base, shotPath, ...args] = process.argv.slice(2);
  if (!base || !shotPath) {
    console.error('usage: node <driver>.mjs <base_url> <screenshot.png> [args...]');
    process.exit(2);
  }
  const report = { ok: false, base, requests: [], external: [], consoleErrors: [], consoleWarnings: [], failedRequests: [] };
  const finish = (code) => {
    console.log(JSON.stringify(report));
    process.exit(code);
  };
  const timer = setTimeout(() => {
    report.error = `driver timed out after ${HARD_LIMIT_MS} ms`;
    finish(1);
  }, HARD_LIMIT_MS);

  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    const context = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    // Every request of every page and worker in this context (MapLibre's worker fetches some layers).
    context.on('request', (r) => report.requests.push(r.url()));
    context.on('requestfailed', (r) => {
      const why = r.failure()?.errorText ?? '';
      // MapLibre cancels tiles it no longer needs (the view moved on) and a navigation cancels
      // background loads: those are not failures of the server.
      if (why.includes('ERR_ABORTED') && new URL(r.url()).pathname.startsWith('/tiles/')) {
        report.abortedTiles = (report.abortedTiles ?? 0) + 1;
        return;
      }
      report.failedRequests.push(`${r.url()}: ${why}`);
    });
    const page = await context.newPage();
    page.on('console', (m) => {
      const line = `${m.text()} @ ${m.location()?.url ?? ''}`;
      if (m.type() === 'error') report.consoleErrors.push(line);
      else if (m.type() === 'warning') report.consoleWarnings.push(line);
    });
    page.on('pageerror', (e) => report.consoleErrors.push(`pageerror: ${e.message}`));
    let shot = false;
    const screenshot = async () => {
      await page.screenshot({ path: shotPath });
      shot = true;
    };
    Object.assign(report, await scenario({ page, context, base, args, screenshot }));
    if (!shot) await screenshot();
    report.ok = true;
  } catch (e) {
    report.error = String(e?.stack ?? e);
  } finally {
    report.external = report.requests.filter((u) => u !== base && !u.startsWith(`${base}/`));
    clearTimeout(timer);
    await browser?.close().catch(() => {});
  }
  finish(report.ok ? 0 : 1);
}

/** The card as the user sees it. */
export function readCard(page) {
  return page.evaluate(() => {
    const c = document.querySelector('#card');
    const field = (f) => c.querySelector(`[data-field=${f}]`)?.textContent ?? null;
    return {
      hidden: c.hidden,
      level: c.dataset.level ?? null,
      code: c.dataset.code ?? null,
      shownCode: field('code'),
      name: field('name'),
      community: field('community'),
      subdistrict: field('subdistrict'),
      staff: [...c.querySelectorAll('[data-field=staff] li')].map((li) => li.textContent),
      apiLink: c.querySelector('a.api-link')?.getAttribute('href') ?? null,
      text: c.innerText,
    };
  });
}

/** Clicks the map at (lon, lat) and waits for the card of that point. */
export async function clickAt(page, lon, lat) {
  const px = await project(page, lon, lat);
  await page.mouse.click(px.x, px.y);
  await page.waitForSelector('#card:not([hidden]) .kicker');
  await waitForIdle(page);
  return px;
}

/** Enters `token` in the page's token dialog (the page keeps it in sessionStorage). */
export async function enterToken(page, token) {
  await page.click('#token');
  await page.fill('#token-input', token);
  await page.click('#token-save');
  await page.waitForFunction(() => !document.querySelector('#token-dialog').open);
}

/** The visible message: {text, kind} or null. */
export function readMessage(page) {
  return page.evaluate(() => {
    const m = document.querySelector('#message');
    return m.hidden ? null : { text: m.textContent, kind: m.dataset.kind };
  });
}
