// What the browser tests share: Debian's chromium (driven by playwright-core from the
// dashboard's node_modules, never a downloaded browser), free loopback ports, failing.
import {createRequire} from 'node:module';
import {createServer} from 'node:net';

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
