import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeInfo, ffprobe, makePicture, makeTone, scratchDir } from '../../../test/audio.js';
import { admin, get, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { makeAlbum, makeArtist, makeArtistAccount, makeSong } from '../../../test/factories.js';
import { call, type Session } from '../../../test/helpers.js';

const mediaDir = scratchDir('backbeat-media-');
useAppWithAdminAndUser({ MEDIA_DIR: mediaDir, UPLOAD_MAX_BYTES: '4MB', IMAGE_MAX_BYTES: '256KB' });
const files = scratchDir();

const upload = (songId: string, body: Buffer, type = 'audio/flac', session: Session = admin) =>
  t.app.inject({
    method: 'PUT',
    url: `/api/v1/songs/${songId}/audio`,
    headers: { ...session.auth, 'content-type': type },
    payload: body,
  });

/** A multipart body with the given parts (files as Buffers). */
function form(parts: { name: string; value: string | Buffer; filename?: string; type?: string }[]) {
  const boundary = `----backbeat${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    const head = `--${boundary}\r\ncontent-disposition: ${disposition}\r\n${part.type ? `content-type: ${part.type}\r\n` : ''}\r\n`;
    chunks.push(
      Buffer.from(head),
      Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

const tmpFiles = () => readdirSync(join(mediaDir, 'tmp'));
const waitForJobs = () => t.app.services.jobs.idle(undefined, 120_000);
/** Transcodes run ffmpeg: generous bounds, for a busy machine. */
const SLOW = { timeout: 150_000 };

/** Follows the stream redirect and fetches the signed URL without any Authorization header. */
async function fetchSigned(
  location: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' = 'GET',
) {
  return t.app.inject({ method, url: location, headers });
}

describe('audio upload, transcoding and signed streaming', SLOW, () => {
  let album: { id: string };
  let song: { id: string };
  let flac: Buffer;

  beforeAll(async () => {
    album = await makeAlbum(t.app, admin);
    song = await makeSong(t.app, admin, album.id, { durationMs: 1000 });
    flac = readFileSync(makeTone(files, 'tone.flac', { seconds: 4, tags: { title: 'Tone', track: '7' } }));
  });

  it('accepts a FLAC body, answers 202 processing, and ends ready with measured audio', async () => {
    const res = await upload(song.id, flac, 'audio/mpeg');
    expect(res.statusCode).toBe(202);
    expect(res.json().audio).toEqual({ status: 'processing' });
    await waitForJobs();
    const ready = (await get(`/api/v1/songs/${song.id}`)).body;
    expect(ready.audio.status).toBe('ready');
    expect(ready.audio.qualities).toEqual(['low', 'medium', 'high', 'original']);
    expect(ready.audio.source).toMatchObject({
      format: 'flac',
      sampleRate: 44100,
      channels: 2,
      bytes: flac.length,
    });
    expect(ready.audio.durationMs).toBeGreaterThan(3950);
    expect(ready.audio.durationMs).toBeLessThan(4050);
    expect(ready.durationMs).toBe(ready.audio.durationMs);
    // A -18 LUFS target: a full-scale-ish sine measured around -21 LUFS gets a positive or small gain.
    const { integratedLufs, trackGainDb, truePeakDb } = ready.audio.loudness;
    expect(trackGainDb).toBeCloseTo(-18 - integratedLufs, 0);
    expect(truePeakDb).toBeLessThanOrEqual(0.5);
    // The album's total follows the measured duration.
    const albumNow = (await get(`/api/v1/albums/${album.id}`)).body;
    expect(albumNow.durationMs).toBe(ready.audio.durationMs);
    expect(albumNow.songs[0].audio.status).toBe('ready');
    expect(tmpFiles()).toEqual([]);
  });

  it('streams each quality through a signed URL at its bitrate', async () => {
    for (const [quality, kbps] of [
      ['low', 64],
      ['medium', 128],
      ['high', 320],
    ] as const) {
      const redirect = await call(t.app, 'GET', `/api/v1/songs/${song.id}/stream?quality=${quality}`, {
        session: user,
      });
      expect(redirect.status).toBe(302);
      const location = String(redirect.headers.location);
      expect(location).toMatch(/^\/media\/audio\/[0-9a-f]{64}\/[0-9]+k\.mp3\?exp=[0-9]+&sig=/);
      const res = await fetchSigned(location);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('audio/mpeg');
      expect(res.headers['accept-ranges']).toBe('bytes');
      const file = join(files, `${quality}.mp3`);
      writeFileSync(file, res.rawPayload);
      const probe = ffprobe(file);
      expect(probe.streams[0]).toMatchObject({ codec_name: 'mp3', sample_rate: '44100', channels: 2 });
      expect(Number(probe.streams[0]?.bit_rate)).toBe(kbps * 1000);
      expect(Number(probe.format.duration)).toBeGreaterThan(3.9);
    }
    const original = await call(t.app, 'GET', `/api/v1/songs/${song.id}/stream?quality=original`, {
      session: user,
    });
    const res = await fetchSigned(String(original.headers.location));
    expect(res.headers['content-type']).toBe('audio/flac');
    expect(res.rawPayload.equals(flac)).toBe(true);
  });

  it('serves byte ranges as RFC 9110 says', async () => {
    const redirect = await call(t.app, 'GET', `/api/v1/songs/${song.id}/stream?quality=high`, {
      session: user,
    });
    const url = String(redirect.headers.location);
    const whole = (await fetchSigned(url)).rawPayload;
    const size = whole.length;

    const first = await fetchSigned(url, { range: 'bytes=0-99' });
    expect(first.statusCode).toBe(206);
    expect(first.headers['content-range']).toBe(`bytes 0-99/${size}`);
    expect(first.rawPayload.equals(whole.subarray(0, 100))).toBe(true);

    const middle = await fetchSigned(url, { range: `bytes=1000-${size + 5000}` });
    expect(middle.statusCode).toBe(206);
    expect(middle.headers['content-range']).toBe(`bytes 1000-${size - 1}/${size}`);
    expect(middle.rawPayload.equals(whole.subarray(1000))).toBe(true);

    const suffix = await fetchSigned(url, { range: 'bytes=-500' });
    expect(suffix.statusCode).toBe(206);
    expect(suffix.rawPayload.equals(whole.subarray(size - 500))).toBe(true);

    const beyond = await fetchSigned(url, { range: `bytes=${size + 10}-` });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${size}`);
    expect(beyond.headers['content-type']).toMatch(/^application\/problem\+json/);

    for (const odd of ['bytes=5-2', 'bytes=0-0,5-9', 'bytes=abc', 'items=0-5']) {
      const res = await fetchSigned(url, { range: odd });
      expect([200, 206]).toContain(res.statusCode);
      if (res.statusCode === 200) expect(res.rawPayload.length).toBe(size);
      else expect(whole.includes(res.rawPayload)).toBe(true);
    }

    const head = await fetchSigned(url, {}, 'HEAD');
    expect(head.statusCode).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(size);
    expect(head.rawPayload.length).toBe(0);

    const etag = String(first.headers.etag);
    expect((await fetchSigned(url, { 'if-none-match': etag })).statusCode).toBe(304);
    const staleRange = await fetchSigned(url, { range: 'bytes=0-9', 'if-range': '"something-else"' });
    expect(staleRange.statusCode).toBe(200);
    expect((await fetchSigned(url, { range: 'bytes=0-9', 'if-range': etag })).statusCode).toBe(206);
  });

  it('answers the range edge cases players send, and conditional requests on the file', async () => {
    const redirect = await call(t.app, 'GET', `/api/v1/songs/${song.id}/stream?quality=low`, {
      session: user,
    });
    const url = String(redirect.headers.location);
    const full = await fetchSigned(url);
    const whole = full.rawPayload;
    const size = whole.length;

    // `bytes=0-` (what browsers send first) is a range that applies: 206, not 200.
    const open = await fetchSigned(url, { range: 'bytes=0-' });
    expect(open.statusCode).toBe(206);
    expect(open.headers['content-range']).toBe(`bytes 0-${size - 1}/${size}`);
    expect(open.rawPayload.equals(whole)).toBe(true);
    // A suffix longer than the file is the whole file (RFC 9110 14.1.2); an empty one is not satisfiable.
    const longSuffix = await fetchSigned(url, { range: `bytes=-${size + 100}` });
    expect(longSuffix.statusCode).toBe(206);
    expect(longSuffix.headers['content-range']).toBe(`bytes 0-${size - 1}/${size}`);
    expect(longSuffix.rawPayload.equals(whole)).toBe(true);
    expect((await fetchSigned(url, { range: 'bytes=-0' })).statusCode).toBe(416);
    // The last byte alone, and a HEAD of a range.
    const last = await fetchSigned(url, { range: `bytes=${size - 1}-${size - 1}` });
    expect(last.statusCode).toBe(206);
    expect(last.rawPayload.equals(whole.subarray(size - 1))).toBe(true);
    const headRange = await fetchSigned(url, { range: 'bytes=10-19' }, 'HEAD');
    expect(headRange.statusCode).toBe(206);
    expect(headRange.headers['content-length']).toBe('10');
    expect(headRange.rawPayload.length).toBe(0);

    const etag = String(full.headers.etag);
    const modified = String(full.headers['last-modified']);
    expect(modified).toMatch(/ GMT$/);
    const notModified = await fetchSigned(url, { 'if-modified-since': modified });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.headers.etag).toBe(etag);
    expect(notModified.rawPayload.length).toBe(0);
    expect((await fetchSigned(url, { 'if-none-match': `"other", ${etag}` })).statusCode).toBe(304);
    expect((await fetchSigned(url, { 'if-match': etag })).statusCode).toBe(200);
    const changed = await fetchSigned(url, { 'if-match': '"another-version"' });
    expect(changed.statusCode).toBe(412);
    expect(changed.json().code).toBe('PRECONDITION_FAILED');
    const olderDate = await fetchSigned(url, {
      range: 'bytes=0-9',
      'if-range': 'Thu, 01 Jan 1970 00:00:00 GMT',
    });
    expect(olderDate.statusCode).toBe(200);

    // A validator the ETag plugin matches its own way (`W/` before a weak tag) is a 304 that
    // never reads the opened file: the file must be closed all the same, not leaked.
    const openFiles = () => readdirSync('/proc/self/fd').length;
    const before = openFiles();
    for (let i = 0; i < 40; i++) {
      expect((await fetchSigned(url, { 'if-none-match': `W/${etag}` })).statusCode).toBe(304);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(openFiles() - before).toBeLessThan(10);
  });

  it('refuses changed signatures, other paths and expired URLs', async () => {
    const redirect = await call(t.app, 'GET', `/api/v1/songs/${song.id}/stream?quality=low`, {
      session: user,
    });
    const url = String(redirect.headers.location);
    const tampered = url.replace(/sig=./, (m) => (m.endsWith('A') ? 'sig=B' : 'sig=A'));
    const res = await fetchSigned(tampered);
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('INVALID_SIGNATURE');
    const otherPath = url.replace(/[0-9]+k\.mp3/, '320k.mp3');
    expect((await fetchSigned(otherPath)).json().code).toBe('INVALID_SIGNATURE');
    const longer = url.replace(/exp=([0-9]+)/, (_m, exp) => `exp=${Number(exp) + 3600}`);
    expect((await fetchSigned(longer)).json().code).toBe('INVALID_SIGNATURE');
    const unsigned = url.split('?')[0] as string;
    expect((await fetchSigned(unsigned)).statusCode).toBe(403);
    const traversal = await fetchSigned('/media/audio/..%2f..%2fetc/passwd?exp=1&sig=x');
    expect([403, 404]).toContain(traversal.statusCode);
  });

  it('serves an HLS ladder whose playlists and segments are all signed', async () => {
    const redirect = await call(t.app, 'GET', `/api/v1/songs/${song.id}/hls`, { session: user });
    expect(redirect.status).toBe(302);
    const master = await fetchSigned(String(redirect.headers.location));
    expect(master.statusCode).toBe(200);
    expect(master.headers['content-type']).toMatch(/^application\/vnd\.apple\.mpegurl/);
    const variants = master.body.split('\n').filter((line) => line.startsWith('/media/'));
    expect(variants).toHaveLength(3);
    expect(master.body).toContain('BANDWIDTH=');
    for (const variant of variants) expect(variant).toMatch(/\/index\.m3u8\?exp=[0-9]+&sig=/);
    const playlist = await fetchSigned(variants[0] as string);
    expect(playlist.body).toContain('#EXT-X-ENDLIST');
    const segments = playlist.body.split('\n').filter((line) => line.startsWith('/media/'));
    expect(segments.length).toBeGreaterThan(0);
    const durations = [...playlist.body.matchAll(/#EXTINF:([0-9.]+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...durations)).toBeLessThanOrEqual(10);
    const segment = await fetchSigned(segments[0] as string);
    expect(segment.statusCode).toBe(200);
    expect(segment.headers['content-type']).toBe('video/mp2t');
    const file = join(files, 'seg.ts');
    writeFileSync(file, segment.rawPayload);
    // (The npm ffprobe build crashes on MPEG-TS input; ffmpeg's own decode tells the same.)
    expect(decodeInfo(file)).toMatch(/Audio: mp3 .*, 44100 Hz, stereo/);
  });

  it('never encodes above the source: a 128 kbps MP3 gets high = its 128 kbps rendition', async () => {
    const mp3Song = await makeSong(t.app, admin, album.id);
    const mp3 = readFileSync(makeTone(files, 'cbr128.mp3', { seconds: 2, kbps: 128 }));
    expect((await upload(mp3Song.id, mp3, 'audio/mpeg')).statusCode).toBe(202);
    await waitForJobs();
    const ready = (await get(`/api/v1/songs/${mp3Song.id}`)).body;
    expect(ready.audio.source).toMatchObject({ format: 'mp3', bitrateKbps: 128 });
    const high = await call(t.app, 'GET', `/api/v1/songs/${mp3Song.id}/stream?quality=high`, {
      session: user,
    });
    const medium = await call(t.app, 'GET', `/api/v1/songs/${mp3Song.id}/stream?quality=medium`, {
      session: user,
    });
    expect(String(high.headers.location).split('?')[0]).toBe(String(medium.headers.location).split('?')[0]);
    expect(String(high.headers.location)).toContain('/128k.mp3');
    const hls = await call(t.app, 'GET', `/api/v1/songs/${mp3Song.id}/hls`, { session: user });
    const master = await fetchSigned(String(hls.headers.location));
    expect(master.body.split('\n').filter((line) => line.startsWith('/media/'))).toHaveLength(2);
  });

  it('takes Ogg Vorbis and WAV too, and a form upload with one file part', async () => {
    for (const name of ['tone.ogg', 'tone.wav']) {
      const target = await makeSong(t.app, admin, album.id);
      const body = readFileSync(makeTone(files, name, { seconds: 1 }));
      const { payload, contentType } = form([
        { name: 'file', value: body, filename: name, type: 'audio/whatever' },
      ]);
      const res = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/songs/${target.id}/audio`,
        headers: { ...admin.auth, 'content-type': contentType },
        payload,
      });
      expect(res.statusCode).toBe(202);
      await waitForJobs();
      const ready = (await get(`/api/v1/songs/${target.id}`)).body;
      expect(ready.audio.status).toBe('ready');
      expect(ready.audio.source.format).toBe(name.slice(5));
    }
  });

  it('refuses bad uploads with a problem and leaves no file behind', async () => {
    const target = await makeSong(t.app, admin, album.id);
    const cases: [Awaited<ReturnType<typeof upload>>, number, string][] = [
      [
        await upload(target.id, Buffer.from('this is not audio at all'.repeat(100)), 'audio/mpeg'),
        415,
        'UNSUPPORTED_MEDIA',
      ],
      [await upload(target.id, Buffer.alloc(0), 'audio/flac'), 415, 'UNSUPPORTED_MEDIA'],
      [await upload(target.id, flac.subarray(0, 200), 'audio/flac'), 415, 'UNSUPPORTED_MEDIA'],
      [await upload(target.id, flac, 'text/plain'), 415, 'UNSUPPORTED_MEDIA'],
      [await upload(target.id, Buffer.from('{"a":1}'), 'application/json'), 415, 'UNSUPPORTED_MEDIA'],
      [await upload(target.id, Buffer.alloc(5 * 1024 * 1024, 1), 'audio/flac'), 413, 'PAYLOAD_TOO_LARGE'],
    ];
    const noBody = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/songs/${target.id}/audio`,
      headers: admin.auth,
    });
    cases.push([noBody, 415, 'UNSUPPORTED_MEDIA']);
    for (const [res, status, code] of cases) {
      expect(res.statusCode).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json().code).toBe(code);
    }
    const noFile = form([{ name: 'title', value: 'x' }]);
    const twoFiles = form([
      { name: 'file', value: flac, filename: 'a.flac' },
      { name: 'file', value: flac, filename: 'b.flac' },
    ]);
    const traversal = form([
      { name: 'file', value: Buffer.from('junk'), filename: '../../../../etc/passwd' },
    ]);
    for (const [body, status, code] of [
      [noFile, 400, 'MISSING_FILE'],
      [twoFiles, 400, 'TOO_MANY_FILES'],
      [traversal, 415, 'UNSUPPORTED_MEDIA'],
    ] as const) {
      const res = await t.app.inject({
        method: 'PUT',
        url: `/api/v1/songs/${target.id}/audio`,
        headers: { ...admin.auth, 'content-type': body.contentType },
        payload: body.payload,
      });
      expect(res.statusCode).toBe(status);
      expect(res.json().code).toBe(code);
    }
    expect(tmpFiles()).toEqual([]);
    expect((await get(`/api/v1/songs/${target.id}`)).body.audio).toEqual({ status: 'none' });
    const notReady = await call(t.app, 'GET', `/api/v1/songs/${target.id}/stream`, { session: user });
    expect(notReady.status).toBe(409);
    expect(notReady.body.code).toBe('AUDIO_NOT_READY');
  });

  it('holds a JSON song body to the JSON limit and a form upload on the same route to the upload limit', async () => {
    // 2 MB of JSON is over the 1 MB every JSON route takes: refused, not buffered and parsed.
    const tooBig = await t.app.inject({
      method: 'POST',
      url: `/api/v1/albums/${album.id}/songs`,
      headers: { ...admin.auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ title: 'x'.repeat(2 * 1024 * 1024), durationMs: 1000 }),
    });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().code).toBe('PAYLOAD_TOO_LARGE');
    // A 2 MB file in a form is within UPLOAD_MAX_BYTES (4MB here).
    const wav = readFileSync(makeTone(files, 'long.wav', { seconds: 12 }));
    expect(wav.length).toBeGreaterThan(2 * 1024 * 1024);
    const body = form([{ name: 'file', value: wav, filename: 'long.wav', type: 'audio/wav' }]);
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/v1/albums/${album.id}/songs`,
      headers: { ...admin.auth, 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(created.statusCode).toBe(201);
    await waitForJobs();
  });

  it('removes the partial file of an upload the client aborts half-way', async () => {
    const target = await makeSong(t.app, admin, album.id);
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { request } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = request(`${address}/api/v1/songs/${target.id}/audio`, {
        method: 'PUT',
        headers: { ...admin.auth, 'content-type': 'audio/flac', 'content-length': String(flac.length * 10) },
      });
      req.on('error', () => {});
      req.write(flac);
      // Once the partial file exists on the server, the client goes away.
      const waitForPartial = setInterval(() => {
        if (tmpFiles().length === 0) return;
        clearInterval(waitForPartial);
        req.destroy();
        resolve();
      }, 20);
    });
    const deadline = Date.now() + 10_000;
    while (tmpFiles().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(tmpFiles()).toEqual([]);
    expect((await get(`/api/v1/songs/${target.id}`)).body.audio).toEqual({ status: 'none' });
  });

  it('marks a file that ffmpeg fails on mid-way as failed with a code, and the song stays', async () => {
    const target = await makeSong(t.app, admin, album.id);
    const long = readFileSync(makeTone(files, 'long.flac', { seconds: 8 }));
    const truncated = long.subarray(0, Math.floor(long.length * 0.8));
    expect((await upload(target.id, truncated)).statusCode).toBe(202);
    await waitForJobs();
    const failed = (await get(`/api/v1/songs/${target.id}`)).body;
    expect(failed.audio).toEqual({ status: 'failed', error: 'TRANSCODE_FAILED' });
    const jobs = await call(t.app, 'GET', '/api/v1/admin/jobs?status=failed&type=media.transcode', {
      session: admin,
    });
    expect(jobs.status).toBe(200);
    expect(jobs.body.items[0]).toMatchObject({
      type: 'media.transcode',
      status: 'failed',
      lastError: 'TRANSCODE_FAILED',
    });
  });

  it('checks ownership and visibility before reading a byte', async () => {
    const otherArtist = await makeArtist(t.app, admin);
    const artistSession = await makeArtistAccount(t.app, admin, otherArtist.id);
    expect((await upload(song.id, flac, 'audio/flac', artistSession)).statusCode).toBe(403);
    expect((await upload(song.id, flac, 'audio/flac', user)).statusCode).toBe(403);
    const anonymous = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/songs/${song.id}/audio`,
      payload: flac,
      headers: { 'content-type': 'audio/flac' },
    });
    expect(anonymous.statusCode).toBe(401);
    expect((await call(t.app, 'GET', `/api/v1/songs/${song.id}/stream`)).status).toBe(401);
    const hidden = await makeAlbum(t.app, admin, { isPublic: false });
    const hiddenSong = await makeSong(t.app, admin, hidden.id);
    expect(
      (await call(t.app, 'GET', `/api/v1/songs/${hiddenSong.id}/stream`, { session: user })).status,
    ).toBe(404);
    expect((await call(t.app, 'GET', '/api/v1/admin/jobs', { session: user })).status).toBe(403);
  });

  it('creates a song from a tagged file with its embedded cover as the album cover', async () => {
    const fresh = await makeAlbum(t.app, admin);
    const mp3 = readFileSync(
      makeTone(files, 'tagged.mp3', {
        seconds: 2,
        kbps: 192,
        cover: true,
        tags: { title: 'Tagged Title', track: '4' },
      }),
    );
    const body = form([
      { name: 'file', value: mp3, filename: '04 - whatever.mp3', type: 'audio/mpeg' },
      { name: 'explicit', value: 'true' },
    ]);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/albums/${fresh.id}/songs`,
      headers: { ...admin.auth, 'content-type': body.contentType },
      payload: body.payload,
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe(`/api/v1/songs/${res.json().id}`);
    expect(res.json()).toMatchObject({
      title: 'Tagged Title',
      trackNumber: 4,
      explicit: true,
      audio: { status: 'processing' },
    });
    expect(res.json().durationMs).toBeGreaterThan(1900);
    await waitForJobs();
    const albumNow = (await get(`/api/v1/albums/${fresh.id}`)).body;
    expect(albumNow.images.map((i: { width: number }) => i.width)).toEqual([640, 300, 64]);
    expect(albumNow.coverUrl).toBe(albumNow.images[0].url);
    const picture = await t.app.inject({ method: 'GET', url: albumNow.images[2].url });
    expect(picture.statusCode).toBe(200);
    expect(picture.headers['content-type']).toBe('image/jpeg');
    expect(picture.headers['cache-control']).toBe('public, max-age=31536000, immutable');

    const bad = form([
      { name: 'file', value: mp3, filename: 'x.mp3' },
      { name: 'trackNumber', value: 'seven' },
    ]);
    const invalid = await t.app.inject({
      method: 'POST',
      url: `/api/v1/albums/${fresh.id}/songs`,
      headers: { ...admin.auth, 'content-type': bad.contentType },
      payload: bad.payload,
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().errors[0].path).toBe('/trackNumber');
    // A field the JSON body would refuse is refused in a form too (no silent mass assignment).
    const unknown = form([
      { name: 'file', value: mp3, filename: 'x.mp3' },
      { name: 'playCount', value: '1000' },
    ]);
    const extra = await t.app.inject({
      method: 'POST',
      url: `/api/v1/albums/${fresh.id}/songs`,
      headers: { ...admin.auth, 'content-type': unknown.contentType },
      payload: unknown.payload,
    });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().code).toBe('VALIDATION_FAILED');
    expect(extra.json().errors[0].path).toBe('/playCount');
    expect(tmpFiles()).toEqual([]);
  });

  /** A song's signed stream URL and where its FLAC original and renditions are stored. */
  const storedFiles = async (songId: string) => {
    const location = String(
      (await call(t.app, 'GET', `/api/v1/songs/${songId}/stream`, { session: user })).headers.location,
    );
    const hash = /audio\/([0-9a-f]{64})\//.exec(location)?.[1] as string;
    return {
      location,
      original: join(mediaDir, 'originals', hash.slice(0, 2), `${hash}.flac`),
      derived: join(mediaDir, 'derived', hash.slice(0, 2), hash),
    };
  };

  it('removes files no song plays any more, and keeps those another song still plays', async () => {
    const a = await makeSong(t.app, admin, album.id);
    const b = await makeSong(t.app, admin, album.id);
    const bytes = readFileSync(makeTone(files, 'shared.flac', { seconds: 1, frequency: 523 }));
    await upload(a.id, bytes);
    await upload(b.id, bytes);
    await waitForJobs();
    const { location, original, derived } = await storedFiles(b.id);
    expect(existsSync(original) && existsSync(derived)).toBe(true);
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${a.id}`, { session: admin })).status).toBe(204);
    await t.app.services.events.relay.drain();
    expect(existsSync(original)).toBe(true);
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${b.id}/audio`, { session: admin })).status).toBe(204);
    expect((await get(`/api/v1/songs/${b.id}`)).body.audio).toEqual({ status: 'none' });
    expect(existsSync(original) || existsSync(derived)).toBe(false);
    expect((await fetchSigned(location)).statusCode).toBe(404);
  });

  it("frees a deleted song's files when no other song plays them", async () => {
    const song = await makeSong(t.app, admin, album.id);
    await upload(song.id, readFileSync(makeTone(files, 'alone.flac', { seconds: 1, frequency: 659 })));
    await waitForJobs();
    const { location, original, derived } = await storedFiles(song.id);
    expect(existsSync(original) && existsSync(derived)).toBe(true);
    expect((await call(t.app, 'DELETE', `/api/v1/songs/${song.id}`, { session: admin })).status).toBe(204);
    await t.app.services.events.relay.drain();
    expect(existsSync(original) || existsSync(derived)).toBe(false);
    expect((await fetchSigned(location)).statusCode).toBe(404);
  });
});

describe('pictures', SLOW, () => {
  let png: Buffer;
  beforeAll(() => {
    png = readFileSync(makePicture(files, 'pic.png', 500, 400));
  });

  const put = (url: string, body: Buffer, type: string, session: Session = admin) =>
    t.app.inject({ method: 'PUT', url, headers: { ...session.auth, 'content-type': type }, payload: body });

  it('resizes an album cover, artist image and avatar to 640/300/64 squares with immutable URLs', async () => {
    const album = await makeAlbum(t.app, admin);
    const cover = await put(`/api/v1/albums/${album.id}/cover`, png, 'image/jpeg');
    expect(cover.statusCode).toBe(200);
    const images = cover.json().images as { url: string; width: number; height: number }[];
    expect(images.map((i) => [i.width, i.height])).toEqual([
      [640, 640],
      [300, 300],
      [64, 64],
    ]);
    expect(cover.json().coverUrl).toBe(images[0]?.url);
    for (const image of images) {
      const res = await t.app.inject({ method: 'GET', url: image.url });
      expect(res.statusCode).toBe(200);
      const { width, height, format } = await sharp(res.rawPayload).metadata();
      expect([format, width, height]).toEqual(['jpeg', image.width, image.height]);
    }
    // Lists show it from the album's own columns.
    const listed = (await get(`/api/v1/albums?artistId=${album.artist.id}`)).body.items[0];
    expect(listed.images).toEqual(images);

    const artist = await put(`/api/v1/artists/${album.artist.id}/image`, png, 'image/png');
    expect(artist.statusCode).toBe(200);
    expect(artist.json().imageUrl).toBe(images[0]?.url);
    const avatar = await put('/api/v1/me/avatar', png, 'image/webp', user);
    expect(avatar.statusCode).toBe(200);
    expect(avatar.json().images).toHaveLength(3);
    expect((await call(t.app, 'GET', '/api/v1/me', { session: user })).body.images).toEqual(
      avatar.json().images,
    );

    expect((await call(t.app, 'DELETE', `/api/v1/albums/${album.id}/cover`, { session: admin })).status).toBe(
      204,
    );
    const after = (await get(`/api/v1/albums/${album.id}`)).body;
    expect(after).toMatchObject({ images: [], coverUrl: null });
    // The artist and the avatar still use the same picture: its files stay.
    expect((await t.app.inject({ method: 'GET', url: images[0]?.url as string })).statusCode).toBe(200);
    await call(t.app, 'DELETE', `/api/v1/artists/${album.artist.id}/image`, { session: admin });
    await call(t.app, 'DELETE', '/api/v1/me/avatar', { session: user });
    expect((await t.app.inject({ method: 'GET', url: images[0]?.url as string })).statusCode).toBe(404);
  });

  it("refuses what is not a picture, too large, or not the caller's", async () => {
    // Work queued by earlier tests (a transcode's temporary folder) is not this test's to see.
    await waitForJobs();
    expect(tmpFiles()).toEqual([]);
    const album = await makeAlbum(t.app, admin);
    const text = await put(`/api/v1/albums/${album.id}/cover`, Buffer.from('<svg/>'.repeat(50)), 'image/png');
    expect(text.statusCode).toBe(415);
    expect(text.json().code).toBe('UNSUPPORTED_MEDIA');
    // Headers that read fine over a body cut short: the decoder fails later, still a 415.
    const jpeg = readFileSync(makePicture(files, 'cut.jpg', 500, 400));
    for (const [body, type] of [
      [png.subarray(0, 100), 'image/png'],
      [jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'image/jpeg'],
    ] as const) {
      const cut = await put(`/api/v1/albums/${album.id}/cover`, body, type);
      expect(cut.statusCode).toBe(415);
      expect(cut.json().code).toBe('UNSUPPORTED_MEDIA');
    }
    const large = await put(`/api/v1/albums/${album.id}/cover`, Buffer.alloc(300 * 1024, 7), 'image/png');
    expect(large.statusCode).toBe(413);
    expect((await put(`/api/v1/albums/${album.id}/cover`, png, 'image/png', user)).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'GET', url: '/media/images/../../etc-640.jpg' })).statusCode).toBe(
      404,
    );
    expect(tmpFiles()).toEqual([]);
  });
});
