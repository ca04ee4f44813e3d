// How smooth the dashboard stays with 200 live series (issue #5): starts vigil
// standalone with 200 simulated sensors at 1 Hz, opens the page in Debian's chromium
// (headless, software rendering), opens the charts' group, and for 20 s records every
// animation frame's gap and the time the page's scripts take. Usage: node bench/dashboard-200.mjs VIGIL_BINARY
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const require = createRequire(import.meta.url);
const {chromium} = require(new URL('../src/web/ui/node_modules/playwright-core', import.meta.url).pathname);
const [binary] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'vigil-dash-'));
let config = '[sink]\nenabled = false\n\n';
for (let i = 0; i < 200; i++) {
  config += `[[sensors]]\nname = "series_${String(i).padStart(3, '0')}"\nmin = 0\nmax = 100\nstep = 1\nfreq = 1\n\n`;
}
writeFileSync(join(dir, 'vigil.toml'), config);
const port = 20000 + Math.floor(Math.random() * 20000);
const vigil = spawn(binary, ['standalone', '--config', join(dir, 'vigil.toml'), '--data-dir', join(dir, 'data'),
                             '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], {stdio: 'inherit'});
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  await new Promise((r) => setTimeout(r, 1500));
  const page = await browser.newPage({viewport: {width: 1600, height: 1000}});
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => document.querySelectorAll('.chart').length >= 200, null, {timeout: 30000});
  // One group of 200 charts starts folded (app.js, GROUP_OPEN_MAX): open it as a person would.
  await page.$$eval('details.group:not([open]) > summary', (summaries) => summaries.forEach((s) => s.click()));
  await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 200, null, {timeout: 30000});
  await new Promise((r) => setTimeout(r, 3000));
  const result = await page.evaluate(() => new Promise((resolve) => {
    const gaps = [];
    let last = performance.now();
    const end = last + 20000;
    function frame(now) {
      gaps.push(now - last);
      last = now;
      if (now < end) requestAnimationFrame(frame); else resolve(gaps);
    }
    requestAnimationFrame(frame);
  }));
  result.sort((a, b) => a - b);
  const metrics = await page.metrics?.() ?? {};
  const charts = await page.$$eval('.chart', (c) => c.length);
  console.log(JSON.stringify({
    charts, frames: result.length, fps: (result.length / 20).toFixed(1),
    p50_frame_ms: result[Math.floor(result.length * 0.5)].toFixed(1),
    p99_frame_ms: result[Math.floor(result.length * 0.99)].toFixed(1),
    max_frame_ms: result[result.length - 1].toFixed(1),
  }));
} finally {
  await browser.close();
  vigil.kill('SIGTERM');
  await new Promise((r) => vigil.on('exit', r));
  rmSync(dir, {recursive: true, force: true});
}
