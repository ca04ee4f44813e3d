// The nginx ingress for real (issue #9): Debian's nginx on loopback runs
// deploy/nginx/vigil.conf in front of two `vigil web` servers over PostgreSQL, fed by a
// sensor, a coordinator and a datamanager on the test's RabbitMQ. Chromium loads the
// dashboard through nginx, the live stream is upgraded through it, and the web server
// holding the WebSocket is killed (SIGKILL): the browser must reconnect once, to the other
// server, and the chart must move again within 5 s; API reads through nginx meanwhile
// never fail.
// Usage: node ingress.mjs VIGIL_BINARY SOURCE_DIR OUTPUT_DIR (VIGIL_TEST_SERVICES set by ctest)
import {execFileSync, spawn} from 'node:child_process';
import {chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {fail, freePort, launchChromium, sleep} from '../browser/harness.mjs';

const [binary, source, output] = process.argv.slice(2);
mkdirSync(output, {recursive: true});
const dir = mkdtempSync(join(tmpdir(), 'vigil-ingress-'));
chmodSync(dir, 0o755);

const services = process.env.VIGIL_TEST_SERVICES;
if (!services) fail('VIGIL_TEST_SERVICES is not set: run through ctest');
const broker = readFileSync(join(services, 'rabbitmq/amqp_url'), 'utf8').trim();
const server = readFileSync(join(services, 'postgres/postgres_url'), 'utf8').trim();
const database = `vigil_ingress_${process.pid}`;
execFileSync('psql', [server, '-qAtc', `CREATE DATABASE ${database}`]);
const store = server.slice(0, server.lastIndexOf('/') + 1) + database;

const agent = `ingress-${process.pid}`;
const config = join(dir, 'vigil.toml');
writeFileSync(config, `[agent]\nid = "${agent}"\nflush_interval = "200ms"\n\n` +
  '[[sensors]]\nname = "ingress_demo"\nmin = 0\nmax = 1\nfreq = 5\n');

const children = [];
function start(name, args) {
  const log = openSync(join(dir, name + '.log'), 'w');
  const child = spawn(binary, args, {stdio: ['ignore', log, log]});
  child.exited = new Promise((r) => child.on('exit', r));
  children.push(child);
  return child;
}
const logOf = (name) => readFileSync(join(dir, name + '.log'), 'utf8');
async function waitLog(name, text, seconds = 20) {
  for (let i = 0; i < seconds * 10; i++) {
    if (logOf(name).includes(text)) return;
    await sleep(100);
  }
  fail(`${name} did not log "${text}":\n${logOf(name)}`);
}
async function get(url) {
  try {
    const response = await fetch(url);
    return {status: response.status, body: await response.text()};
  } catch (e) {
    return {status: 0, body: String(e)};
  }
}

let browser, nginx;
try {
  const common = ['--config', config, '--broker', broker];
  start('datamanager', ['datamanager', ...common, '--store', store, '--data-dir', join(dir, 'dm'),
                        '--listen', '127.0.0.1:0']);
  await waitLog('datamanager', 'running');  // it made the schema
  const webPorts = [await freePort(), await freePort()];
  const webs = webPorts.map((port, i) =>
    start(`web${i + 1}`, ['web', ...common, '--store', store, '--listen', `127.0.0.1:${port}`]));
  start('coordinator', ['coordinator', ...common]);
  for (const name of ['web1', 'web2', 'coordinator']) await waitLog(name, 'running');
  start('sensor', ['sensor', ...common, '--data-dir', join(dir, 'sensor')]);
  await waitLog('sensor', 'running');

  // nginx as the compose stack runs it, with the test's ports in the upstream.
  const port = await freePort();
  const temp = join(dir, 'nginx');
  mkdirSync(temp, {mode: 0o777});
  chmodSync(temp, 0o777);  // nginx's workers run as nobody
  writeFileSync(join(dir, 'nginx.conf'), `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/nginx-access.log;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  upstream vigil_web {
    server 127.0.0.1:${webPorts[0]} max_fails=1 fail_timeout=5s;
    server 127.0.0.1:${webPorts[1]} max_fails=1 fail_timeout=5s;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    include ${source}/deploy/nginx/vigil.conf;
  }
}
`);
  execFileSync('/usr/sbin/nginx', ['-t', '-q', '-p', dir, '-e', join(dir, 'nginx-error.log'),
                                   '-c', join(dir, 'nginx.conf')], {stdio: 'inherit'});
  nginx = spawn('/usr/sbin/nginx', ['-p', dir, '-e', join(dir, 'nginx-error.log'), '-c', join(dir, 'nginx.conf')],
                {stdio: 'inherit'});
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; (await get(base + '/healthz')).status !== 200; i++) {
    if (i > 100) fail('nginx did not come up');
    await sleep(100);
  }

  browser = await launchChromium();
  const page = await browser.newPage({viewport: {width: 1200, height: 800}});
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(base + '/#/series');
  const chart = '.chart[data-metric="ingress_demo"]';
  await page.waitForSelector(chart + ':not([data-last-ts="0"])', {timeout: 20000});
  const first = Number(await page.getAttribute(chart, 'data-last-ts'));
  await page.waitForFunction(([s, t]) => Number(document.querySelector(s).dataset.lastTs) > t, [chart, first],
                             {timeout: 5000});
  console.log('dashboard loaded and streaming through nginx');

  // The web server that holds the browser's WebSocket.
  const clients = [];
  for (const p of webPorts) {
    const m = /^vigil_web_websocket_clients (\d+)/m.exec((await get(`http://127.0.0.1:${p}/metrics`)).body);
    clients.push(m ? Number(m[1]) : 0);
  }
  const victim = clients.indexOf(1);
  if (victim < 0 || clients[1 - victim] !== 0) fail(`WebSocket clients per web server: ${clients}`);
  const killedAt = Date.now();
  webs[victim].kill('SIGKILL');
  await webs[victim].exited;
  console.log(`killed web${victim + 1}, which held the stream`);

  // Reads through nginx go on while the browser reconnects.
  const statuses = [];
  for (let i = 0; i < 10; i++) {
    statuses.push((await get(base + '/api/v1/query?query=count(ingress_demo)')).status);
    statuses.push((await get(base + '/api/v1/sensors')).status);
  }
  if (statuses.some((s) => s !== 200)) fail(`API statuses through nginx after the kill: ${statuses}`);

  const before = Number(await page.getAttribute(chart, 'data-last-ts'));
  await page.waitForFunction(([s, t]) => Number(document.querySelector(s).dataset.lastTs) > t, [chart, before],
                             {timeout: 10000});
  const gap = Date.now() - killedAt;
  const connections = await page.evaluate(() => Number(document.body.dataset.liveConnections));
  const survivor = (await get(`http://127.0.0.1:${webPorts[1 - victim]}/metrics`)).body;
  console.log(`stream back after ${gap} ms, ${connections} connections opened in all`);
  if (connections !== 2) fail(`${connections} WebSocket connections; expected the first and one reconnect`);
  if (!/^vigil_web_websocket_clients 1/m.test(survivor)) fail('the surviving web server does not hold the stream');
  if (gap > 5000) fail(`the stream was lost for ${gap} ms`);
  if (errors.length) fail('page errors: ' + errors.join('; '));
  await page.screenshot({path: join(output, 'ingress.png')});
  console.log('PASS');
} catch (e) {
  if (!process.exitCode) { console.error(e); process.exitCode = 1; }
  for (const name of ['datamanager', 'coordinator', 'sensor', 'web1', 'web2']) {
    try { console.error(`--- ${name}.log\n` + logOf(name).split('\n').slice(-15).join('\n')); } catch {}
  }
  try { console.error('--- nginx-error.log\n' + readFileSync(join(dir, 'nginx-error.log'), 'utf8')); } catch {}
} finally {
  if (browser) await browser.close();
  if (nginx) { nginx.kill('SIGQUIT'); await new Promise((r) => nginx.on('exit', r)); }
  for (const child of children.reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await child.exited;
  }
  try { execFileSync('psql', [server, '-qAtc', `DROP DATABASE IF EXISTS ${database}`]); } catch {}
  rmSync(dir, {recursive: true, force: true});
}
