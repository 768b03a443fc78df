import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTone } from '../audio.js';
import { freePort, json, SERVE, type Server, start, stop, useE2eDatabase, waitUntilUp } from './process.js';

const databaseUrl = useE2eDatabase('import');
const IMPORT = ['npm', 'run', 'import', '--'];

/** Runs the import command to its end: exit code and everything it printed. */
async function runImport(dataDir: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const cli = start([...IMPORT, ...args], dataDir, await freePort(), { databaseUrl: databaseUrl() });
  const code = await cli.exited;
  return { code, output: cli.output() };
}

describe('npm run import, end to end', { timeout: 240_000 }, () => {
  let dataDir: string;
  let music: string;
  let server: Server | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    music = mkdtempSync(join(tmpdir(), 'backbeat-e2e-music-'));
    const album = join(music, 'Band', 'Record');
    mkdirSync(album, { recursive: true });
    for (const n of [1, 2, 3]) {
      makeTone(album, `0${n} - Song ${n}.mp3`, {
        seconds: 0.5,
        tags: { artist: 'E2E Band', album: 'E2E Record', title: `Song ${n}`, track: String(n), date: '1999' },
      });
    }
    writeFileSync(join(album, 'broken.flac'), 'not audio');
  });

  afterAll(async () => {
    if (server) await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(music, { recursive: true, force: true });
  });

  it('imports a folder with a progress bar and a summary, then finds it unchanged', async () => {
    const first = await runImport(dataDir, [music]);
    expect(first.code).toBe(0);
    expect(first.output).toContain('files/s');
    expect(first.output).toMatch(/added\s+3/);
    expect(first.output).toMatch(/failed\s+1/);
    expect(first.output).toMatch(/NOT_AUDIO\s+Band\/Record\/broken\.flac/);
    const again = await runImport(dataDir, [music]);
    expect(again.code).toBe(0);
    expect(again.output).toMatch(/unchanged\s+3/);
    expect(again.output).toMatch(/added\s+0/);
  });

  it('the server shows what the import added', async () => {
    server = start(SERVE, dataDir, await freePort(), { databaseUrl: databaseUrl() });
    await waitUntilUp(server);
    const { status, body } = await json(await fetch(`${server.base}/api/v1/albums?q=E2E%20Record`));
    expect(status).toBe(200);
    expect(body.items).toMatchObject([
      { title: 'E2E Record', artist: { name: 'E2E Band' }, songCount: 3, releaseYear: 1999 },
    ]);
  });

  it('says so and exits 1 while a server holds the embedded database', async (context) => {
    if (databaseUrl()) context.skip();
    const locked = await runImport(dataDir, [music]);
    expect(locked.code).toBe(1);
    expect(locked.output).toContain('a running server holds the database');
  });

  it('exits 1 with a usage line when no folder is named', async () => {
    const none = await runImport(mkdtempSync(join(tmpdir(), 'backbeat-e2e-')), []);
    expect(none.code).toBe(1);
    expect(none.output).toContain('usage: npm run import');
  });
});
