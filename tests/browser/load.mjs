// load.mjs: the page loads, draws the district and goes idle; the view round-trips through the
// URL hash. Reports what was drawn, the UI text, the views, the time to the first complete drawing
// and the tiles it took; tests/browser.rs judges them. Also runs on its own against any server
// (`node tests/browser/load.mjs http://127.0.0.1:8080 /tmp/load.png`) to time a real build.
import { run, view, waitForMap } from './lib.mjs';

const DRAWN = ['grids-fill', 'communities-line', 'subdistricts-line', 'community-labels', 'subdistrict-labels', 'responders'];

run(async ({ page, context, base, screenshot }) => {
  // The tiles of the first view (MapLibre's worker fetches them: watch the whole context).
  const tileRequests = [];
  let recording = true;
  context.on('requestfinished', (r) => {
    if (recording && /^\/tiles\/\d+\//.test(new URL(r.url()).pathname)) tileRequests.push(r);
  });
  const started = Date.now();
  await page.goto(`${base}/`);
  await waitForMap(page);
  const idleMs = Date.now() - started;
  recording = false;
  // From the browser's navigation start to MapLibre's first idle: the whole district drawn.
  const idleSinceNavigationMs = Math.round(await page.evaluate(() => window.__mapIdleAt));
  // When the page's own pieces arrived, ms after navigation start (where the time goes).
  const phases = await page.evaluate(() => {
    const end = (re) => Math.round(performance.getEntriesByType('resource').find((r) => re.test(r.name))?.responseEnd ?? -1);
    return {
      maplibre: end(/maplibre-gl\.mjs$/),
      style: end(/\/style\.json$/),
      domContentLoaded: Math.round(performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? -1),
      idle: Math.round(window.__mapIdleAt),
    };
  });
  const tiles = await Promise.all(tileRequests.map(async (r) => ({
    url: r.url(),
    bytes: (await r.sizes()).responseBodySize,
  })));
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
  return { idleMs, idleSinceNavigationMs, phases, tiles, drawn, ui, first, wanted, restored };
});
