import { randomBytes } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { type Namespace, Server, type Socket } from 'socket.io';
import type { AuthUser, SessionResolver, TokenService } from '../../platform/auth.js';
import { AppError, UnauthorizedError } from '../../platform/errors.js';
import type { EventBus } from '../../platform/events.js';
import { type LiveService, positionAt } from './live.service.js';

const require = createRequire(import.meta.url);

export interface ChatLimits {
  /** A socket that is in no event for this long is disconnected. */
  idleTimeoutMs: number;
  /** How often the sessions behind open sockets are checked (logout, block, deletion). */
  sessionCheckMs: number;
  /** Events one socket may be in at once. */
  maxRoomsPerSocket: number;
  /** `join`s one socket may send per minute. */
  maxJoinsPerMinute: number;
  /** Sockets one user may hold open in one process (a flood of connections is refused). */
  maxSocketsPerUser: number;
  /** Messages one user may post per window, across their sockets. */
  messagesPerWindow: number;
  messageWindowMs: number;
}

export const DEFAULT_CHAT_LIMITS: ChatLimits = {
  idleTimeoutMs: 30_000,
  sessionCheckMs: 15_000,
  maxRoomsPerSocket: 5,
  maxJoinsPerMinute: 20,
  maxSocketsPerUser: 20,
  messagesPerWindow: 5,
  messageWindowMs: 10_000,
};

export const MAX_MESSAGE_CHARS = 500;
/** Largest socket.io packet a client may send: a message is 500 characters, a little JSON around it. */
const MAX_PACKET_BYTES = 16 * 1024;
/** How long (on the clock) a cross-process listener count is reused. */
const COUNT_TTL_MS = 2000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONTROL = /\p{Cc}/u;

export interface ChatDeps {
  server: HttpServer;
  live: LiveService;
  tokens: TokenService;
  resolveSession: SessionResolver;
  bus: EventBus;
  log: FastifyBaseLogger;
  /** A shared Redis (prefixed, fail-fast) for the per-user message limit. */
  redis?: Redis;
  /**
   * The gateway's tag for this process on a handshake that came through it: session ids then
   * start with `<tag>.` so the gateway can keep a long-polling session on this process.
   */
  sessionTag?: (request: IncomingMessage) => string | undefined;
  /** Two connections for the socket.io Redis adapter: rooms then span processes. */
  adapterClients?: { pub: Redis; sub: Redis };
  limits?: Partial<ChatLimits>;
  /** The request id every HTTP answer carries (`X-Request-Id`), for socket.io's own answers too. */
  requestId?: (request: IncomingMessage) => string;
}

interface SocketState {
  user: AuthUser;
  /** When the access token it connected with expires (on the clock): the socket is disconnected then. */
  expiresAtMs: number;
  idle?: NodeJS.Timeout;
  expiry?: NodeJS.Timeout;
  joins: number[];
}

type Ack = (answer: unknown) => void;
const roomOf = (eventId: string) => `event:${eventId}`;
const eventIdOf = (room: string) => (room.startsWith('event:') ? room.slice(6) : undefined);

function failure(code: string, detail?: string) {
  return { ok: false as const, code, ...(detail ? { detail } : {}) };
}

/** A connect_error the client sees: `message` is the detail, `data` the problem's code and status. */
function connectError(error: unknown): Error {
  const problem =
    error instanceof AppError
      ? { code: error.code, status: error.status, detail: error.message }
      : { code: 'INTERNAL_ERROR', status: 500, detail: 'The connection could not be checked; try again' };
  return Object.assign(new Error(problem.detail ?? problem.code), { data: problem });
}

/**
 * The live chat: socket.io on the HTTP server's port (path `/socket.io`, namespace `/events`).
 * Every handler validates its payload and answers through its ack, never by throwing; timers
 * (idle sockets, token expiry, track changes) are cleared with the socket or the room.
 * Business time (token expiry, the message and join windows, how long a listener count is
 * reused, track changes) is the live service's clock; the idle timeout is a plain timer.
 */
