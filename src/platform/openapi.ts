import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { TSchema } from 'typebox';

/**
 * The OpenAPI document is generated from the route schemas; nothing is described twice.
 *
 * Route schemas stay plain TypeBox (Fastify validates and serialises with them, unchanged); this
 * file only shapes the document around them (docs/api-guide.md, "Documenting a route"):
 * - schemas a module names with `nameSchemas` become `components.schemas` and are `$ref`ed
 *   wherever they occur, and a page of a named item becomes `<Name>Page`;
 * - errors are `application/problem+json` `$ref`s to `components.responses`, and the statuses
 *   every route can answer are declared from what the route is: 400 and 429 everywhere it is
 *   limited, 401 where it takes a token, 413 and 415 where it takes a JSON body, 503 where it
 *   reads the database, 304 on JSON reads (ETag);
 * - response headers: X-Request-Id, RateLimit-*, Retry-After, ETag, Cache-Control, Location;
 * - operations without `security` are public (`security: []`).
 */

export interface NamedSchema {
  schema: TSchema;
  /** A realistic value, shown in the document (validated against the schema by the lint). */
  example?: unknown;
}

const named = new Map<string, NamedSchema>();

/**
 * Names response schemas for the API document: `{ Album: AlbumSchema }` or, with an example,
 * `{ Album: { schema: AlbumSchema, example } }`. Names are PascalCase and unique.
 */
export function nameSchemas(schemas: Record<string, TSchema | NamedSchema>): void {
  for (const [name, value] of Object.entries(schemas)) {
    const entry =
      'schema' in value && !('type' in value) ? (value as NamedSchema) : { schema: value as TSchema };
    const existing = named.get(name);
    if (existing && existing.schema !== entry.schema) throw new Error(`schema name ${name} is used twice`);
    named.set(name, entry);
  }
}

/** Bodies: no schema, only an example for the request body of the operation that takes it. */
const bodyExamples = new Map<string, unknown>();
export function exampleBody(schema: TSchema, example: unknown): void {
  bodyExamples.set(canonical(schema), example);
}

/** The tags, in the order the reference shows them; every operation's tag must be one of these. */
export const TAGS = [
  { name: 'api', description: 'The API root: its name, version and links to the main collections.' },
  { name: 'auth', description: 'Accounts and sessions: register, sign in, refresh and end a session.' },
  { name: 'account', description: 'The signed-in user and public profiles of users.' },
  { name: 'artists', description: 'Artists of the catalog: browse, create and edit them.' },
  { name: 'albums', description: 'Albums of the catalog with their songs in track order.' },
  { name: 'songs', description: 'Songs of the catalog: browse, add to albums and edit them.' },
  { name: 'search', description: 'One search over albums, artists, songs and public playlists.' },
  { name: 'media', description: 'Audio and pictures: uploads, streaming redirects and the signed files.' },
  { name: 'following', description: 'Albums and artists the signed-in user follows.' },
  { name: 'notifications', description: 'News of followed albums and artists, as a feed and a live stream.' },
  { name: 'listening', description: 'Listening events and the recently played feed.' },
  { name: 'discovery', description: 'Trending songs, recommendations and similar songs.' },
  { name: 'analytics', description: 'Catalog statistics: top albums, genres and artist timelines.' },
  { name: 'playlists', description: 'Playlists: create, edit, reorder, import, export and follow them.' },
  { name: 'events', description: 'Live listening events: schedule them, follow them live and chat.' },
  {
    name: 'subsonic',
    description: 'App passwords for Subsonic players (the Subsonic API itself is at /rest).',
  },
  { name: 'admin', description: 'Administration: users, library scans and background jobs.' },
  { name: 'operations', description: 'Liveness and readiness probes for orchestrators and load balancers.' },
] as const;

const ERRORS: Record<string, { name: string; description: string }> = {
  '400': { name: 'BadRequest', description: 'The request is invalid (validation, malformed JSON or URL).' },
  '401': { name: 'Unauthorized', description: 'No valid access token (WWW-Authenticate: Bearer).' },
  '403': { name: 'Forbidden', description: 'The caller may not do this (role, ownership, blocked account).' },
  '404': { name: 'NotFound', description: 'The resource does not exist or is not visible to the caller.' },
  '405': { name: 'MethodNotAllowed', description: 'The path exists but not with this method (see Allow).' },
  '409': { name: 'Conflict', description: 'The request conflicts with the current state.' },
  '413': { name: 'PayloadTooLarge', description: 'The request body is too large.' },
  '415': {
    name: 'UnsupportedMediaType',
    description: 'The body is not in a media type this operation takes.',
  },
  '416': {
    name: 'RangeNotSatisfiable',
    description: 'The Range is outside the file (Content-Range names its size).',
  },
  '429': { name: 'TooManyRequests', description: 'Rate limit exceeded; retry after Retry-After seconds.' },
  '503': { name: 'ServiceUnavailable', description: 'A dependency (the database) is briefly unavailable.' },
};

