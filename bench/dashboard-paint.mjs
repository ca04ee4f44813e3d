// First meaningful paint of the dashboard (issue #24): vigil's overview on a default install
// (the bundled config and rules) against Netdata's dashboard (Debian's netdata, installed by
// scripts/install-deps --bench) on the same host, in the same run. Each round opens each in
// a fresh browser context (nothing cached) over loopback in headless Debian chromium and
// takes the time from navigation until the first chart has been drawn with data — vigil:
// the overview's CPU chart and the sensor list; Netdata: its first chart's canvas — checked
// every animation frame. Also counts the bytes each page transferred, and vigil's bundle
// gzipped. Rounds alternate between the two.
// Usage: node bench/dashboard-paint.mjs VIGIL_BINARY [ROUNDS=7]
import {spawn} from 'node:child_process';
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {gzipSync} from 'node:zlib';

import {freePort, launchChromium, sleep, startStandalone} from '../tests/browser/harness.mjs';

const [binary, roundsArg = '7'] = process.argv.slice(2);
const rounds = Number(roundsArg);
const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'vigil-paint-'));

const ui = join(root, 'src/web/ui');
const bundle = ['index.html', 'app.css', 'units.js', 'app.js', 'panels.js', 'pages.js',
                'node_modules/uplot/dist/uPlot.iife.min.js', 'node_modules/uplot/dist/uPlot.min.css'];
const raw = bundle.reduce((n, f) => n + readFileSync(join(ui, f)).length, 0);
const gzipped = bundle.reduce((n, f) => n + gzipSync(readFileSync(join(ui, f)), {level: 9}).length, 0);

const config = join(root, 'config/vigil.toml');
writeFileSync(join(dir, 'vigil.toml'), readFileSync(config, 'utf8')
  .replace('files = ["rules/*.yml"]', `files = ["${dirname(config)}/rules/*.yml"]`));
const vigil = await startStandalone(binary, ['--config', join(dir, 'vigil.toml'), '--data-dir', join(dir, 'data'),
                                             '--log-level', 'warn']);
let netdata = null;
let netdataBase = null;
if (existsSync('/usr/sbin/netdata')) {
  const port = await freePort();
  netdata = spawn('/usr/sbin/netdata', ['-D', '-p', String(port), '-W', 'set', 'global', 'memory mode', 'ram'],
                  {stdio: 'ignore'});
  netdataBase = `http://127.0.0.1:${port}/`;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Milliseconds from navigation until `drawn` holds (checked every frame), and the bytes moved.
async function paint(browser, url, drawn) {
  const context = await browser.newContext({viewport: {width: 1400, height: 900}});
  const page = await context.newPage();
  const responses = [];
  page.on('response', (r) => responses.push(r));
  await page.goto(url, {waitUntil: 'commit'});
  await page.waitForFunction(drawn, null, {polling: 'raf', timeout: 30000});
  const ms = await page.evaluate(() => performance.now());
  await sleep(500);
  let bytes = 0;
  for (const r of responses) {
    try { bytes += (await r.request().sizes()).responseBodySize; } catch {}
  }
  await context.close();
  return {ms, bytes};
}

const vigilDrawn = () => !!document.querySelector('.panel[data-title="CPU by mode"] canvas') &&
  !!document.querySelector('.agent li[data-sensor]');
const netdataDrawn = () => !!document.querySelector('[data-netdata] canvas');

let browser;
try {
  await sleep(15000);  // a quarter minute of data, so the charts have something to draw
  browser = await launchChromium();
  const results = {vigil: [], netdata: []};
  for (let i = 0; i < rounds; i++) {
    results.vigil.push(await paint(browser, vigil.base + '/', vigilDrawn));
    if (netdataBase) results.netdata.push(await paint(browser, netdataBase, netdataDrawn));
  }
  const report = (list) => list.length && {
    first_chart_ms_median: Math.round(median(list.map((r) => r.ms))),
    first_chart_ms_min: Math.round(Math.min(...list.map((r) => r.ms))),
    first_chart_ms_max: Math.round(Math.max(...list.map((r) => r.ms))),
    transferred_kb_median: Math.round(median(list.map((r) => r.bytes)) / 1024),
  };
  console.log(JSON.stringify({
    rounds,
    vigil: {...report(results.vigil), bundle_kb: Math.round(raw / 1024), bundle_gzip_kb: Math.round(gzipped / 1024)},
    netdata: netdataBase ? report(results.netdata) : 'not installed (scripts/install-deps --bench)',
  }, null, 1));
} finally {
  if (browser) await browser.close();
  await vigil.stop();
  if (netdata) { netdata.kill('SIGTERM'); await new Promise((r) => netdata.on('exit', r)); }
  rmSync(dir, {recursive: true, force: true});
}
