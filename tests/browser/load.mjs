// load.mjs: the page loads, draws the district and goes idle; the view round-trips through the
// URL hash. Reports what was drawn, the UI text and the views; tests/browser.rs judges them.
import { run, view, waitForMap } from './lib.mjs';

const DRAWN = ['grids-fill', 'communities-line', 'subdistricts-line', 'community-labels', 'subdistrict-labels', 'responders'];

run(async ({ page, base, screenshot }) => {
  const started = Date.now();
  await page.goto(`${base}/`);
  await waitForMap(page);
  const idleMs = Date.now() - started;
  const drawn = await page.evaluate((layers) => {
    const m = window.__map;
    return Object.fromEntries(layers.map((l) => [l, m.queryRenderedFeatures({ layers: [l] }).length]));
  }, DRAWN);
  const ui = await page.evaluate(() => ({
    title: document.title,
    lang: document.documentElement.lang,
    h1: document.querySelector('#bar h1').textContent,
    legend: document.querySelector('#legend').innerText,
    scale: document.querySelector('.maplibregl-ctrl-scale')?.textContent ?? null,
  }));
  const first = await view(page);
  await screenshot();

  // Open a view by URL: the map must come up there (a new load: the query string differs).
  const wanted = { zoom: 15.5, lon: first.center[0] + 0.01, lat: first.center[1] - 0.005 };
  await page.goto(`${base}/?again#${wanted.zoom}/${wanted.lat.toFixed(5)}/${wanted.lon.toFixed(5)}`);
  await waitForMap(page);
  const restored = await view(page);
  return { idleMs, drawn, ui, first, wanted, restored };
});
