// edit.mjs <base> <png> <code> <p> <r> <i> <lon> <lat> <token|-> [other-save-json]:
// a planner edits grid <code> in the edit view (opened from a link): drags vertex i of ring r of
// polygon p to (lon, lat), waits for the live validation, tries to save without a reason (the
// page must ask for one), then saves with a reason.
//
// With another save ({method, path, ifMatch, body}: a PUT or a boundary move of the same grid),
// someone else sends it through the API (from node, with the same token) after the page loaded
// the grid and before it saves: the page must report the conflict, keep the drawing, show the other version,
// and after "re-apply" save successfully on top of it. Reports what the page showed at each step.
import { enterToken, project, readMessage, run, waitForIdle, waitForMap } from './lib.mjs';

const panelState = (page) => page.evaluate(() => {
  const p = document.querySelector('#edit-panel');
  const field = (f) => p.querySelector(`[data-field=${f}]`)?.textContent ?? null;
  return {
    code: p.dataset.code, version: p.dataset.version, validation: p.dataset.validation, save: p.dataset.save,
    dirty: p.dataset.dirty, validity: field('validity'),
    violations: [...p.querySelectorAll('[data-field=violations] li')].map((li) => ({ rule: li.dataset.rule, severity: li.className, text: li.textContent })),
    impact: Object.fromEntries(['buildings', 'households', 'population', 'gates', 'entrances', 'staff'].map((f) => [f, field(f)])),
    conflict: p.querySelector('#edit-conflict')?.innerText ?? null,
    history: [...p.querySelectorAll('[data-field=history] li')].map((li) => Number(li.dataset.version)),
    text: p.innerText,
  };
});

const waitFor = (page, attr, values, timeout = 60_000) => page.waitForFunction(
  ([a, vs]) => vs.includes(document.querySelector('#edit-panel').dataset[a]), [attr, values], { timeout });

run(async ({ page, base, args, screenshot }) => {
  const [code, p, r, i, lon, lat, token, conflictJson] = args;
  const [pi, ri, ii] = [p, r, i].map(Number);
  const auth = token && token !== '-' ? token : null;
  await page.goto(`${base}/#18/${lat}/${lon}&view=edit&grid=${code}`);
  await waitForMap(page);
  // The grid and its neighbours (whose shared vertices move with it) are loaded.
  await page.waitForSelector(`#edit-panel:not([hidden])[data-code="${code}"] [data-field=neighbours]`);
  if (auth) await enterToken(page, auth);
  await page.evaluate(([la, lo]) => window.__map.jumpTo({ center: [lo, la], zoom: 18 }), [+lat, +lon]);
  await waitForIdle(page);
  const loaded = await panelState(page);
  const before = await page.evaluate(([a, b, c]) => window.__editor.state.main.mine[a][b][c], [pi, ri, ii]);

  // Drag the vertex to (lon, lat).
  const from = await project(page, before[0], before[1]);
  const to = await project(page, +lon, +lat);
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 5 });
  await page.mouse.move(to.x, to.y, { steps: 5 });
  await page.mouse.up();
  await waitFor(page, 'validation', ['valid', 'invalid', 'error']);
  await waitForIdle(page);
  const dragged = await page.evaluate(([a, b, c]) => window.__editor.state.main.mine[a][b][c], [pi, ri, ii]);
  const validated = await panelState(page);
  const drawnViolations = await page.evaluate(() => window.__map.queryRenderedFeatures({ layers: ['edit-viol-fill', 'edit-viol-line', 'edit-viol-point'] }).length);

  // Saving without a reason is refused by the page itself.
  await page.click('#edit-save');
  const noReason = await readMessage(page);

  let other = null;
  if (conflictJson) {
    // Someone else saves first, through the API.
    const o = JSON.parse(conflictJson);
    const resp = await fetch(`${base}${o.path}`, {
      method: o.method,
      headers: {
        'Content-Type': 'application/json',
        ...(o.ifMatch ? { 'If-Match': `"${o.ifMatch}"` } : {}),
        ...(auth ? { Authorization: `Bearer ${auth}` } : {}),
      },
      body: JSON.stringify(o.body),
    });
    other = { status: resp.status, etag: resp.headers.get('etag'), body: await resp.text() };
    if (!resp.ok) throw new Error(`the other save failed: ${resp.status} ${other.body}`);
  }

  await page.fill('#edit-reason', conflictJson ? '浏览器测试：冲突后重新应用' : '浏览器测试：移动一个顶点');
  await page.click('#edit-save');
  await waitFor(page, 'save', ['saved', 'conflict', 'rejected', 'error']);
  let conflict = null;
  if (conflictJson) {
    await page.waitForSelector('#edit-conflict #edit-reapply:not([disabled])');
    await waitForIdle(page);
    conflict = {
      panel: await panelState(page),
      message: await readMessage(page),
      kept: await page.evaluate(([a, b, c]) => window.__editor.state.main.mine[a][b][c], [pi, ri, ii]),
      otherDrawn: await page.evaluate(() => window.__map.queryRenderedFeatures({ layers: ['edit-other-line'] }).length),
    };
    await screenshot();
    await page.click('#edit-reapply');
    await waitFor(page, 'validation', ['valid', 'invalid', 'error']);
    conflict.reapplied = await panelState(page);
    await page.click('#edit-save');
    await waitFor(page, 'save', ['saved', 'conflict', 'rejected', 'error']);
  }
  const saved = await panelState(page);
  const message = await readMessage(page);
  await waitForIdle(page);
  if (!conflictJson) await screenshot();
  return { loaded, before, dragged, validated, drawnViolations, noReason, other, conflict, saved, message };
});
