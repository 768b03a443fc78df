import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { api as apiCall, freePort, ROOT } from '../e2e/process.js';

/**
 * The browser suite's rig: a real server process (`src/main.ts serve`, as `npm start` runs
 * it) on its own DATA_DIR, and Debian's Chromium driven by playwright-core.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(ROOT, 'test-results', 'browser');
export const ADMIN = { email: 'admin@browser.test', password: 'browser-admin-pass' };

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field.
export type Json = any;

export interface Server {
  base: string;
  stop: () => Promise<void>;
  /** Calls the API; `token` signs the request in. */
  api: (
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ) => Promise<{ status: number; body: Json }>;
  adminToken: () => Promise<string>;
}

export async function startServer(): Promise<Server> {
  const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-browser-'));
  const port = await freePort();
  const child: ChildProcess = spawn('node', ['--import', 'tsx', 'src/main.ts', 'serve'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DEMO_DATA: 'false',
      LOG_LEVEL: 'warn',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      RATE_LIMIT_AUTH_MAX: '1000',
      RATE_LIMIT_MAX: '100000',
    },
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const base = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 150_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`server did not come up:\n${output}`);
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }

  const api: Server['api'] = (method, path, body, token) => apiCall(base, method, path, { body, token });
  let admin: string | undefined;
  return {
    base,
    api,
    adminToken: async () => {
      admin ??= (await api('POST', '/auth/login', ADMIN)).body.accessToken as string;
      return admin;
    },
    stop: async () => {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  page: Page;
  context: BrowserContext;
  /** Saves a screenshot under test-results/browser (gitignored) for review. */
  shot: (name: string) => Promise<void>;
  /** Where the next screenshot named `name` goes (for pages other than the main one). */
  shotPath: (name: string) => string;
  close: () => Promise<void>;
}

export async function openBrowser(testFile: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'backbeat-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
    viewport: { width: 1100, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const folder = join(SCREENSHOTS, basename(testFile, '.test.ts'));
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  let count = 0;
  const shotPath = (name: string) => join(folder, `${String(++count).padStart(2, '0')}-${name}.png`);
  return {
    page,
    context,
    shotPath,
    shot: async (name) => {
      await page.screenshot({ path: shotPath(name), fullPage: true });
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Signs in through the page's form. */
export async function signIn(page: Page, base: string, login: string, password: string): Promise<void> {
  await page.goto(`${base}/#/signin`);
  await page.getByLabel('Email or username').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** An artist's album with songs, made through the API as the admin. */
export async function seedAlbum(
  server: Server,
  album: { title: string; artistName: string; genre: string; songs: string[] },
): Promise<{ album: Json; songs: Json[] }> {
  const token = await server.adminToken();
  const created = await server.api(
    'POST',
    '/albums',
    { title: album.title, artistName: album.artistName, genre: album.genre, releaseYear: 2024 },
    token,
  );
  if (created.status !== 201) throw new Error(`album: ${JSON.stringify(created.body)}`);
  const songs: Json[] = [];
  for (const title of album.songs) {
    const song = await server.api(
      'POST',
      `/albums/${created.body.id}/songs`,
      { title, durationMs: 180_000 },
      token,
    );
    if (song.status !== 201) throw new Error(`song: ${JSON.stringify(song.body)}`);
    songs.push(song.body);
  }
  return { album: created.body, songs };
}

export interface AudioState {
  src: string;
  currentTime: number;
  paused: boolean;
}

/** The player's `<audio>` element, read in the page (a string: this program has no DOM types). */
export function audioState(page: Page): Promise<AudioState> {
  return page.evaluate(
    "(() => { const a = document.getElementById('player-audio'); return { src: a.src, currentTime: a.currentTime, paused: a.paused }; })()",
  );
}