const SUCCESS_DESCRIPTIONS: Record<string, string> = {
  '200': 'OK',
  '201': 'Created',
  '202': 'Accepted: the work continues in the background',
  '204': 'No content',
  '206': 'Partial content (a Range request)',
  '302': 'Found: redirect to the Location',
  '304': 'Not modified: the ETag in If-None-Match still matches',
};

const HEADERS = {
  XRequestId: {
    description:
      "The request's id (the caller's X-Request-Id when safe, else a new UUID); quote it in reports.",
    schema: { type: 'string' },
  },
  RateLimitLimit: { description: 'Requests allowed per window.', schema: { type: 'integer' } },
  RateLimitRemaining: { description: 'Requests left in the current window.', schema: { type: 'integer' } },
  RateLimitReset: { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
  RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
  ETag: {
    description: 'Weak validator of the body; send it back in If-None-Match.',
    schema: { type: 'string' },
  },
  CacheControl: {
    description: 'public, max-age=30, must-revalidate for anonymous reads; private, no-cache with a token.',
    schema: { type: 'string' },
  },
  Location: { description: 'URL of the resource.', schema: { type: 'string' } },
} as const;

type Json = Record<string, unknown>;
type Operation = Json & { responses: Record<string, Json>; security?: unknown[]; requestBody?: Json };

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'] as const;

/** JSON with sorted keys: equal schemas, however their keys were ordered, give equal text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as Json)
            .sort()
            .map((k) => [k, (v as Json)[k]]),
        )
      : v,
  );
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** What the document cannot see in a route's schema, read from the route itself. */
interface RouteFacts {
  rateLimited: boolean;
}

/** Shapes the generated document (see the comment at the top). Pure: the input is not reused. */
export function shapeDocument(input: Json, facts: Map<string, RouteFacts>): Json {
  const doc = structuredClone(input) as Json & { paths: Record<string, Record<string, Operation>> };
  const byText = new Map<string, string>();
  const components: Record<string, Json> = {};
  for (const [name, { schema }] of named) byText.set(canonical(schema), name);

  /** Replaces every named schema under `node` (not `node` itself) with its `$ref`. */
  const refChildren = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(refAll);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node as Json).map(([k, v]) => [k, refAll(v)]));
  };
  const refAll = (node: unknown): unknown => {
    if (node && typeof node === 'object' && !Array.isArray(node)) {
      const name = byText.get(canonical(node));
      if (name) {
        if (!components[name]) {
          components[name] = {}; // placeholder against cycles
          const example = named.get(name)?.example;
          components[name] = {
            ...(refChildren(JSON.parse(JSON.stringify(named.get(name)!.schema))) as Json),
            ...(example !== undefined ? { examples: [example] } : {}),
          };
        }
        return ref(name);
      }
      const page = pageOf(node as Json);
      if (page) {
        const item = (refAll(page) as { $ref: string }).$ref?.split('/').pop();
        if (item) {
          const pageName = `${item}Page`;
          if (!components[pageName]) components[pageName] = refChildren(node) as Json;
          return ref(pageName);
        }
      }
    }
    return refChildren(node);
  };

  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      let op = item[method];
      if (!op) continue;
      const route = facts.get(`${method.toUpperCase()} ${path}`) ?? { rateLimited: true };
      if (method === 'head' && typeof op.operationId === 'string') {
        // GET and HEAD share a route, and in the generated document the very same operation
        // object: HEAD gets its own copy and operationId, `getAudioFile` -> `headAudioFile`.
        op = structuredClone(op);
        item.head = op;
        op.operationId = (op.operationId as string).replace(/^get/, 'head');
      }
      if (path.startsWith('/media/')) describeFile(op, method, path);
      shapeOperation(op, method, path, route, refAll);
    }
  }

  // A wildcard route (`/media/audio/:hash/*`) is `{*}`, which is no valid OpenAPI parameter name.
  doc.paths = Object.fromEntries(
    Object.entries(doc.paths).map(([path, item]) => [path.replace(/\/\{\*\}$/, '/{file}'), item]),
  );
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.endsWith('/{file}')) continue;
    for (const method of METHODS) {
      for (const parameter of (item[method]?.parameters ?? []) as Json[]) {
        if (parameter.name !== '*' || parameter.in !== 'path') continue;
        parameter.name = 'file';
        parameter.description = 'The rest of the path (it may contain /), as in the signed URL';
      }
    }
  }

  refAll(named.get('Problem')?.schema);
  const schemas = { ...components };
  const responses: Record<string, Json> = {};
  for (const { name, description } of Object.values(ERRORS)) {
    responses[name] = {
      description,
      headers: { 'X-Request-Id': { $ref: '#/components/headers/XRequestId' } },
      content: { 'application/problem+json': { schema: ref('Problem') } },
    };
  }
  responses.TooManyRequests!.headers = {
    ...(responses.TooManyRequests!.headers as Json),
    'Retry-After': { $ref: '#/components/headers/RetryAfter' },
    ...rateLimitHeaders(),
  };
  responses.ServiceUnavailable!.headers = {
    ...(responses.ServiceUnavailable!.headers as Json),
    'Retry-After': { $ref: '#/components/headers/RetryAfter' },
  };
  responses.Unauthorized!.headers = {
    ...(responses.Unauthorized!.headers as Json),
    'WWW-Authenticate': { description: 'Bearer', schema: { type: 'string' } },
  };
  responses.MethodNotAllowed!.headers = {
    ...(responses.MethodNotAllowed!.headers as Json),
    Allow: { description: 'The methods the path takes.', schema: { type: 'string' } },
  };
  const used = JSON.stringify(doc.paths);
  for (const name of Object.keys(responses)) {
    if (!used.includes(`"#/components/responses/${name}"`)) delete responses[name];
  }
  doc.components = {
    ...(doc.components as Json),
    schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
    responses,
    headers: HEADERS,
  };
  doc.tags = TAGS.filter((tag) => used.includes(`"${tag.name}"`));
  return doc;
}

