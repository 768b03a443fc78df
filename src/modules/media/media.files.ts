import { createReadStream, open } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { AppError, NotFoundError } from '../../platform/errors.js';

/**
 * The most a file stream reads at once. A player asks for ranges of a few hundred KB: read in
 * one go, such a range costs one read and one socket write instead of four of each at the fs
 * default (64 KB; a null highWaterMark, as @fastify/send passed, means 16 KB on Node 20).
 * Memory per answer in flight stays bounded by it.
 */
const READ_CHUNK_MAX_BYTES = 256 * 1024;
const READ_CHUNK_MIN_BYTES = 16 * 1024;
/**
 * How long a file's size and modification time are trusted without asking the file system
 * again. Media files are content-addressed and written whole by a rename, so they do not change
 * under a name; a removed one is still noticed by every GET, which opens the file.
 */
const FACTS_TTL_MS = 1000;
const FACTS_ENTRIES = 1000;

interface FileFacts {
  size: number;
  etag: string;
  lastModified: string;
  /** `lastModified` as a number, to compare with request dates (whole seconds). */
  lastModifiedMs: number;
}

const known = new LRUCache<string, FileFacts>({ max: FACTS_ENTRIES, ttl: FACTS_TTL_MS });

const missing = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG';
};

export const mediaNotFound = () => new NotFoundError('Media file', 'MEDIA_NOT_FOUND');

/** Size, ETag and Last-Modified of a regular file, or null when there is none at `path`. */
async function factsOf(path: string): Promise<FileFacts | null> {
  const cached = known.get(path);
  if (cached) return cached;
  let stats: Awaited<ReturnType<typeof stat>>;
  try {
    stats = await stat(path);
  } catch (error) {
    known.delete(path);
    if (missing(error)) return null;
    throw error;
  }
  if (!stats.isFile()) return null;
  const lastModified = stats.mtime.toUTCString();
  const facts: FileFacts = {
    size: stats.size,
    // The weak validator @fastify/send and `serve-static` make: size and time in hex.
    etag: `W/"${stats.size.toString(16)}-${stats.mtime.getTime().toString(16)}"`,
    lastModified,
    lastModifiedMs: Date.parse(lastModified),
  };
  known.set(path, facts);
  return facts;
}

/** Whether an `If-None-Match` / `If-Match` list names `etag` (weak comparison, RFC 9110 8.8.3.2). */
function listNames(list: string, etag: string): boolean {
  for (const item of list.split(',')) {
    const tag = item.trim();
    if (tag === etag || `W/${tag}` === etag) return true;
  }
  return false;
}

const dateOf = (value: string | undefined) => (value === undefined ? Number.NaN : Date.parse(value));

/** RFC 9110 13.2.2: If-Match, then If-Unmodified-Since. */
function preconditionFails(request: FastifyRequest, facts: FileFacts): boolean {
  const ifMatch = request.headers['if-match'];
  if (ifMatch) return ifMatch.trim() !== '*' && !listNames(ifMatch, facts.etag);
  const since = dateOf(request.headers['if-unmodified-since']);
  return !Number.isNaN(since) && facts.lastModifiedMs > since;
}

/** RFC 9110 13.2.2: If-None-Match, else If-Modified-Since; `Cache-Control: no-cache` asks afresh. */
function notModified(request: FastifyRequest, facts: FileFacts): boolean {
  const { headers } = request;
  if (headers['cache-control']?.includes('no-cache')) return false;
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) return ifNoneMatch.trim() === '*' || listNames(ifNoneMatch, facts.etag);
  const since = dateOf(headers['if-modified-since']);
  return !Number.isNaN(since) && facts.lastModifiedMs <= since;
}

/** `If-Range`: the range applies only to the representation the client already has part of. */
function rangeStillApplies(request: FastifyRequest, facts: FileFacts): boolean {
  const given = request.headers['if-range'];
  const ifRange = Array.isArray(given) ? given[0] : given;
  if (ifRange === undefined) return true;
  if (ifRange.includes('"')) return ifRange.includes(facts.etag);
  const date = Date.parse(ifRange);
  return !Number.isNaN(date) && facts.lastModifiedMs <= date;
}

