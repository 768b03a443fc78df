import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN,
  audioState,
  type Browser,
  type Json,
  openBrowser,
  type Server,
  seedAlbum,
  signIn,
  startServer,
} from './harness.js';

/**
 * Playback end to end: a tone made with ffmpeg is uploaded through the API, transcoded by the
 * server, and played in Chromium through the signed stream URLs; the audio element's clock
 * must move, and the play must be reported.
 */
let server: Server;
let browser: Browser;
let work: string;
let song: Json;
const TONE_SECONDS = 20;

/** An MP3 sine tone, long enough to watch its clock move. */
function makeTone(dir: string): Buffer {
  const file = join(dir, 'tone.mp3');
  execFileSync(
    process.env.FFMPEG_PATH ?? ffmpegInstaller.path,
    [
      ...['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=440:duration=${TONE_SECONDS}`],
      ...['-ac', '2', '-ar', '44100', '-b:a', '128k', '-y', file],
    ],
    { stdio: 'inherit' },
  );
  return readFileSync(file);
}

/** The element's clock passes 1 s and then keeps moving. */
async function expectClockToRun(page: Page): Promise<void> {
  const clock = () => audioState(page).then((a) => a.currentTime);
  await expect.poll(clock, { timeout: 30_000 }).toBeGreaterThan(1);
  const first = await clock();
  await expect.poll(clock, { timeout: 15_000 }).toBeGreaterThan(first + 0.5);
}

async function waitForAudio(songId: string, token: string): Promise<Json> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { body } = await server.api('GET', `/songs/${songId}`, undefined, token);
    if (body.audio?.status === 'ready') return body;
    if (body.audio?.status === 'failed') throw new Error(`transcode failed: ${JSON.stringify(body.audio)}`);
    if (Date.now() > deadline) throw new Error(`audio not ready in time: ${JSON.stringify(body.audio)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'backbeat-tone-'));
  server = await startServer();
  const seeded = await seedAlbum(server, {
    title: 'Test Tones',
    artistName: 'Oscillator',
    genre: 'Electronic',
    songs: ['A440'],
  });
  song = seeded.songs[0];
  browser = await openBrowser(import.meta.filename);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('playing an uploaded song', () => {
  it('uploads a tone and waits for its renditions', async () => {
    const token = await server.adminToken();
    const res = await fetch(`${server.base}/api/v1/songs/${song.id}/audio`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'audio/mpeg' },
      body: makeTone(work),
    });
    expect(res.status).toBe(202);
    expect(((await res.json()) as Json).audio.status).toBe('processing');
    const ready = await waitForAudio(song.id, token);
    expect(ready.audio.qualities).toContain('medium');
  });

  it('plays it in the browser, seeks, changes quality and reports the play', async () => {
    const { page, shot } = browser;
    await signIn(page, server.base, ADMIN.email, ADMIN.password);
    await page.goto(`${server.base}/#/albums/${song.album.id}`);
    await page.getByRole('button', { name: 'Play A440' }).click();
    await expectClockToRun(page);
    const clock = () => audioState(page).then((a) => a.currentTime);
    // The signed media URL, not the API route: an <audio> element cannot send a Bearer header.
    expect(new URL((await audioState(page)).src).pathname).toMatch(/^\/media\//);
    await shot('playing');

    await page.getByRole('slider', { name: 'Seek' }).fill('12');
    await expect.poll(clock, { timeout: 15_000 }).toBeGreaterThanOrEqual(12);
    await page.getByLabel('Quality').selectOption('low');
    await expect.poll(clock, { timeout: 15_000 }).toBeGreaterThan(12.5);
    expect((await audioState(page)).paused).toBe(false);
    await shot('low-quality-after-seek');

    await expect
      .poll(async () => (await server.api('GET', `/songs/${song.id}`)).body.playCount, { timeout: 15_000 })
      .toBeGreaterThanOrEqual(1);
  });

  it('switches to the adaptive (HLS) stream and keeps playing', async () => {
    const { page, shot } = browser;
    const before = (await audioState(page)).src;
    await page.getByLabel('Quality').selectOption('auto');
    await page.getByRole('button', { name: 'Play A440' }).click();
    await expect.poll(async () => (await audioState(page)).src, { timeout: 30_000 }).not.toBe(before);
    await expectClockToRun(page);
    await shot('playing-hls');
  });

  it('plays HLS through hls.js where the browser has no native HLS', async () => {
    const page = await browser.context.newPage();
    // Debian's Chromium plays HLS itself; this page pretends it cannot, as Firefox does.
    await page.addInitScript(
      "const can = HTMLMediaElement.prototype.canPlayType; HTMLMediaElement.prototype.canPlayType = function (type) { return /mpegurl/i.test(type) ? '' : can.call(this, type); };",
    );
    await page.goto(`${server.base}/#/albums/${song.album.id}`);
    await page.getByLabel('Quality').selectOption('auto');
    await page.getByRole('button', { name: 'Play A440' }).click();
    // hls.js feeds the element through MediaSource, so its source is a blob: URL.
    await expect.poll(async () => (await audioState(page)).src, { timeout: 30_000 }).toMatch(/^blob:/);
    await expectClockToRun(page);
    await page.screenshot({ path: browser.shotPath('playing-hls-js') });
    await page.close();
  });

  it('uploads a cover from the album page with a progress bar', async () => {
    const { page, shot } = browser;
    const cover = join(work, 'cover.png');
    execFileSync(
      process.env.FFMPEG_PATH ?? ffmpegInstaller.path,
      ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=orange:s=640x640', '-frames:v', '1', '-y', cover],
      { stdio: 'inherit' },
    );
    await page.goto(`${server.base}/#/albums/${song.album.id}`);
    await page.getByLabel('Upload a cover (JPEG, PNG or WebP)').setInputFiles(cover);
    await page.getByText('Uploaded cover.png').waitFor({ timeout: 30_000 });
    const img = page.getByRole('img', { name: 'Cover of Test Tones' });
    await img.waitFor();
    // The picture loaded (same origin, allowed by the page's policy), not just its tag.
    await expect
      .poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth))
      .toBeGreaterThan(0);
    const album = await server.api('GET', `/albums/${song.album.id}`);
    expect(album.body.images.map((i: Json) => i.width)).toEqual([640, 300, 64]);
    await shot('cover-uploaded');
  });
});
