import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import {
  AckPolicy,
  type ConsumerMessages,
  connect,
  DeliverPolicy,
  Events,
  type JetStreamClient,
  JSONCodec,
  type JsMsg,
  type NatsConnection,
  nanos,
} from 'nats';
import type { Delivery, DomainEvent, EventBus, EventHandler, EventType } from './events.js';

/** How long the stream keeps events: long enough for a consumer group that was down a day to catch up. */
const RETENTION_MS = 24 * 3_600_000;
/** Publishes of one event id within this window are stored once (the relay may publish twice). */
const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** A claimed message not acknowledged in this time goes to another process of the group. */
const ACK_WAIT_MS = 30_000;
const PUBLISH_TIMEOUT_MS = 2_000;
const MAX_REDELIVERY_DELAY_MS = 60_000;

export interface NatsBusOptions {
  url: string;
  /** The JetStream stream; it also prefixes subjects and consumer names. */
  stream: string;
  /** Consume the group deliveries here (processes with the `worker` role). */
  consumeGroups: boolean;
  log: FastifyBaseLogger;
}

type AnyHandler = EventHandler<EventType>;
const codec = JSONCodec<{ id: number; type: EventType; payload: unknown; occurredAt: string }>();
const invalidationCodec = JSONCodec<{ from: string; tags: string[] }>();

/**
 * The event bus across processes, on NATS JetStream. The outbox relay publishes each committed
 * event to the stream (a failed publish leaves the row pending, so an outage delays events and
 * loses none). Group handlers read through one durable consumer per group and event type,
 * shared by the group's processes, so each event is handled once per group and survives
 * restarts; every process also reads the stream through an ordered consumer of its own for the
 * `every-process` handlers. Connecting happens in the background: the process serves meanwhile.
 */
export class NatsEventBus implements EventBus {
  private readonly everyProcess = new Map<EventType, AnyHandler[]>();
  private readonly groups = new Map<string, { group: string; type: EventType; handlers: AnyHandler[] }>();
  private connection: NatsConnection | undefined;
  private jetstream: JetStreamClient | undefined;
  private connected = false;
  private closed = false;
  private readonly reading: ConsumerMessages[] = [];
  private readonly loops: Promise<void>[] = [];
  private setup: Promise<void> | undefined;
  /** This process, so that it skips its own invalidations. */
  private readonly id = randomUUID();
  private readonly invalidationHandlers: Array<(tags: string[]) => void> = [];

  constructor(private readonly options: NatsBusOptions) {}

  /** Core NATS, not the stream: a cache message is only worth something now. */
  broadcastInvalidation(tags: string[]): void {
    if (!this.connection || !this.connected || this.closed) return;
    try {
      this.connection.publish(this.invalidationSubject(), invalidationCodec.encode({ from: this.id, tags }));
    } catch (error) {
      // Never the write's failure: the other processes' entries then last until their TTL.
      this.options.log.warn({ err: error }, 'cache invalidation not sent');
    }
  }

  onInvalidation(handler: (tags: string[]) => void): void {
    this.invalidationHandlers.push(handler);
  }

  private invalidationSubject(): string {
    return `${this.options.stream}.cache.invalidate`;
  }

  subscribe<K extends EventType>(type: K, handler: EventHandler<K>, delivery: Delivery): void {
    if (this.setup) throw new Error('subscribe before the bus starts');
    const h = handler as unknown as AnyHandler;
    if (delivery === 'every-process') {
      this.everyProcess.set(type, [...(this.everyProcess.get(type) ?? []), h]);
      return;
    }
    const name = this.consumerName(delivery.group, type);
    const entry = this.groups.get(name) ?? { group: delivery.group, type, handlers: [] };
    entry.handlers.push(h);
    this.groups.set(name, entry);
  }

  /** Publishes to the stream and waits for it to be stored; throws while NATS is unreachable. */
  async publish(event: DomainEvent): Promise<void> {
    if (!this.jetstream || !this.connected)
      throw new Error('NATS is not connected; the event stays in the outbox');
    await this.jetstream.publish(
      this.subject(event.type),
      codec.encode({ ...event, occurredAt: event.occurredAt.toISOString() }),
      { msgID: String(event.id), timeout: PUBLISH_TIMEOUT_MS },
    );
  }

  /** For `/health/ready`: fails while NATS is unreachable (events then wait in the outbox). */
  async ping(): Promise<void> {
    if (!this.connection || !this.jetstream || !this.connected) throw new Error('NATS is not connected');
    await this.connection.flush();
  }

