import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  type Json,
  json,
  post,
  SERVE,
  type Server,
  start,
  useE2eDatabase,
  waitUntilUp,
} from './process.js';

const databaseUrl = useE2eDatabase('server');

describe('npm start, end to end', () => {
  let dataDir: string;
  let server: Server;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    // As an earlier version or a careless mkdir left it: readable by everyone.
    chmodSync(dataDir, 0o755);
    server = start(['npm', 'start'], dataDir, await freePort(), { databaseUrl: databaseUrl() });
    await waitUntilUp(server);
  }, 120_000);

  afterAll(async () => {
    if (server.process.exitCode === null) process.kill(-server.process.pid!, 'SIGTERM');
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs up, signs in, refreshes and signs out over HTTP', async () => {
    const email = `e2e-${Date.now()}@example.test`;
    const signup = await post(server.base, '/auth/register', {
      email,
      password: 'e2e-password-1',
      displayName: 'E2E',
    });
    expect(signup.status).toBe(201);

    const signin = await post(server.base, '/auth/login', { email, password: 'e2e-password-1' });
    expect(signin.status).toBe(200);
    const me = await fetch(`${server.base}/api/v1/me`, {
      headers: { authorization: `Bearer ${signin.body.accessToken}` },
    });
    expect((await json(me)).body.email).toBe(email);

    const refreshed = await post(server.base, '/auth/refresh', { refreshToken: signin.body.refreshToken });
    expect(refreshed.status).toBe(200);

    const signout = await post(server.base, '/auth/logout', { refreshToken: refreshed.body.refreshToken });
    expect(signout.status).toBe(204);
    const after = await fetch(`${server.base}/api/v1/me`, {
      headers: { authorization: `Bearer ${refreshed.body.accessToken}` },
    });
    expect(after.status).toBe(401);
    expect(after.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('keeps DATA_DIR private: the directory 0700, everything in it readable by its user only', async () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const open: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isSymbolicLink()) continue;
        if ((statSync(path).mode & 0o077) !== 0) open.push(path);
        if (entry.isDirectory()) walk(path);
      }
    };
    walk(dataDir);
    expect(open).toEqual([]);
  });

  it('serves /docs and /openapi.json', async () => {
    expect((await fetch(`${server.base}/docs/`)).status).toBe(200);
    const spec: Json = await (await fetch(`${server.base}/openapi.json`)).json();
    expect(spec.info.title).toBe('Backbeat API');
  });
});

