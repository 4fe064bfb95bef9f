// i18n.mjs <base> <png> <lon> <lat>: the language button switches the UI (bar, legend, card)
// from Chinese to English, and the choice survives a reload.
import { clickAt, run, waitForMap } from './lib.mjs';

function texts(page) {
  return page.evaluate(() => ({
    lang: document.documentElement.lang,
    title: document.title,
    h1: document.querySelector('#bar h1').textContent,
    searchButton: document.querySelector('#search button').textContent,
    placeholder: document.querySelector('#search-input').placeholder,
    langButton: document.querySelector('#lang').textContent,
    legend: document.querySelector('#legend').innerText,
    card: document.querySelector('#card').hidden ? null : document.querySelector('#card-body').innerText,
  }));
}

run(async ({ page, base, args, screenshot }) => {
  const [lon, lat] = args.map(Number);
  await page.goto(`${base}/#15/${lat}/${lon}`);
  await waitForMap(page);
  await clickAt(page, lon, lat);
  const zh = await texts(page);
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'en');
  const en = await texts(page);
  await screenshot();
  await page.reload();
  await waitForMap(page);
  const reloaded = await texts(page);
  return { zh, en, reloaded };
});
