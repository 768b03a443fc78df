import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { type AuthUser, bearerSecurity, optionalAuth, requireRole } from '../../platform/auth.js';
import {
  encodedPage,
  IdParams,
  pageOf,
  problems,
  replyCachedPage,
  replyFromCache,
  replyJson,
  serializerOf,
  setReadCaching,
  toPage,
} from '../../platform/http.js';
import { UPLOAD_MARK } from '../../platform/validation.js';
import {
  AlbumDetailSchema,
  AlbumSchema,
  AlbumSongsQuery,
  AlbumsQuery,
  ArtistAlbumsQuery,
  ArtistSchema,
  ArtistsQuery,
  CreateAlbumBody,
  CreateArtistBody,
  CreateSongBody,
  PlaylistSummarySchema,
  SEARCH_TYPES,
  SearchQuery,
  SearchResultSchema,
  type SearchType,
  SongSchema,
  SongsQuery,
  UpdateAlbumBody,
  UpdateArtistBody,
  UpdateSongBody,
} from './catalog.schemas.js';
import type { CatalogService, SearchEncoders } from './catalog.service.js';
import type { SongView } from './catalog.views.js';

/** The search answer's pages, in the order of its schema's properties. */
const SEARCH_PAGES = ['albums', 'artists', 'songs', 'playlists'] as const;

/** The serializers of the search result's item schemas. */
const searchEncoders = (reply: FastifyReply): SearchEncoders => ({
  album: serializerOf(reply, AlbumSchema),
  artist: serializerOf(reply, ArtistSchema),
  song: serializerOf(reply, SongSchema),
  playlist: serializerOf(reply, PlaylistSummarySchema),
});

export interface CatalogRouteOptions {
  catalog: CatalogService;
  /** Multipart `POST /albums/:id/songs` (the media module): reads the form, makes the song. */
  songFromFile?: (request: FastifyRequest, caller: AuthUser, albumId: string) => Promise<SongView>;
}

/** What the form of a song upload holds, for the API document (the media module reads it). */
const SongFileForm = Type.Unsafe<unknown>({
  type: 'object',
  properties: {
    file: { type: 'string', format: 'binary' },
    title: { type: 'string' },
    durationMs: { type: 'integer' },
    trackNumber: { type: 'integer' },
    genre: { type: 'string' },
    explicit: { type: 'boolean' },
  },
  required: ['file'],
  [UPLOAD_MARK]: true,
});

const BASE = '/api/v1';
/** Reads are public; a Bearer token (optional) personalises what the caller may see. */
const optionalBearer = [{}, ...bearerSecurity];
const NoContent = Type.Null();

