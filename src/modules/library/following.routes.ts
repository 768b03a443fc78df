import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerSecurity, requireRole } from '../../platform/auth.js';
import { IdParams, pageOf, problems, toPage } from '../../platform/http.js';
import { AlbumSchema, ArtistSchema } from '../catalog/index.js';
import { FollowingPageQuery } from './following.schemas.js';
import type { FollowingService } from './following.service.js';

export const followingRoutes: FastifyPluginAsyncTypebox<{ following: FollowingService }> = async (
  app,
  opts,
) => {
  const { following } = opts;
  const signedIn = requireRole();
  const edit = (operationId: string, summary: string, description: string) => ({
    preHandler: signedIn,
    schema: {
      operationId,
      tags: ['following'],
      summary,
      description,
      security: bearerSecurity,
      params: IdParams,
      response: { 204: Type.Null(), ...problems(401, 403, 404) },
    },
  });
  const list = <T extends typeof AlbumSchema | typeof ArtistSchema>(
    operationId: string,
    summary: string,
    description: string,
    item: T,
  ) => ({
    preHandler: signedIn,
    schema: {
      operationId,
      tags: ['following'],
      summary,
      description,
      security: bearerSecurity,
      querystring: FollowingPageQuery,
      response: { 200: pageOf(item), ...problems(401, 403) },
    },
  });

  app.put(
    '/me/following/albums/:id',
    edit('followAlbum', 'Follow an album', 'Follows an album (idempotent).'),
    async (request, reply) => {
      await following.followAlbum(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/me/following/albums/:id',
    edit('unfollowAlbum', 'Unfollow an album', 'Stops following an album (idempotent).'),
    async (request, reply) => {
      await following.unfollowAlbum(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/following/albums',
    list(
      'listFollowedAlbums',
      'List followed albums',
      'Albums the caller follows, newest follow first.',
      AlbumSchema,
    ),
    async (request) => {
      const { limit = 20, offset = 0 } = request.query;
      const { items, total } = await following.listAlbums(request.user!, { limit, offset });
      return toPage(request, items, total, limit, offset);
    },
  );

  app.put(
    '/me/following/artists/:id',
    edit('followArtist', 'Follow an artist', 'Follows an artist (idempotent).'),
    async (request, reply) => {
      await following.followArtist(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/me/following/artists/:id',
    edit('unfollowArtist', 'Unfollow an artist', 'Stops following an artist (idempotent).'),
    async (request, reply) => {
      await following.unfollowArtist(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/following/artists',
    list(
      'listFollowedArtists',
      'List followed artists',
      'Artists the caller follows, newest follow first.',
      ArtistSchema,
    ),
    async (request) => {
      const { limit = 20, offset = 0 } = request.query;
      const { items, total } = await following.listArtists(request.user!, { limit, offset });
      return toPage(request, items, total, limit, offset);
    },
  );
};
