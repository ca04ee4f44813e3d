// What the browser tests share: Debian's chromium (driven by playwright-core from the
// dashboard's node_modules, never a downloaded browser), free loopback ports, failing, and
// a vigil standalone to test against.
import {spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {createRequire} from 'node:module';
import {createServer} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const require = createRequire(import.meta.url);
const {chromium} = require(new URL('../../src/web/ui/node_modules/playwright-core', import.meta.url).pathname);

export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Marks the test failed and stops it (the caller's finally cleans up).
export function fail(message) {
  console.error('FAIL: ' + message);
  process.exitCode = 1;
  throw new Error(message);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `vigil standalone` on a free port with `args` (a config, a data folder …), its output
// passed through; resolves once /healthz answers. stop() ends it with SIGTERM and waits.
export async function startStandalone(binary, args) {
  const port = await freePort();
  const child = spawn(binary, ['standalone', ...args, '--listen', `127.0.0.1:${port}`],
                         {stdio: ['ignore', 'inherit', 'inherit']});
  const exited = new Promise((r) => child.on('exit', r));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => { child.kill('SIGTERM'); await exited; };
  for (let i = 0; ; i++) {
    try { if ((await fetch(base + '/healthz')).ok) break; } catch {}
    if (i > 100) { await stop(); fail('vigil did not start'); }
    await sleep(100);
  }
  return {base, stop};
}

// One browser test: a fresh data folder, `vigil standalone` with prepare(data)'s arguments
// (prepare may write files there first), chromium, then body({base, data, newPage}).
// newPage(options) opens a 1400×900 page (options override) whose script errors fail the
// test. Prints PASS, or sets the exit code; vigil, chromium and the folder always go.
export async function browserTest(binary, prepare, body) {
  const data = mkdtempSync(join(tmpdir(), 'vigil-browser-'));
  const {base, stop} = await startStandalone(binary, prepare(data));
  const errors = [];
  let browser;
  try {
    browser = await launchChromium();
    const newPage = async (options = {}) => {
      const page = await browser.newPage({viewport: {width: 1400, height: 900}, ...options});
      page.on('pageerror', (e) => errors.push(e.message));
      return page;
    };
    await body({base, data, newPage});
    if (errors.length) fail('page errors: ' + errors.join('; '));
    console.log('PASS');
  } catch (e) {
    if (!process.exitCode) { console.error(e); process.exitCode = 1; }
    // A script error on the page is often why a wait timed out.
    if (errors.length) console.error('page errors: ' + errors.join('; '));
  } finally {
    if (browser) await browser.close();
    await stop();
    rmSync(data, {recursive: true, force: true});
  }
}
