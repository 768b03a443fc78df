import type { FastifyRequest } from 'fastify';

/**
 * Query parameters whose values are credentials: tokens sent in a URL by clients that cannot
 * set headers, Subsonic-style `p` (password), `t` (token) and `s` (salt), API keys and URL
 * signatures. Matched case-insensitively.
 */
const SECRET_PARAMETERS = new Set([
  'token',
  'access_token',
  'accesstoken',
  'refresh_token',
  'refreshtoken',
  'id_token',
  'password',
  'p',
  't',
  's',
  'apikey',
  'api_key',
  'key',
  'secret',
  'client_secret',
  'signature',
  'sig',
]);

/** Signed media URLs: their expiry travels with the signature, and both stay out of logs. */
const MEDIA_SECRET_PARAMETERS = new Set(['sig', 'exp']);
const MEDIA_PATH = /(^|\/)media(\/|$)/;

const REDACTED = '[REDACTED]';

function parameterName(pair: string): string {
  const raw = pair.split('=', 1)[0] ?? '';
  try {
    return decodeURIComponent(raw.replaceAll('+', ' ')).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/** The URL with the values of secret query parameters replaced, for logging. */
export function redactUrl(url: string): string {
  const query = url.indexOf('?');
  if (query === -1) return url;
  const path = url.slice(0, query);
  const media = MEDIA_PATH.test(path);
  const pairs = url
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      const name = parameterName(pair);
      const secret = SECRET_PARAMETERS.has(name) || (media && MEDIA_SECRET_PARAMETERS.has(name));
      return secret ? `${pair.split('=', 1)[0]}=${REDACTED}` : pair;
    });
  return `${path}?${pairs.join('&')}`;
}

/**
 * Fastify's request log serializer with the URL redacted: the "incoming request" line is logged
 * at info level, and a token sent in a query string must not end up in log storage.
 */
export function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
