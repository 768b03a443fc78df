import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { FFMPEG, id3, scratchDir } from '../../../test/audio.js';
import { admin, get, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { call } from '../../../test/helpers.js';
import { SCAN_JOB } from './index.js';

const music = scratchDir('backbeat-music-');
useAppWithAdminAndUser({ MUSIC_DIR: music, MEDIA_DIR: scratchDir('backbeat-media-') });
const SLOW = { timeout: 240_000 };

/** Albums of ten tracks: every one of "Gone Artist" goes, and half of the first "Kept" album. */
const GONE_ALBUMS = 52;
const KEPT_ALBUMS = 6;
const TRACKS = 10;
const FILES = (GONE_ALBUMS + KEPT_ALBUMS) * TRACKS;
const REMOVED = GONE_ALBUMS * TRACKS + 5;

const fileOf = (artist: string, album: string, track: number) =>
  join(music, artist, album, `${String(track).padStart(2, '0')}.mp3`);

async function scan() {
  const res = await call(t.app, 'POST', '/api/v1/admin/library/scans', { session: admin, body: {} });
  expect(res.status).toBe(202);
  await t.app.services.jobs.idle([SCAN_JOB], 200_000);
  return (await get(`/api/v1/admin/library/scans/${res.body.id}`, admin)).body;
}

async function albumByTitle(title: string) {
  const page = (await get(`/api/v1/albums?q=${encodeURIComponent(title)}&limit=100`, admin)).body;
  const match = page.items.find((a: { title: string }) => a.title === title);
  return match && (await get(`/api/v1/albums/${match.id}`, admin)).body;
}

const songIdsOf = (items: { song: { id: string } }[]) => items.map((i) => i.song.id);

describe('a rescan after many files were deleted', SLOW, () => {
  beforeAll(() => {
    // One untagged tone, then every file is that tone behind its own tag.
    const seedFile = join(music, 'seed.mp3');
    execFileSync(FFMPEG, [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=0.4'],
      ...['-ac', '2', '-b:a', '64k', '-id3v2_version', '0', '-write_xing', '1', seedFile],
    ]);
    const seed = readFileSync(seedFile);
    rmSync(seedFile);
    const albums = [
      ...Array.from({ length: GONE_ALBUMS }, (_, i) => ['Gone Artist', `Gone ${i}`] as const),
      ...Array.from({ length: KEPT_ALBUMS }, (_, i) => ['Kept Artist', `Kept ${i}`] as const),
    ];
    for (const [artist, album] of albums) {
      mkdirSync(join(music, artist, album), { recursive: true });
      for (let track = 1; track <= TRACKS; track++) {
        const tags = {
          TPE1: artist,
          TALB: album,
          TIT2: `${album} song ${track}`,
          TRCK: `${track}/${TRACKS}`,
        };
        writeFileSync(fileOf(artist, album, track), Buffer.concat([id3(tags), seed]));
      }
    }
  });

  it('deletes their songs and emptied albums in batches, as deleting the songs one by one would', async () => {
    expect(await scan()).toMatchObject({ status: 'done', total: FILES, added: FILES, failed: 0 });
    const gone = await albumByTitle('Gone 7');
    const kept = await albumByTitle('Kept 0');
    expect(kept.songCount).toBe(TRACKS);
    const [goneSong, keptSong, removedSong] = [gone.songs[0], kept.songs[0], kept.songs[6]];
    const goneArtist = gone.artist.id;
    expect((await get(`/api/v1/artists/${goneArtist}`, admin)).body.albumCount).toBe(GONE_ALBUMS);

    // A listener's playlist and play history hold songs that go and one that stays.
    const playlist = await call(t.app, 'POST', '/api/v1/playlists', {
      session: user,
      body: { name: 'Mixed' },
    });
    expect(playlist.status).toBe(201);
    const added = await call(t.app, 'POST', `/api/v1/playlists/${playlist.body.id}/tracks`, {
      session: user,
      body: { songIds: [goneSong.id, keptSong.id, removedSong.id] },
    });
    expect(added.status).toBe(200);
    for (const song of [goneSong, keptSong, removedSong]) {
      const play = await call(t.app, 'POST', `/api/v1/songs/${song.id}/plays`, {
        session: user,
        body: { event: 'play' },
      });
      expect(play.status).toBe(202);
    }
    await t.app.services.discovery.flushPlays();
    const before = await get('/api/v1/me/recently-played?limit=50', user);
    expect(songIdsOf(before.body.items).sort()).toEqual([goneSong.id, keptSong.id, removedSong.id].sort());

    rmSync(join(music, 'Gone Artist'), { recursive: true });
    for (let track = TRACKS / 2 + 1; track <= TRACKS; track++) rmSync(fileOf('Kept Artist', 'Kept 0', track));
    const rescan = await scan();
    expect(rescan).toMatchObject({
      status: 'done',
      total: FILES - REMOVED,
      unchanged: FILES - REMOVED,
      added: 0,
      updated: 0,
      removed: REMOVED,
      failed: 0,
    });

    // Every album of the artist is gone; the artist stays, with no albums.
    expect((await get(`/api/v1/albums/${gone.id}`, admin)).status).toBe(404);
    expect((await get(`/api/v1/songs/${goneSong.id}`, admin)).status).toBe(404);
    expect((await get(`/api/v1/albums?artistId=${goneArtist}`, admin)).body.total).toBe(0);
    expect((await get(`/api/v1/artists/${goneArtist}`, admin)).body.albumCount).toBe(0);
    // The half-emptied album stays with its other songs and counters to match.
    const half = (await get(`/api/v1/albums/${kept.id}`, admin)).body;
    expect(half.songCount).toBe(TRACKS / 2);
    expect(half.durationMs).toBe(
      half.songs.reduce((sum: number, s: { durationMs: number }) => sum + s.durationMs, 0),
    );
    expect(half.songs.map((s: { trackNumber: number }) => s.trackNumber)).toEqual([1, 2, 3, 4, 5]);
    // Playlists and play history lose the deleted songs, as when an admin deletes a song.
    const list = (await get(`/api/v1/playlists/${playlist.body.id}`, user)).body;
    expect(list.trackCount).toBe(1);
    expect(songIdsOf(list.tracks)).toEqual([keptSong.id]);
    const after = await get('/api/v1/me/recently-played?limit=50', user);
    expect(songIdsOf(after.body.items)).toEqual([keptSong.id]);
    // One event for each deleted song and each deleted album, as the one-by-one deletes record.
    const events = await t.database.db.execute(
      sql`select type, count(*)::int as n from outbox_events
        where type in ('catalog.song_deleted', 'catalog.album_deleted') group by type order by type`,
    );
    expect((events as unknown as { rows: unknown[] }).rows).toEqual([
      { type: 'catalog.album_deleted', n: GONE_ALBUMS },
      { type: 'catalog.song_deleted', n: REMOVED },
    ]);

    expect(await scan()).toMatchObject({ status: 'done', removed: 0, unchanged: FILES - REMOVED });
  });
});
