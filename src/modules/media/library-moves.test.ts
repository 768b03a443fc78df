import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTone, scratchDir } from '../../../test/audio.js';
import { admin, get, t, useAppWithAdminAndUser } from '../../../test/context.js';
import { buildTestApp, call, createAdmin } from '../../../test/helpers.js';
import { SCAN_JOB } from './index.js';

/** Music folder scans where a file's album tag changes, and a music folder that went away. */
const music = scratchDir('backbeat-moves-');
useAppWithAdminAndUser({ MUSIC_DIR: music, MEDIA_DIR: scratchDir('backbeat-moves-media-') });
const SLOW = { timeout: 180_000 };

function tone(path: string, tags: Record<string, string>, seconds = 0.5) {
  const dir = join(music, path, '..');
  mkdirSync(dir, { recursive: true });
  return makeTone(dir, path.slice(path.lastIndexOf('/') + 1), { seconds, tags });
}

async function scan() {
  const res = await call(t.app, 'POST', '/api/v1/admin/library/scans', { session: admin, body: {} });
  expect(res.status).toBe(202);
  await t.app.services.jobs.idle([SCAN_JOB], 150_000);
  return (await get(`/api/v1/admin/library/scans/${res.body.id}`, admin)).body;
}

async function albumByTitle(title: string) {
  const page = (await get(`/api/v1/albums?q=${encodeURIComponent(title)}`, admin)).body;
  const match = page.items.find((a: { title: string }) => a.title === title);
  return match && (await get(`/api/v1/albums/${match.id}`, admin)).body;
}

describe('a file retagged to another album', SLOW, () => {
  it('moves its song to that album, and deletes the album it left empty', async () => {
    tone('Mover/Single/01.mp3', { artist: 'Mover', album: 'Single', title: 'Runaway', track: '1' });
    tone('Mover/Record/01.mp3', { artist: 'Mover', album: 'Record', title: 'Opener', track: '1' });
    expect(await scan()).toMatchObject({ status: 'done', added: 2, failed: 0 });
    const single = await albumByTitle('Single');
    expect(single.songs.map((s: { title: string }) => s.title)).toEqual(['Runaway']);

    // Same file, now tagged as the second track of the other album.
    tone('Mover/Single/01.mp3', { artist: 'Mover', album: 'Record', title: 'Runaway', track: '2' }, 0.6);
    // (The scan counts the moved file as added: its song is made anew in the other album.)
    expect(await scan()).toMatchObject({ status: 'done', total: 2, unchanged: 1, failed: 0 });
    const record = await albumByTitle('Record');
    expect(record.songs.map((s: { title: string }) => s.title)).toEqual(['Opener', 'Runaway']);
    expect((await get(`/api/v1/albums/${single.id}`, admin)).status).toBe(404);
    const songs = (await get('/api/v1/songs?q=Runaway&visibility=all', admin)).body;
    expect(songs.items.map((s: { album: { id: string } }) => s.album.id)).toEqual([record.id]);
  });
});

describe('a music folder that went away', () => {
  const gone = scratchDir('backbeat-gone-');
  let other: Awaited<ReturnType<typeof buildTestApp>>;
  afterAll(() => other?.close());

  it('answers 409 MUSIC_DIR_UNAVAILABLE and starts no scan', async () => {
    other = await buildTestApp({ MUSIC_DIR: gone });
    rmSync(gone, { recursive: true, force: true });
    const session = await createAdmin(other.app);
    const res = await call(other.app, 'POST', '/api/v1/admin/library/scans', { session, body: {} });
    expect(res.status).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('MUSIC_DIR_UNAVAILABLE');
    expect(JSON.stringify(res.body)).not.toContain(gone);
    const scans = await call(other.app, 'GET', '/api/v1/admin/library/scans', { session });
    expect(scans.body.total).toBe(0);
  });
});
