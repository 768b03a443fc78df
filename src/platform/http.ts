import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Static, type TSchema, type TSchemaOptions, Type } from 'typebox';
import { flatCopy } from './cache.js';
import { replayable } from './cached-reads.js';
import { AppError } from './errors.js';
import { nameSchemas } from './openapi.js';

/** Bounds shared by everything that lists (DESIGN.md: limit <= 100, offset <= 10000). */
export const MAX_LIMIT = 100;
export const MAX_OFFSET = 10_000;

export const Id = Type.String({ format: 'uuid', description: 'UUID v7' });
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
export const Timestamp = Type.String({ format: 'date-time' });

/** Pictures of an album, artist or user, largest first (640, 300 and 64 px squares). */
export const ImagesSchema = Type.Array(
  Type.Object({ url: Type.String(), width: Type.Integer(), height: Type.Integer() }),
  { description: 'largest first; immutable public URLs' },
);
export interface Image {
  url: string;
  width: number;
  height: number;
}

/**
 * A response field that is `schema` or null, written as one JSON Schema type list
 * (`"type": ["string", "null"]`) instead of an `anyOf`: Fastify's serializer picks a type list's
 * branch with a `typeof` check, an `anyOf`'s by validating the value against each branch (format
 * patterns included) on every response. For a schema with one `type` (not a reference).
 */
export function Nullable<T extends TSchema & { type: string }>(schema: T, options: TSchemaOptions = {}) {
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, type: [schema.type, 'null'] });
}

/** A body field that accepts `null` to clear it (PATCH `{ "label": null }`). */
export function NullableInput<T extends TSchema>(schema: T) {
  return Type.Union([Type.Null(), schema]);
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 20 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })),
};

export function pageOf<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
    next: Nullable(Type.String()),
    previous: Nullable(Type.String()),
  });
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
  next: string | null;
  previous: string | null;
}

/** `sort` accepting each field ascending or, with a leading `-`, descending. */
export function sortParam<const F extends string>(fields: readonly F[]) {
  const values = fields.flatMap((f) => [f, `-${f}`] as const);
  return Type.Optional(
    Type.Enum(values, { description: `one of ${fields.join(', ')}; prefix with - for descending` }),
  );
}

export function parseSort<F extends string>(sort: string | undefined, fallback: `${'-' | ''}${F}`) {
  const value = sort ?? fallback;
  return value.startsWith('-')
    ? { field: value.slice(1) as F, descending: true }
    : { field: value as F, descending: false };
}

/** Builds an offset page whose `next`/`previous` links keep the caller's other query parameters. */
export function toPage<T>(
  request: FastifyRequest,
  items: T[],
  total: number,
  limit: number,
  offset: number,
): Page<T> {
  const link = (newOffset: number) => {
    const url = new URL(request.url, 'http://x');
    url.searchParams.set('offset', String(newOffset));
    url.searchParams.set('limit', String(limit));
    return `${url.pathname}?${url.searchParams.toString()}`;
  };
  const hasNext = offset + items.length < total && offset + limit <= MAX_OFFSET;
  return {
    items,
    total,
    limit,
    offset,
    next: hasNext ? link(offset + limit) : null,
    previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
  };
}

/**
 * `toPage`'s page of items that are JSON already (each as its schema's serializer writes it),
 * as the page schema's serializer writes it.
 */
export function encodedPage(
  request: FastifyRequest,
  items: string[],
  total: number,
  limit: number,
  offset: number,
): string {
  const { next, previous } = toPage(request, items, total, limit, offset);
  return `{"items":[${items.join(',')}],"total":${total},"limit":${limit},"offset":${offset},"next":${JSON.stringify(next)},"previous":${JSON.stringify(previous)}}`;
}

/** Sends `body`, JSON already, as it is. */
export function replyJson(reply: FastifyReply, body: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').serializer(sentAsIs).send(body);
}

/** A serialised response and its ETag, as `@fastify/etag` would make it (weak, SHA-1). */
interface Serialised {
  body: string;
  etag: string;
}