const SINGLE_RANGE = /^bytes=([0-9]{0,15})-([0-9]{0,15})$/;

/**
 * The single byte range a request asks for: `undefined` for the whole file (no Range, or one
 * RFC 9110 lets a server ignore: malformed like `bytes=5-2` or `bytes=abc`, several parts like
 * `bytes=0-0,5-9`, another unit), `null` when it cannot be satisfied (starts past the end).
 */
export function requestedRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | undefined {
  if (header === undefined) return undefined;
  const match = SINGLE_RANGE.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    // The last n bytes; a suffix longer than the file is the whole file (RFC 9110 14.1.2).
    const suffix = Number(match[2]);
    if (suffix === 0) return null;
    return size === 0 ? null : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const last = match[2] === '' ? Number.POSITIVE_INFINITY : Number(match[2]);
  if (last < start) return undefined;
  if (start >= size) return null;
  return { start, end: Math.min(last, size - 1) };
}

const openFile = (path: string) =>
  new Promise<number>((resolve, reject) =>
    open(path, 'r', (error, fd) => (error ? reject(error) : resolve(fd))),
  );

/**
 * Answers with a file, streamed from disk, never read into memory: RFC 9110 single byte ranges
 * (206, suffix and open ranges; several or malformed ones get the whole file; 416 naming the
 * size), `If-Range`, a weak ETag with `If-None-Match` and `If-Match`, Last-Modified with
 * `If-Modified-Since` and `If-Unmodified-Since`, and HEAD. A range request of a player costs
 * one open, the reads and a close: no library in between, and no stat while the file's facts
 * are fresh.
 */
export async function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  headers: { contentType: string; cacheControl: string },
): Promise<FastifyReply> {
  const facts = await factsOf(path);
  if (!facts) throw mediaNotFound();
  const { size } = facts;
  reply
    .header('accept-ranges', 'bytes')
    .header('last-modified', facts.lastModified)
    .header('etag', facts.etag);
  if (preconditionFails(request, facts)) {
    throw new AppError(412, 'PRECONDITION_FAILED', 'Precondition failed', 'The file is not the one named');
  }
  if (notModified(request, facts)) {
    return reply
      .header('content-type', headers.contentType)
      .header('cache-control', headers.cacheControl)
      .code(304)
      .send();
  }
  const range = rangeStillApplies(request, facts) ? requestedRange(request.headers.range, size) : undefined;
  if (range === null) {
    throw new AppError(
      416,
      'RANGE_NOT_SATISFIABLE',
      'Range not satisfiable',
      `The file has ${size} bytes`,
      undefined,
      { 'content-range': `bytes */${size}`, 'accept-ranges': 'bytes' },
    );
  }
  // A range that applies is answered 206 even when it covers the whole file (`bytes=0-`).
  const partial = range !== undefined;
  const { start, end } = range ?? { start: 0, end: size - 1 };
  const length = end - start + 1;
  reply
    .header('content-type', headers.contentType)
    .header('cache-control', headers.cacheControl)
    .header('content-length', length);
  if (partial) reply.header('content-range', `bytes ${start}-${end}/${size}`);
  reply.code(partial ? 206 : 200);
  if (request.method === 'HEAD' || length === 0)
    return reply.send(request.method === 'HEAD' ? undefined : '');
  let fd: number;
  try {
    fd = await openFile(path);
  } catch (error) {
    known.delete(path);
    if (missing(error)) throw mediaNotFound();
    throw error;
  }
  const highWaterMark = Math.min(READ_CHUNK_MAX_BYTES, Math.max(READ_CHUNK_MIN_BYTES, length));
  const stream = createReadStream(path, { fd, start, end, highWaterMark });
  // An onSend hook may answer without the stream (@fastify/etag turns a matching If-None-Match
  // it reads its own way into a 304): the file is closed with the exchange, never left open.
  reply.raw.once('close', () => stream.destroy());
  return reply.send(stream);
}
