import { Type } from 'typebox';
import { Id, MAX_LIMIT, Nullable, NullableInput, PageQuery, Timestamp } from '../../platform/http.js';
import { exampleBody, nameSchemas } from '../../platform/openapi.js';
import { PlaylistSummarySchema, SongSchema } from '../catalog/index.js';

/** Spotify's limits: names up to 100 characters, descriptions up to 300, 100 tracks per edit. */
const Name = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' });
const Description = NullableInput(Type.String({ maxLength: 300 }));
const MAX_TRACKS_PER_EDIT = 100;
const Position = (description: string) => Type.Integer({ minimum: 0, description });

export const PlaylistSchema = PlaylistSummarySchema;

export const TrackSchema = Type.Object({
  position: Type.Integer({ minimum: 0 }),
  addedAt: Timestamp,
  song: SongSchema,
});

export const PlaylistDetailSchema = Type.Object({
  ...PlaylistSummarySchema.properties,
  tracks: Type.Array(TrackSchema, {
    description:
      'the first 100 tracks in playlist order (positions start at 0); the rest: GET /playlists/{id}/tracks',
  }),
});

/** Spotify's page of playlist items: up to 100 at a time, 100 by default. */
export const TrackPageQuery = Type.Object(
  {
    ...PageQuery,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 100 })),
  },
  { additionalProperties: false },
);

export const CreatePlaylistBody = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    isPublic: Type.Optional(Type.Boolean({ description: 'default true' })),
  },
  { additionalProperties: false },
);

export const UpdatePlaylistBody = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    isPublic: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const PlaylistPageQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const AddTracksBody = Type.Object(
  {
    songIds: Type.Array(Id, {
      minItems: 1,
      maxItems: MAX_TRACKS_PER_EDIT,
      description: 'duplicates allowed; one unknown or hidden song rejects the whole request',
    }),
    position: Type.Optional(Position('insert before the track at this position; default: at the end')),
  },
  { additionalProperties: false },
);

export const RemoveTracksBody = Type.Object(
  {
    positions: Type.Array(Type.Integer({ minimum: 0 }), {
      minItems: 1,
      maxItems: MAX_TRACKS_PER_EDIT,
      uniqueItems: true,
      description: 'positions before the removal',
    }),
  },
  { additionalProperties: false },
);

export const ReorderTracksBody = Type.Object(
  {
    rangeStart: Position('first position of the tracks to move'),
    rangeLength: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'default 1' })),
    insertBefore: Position('position, counted before the move, to put the tracks before'),
  },
  { additionalProperties: false },
);

export const ExportQuery = Type.Object(
  { format: Type.Enum(['m3u8', 'json'], { description: 'M3U8 download or JSON track list' }) },
  { additionalProperties: false },
);

export const TrackListSchema = Type.Object({
  name: Type.String(),
  description: Nullable(Type.String()),
  tracks: Type.Array(
    Type.Object({
      artist: Type.String(),
      title: Type.String(),
      album: Type.String(),
      durationMs: Type.Integer(),
    }),
  ),
});

export const ImportBody = Type.Object(
  {
    name: Name,
    isPublic: Type.Optional(Type.Boolean({ description: 'default true' })),
    format: Type.Enum(['m3u', 'json'], { description: 'm3u covers M3U and M3U8' }),
    content: Type.String({
      minLength: 1,
      maxLength: 1_000_000,
      description: 'the M3U/M3U8 text, or a JSON track list [{artist, title, album?}] (or {tracks: [...]})',
    }),
  },
  { additionalProperties: false },
);

export const ImportResultSchema = Type.Object({
  playlist: PlaylistSchema,
  matched: Type.Array(Type.Object({ line: Type.Integer(), songId: Id })),
  unmatched: Type.Array(Type.Object({ line: Type.Integer(), text: Type.String() }), {
    description: 'line: the M3U line (of #EXTINF when present), or the 1-based index in a JSON list',
  }),
});

nameSchemas({
  Track: TrackSchema,
  PlaylistDetail: PlaylistDetailSchema,
  TrackList: TrackListSchema,
  PlaylistImportResult: ImportResultSchema,
});

exampleBody(CreatePlaylistBody, { name: 'Late night drives', description: 'Synthwave for empty roads' });
exampleBody(AddTracksBody, { songIds: ['01939a4e-7d9e-7f50-8b32-4c5d6e7f8091'], position: 0 });
