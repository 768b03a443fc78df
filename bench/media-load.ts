/**
 * Load generator for bench/media.ts, in its own process: `clients` keep-alive connections,
 * each fetching 256 KB ranges at random offsets of a file, as players seek and buffer, for
 * `seconds`. Sends {requests, bytes, errors, ttfbMs: {p50, p99}, seconds} to its parent.
 *   node --import tsx bench/media-load.ts <url> <size> <clients> <seconds>
 */
import { Agent, request } from 'node:http';

const [url, sizeText, clientsText, secondsText] = process.argv.slice(2);
const size = Number(sizeText);
const clients = Number(clientsText);
const seconds = Number(secondsText);
const CHUNK = 256 * 1024;
const agent = new Agent({ keepAlive: true, maxSockets: clients });
const ttfb: number[] = [];
let bytes = 0;
let errors = 0;

function fetchRange(): Promise<void> {
  const start = Math.floor(Math.random() * Math.max(1, size - CHUNK));
  return new Promise((resolve) => {
    const sent = performance.now();
    const req = request(
      url as string,
      { agent, headers: { range: `bytes=${start}-${start + CHUNK - 1}` } },
      (res) => {
        let first = true;
        res.on('data', (chunk: Buffer) => {
          if (first) {
            ttfb.push(performance.now() - sent);
            first = false;
          }
          bytes += chunk.length;
        });
        res.on('end', () => {
          if (res.statusCode !== 206) errors += 1;
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors += 1;
      resolve();
    });
    req.end();
  });
}

async function client(deadline: number): Promise<number> {
  let done = 0;
  while (performance.now() < deadline) {
    await fetchRange();
    done += 1;
  }
  return done;
}

const started = performance.now();
const deadline = started + seconds * 1000;
const counts = await Promise.all(Array.from({ length: clients }, () => client(deadline)));
const elapsed = (performance.now() - started) / 1000;
ttfb.sort((a, b) => a - b);
const at = (q: number) =>
  Number((ttfb[Math.min(ttfb.length - 1, Math.floor(q * ttfb.length))] ?? 0).toFixed(1));
process.send?.({
  requests: counts.reduce((a, b) => a + b, 0),
  bytes,
  errors,
  ttfbMs: { p50: at(0.5), p99: at(0.99) },
  seconds: Number(elapsed.toFixed(2)),
});
agent.destroy();
