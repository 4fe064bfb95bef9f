// revert.mjs <base> <png> <code> <version> <token|->: in the edit view, open grid <code>'s
// history, preview version <version>, and restore it with a reason. Reports the history the page
// listed and the grid's version afterwards.
import { enterToken, readMessage, run, waitForIdle, waitForMap } from './lib.mjs';

run(async ({ page, base, args, screenshot }) => {
  const [code, version, token] = args;
  await page.goto(`${base}/#15/45.6/84.87&view=edit&grid=${code}`);
  await waitForMap(page);
  await page.waitForSelector(`#edit-panel:not([hidden])[data-code="${code}"] [data-field=neighbours]`);
  if (token && token !== '-') await enterToken(page, token);
  await page.click('#edit-panel details.history-box summary');
  await page.waitForSelector('#edit-panel [data-field=history] li');
  const before = await page.evaluate(() => ({
    version: document.querySelector('#edit-panel').dataset.version,
    history: [...document.querySelectorAll('#edit-panel [data-field=history] li')].map((li) => ({ version: Number(li.dataset.version), text: li.innerText })),
  }));
  const entry = `#edit-panel [data-field=history] li[data-version="${version}"]`;
  await page.click(`${entry} button:first-of-type`);
  await waitForIdle(page);
  const previewDrawn = await page.evaluate(() => window.__map.queryRenderedFeatures({ layers: ['edit-other-line'] }).length);
  await screenshot();
  // Restoring without a reason is refused by the page; then with one.
  await page.click(`${entry} button:last-of-type`);
  const noReason = await readMessage(page);
  await page.evaluate(() => (document.querySelector('#message').hidden = true));
  await page.fill('#edit-reason', '浏览器测试：恢复旧边界');
  await page.click(`${entry} button:last-of-type`);
  await page.waitForFunction((v) => document.querySelector('#edit-panel').dataset.version !== v
    || document.querySelector('#message[data-kind=error]:not([hidden])'), before.version, { timeout: 60_000 });
  const after = await page.evaluate(() => document.querySelector('#edit-panel').dataset.version);
  return { before, previewDrawn, noReason, after, message: await readMessage(page) };
});
