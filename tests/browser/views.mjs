// Browser test of the dashboard's pages (issue #24): starts `vigil standalone` with the
// bundled config, a rule that always fires and a dashboard definition of the user's own,
// opens the pages in Debian's chromium (headless, playwright-core) and checks:
//  - the overview lists the install's agent and sensors, shows CPU by mode in % and an
//    instrument's current value in its unit with its alert threshold, and a user's
//    dashboard file is in the menu and drawn;
//  - Explore completes a metric name typed into it, runs the query, and its URL opened
//    afresh runs it again; a broken query shows the error where it is;
//  - the time picker and a drag across a chart load history for the new window, and one
//    click goes back to live;
//  - the alerts page lists the firing alert with its rule linking to Explore; the targets
//    page lists the probe target as up;
//  - at 390×844 no page is wider than the viewport and the menu folds into a button;
//  - the dark and the light theme both render, by preference and by the toggle.
// Screenshots of each page go to the output folder (for a reviewer; not in git).
// Usage: node views.mjs VIGIL_BINARY CONFIG OUTPUT_DIR
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';

import {browserTest, fail} from './harness.mjs';

const [binary, config, output] = process.argv.slice(2);
mkdirSync(output, {recursive: true});

// The bundled config (its rule files where they are: it names them relative to itself), a
// rule that always fires and a dashboard file of the user's own.
function prepare(data) {
  const bundled = readFileSync(config, 'utf8').replace('files = ["rules/*.yml"]', `files = ["${dirname(config)}/rules/*.yml"]`);
  if (!bundled.includes(dirname(config) + '/rules/')) fail('the bundled config no longer names rules/*.yml');
  writeFileSync(join(data, 'vigil.toml'), bundled + `
[[alerts]]
name = "TurbineRunning"
expr = "turbine_speed > 0"
severity = "critical"
annotations = { summary = "turbine at {{ $value }} rpm" }
`);
  mkdirSync(join(data, 'dashboards'));
  writeFileSync(join(data, 'dashboards', 'turbine.json'), JSON.stringify({
    title: 'Turbine hall',
    rows: [{title: 'Speed', panels: [{type: 'chart', title: 'Turbine speed', unit: 'rpm',
                                       queries: [{expr: 'turbine_speed', legend: 'speed'}]}]}],
  }));
  return ['--config', join(data, 'vigil.toml'), '--data-dir', data];
}

const step = (text) => console.log('ok: ' + text);
const shot = (page, name) => page.screenshot({path: join(output, name + '.png'), fullPage: true});
const documentWidth = (page) => page.evaluate(() => document.documentElement.scrollWidth);
const loadedAfter = (page, before) => page.waitForFunction(
  (b) => Number(document.body.dataset.loaded || 0) > b, before, {timeout: 15000});
const loaded = (page) => page.evaluate(() => Number(document.body.dataset.loaded || 0));

