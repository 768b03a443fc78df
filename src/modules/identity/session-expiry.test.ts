import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, call, register, type TestApp } from '../../../test/helpers.js';

// Session and refresh-token expiry follow the app's clock (AppDeps.clock): a month goes by
// without waiting for it.
const DAY_MS = 24 * 60 * 60 * 1000;
let now = new Date();
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ REFRESH_TOKEN_TTL: '30d' }, { clock: () => now });
});
afterAll(() => t.close());

const refresh = (refreshToken: string) =>
  call(t.app, 'POST', '/api/v1/auth/refresh', { body: { refreshToken } });

describe('session expiry on the app clock', () => {
  it('refreshes until the refresh TTL has gone by, then answers 401 and ends the session', async () => {
    now = new Date();
    const s = await register(t.app);
    now = new Date(now.getTime() + 29 * DAY_MS);
    const rotated = await refresh(s.refreshToken);
    expect(rotated.status).toBe(200);
    // The new refresh token is good for another 30 days from the clock's "now".
    now = new Date(now.getTime() + 29 * DAY_MS);
    const again = await refresh(rotated.body.refreshToken);
    expect(again.status).toBe(200);
    const me = await call(t.app, 'GET', '/api/v1/me', {
      headers: { authorization: `Bearer ${again.body.accessToken}` },
    });
    expect(me.status).toBe(200);

    now = new Date(now.getTime() + 31 * DAY_MS);
    const late = await refresh(again.body.refreshToken);
    expect(late.status).toBe(401);
    expect(late.body.code).toBe('INVALID_REFRESH_TOKEN');
    // Access tokens are issued on the same clock: the last one ran out long before its session.
    const ended = await call(t.app, 'GET', '/api/v1/me', {
      headers: { authorization: `Bearer ${again.body.accessToken}` },
    });
    expect(ended.status).toBe(401);
    expect(ended.body.code).toBe('TOKEN_EXPIRED');
  });

  it('answers a spent token again inside the reuse window, measured on the clock', async () => {
    now = new Date();
    const s = await register(t.app);
    const first = await refresh(s.refreshToken);
    expect(first.status).toBe(200);
    now = new Date(now.getTime() + 5_000);
    const retried = await refresh(s.refreshToken);
    expect(retried.status).toBe(200);
    expect(retried.body.refreshToken).toBe(first.body.refreshToken);
    now = new Date(now.getTime() + 10_000);
    const reused = await refresh(s.refreshToken);
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe('REFRESH_TOKEN_REUSED');
  });
});
