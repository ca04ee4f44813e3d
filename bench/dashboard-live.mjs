// How the dashboard holds up live (issue #24): vigil standalone with CHARTS simulated
// sensors at 1 Hz (50 by default), the all-series page open on all of them in headless
// Debian chromium (software rendering), every chart on screen, for SECONDS (600 by default), streaming over the
// WebSocket. Every minute it reports the frames per second and the p99 gap between
// animation frames over that minute, and the JavaScript heap after a garbage collection
// (CDP Runtime.getHeapUsage); at the end, the heap's growth after the first minute.
// Usage: node bench/dashboard-live.mjs VIGIL_BINARY [CHARTS=50] [SECONDS=600]
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {launchChromium, sleep, startStandalone} from '../tests/browser/harness.mjs';

const [binary, chartsArg = '50', secondsArg = '600'] = process.argv.slice(2);
const charts = Number(chartsArg);
const seconds = Number(secondsArg);
const dir = mkdtempSync(join(tmpdir(), 'vigil-live-'));
let config = '[sink]\nenabled = false\n\n';
for (let i = 0; i < charts; i++) {
  config += `[[sensors]]\nname = "series_${String(i).padStart(3, '0')}"\nmin = 0\nmax = 100\nstep = 1\nfreq = 1\n\n`;
}
writeFileSync(join(dir, 'vigil.toml'), config);
const vigil = await startStandalone(binary, ['--config', join(dir, 'vigil.toml'), '--data-dir', join(dir, 'data'),
                                             '--log-level', 'warn']);
const browser = await launchChromium();
try {
  // A wall display: 2560 px wide and tall enough that every chart is on screen, so every
  // chart is drawn (the page draws only the charts in view).
  const page = await browser.newPage({viewport: {width: 2560, height: 3200}});
  const cdp = await page.context().newCDPSession(page);
  await page.goto(vigil.base + '/#/series');
  await page.waitForFunction((n) => document.querySelectorAll('.chart').length >= n, charts, {timeout: 30000});
  // A group of more than 12 charts starts folded (pages.js): open it as a person would.
  await page.$$eval('details.group:not([open]) > summary', (summaries) => summaries.forEach((s) => s.click()));
  await page.waitForFunction((n) => document.querySelectorAll('.chart canvas').length >= n, charts, {timeout: 30000});
  // Frame gaps collected in the page; read and reset once a minute.
  await page.evaluate(() => {
    window.benchGaps = [];
    let last = performance.now();
    const frame = (now) => { window.benchGaps.push(now - last); last = now; requestAnimationFrame(frame); };
    requestAnimationFrame(frame);
  });
  const minutes = [];
  for (let elapsed = 0; elapsed < seconds; elapsed += 60) {
    const span = Math.min(60, seconds - elapsed);
    await sleep(span * 1000);
    const gaps = await page.evaluate(() => { const g = window.benchGaps; window.benchGaps = []; return g; });
    gaps.sort((a, b) => a - b);
    await cdp.send('HeapProfiler.collectGarbage');
    const {usedSize} = await cdp.send('Runtime.getHeapUsage');
    const drawn = await page.$$eval('.chart', (cs) => cs.filter((c) => c.querySelector('canvas')).length);
    const minute = {minute: minutes.length + 1, fps: +(gaps.length / span).toFixed(1),
                    p99_frame_ms: +gaps[Math.floor(gaps.length * 0.99)].toFixed(1),
                    heap_mb: +(usedSize / 2 ** 20).toFixed(2), charts_drawn: drawn};
    console.log(JSON.stringify(minute));
    minutes.push(minute);
  }
  const after = minutes.slice(1);
  const first = minutes[0].heap_mb;
  console.log(JSON.stringify({
    charts, seconds,
    fps_min: Math.min(...minutes.map((m) => m.fps)),
    p99_frame_ms_max: Math.max(...minutes.map((m) => m.p99_frame_ms)),
    heap_first_minute_mb: first,
    heap_growth_after_first_minute_pct: after.length ? +((Math.max(...after.map((m) => m.heap_mb)) / first - 1) * 100).toFixed(1) : 0,
  }));
} finally {
  await browser.close();
  await vigil.stop();
  rmSync(dir, {recursive: true, force: true});
}
