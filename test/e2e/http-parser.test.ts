import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, SERVE } from './process.js';

/**
 * What Node's HTTP parser rejects never reaches a route, so only a real server over a raw
 * socket shows it: each answer must still be problem+json with security headers, and none
 * may make the server log an error.
 */

let server: ChildProcess;
let port: number;
let dataDir: string;
let output = '';

beforeAll(async () => {
  port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), 'backbeat-parser-'));
  server = spawn(SERVE[0]!, SERVE.slice(1), {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DEMO_DATA: 'false',
      RATE_LIMIT_AUTH_MAX: '1000',
      // warn: the default "incoming request" log line would hide the lost peer address.
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => (output += d));
  server.stderr!.on('data', (d) => (output += d));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not come up:\n${output}`);
}, 120_000);

afterAll(async () => {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends bytes as they are and reads the answer until the server closes the connection. */
function raw(bytes: string, then?: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      if (then) setTimeout(() => socket.writable && socket.write(then), 50);
    });
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}

function expectProblem(answer: RawAnswer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(answer.headers['x-content-type-options']).toBe('nosniff');
  expect(answer.headers['content-security-policy']).toBeDefined();
  const body = JSON.parse(answer.body);
  expect(body).toMatchObject({ status, code, type: expect.any(String), title: expect.any(String) });
  expect(body.requestId).toBe(answer.headers['x-request-id']);
}

describe('requests the HTTP parser rejects', () => {
  it('431 for a URL or headers over the size limit', async () => {
    expectProblem(
      await raw(`GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      431,
      'HEADERS_TOO_LARGE',
    );
    expectProblem(
      await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      431,
      'HEADERS_TOO_LARGE',
    );
  });

  it('414 for a path segment over the router limit', async () => {
    expectProblem(
      await raw(`GET /api/v1/albums/${'a'.repeat(300)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      414,
      'URI_TOO_LONG',
    );
  });

  it('400 for a malformed chunked body, and no error in the log', async () => {
    const head =
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    expectProblem(await raw(`${head}zz\r\nabc\r\n0\r\n\r\n`), 400, 'MALFORMED_REQUEST');
    // The body's error arrives while the request's hooks run; this used to log a 500 from the
    // rate limiter, which found no client address on the dead connection.
    for (let i = 0; i < 10; i++) expectProblem(await raw(head, 'zz\r\n'), 400, 'MALFORMED_REQUEST');
    expectProblem(await raw('NOT HTTP AT ALL\r\n\r\n'), 400, 'MALFORMED_REQUEST');
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect(output).not.toMatch(/"level":50/);
  });
});