/**
 * Responses already served from cached values, per value object and URL. The in-process cache
 * hands out the same object until its entry is invalidated or evicted, so while it lives the
 * response for one URL is the same bytes: serialising it and hashing them for the ETag again on
 * every request was about a fifth of the CPU of a cached album page. Keyed weakly, so entries go
 * with the value; a few URLs per value (they differ only in parameter order or spelling), so odd
 * URLs cannot grow it. Values read from Redis are new objects each time and simply miss.
 */
const served = new WeakMap<object, Map<string, Serialised>>();
const URLS_PER_VALUE = 8;

/**
 * Answers with `body()`, the JSON of a response made once per cached `source` object and URL
 * (see `served`).
 * Only for responses that depend on nothing but `source` and the URL: never for one built for
 * this caller alone. With `replay`, the route also vouches that its 200 needs no check besides
 * reading `source` (see `replayable` in cached-reads.ts): later anonymous requests for the URL
 * may then be answered from the recorded response without reaching the route.
 */
export function replyFromCache(
  request: FastifyRequest,
  reply: FastifyReply,
  source: object,
  body: () => string,
  replay = false,
): FastifyReply {
  let byUrl = served.get(source);
  let response = byUrl?.get(request.url);
  if (!response) {
    const json = body();
    response = { body: json, etag: `W/"${createHash('sha1').update(json).digest('base64')}"` };
    if (!byUrl) {
      byUrl = new Map();
      served.set(source, byUrl);
    }
    if (byUrl.size < URLS_PER_VALUE) byUrl.set(request.url, response);
  }
  if (replay) replayable(request, source, response.body);
  // Already serialised: sent as is; @fastify/etag keeps an ETag that is set and still answers 304.
  return reply
    .header('etag', response.etag)
    .type('application/json; charset=utf-8')
    .serializer(sentAsIs)
    .send(response.body);
}

/**
 * The JSON of items that are frozen, per item schema: a frozen item cannot change, so its JSON
 * is written once and joined into every page that lists it. The album directory hands out the
 * same frozen views until it is built again, and serialising a browsed page's 20 albums again on
 * every request was a fifth of its CPU. Kept flat (see `flatCopy`) and weakly, so the JSON goes
 * with its item; items that are not frozen (built per request, or read from Redis) are
 * serialised each time.
 */
const frozenItemJson = new WeakMap<object, WeakMap<object, string>>();

/** The serializer Fastify compiles for `schema` (once per route and schema, kept by the route). */
export const serializerOf = (reply: FastifyReply, schema: object) =>
  reply.compileSerializationSchema(schema as Record<string, unknown>) as (item: object) => string;

function itemsJson(reply: FastifyReply, schema: TSchema, items: readonly object[]): string[] {
  const encode = serializerOf(reply, schema);
  let known = frozenItemJson.get(schema);
  if (!known) {
    known = new WeakMap();
    frozenItemJson.set(schema, known);
  }
  return items.map((item) => {
    if (!Object.isFrozen(item)) return encode(item);
    let json = known.get(item);
    if (json === undefined) {
      json = flatCopy(encode(item));
      known.set(item, json);
    }
    return json;
  });
}

/**
 * The page `toPage` builds from a cached `{ items, total }`, through `replyFromCache`, its items
 * written by `itemSchema`'s serializer (frozen ones once: see `frozenItemJson`).
 */
export function replyCachedPage<T extends object>(
  request: FastifyRequest,
  reply: FastifyReply,
  list: { items: T[]; total: number },
  itemSchema: TSchema,
  limit: number,
  offset: number,
  replay = false,
): FastifyReply {
  const body = () =>
    encodedPage(request, itemsJson(reply, itemSchema, list.items), list.total, limit, offset);
  return replyFromCache(request, reply, list, body, replay);
}

const sentAsIs = (payload: unknown) => payload as string;

/**
 * Cache-Control for reads that may differ by caller: anonymous views may be kept briefly by
 * shared caches; a signed-in caller's view (admin, owner) is private to them.
 */
export function setReadCaching(request: FastifyRequest, reply: FastifyReply, maxAgeSec = 30): void {
  addVary(reply, 'Authorization');
  reply.header(
    'cache-control',
    request.headers.authorization ? 'private, no-cache' : `public, max-age=${maxAgeSec}, must-revalidate`,
  );
}