  async start(): Promise<void> {
    this.setup ??= this.connectAndRead().catch((error: unknown) => {
      if (!this.closed) this.options.log.error({ err: error }, 'NATS event bus setup failed');
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const messages of this.reading) messages.stop();
    await Promise.allSettled(this.loops);
    await this.connection?.close();
  }

  private subject(type: EventType): string {
    return `${this.options.stream}.events.${type}`;
  }

  private consumerName(group: string, type: EventType): string {
    return `${this.options.stream}_${group}_${type.replace(/\./g, '_')}`;
  }

  private async connectAndRead(): Promise<void> {
    const { log } = this.options;
    // Keeps trying until NATS answers; until then publishes fail and the outbox holds the events.
    const connection = await connect({
      servers: this.options.url,
      name: `backbeat-${process.pid}`,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
    });
    if (this.closed) {
      await connection.close();
      return;
    }
    this.connection = connection;
    this.connected = true;
    void this.watchStatus(connection);
    // Before anything else, so that invalidations reach this process from its first moments
    // (a subscription carries over reconnects by itself).
    connection.subscribe(this.invalidationSubject(), {
      callback: (error, message) => {
        if (error) return;
        try {
          const { from, tags } = invalidationCodec.decode(message.data);
          if (from === this.id || !Array.isArray(tags)) return;
          for (const handler of this.invalidationHandlers) handler(tags);
        } catch (failure) {
          this.options.log.warn({ err: failure }, 'ignored a malformed cache invalidation');
        }
      },
    });
    await this.ensureStreamAndConsumers(connection);
    this.jetstream = connection.jetstream();
    log.info({ stream: this.options.stream }, 'NATS event bus connected');

    if (this.options.consumeGroups) {
      for (const [name, entry] of this.groups) {
        const consumer = await this.jetstream.consumers.get(this.options.stream, name);
        this.read(await consumer.consume({ max_messages: 64 }), entry.handlers, true);
      }
    }
    const types = [...this.everyProcess.keys()];
    if (types.length) {
      // An ordered consumer resumes where it stopped after a reconnect, so nothing published
      // meanwhile is skipped; it starts with what is published from now on.
      const consumer = await this.jetstream.consumers.get(this.options.stream, {
        filterSubjects: `${this.options.stream}.events.>`,
        deliver_policy: DeliverPolicy.New,
      });
      this.read(await consumer.consume(), undefined, false);
    }
  }

  /** Tracks reachability, so publishes fail at once during an outage instead of timing out. */
  private async watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === Events.Disconnect) {
        this.connected = false;
        this.options.log.warn('NATS disconnected; events wait in the outbox');
      } else if (status.type === Events.Reconnect) {
        this.connected = true;
        this.options.log.info('NATS reconnected');
      }
    }
  }

  /**
   * Creates the stream and every group's durable consumer if missing. Every process declares
   * the groups, so a group exists before its first event even if no worker is up yet.
   */
  private async ensureStreamAndConsumers(connection: NatsConnection): Promise<void> {
    const manager = await connection.jetstreamManager();
    const { stream } = this.options;
    try {
      await manager.streams.info(stream);
    } catch {
      await manager.streams.add({
        name: stream,
        subjects: [`${stream}.events.>`],
        max_age: nanos(RETENTION_MS),
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      });
    }
    for (const [name, entry] of this.groups) {
      await manager.consumers.add(stream, {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: this.subject(entry.type),
        ack_wait: nanos(ACK_WAIT_MS),
      });
    }
  }

  /** Hands each message to its handlers; a group message that fails comes back later. */
  private read(
    messages: ConsumerMessages,
    groupHandlers: AnyHandler[] | undefined,
    acknowledge: boolean,
  ): void {
    this.reading.push(messages);
    const loop = async () => {
      for await (const message of messages) {
        const event = decode(message);
        const handlers = groupHandlers ?? this.everyProcess.get(event.type) ?? [];
        const results = await Promise.allSettled(handlers.map((handler) => handler(event)));
        const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
        if (failure) {
          this.options.log.error(
            { err: failure.reason, eventId: event.id, type: event.type },
            'event handler failed',
          );
        }
        if (!acknowledge) continue;
        if (failure) message.nak(Math.min(MAX_REDELIVERY_DELAY_MS, 500 * 2 ** message.info.redeliveryCount));
        else message.ack();
      }
    };
    this.loops.push(loop());
  }
}

function decode(message: JsMsg): DomainEvent {
  const data = codec.decode(message.data);
  return {
    id: data.id,
    type: data.type,
    payload: data.payload,
    occurredAt: new Date(data.occurredAt),
  } as DomainEvent;
}