export const catalogRoutes: FastifyPluginAsyncTypebox<CatalogRouteOptions> = async (app, opts) => {
  const { catalog } = opts;
  const publisher = requireRole('admin', 'artist');
  const adminOnly = requireRole('admin');
  const read = { preHandler: optionalAuth };

  // ---------------------------------------------------------------- artists
  app.get(
    '/artists',
    {
      ...read,
      schema: {
        tags: ['artists'],
        operationId: 'listArtists',
        summary: 'List artists',
        description:
          'A page of artists: q tolerates typos, genre is repeatable, administrators may pass visibility.',
        security: optionalBearer,
        querystring: ArtistsQuery,
        response: { 200: pageOf(ArtistSchema), ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      const { limit = 20, offset = 0, ...query } = request.query;
      const { items, total } = await catalog.listArtists(request.user, { ...query, limit, offset });
      setReadCaching(request, reply);
      return toPage(request, items, total, limit, offset);
    },
  );

  app.get(
    '/artists/:id',
    {
      ...read,
      schema: {
        tags: ['artists'],
        operationId: 'getArtist',
        summary: 'Get an artist',
        description: 'An artist the caller may see.',
        security: optionalBearer,
        params: IdParams,
        response: { 200: ArtistSchema, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const artist = await catalog.getArtist(request.user, request.params.id);
      setReadCaching(request, reply);
      return artist;
    },
  );

  app.get(
    '/artists/:id/albums',
    {
      ...read,
      schema: {
        tags: ['artists'],
        operationId: 'listArtistAlbums',
        summary: "List an artist's albums",
        description: "A page of the artist's albums the caller may see.",
        security: optionalBearer,
        params: IdParams,
        querystring: ArtistAlbumsQuery,
        response: { 200: pageOf(AlbumSchema), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { limit = 20, offset = 0, ...query } = request.query;
      const list = await catalog.listArtistAlbums(request.user, request.params.id, {
        ...query,
        limit,
        offset,
      });
      setReadCaching(request, reply);
      return replyCachedPage(request, reply, list, AlbumSchema, limit, offset);
    },
  );

  app.post(
    '/artists',
    {
      preHandler: adminOnly,
      schema: {
        tags: ['artists'],
        operationId: 'createArtist',
        summary: 'Create an artist',
        description:
          'Creates an artist (administrators); names are unique case-insensitively (409 ARTIST_NAME_TAKEN).',
        security: bearerSecurity,
        body: CreateArtistBody,
        response: { 201: ArtistSchema, ...problems(401, 403, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const artist = await catalog.createArtist(request.user!, request.body);
      return reply.code(201).header('location', `${BASE}/artists/${artist.id}`).send(artist);
    },
  );

  app.patch(
    '/artists/:id',
    {
      preHandler: publisher,
      schema: {
        tags: ['artists'],
        operationId: 'updateArtist',
        summary: 'Update an artist',
        description:
          'Changes an artist (administrators; an artist account its own profile, but not isVisible).',
        security: bearerSecurity,
        params: IdParams,
        body: UpdateArtistBody,
        response: { 200: ArtistSchema, ...problems(401, 403, 404, 409, 413, 415) },
      },
    },
    (request) => catalog.updateArtist(request.user!, request.params.id, request.body),
  );

  app.delete(
    '/artists/:id',
    {
      preHandler: adminOnly,
      schema: {
        tags: ['artists'],
        operationId: 'deleteArtist',
        summary: 'Delete an artist',
        description: 'Deletes an artist that has no albums (administrators).',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await catalog.deleteArtist(request.params.id);
      return reply.code(204).send(null);
    },
  );

  // ---------------------------------------------------------------- albums
  app.get(
    '/albums',
    {
      ...read,
      schema: {
        tags: ['albums'],
        operationId: 'listAlbums',
        summary: 'List albums',
        description: 'Browse albums with filters, sorting and pages (cached per normalised query).',
        security: optionalBearer,
        querystring: AlbumsQuery,
        response: { 200: pageOf(AlbumSchema), ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      const { limit = 20, offset = 0, ...query } = request.query;
      const list = await catalog.listAlbums(request.user, { ...query, limit, offset });
      setReadCaching(request, reply);
      // Its 200 is the cached list and the URL, nothing else: anonymous repeats may be replayed.
      return replyCachedPage(request, reply, list, AlbumSchema, limit, offset, !request.user);
    },
  );

  app.get(
    '/albums/:id',
    {
      ...read,
      schema: {
        tags: ['albums'],
        operationId: 'getAlbum',
        summary: 'Get an album',
        description: 'An album with its songs in track order.',
        security: optionalBearer,
        params: IdParams,
        response: { 200: AlbumDetailSchema, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const album = await catalog.getAlbum(request.user, request.params.id);
      setReadCaching(request, reply);
      // Signed-in callers get `followedByMe`: built for them, so serialised for them.
      // Anonymous: the cached record and the URL, nothing else, so repeats may be replayed.
      return request.user
        ? album
        : replyFromCache(request, reply, album, () => reply.serialize(album) as string, true);
    },
  );

  app.post(
    '/albums',
    {
      preHandler: publisher,
      schema: {
        tags: ['albums'],
        operationId: 'createAlbum',
        summary: 'Create an album',
        description:
          'Creates an album under artistId or artistName (administrators; artists for themselves).',
        security: bearerSecurity,
        body: CreateAlbumBody,
        response: { 201: AlbumSchema, ...problems(401, 403, 413, 415) },
      },
    },
    async (request, reply) => {
      const album = await catalog.createAlbum(request.user!, request.body);
      return reply.code(201).header('location', `${BASE}/albums/${album.id}`).send(album);
    },
  );

  app.patch(
    '/albums/:id',
    {
      preHandler: publisher,
      schema: {
        tags: ['albums'],
        operationId: 'updateAlbum',
        summary: 'Update an album',
        description: 'Changes an album (administrators; artists their own, but not isVisible).',
        security: bearerSecurity,
        params: IdParams,
        body: UpdateAlbumBody,
        response: { 200: AlbumSchema, ...problems(401, 403, 404, 413, 415) },
      },
    },
    (request) => catalog.updateAlbum(request.user!, request.params.id, request.body),
  );

  app.delete(
    '/albums/:id',
    {
      preHandler: publisher,
      schema: {
        tags: ['albums'],
        operationId: 'deleteAlbum',
        summary: 'Delete an album',
        description: 'Deletes an album and its songs.',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await catalog.deleteAlbum(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/albums/:id/songs',
    {
      ...read,
      schema: {
        tags: ['albums'],
        operationId: 'listAlbumSongs',
        summary: "List an album's songs",
        description: "A page of the album's songs in track order.",
        security: optionalBearer,
        params: IdParams,
        querystring: AlbumSongsQuery,
        response: { 200: pageOf(SongSchema), ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { limit = 20, offset = 0 } = request.query;
      const { items, total } = await catalog.listAlbumSongs(request.user, request.params.id, {
        limit,
        offset,
      });
      setReadCaching(request, reply);
      return toPage(request, items, total, limit, offset);
    },
  );

  // A child context, so only this route (and not every JSON route) accepts a form upload.
  await app.register(async (context) => {
    const songs = context.withTypeProvider<TypeBoxTypeProvider>();
    if (opts.songFromFile) await songs.register(multipart);
    songs.post(
      '/albums/:id/songs',
      {
        // No route bodyLimit: it would let JSON bodies up to the upload limit be buffered and parsed.
        // A form's file is bounded by UPLOAD_MAX_BYTES where it is streamed to disk.
        preHandler: publisher,
        schema: {
          tags: ['songs'],
          operationId: 'createAlbumSong',
          summary: 'Add a song to an album',
          description:
            "Appended unless trackNumber is given. JSON with the fields, or a multipart form with the audio in a part named file and the same fields as text: title, durationMs and trackNumber then default to the file's tags and duration.",
          security: bearerSecurity,
          params: IdParams,
          body: {
            content: {
              'application/json': { schema: CreateSongBody },
              ...(opts.songFromFile ? { 'multipart/form-data': { schema: SongFileForm } } : {}),
            },
          },
          response: { 201: SongSchema, ...problems(400, 401, 403, 404, 409, 413, 415) },
        },
      },
      async (request, reply) => {
        const caller = request.user as AuthUser;
        const song =
          opts.songFromFile && request.isMultipart()
            ? await opts.songFromFile(request, caller, request.params.id)
            : await catalog.addSong(caller, request.params.id, request.body as Static<typeof CreateSongBody>);
        return reply.code(201).header('location', `${BASE}/songs/${song.id}`).send(song);
      },
    );
  });

  // ---------------------------------------------------------------- songs
  app.get(
    '/songs',
    {
      ...read,
      schema: {
        tags: ['songs'],
        operationId: 'listSongs',
        summary: 'List songs',
        description: 'Browse songs with filters, sorting and pages, or look up to 50 by ids.',
        security: optionalBearer,
        querystring: SongsQuery,
        response: { 200: pageOf(SongSchema), ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      const { limit = 20, offset = 0, ids, ...query } = request.query;
      if (ids !== undefined) {
        // The names the caller sent (the parsed query also holds the page defaults).
        const sent = [...new URLSearchParams(request.url.split('?')[1] ?? '').keys()];
        const items = await catalog.getSongsByIds(request.user, ids, sent);
        setReadCaching(request, reply);
        return toPage(request, items, items.length, Math.max(items.length, 1), 0);
      }
      const { items, total } = await catalog.listSongs(request.user, { ...query, limit, offset });
      setReadCaching(request, reply);
      return toPage(request, items, total, limit, offset);
    },
  );

  app.get(
    '/songs/:id',
    {
      ...read,
      schema: {
        tags: ['songs'],
        operationId: 'getSong',
        summary: 'Get a song',
        description: 'A song the caller may see.',
        security: optionalBearer,
        params: IdParams,
        response: { 200: SongSchema, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const song = await catalog.getSong(request.user, request.params.id);
      setReadCaching(request, reply);
      return song;
    },
  );

  app.patch(
    '/songs/:id',
    {
      preHandler: publisher,
      schema: {
        tags: ['songs'],
        operationId: 'updateSong',
        summary: 'Update a song',
        description: 'Changes a song (administrators; artists their own).',
        security: bearerSecurity,
        params: IdParams,
        body: UpdateSongBody,
        response: { 200: SongSchema, ...problems(401, 403, 404, 409, 413, 415) },
      },
    },
    (request) => catalog.updateSong(request.user!, request.params.id, request.body),
  );

  app.delete(
    '/songs/:id',
    {
      preHandler: publisher,
      schema: {
        tags: ['songs'],
        operationId: 'deleteSong',
        summary: 'Delete a song',
        description: 'Deletes a song; its audio files go when nothing else plays them.',
        security: bearerSecurity,
        params: IdParams,
        response: { 204: NoContent, ...problems(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await catalog.deleteSong(request.user!, request.params.id);
      return reply.code(204).send(null);
    },
  );

  // ---------------------------------------------------------------- search
  app.get(
    '/search',
    {
      ...read,
      schema: {
        tags: ['search'],
        operationId: 'search',
        summary: 'Search the catalog',
        description:
          'Searches albums, artists, songs and public playlists; one relevance-ordered page per type.',
        security: optionalBearer,
        querystring: SearchQuery,
        response: { 200: SearchResultSchema, ...problems(401, 403) },
      },
    },
    async (request, reply) => {
      const { q, type, limit = 20, offset = 0 } = request.query;
      const types = type ? (type.split(',') as SearchType[]) : [...SEARCH_TYPES];
      // Each item comes as the JSON its schema's serializer writes (a search's rows are kept so):
      // the answer is those joined, as the result schema's serializer would join them.
      const found = await catalog.searchEncoded(
        request.user,
        { q, types, limit, offset },
        searchEncoders(reply),
      );
      setReadCaching(request, reply);
      const pages = SEARCH_PAGES.flatMap((name) => {
        const page = found[name];
        return page ? [`"${name}":${encodedPage(request, page.items, page.total, limit, offset)}`] : [];
      });
      return replyJson(reply, `{${pages.join(',')}}`);
    },
  );
};
