import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe, makeTone, scratchDir } from '../audio.js';
import {
  freePort,
  type Json,
  json,
  post,
  SERVE,
  type Server,
  start,
  stop,
  useE2eDatabase,
  waitUntilUp,
} from './process.js';

/**
 * Audio end to end, as a client sees it: a FLAC uploaded to a real server process, transcoded
 * by its job worker, every quality fetched through the signed URL the API redirects to and
 * checked with ffprobe; then a server killed in the middle of a transcode still ends ready.
 */
const databaseUrl = useE2eDatabase('audio');
const ADMIN = { email: 'audio-admin@example.test', password: 'audio-admin-password' };
const files = scratchDir();

async function signIn(base: string): Promise<string> {
  const res = await post(base, '/auth/login', ADMIN);
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return res.body.accessToken;
}

function call(base: string, method: string, path: string, token: string, body?: unknown) {
  return fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body instanceof Buffer
        ? { 'content-type': 'audio/flac' }
        : body
          ? { 'content-type': 'application/json' }
          : {}),
    },
    body: body instanceof Buffer ? new Uint8Array(body) : body ? JSON.stringify(body) : undefined,
  }).then(json);
}

/** An album with one song, ready for an upload. */
async function makeSong(base: string, token: string, title: string): Promise<string> {
  const album = await call(base, 'POST', '/albums', token, {
    title: `${title} album`,
    artistName: 'E2E Audio Artist',
    genre: 'Test',
    releaseYear: 2026,
  });
  const song = await call(base, 'POST', `/albums/${album.body.id}/songs`, token, { title, durationMs: 1000 });
  return song.body.id;
}

async function waitForAudio(
  base: string,
  songId: string,
  status: string,
  timeoutMs = 120_000,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const song: Json = await (await fetch(`${base}/api/v1/songs/${songId}`)).json();
    if (song.audio.status === status) return song;
    if (song.audio.status === 'failed' || Date.now() > deadline) {
      throw new Error(`audio is ${JSON.stringify(song.audio)}, waited for ${status}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function serverOptions(dataDir: string, embedded: boolean) {
  return {
    ...(embedded ? {} : { databaseUrl: databaseUrl() }),
    env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, MEDIA_DIR: join(dataDir, 'media') },
  };
}

describe('audio through a real server', () => {
  let dataDir: string;
  let server: Server;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-audio-'));
    server = start(SERVE, dataDir, await freePort(), serverOptions(dataDir, false));
    await waitUntilUp(server);
  }, 120_000);

  afterAll(async () => {
    await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('uploads a FLAC, waits for ready, and streams every quality at its bitrate and duration', async () => {
    const token = await signIn(server.base);
    const songId = await makeSong(server.base, token, 'E2E Tone');
    const flac = readFileSync(makeTone(files, 'e2e.flac', { seconds: 6, tags: { title: 'E2E Tone' } }));
    const uploaded = await call(server.base, 'PUT', `/songs/${songId}/audio`, token, flac);
    expect(uploaded.status).toBe(202);
    const ready = await waitForAudio(server.base, songId, 'ready');
    expect(ready.audio.durationMs).toBeGreaterThan(5950);

    for (const [quality, kbps] of [
      ['low', 64],
      ['medium', 128],
      ['high', 320],
      ['original', null],
    ] as const) {
      const redirect = await fetch(`${server.base}/api/v1/songs/${songId}/stream?quality=${quality}`, {
        headers: { authorization: `Bearer ${token}` },
        redirect: 'manual',
      });
      expect(redirect.status).toBe(302);
      // The signed URL needs no Authorization header, as an <audio> element would fetch it.
      const media = await fetch(new URL(redirect.headers.get('location') as string, server.base));
      expect(media.status).toBe(200);
      const file = join(files, `e2e-${quality}`);
      writeFileSync(file, Buffer.from(await media.arrayBuffer()));
      const probe = ffprobe(file);
      expect(Number(probe.format.duration)).toBeGreaterThan(5.9);
      expect(Number(probe.format.duration)).toBeLessThan(6.2);
      if (kbps) expect(Number(probe.streams[0]?.bit_rate)).toBe(kbps * 1000);
      else expect(probe.streams[0]?.codec_name).toBe('flac');
    }

    const ranged = await fetch(`${server.base}/api/v1/songs/${songId}/stream?quality=low`, {
      headers: { authorization: `Bearer ${token}` },
    });
    // fetch followed the redirect itself; a range on the signed URL answers 206.
    const signed = new URL(ranged.url);
    const part = await fetch(signed, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
  }, 180_000);
});

describe('a restart in the middle of a transcode', () => {
  it('runs the interrupted transcode again after a hard kill, and the song ends ready', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-audio-'));
    // The embedded database: one process owns its jobs, so a restart takes them back at once.
    let server = start(SERVE, dataDir, await freePort(), serverOptions(dataDir, true));
    try {
      await waitUntilUp(server);
      const token = await signIn(server.base);
      const songId = await makeSong(server.base, token, 'Interrupted');
      const flac = readFileSync(makeTone(files, 'long.flac', { seconds: 40, frequency: 330 }));
      expect((await call(server.base, 'PUT', `/songs/${songId}/audio`, token, flac)).status).toBe(202);

      // Kill only once the worker has claimed the job: the crash really lands mid-transcode.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const running = await call(
          server.base,
          'GET',
          '/admin/jobs?type=media.transcode&status=running',
          token,
        );
        if (running.body.items.length) break;
        if (Date.now() > deadline) throw new Error('the transcode never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      await stop(server, 'SIGKILL');
      expect((await fetch(`${server.base}/health`).catch(() => null))?.status).toBeUndefined();

      server = start(SERVE, dataDir, await freePort(), serverOptions(dataDir, true));
      await waitUntilUp(server);
      const ready = await waitForAudio(server.base, songId, 'ready', 150_000);
      expect(ready.audio.durationMs).toBeGreaterThan(39_900);
      const jobs = await call(
        server.base,
        'GET',
        '/admin/jobs?type=media.transcode',
        await signIn(server.base),
      );
      expect(jobs.body.items[0]).toMatchObject({ status: 'done', attempts: 2 });
    } finally {
      await stop(server, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
