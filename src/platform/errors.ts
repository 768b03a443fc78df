import { randomUUID } from 'node:crypto';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  preHandlerAsyncHookHandler,
} from 'fastify';
import { DatabaseBusyError, isDatabaseUnavailable, isDataException } from './db.js';

export interface FieldError {
  path: string;
  message: string;
}

/**
 * An error a service throws on purpose. The one error handler turns it into RFC 9457
 * problem+json with the stable `code`; nothing else about it reaches the client.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail?: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail ?? title);
  }
}

export class ValidationError extends AppError {
  constructor(detail: string, errors?: FieldError[], code = 'VALIDATION_FAILED') {
    super(400, code, 'Validation failed', detail, errors);
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail = 'Authentication is required', code = 'UNAUTHORIZED') {
    super(401, code, 'Unauthorized', detail, undefined, { 'www-authenticate': 'Bearer' });
  }
}

export class ForbiddenError extends AppError {
  constructor(detail = 'You are not allowed to do this', code = 'FORBIDDEN') {
    super(403, code, 'Forbidden', detail);
  }
}

export class NotFoundError extends AppError {
  constructor(what = 'Resource', code = 'NOT_FOUND') {
    super(404, code, 'Not found', `${what} not found`);
  }
}

export class ConflictError extends AppError {
  constructor(detail: string, code = 'CONFLICT') {
    super(409, code, 'Conflict', detail);
  }
}

export class MethodNotAllowedError extends AppError {
  constructor(method: string, allow: string[]) {
    super(405, 'METHOD_NOT_ALLOWED', 'Method not allowed', `${method} is not allowed here`, undefined, {
      allow: allow.join(', '),
    });
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  409: 'Conflict',
  413: 'Payload too large',
  408: 'Request timeout',
  414: 'URI too long',
  415: 'Unsupported media type',
  429: 'Too many requests',
  431: 'Request header fields too large',
  500: 'Internal server error',
  503: 'Service unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  errors?: FieldError[];
  requestId: string;
}

function problemType(code: string): string {
  return `/problems/${code.toLowerCase().replaceAll('_', '-')}`;
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: string,
  detail?: string,
  extra: { title?: string; errors?: FieldError[]; headers?: Record<string, string> } = {},
): FastifyReply {
  const body: Problem = {
    type: problemType(code),
    title: extra.title ?? TITLES[status] ?? 'Error',
    status,
    code,
    ...(detail ? { detail } : {}),
    ...(extra.errors ? { errors: extra.errors } : {}),
    requestId: String(request.id),
  };
  if (extra.headers) reply.headers(extra.headers);
  return reply.code(status).type('application/problem+json; charset=utf-8').send(body);
}

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/** Ajv errors -> `{ path, message }` pairs with JSON-pointer paths naming the offending field. */
function fieldErrors(errors: AjvError[]): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of errors) {
    let path = e.instancePath || '';
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'required') path = `${path}/${String(e.params.missingProperty)}`;
    if (e.keyword === 'additionalProperties') {
      path = `${path}/${String(e.params.additionalProperty)}`;
      message = 'is not allowed';
    }
    // anyOf over literals reports each branch; one message per field is what a client wants.
    if (e.keyword === 'const' || e.keyword === 'anyOf') message = 'is not one of the allowed values';
    const key = `${path}|${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push({ path: path || '/', message });
    }
  }
  return out;
}

const FASTIFY_CODES: Record<string, { status: number; code: string; detail: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    detail: 'The request body is too large',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: 'Send the body as application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    code: 'INVALID_CONTENT_LENGTH',
    detail: 'Content-Length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    code: 'INVALID_JSON',
    detail: 'The body is empty but Content-Type is application/json',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON', detail: 'The body is not valid JSON' },
};

/** What a client is told to wait while the database restarts (a routine restart takes seconds). */
const RETRY_AFTER_UNAVAILABLE_SEC = 5;

/** The one error handler: every failure leaves as problem+json, 5xx without internals. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      return sendProblem(reply, request, error.status, error.code, error.message, {
        title: error.title,
        errors: error.errors,
        headers: error.headers,
      });
    }
    const fe = error as FastifyError & { validation?: AjvError[]; validationContext?: string };
    if (fe.validation) {
      const context = fe.validationContext ?? 'request';
      return sendProblem(reply, request, 400, 'VALIDATION_FAILED', `The ${context} is invalid`, {
        title: 'Validation failed',
        errors: fieldErrors(fe.validation),
      });
    }
    const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
    if (known) return sendProblem(reply, request, known.status, known.code, known.detail);
    if (fe.statusCode === 429) {
      return sendProblem(reply, request, 429, 'RATE_LIMITED', 'Too many requests, retry later');
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Other client errors raised by Fastify or a plugin: keep the status, not the internals.
      return sendProblem(
        reply,
        request,
        fe.statusCode,
        'BAD_REQUEST',
        TITLES[fe.statusCode] ?? 'Bad request',
      );
    }
    if (isDataException(error)) {
      request.log.warn({ err: error }, 'input the database cannot store');
      return sendProblem(
        reply,
        request,
        400,
        'INVALID_INPUT',
        'A value in the request cannot be stored (e.g. a NUL character)',
      );
    }
    const busy = findCause(error, DatabaseBusyError);
    if (busy) {
      // Load shedding, not a fault: the embedded database's queue is full (PGLITE_QUEUE_MAX).
      request.log.debug({ queued: busy.queued }, 'embedded database busy');
      return sendProblem(reply, request, 503, 'SERVICE_UNAVAILABLE', 'The service is busy, retry shortly', {
        headers: { 'retry-after': '1' },
      });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      return sendProblem(
        reply,
        request,
        503,
        'SERVICE_UNAVAILABLE',
        'The service is briefly unavailable, retry shortly',
        {
          headers: { 'retry-after': String(RETRY_AFTER_UNAVAILABLE_SEC) },
        },
      );
    }
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, request, 500, 'INTERNAL_ERROR', 'Something went wrong on our side');
  });
}

const MALFORMED_URL = Symbol('backbeat.malformedUrl');
/** No route has this path: a malformed request URL is routed here, to the not-found handler. */
const MALFORMED_URL_PATH = '/.malformed-url';

/**
 * A server `rewriteUrl`: the router answers a path it cannot percent-decode (`/albums/%ff%fe`)
 * by itself, outside the request lifecycle (no problem+json, security headers, request id or
 * rate limit). Sending such a request to the not-found handler instead gives it all of them.
 */
export function routeMalformedUrl(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (!path.includes('%')) return url;
  try {
    decodeURIComponent(path);
    return url;
  } catch {
    (req as IncomingMessage & { [MALFORMED_URL]?: boolean })[MALFORMED_URL] = true;
    return MALFORMED_URL_PATH;
  }
}

/**
 * Unknown routes (and malformed URLs, see `routeMalformedUrl`) answer problem+json, counted by
 * `rateLimit` like every route, so probing for paths is limited too.
 */
export function registerNotFound(app: FastifyInstance, rateLimit: preHandlerAsyncHookHandler): void {
  app.setNotFoundHandler({ preHandler: rateLimit }, (request, reply) => {
    if ((request.raw as IncomingMessage & { [MALFORMED_URL]?: boolean })[MALFORMED_URL]) {
      return sendProblem(reply, request, 400, 'MALFORMED_URL', 'The URL path is not valid percent-encoding');
    }
    return sendProblem(
      reply,
      request,
      404,
      'ROUTE_NOT_FOUND',
      `No route for ${request.method} ${request.url.split('?')[0]}`,
    );
  });
}

/**
 * The headers helmet would set that matter for an error body, for the answers sent before any
 * Fastify hook runs (helmet runs in one): no sniffing, no framing, nothing loaded from the body.
 */
const BARE_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
};

/** Problems decided by Node's HTTP parser, before a request exists. */
const PARSER_PROBLEMS: Record<string, { status: number; code: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    detail: 'The request line and headers are too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'REQUEST_TIMEOUT',
    detail: 'The request did not arrive in time',
  },
};

/**
 * Answers what Node's HTTP parser rejects (headers or URL too large, a malformed chunked body,
 * broken HTTP) as problem+json on the raw socket, then closes it: there is no request to hand
 * to the error handler, and the connection cannot be trusted to carry another one.
 */
export function answerClientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = (error.code && PARSER_PROBLEMS[error.code]) || {
    status: 400,
    code: 'MALFORMED_REQUEST',
    detail: 'The request is not valid HTTP/1.1',
  };
  this.log.debug({ err: error }, 'client error');
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const requestId = randomUUID();
  const body = JSON.stringify({
    type: problemType(known.code),
    title: TITLES[known.status] ?? 'Bad request',
    status: known.status,
    code: known.code,
    detail: known.detail,
    requestId,
  } satisfies Problem);
  const headers = {
    'content-type': 'application/problem+json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
    connection: 'close',
    ...BARE_SECURITY_HEADERS,
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\n${head}\r\n${body}`);
}

/**
 * Errors Fastify's router raises before routing (a path parameter over `maxParamLength`: 414),
 * answered as problem+json. No hook has run, so the security headers are set here.
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  reply.headers({ ...BARE_SECURITY_HEADERS, 'x-request-id': String(request.id) });
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendProblem(reply, request, 414, 'URI_TOO_LONG', 'A path segment of the URL is too long');
    return;
  }
  sendProblem(reply, request, 400, 'BAD_REQUEST', 'The request URL is not valid');
}

/** `error` or one of its causes (drizzle wraps driver errors) when it is a `type`. */
function findCause<T extends Error>(error: unknown, type: new (...args: never[]) => T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    if (current instanceof type) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
