// search.mjs <base> <png> <code> <lon> <lat> <unknown_code>: searching a region code flies the
// map there (the point (lon, lat) inside the region ends up in view) and shows its card; an
// unknown code shows a visible error message.
import { readCard, run, view, waitForIdle, waitForMap } from './lib.mjs';

async function search(page, text) {
  await page.fill('#search-input', text);
  await page.press('#search-input', 'Enter');
}

run(async ({ page, base, args, screenshot }) => {
  const [code, lon, lat, unknown] = args;
  await page.goto(`${base}/`);
  await waitForMap(page);
  const before = await view(page);
  await search(page, code);
  await page.waitForSelector(`#card:not([hidden])[data-code="${code}"]`);
  await waitForIdle(page);
  const after = await view(page);
  const card = await readCard(page);
  const [[w, s], [e, n]] = after.bounds;
  const pointInView = +lon > w && +lon < e && +lat > s && +lat < n;
  await screenshot();

  await search(page, unknown);
  await page.waitForSelector('#message:not([hidden])');
  const message = await page.evaluate(() => {
    const m = document.querySelector('#message');
    return { text: m.textContent, kind: m.dataset.kind, visible: m.getBoundingClientRect().height > 0 };
  });
  return { before, after, card, pointInView, message };
});