await browserTest(binary, prepare, async ({base, newPage}) => {
  const page = await newPage();

  // ---- the overview ----
  await page.goto(base + '/');
  await page.waitForSelector('.agent[data-agent] li[data-sensor="boiler_pressure_out"]', {timeout: 15000});
  const sensors = await page.$$eval('.agent li[data-sensor]', (items) => items.map((li) => li.dataset.sensor));
  for (const name of ['host', 'boiler_pressure_out', 'turbine_speed', 'dashboard_probe']) {
    if (!sensors.includes(name)) fail(`the overview does not list sensor ${name}: ${sensors}`);
  }
  if (!(await page.$eval('#empty', (e) => e.hidden))) fail('the empty state shows on an install with sensors');
  step(`overview lists ${sensors.length} sensors of agent ${await page.$eval('.agent', (e) => e.dataset.agent)}`);

  const cpu = '.panel[data-title="CPU by mode"]';
  await page.waitForSelector(cpu + ' canvas', {timeout: 15000});
  if ((await page.getAttribute(cpu, 'data-unit')) !== '%') fail(`CPU is in "${await page.getAttribute(cpu, 'data-unit')}"`);
  await page.waitForFunction((s) => Number(document.querySelector(s).dataset.series) >= 2, cpu, {timeout: 15000});
  const modes = await page.$$eval(cpu + ' .u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent).slice(1));
  if (!modes.includes('user') || !modes.includes('system')) fail(`CPU modes in the legend: ${modes}`);
  const cpuValue = await page.$eval(cpu + ' .u-legend .u-series:nth-child(2) .u-value', (e) => e.textContent);
  if (!/^\d+(\.\d+)?%$/.test(cpuValue)) fail(`CPU legend value "${cpuValue}" is not a percentage`);
  step(`CPU by mode in %: ${modes.join(', ')}; latest ${cpuValue}`);

  const tile = '.tile[data-series="boiler_pressure_out"]';
  await page.waitForSelector(tile, {timeout: 15000});
  await page.waitForFunction((s) => document.querySelector(s).dataset.thresholds === '1', tile, {timeout: 15000});
  const value = await page.$eval(tile + ' .stat-value', (e) => e.textContent);
  if (!/^1\d(\.\d+)? bar$/.test(value)) fail(`boiler_pressure_out's tile reads "${value}"`);
  const range = await page.$eval(tile + ' .stat-range', (e) => e.textContent);
  if (!/^min 1\d(\.\d+)? bar · max 1\d(\.\d+)? bar · alert at 15\.45 bar$/.test(range)) fail(`tile range "${range}"`);
  if (!(await page.$(tile + ' canvas'))) fail('no sparkline');
  step(`instrument tile: ${value}, ${range}`);
  const throughput = '.panel[data-title="Disk throughput"]';
  if ((await page.getAttribute(throughput, 'data-unit')) !== 'B/s') fail('disk throughput is not in B/s');
  await page.waitForSelector('.panel-table tr[data-key] .state.online', {timeout: 20000});
  step('the probe table shows the probe up');
  await shot(page, 'overview');

  // A dashboard of the user's own, from data_dir/dashboards.
  await page.click('#menu a:has-text("Turbine hall")');
  await page.waitForSelector('.panel[data-title="Turbine speed"] canvas', {timeout: 15000});
  if ((await page.getAttribute('.panel[data-title="Turbine speed"]', 'data-unit')) !== 'rpm') fail('the user dashboard lost its unit');
  step('a dashboard file in data_dir/dashboards is in the menu and drawn');

  // ---- Explore ----
  await page.click('#menu a:has-text("Explore")');
  await page.waitForSelector('#query');
  await page.fill('#query', '');
  await page.type('#query', 'boiler_pres');
  await page.waitForSelector('#completions li:has-text("boiler_pressure_out")', {timeout: 10000});
  await page.keyboard.press('Tab');
  const completed = await page.inputValue('#query');
  if (completed !== 'boiler_pressure_out') fail(`completion gave "${completed}"`);
  await page.type('#query', '{ar');
  await page.waitForSelector('#completions li:has-text("area")', {timeout: 10000});
  await page.keyboard.press('Tab');
  await page.type('#query', '="');
  await page.waitForSelector('#completions li:has-text("boiler")', {timeout: 10000});
  await page.keyboard.press('Tab');
  await page.type('#query', '"}');
  const query = await page.inputValue('#query');
  if (query !== 'boiler_pressure_out{area="boiler"}') fail(`completed query "${query}"`);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.body.dataset.exploreSeries === '1', null, {timeout: 10000});
  const url = page.url();
  if (!url.includes('#/explore?') || new URL(url.replace('#/explore', '')).searchParams.get('q') !== query) fail(`URL ${url} does not hold the query`);
  if ((await page.$$eval('#result-table tbody tr', (r) => r.length)) !== 1) fail('the table has not one row');
  step(`Explore: completed and ran ${query}`);
  await shot(page, 'explore');
  const shared = await newPage();
  await shared.goto(url);
  await shared.waitForFunction(() => document.body.dataset.exploreSeries === '1', null, {timeout: 10000});
  if ((await shared.inputValue('#query')) !== query) fail('the shared URL does not restore the query');
  if (!(await shared.$('.explore-chart canvas'))) fail('the shared URL draws no chart');
  await shared.close();
  step('the URL, opened in a new page, runs the query again');
  await page.fill('#query', 'sum(rate(boiler_pressure_out[5m])');
  await page.keyboard.press('Escape');
  await page.click('#run');
  await page.waitForSelector('#query-error:not([hidden])', {timeout: 10000});
  const error = await page.$eval('#query-error', (e) => e.textContent);
  const caret = await page.$eval('#query-caret', (e) => e.textContent);
  if (!/^1:\d+: /.test(error) || !/\n *\^$/.test(caret)) fail(`error "${error}" / caret "${caret}"`);
  step(`a broken query: "${error}", marked at its column`);

  // ---- time: picker, zoom, back to live ----
  await page.goto(base + '/#/overview');
  await page.waitForSelector(cpu + ' canvas', {timeout: 15000});
  let before = await loaded(page);
  await page.selectOption('#range', '1h');
  await loadedAfter(page, before);
  if (!page.url().includes('range=1h')) fail(`the picker did not set the range: ${page.url()}`);
  const from = await page.inputValue('#from');
  const to = await page.inputValue('#to');
  if (Date.parse(to.replace(' ', 'T') + 'Z') - Date.parse(from.replace(' ', 'T') + 'Z') !== 3600000) fail(`from ${from} to ${to} is not an hour`);
  step(`range 1h: ${from} – ${to}`);
  // Zoom into the last quarter of 5 minutes: the store has held data for less than that.
  before = await loaded(page);
  await page.selectOption('#range', '5m');
  await loadedAfter(page, before);
  const memory = '.panel[data-title="Memory"]';
  await page.$eval(memory, (e) => e.scrollIntoView());
  before = await loaded(page);
  // Drag across the chart's last quarter, as a person would. The page's refresh can redraw
  // the chart, or grow its legend and move it, between measuring and dragging: then
  // measure and drag again.
  for (let attempt = 1; ; ++attempt) {
    if (attempt > 3) fail('three drags across the Memory chart did not zoom');
    await page.waitForSelector(memory + ' .u-over', {timeout: 5000});
    const box = await page.$eval(memory + ' .u-over', (e) => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; }).catch(() => null);
    if (!box) continue;
    await page.mouse.move(box.x + box.w * 0.75, box.y + box.h / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.w - 1, box.y + box.h / 2, {steps: 5});
    await page.mouse.up();
    const zoomedIn = await page.waitForFunction(() => location.hash.includes('from='), null, {timeout: 2500}).then(() => true, () => false);
    if (zoomedIn) break;
  }
  await loadedAfter(page, before);
  const zoomed = new URL(page.url().replace('#/overview', ''));
  const span = Number(zoomed.searchParams.get('to')) - Number(zoomed.searchParams.get('from'));
  if (!(span > 60 && span < 90)) fail(`a drag over the last quarter of 5 minutes zoomed to ${span} s`);
  if ((await page.evaluate(() => document.body.dataset.live)) !== 'false') fail('zoomed, the page still says live');
  // The zoomed window's history, not a live refresh that finished meanwhile: wait for the
  // points themselves.
  await page.waitForFunction((s) => Number(document.querySelector(s).dataset.points) >= 2, memory, {timeout: 10000})
    .catch(() => {});
  const points = Number(await page.getAttribute(memory, 'data-points'));
  if (!(points >= 2)) fail(`${points} points after zooming`);
  step(`zoom by dragging: ${span} s, ${points} points of history`);
  before = await loaded(page);
  await page.click('#earlier');
  await loadedAfter(page, before);
  await page.click('#live');
  await page.waitForFunction(() => document.body.dataset.live === 'true', null, {timeout: 5000});
  step('pan earlier, then back to live with one click');

  // ---- alerts and targets ----
  await page.click('#menu a:has-text("Alerts")');
  const firing = '#firing li[data-alert="TurbineRunning"][data-state="firing"]';
  await page.waitForSelector(firing, {timeout: 20000});
  const summary = await page.$eval(firing + ' .summary', (e) => e.textContent);
  const since = await page.$eval(firing + ' .since', (e) => e.textContent);
  if (!/^firing for \d+ s \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d /.test(since)) fail(`since when: "${since}"`);
  if (!/^turbine at \d+(\.\d+)? rpm$/.test(summary)) fail(`alert summary "${summary}"`);
  const ruleLink = await page.getAttribute(`#rules tr[data-rule="TurbineRunning"] a`, 'href');
  if (!ruleLink.startsWith('#/explore?') || new URLSearchParams(ruleLink.split('?')[1]).get('q') !== 'turbine_speed > 0') fail(`rule link ${ruleLink}`);
  // The menu counts firing alerts every 5 s (app.js countAlerts): the alert may have
  // started since its last count.
  await page.waitForFunction(() => Number(document.querySelector('#menu a[href^="#/alerts"] .badge')?.textContent) >= 1,
                             null, {timeout: 12000}).catch(() => fail('no firing count in the menu'));
  step(`alerts page: TurbineRunning firing, "${summary}", rule links to Explore`);
  await shot(page, 'alerts');
  await page.click('#menu a:has-text("Targets")');
  await page.waitForSelector('#targets-table tr[data-sensor="dashboard_probe"] .state.online', {timeout: 15000});
  await page.waitForSelector('#targets-table tr[data-sensor="boiler_pressure_out"]');
  step('targets page: the probe target up, the simulated sensors listed');
  await shot(page, 'targets');
  await page.close();

  // ---- a phone ----
  const phone = await newPage({viewport: {width: 390, height: 844}, isMobile: true, hasTouch: true});
  for (const path of ['#/overview', '#/explore?q=turbine_speed', '#/alerts', '#/targets', '#/series']) {
    await phone.goto(base + '/' + path);
    await phone.waitForTimeout(2500);
    const width = await documentWidth(phone);
    if (width > 390) fail(`${path} is ${width} px wide at 390`);
  }
  if (await phone.isVisible('#menu')) fail('the menu shows on a phone before it is opened');
  await phone.click('#menu-button');
  if (!(await phone.isVisible('#menu a:has-text("Explore")'))) fail('the menu button does not open the menu');
  await phone.goto(base + '/#/overview');
  await phone.waitForSelector('.tile canvas', {timeout: 15000});
  await shot(phone, 'phone');
  step('390×844: no page wider than the viewport, the menu behind a button');
  await phone.close();

  // ---- themes ----
  const dark = await newPage({colorScheme: 'dark'});
  await dark.goto(base + '/');
  await dark.waitForSelector(cpu + ' canvas', {timeout: 15000});
  const background = () => dark.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  const darkColour = await background();
  await shot(dark, 'overview-dark');
  await dark.click('#theme');
  await dark.waitForSelector(cpu + ' canvas', {timeout: 15000});
  const lightColour = await background();
  const lum = (c) => c.match(/\d+/g).slice(0, 3).reduce((a, b) => a + Number(b), 0);
  if (!(lum(darkColour) < 150 && lum(lightColour) > 600)) fail(`dark ${darkColour}, then light ${lightColour}`);
  await dark.reload();
  await dark.waitForSelector(cpu + ' canvas', {timeout: 15000});
  if ((await background()) !== lightColour) fail('the chosen theme is not kept');
  step(`themes: dark by preference (${darkColour}), light by the toggle (${lightColour}), kept on reload`);
  await dark.close();

});
