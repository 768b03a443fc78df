import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuthUser } from '../../platform/auth.js';
import { StreamHub } from './notifications.stream.js';

// When an SSE stream ends, on a clock the test holds and moves: no app, no database, no socket.

class FakeResponse extends EventEmitter {
  destroyed = false;
  writableEnded = false;
  writableLength = 0;
  writeHead() {}
  write() {
    return true;
  }
  end() {
    this.writableEnded = true;
    this.emit('close');
  }
  destroy() {
    this.destroyed = true;
  }
}

const user: AuthUser = { id: 'u1', role: 'user', artistId: null, sessionId: 's1' };

describe('an SSE stream and its token', () => {
  let now = 0;
  const hub = new StreamHub<{ id: string }>({ maxPerUser: 5, maxPerProcess: 10 }, () => new Date(now));
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1_000_000;
  });
  afterEach(() => vi.useRealTimers());

  const open = (expiresAtMs: number) => {
    const raw = new FakeResponse();
    const connection = hub.add(user, expiresAtMs, raw as unknown as ServerResponse);
    return { raw, connection };
  };

  it('is expired from its exp on the clock, not a millisecond before', () => {
    const { connection, raw } = open(now + 60_000);
    now += 59_999;
    expect(connection.expired).toBe(false);
    now += 1;
    expect(connection.expired).toBe(true);
    raw.end();
  });

  it('ends when its timer fires with the clock at exp, and waits again while the clock is held', () => {
    const { raw } = open(now + 60_000);
    expect(hub.size).toBe(1);
    // Real time passes, the clock does not: the timer fires, finds the token good, waits again.
    vi.advanceTimersByTime(60_000);
    expect(raw.writableEnded).toBe(false);
    now += 60_000;
    vi.advanceTimersByTime(60_000);
    expect(raw.writableEnded).toBe(true);
    expect(hub.size).toBe(0);
  });
});
