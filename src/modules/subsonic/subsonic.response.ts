import type { FastifyReply } from 'fastify';
import { AppError } from '../../platform/errors.js';

/** The Subsonic API version this server speaks; players compare it before using newer calls. */
export const API_VERSION = '1.16.1';
const SERVER_TYPE = 'backbeat';
const NAMESPACE = 'http://subsonic.org/restapi';

/**
 * A response body below the envelope: scalars become XML attributes, objects child elements,
 * arrays repeated elements, and a `value` key the element's text (as in OpenSubsonic's JSON).
 */
export type Payload = { [key: string]: PayloadValue };
type PayloadValue = string | number | boolean | undefined | null | Payload | Payload[] | string[] | number[];

/** The Subsonic error codes a client acts on (re-prompting for a password on 40, ...). */
export const ErrorCode = {
  generic: 0,
  missingParameter: 10,
  wrongCredentials: 40,
  authMechanismNotSupported: 42,
  conflictingAuth: 43,
  invalidApiKey: 44,
  notAuthorized: 50,
  notFound: 70,
} as const;

export class SubsonicError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const missingParameter = (name: string) =>
  new SubsonicError(ErrorCode.missingParameter, `Required parameter is missing: ${name}`);
export const notFound = (what: string) => new SubsonicError(ErrorCode.notFound, `${what} not found`);

/** What a service's error means to a Subsonic client; unknown errors say nothing of the internals. */
export function toSubsonicError(error: unknown): SubsonicError {
  if (error instanceof SubsonicError) return error;
  if (error instanceof AppError) {
    if (error.status === 404) return new SubsonicError(ErrorCode.notFound, error.message);
    if (error.status === 403 || error.status === 401) {
      return new SubsonicError(ErrorCode.notAuthorized, error.message);
    }
    if (error.status < 500) return new SubsonicError(ErrorCode.generic, error.message);
  }
  return new SubsonicError(ErrorCode.generic, 'The server could not answer this request');
}

export type Format = 'xml' | 'json';

export function formatOf(f: string | undefined): Format {
  return f === 'json' ? 'json' : 'xml';
}

/** Sends `payload` in the `subsonic-response` envelope; Subsonic clients expect HTTP 200 even for errors. */
export function sendEnvelope(
  reply: FastifyReply,
  format: Format,
  serverVersion: string,
  payload: Payload,
  error?: SubsonicError,
) {
  const head = {
    status: error ? 'failed' : 'ok',
    version: API_VERSION,
    type: SERVER_TYPE,
    serverVersion,
    openSubsonic: true,
  };
  const body: Payload = error
    ? { ...head, error: { code: error.code, message: error.message } }
    : { ...head, ...payload };
  reply.header('cache-control', 'no-store');
  if (format === 'json') {
    return reply.type('application/json; charset=utf-8').send(JSON.stringify({ 'subsonic-response': body }));
  }
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${element('subsonic-response', body, ` xmlns="${NAMESPACE}"`)}`;
  return reply.type('text/xml; charset=utf-8').send(xml);
}

function element(name: string, value: Payload, extra = ''): string {
  let attributes = extra;
  let children = '';
  let text = '';
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    if (key === 'value' && typeof v !== 'object') text = escapeXml(String(v));
    else if (Array.isArray(v)) {
      for (const item of v) {
        children +=
          typeof item === 'object' ? element(key, item) : `<${key}>${escapeXml(String(item))}</${key}>`;
      }
    } else if (typeof v === 'object') children += element(key, v);
    else attributes += ` ${key}="${escapeXml(String(v))}"`;
  }
  return children || text ? `<${name}${attributes}>${text}${children}</${name}>` : `<${name}${attributes}/>`;
}

/** Escapes markup and drops characters XML 1.0 cannot carry at all. */
function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
