import { Type } from 'typebox';
import {
  Id,
  ImagesSchema,
  Nullable,
  NullableInput,
  PageQuery,
  pageOf,
  sortParam,
  Timestamp,
} from '../../platform/http.js';
import { exampleBody, nameSchemas } from '../../platform/openapi.js';
import { ALBUM_SORTS, ARTIST_SORTS, SONG_SORTS } from './catalog.repo.js';
import { ALBUM_TYPES } from './catalog.tables.js';

/** A name or title: not blank, bounded. */
/** PostgreSQL text cannot hold NUL: refuse it here as a 400 rather than fail in the database. */
const NO_NUL = '^[^\\u0000]*$';
/** Not blank, no NUL. */
const TEXT = '^(?=[\\s\\S]*\\S)[^\\u0000]*$';
const Text = (maxLength: number, description?: string) =>
  Type.String({ minLength: 1, maxLength, pattern: TEXT, ...(description ? { description } : {}) });
const Title = Text(200);
const Genre = Text(64);
const Url = Type.String({ format: 'uri', maxLength: 2048, pattern: '^https?://' });
const MIN_YEAR = 1900;
const MAX_YEAR = 2100;
const Year = Type.Integer({ minimum: MIN_YEAR, maximum: MAX_YEAR });
/** Up to one hour a song, so an album of MAX_SONGS_PER_ALBUM never overflows its total. */
const DurationMs = Type.Integer({ minimum: 1, maximum: 3_600_000 });
const TrackNumber = (description?: string) =>
  Type.Integer({ minimum: 1, maximum: 999, ...(description ? { description } : {}) });
const Query = (description?: string) => Text(200, description);
const Genres = Type.Array(Genre, { maxItems: 20, description: 'repeat to match any of several' });
const Visibility = Type.Optional(
  Type.Enum(['all', 'hidden'], {
    description: 'admins only: all content, or only what users cannot see (not public or not visible)',
  }),
);
const AdminOnlyVisible = Type.Boolean({ description: "the admin's switch; admins only" });
const OwnerPublic = Type.Boolean({ description: "the owner's switch; default true" });
const AlbumTypeSchema = Type.Enum(ALBUM_TYPES, {
  description: 'a song released on its own is a single; default album',
});
/** At most this many ids in one `GET /songs?ids=` lookup (as Spotify's several-tracks call). */
export const MAX_SONG_IDS = 50;

const ArtistRef = Type.Object({ id: Id, name: Type.String() });
const AlbumRef = Type.Object({ id: Id, title: Type.String() });

export const ArtistSchema = Type.Object({
  id: Id,
  name: Type.String(),
  bio: Nullable(Type.String()),
  imageUrl: Nullable(Type.String()),
  images: ImagesSchema,
  genres: Type.Array(Type.String()),
  albumCount: Type.Integer({ description: 'albums everyone may see' }),
  followerCount: Type.Integer(),
  createdAt: Timestamp,
  isVisible: Type.Optional(Type.Boolean({ description: 'admins only' })),
});

const Quality = Type.Enum(['low', 'medium', 'high', 'original']);

/** A song's audio: `none` until a file is uploaded, then `processing`, then `ready` or `failed`. */
export const AudioSchema = Type.Object({
  status: Type.Enum(['none', 'processing', 'ready', 'failed']),
  durationMs: Type.Optional(Type.Integer({ description: 'measured from the file (ready)' })),
  source: Type.Optional(
    Type.Object({
      format: Type.String({ description: 'container, e.g. flac, mp3, ogg, wav' }),
      codec: Type.String(),
      bitrateKbps: Type.Integer(),
      sampleRate: Type.Integer(),
      channels: Type.Integer(),
      bytes: Type.Integer(),
    }),
  ),
  qualities: Type.Optional(
    Type.Array(Quality, { description: 'what `GET /songs/:id/stream?quality=` serves' }),
  ),
  loudness: Type.Optional(
    Type.Object({
      integratedLufs: Type.Number(),
      truePeakDb: Type.Number(),
      trackGainDb: Type.Number({ description: 'gain that brings the track to -18 LUFS' }),
    }),
  ),
  error: Type.Optional(Type.String({ description: 'failed: a stable code' })),
});

