// Posts line-protocol files to a server over keep-alive connections, CONCURRENCY at a
// time, and reports values per second (each file's values counted once it got its
// 204) and the slowest POST. Used by bench/web-load, bench/storage-peers and
// bench/series-memory for vigil and VictoriaMetrics alike.
// Usage: node lp-load.mjs URL CONCURRENCY VALUES_PER_FILE FILE...
import {readFileSync} from 'node:fs';
import http from 'node:http';

const [url, concurrency, valuesPerFile, ...files] = process.argv.slice(2);
const bodies = files.map((f) => readFileSync(f));
const agent = new http.Agent({keepAlive: true, maxSockets: Number(concurrency)});
let next = 0;
function post(body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {method: 'POST', agent, headers: {'Content-Type': 'text/plain', 'Content-Length': body.length}}, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
let slowest = 0;
async function worker() {
  while (next < bodies.length) {
    const body = bodies[next++];
    const started = process.hrtime.bigint();
    await post(body);
    slowest = Math.max(slowest, Number(process.hrtime.bigint() - started) / 1e6);
  }
}
const start = process.hrtime.bigint();
await Promise.all(Array.from({length: Number(concurrency)}, worker));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const values = Number(valuesPerFile) * bodies.length;
console.log(`${seconds.toFixed(3)} s, ${(values / seconds / 1e6).toFixed(2)} M values/s, slowest POST ${slowest.toFixed(0)} ms`);
agent.destroy();
