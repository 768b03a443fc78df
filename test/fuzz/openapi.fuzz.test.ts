import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, createAdmin, register, type Session, type TestApp } from '../helpers.js';
import { invalid, type Schema, valid } from './arbitraries.js';

/**
 * Property-based fuzzing of every operation `openapi.json` describes, on the real app with
 * seeded data (so valid ids get past the 404s): valid and invalid parameters and bodies, with
 * no token, a user's and an admin's. Whatever comes in, the server never answers 5xx, every
 * error is problem+json without a stack, SQL or a file path, and every 2xx body is valid
 * against the document. FUZZ_RUNS sets the cases per operation (default 25).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const document = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));

/** Internals that must never reach a client. */
const LEAK =
  /\bat [\w$.<>]+ \(|node_modules|\/work\/|\/src\/|\.ts:\d+|\bselect\b[\s\S]{0,80}\bfrom\b|insert into|violates|syntax error|drizzle|ECONNREFUSED/i;

const ajv = new Ajv2020({ strict: false, allErrors: true });
// ajv-formats is CommonJS; under NodeNext its default export arrives as the module object.
(addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020)(ajv);
ajv.addSchema(document, 'openapi');

interface Operation {
  method: (typeof METHODS)[number];
  path: string;
  spec: Schema;
}

const operations: Operation[] = Object.entries(document.paths as Record<string, Schema>).flatMap(
  ([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, spec: item[method] as Schema })),
);
// Deletions last, so the other operations still find the seeded rows.
operations.sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'));

/**
 * A response that never ends (server-sent events): injected with its payload as a stream, read
 * to the end when it is an error and dropped after its headers when the stream opened.
 */
function isStream(op: Operation): boolean {
  return Object.values(op.spec.responses ?? {}).some((r) => (r as Schema).content?.['text/event-stream']);
}

async function text(stream: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += chunk;
  return out;
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

let t: TestApp;
let seeded: Record<string, string>;
let sessions: Record<'user' | 'admin', Session>;

beforeAll(async () => {
  t = await buildTestApp();
  const admin = await createAdmin(t.app);
  const user = await register(t.app);
  const as = (session: Session) => ({ authorization: `Bearer ${session.accessToken}` });
  const post = async (url: string, session: Session, payload: object) => {
    const res = await t.app.inject({ method: 'POST', url, headers: as(session), payload });
    if (res.statusCode >= 300) throw new Error(`seeding ${url}: ${res.statusCode} ${res.body}`);
    return res.json();
  };
  const artist = await post('/api/v1/artists', admin, { name: 'Fuzz Artist', genres: ['Rock'] });
  const album = await post('/api/v1/albums', admin, {
    title: 'Fuzz Album',
    genre: 'Rock',
    releaseYear: 2020,
    artistId: artist.id,
  });
  const song = await post(`/api/v1/albums/${album.id}/songs`, admin, {
    title: 'Fuzz Song',
    durationMs: 200_000,
  });
  const playlist = await post('/api/v1/playlists', user, { name: 'Fuzz List' });
  await post(`/api/v1/playlists/${playlist.id}/tracks`, user, { songIds: [song.id] }).catch(() => {});
  seeded = {
    artists: artist.id,
    albums: album.id,
    songs: song.id,
    playlists: playlist.id,
    users: user.user.id,
  };
  sessions = { user, admin };
}, 120_000);

/** Answers by status class, and the operations valid input never got a 2xx from. */
const tally = new Map<string, number>();
const reachedSuccess = new Set<string>();

afterAll(async () => {
  await t?.close();
  const total = [...tally.values()].reduce((a, b) => a + b, 0);
  const classes = [...tally].map(([k, v]) => `${k} ${v}`).join(', ');
  const never = operations
    .filter((op) => !reachedSuccess.has(`${op.method} ${op.path}`))
    .map((op) => `${op.method.toUpperCase()} ${op.path}`);
  console.log(`[fuzz] ${total} requests over ${operations.length} operations: ${classes}`);
  console.log(`[fuzz] operations without a 2xx in this run: ${never.join(', ') || 'none'}`);
});

/** The seeded id for `{id}` in a path, by the collection named before it. */
function seededId(path: string, name: string): string {
  const segments = path.split('/');
  const collection = segments[segments.indexOf(`{${name}}`) - 1] ?? '';
  return seeded[collection] ?? seeded.albums!;
}

/**
 * Half the cases are valid throughout (seeded ids, parameters and body from their schemas),
 * so they get past validation and lookups; the other half mix in wrong ids, parameters the
 * schema rejects, unknown parameters and invalid bodies.
 */
function requestArbitrary(op: Operation) {
  const pathParams: Schema[] = (op.spec.parameters ?? []).filter((p: Schema) => p.in === 'path');
  const queryParams: Schema[] = (op.spec.parameters ?? []).filter((p: Schema) => p.in === 'query');
  const requiredQuery = queryParams.filter((p) => p.required).map((p) => p.name);
  const bodySchema: Schema | undefined = op.spec.requestBody?.content?.['application/json']?.schema;
  const auth = fc.constantFrom('none', 'user', 'admin', 'admin') as fc.Arbitrary<'none' | 'user' | 'admin'>;
  const seededIds = Object.fromEntries(pathParams.map((p) => [p.name, seededId(op.path, p.name)]));
  const validRequest = fc.record({
    auth,
    ids: fc.constant(seededIds),
    query: fc.record<Record<string, unknown>>(
      Object.fromEntries(queryParams.map((p) => [p.name, valid(p.schema)])),
      { requiredKeys: requiredQuery } as { requiredKeys: never[] },
    ),
    unknownQuery: fc.constant(null),
    body: bodySchema ? valid(bodySchema) : fc.constant(undefined),
  });
  const invalidRequest = fc.record({
    auth,
    ids: fc.record(
      Object.fromEntries(
        pathParams.map((p) => [
          p.name,
          fc.oneof(
            fc.constant(seededId(op.path, p.name)),
            fc.uuid(),
            fc.string({ minLength: 1, maxLength: 40 }),
          ),
        ]),
      ),
    ),
    query: fc.record(
      Object.fromEntries(queryParams.map((p) => [p.name, fc.oneof(valid(p.schema), invalid(p.schema))])),
      { requiredKeys: [] },
    ),
    unknownQuery: fc.option(fc.string({ minLength: 1, maxLength: 8 }), { freq: 3 }),
    body: bodySchema ? fc.oneof(valid(bodySchema), invalid(bodySchema)) : fc.constant(undefined),
  });
  return fc.oneof(validRequest, invalidRequest);
}

function buildUrl(
  path: string,
  ids: Record<string, string>,
  query: Record<string, unknown>,
  unknown: string | null,
) {
  const filled = path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(ids[name] ?? ''));
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const v of [value].flat()) params.append(name, typeof v === 'string' ? v : JSON.stringify(v));
  }
  if (unknown !== null) params.append(`x${unknown}`, '1');
  const search = params.toString();
  return search ? `${filled}?${search}` : filled;
}

