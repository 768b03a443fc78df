import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { bearerSecurity, optionalAuth, requireRole } from '../../platform/auth.js';
import { IdParams, pageOf, problems, setReadCaching, toPage } from '../../platform/http.js';
import {
  AddTracksBody,
  CreatePlaylistBody,
  ExportQuery,
  ImportBody,
  ImportResultSchema,
  PlaylistDetailSchema,
  PlaylistPageQuery,
  PlaylistSchema,
  RemoveTracksBody,
  ReorderTracksBody,
  TrackListSchema,
  TrackPageQuery,
  TrackSchema,
  UpdatePlaylistBody,
} from './playlists.schemas.js';
import { type PlaylistService, TRACK_PAGE_LIMIT } from './playlists.service.js';

export interface PlaylistRouteOptions {
  playlists: PlaylistService;
}

const BASE = '/api/v1';
const M3U8_TYPE = 'audio/x-mpegurl';
/** Public playlists are readable without a token; a token lets owners and admins see private ones. */
const optionalBearer = [{}, ...bearerSecurity];
const NoContent = Type.Null();
const tags = ['playlists'];

export const playlistRoutes: FastifyPluginAsyncTypebox<PlaylistRouteOptions> = async (app, { playlists }) => {
  const signedIn = requireRole();
  const read = { preHandler: optionalAuth };

  app.post(
    '/playlists',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'createPlaylist',
        summary: 'Create a playlist',
        description: 'Creates a playlist, public unless isPublic is false.',
        security: bearerSecurity,
        body: CreatePlaylistBody,
        response: { 201: PlaylistSchema, ...problems(401, 403, 415) },
      },
    },
    async (request, reply) => {
      const playlist = await playlists.create(request.user!, request.body);
      return reply.code(201).header('location', `${BASE}/playlists/${playlist.id}`).send(playlist);
    },
  );

  app.post(
    '/playlists/import',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'importPlaylist',
        summary: 'Import a playlist from M3U/M3U8 or JSON',
        description:
          'Creates a playlist from an M3U/M3U8 file or a JSON track list, matching the catalog. ' +
          'Artist and title are matched case- and accent-insensitively against songs everyone may see. ' +
          'M3U entries are read from `#EXTINF:seconds,Artist - Title` or from the file name.',
        security: bearerSecurity,
        body: ImportBody,
        response: { 201: ImportResultSchema, ...problems(401, 403, 413, 415) },
      },
    },
    async (request, reply) => {
      const result = await playlists.importPlaylist(request.user!, request.body);
      return reply.code(201).header('location', `${BASE}/playlists/${result.playlist.id}`).send(result);
    },
  );

  app.get(
    '/playlists/:id',
    {
      ...read,
      schema: {
        tags,
        operationId: 'getPlaylist',
        summary: 'A playlist with its first 100 tracks',
        description:
          'Private playlists are visible only to their owner and admins. trackCount counts every track; page through them with GET /playlists/{id}/tracks.',
        security: optionalBearer,
        params: IdParams,
        response: { 200: PlaylistDetailSchema, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const playlist = await playlists.get(request.user, request.params.id);
      setReadCaching(request, reply);
      return playlist;
    },
  );

  app.get(
    '/playlists/:id/tracks',
    {
      ...read,
      schema: {
        tags,
        operationId: 'listPlaylistTracks',
        summary: "List a playlist's tracks",
        description: 'A page of the tracks, in playlist order (positions start at 0).',
        security: optionalBearer,
        params: IdParams,
        querystring: TrackPageQuery,
        response: { 200: pageOf(TrackSchema), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { limit = TRACK_PAGE_LIMIT, offset = 0 } = request.query;
      const { items, total } = await playlists.tracks(request.user, request.params.id, { limit, offset });
      setReadCaching(request, reply);
      return toPage(request, items, total, limit, offset);
    },
  );

  app.patch(
    '/playlists/:id',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'updatePlaylist',
        summary: 'Update a playlist',
        description: 'Renames, describes, makes public or private (owner or administrators).',
        security: bearerSecurity,
        params: IdParams,
        body: UpdatePlaylistBody,
        response: { 200: PlaylistSchema, ...problems(401, 403, 404, 415) },
      },
    },
    (request) => playlists.update(request.user!, request.params.id, request.body),
  );

  app.delete(
    '/playlists/:id',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'deletePlaylist',
        summary: 'Delete a playlist',
        description: 'Deletes a playlist (owner or administrators).',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await playlists.remove(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/playlists',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'listMyPlaylists',
        summary: 'List my playlists',
        description: "The caller's playlists, private ones included, newest first.",
        security: bearerSecurity,
        querystring: PlaylistPageQuery,
        response: { 200: pageOf(PlaylistSchema), ...problems(401, 403) },
      },
    },
    async (request) => {
      const { limit = 20, offset = 0 } = request.query;
      const { items, total } = await playlists.listMine(request.user!, { limit, offset });
      return toPage(request, items, total, limit, offset);
    },
  );

  app.get(
    '/users/:id/playlists',
    {
      ...read,
      schema: {
        tags,
        operationId: 'listUserPlaylists',
        summary: "List a user's playlists",
        description: "A user's public playlists, newest first.",
        security: optionalBearer,
        params: IdParams,
        querystring: PlaylistPageQuery,
        response: { 200: pageOf(PlaylistSchema), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { limit = 20, offset = 0 } = request.query;
      const { items, total } = await playlists.listByUser(request.params.id, { limit, offset });
      setReadCaching(request, reply);
      return toPage(request, items, total, limit, offset);
    },
  );

  // ---------------------------------------------------------------- tracks (owner only)
  const trackEdit = (operationId: string, summary: string, description: string) => ({
    operationId,
    tags,
    summary,
    description,
    security: bearerSecurity,
    params: IdParams,
    response: { 200: PlaylistSchema, ...problems(401, 403, 404, 409, 415) },
  });

  app.post(
    '/playlists/:id/tracks',
    {
      preHandler: signedIn,
      schema: {
        ...trackEdit(
          'addPlaylistTracks',
          'Add tracks to a playlist',
          'Adds songs at the end or at a position (all or nothing; at most 10,000 tracks).',
        ),
        body: AddTracksBody,
      },
    },
    (request) => playlists.addTracks(request.user!, request.params.id, request.body),
  );

  app.delete(
    '/playlists/:id/tracks',
    {
      preHandler: signedIn,
      schema: {
        ...trackEdit(
          'removePlaylistTracks',
          'Remove tracks from a playlist',
          'Removes the tracks at these positions.',
        ),
        body: RemoveTracksBody,
      },
    },
    (request) => playlists.removeTracks(request.user!, request.params.id, request.body.positions),
  );

  app.put(
    '/playlists/:id/tracks/order',
    {
      preHandler: signedIn,
      schema: {
        ...trackEdit(
          'reorderPlaylistTracks',
          'Reorder a playlist',
          'Moves rangeLength tracks from rangeStart to before insertBefore (as Spotify).',
        ),
        body: ReorderTracksBody,
      },
    },
    (request) => playlists.reorderTracks(request.user!, request.params.id, request.body),
  );

  app.get(
    '/playlists/:id/export',
    {
      ...read,
      schema: {
        tags,
        operationId: 'exportPlaylist',
        summary: 'Export a playlist',
        description: 'Exports the tracks as an M3U8 file or a JSON track list.',
        security: optionalBearer,
        params: IdParams,
        querystring: ExportQuery,
        response: {
          200: {
            description: 'format=m3u8: an extended M3U file; format=json: the track list',
            content: {
              [M3U8_TYPE]: { schema: Type.String() },
              'application/json': { schema: TrackListSchema },
            },
          },
          ...problems(401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const exported = await playlists.exportPlaylist(request.user, request.params.id, request.query.format);
      setReadCaching(request, reply);
      // A stream: Fastify pipes it out and skips the serialiser the schema types `send` for.
      const body = exported.body as never;
      if (exported.format === 'json') return reply.type('application/json; charset=utf-8').send(body);
      return reply.type(M3U8_TYPE).header('content-disposition', exported.disposition).send(body);
    },
  );

  // ---------------------------------------------------------------- following
  app.put(
    '/me/following/playlists/:id',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'followPlaylist',
        summary: 'Follow a playlist',
        description: 'Follows a playlist (idempotent).',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await playlists.follow(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/me/following/playlists/:id',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'unfollowPlaylist',
        summary: 'Unfollow a playlist',
        description: 'Stops following a playlist (idempotent).',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await playlists.unfollow(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/following/playlists',
    {
      preHandler: signedIn,
      schema: {
        tags,
        operationId: 'listFollowedPlaylists',
        summary: 'List followed playlists',
        description: 'Playlists the caller follows, newest follow first.',
        security: bearerSecurity,
        querystring: PlaylistPageQuery,
        response: { 200: pageOf(PlaylistSchema), ...problems(401, 403) },
      },
    },
    async (request) => {
      const { limit = 20, offset = 0 } = request.query;
      const { items, total } = await playlists.listFollowed(request.user!, { limit, offset });
      return toPage(request, items, total, limit, offset);
    },
  );
};