/**
 * Adds `field` to the response's `Vary`, keeping what is there: CORS has already put `Origin`
 * in it when origins are listed, and a shared cache that lost it would serve one origin's
 * `Access-Control-Allow-Origin` to another.
 */
export function addVary(reply: FastifyReply, field: string): void {
  const current = reply.getHeader('vary');
  if (current === undefined) {
    reply.header('vary', field);
    return;
  }
  // Most answers carry the same Vary (CORS's `Origin`): its extension is worked out once.
  if (typeof current === 'string') {
    const key = `${current}\n${field}`;
    let extended = extendedVary.get(key);
    if (extended === undefined) {
      extended = withVaryField(current, field) ?? current;
      if (extendedVary.size < 64) extendedVary.set(key, extended);
    }
    reply.header('vary', extended);
    return;
  }
  const extended = withVaryField(current, field);
  if (extended !== undefined) reply.header('vary', extended);
}

const extendedVary = new Map<string, string>();

/** `current` (a Vary value) with `field` added; undefined when it is there already or `*` is. */
function withVaryField(current: string | number | string[], field: string): string | undefined {
  const fields = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (fields.includes('*') || fields.some((f) => f.toLowerCase() === field.toLowerCase())) return undefined;
  return [...fields, field].join(', ');
}

/** Problem+json response schemas, so every route documents its error shape once. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String(),
    detail: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    requestId: Type.String(),
  },
  { description: 'RFC 9457 problem details' },
);

export function problems(...statuses: number[]): Record<number, typeof ProblemSchema> {
  return Object.fromEntries([400, ...statuses].map((s) => [s, ProblemSchema]));
}

/**
 * Ends a request whose body stops arriving for `idleMs` with `408`: a client trickling a body
 * (or sending none after its headers) would otherwise hold a socket and a request for as long
 * as it likes. It times pauses, not the whole body, so a large upload at a steady pace is
 * never cut off.
 */
export function registerBodyIdleTimeout(app: FastifyInstance, idleMs: number): void {
  app.addHook('preParsing', (request, reply, payload, done) => {
    // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3),
    // and neither has one that declares 0 bytes: nothing to wait for. Most requests are reads,
    // and a watching stream with its timer and listeners for each was a measurable share of a
    // cached read's CPU.
    const { headers } = request;
    const length = headers['content-length'];
    if (headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) {
      done(null, payload);
      return;
    }
    // @fastify/multipart reads forms from the raw request, not from this hook's stream: piping
    // it here would drain the form before the route reads it. Forms keep the socket's idle limit.
    if (headers['content-type']?.toLowerCase().startsWith('multipart/')) {
      done(null, payload);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const stop = () => clearTimeout(timer);
    const watched = new Transform({
      transform(chunk, _encoding, callback) {
        arm();
        callback(null, chunk);
      },
      flush(callback) {
        stop();
        callback();
      },
    });
    function arm() {
      stop();
      timer = setTimeout(() => {
        reply.header('connection', 'close');
        watched.destroy(
          new AppError(408, 'REQUEST_TIMEOUT', 'Request timeout', `No body data arrived for ${idleMs} ms`),
        );
      }, idleMs);
    }
    arm();
    // The body is not always read (a request refused before parsing): stop with the exchange,
    // and never let the timeout's error go unheard.
    watched.on('error', stop);
    watched.once('close', stop);
    reply.raw.once('close', stop);
    payload.once('error', stop);
    // `pipe` passes no errors on: a client that goes away mid-body must end the reader now,
    // not when the idle timer fires (an upload handler then removes its partial file).
    payload.once('close', () => {
      if (!(payload as { complete?: boolean }).complete)
        watched.destroy(new Error('the client aborted the request'));
    });
    done(null, payload.pipe(watched));
  });
}

nameSchemas({
  Problem: {
    schema: ProblemSchema,
    example: {
      type: '/problems/album-not-found',
      title: 'Not found',
      status: 404,
      code: 'ALBUM_NOT_FOUND',
      detail: 'Album not found',
      requestId: '0d3c4a7e-2b1f-4c55-9a0e-7f6d2b9c1e44',
    },
  },
  Image: Type.Object({ url: Type.String(), width: Type.Integer(), height: Type.Integer() }),
});
