// Browser test of a first run (issue #24, empty states): `vigil standalone` without a
// config has no sensors, and the dashboard says what to do instead of showing nothing;
// a sample then written over HTTP (line protocol) is drawn at once, through the push
// queue and the live stream. Saves a screenshot of the empty state in the output folder.
// Usage: node empty.mjs VIGIL_BINARY OUTPUT_DIR
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';

import {browserTest, fail} from './harness.mjs';

const [binary, output] = process.argv.slice(2);
mkdirSync(output, {recursive: true});

await browserTest(binary, (data) => ['--data-dir', data], async ({base, newPage}) => {
  const page = await newPage();
  await page.goto(base + '/');
  await page.waitForSelector('#empty:not([hidden])', {timeout: 10000});
  const text = await page.$eval('#empty', (e) => e.textContent.replace(/\s+/g, ' '));
  for (const hint of ['No sensors yet', '[[sensors]]', 'vigil sensor', '/api/v1/write', '/write']) {
    if (!text.includes(hint)) fail(`the empty state does not mention ${hint}: "${text}"`);
  }
  await page.screenshot({path: join(output, 'empty.png')});
  console.log('empty state shown');

  // A written sample shows up: the push queue, the pipeline, the live stream.
  const now = BigInt(Date.now()) * 1000000n;
  const written = await fetch(base + '/write', {method: 'POST', body: `first_run,site=a level=7 ${now}`});
  if (written.status !== 204) fail(`write answered ${written.status}: ${await written.text()}`);
  const chart = '.chart[data-metric="first_run_level"]';
  await page.click('#empty a:has-text("All series")');
  await page.waitForSelector(chart + ':not([data-last-ts="0"])', {state: 'attached', timeout: 10000});
  console.log('a written sample is drawn');
});
