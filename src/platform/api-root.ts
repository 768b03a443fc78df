import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { nameSchemas } from './openapi.js';

const ApiIndexSchema = Type.Object({
  name: Type.String(),
  version: Type.String({ description: 'the API version (the path prefix is /api/v1)' }),
  links: Type.Object(
    {
      docs: Type.String({ description: 'the API reference (Swagger UI)' }),
      openapi: Type.String({ description: 'the OpenAPI 3.1 document' }),
      albums: Type.String(),
      artists: Type.String(),
      songs: Type.String(),
      search: Type.String(),
      playlists: Type.String({ description: "the caller's playlists (a token is needed)" }),
      me: Type.String({ description: 'the signed-in user (a token is needed)' }),
      login: Type.String(),
      register: Type.String(),
    },
    { description: 'where to go from here' },
  ),
});

const INDEX = {
  name: 'Backbeat API',
  version: '1.0.0',
  links: {
    docs: '/docs',
    openapi: '/openapi.json',
    albums: '/api/v1/albums',
    artists: '/api/v1/artists',
    songs: '/api/v1/songs',
    search: '/api/v1/search',
    playlists: '/api/v1/me/playlists',
    me: '/api/v1/me',
    login: '/api/v1/auth/login',
    register: '/api/v1/auth/register',
  },
};

nameSchemas({ ApiIndex: { schema: ApiIndexSchema, example: INDEX } });

/** `GET /api/v1`: where a client starts (mounted under the API prefix, so registered at ''). */
export const apiRootRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '',
    {
      schema: {
        operationId: 'getApiIndex',
        tags: ['api'],
        summary: 'The API root',
        description: 'The name and version of the API and links to its reference and main collections.',
        response: { 200: ApiIndexSchema },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return INDEX;
    },
  );
};