const rateLimitHeaders = () => ({
  'RateLimit-Limit': { $ref: '#/components/headers/RateLimitLimit' },
  'RateLimit-Remaining': { $ref: '#/components/headers/RateLimitRemaining' },
  'RateLimit-Reset': { $ref: '#/components/headers/RateLimitReset' },
});

/**
 * The signed audio files and public pictures under /media are files, not JSON: their answers
 * are declared here (the routes have no response schema: they stream files from disk).
 */
function describeFile(op: Operation, method: string, path: string): void {
  const audio = path.startsWith('/media/audio/');
  const type = audio ? 'audio/*' : 'image/*';
  const body =
    method === 'head' ? {} : { content: { [type]: { schema: { type: 'string', contentMediaType: type } } } };
  const fileHeaders = {
    ETag: { $ref: '#/components/headers/ETag' },
    'Cache-Control': {
      description: audio ? 'private, until the signature expires' : 'public, immutable',
      schema: { type: 'string' },
    },
  };
  op.responses = {
    '200': {
      description: audio ? 'The file (Range requests are supported)' : 'The picture',
      headers: fileHeaders,
      ...body,
    },
    ...(audio
      ? {
          '206': { description: 'The requested range of the file', headers: fileHeaders, ...body },
          '403': { description: 'The signature is invalid or has expired' },
          '416': { description: 'The Range is outside the file' },
        }
      : {}),
    '304': { description: 'Not modified', headers: fileHeaders },
    '404': { description: 'No such file' },
  };
}

/** The item schema of an offset page (`pageOf` in http.ts), or undefined. */
function pageOf(node: Json): Json | undefined {
  const props = node.properties as Record<string, Json> | undefined;
  if (!props || node.type !== 'object') return undefined;
  const keys = Object.keys(props).sort().join(',');
  if (keys !== 'items,limit,next,offset,previous,total') return undefined;
  return props.items?.type === 'array' ? (props.items.items as Json) : undefined;
}