describe('the embedded database', () => {
  it('refuses a second server on the same DATA_DIR with a clear message', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    // Always PGlite: the lock guards the embedded database, whichever backend the suite targets.
    const first = start(SERVE, dataDir, await freePort());
    try {
      await waitUntilUp(first);
      const second = start(SERVE, dataDir, await freePort());
      expect(await second.exited).toBe(1);
      expect(second.output()).toMatch(/DATA_DIR .* is in use by another Backbeat process/);
    } finally {
      first.process.kill('SIGTERM');
      await first.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('configuration', () => {
  it('refuses a long but guessable JWT_SECRET in production before doing anything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    try {
      const server = start(SERVE, dataDir, await freePort(), {
        env: { NODE_ENV: 'production', JWT_SECRET: 'a'.repeat(32), CORS_ORIGINS: 'https://app.example.test' },
      });
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain('JWT_SECRET: too predictable');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('request logs', () => {
  it('never write the values of secret query parameters', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    const server = start(SERVE, dataDir, await freePort(), {
      env: { LOG_LEVEL: 'info' },
    });
    try {
      await waitUntilUp(server);
      const urls = [
        '/api/v1/albums?limit=5&token=SECRET-1&accessToken=SECRET-2&refresh_token=SECRET-3',
        '/rest/ping.view?u=alice&p=SECRET-4&t=SECRET-5&s=SECRET-6&v=1.16.1',
        '/api/v1/songs?apiKey=SECRET-7&Password=SECRET-8&sig=SECRET-9&signature=SECRET-10',
        '/media/audio/0190a1b2/320k.mp3?exp=SECRET-11&sig=SECRET-12&quality=high',
      ];
      for (const url of urls) await fetch(`${server.base}${url}`);
      // The access log of the last request is written by the time its answer arrived; give the
      // logger's buffer a moment to reach the pipe.
      const deadline = Date.now() + 10_000;
      while (!server.output().includes('quality=high') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const output = server.output();
      expect(output).toContain('limit=5');
      expect(output).toContain('u=alice');
      expect(output).toContain('quality=high');
      expect(output).toContain('token=[REDACTED]');
      expect(output).not.toMatch(/SECRET-/);
    } finally {
      server.process.kill('SIGTERM');
      await server.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the configured first admin', () => {
  it('refuses to start when ADMIN_EMAIL belongs to an account that is not an admin, and never promotes it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    const serve = SERVE;
    const email = `squatter-${Date.now()}@example.test`;
    const password = 'squatter-password-1';
    const run = async (env: Record<string, string>, body: (server: Server) => Promise<void>) => {
      const server = start(serve, dataDir, await freePort(), { env });
      try {
        await waitUntilUp(server);
        await body(server);
      } finally {
        if (server.process.exitCode === null) server.process.kill('SIGTERM');
        await server.exited;
      }
    };
    try {
      await run({}, async (server) => {
        expect(
          (await post(server.base, '/auth/register', { email, password, displayName: 'Squatter' })).status,
        ).toBe(201);
      });
      const bootstrap = start(serve, dataDir, await freePort(), {
        env: { ADMIN_EMAIL: email.toUpperCase(), ADMIN_PASSWORD: 'the-operators-password' },
      });
      expect(await bootstrap.exited).toBe(1);
      expect(bootstrap.output()).toContain(
        `ADMIN_EMAIL: an account with ${email} already exists and is not an admin`,
      );
      await run({}, async (server) => {
        const signin = await post(server.base, '/auth/login', { email, password });
        expect(signin.body.user.role).toBe('user');
      });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('production configuration', () => {
  it('refuses DEMO_DATA=true in production with a message naming it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    try {
      const server = start(SERVE, dataDir, await freePort(), {
        env: {
          NODE_ENV: 'production',
          JWT_SECRET: 'an-e2e-production-secret-of-32-bytes-or-more',
          CORS_ORIGINS: 'https://app.example.test',
          DEMO_DATA: 'true',
        },
      });
      expect(await server.exited).toBe(1);
      expect(server.output()).toMatch(/DEMO_DATA: refused in production/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests on SIGTERM, exits 0, and restarts on the same data', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    const server = start(SERVE, dataDir, await freePort(), { databaseUrl: databaseUrl() });
    try {
      await waitUntilUp(server);
      // Send the headers and half the body, signal while the server waits for the rest, then
      // finish the body: the request is certainly in flight when SIGTERM arrives.
      const body = JSON.stringify({
        email: `shutdown-${Date.now()}@example.test`,
        password: 'e2e-password-1',
        displayName: 'Late',
      });
      const inFlight = new Promise<{ status: number; body: Json }>((resolve, reject) => {
        const req = request(
          `${server.base}/api/v1/auth/register`,
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.write(body.slice(0, 10));
        setTimeout(() => {
          server.process.kill('SIGTERM');
          setTimeout(() => req.end(body.slice(10)), 300);
        }, 500);
      });
      const registered = await inFlight;
      expect(registered.status).toBe(201);
      expect(await server.exited).toBe(0);
      await expect(fetch(`${server.base}/health`)).rejects.toThrow();

      // The development JWT secret was generated into DATA_DIR once and is reused after a restart.
      const again = start(SERVE, dataDir, await freePort(), { databaseUrl: databaseUrl() });
      try {
        await waitUntilUp(again);
        const me = await fetch(`${again.base}/api/v1/me`, {
          headers: { authorization: `Bearer ${registered.body.accessToken}` },
        });
        expect(me.status).toBe(200);
      } finally {
        again.process.kill('SIGTERM');
        await again.exited;
      }
    } finally {
      if (server.process.exitCode === null) server.process.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('the built server: search index in its worker thread', () => {
  it('builds the index in the worker beside the bundle and answers searches as the database does', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'backbeat-e2e-'));
    const server = start(SERVE, dataDir, await freePort(), {
      databaseUrl: databaseUrl(),
      env: { DEMO_DATA: 'true', LOG_LEVEL: 'info' },
    });
    try {
      await waitUntilUp(server);
      const albums = await json(await fetch(`${server.base}/api/v1/albums?limit=1`));
      const title: string = albums.body.items[0].title.toLowerCase();
      // A slip in the middle of a demo album's title.
      const q = encodeURIComponent(title.slice(0, 2) + title.slice(3));
      // Answered by the database; searches a second apart start a build.
      const fromDatabase = await json(await fetch(`${server.base}/api/v1/search?q=${q}`));
      expect(fromDatabase.status).toBe(200);
      expect(fromDatabase.body.albums.items.map((a: Json) => a.title.toLowerCase())).toContain(title);
      const deadline = Date.now() + 60_000;
      while (!server.output().includes('search index built') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect((await fetch(`${server.base}/api/v1/search?q=${q}`)).status).toBe(200);
      }
      expect(server.output()).toContain('search index built');
      expect(server.output()).not.toContain('search index build failed');
      const fromIndex = await json(await fetch(`${server.base}/api/v1/search?q=${q}`));
      expect(fromIndex).toEqual(fromDatabase);
    } finally {
      server.process.kill('SIGTERM');
      await server.exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
