// coverage.mjs <base> <png> <region> <lon> <lat> [token]: the coverage view, opened from a link
// (#...&view=coverage&minutes=1&hour=8&region=...), draws the blind spots, the shaded grids and
// the staging points and lists the totals; a click at (lon, lat) lists who reaches it in time.
// Without a token first (the refusal, if any, is reported), then with it when one is given.
// Reports what the page shows; tests/browser.rs compares it with the server's own numbers.
import { enterToken, readMessage, run, waitForIdle, waitForMap, project } from './lib.mjs';

const settled = (page) => page.waitForFunction(() => ['done', 'error'].includes(document.querySelector('#coverage-panel').dataset.state), null, { timeout: 90_000 });

function readPanel(page) {
  return page.evaluate(() => {
    const p = document.querySelector('#coverage-panel');
    const field = (f) => p.querySelector(`[data-field=${f}]`)?.textContent ?? null;
    const m = window.__map;
    const count = (layer) => m.queryRenderedFeatures({ layers: [layer] }).length;
    return {
      state: p.dataset.state,
      hidden: p.hidden,
      households: field('households'),
      area: field('area'),
      gates: field('gates'),
      entrances: field('entrances'),
      blind: field('blind'),
      staging: [...p.querySelectorAll('[data-field=staging] li')].map((li) => li.textContent),
      text: p.innerText,
      areas: p.dataset.areas === undefined ? null : Number(p.dataset.areas),
      drawn: { blind: count('cov-blind'), grids: count('cov-grids'), staging: count('cov-staging'), areas: count('cov-areas-fill') },
      viewButton: document.querySelector('#views button[aria-pressed=true]')?.dataset.view,
      controls: { minutes: p.querySelector('#cov-minutes').value, hour: p.querySelector('#cov-hour').value, region: p.querySelector('#cov-region').value },
    };
  });
}

run(async ({ page, base, args, screenshot }) => {
  const [region, lon, lat, token] = args;
  await page.goto(`${base}/#13.5/${lat}/${lon}&view=coverage&minutes=1&hour=8&region=${region}`);
  await waitForMap(page);
  await settled(page);
  const anonymous = { state: await page.evaluate(() => document.querySelector('#coverage-panel').dataset.state), message: await readMessage(page) };
  if (token) {
    await enterToken(page, token);
    await page.waitForFunction(() => document.querySelector('#coverage-panel').dataset.state === 'loading' || document.querySelector('#coverage-panel').dataset.state === 'done');
    await settled(page);
  }
  // The responders' reach areas come after the totals.
  if (token) await page.waitForFunction(() => document.querySelector('#coverage-panel').dataset.areas !== undefined, null, { timeout: 90_000 });
  await waitForIdle(page);
  const panel = await readPanel(page);
  const hash = await page.evaluate(() => location.hash);
  await screenshot();

  // Who reaches (lon, lat) within the minute at 08:00.
  const px = await project(page, +lon, +lat);
  await page.mouse.click(px.x, px.y);
  await page.waitForSelector('#card:not([hidden]) [data-field=responders], #card:not([hidden]) [data-field=unmet]', { timeout: 60_000 });
  await waitForIdle(page);
  const card = await page.evaluate(() => ({
    ids: [...document.querySelectorAll('#card [data-field=responders] li')].map((li) => Number(li.dataset.id)),
    travel: [...document.querySelectorAll('#card [data-field=responders] [data-field=travel]')].map((e) => e.textContent),
    unmet: document.querySelector('#card [data-field=unmet]')?.textContent ?? null,
    text: document.querySelector('#card-body').innerText,
    reachDrawn: window.__map.queryRenderedFeatures({ layers: ['cov-reach-fill'] }).length,
  }));

  // The English toggle redraws the panel.
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  const en = await page.evaluate(() => ({ panel: document.querySelector('#coverage-panel').innerText, card: document.querySelector('#card-body').innerText }));
  return { anonymous, panel, hash, card, en };
});
