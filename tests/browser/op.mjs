// op.mjs <base> <png> <code> <split|merge> <points-json> <token|->: in the edit view, grid <code>
// is split along a line drawn by clicking the points (split) or merged with the grids under the
// clicked points (merge); the page validates it live, then saves it with a reason. Reports the
// validation, the message and the grid the page shows afterwards.
import { enterToken, project, readMessage, run, waitForIdle, waitForMap } from './lib.mjs';

const panel = (page) => page.evaluate(() => {
  const p = document.querySelector('#edit-panel');
  return {
    code: p.dataset.code, validation: p.dataset.validation,
    op: p.querySelector('#op-box')?.innerText ?? null,
    violations: [...p.querySelectorAll('[data-field=violations] li')].map((li) => li.textContent),
    impactStaff: p.querySelector('[data-field=staff]')?.textContent ?? null,
  };
});

run(async ({ page, base, args, screenshot }) => {
  const [code, kind, pointsJson, token] = args;
  const points = JSON.parse(pointsJson);
  await page.goto(`${base}/#16/${points[0][1]}/${points[0][0]}&view=edit&grid=${code}`);
  await waitForMap(page);
  await page.waitForSelector(`#edit-panel:not([hidden])[data-code="${code}"] [data-field=neighbours]`);
  if (token && token !== '-') await enterToken(page, token);
  // Every point in view, clear of the panel.
  await page.evaluate((pts) => {
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    window.__map.fitBounds([[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]],
      { padding: { top: 120, bottom: 80, left: 420, right: 120 }, duration: 0, maxZoom: 18 });
  }, points);
  await waitForIdle(page);
  await page.click(kind === 'split' ? '#edit-split' : '#edit-merge');
  for (const [lon, lat] of points) {
    const px = await project(page, lon, lat);
    await page.mouse.click(px.x, px.y);
    await page.waitForTimeout(150);
  }
  await page.waitForFunction(() => ['valid', 'invalid', 'error'].includes(document.querySelector('#edit-panel').dataset.validation), null, { timeout: 60_000 });
  await waitForIdle(page);
  const validated = await panel(page);
  const drawnParts = await page.evaluate(() => window.__map.queryRenderedFeatures({ layers: ['op-result-fill'] }).length);
  await screenshot();
  await page.fill('#edit-reason', kind === 'split' ? '浏览器测试：切分' : '浏览器测试：合并');
  await page.click('#op-save');
  await page.waitForFunction((c) => {
    const p = document.querySelector('#edit-panel');
    return (p.dataset.code && p.dataset.code !== c) || document.querySelector('#message[data-kind=error]:not([hidden])');
  }, code, { timeout: 60_000 });
  const message = await readMessage(page);
  const after = await panel(page);
  return { validated, drawnParts, message, after };
});