export function createLiveChat(deps: ChatDeps) {
  const { live, tokens, resolveSession, log } = deps;
  const nowMs = () => live.clock().getTime();
  const limits = { ...DEFAULT_CHAT_LIMITS, ...deps.limits };
  const io = new Server(deps.server, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: MAX_PACKET_BYTES,
    cors: { origin: '*' },
  });
  if (deps.sessionTag) {
    const tagOf = deps.sessionTag;
    // engine.io's own ids are 15 random bytes in base64; these are the same, URL-safe, tagged.
    io.engine.generateId = (request: IncomingMessage) => {
      const id = randomBytes(15).toString('base64url');
      const tag = tagOf(request);
      return tag ? `${tag}.${id}` : id;
    };
  }
  if (deps.requestId) {
    const idOf = deps.requestId;
    // engine.io answers polling requests and upgrades outside Fastify: give them the id too.
    io.engine.on('headers', (headers: Record<string, string>, request: IncomingMessage) => {
      headers['X-Request-Id'] = idOf(request);
    });
  }
  if (deps.adapterClients) {
    // Loaded only here: a process without Redis never needs the adapter.
    const { createAdapter } =
      require('@socket.io/redis-adapter') as typeof import('@socket.io/redis-adapter');
    io.adapter(createAdapter(deps.adapterClients.pub, deps.adapterClients.sub, { requestsTimeout: 1000 }));
  }
  const nsp: Namespace = io.of('/events');
  const states = new WeakMap<Socket, SocketState>();
  /** Track-change timers of the rooms with sockets in this process. */
  const trackTimers = new Map<string, NodeJS.Timeout>();
  /** What each room in this process was last told: the programme index, or -1 for nothing playing. */
  const pushedTrack = new Map<string, number>();
  const localPosts = new Map<string, number[]>();
  const counted = new Map<string, { at: number; n: number }>();
  /** This process's open sockets of each user (an entry goes with the user's last socket). */
  const userSockets = new Map<string, Set<Socket>>();
  const tooManySockets = () =>
    new AppError(
      429,
      'TOO_MANY_CONNECTIONS',
      'Too many requests',
      `A user may hold ${limits.maxSocketsPerUser} chat connections at once; close one first`,
    );

  nsp.use(async (socket, next) => {
    try {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || !token || token.length > 4096) {
        throw new UnauthorizedError('Send { token: accessToken } as auth', 'UNAUTHORIZED');
      }
      const { expiresAtMs, ...claims } = await tokens.verifyAccess(token);
      const user = await resolveSession(claims);
      if ((userSockets.get(user.id)?.size ?? 0) >= limits.maxSocketsPerUser) throw tooManySockets();
      states.set(socket, { user, expiresAtMs, joins: [] });
      next();
    } catch (error) {
      next(connectError(error));
    }
  });

  function armIdle(socket: Socket, state: SocketState): void {
    clearTimeout(state.idle);
    state.idle = setTimeout(() => socket.disconnect(true), limits.idleTimeoutMs);
    state.idle.unref();
  }

  /**
   * Disconnects the socket when its token expires on the clock: the timer waits the time left,
   * and waits again should the clock not be there yet when it fires (a clock held or set back).
   * A clock moved past the expiry is caught sooner by `checkSessions`.
   */
  function armExpiry(socket: Socket, state: SocketState): void {
    const left = state.expiresAtMs - nowMs();
    if (left >= 2 ** 31 - 1) return;
    state.expiry = setTimeout(
      () => (tokenExpired(state) ? socket.disconnect(true) : armExpiry(socket, state)),
      Math.max(0, left),
    );
    state.expiry.unref();
  }

  const tokenExpired = (state: SocketState) => nowMs() >= state.expiresAtMs;

  const joinedRooms = (socket: Socket) => [...socket.rooms].filter((room) => room !== socket.id);

  /** Whether the user may post now (5 per 10 s by default), counted in Redis when it answers. */
  async function mayPost(userId: string): Promise<boolean> {
    if (deps.redis) {
      try {
        // A sliding window: the times of the user's recent posts in a sorted set. The post is
        // added and the window counted in one MULTI, so concurrent posts (several sockets, several
        // processes) are counted one after the other; a post over the limit takes itself out again.
        const key = `live:chat:${userId}`;
        const now = nowMs();
        const member = `${now}:${randomBytes(6).toString('hex')}`;
        const results = await deps.redis
          .multi()
          .zremrangebyscore(key, 0, now - limits.messageWindowMs)
          .zadd(key, now, member)
          .zcard(key)
          .pexpire(key, limits.messageWindowMs)
          .exec();
        const error = results?.find(([failed]) => failed)?.[0];
        if (!results || error) throw error ?? new Error('the MULTI was discarded');
        if ((results[2]![1] as number) <= limits.messagesPerWindow) return true;
        await deps.redis.zrem(key, member).catch(() => {});
        return false;
      } catch {
        // Redis away: this process's own counts.
      }
    }
    const now = nowMs();
    const recent = (localPosts.get(userId) ?? []).filter((at) => at > now - limits.messageWindowMs);
    if (recent.length >= limits.messagesPerWindow) {
      localPosts.set(userId, recent);
      return false;
    }
    recent.push(now);
    localPosts.set(userId, recent);
    return true;
  }

  async function sessionHolds(user: AuthUser): Promise<boolean> {
    try {
      await resolveSession({ userId: user.id, sessionId: user.sessionId, role: user.role });
      return true;
    } catch (error) {
      if (error instanceof AppError && (error.status === 401 || error.status === 403)) return false;
      throw error;
    }
  }

  /** Pushes `nowPlaying` to this process's sockets in the room and waits for the next track. */
  async function pushNowPlaying(eventId: string): Promise<void> {
    clearTimeout(trackTimers.get(eventId));
    trackTimers.delete(eventId);
    const room = roomOf(eventId);
    if (!nsp.adapter.rooms.get(room)?.size) return;
    const row = await live.find(eventId);
    if (row?.status !== 'live' || !row.programme || !row.wentLiveAt) return;
    const at = positionAt(row.programme, row.wentLiveAt, live.clock());
    // Once per change: a timer that fires a little early, or the end of the last track followed
    // by the event's end, does not tell the room the same thing twice.
    if (pushedTrack.get(eventId) !== (at?.index ?? -1)) {
      pushedTrack.set(eventId, at?.index ?? -1);
      nsp.local.to(room).emit('nowPlaying', await live.nowPlayingOf(row));
    }
    if (!at) return;
    const delay = at.startedAtMs + row.programme[at.index]!.durationMs - nowMs();
    const timer = setTimeout(
      () =>
        pushNowPlaying(eventId).catch((error) =>
          log.error({ err: error, eventId }, 'nowPlaying push failed'),
        ),
      Math.max(0, delay) + 5,
    );
    timer.unref();
    trackTimers.set(eventId, timer);
  }

  // A room that empties in this process takes its timer with it.
  nsp.adapter.on('delete-room', (room: string) => {
    const eventId = eventIdOf(room);
    if (!eventId) return;
    clearTimeout(trackTimers.get(eventId));
    trackTimers.delete(eventId);
    pushedTrack.delete(eventId);
    counted.delete(eventId);
  });

  deps.bus.subscribe(
    'live.event_started',
    async (event) => {
      if (nsp.adapter.rooms.get(roomOf(event.payload.eventId))?.size)
        await pushNowPlaying(event.payload.eventId);
    },
    'every-process',
  );
  deps.bus.subscribe(
    'live.event_ended',
    async (event) => {
      const { eventId } = event.payload;
      const room = roomOf(eventId);
      if (!nsp.adapter.rooms.get(room)?.size) return;
      const row = await live.find(eventId);
      if (pushedTrack.get(eventId) !== -1) nsp.local.to(room).emit('nowPlaying', null);
      pushedTrack.set(eventId, -1);
      nsp.local.to(room).emit('event_ended', { id: eventId, status: row?.status ?? 'cancelled' });
      // The chat is closed: listeners leave, and sockets in no other event start their idle time.
      for (const socket of await nsp.local.in(room).fetchSockets()) {
        const local = nsp.sockets.get(socket.id);
        if (!local) continue;
        local.leave(room);
        const state = states.get(local);
        if (state && !joinedRooms(local).length) armIdle(local, state);
      }
    },
    'every-process',
  );

  // A session ended or the user was blocked or deleted (in any process): check their sockets now.
  deps.bus.subscribe(
    'identity.sessions_ended',
    async (event) => {
      await checkSessions([...(userSockets.get(event.payload.userId) ?? [])]);
    },
    'every-process',
  );

  /** Reads a handler's arguments: the payload when it is an object, and an ack that is always callable. */
  function argsOf(args: unknown[]): { payload: Record<string, unknown> | undefined; ack: Ack } {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as Ack) : undefined;
    const first = args[0];
    const payload =
      first && typeof first === 'object' && !Array.isArray(first)
        ? (first as Record<string, unknown>)
        : undefined;
    return { payload, ack: ack ?? (() => {}) };
  }

  function eventIdIn(payload: Record<string, unknown> | undefined): string | undefined {
    const id = payload?.eventId;
    return typeof id === 'string' && UUID.test(id) ? id.toLowerCase() : undefined;
  }

  /** Runs a handler; whatever it throws becomes `{ ok: false, code }`, never a crash. */
  function handle(
    socket: Socket,
    name: string,
    run: (state: SocketState, args: unknown[], ack: Ack) => Promise<void>,
  ) {
    socket.on(name, (...args: unknown[]) => {
      const { ack } = argsOf(args);
      const state = states.get(socket);
      if (!state) return;
      run(state, args, ack).catch((error) => {
        log.error({ err: error, event: name }, 'live chat handler failed');
        try {
          ack(failure('INTERNAL_ERROR'));
        } catch {}
      });
    });
  }

  nsp.on('connection', (socket) => {
    const state = states.get(socket);
    if (!state) {
      socket.disconnect(true);
      return;
    }
    // Counted here, where nothing awaits between the check and the add (handshakes that raced
    // past the check in the middleware are cut here).
    const theirs = userSockets.get(state.user.id) ?? new Set<Socket>();
    if (theirs.size >= limits.maxSocketsPerUser) {
      socket.disconnect(true);
      return;
    }
    theirs.add(socket);
    userSockets.set(state.user.id, theirs);
    armIdle(socket, state);
    armExpiry(socket, state);

    handle(socket, 'join', async (state, args, ack) => {
      const { payload } = argsOf(args);
      const eventId = eventIdIn(payload);
      if (!eventId) return ack(failure('VALIDATION_FAILED', 'join needs { eventId } with an event id'));
      const now = nowMs();
      state.joins = state.joins.filter((at) => at > now - 60_000);
      if (state.joins.length >= limits.maxJoinsPerMinute) return ack(failure('TOO_MANY_JOINS'));
      state.joins.push(now);
      const room = roomOf(eventId);
      if (!socket.rooms.has(room) && joinedRooms(socket).length >= limits.maxRoomsPerSocket) {
        return ack(
          failure('TOO_MANY_EVENTS', `a socket may be in ${limits.maxRoomsPerSocket} events at once`),
        );
      }
      const row = await live.find(eventId);
      if (!row) return ack(failure('EVENT_NOT_FOUND'));
      if (row.status !== 'scheduled' && row.status !== 'live') return ack(failure('CHAT_CLOSED'));
      if (!(await sessionHolds(state.user))) {
        socket.disconnect(true);
        return;
      }
      if (!socket.connected) return;
      socket.join(room);
      clearTimeout(state.idle);
      counted.delete(eventId);
      if (row.status === 'live' && !trackTimers.has(eventId)) {
        await pushNowPlaying(eventId);
      }
      const [event, history] = await Promise.all([live.get(eventId), live.recentMessages(eventId)]);
      ack({ ok: true, event, history });
    });

    handle(socket, 'leave', async (state, args, ack) => {
      const eventId = eventIdIn(argsOf(args).payload);
      if (!eventId) return ack(failure('VALIDATION_FAILED', 'leave needs { eventId }'));
      socket.leave(roomOf(eventId));
      counted.delete(eventId);
      if (!joinedRooms(socket).length) armIdle(socket, state);
      ack({ ok: true });
    });

    handle(socket, 'message', async (state, args, ack) => {
      const { payload } = argsOf(args);
      const eventId = eventIdIn(payload);
      if (!eventId) return ack(failure('VALIDATION_FAILED', 'message needs { eventId, text }'));
      const raw = payload?.text;
      if (typeof raw !== 'string') return ack(failure('VALIDATION_FAILED', 'text must be a string'));
      const text = raw.trim();
      const length = [...text].length;
      if (length < 1 || length > MAX_MESSAGE_CHARS) {
        return ack(failure('INVALID_MESSAGE', `text must be 1 to ${MAX_MESSAGE_CHARS} characters`));
      }
      if (CONTROL.test(text))
        return ack(failure('INVALID_MESSAGE', 'text may not contain control characters'));
      const room = roomOf(eventId);
      if (!socket.rooms.has(room)) return ack(failure('NOT_JOINED', 'join the event first'));
      if (!(await mayPost(state.user.id)))
        return ack(failure('RATE_LIMITED', 'at most 5 messages per 10 seconds'));
      if (!(await sessionHolds(state.user))) {
        socket.disconnect(true);
        return;
      }
      const row = await live.find(eventId);
      if (!row || (row.status !== 'scheduled' && row.status !== 'live')) return ack(failure('CHAT_CLOSED'));
      const message = await live.postMessage(state.user, eventId, text);
      nsp.to(room).emit('message', message);
      ack({ ok: true, message });
    });

    socket.on('disconnect', () => {
      clearTimeout(state.idle);
      clearTimeout(state.expiry);
      theirs.delete(socket);
      if (!theirs.size && userSockets.get(state.user.id) === theirs) userSockets.delete(state.user.id);
    });
  });

  /**
   * Ends the sockets (all of this process's by default) whose session ended (logout, password
   * change, block, deletion) or whose access token expired.
   */
  async function checkSessions(sockets: Iterable<Socket> = nsp.sockets.values()): Promise<void> {
    const verdicts = new Map<string, Promise<boolean>>();
    for (const socket of sockets) {
      const state = states.get(socket);
      if (!state) continue;
      if (tokenExpired(state)) {
        socket.disconnect(true);
        continue;
      }
      let verdict = verdicts.get(state.user.sessionId);
      if (!verdict) {
        verdict = sessionHolds(state.user);
        verdicts.set(state.user.sessionId, verdict);
      }
      if (!(await verdict)) socket.disconnect(true);
    }
  }
  const sweep = setInterval(() => {
    const before = nowMs() - limits.messageWindowMs;
    for (const [userId, times] of localPosts) if (!times.some((at) => at > before)) localPosts.delete(userId);
    checkSessions().catch((error) => log.error({ err: error }, 'checking live chat sessions failed'));
  }, limits.sessionCheckMs);
  sweep.unref();

  /** Sockets in each event's room, across processes when the Redis adapter is on (cached briefly). */
  async function countListeners(eventIds: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    await Promise.all(
      eventIds.map(async (eventId) => {
        const room = roomOf(eventId);
        if (!deps.adapterClients) {
          counts.set(eventId, nsp.adapter.rooms.get(room)?.size ?? 0);
          return;
        }
        const hit = counted.get(eventId);
        if (hit && hit.at > nowMs() - COUNT_TTL_MS) {
          counts.set(eventId, hit.n);
          return;
        }
        try {
          const n = (await nsp.in(room).fetchSockets()).length;
          counted.set(eventId, { at: nowMs(), n });
          counts.set(eventId, n);
        } catch {
          counts.set(eventId, nsp.adapter.rooms.get(room)?.size ?? 0);
        }
      }),
    );
    return counts;
  }
  live.setListenerCounter(countListeners);

  return {
    io,
    checkSessions,
    countListeners,
    /** Tells everyone in the event (every process) that a message is gone. */
    messageDeleted(eventId: string, id: string): void {
      nsp.to(roomOf(eventId)).emit('message_deleted', { id });
    },
    async close(): Promise<void> {
      clearInterval(sweep);
      for (const timer of trackTimers.values()) clearTimeout(timer);
      trackTimers.clear();
      pushedTrack.clear();
      // `local`: with the Redis adapter a plain disconnectSockets reaches every process, and one
      // process shutting down would close the chat of the whole cluster.
      nsp.local.disconnectSockets(true);
      // Not io.close(): that would close the HTTP server, which Fastify closes itself.
      io.engine.close();
    },
  };
}

export type LiveChat = ReturnType<typeof createLiveChat>;
