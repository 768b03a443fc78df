import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { bearerSecurity, optionalAuth, requireRole } from '../../platform/auth.js';
import { IdParams, problems, setReadCaching } from '../../platform/http.js';
import {
  ArtistTimeline,
  GenreStatsList,
  LimitQuery,
  NoQuery,
  PlayBody,
  RecentlyPlayedPage,
  RecentlyPlayedQuery,
  RecommendationList,
  TopAlbumsList,
  TopAlbumsQuery,
  TrendingList,
  TrendingQuery,
} from './discovery.schemas.js';
import type { DiscoveryService } from './discovery.service.js';

export interface DiscoveryRouteOptions {
  discovery: DiscoveryService;
}

/** Public reads; a Bearer token (optional) personalises them. */
const optionalBearer = [{}, ...bearerSecurity];

export const discoveryRoutes: FastifyPluginAsyncTypebox<DiscoveryRouteOptions> = async (
  app,
  { discovery },
) => {
  const signedIn = requireRole();

  app.post(
    '/songs/:id/plays',
    {
      preHandler: signedIn,
      schema: {
        tags: ['listening'],
        operationId: 'recordPlay',
        summary: 'Report a listening event',
        description: 'Reports a listening event (play, complete, skip) for a song.',
        security: bearerSecurity,
        params: IdParams,
        body: PlayBody,
        response: { 202: Type.Null({ description: 'accepted' }), ...problems(401, 403, 404, 413, 415) },
      },
    },
    async (request, reply) => {
      await discovery.recordPlay(request.user!, request.params.id, request.body);
      // No body at all: send(null) would serialise a JSON `null` (the schema types only that).
      return (reply as FastifyReply).code(202).send();
    },
  );

  app.get(
    '/me/recently-played',
    {
      preHandler: signedIn,
      schema: {
        tags: ['listening'],
        operationId: 'listRecentlyPlayed',
        summary: 'List recently played songs',
        description: 'What the signed-in user played, newest first (a cursor feed).',
        security: bearerSecurity,
        querystring: RecentlyPlayedQuery,
        response: { 200: RecentlyPlayedPage, ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      const { limit = 20, cursor } = request.query;
      reply.header('cache-control', 'private, no-cache');
      return discovery.recentlyPlayed(request.user!, { limit, cursor });
    },
  );

  app.get(
    '/songs/trending',
    {
      schema: {
        tags: ['discovery'],
        operationId: 'listTrendingSongs',
        summary: 'List trending songs',
        description: 'The most played songs in the last 24 hours, 7 days or 30 days.',
        querystring: TrendingQuery,
        response: { 200: TrendingList, ...problems() },
      },
    },
    async (request, reply) => {
      const { window = '24h', limit = 20 } = request.query;
      setReadCaching(request, reply);
      return discovery.trending({ window, limit });
    },
  );

  app.get(
    '/me/recommendations',
    {
      preHandler: signedIn,
      schema: {
        tags: ['discovery'],
        operationId: 'listRecommendations',
        summary: 'List recommendations',
        description: 'Songs new to the signed-in user, from what they and listeners like them finish.',
        security: bearerSecurity,
        querystring: LimitQuery,
        response: { 200: RecommendationList, ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'private, no-cache');
      return discovery.recommendations(request.user!, request.query.limit ?? 20);
    },
  );

  app.get(
    '/songs/:id/similar',
    {
      preHandler: optionalAuth,
      schema: {
        tags: ['discovery'],
        operationId: 'listSimilarSongs',
        summary: 'List similar songs',
        description: 'Songs like this one (never the song itself, nor songs the caller skipped).',
        security: optionalBearer,
        params: IdParams,
        querystring: LimitQuery,
        response: { 200: RecommendationList, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      setReadCaching(request, reply);
      return discovery.similar(request.user, request.params.id, request.query.limit ?? 20);
    },
  );

  app.get(
    '/stats/top-albums',
    {
      schema: {
        tags: ['analytics'],
        operationId: 'listTopAlbums',
        summary: 'List top albums',
        description: 'Albums with the most followers, optionally of one genre.',
        querystring: TopAlbumsQuery,
        response: { 200: TopAlbumsList, ...problems() },
      },
    },
    async (request, reply) => {
      setReadCaching(request, reply);
      return discovery.topAlbums({ limit: request.query.limit ?? 20, genre: request.query.genre });
    },
  );

  app.get(
    '/stats/genres',
    {
      schema: {
        tags: ['analytics'],
        operationId: 'listGenreStats',
        summary: 'List genre statistics',
        description: 'Albums and songs per genre (grouped case-insensitively).',
        querystring: NoQuery,
        response: { 200: GenreStatsList, ...problems() },
      },
    },
    async (request, reply) => {
      setReadCaching(request, reply);
      return discovery.genres();
    },
  );

  app.get(
    '/stats/artists/:id/timeline',
    {
      preHandler: optionalAuth,
      schema: {
        tags: ['analytics'],
        operationId: 'getArtistTimeline',
        summary: "Get an artist's timeline",
        description: "An artist's albums per release year, ascending.",
        security: optionalBearer,
        params: IdParams,
        querystring: NoQuery,
        response: { 200: ArtistTimeline, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      setReadCaching(request, reply);
      return discovery.artistTimeline(request.user, request.params.id);
    },
  );
};
