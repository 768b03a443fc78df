import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, call, register, type TestApp } from './helpers.js';

/**
 * The API document's conventions (docs/api-guide.md, "Documenting a route"), checked on the
 * document the server serves, so a new route that forgets one fails here. The linters
 * (`npm run lint:api`: Spectral and Redocly) check the rest in CI.
 */
let t: TestApp;
// biome-ignore lint/suspicious/noExplicitAny: a JSON document walked generically
let doc: any;
beforeAll(async () => {
  t = await buildTestApp();
  doc = (await call(t.app, 'GET', '/openapi.json')).body;
});
afterAll(() => t.close());

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'];
// biome-ignore lint/suspicious/noExplicitAny: see above
function operations(): Array<{ name: string; op: any; path: string; method: string }> {
  // biome-ignore lint/suspicious/noExplicitAny: see above
  return Object.entries(doc.paths as Record<string, any>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({
      name: `${method.toUpperCase()} ${path}`,
      op: item[method],
      path,
      method,
    })),
  );
}

describe('openapi.json conventions', () => {
  it('every operation has a unique camelCase operationId, a summary, a description and declared tags', () => {
    const declared = new Set(doc.tags.map((tag: { name: string; description: string }) => tag.name));
    for (const tag of doc.tags) expect(tag.description, tag.name).toBeTruthy();
    const ids = new Set<string>();
    for (const { name, op, path } of operations()) {
      expect(op.operationId, name).toMatch(/^[a-z][a-zA-Z0-9]+$/);
      expect(ids.has(op.operationId), `${name}: operationId ${op.operationId} used twice`).toBe(false);
      ids.add(op.operationId);
      expect(op.summary, name).toBeTruthy();
      expect(op.summary.length, `${name}: a summary is a few words`).toBeLessThanOrEqual(50);
      expect(op.description, name).toBeTruthy();
      expect(op.tags?.length, name).toBe(1);
      expect(declared.has(op.tags[0]), `${name}: tag ${op.tags[0]} is not declared in TAGS`).toBe(true);
      expect(op.security, `${name}: security is explicit ([] when public)`).toBeDefined();
      // Path parameters are named words, each in the template (a wildcard route is `{file}`, not `{*}`).
      for (const parameter of (op.parameters ?? []).filter((p: { in: string }) => p.in === 'path')) {
        expect(parameter.name, name).toMatch(/^\w+$/);
        expect(path, name).toContain(`{${parameter.name}}`);
      }
    }
    expect(ids.has('listAlbums') && ids.has('getAlbum') && ids.has('followAlbum')).toBe(true);
    expect(ids.has('getAudioFile') && ids.has('headAudioFile') && ids.has('headImage')).toBe(true);
  });

  it('errors are application/problem+json references to the named Problem', () => {
    for (const { name, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses) as Array<[string, { $ref?: string }]>) {
        if (Number(status) < 400 || name.startsWith('GET /health') || name.includes('/media/')) continue;
        if (response.$ref) {
          const shared = doc.components.responses[response.$ref.split('/').pop()!];
          expect(shared.content['application/problem+json'].schema, `${name} ${status}`).toEqual({
            $ref: '#/components/schemas/Problem',
          });
        } else {
          // Only the scan's 409 (the running scan itself) is not a problem.
          expect(name, `${name} ${status} declares its own body`).toBe('POST /api/v1/admin/library/scans');
        }
      }
    }
    expect(JSON.stringify(doc.paths)).not.toContain('"requestId"');
  });

  it('declares what every route can answer: 429, 401 with a token, 413/415 with a body, 503, 304 on reads', () => {
    const albums = doc.paths['/api/v1/albums'];
    expect(Object.keys(albums.get.responses)).toEqual(
      expect.arrayContaining(['200', '304', '400', '401', '429', '503']),
    );
    expect(albums.get.responses['200'].headers).toMatchObject({
      ETag: expect.anything(),
      'Cache-Control': expect.anything(),
      'X-Request-Id': expect.anything(),
      'RateLimit-Remaining': expect.anything(),
    });
    expect(Object.keys(albums.post.responses)).toEqual(expect.arrayContaining(['201', '413', '415']));
    expect(albums.post.responses['201'].headers.Location).toBeDefined();
    expect(albums.get.security).toEqual([{}, { bearerAuth: [] }]);
    expect(doc.paths['/api/v1/songs/trending'].get.security).toEqual([]);
    expect(doc.paths['/api/v1/me/playlists'].get.security).toEqual([{ bearerAuth: [] }]);
  });

  it('names its resources, pages and the problem as components', () => {
    const schemas = doc.components.schemas;
    for (const name of ['Album', 'AlbumPage', 'AlbumDetail', 'Artist', 'ArtistPage', 'Song', 'SongPage']) {
      expect(schemas[name], name).toBeDefined();
    }
    for (const name of ['Playlist', 'PlaylistPage', 'User', 'Problem', 'Scan', 'Job', 'ApiIndex']) {
      expect(schemas[name], name).toBeDefined();
    }
    expect(schemas.AlbumPage.properties.items.items).toEqual({ $ref: '#/components/schemas/Album' });
    expect(schemas.Album.examples).toHaveLength(1);
    const getAlbum = doc.paths['/api/v1/albums/{id}'].get.responses['200'].content['application/json'];
    expect(getAlbum.schema).toEqual({ $ref: '#/components/schemas/AlbumDetail' });
  });

  it('POST /me/notifications/read takes no body', async () => {
    expect(doc.paths['/api/v1/me/notifications/read'].post.requestBody.required).toBe(false);
    const s = await register(t.app);
    const res = await call(t.app, 'POST', '/api/v1/me/notifications/read', { session: s });
    expect(res.status).toBe(204);
  });

  it('the document only describes: the server answers as its schemas say', async () => {
    // A named schema still serialises the body: unknown fields never leave the server.
    const s = await register(t.app);
    const res = await call(t.app, 'GET', '/api/v1/me', { session: s });
    expect(Object.keys(res.body).sort()).toEqual(
      ['artistId', 'blocked', 'createdAt', 'displayName', 'email', 'id', 'images', 'role', 'username'].sort(),
    );
  });
});

describe('GET /api/v1', () => {
  it('answers the API index with links to the reference and the main collections', async () => {
    const res = await call(t.app, 'GET', '/api/v1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'Backbeat API',
      version: expect.any(String),
      links: {
        docs: '/docs',
        openapi: '/openapi.json',
        albums: '/api/v1/albums',
        artists: '/api/v1/artists',
        songs: '/api/v1/songs',
      },
    });
    for (const link of [res.body.links.docs, res.body.links.openapi, res.body.links.albums]) {
      const followed = await t.app.inject({ method: 'GET', url: link });
      expect([200, 301, 302], link).toContain(followed.statusCode);
    }
    expect(doc.paths['/api/v1'].get.operationId).toBe('getApiIndex');
    expect(doc.paths['/api/v1'].get.security).toEqual([]);
  });

  it('answers other methods 405 with Allow, as every path does', async () => {
    const res = await call(t.app, 'POST', '/api/v1');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });
});

describe('route schemas', () => {
  // Validators and serializers compile on a route's first use (platform/validation.ts), so a
  // schema that cannot compile would fail only its route's first request: compile them all here.
  it('every route schema compiles, and every request schema is valid JSON Schema', () => {
    const compiled = t.app.compileSchemas();
    expect(compiled).toBeGreaterThan(200);
    expect(t.app.compileSchemas()).toBe(0);
  });
});
