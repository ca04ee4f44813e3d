// Browser test of the all-series page (issues #5 and #24): starts `vigil standalone` on a
// free port, opens #/series in Debian's chromium (headless, driven by playwright-core), and
// checks that a chart's last point advances with the live stream, that a past range draws
// history, that charts read in their units (counters as rates), that the host's many
// charts start folded, and that the filter finds a metric. The other pages are
// views.mjs's. Saves a screenshot in the output folder.
// Usage: node dashboard.mjs VIGIL_BINARY CONFIG OUTPUT_DIR
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

import {browserTest, fail} from './harness.mjs';

const [binary, config, output] = process.argv.slice(2);
mkdirSync(output, {recursive: true});

await browserTest(binary, (data) => ['--config', config, '--data-dir', data], async ({base, newPage}) => {
  const page = await newPage();
  await page.goto(base + '/#/series');

  const chart = '.chart[data-metric="boiler_pressure_out"]';
  await page.waitForSelector(chart + ':not([data-last-ts="0"])', {timeout: 10000});
  const first = Number(await page.getAttribute(chart, 'data-last-ts'));
  await page.waitForFunction(([selector, before]) => Number(document.querySelector(selector).dataset.lastTs) > before,
                             [chart, first], {timeout: 5000});
  const later = Number(await page.getAttribute(chart, 'data-last-ts'));
  console.log(`live: last point moved from ${first} to ${later}`);
  if (await page.$$eval('.chart canvas', (c) => c.length) === 0) fail('no chart drawn');

  // Charts read in their unit: an instrument in its unit label's, a counter as a rate, CPU
  // time as a percentage, hover times to the second with their zone.
  const unitOf = (metric) => page.getAttribute(`.chart[data-metric="${metric}"]`, 'data-unit');
  if ((await unitOf('boiler_pressure_out')) !== 'bar') fail(`boiler_pressure_out in "${await unitOf('boiler_pressure_out')}"`);
  const title = await page.$eval(chart + ' h3', (h) => h.textContent);
  if (title !== 'boiler_pressure_out bar') fail(`chart title "${title}"`);
  for (const [metric, unit] of [['node_network_receive_bytes_total', 'B/s'], ['node_cpu_seconds_total', '%']]) {
    await page.waitForSelector(`.chart[data-metric="${metric}"]`, {state: 'attached', timeout: 10000});
    if ((await unitOf(metric)) !== unit) fail(`${metric} in "${await unitOf(metric)}", not ${unit}`);
    if ((await page.getAttribute(`.chart[data-metric="${metric}"]`, 'data-rate')) !== 'true') fail(`${metric} is not drawn as a rate`);
  }
  const legend = await page.$$eval(chart + ' .u-legend .u-series .u-label', (ls) => ls.map((l) => l.textContent));
  if (legend[1] !== 'boiler_pressure_out') fail(`legend of the one series: ${JSON.stringify(legend)}`);
  await page.hover(chart + ' .u-over', {position: {x: 300, y: 100}});
  const [time, value] = await page.$$eval(chart + ' .u-legend .u-series .u-value', (vs) => vs.map((v) => v.textContent));
  if (!/^1\d(\.\d+)? bar$/.test(value)) fail(`legend value "${value}"`);
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+$/.test(time)) fail(`hover time "${time}"`);
  console.log(`units: boiler_pressure_out ${value} at ${time}; counters as rates in B/s and %`);

  // A past range: history from the query API, once there is more than one step of it.
  await page.waitForFunction((selector) => Number(document.querySelector(selector).dataset.points) >= 14,
                             chart, {timeout: 20000});
  const before = await page.evaluate(() => document.body.dataset.historyLoaded || '0');
  await page.selectOption('#range', '1h');
  await page.waitForFunction((b) => (document.body.dataset.historyLoaded || '0') !== b, before, {timeout: 10000});
  // Drawn at the next frame once the chart is on screen.
  await page.waitForFunction((s) => Number(document.querySelector(s).dataset.points) >= 2, chart, {timeout: 5000})
    .catch(async () => fail(`${await page.getAttribute(chart, 'data-points')} points of history drawn for the last hour`));
  const points = Number(await page.getAttribute(chart, 'data-points'));
  console.log(`history: ${points} points of boiler_pressure_out in the last hour`);

  // The host's 100-odd node_* charts are a group that starts folded (not drawn); the
  // plant's groups are open. Opened by hand, the node charts on screen are drawn.
  const node = 'details.group[data-group="node"]';
  await page.waitForSelector(node, {timeout: 10000});
  if (await page.$eval(node, (d) => d.open)) fail('the node group should start folded');
  if (!(await page.$eval('details.group[data-group="boiler"]', (d) => d.open))) fail('the boiler group should be open');
  if ((await page.$$eval(node + ' .chart canvas', (c) => c.length)) !== 0) fail('folded charts were drawn');
  await page.screenshot({path: join(output, 'dashboard.png'), fullPage: true});
  // Opened by hand and scrolled to: only charts on screen are drawn.
  await page.click(node + ' summary');
  await page.$eval(node + ' .chart', (c) => c.scrollIntoView());
  await page.waitForSelector(node + ' .chart canvas', {timeout: 20000});
  const drawn = await page.$$eval(node + ' .chart canvas', (c) => c.length);
  console.log(`node group: ${await page.$eval(node + ' .count', (e) => e.textContent)}, ${drawn} canvases once opened`);
  // The filter keeps the charts whose metric name has the text.
  await page.fill('#series-filter', 'turbine');
  const visible = await page.$$eval('.chart:not([hidden])', (cs) => cs.map((c) => c.dataset.metric));
  if (!visible.length || visible.some((m) => !m.includes('turbine'))) fail(`filtered charts: ${visible}`);
  console.log(`filter "turbine": ${visible.join(', ')}`);
});
