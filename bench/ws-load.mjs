// WebSocket load tool for the live stream (issue #5): opens N clients to /ws, each
// subscribed to the same selector, for a while, and reports the delay from each
// sample's timestamp to its arrival (p50, p99, max), messages, and clients the server
// closed. Uses the `ws` package (src/web/ui/node_modules).
// Usage: node ws-load.mjs PORT CLIENTS SELECTOR SECONDS
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);
const WebSocket = require(new URL('../src/web/ui/node_modules/ws', import.meta.url).pathname);

const [port, clients = '1000', selector = '{__name__=~"bench_.+"}', seconds = '30'] = process.argv.slice(2);
const delays = [];
const arrivals = [];
let messages = 0, samples = 0, open = 0, closedByServer = 0, errors = 0;
let measuring = false;
const sockets = [];

for (let i = 0; i < Number(clients); i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, {perMessageDeflate: false});
  ws.on('open', () => {
    open++;
    ws.send(JSON.stringify({type: 'subscribe', id: 's', selector}));
  });
  // Arrival times are taken before any parsing, which happens after the run, so the
  // tool's own JSON work does not add to the delays it reports.
  ws.on('message', (data) => { if (measuring) arrivals.push([Date.now(), data]); });
  ws.on('close', (code) => { if (code === 1008) closedByServer++; });
  ws.on('error', () => { errors++; });
  sockets.push(ws);
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));  // do not SYN-flood
}
await new Promise((r) => setTimeout(r, 2000));  // let every subscription settle
measuring = true;
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
measuring = false;
for (const ws of sockets) ws.terminate();
for (const [now, data] of arrivals) {
  const m = JSON.parse(data);
  if (m.type !== 'samples') continue;
  messages++;
  for (const s of m.series) {
    for (const [t] of s.samples) {
      samples++;
      delays.push(now - t);
    }
  }
}
delays.sort((a, b) => a - b);
const pick = (q) => delays.length ? delays[Math.min(delays.length - 1, Math.floor(q * delays.length))] : NaN;
console.log(JSON.stringify({clients: Number(clients), open, errors, closedByServer, messages, samples,
                            p50_ms: pick(0.5), p99_ms: pick(0.99), max_ms: delays[delays.length - 1]}));
process.exit(0);
