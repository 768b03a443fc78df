import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTone, scratchDir } from '../audio.js';
import { openStream } from '../sse.js';
import { api, createRun, getJson, type Json, ready, type Server } from './cluster.js';

/**
 * Backbeat as separate services, as deployed: a gateway, two API processes serving identity,
 * catalog, library and discovery, two media processes serving media and subsonic, and a
 * worker, on PostgreSQL, Redis and NATS. (The live role has its own run, live.e2e.ts.)
 */
const API_ROLES = 'identity,catalog,library,discovery';
const MEDIA_ROLES = 'media,subsonic';
const files = scratchDir();
const run = createRun('scale');
const ADMIN = run.admin;
const RUN = ADMIN.email.split('@')[0];

let worker: Server;
let api1: Server;
let api2: Server;
let media1: Server;
let media2: Server;
let gateway: Server;

beforeAll(async () => {
  await run.createDatabase();
  // The worker migrates and creates the admin first; the API processes then start together.
  worker = await run.start('worker', {
    SERVICES: 'worker',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  });
  await ready(worker);
  [api1, api2, media1, media2] = await Promise.all([
    run.start('api1', { SERVICES: API_ROLES }),
    run.start('api2', { SERVICES: API_ROLES }),
    run.start('media1', { SERVICES: MEDIA_ROLES }),
    run.start('media2', { SERVICES: MEDIA_ROLES }),
  ]);
  await Promise.all([ready(api1), ready(api2), ready(media1), ready(media2)]);
  const upstreams = [
    ...API_ROLES.split(',').map((role) => `${role}=${api1.base} ${api2.base}`),
    ...MEDIA_ROLES.split(',').map((role) => `${role}=${media1.base} ${media2.base}`),
  ].join(',');
  gateway = await run.start('gateway', { SERVICES: 'gateway', GATEWAY_UPSTREAMS: upstreams });
  await ready(gateway, '/health/services');
});

afterAll(async () => {
  await run.cleanup();
  rmSync(files, { recursive: true, force: true });
});

