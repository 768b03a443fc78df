import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePicture, makeTone, scratchDir } from '../../../test/audio.js';
import { admin, get, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { buildTestApp, call, createAdmin } from '../../../test/helpers.js';
import { SCAN_JOB } from './index.js';

const music = scratchDir('backbeat-music-');
useAppWithAdminAndUser({ MUSIC_DIR: music, MEDIA_DIR: scratchDir('backbeat-media-') });
const SLOW = { timeout: 180_000 };

/** A tiny tone under the music folder, its folders made on the way. */
function tone(path: string, tags: Record<string, string> = {}, seconds = 0.5) {
  const dir = join(music, path, '..');
  mkdirSync(dir, { recursive: true });
  return makeTone(dir, path.slice(path.lastIndexOf('/') + 1), { seconds, tags });
}

async function scan(body: Record<string, unknown> = {}) {
  const res = await call(t.app, 'POST', '/api/v1/admin/library/scans', { session: admin, body });
  expect(res.status).toBe(202);
  await t.app.services.jobs.idle([SCAN_JOB], 150_000);
  const done = await get(`/api/v1/admin/library/scans/${res.body.id}`, admin);
  expect(done.status).toBe(200);
  return done.body;
}

async function albumByTitle(title: string) {
  const page = (await get(`/api/v1/albums?q=${encodeURIComponent(title)}`, admin)).body;
  const match = page.items.find((a: { title: string }) => a.title === title);
  return match && (await get(`/api/v1/albums/${match.id}`, admin)).body;
}

describe('music folder import', SLOW, () => {
  beforeAll(() => {
    tone('Artist A/Album One/01 - first.mp3', {
      artist: 'Artist A',
      album: 'Album One',
      title: 'First',
      track: '1/2',
      date: '2001',
      genre: 'Rock',
    });
    // The same album on a second disc, with the album artist spelt in another case and spacing.
    tone('Artist A/Album One/CD2/01.mp3', {
      album_artist: 'artist   a',
      artist: 'Guest',
      album: 'Album One',
      title: 'Second disc',
      track: '1',
      disc: '2/2',
    });
    // And in another folder altogether.
    tone('Elsewhere/two.mp3', { album_artist: 'Artist A', album: 'album one', title: 'Second', track: '2' });
    makePicture(join(music, 'Artist A/Album One'), 'cover.jpg', 320, 320);
    tone('Comp/01.mp3', { artist: 'Singer X', album: 'Hits', compilation: '1', title: 'Hit X', track: '1' });
    tone('Comp/02.mp3', { artist: 'Singer Y', album: 'Hits', compilation: '1', title: 'Hit Y', track: '2' });
    tone('Folder Artist/Folder Album/03 - Untagged Song.wav');
    tone('Long/long.mp3', { title: 'x'.repeat(10_000), album: 'Long Tags', artist: 'Longfellow' });
    mkdirSync(join(music, 'bad'));
    writeFileSync(join(music, 'bad/empty.mp3'), '');
    writeFileSync(join(music, 'bad/text.flac'), 'this is not audio at all, only words');
    symlinkSync(music, join(music, 'bad/loop'));
    symlinkSync(join(music, 'bad/self'), join(music, 'bad/self'));
    symlinkSync(scratchDir('backbeat-outside-'), join(music, 'bad/outside'));
  });

  let first: Record<string, unknown>;

  it('imports a folder into artists, albums and songs, and counts what failed', async () => {
    first = await scan();
    expect(first).toMatchObject({
      path: '',
      status: 'done',
      total: 9,
      processed: 9,
      added: 7,
      updated: 0,
      unchanged: 0,
      removed: 0,
    });
    expect(first.finishedAt).toEqual(expect.any(String));
    const codes = Object.fromEntries(
      (first.errors as { path: string; code: string }[]).map((e) => [e.path, e.code]),
    );
    expect(codes).toEqual({
      'bad/empty.mp3': 'EMPTY_FILE',
      'bad/text.flac': 'NOT_AUDIO',
      'bad/self': 'SYMLINK_LOOP',
      'bad/outside': 'SYMLINK_OUTSIDE_ROOT',
    });
    expect(first.failed).toBe(4);
  });

  it('groups an album across discs, folders and spellings, ordered by disc then track', async () => {
    const album = await albumByTitle('Album One');
    expect(album.artist.name).toBe('Artist A');
    expect(album.releaseYear).toBe(2001);
    expect(album.genre).toBe('Rock');
    expect(album.songs.map((s: { title: string; trackNumber: number }) => [s.trackNumber, s.title])).toEqual([
      [1, 'First'],
      [2, 'Second'],
      [201, 'Second disc'],
    ]);
    // Each song keeps its own (track) artist; a song without one takes the album's.
    expect(album.songs.map((s: { artist: { name: string } }) => s.artist.name)).toEqual([
      'Artist A',
      'Artist A',
      'Guest',
    ]);
    expect(album.songs[0].artist.id).toBe(album.artist.id);
    expect(album.coverUrl).toMatch(/^\/media\/images\//);
    const artists = (await get('/api/v1/artists?q=Artist%20A', admin)).body;
    expect(artists.items.filter((a: { name: string }) => a.name.toLowerCase() === 'artist a')).toHaveLength(
      1,
    );
  });

  it('puts a compilation under Various Artists and untagged files under their folders', async () => {
    const hits = await albumByTitle('Hits');
    expect(hits.artist.name).toBe('Various Artists');
    expect(hits.songs.map((s: { title: string }) => s.title)).toEqual(['Hit X', 'Hit Y']);
    // A compilation keeps every track's own artist, each an artist of the catalog.
    expect(hits.songs.map((s: { artist: { name: string } }) => s.artist.name)).toEqual([
      'Singer X',
      'Singer Y',
    ]);
    const singer = (await get(`/api/v1/artists/${hits.songs[0].artist.id}`, admin)).body;
    expect(singer).toMatchObject({ name: 'Singer X', albumCount: 0 });
    const bySinger = (await get(`/api/v1/songs?artistId=${singer.id}`, admin)).body;
    expect(bySinger.items.map((s: { title: string }) => s.title)).toEqual(['Hit X']);
    const variousSongs = (await get(`/api/v1/songs?artistId=${hits.artist.id}`, admin)).body;
    expect(variousSongs.total).toBe(0);
    // Hiding the compilation's artist hides its songs, whatever their own artist.
    const hide = (isVisible: boolean) =>
      call(t.app, 'PATCH', `/api/v1/artists/${hits.artist.id}`, { session: admin, body: { isVisible } });
    expect((await hide(false)).status).toBe(200);
    expect((await get(`/api/v1/songs/${hits.songs[0].id}`, user)).status).toBe(404);
    expect((await hide(true)).status).toBe(200);
    expect((await get(`/api/v1/songs/${hits.songs[0].id}`, user)).status).toBe(200);
    // A track artist is not deleted from under its songs.
    const refused = await call(t.app, 'DELETE', `/api/v1/artists/${singer.id}`, { session: admin });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('ARTIST_HAS_SONGS');
    // Renaming a track artist shows at once on the compilation's page, read (and cached) before.
    expect((await get(`/api/v1/albums/${hits.id}`, admin)).body.songs[0].artist.name).toBe('Singer X');
    const rename = (name: string) =>
      call(t.app, 'PATCH', `/api/v1/artists/${singer.id}`, { session: admin, body: { name } });
    expect((await rename('Singer Z')).status).toBe(200);
    const renamed = (await get(`/api/v1/albums/${hits.id}`, admin)).body;
    expect(renamed.songs.map((s: { artist: { name: string } }) => s.artist.name)).toEqual([
      'Singer Z',
      'Singer Y',
    ]);
    expect((await rename('Singer X')).status).toBe(200);
    const untagged = await albumByTitle('Folder Album');
    expect(untagged.artist.name).toBe('Folder Artist');
    expect(untagged.songs).toMatchObject([{ title: 'Untagged Song', trackNumber: 3 }]);
    const long = await albumByTitle('Long Tags');
    expect(long.songs[0].title).toBe('x'.repeat(200));
  });

  it('streams the original in place at once', async () => {
    const album = await albumByTitle('Album One');
    const res = await call(t.app, 'GET', `/api/v1/songs/${album.songs[0].id}/stream?quality=original`, {
      session: user,
    });
    expect(res.status).toBe(302);
    const file = await t.app.inject({ method: 'GET', url: String(res.headers.location) });
    expect(file.statusCode).toBe(200);
    expect(file.rawPayload.equals(readFileSync(join(music, 'Artist A/Album One/01 - first.mp3')))).toBe(true);
  });

  it('rescans unchanged files without reading them, and creates no duplicates', async () => {
    const again = await scan();
    expect(again).toMatchObject({ status: 'done', total: 9, added: 0, updated: 0, unchanged: 7, removed: 0 });
    const album = await albumByTitle('Album One');
    expect(album.songs).toHaveLength(3);
  });

  it('updates changed files and removes songs (and emptied albums) of deleted files', async () => {
    const hits = await albumByTitle('Hits');
    rmSync(join(music, 'Comp'), { recursive: true });
    tone(
      'Elsewhere/two.mp3',
      { album_artist: 'Artist A', album: 'Album One', title: 'Second, retagged', track: '2' },
      0.6,
    );
    const result = await scan();
    expect(result).toMatchObject({
      status: 'done',
      total: 7,
      added: 0,
      updated: 1,
      unchanged: 4,
      removed: 2,
    });
    expect((await get(`/api/v1/albums/${hits.id}`, admin)).status).toBe(404);
    // Its track artists stay, and with their songs gone they may be deleted.
    const singer = hits.songs[0].artist.id;
    expect((await get(`/api/v1/artists/${singer}`, admin)).status).toBe(200);
    expect((await call(t.app, 'DELETE', `/api/v1/artists/${singer}`, { session: admin })).status).toBe(204);
    const album = await albumByTitle('Album One');
    expect(album.songs.map((s: { title: string }) => s.title)).toEqual([
      'First',
      'Second, retagged',
      'Second disc',
    ]);
  });

  it('scans a folder inside the music folder and refuses one outside it', async () => {
    copyFileSync(join(music, 'Long/long.mp3'), join(music, 'Long/copy.mp3'));
    const sub = await scan({ path: 'Long' });
    expect(sub).toMatchObject({ path: 'Long', total: 2, added: 1, unchanged: 1, removed: 0 });
    for (const path of ['../', '/etc', 'bad/outside', 'no such folder']) {
      const res = await call(t.app, 'POST', '/api/v1/admin/library/scans', {
        session: admin,
        body: { path },
      });
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    const denied = await call(t.app, 'POST', '/api/v1/admin/library/scans', { session: user, body: {} });
    expect(denied.status).toBe(403);
  });

  it('runs one scan at a time: a second request answers 409 with the running one', async () => {
    const one = await call(t.app, 'POST', '/api/v1/admin/library/scans', {
      session: admin,
      body: { full: true },
    });
    const two = await call(t.app, 'POST', '/api/v1/admin/library/scans', { session: admin, body: {} });
    expect(one.status).toBe(202);
    expect(two.status).toBe(409);
    expect(two.body.id).toBe(one.body.id);
    await t.app.services.jobs.idle([SCAN_JOB], 150_000);
    const list = (await get('/api/v1/admin/library/scans?limit=2', admin)).body;
    expect(list.items[0]).toMatchObject({ id: one.body.id, status: 'done', updated: 6, added: 0 });
    expect(list.total).toBe(5);
    // Every field is optional: a request with no body at all scans the whole folder.
    const bare = await call(t.app, 'POST', '/api/v1/admin/library/scans', { session: admin });
    expect(bare.status).toBe(202);
    expect(bare.body).toMatchObject({ path: '', status: 'queued' });
    await t.app.services.jobs.idle([SCAN_JOB], 150_000);
  });
});

describe('a scan interrupted by a restart', SLOW, () => {
  it('resumes and finishes with whole counts', async () => {
    const { jobs } = t.app.services;
    await jobs.stop();
    const res = await call(t.app, 'POST', '/api/v1/admin/library/scans', {
      session: admin,
      body: { full: true },
    });
    expect(res.status).toBe(202);
    // What a process that died mid-scan leaves behind: a running scan, its job under a lapsed lease.
    await t.database.db.execute(
      sql`update jobs set status = 'running', locked_by = 'gone', attempts = 1, locked_until = now() - interval '1 minute' where type = ${SCAN_JOB} and status = 'queued'`,
    );
    await t.database.db.execute(
      sql`update media_library_scans set status = 'running', started_at = now(), processed = 2, updated = 2 where id = ${res.body.id}`,
    );
    expect((await get(`/api/v1/admin/library/scans/${res.body.id}`, admin)).body.status).toBe('running');
    await jobs.start();
    await jobs.idle([SCAN_JOB], 150_000);
    const done = (await get(`/api/v1/admin/library/scans/${res.body.id}`, admin)).body;
    expect(done).toMatchObject({ status: 'done', total: 8, processed: 8, updated: 6, added: 0, removed: 0 });
  });
});

describe('without a music folder', () => {
  let app: Awaited<ReturnType<typeof buildTestApp>>;
  afterAll(() => app?.close());
  it('answers 409 MUSIC_DIR_NOT_CONFIGURED', async () => {
    app = await buildTestApp();
    const session = await createAdmin(app.app);
    const res = await call(app.app, 'POST', '/api/v1/admin/library/scans', { session, body: {} });
    expect(res.body).toMatchObject({ status: 409 });
    expect(res.body.code).toBe('MUSIC_DIR_NOT_CONFIGURED');
  });
});
