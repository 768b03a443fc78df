/**
 * Time from an album's `publishAt` to its `artist.album_added` notification on a follower's
 * notification stream (SSE), on a real server process with the real clock:
 *   npx tsx bench/release-latency.ts [--runs 5] [--lead-ms 2000]
 * Each run schedules an album `--lead-ms` ahead and measures when the stream delivers it.
 * Uses the embedded database in a scratch directory (or DATABASE_URL when set).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { api as apiCall, freePort, SERVE, start, stop, waitUntilUp } from '../test/e2e/process.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, 'lead-ms': { type: 'string', default: '2000' } },
});
const runs = Number(values.runs);
const leadMs = Number(values['lead-ms']);

const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-release-latency-'));
const port = await freePort();
const admin = { email: 'release-bench@backbeat.example', password: 'release-bench-password' };
const server = start(SERVE, dataDir, port, {
  databaseUrl: process.env.DATABASE_URL,
  env: { ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password, RATE_LIMIT_MAX: '1000000' },
});
const api = `${server.base}/api/v1`;

async function send(method: string, path: string, body?: unknown, token?: string) {
  const res = await apiCall(server.base, method, path, { body, token });
  if (res.status < 200 || res.status > 299) {
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Reads `notification` events of an SSE stream, calling `onEvent` with each parsed one. */
async function listen(
  token: string,
  onEvent: (event: { album: { id: string } }) => void,
  signal: AbortSignal,
) {
  const res = await fetch(`${api}/me/notifications/stream`, {
    headers: { authorization: `Bearer ${token}` },
    signal,
  });
  if (!res.ok || !res.body) throw new Error(`stream: ${res.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('\n');
          if (/^event: ?notification$/m.test(frame) && data) onEvent(JSON.parse(data));
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted at the end
    }
  })();
}

try {
  await waitUntilUp(server);
  const { accessToken: adminToken } = await send('POST', '/auth/login', admin);
  const artist = await send('POST', '/artists', { name: `Release bench ${Date.now()}` }, adminToken);
  const fan = await send('POST', '/auth/register', {
    email: `fan-${Date.now()}@backbeat.example`,
    password: 'release-bench-password',
    displayName: 'Fan',
  });
  await send('PUT', `/me/following/artists/${artist.id}`, undefined, fan.accessToken);
  const arrivals = new Map<string, number[]>();
  const abort = new AbortController();
  await listen(
    fan.accessToken,
    (event) => arrivals.set(event.album.id, [...(arrivals.get(event.album.id) ?? []), Date.now()]),
    abort.signal,
  );
  const latencies: number[] = [];
  for (let run = 0; run < runs; run++) {
    const publishAt = Date.now() + leadMs;
    const album = await send(
      'POST',
      '/albums',
      {
        title: `Scheduled ${run}`,
        genre: 'Rock',
        releaseYear: 2026,
        artistId: artist.id,
        publishAt: new Date(publishAt).toISOString(),
      },
      adminToken,
    );
    const deadline = publishAt + 30_000;
    while (!arrivals.has(album.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const seen = arrivals.get(album.id);
    if (!seen) throw new Error(`run ${run}: no notification within 30 s of publishAt`);
    latencies.push(seen[0]! - publishAt);
    // Give a duplicate the time to show up before counting.
    await new Promise((r) => setTimeout(r, 1500));
    if (arrivals.get(album.id)!.length !== 1) throw new Error(`run ${run}: ${seen.length} notifications`);
  }
  abort.abort();
  const sorted = [...latencies].sort((a, b) => a - b);
  process.stdout.write(
    `publishAt -> SSE notification over ${runs} runs (lead ${leadMs} ms, ${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'}): ` +
      `min ${sorted[0]} ms, median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms; ` +
      `each delivered exactly once (${latencies.join(', ')} ms)\n`,
  );
} finally {
  await stop(server);
  rmSync(dataDir, { recursive: true, force: true });
}
