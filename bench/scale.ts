/**
 * Scale-out figures (issue 15), in one run on PostgreSQL, Redis and NATS (127.0.0.1 unless the
 * SCALE_* variables of test/scale-out/cluster.ts say otherwise):
 * - the cached album page and play ingestion through the gateway with two API processes (and a
 *   worker) vs one process without a gateway, measured alternately, round after round, so both
 *   see the same machine;
 * - the time from a write on one API process to the SSE notification on the other (through the
 *   outbox relay and NATS), and, for reference, on one process.
 *
 *   npx tsx bench/scale.ts            (SECONDS=6 ROUNDS=2 CONNECTIONS=32 SAMPLES=60)
 *
 * Every process is a real `src/main.ts serve` on loopback, started the way the scale-out tests
 * start them; the load generator runs in a forked process (bench/plays-load.ts).
 */
import { api, createRun, ready, type Server } from '../test/scale-out/cluster.js';
import { openStream } from '../test/sse.js';
import { driveLoad } from './processes.js';

const SECONDS = Number(process.env.SECONDS ?? 6);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const SAMPLES = Number(process.env.SAMPLES ?? 60);
const LISTENERS = 40;
const SONGS = 150;
const API_ROLES = 'identity,catalog,library,discovery';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;

async function main(): Promise<void> {
  const run = createRun('bench');
  const started = Date.now();
  try {
    await run.createDatabase();
    // Limits stay on (as in production, counted in Redis), high enough not to refuse the load.
    const limits = { RATE_LIMIT_MAX: '100000000' };
    const admin = { ...limits, ADMIN_EMAIL: run.admin.email, ADMIN_PASSWORD: run.admin.password };
    // The single process migrates and creates the admin; the others start on the migrated database.
    const single = await run.start('single', admin);
    await ready(single);
    const [worker, api1, api2] = await Promise.all([
      run.start('worker', { ...limits, SERVICES: 'worker' }),
      run.start('api1', { ...limits, SERVICES: API_ROLES }),
      run.start('api2', { ...limits, SERVICES: API_ROLES }),
    ]);
    await Promise.all([ready(worker), ready(api1), ready(api2)]);
    const upstreams = API_ROLES.split(',')
      .map((role) => `${role}=${api1.base} ${api2.base}`)
      .join(',');
    const gateway = await run.start('gateway', {
      ...limits,
      SERVICES: 'gateway',
      GATEWAY_UPSTREAMS: upstreams,
    });
    await ready(gateway, '/health/services');
    console.log(`[scale] processes ready after ${((Date.now() - started) / 1000).toFixed(0)} s`);

    // Catalog and listeners, written through the single process (one database for all).
    const token = (await api(single.base, 'POST', '/auth/login', { body: run.admin })).body.accessToken;
    const artist = await api(single.base, 'POST', '/artists', { token, body: { name: 'Scale Bench Band' } });
    const makeAlbum = async (title: string) =>
      (
        await api(single.base, 'POST', '/albums', {
          token,
          body: { title, genre: 'Rock', releaseYear: 2024, artistId: artist.body.id },
        })
      ).body.id as string;
    const playsAlbum = await makeAlbum('Plays');
    const songIds: string[] = [];
    for (let i = 0; i < SONGS; i++) {
      const song = await api(single.base, 'POST', `/albums/${playsAlbum}/songs`, {
        token,
        body: { title: `Song ${i}`, durationMs: 180_000 },
      });
      songIds.push(song.body.id);
    }
    const register = async (name: string) =>
      (
        await api(single.base, 'POST', '/auth/register', {
          body: {
            email: `${name}-${Date.now()}@bench.test`,
            password: 'correct-horse-battery',
            displayName: name,
          },
        })
      ).body.accessToken as string;
    const tokens: string[] = [];
    for (let i = 0; i < LISTENERS; i++) tokens.push(await register(`listener${i}`));

    // Throughput, alternating the two set-ups round after round, after one warm-up pass each.
    const targets = { single: single.base, gateway: gateway.base } as const;
    const kinds = ['page', 'plays'] as const;
    const totals: Record<
      string,
      { requests: number; seconds: number; p50: number[]; p99: number[]; bad: number }
    > = {};
    for (const kind of kinds) {
      for (const url of Object.values(targets)) {
        await driveLoad({ url, connections: CONNECTIONS, seconds: 2, tokens, kind, songIds });
      }
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of kinds) {
        for (const [name, url] of Object.entries(targets)) {
          const result = await driveLoad({
            url,
            connections: CONNECTIONS,
            seconds: SECONDS,
            tokens,
            kind,
            songIds,
          });
          const key = `${kind}:${name}`;
          totals[key] ??= { requests: 0, seconds: 0, p50: [], p99: [], bad: 0 };
          const t = totals[key];
          t.requests += result.requests.total;
          t.seconds += SECONDS;
          t.p50.push(result.latency.p50);
          t.p99.push(result.latency.p99);
          t.bad += result.non2xx + result.errors;
          console.log(
            `[scale] round ${round + 1} ${kind} via ${name}: ${Math.round(result.requests.total / SECONDS)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx/errors ${result.non2xx + result.errors}`,
          );
        }
      }
    }

    // Write -> SSE: one fan's stream on api2 while the admin writes on api1; for reference,
    // stream and write on the single process.
    const crossAlbum = await makeAlbum('Across replicas');
    const sameAlbum = await makeAlbum('One process');
    const crossFan = await register('cross-fan');
    const sameFan = await register('same-fan');
    await api(api2.base, 'PUT', `/me/following/albums/${crossAlbum}`, { token: crossFan });
    await api(single.base, 'PUT', `/me/following/albums/${sameAlbum}`, { token: sameFan });
    const crossStream = await openStream(api2.base, { auth: { authorization: `Bearer ${crossFan}` } });
    const sameStream = await openStream(single.base, { auth: { authorization: `Bearer ${sameFan}` } });
    const latency = { cross: [] as number[], same: [] as number[], crossAck: [] as number[] };
    const sample = async (
      writer: Server,
      stream: Awaited<ReturnType<typeof openStream>>,
      album: string,
      i: number,
    ): Promise<{ fromRequest: number; fromAck: number }> => {
      const title = `Live ${i}`;
      let arrived = 0;
      const waiting = stream
        .next((e) => e.event === 'notification' && JSON.parse(e.data!).song.title === title, 30_000)
        .then(() => (arrived = performance.now()));
      const sent = performance.now();
      const res = await api(writer.base, 'POST', `/albums/${album}/songs`, {
        token,
        body: { title, durationMs: 1000 },
      });
      const acked = performance.now();
      if (res.status !== 201) throw new Error(`write failed: ${res.status}`);
      await waiting;
      return { fromRequest: arrived - sent, fromAck: Math.max(0, arrived - acked) };
    };
    // Let both streams' bus consumers settle, then one unmeasured sample each.
    await sample(api1, crossStream, crossAlbum, -1);
    await sample(single, sameStream, sameAlbum, -1);
    for (let i = 0; i < SAMPLES; i++) {
      const cross = await sample(api1, crossStream, crossAlbum, i);
      latency.cross.push(cross.fromRequest);
      latency.crossAck.push(cross.fromAck);
      latency.same.push((await sample(single, sameStream, sameAlbum, i)).fromRequest);
      await new Promise((r) => setTimeout(r, 50));
    }
    crossStream.close();
    sameStream.close();

    // Report.
    const rps = (key: string) => totals[key]!.requests / totals[key]!.seconds;
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
    console.log('\n| | 1 process, no gateway | gateway + 2 API processes | ratio |');
    console.log('| --- | ---: | ---: | ---: |');
    for (const [kind, title] of [
      ['page', 'cached album page (`GET /albums?limit=20`, anonymous)'],
      ['plays', 'play ingestion (`POST /songs/:id/plays`)'],
    ] as const) {
      const a = rps(`${kind}:single`);
      const b = rps(`${kind}:gateway`);
      console.log(`| ${title}, req/s | ${Math.round(a)} | ${Math.round(b)} | ${(b / a).toFixed(2)}x |`);
      console.log(
        `| ${title}, p50 / p99 (median of rounds) | ${median(totals[`${kind}:single`]!.p50)} / ${median(totals[`${kind}:single`]!.p99)} ms | ${median(totals[`${kind}:gateway`]!.p50)} / ${median(totals[`${kind}:gateway`]!.p99)} ms | |`,
      );
      const bad = totals[`${kind}:single`]!.bad + totals[`${kind}:gateway`]!.bad;
      if (bad)
        console.log(
          `| ${title}: non-2xx or errors | ${totals[`${kind}:single`]!.bad} | ${totals[`${kind}:gateway`]!.bad} | |`,
        );
    }
    for (const [name, values] of [
      ['write on api1 -> SSE on api2 (from request sent)', latency.cross],
      ['write on api1 -> SSE on api2 (from 201 received)', latency.crossAck],
      ['write -> SSE on one process (from request sent)', latency.same],
    ] as const) {
      const sorted = [...values].sort((a, b) => a - b);
      console.log(
        `${name}: p50 ${ms(percentile(sorted, 0.5))}, p99 ${ms(percentile(sorted, 0.99))}, n ${sorted.length}`,
      );
    }
    console.log(
      `\n${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per set-up and kind; ${SAMPLES} SSE samples each; run took ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  } finally {
    await run.cleanup();
  }
}

await main();
process.exit(0);