describe('scale-out: gateway, two API processes and a worker', () => {
  let adminToken: string;
  let user: { token: string; auth: Record<string, string> };
  let album: Json;

  it('reports roles and upstream health', async () => {
    expect((await getJson(`${gateway.base}/health/ready`)).roles).toEqual(['gateway']);
    expect((await getJson(`${api1.base}/health/ready`)).roles).toEqual([
      'identity',
      'catalog',
      'library',
      'discovery',
    ]);
    expect((await getJson(`${media1.base}/health/ready`)).roles).toEqual(['media', 'subsonic']);
    expect((await getJson(`${worker.base}/health/ready`)).roles).toEqual(['worker']);
    const services = await getJson(`${gateway.base}/health/services`);
    expect(services.status).toBe('ok');
    expect(services.services.catalog.map((u: Json) => u.status)).toEqual(['ok', 'ok']);
    expect(services.services.subsonic.map((u: Json) => u.status)).toEqual(['ok', 'ok']);
  });

  it('signs in and writes through the gateway', async () => {
    const login = await api(gateway.base, 'POST', '/auth/login', { body: ADMIN });
    expect(login.status).toBe(200);
    adminToken = login.body.accessToken;
    const registered = await api(gateway.base, 'POST', '/auth/register', {
      body: { email: `fan-${RUN}@example.test`, password: 'correct-horse-battery', displayName: 'Fan' },
    });
    expect(registered.status).toBe(201);
    const token = registered.body.accessToken;
    user = { token, auth: { authorization: `Bearer ${token}` } };
    const artist = await api(gateway.base, 'POST', '/artists', {
      token: adminToken,
      body: { name: `Band ${RUN}` },
    });
    expect(artist.status).toBe(201);
    const created = await api(gateway.base, 'POST', '/albums', {
      token: adminToken,
      body: { title: 'First title', genre: 'Rock', releaseYear: 2024, artistId: artist.body.id },
    });
    expect(created.status).toBe(201);
    album = created.body;
    expect((await api(gateway.base, 'PUT', `/me/following/albums/${album.id}`, { token })).status).toBe(204);
  });

  it('delivers a notification raised on one process to streams on every process', async () => {
    const streams = await Promise.all([
      openStream(api1.base, user),
      openStream(api2.base, user),
      openStream(gateway.base, user),
    ]);
    expect(streams.map((s) => s.response.status)).toEqual([200, 200, 200]);
    // Written on api1 only; the notification must reach api2's stream through NATS.
    const song = await api(api1.base, 'POST', `/albums/${album.id}/songs`, {
      token: adminToken,
      body: { title: 'Across the wire', durationMs: 180_000 },
    });
    expect(song.status).toBe(201);
    for (const stream of streams) {
      const event = await stream.nextNotification(15_000);
      expect(JSON.parse(event.data!).song.id).toBe(song.body.id);
      stream.close();
    }
  });

  it('invalidates cached reads on every process after a write on one', async () => {
    for (const server of [api1, api2, api1, api2]) {
      expect((await api(server.base, 'GET', `/albums/${album.id}`)).body.title).toBe('First title');
    }
    const patched = await api(api2.base, 'PATCH', `/albums/${album.id}`, {
      token: adminToken,
      body: { title: 'Second title' },
    });
    expect(patched.status).toBe(200);
    for (const server of [api1, api2, gateway]) {
      expect((await api(server.base, 'GET', `/albums/${album.id}`)).body.title).toBe('Second title');
    }
  });

  it('stores an upload on one process, transcodes it on the worker and streams it from every media process', async () => {
    const created = await api(gateway.base, 'POST', `/albums/${album.id}/songs`, {
      token: adminToken,
      body: { title: 'Tone', durationMs: 3_000 },
    });
    expect(created.status).toBe(201);
    const songId = created.body.id;
    const auth = { authorization: `Bearer ${adminToken}` };
    // Streamed through the gateway to a media process (never held by the gateway).
    const uploaded = await fetch(`${gateway.base}/api/v1/songs/${songId}/audio`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'audio/flac' },
      body: new Uint8Array(readFileSync(makeTone(files, 'scale.flac', { seconds: 3 }))),
    });
    expect(uploaded.status).toBe(202);
    // The worker (no routes) runs the transcode, on the files the media process stored.
    const deadline = Date.now() + 90_000;
    let audio: Json;
    do {
      await new Promise((r) => setTimeout(r, 250));
      audio = (await api(gateway.base, 'GET', `/songs/${songId}`)).body.audio;
    } while (audio.status === 'processing' && Date.now() < deadline);
    expect(audio.status).toBe('ready');

    // Each media process serves the rendition the worker wrote, by the signed URL and over Subsonic.
    const password = (
      await api(gateway.base, 'POST', '/me/app-passwords', { token: adminToken, body: { name: 'scale' } })
    ).body.password;
    const subsonic = new URLSearchParams({
      u: ADMIN.email,
      p: password,
      v: '1.16.1',
      c: 'scale',
      id: songId,
    });
    const sizes = [];
    for (const server of [media1, media2, gateway]) {
      const redirect = await fetch(`${server.base}/api/v1/songs/${songId}/stream?quality=low`, {
        headers: auth,
        redirect: 'manual',
      });
      expect(redirect.status).toBe(302);
      const file = await fetch(new URL(redirect.headers.get('location')!, server.base));
      expect([server.name, file.status]).toEqual([server.name, 200]);
      sizes.push((await file.arrayBuffer()).byteLength);
      const streamed = await fetch(`${server.base}/rest/stream.view?${subsonic}`);
      expect([server.name, streamed.status, streamed.headers.get('content-type')]).toEqual([
        server.name,
        200,
        expect.stringMatching(/^audio\//),
      ]);
      expect((await streamed.arrayBuffer()).byteLength).toBeGreaterThan(1_000);
    }
    expect(sizes[0]).toBeGreaterThan(1_000);
    expect(new Set(sizes).size).toBe(1);
  });

  it('loses no accepted request while an API process shuts down', async () => {
    const songs = (await api(gateway.base, 'GET', `/albums/${album.id}/songs`)).body.items;
    const songId = songs[0].id;
    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    const traffic = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const [method, path, body] = [
          ['GET', `/albums/${album.id}`, undefined],
          ['GET', '/albums?limit=5', undefined],
          ['POST', `/songs/${songId}/plays`, { event: i % 2 ? 'skip' : 'complete' }],
          ['GET', '/me/notifications?limit=5', undefined],
          ['PUT', `/me/following/albums/${album.id}`, undefined],
        ][(i + n) % 5] as [string, string, unknown];
        sent++;
        try {
          const res = await api(gateway.base, method, path, { token: user.token, body });
          if (res.status >= 300)
            failures.push(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
        } catch (error) {
          failures.push(`${method} ${path}: ${(error as Error).message}`);
        }
      }
    };
    const running = [0, 1, 2, 3].map(traffic);
    await new Promise((r) => setTimeout(r, 2_000));
    api2.process.kill('SIGTERM');
    expect(await api2.exited).toBe(0);
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await Promise.all(running);
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);

    const services = await getJson(`${gateway.base}/health/services`);
    expect(services.status).toBe('ok');
    expect(services.services.catalog).toEqual([
      { url: api1.base, status: 'ok', latencyMs: expect.any(Number) },
      { url: api2.base, status: 'down', latencyMs: null },
    ]);
  });

  it('keeps streaming on the process that is left', async () => {
    const stream = await openStream(gateway.base, user);
    const song = await api(gateway.base, 'POST', `/albums/${album.id}/songs`, {
      token: adminToken,
      body: { title: 'After the fall', durationMs: 200_000 },
    });
    expect(song.status).toBe(201);
    expect(JSON.parse((await stream.nextNotification(15_000)).data!).song.id).toBe(song.body.id);
    stream.close();
  });
});
