// click.mjs <base> <png> <lon> <lat>: a click on the map at (lon, lat) shows the card of the grid
// there. Reports the card's fields; tests/browser.rs checks them against the snapshot.
import { clickAt, readCard, run, waitForMap } from './lib.mjs';

run(async ({ page, base, args }) => {
  const [lon, lat] = args.map(Number);
  await page.goto(`${base}/#15/${lat}/${lon}`);
  await waitForMap(page);
  const pixel = await clickAt(page, lon, lat);
  const selected = await page.evaluate(() => window.__map.queryRenderedFeatures({ layers: ['selection-line'] }).length);
  return { pixel, card: await readCard(page), selected };
});