export const SongSchema = Type.Object({
  id: Id,
  title: Type.String(),
  album: AlbumRef,
  artist: ArtistRef,
  trackNumber: Type.Integer(),
  durationMs: Type.Integer(),
  genre: Type.String(),
  explicit: Type.Boolean(),
  playCount: Type.Integer(),
  audio: AudioSchema,
  isPublic: Type.Boolean({ description: "the owner's switch" }),
  isVisible: Type.Optional(Type.Boolean({ description: 'admins only' })),
  createdAt: Timestamp,
});

const albumFields = {
  id: Id,
  title: Type.String(),
  artist: ArtistRef,
  genre: Type.String(),
  releaseYear: Type.Integer(),
  releaseDate: Nullable(Type.String({ format: 'date' })),
  albumType: AlbumTypeSchema,
  coverUrl: Nullable(Type.String()),
  images: ImagesSchema,
  label: Nullable(Type.String()),
  isPublic: Type.Boolean(),
  isVisible: Type.Optional(Type.Boolean({ description: 'admins only' })),
  publishAt: Nullable(Type.String({ format: 'date-time' }), {
    description: 'scheduled release: until then only the owner and admins see the album',
  }),
  songCount: Type.Integer(),
  durationMs: Type.Integer(),
  followerCount: Type.Integer(),
  popularity: Type.Integer({
    minimum: 0,
    maximum: 100,
    description: 'From followers and the plays of the last 30 days; falls again as plays age',
  }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};
export const AlbumSchema = Type.Object(albumFields);
export const AlbumDetailSchema = Type.Object({
  ...albumFields,
  songs: Type.Array(SongSchema, { description: 'in track order' }),
  followedByMe: Type.Optional(Type.Boolean({ description: 'only when the caller is signed in' })),
});

/** The Playlist shape of API.md, as search returns it (the playlists module fills it). */
export const PlaylistSummarySchema = Type.Object({
  id: Id,
  name: Type.String(),
  description: Nullable(Type.String()),
  owner: Type.Object({ id: Id, displayName: Type.String() }),
  isPublic: Type.Boolean(),
  trackCount: Type.Integer(),
  durationMs: Type.Integer(),
  followerCount: Type.Integer(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

// ---------------------------------------------------------------------------------------------
// Requests

export const ArtistsQuery = Type.Object(
  {
    q: Type.Optional(Query('artist name; tolerates typos')),
    genre: Type.Optional(Genres),
    sort: sortParam(ARTIST_SORTS),
    visibility: Visibility,
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const CreateArtistBody = Type.Object(
  {
    name: Title,
    bio: Type.Optional(NullableInput(Type.String({ maxLength: 5000, pattern: NO_NUL }))),
    imageUrl: Type.Optional(NullableInput(Url)),
    genres: Type.Optional(Type.Array(Genre, { maxItems: 10 })),
  },
  { additionalProperties: false },
);

export const UpdateArtistBody = Type.Object(
  { ...CreateArtistBody.properties, name: Type.Optional(Title), isVisible: Type.Optional(AdminOnlyVisible) },
  { additionalProperties: false, minProperties: 1 },
);

const albumSortAndPage = { sort: sortParam(ALBUM_SORTS), ...PageQuery };

export const ArtistAlbumsQuery = Type.Object(
  { ...albumSortAndPage, visibility: Visibility },
  { additionalProperties: false },
);

export const AlbumsQuery = Type.Object(
  {
    genre: Type.Optional(Genres),
    artistId: Type.Optional(Id),
    artist: Type.Optional(Text(200, 'whole artist name')),
    year: Type.Optional(Year),
    yearFrom: Type.Optional(Year),
    yearTo: Type.Optional(Year),
    type: Type.Optional(
      Type.Array(AlbumTypeSchema, {
        maxItems: ALBUM_TYPES.length,
        description: 'repeat to match any of several',
      }),
    ),
    q: Type.Optional(Query('album title or artist name; tolerates typos')),
    visibility: Visibility,
    ...albumSortAndPage,
  },
  { additionalProperties: false },
);

const albumEditable = {
  title: Title,
  genre: Genre,
  releaseYear: Year,
  releaseDate: Type.Optional(NullableInput(Type.String({ format: 'date' }))),
  albumType: Type.Optional(AlbumTypeSchema),
  label: Type.Optional(NullableInput(Text(200))),
  coverUrl: Type.Optional(NullableInput(Url)),
  isPublic: Type.Optional(OwnerPublic),
  isVisible: Type.Optional(AdminOnlyVisible),
  publishAt: Type.Optional(
    NullableInput(
      Type.String({
        format: 'date-time',
        // Years the database and every client can hold; a past time releases at once anyway.
        pattern: '^(19|20)\\d\\d-',
        description:
          'schedule the release (owner or admin): hidden from users until then, when followers are notified; null or a past time releases at once; a released album cannot be rescheduled (409)',
      }),
    ),
  ),
};

export const CreateAlbumBody = Type.Object(
  {
    ...albumEditable,
    artistId: Type.Optional(Id),
    artistName: Type.Optional(
      Text(200, 'links the artist of this name (case-insensitive) or creates it; not with artistId'),
    ),
  },
  { additionalProperties: false },
);

export const UpdateAlbumBody = Type.Object(
  {
    ...albumEditable,
    title: Type.Optional(Title),
    genre: Type.Optional(Genre),
    releaseYear: Type.Optional(Year),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const AlbumSongsQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const CreateSongBody = Type.Object(
  {
    title: Title,
    durationMs: DurationMs,
    trackNumber: Type.Optional(TrackNumber('default: after the last track')),
    genre: Type.Optional(Text(64, "default: the album's genre")),
    explicit: Type.Optional(Type.Boolean({ description: 'default false' })),
    isPublic: Type.Optional(OwnerPublic),
    isVisible: Type.Optional(AdminOnlyVisible),
  },
  { additionalProperties: false },
);

export const UpdateSongBody = Type.Object(
  {
    title: Type.Optional(Title),
    durationMs: Type.Optional(DurationMs),
    trackNumber: Type.Optional(TrackNumber()),
    genre: Type.Optional(Genre),
    explicit: Type.Optional(Type.Boolean()),
    isPublic: Type.Optional(OwnerPublic),
    isVisible: Type.Optional(AdminOnlyVisible),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const SongsQuery = Type.Object(
  {
    ids: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: MAX_SONG_IDS * 37,
        description: `comma-separated song ids (at most ${MAX_SONG_IDS}): those the caller may see, in the order asked; not combined with other parameters`,
      }),
    ),
    albumId: Type.Optional(Id),
    artistId: Type.Optional(Id),
    artist: Type.Optional(Text(200, 'whole artist name')),
    genre: Type.Optional(Genres),
    year: Type.Optional(Year),
    yearFrom: Type.Optional(Year),
    yearTo: Type.Optional(Year),
    q: Type.Optional(Query('song title or artist name; tolerates typos')),
    sort: sortParam(SONG_SORTS),
    visibility: Visibility,
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const SEARCH_TYPES = ['album', 'artist', 'song', 'playlist'] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

export const SearchQuery = Type.Object(
  {
    q: Query('album title, artist name or song title; tolerates typos'),
    type: Type.Optional(
      Type.String({
        pattern: `^(${SEARCH_TYPES.join('|')})(,(${SEARCH_TYPES.join('|')}))*$`,
        maxLength: 100,
        description: `comma-separated, any of ${SEARCH_TYPES.join(', ')}; default all`,
      }),
    ),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const SearchResultSchema = Type.Object({
  albums: Type.Optional(pageOf(AlbumSchema)),
  artists: Type.Optional(pageOf(ArtistSchema)),
  songs: Type.Optional(pageOf(SongSchema)),
  playlists: Type.Optional(pageOf(PlaylistSummarySchema)),
});

const ARTIST_REF = { id: '01939a4e-5b7c-7d3e-8f10-2a3b4c5d6e7f', name: 'The Midnight Owls' };
const ALBUM_EXAMPLE = {
  id: '01939a4e-6c8d-7e4f-9a21-3b4c5d6e7f80',
  title: 'Night Drive',
  artist: ARTIST_REF,
  genre: 'Synthwave',
  releaseYear: 2024,
  releaseDate: '2024-03-15',
  albumType: 'album',
  coverUrl: '/media/images/4f1c2a9e-640.webp',
  images: [{ url: '/media/images/4f1c2a9e-640.webp', width: 640, height: 640 }],
  label: 'Neon Records',
  isPublic: true,
  publishAt: null,
  songCount: 10,
  durationMs: 2_520_000,
  followerCount: 42,
  popularity: 57,
  createdAt: '2024-03-01T10:00:00.000Z',
  updatedAt: '2024-03-15T09:30:00.000Z',
};
const SONG_EXAMPLE = {
  id: '01939a4e-7d9e-7f50-8b32-4c5d6e7f8091',
  title: 'Neon Highway',
  album: { id: ALBUM_EXAMPLE.id, title: ALBUM_EXAMPLE.title },
  artist: ARTIST_REF,
  trackNumber: 1,
  durationMs: 245_000,
  genre: 'Synthwave',
  explicit: false,
  playCount: 1_204,
  audio: { status: 'ready', durationMs: 245_012, qualities: ['low', 'medium', 'high', 'original'] },
  isPublic: true,
  createdAt: '2024-03-01T10:05:00.000Z',
};

nameSchemas({
  Artist: {
    schema: ArtistSchema,
    example: {
      ...ARTIST_REF,
      bio: 'Synthwave duo from Leeds.',
      imageUrl: '/media/images/8a2b3c4d-640.webp',
      images: [{ url: '/media/images/4f1c2a9e-640.webp', width: 640, height: 640 }],
      genres: ['Synthwave', 'Electronic'],
      albumCount: 3,
      followerCount: 128,
      createdAt: '2024-01-10T12:00:00.000Z',
    },
  },
  Album: { schema: AlbumSchema, example: ALBUM_EXAMPLE },
  AlbumDetail: {
    schema: AlbumDetailSchema,
    example: { ...ALBUM_EXAMPLE, songs: [SONG_EXAMPLE], followedByMe: true },
  },
  Song: { schema: SongSchema, example: SONG_EXAMPLE },
  Audio: AudioSchema,
  Playlist: {
    schema: PlaylistSummarySchema,
    example: {
      id: '01939a4e-8eaf-7061-9c43-5d6e7f8091a2',
      name: 'Late night drives',
      description: 'Synthwave for empty roads',
      owner: { id: '01939a4e-9fb0-7172-8d54-6e7f8091a2b3', displayName: 'Alex' },
      isPublic: true,
      trackCount: 24,
      durationMs: 5_880_000,
      followerCount: 7,
      createdAt: '2024-04-02T20:00:00.000Z',
      updatedAt: '2024-04-05T21:15:00.000Z',
    },
  },
  SearchResult: SearchResultSchema,
  ArtistRef,
  AlbumRef,
});

exampleBody(CreateArtistBody, {
  name: 'The Midnight Owls',
  bio: 'Synthwave duo from Leeds.',
  genres: ['Synthwave', 'Electronic'],
});
exampleBody(CreateAlbumBody, {
  title: 'Night Drive',
  genre: 'Synthwave',
  releaseYear: 2024,
  releaseDate: '2024-03-15',
  albumType: 'album',
  label: 'Neon Records',
  artistId: ARTIST_REF.id,
});
exampleBody(UpdateAlbumBody, { title: 'Night Drive (Deluxe)', label: null });
