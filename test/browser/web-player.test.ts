import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Browser,
  type Json,
  openBrowser,
  type Server,
  seedAlbum,
  signIn,
  startServer,
} from './harness.js';

/**
 * The web player as a listener uses it, in Chromium against a real server: account, search,
 * following with live notifications, playlists. Screenshots land in test-results/browser.
 */
let server: Server;
let browser: Browser;
let seeded: { album: Json; songs: Json[] };
const listener = {
  email: `listener-${Date.now()}@browser.test`,
  password: 'listener-pass-1',
  name: 'Lee Listener',
};

beforeAll(async () => {
  server = await startServer();
  seeded = await seedAlbum(server, {
    title: 'Velvet Lighthouse',
    artistName: 'Northern Tides',
    genre: 'Folk',
    songs: ['Harbour Lights', 'Salt and Stone', 'Low Tide Waltz'],
  });
  browser = await openBrowser(import.meta.filename);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the web player', () => {
  it('is served at / while the API keeps its own answers', async () => {
    const page = await fetch(`${server.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const unknown = await fetch(`${server.base}/api/v1/no-such-route`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('registers, signs out and signs in again', async () => {
    const { page, shot } = browser;
    await page.goto(`${server.base}/#/signin`);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(listener.email);
    await page.getByLabel('Display name').fill(listener.name);
    await page.getByLabel('Password').fill(listener.password);
    await shot('register-form');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText(listener.name).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();

    await page.goto(`${server.base}/#/signin`);
    await page.getByLabel('Email or username').fill(listener.email);
    await page.getByLabel('Password').fill('wrong-password-1');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // The problem's detail, not a generic failure.
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/\w+/);
    await shot('wrong-password');

    await signIn(page, server.base, listener.email, listener.password);
    await expect(page.getByText(listener.name).isVisible()).resolves.toBe(true);
    await shot('signed-in-home');
  });

  it('finds an album while typing, despite a typo', async () => {
    const { page, shot } = browser;
    await page.goto(`${server.base}/#/search`);
    await page
      .getByLabel('Albums, artists, songs, playlists')
      .pressSequentially('Velvet Ligthouse', { delay: 30 });
    const result = page.getByRole('link', { name: /Velvet Lighthouse/ });
    await result.first().waitFor();
    await shot('search-typo');
    await result.first().click();
    await page.getByRole('heading', { name: 'Velvet Lighthouse' }).waitFor();
    await page
      .getByRole('list', { name: 'Songs of Velvet Lighthouse' })
      .getByText('Harbour Lights')
      .waitFor();
    await shot('album-page');
  });

  it('follows the album and shows a new song live, with an unread badge', async () => {
    const { page, shot } = browser;
    await page.goto(`${server.base}/#/albums/${seeded.album.id}`);
    const follow = page.getByRole('button', { name: 'Follow Velvet Lighthouse' });
    await follow.click();
    await page.getByRole('button', { name: 'Unfollow Velvet Lighthouse' }).waitFor();
    expect(
      await page.getByRole('button', { name: 'Unfollow Velvet Lighthouse' }).getAttribute('aria-pressed'),
    ).toBe('true');
    await page.getByRole('link', { name: 'Notifications' }).click();
    await page.getByText('Live ·').waitFor();

    const added = await server.api(
      'POST',
      `/albums/${seeded.album.id}/songs`,
      { title: 'Lantern Song', durationMs: 200_000 },
      await server.adminToken(),
    );
    expect(added.status).toBe(201);
    await page.getByTestId('unread-count').filter({ hasText: '1' }).waitFor({ timeout: 30_000 });
    await page
      .getByRole('list', { name: 'Notifications' })
      .getByText(/Lantern Song/)
      .waitFor();
    await shot('notification-live');

    await page.getByRole('button', { name: 'Mark all as read' }).click();
    await page.getByTestId('unread-count').waitFor({ state: 'detached' });
  });

  it('builds a playlist and reorders it by dragging', async () => {
    const { page, shot } = browser;
    await page.goto(`${server.base}/#/playlists`);
    await page.getByLabel('Name', { exact: true }).fill('Road trip');
    await page.getByRole('button', { name: 'Create playlist' }).click();
    await page.getByRole('heading', { name: 'Road trip' }).waitFor();
    const playlistId = new URL(page.url()).hash.split('/')[2]!;

    await page.goto(`${server.base}/#/albums/${seeded.album.id}`);
    for (const title of ['Harbour Lights', 'Salt and Stone', 'Low Tide Waltz']) {
      await page.getByRole('button', { name: `Add ${title} to a playlist` }).click();
      await page.getByRole('menuitem', { name: 'Road trip' }).click();
      await page.getByText('Added to Road trip').first().waitFor();
    }
    await shot('songs-added');

    await page.goto(`${server.base}/#/playlists/${playlistId}`);
    const rows = page.getByRole('list', { name: 'Tracks of Road trip' }).getByRole('listitem');
    await rows.nth(2).getByText('Low Tide Waltz').waitFor();
    await rows.nth(2).dragTo(rows.nth(0));
    await rows.nth(0).getByText('Low Tide Waltz').waitFor();
    await shot('reordered-by-drag');

    const saved = await server.api('GET', `/playlists/${playlistId}`);
    expect(saved.body.tracks.map((t: Json) => t.song.title)).toEqual([
      'Low Tide Waltz',
      'Harbour Lights',
      'Salt and Stone',
    ]);

    await page.getByRole('button', { name: 'Move Harbour Lights down' }).click();
    await rows.nth(2).getByText('Harbour Lights').waitFor();
    await page.getByRole('button', { name: 'Remove Salt and Stone' }).click();
    await expect.poll(async () => (await rows.allTextContents()).length).toBe(2);
    const after = await server.api('GET', `/playlists/${playlistId}`);
    expect(after.body.tracks.map((t: Json) => t.song.title)).toEqual(['Low Tide Waltz', 'Harbour Lights']);
    await shot('playlist-edited');
  });

  it('fits a phone screen', async () => {
    const { page, shot } = browser;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.base}/#/albums/${seeded.album.id}`);
    await page.getByRole('heading', { name: 'Velvet Lighthouse' }).waitFor();
    // Nothing wider than the screen: no sideways scrolling.
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await expect(page.getByRole('button', { name: 'Play album' }).isVisible()).resolves.toBe(true);
    await expect(page.getByLabel('Quality').isVisible()).resolves.toBe(true);
    await shot('phone-album');
  });
});
