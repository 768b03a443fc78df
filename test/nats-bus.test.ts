import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../src/platform/events.js';
import { NatsEventBus } from '../src/platform/nats-bus.js';
import { deleteNatsStream } from './helpers.js';

/**
 * The NATS event bus as several processes use it: two buses on one stream stand for two
 * processes that both run the worker role. Each group handles an event once between them; an
 * `every-process` handler runs in each; a group handler that fails gets the event again.
 */
const NATS_URL = 'nats://127.0.0.1:4222';
const STREAM = `bbtest_bus_${randomBytes(4).toString('hex')}`;

const silent = {
  level: 'silent',
  fatal() {},
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  silent() {},
  child() {
    return silent;
  },
} as unknown as FastifyBaseLogger;

type Seen = { group: number[]; broadcast: number[]; failing: number[] };
const buses: NatsEventBus[] = [];
const seen: Seen[] = [];
/** The `flaky` group fails each event's first delivery (wherever it lands), then succeeds. */
const failedOnce = new Set<number>();

function event(id: number): DomainEvent {
  return {
    id,
    type: 'catalog.song_added',
    payload: { songId: `s${id}`, albumId: 'a', artistId: 'r' },
    occurredAt: new Date(),
  };
}

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const bus = new NatsEventBus({ url: NATS_URL, stream: STREAM, consumeGroups: true, log: silent });
    const mine: Seen = { group: [], broadcast: [], failing: [] };
    bus.subscribe(
      'catalog.song_added',
      async (e) => {
        mine.group.push(e.id);
      },
      { group: 'counters' },
    );
    bus.subscribe(
      'catalog.song_added',
      async (e) => {
        if (!failedOnce.has(e.id)) {
          failedOnce.add(e.id);
          throw new Error('first delivery fails');
        }
        mine.failing.push(e.id);
      },
      { group: 'flaky' },
    );
    bus.subscribe(
      'catalog.song_added',
      async (e) => {
        mine.broadcast.push(e.id);
      },
      'every-process',
    );
    await bus.start();
    buses.push(bus);
    seen.push(mine);
  }
  // Connected: a ping answers once the connection is up.
  for (const bus of buses) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await bus.ping();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  // The every-process readers start with what is published once they are attached: publish
  // warm-up events (ids from 1000, left out below) until each process has seen one.
  for (let id = 1000; !seen.every((s) => s.broadcast.some((n) => n >= 1000)); id++) {
    if (id > 1100) throw new Error('the every-process readers never attached');
    await buses[0]!.publish(event(id));
    await new Promise((r) => setTimeout(r, 100));
  }
});

/** The ids of the test's own events among `ids`, in order. */
const own = (ids: number[]) => ids.filter((id) => id < 1000).sort((a, b) => a - b);

afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close()));
  await deleteNatsStream(NATS_URL, STREAM);
});

describe('NATS event bus across processes', () => {
  it('handles each event once per group, in every process for every-process handlers', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => i + 1);
    for (const id of ids) await buses[id % 2]!.publish(event(id));
    // A publish the relay repeats (same outbox id) is stored once.
    await buses[0]!.publish(event(1));

    await until(() => seen.every((s) => own(s.broadcast).length >= ids.length));
    await until(() => own(seen.flatMap((s) => s.group)).length >= ids.length);
    // The failing group's events come back after their failure and are then handled.
    await until(() => own(seen.flatMap((s) => s.failing)).length >= ids.length, 30_000);
    // Nothing more arrives late.
    await new Promise((r) => setTimeout(r, 1_500));

    for (const s of seen) expect(own(s.broadcast)).toEqual(ids);
    expect(own(seen.flatMap((s) => s.group))).toEqual(ids);
    expect(own(seen.flatMap((s) => s.failing))).toEqual(ids);
    expect(own([...failedOnce])).toEqual(ids);
  }, 60_000);
});