function shapeOperation(
  op: Operation,
  method: string,
  path: string,
  route: RouteFacts,
  refAll: (node: unknown) => unknown,
): void {
  const takesToken = (op.security ?? []).some((s) => Object.keys(s as Json).length > 0);
  if (!op.security) op.security = [];
  const api = path === '/api/v1' || path.startsWith('/api/v1/');
  const statuses = new Set(Object.keys(op.responses));
  if (api) statuses.add('400');
  if (route.rateLimited) statuses.add('429');
  if (takesToken) statuses.add('401');
  if (api) statuses.add('503');
  const body = op.requestBody as
    | { content?: Record<string, { schema?: Json; example?: unknown }> }
    | undefined;
  if (body?.content) {
    statuses.add('413');
    statuses.add('415');
    for (const media of Object.values(body.content)) {
      if (!media.schema) continue;
      const example = bodyExamples.get(canonical(media.schema));
      if (example !== undefined) media.example = example;
      // A body schema that accepts null takes no body at all (Fastify reads none as null).
      const anyOf = media.schema.anyOf as Json[] | undefined;
      if (anyOf?.some((s) => s.type === 'null')) (op.requestBody as Json).required = false;
    }
  }
  const ok = op.responses['200'] as { content?: Record<string, unknown> } | undefined;
  const jsonRead = method === 'get' && Boolean(ok?.content?.['application/json']);
  if (jsonRead) statuses.add('304');

  const responses: Record<string, Json> = {};
  for (const status of [...statuses].sort()) {
    const error = ERRORS[status];
    const given = op.responses[status];
    if (error) {
      const schema = (given?.content as Record<string, { schema?: Json }> | undefined)?.['application/json']
        ?.schema;
      const shaped = schema ? refAll(schema) : undefined;
      if (!schema || (shaped as Json).$ref === '#/components/schemas/Problem') {
        responses[status] = { $ref: `#/components/responses/${error.name}` };
      } else {
        // Not only a problem (a 409 that answers the running scan): keep what the route says.
        responses[status] = {
          ...given,
          description: given?.description === 'Default Response' ? error.description : given?.description,
          content: { 'application/json': { schema: shaped } },
        };
      }
      continue;
    }
    const response: Json = given ? { ...given } : {};
    if (!given || response.description === 'Default Response') {
      response.description = SUCCESS_DESCRIPTIONS[status] ?? 'OK';
    }
    if (response.content) {
      response.content = refAll(response.content);
      // `null` bodies (204, 302) have no content.
      const json = (response.content as Record<string, { schema?: Json }>)['application/json'];
      if (json?.schema?.type === 'null') delete response.content;
    }
    const headers: Json = { 'X-Request-Id': { $ref: '#/components/headers/XRequestId' } };
    if (route.rateLimited) Object.assign(headers, rateLimitHeaders());
    if (status === '201' && response.content) headers.Location = { $ref: '#/components/headers/Location' };
    if (status === '302') headers.Location = { $ref: '#/components/headers/Location' };
    if (jsonRead && (status === '200' || status === '304')) {
      headers.ETag = { $ref: '#/components/headers/ETag' };
      if (api) headers['Cache-Control'] = { $ref: '#/components/headers/CacheControl' };
    }
    response.headers = { ...headers, ...(response.headers as Json | undefined) };
    responses[status] = response;
  }
  op.responses = responses;
}

/** Route facts for `shapeDocument`, collected as @fastify/swagger walks the routes. */
function factsCollector(facts: Map<string, RouteFacts>) {
  return ({
    schema,
    url,
    route,
  }: {
    schema: unknown;
    url: string;
    route: { method: string | string[]; config?: unknown };
  }) => {
    const config = (route.config ?? {}) as { rateLimit?: unknown };
    const path = url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}');
    for (const method of [route.method].flat()) {
      facts.set(`${method} ${path}`, { rateLimited: config.rateLimit !== false });
    }
    return { schema: schema as never, url };
  };
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  const facts = new Map<string, RouteFacts>();
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Backbeat API',
        version: '1.0.0',
        description:
          'Self-hostable music streaming backend. JSON in and out; errors are RFC 9457 application/problem+json ' +
          'with a stable `code`. Reads of the catalog are public; a Bearer access token (from /auth/login) ' +
          'personalises them and is required for everything else.',
        license: { name: 'MIT', identifier: 'MIT' },
        contact: { name: 'Backbeat maintainers' },
      },
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'The access token from POST /api/v1/auth/login, /register or /refresh.',
          },
        },
      },
    },
    transform: factsCollector(facts) as never,
    transformObject: (document) =>
      shapeDocument((document as { openapiObject: Json }).openapiObject, facts) as never,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  app.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () =>
    app.swagger(),
  );
}
