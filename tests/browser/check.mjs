// check.mjs <base> <png>: in the edit view with no grid chosen, "check the whole map" asks
// GET /api/check; the page lists and draws what is broken, switches language with the rest of the
// UI, and clicking a listed error opens its grid. Reports the summary, the list (in both
// languages), what is drawn, and the grid opened.
import { run, waitForIdle, waitForMap } from './lib.mjs';

const listed = (page) => page.evaluate(() => ({
  summary: document.querySelector('#edit-panel [data-field=check]')?.textContent ?? null,
  items: [...document.querySelectorAll('#edit-panel [data-field=check-violations] li')].map((li) => ({
    rule: li.dataset.rule, codes: li.dataset.codes, text: li.textContent,
  })),
}));

run(async ({ page, base, screenshot }) => {
  await page.goto(`${base}/#13/45.6/84.87&view=edit`);
  await waitForMap(page);
  await page.waitForSelector('#edit-panel:not([hidden]) #edit-check');
  const before = await page.evaluate(() => document.querySelector('#edit-panel').dataset.check);
  await page.click('#edit-check');
  await page.waitForFunction(() => ['done', 'error'].includes(document.querySelector('#edit-panel').dataset.check), null, { timeout: 60_000 });
  await waitForIdle(page);
  const state = await page.evaluate(() => document.querySelector('#edit-panel').dataset.check);
  const zh = await listed(page);
  const drawn = await page.evaluate(() => window.__map.queryRenderedFeatures({ layers: ['edit-viol-fill'] })
    .filter((f) => f.properties.rule === 'overlaps-sibling').length);
  await screenshot();
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  const en = await listed(page);
  await page.click('#edit-panel [data-field=check-violations] li.error');
  await page.waitForFunction(() => document.querySelector('#edit-panel').dataset.code, null, { timeout: 60_000 });
  const opened = await page.evaluate(() => document.querySelector('#edit-panel').dataset.code);
  return { before, state, zh, en, drawn, opened };
});