describe('every operation in openapi.json, fuzzed', () => {
  it('covers a document with operations', () => {
    expect(operations.length).toBeGreaterThan(40);
  });

  for (const op of operations) {
    const name = `${op.method.toUpperCase()} ${op.path}`;
    it(name, async () => {
      const responses = op.spec.responses ?? {};
      const streaming = isStream(op);
      await fc.assert(
        fc.asyncProperty(requestArbitrary(op), async (input) => {
          const url = buildUrl(op.path, input.ids as Record<string, string>, input.query, input.unknownQuery);
          const headers: Record<string, string> =
            input.auth === 'none' ? {} : { authorization: `Bearer ${sessions[input.auth].accessToken}` };
          const res = await t.app.inject({
            method: op.method.toUpperCase() as 'GET',
            url,
            headers,
            ...(input.body !== undefined ? { payload: JSON.stringify(input.body) } : {}),
            ...(input.body !== undefined
              ? { headers: { ...headers, 'content-type': 'application/json' } }
              : {}),
            ...(streaming ? { payloadAsStream: true } : {}),
          });
          const opened = streaming && res.statusCode < 300;
          if (opened) res.stream().destroy();
          const body = !streaming ? res.body : opened ? '' : await text(res.stream());
          const statusClass = `${String(res.statusCode)[0]}xx`;
          tally.set(statusClass, (tally.get(statusClass) ?? 0) + 1);
          if (res.statusCode < 300) reachedSuccess.add(`${op.method} ${op.path}`);
          const where = `${op.method.toUpperCase()} ${url} -> ${res.statusCode} ${body.slice(0, 300)}`;
          expect(res.statusCode, where).toBeLessThan(500);
          const type = String(res.headers['content-type'] ?? '');
          if (res.statusCode >= 400) {
            expect(type, where).toMatch(/^application\/problem\+json/);
            const problem = JSON.parse(body);
            expect(problem, where).toMatchObject({
              status: res.statusCode,
              code: expect.stringMatching(/^[A-Z][A-Z0-9_]*$/),
              title: expect.any(String),
              type: expect.any(String),
              requestId: expect.any(String),
            });
            expect(body, where).not.toMatch(LEAK);
            return;
          }
          expect(responses[String(res.statusCode)], `${where}: status not in the document`).toBeDefined();
          if (opened) {
            expect(type, where).toMatch(/^text\/event-stream/);
            return;
          }
          const documented = responses[String(res.statusCode)].content?.['application/json'];
          if (!documented || !type.startsWith('application/json')) return;
          const ref = `openapi#/${pointer('paths', op.path, op.method, 'responses', String(res.statusCode), 'content', 'application/json', 'schema')}`;
          const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
          const ok = validate(JSON.parse(body));
          expect(ok, `${where}\n${JSON.stringify(validate.errors)}`).toBe(true);
        }),
        { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true },
      );
    });
  }
});
