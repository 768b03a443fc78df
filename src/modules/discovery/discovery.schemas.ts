import { Type } from 'typebox';
import { Id, MAX_LIMIT, Nullable, Timestamp } from '../../platform/http.js';
import { exampleBody, nameSchemas } from '../../platform/openapi.js';
import { AlbumSchema, SongSchema } from '../catalog/index.js';
import { TRENDING_WINDOWS } from './discovery.repo.js';
import { PLAY_EVENTS } from './discovery.tables.js';

const Limit = Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 20 }));
const closed = { additionalProperties: false } as const;

export const PlayBody = Type.Object(
  {
    event: Type.Enum(PLAY_EVENTS, {
      description: 'play counts towards playCount and charts (once per user and song per 30 s)',
    }),
    positionMs: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 86_400_000, description: 'where in the song it happened' }),
    ),
  },
  closed,
);

export const LimitQuery = Type.Object({ limit: Limit }, closed);
export const NoQuery = Type.Object({}, closed);

export const RecentlyPlayedQuery = Type.Object(
  {
    limit: Limit,
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page' }),
    ),
  },
  closed,
);

export const RecentlyPlayedPage = Type.Object({
  items: Type.Array(Type.Object({ playedAt: Timestamp, song: SongSchema })),
  nextCursor: Nullable(Type.String()),
});

export const TrendingQuery = Type.Object(
  { window: Type.Optional(Type.Enum(TRENDING_WINDOWS, { default: '24h' })), limit: Limit },
  closed,
);

export const TrendingList = Type.Object({
  items: Type.Array(
    Type.Object({
      rank: Type.Integer({ minimum: 1 }),
      plays: Type.Integer({ description: 'counted plays inside the window' }),
      song: SongSchema,
    }),
  ),
});

export const REASONS = [
  'co-listened',
  'same-artist',
  'same-genre',
  'same-era',
  'trending',
  'popular',
] as const;
export type Reason = (typeof REASONS)[number];

export const RecommendationList = Type.Object({
  items: Type.Array(
    Type.Object({
      score: Type.Number({ minimum: 0, maximum: 1, description: 'higher is a stronger match' }),
      reason: Type.Enum(REASONS, {
        description:
          'the strongest signal: finished by the same listeners, same artist, same genre, same era; ' +
          'trending or popular when there is no signal yet',
      }),
      song: SongSchema,
    }),
  ),
});

export const TopAlbumsQuery = Type.Object(
  {
    limit: Limit,
    genre: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, pattern: '\\S', description: 'matched case-insensitively' }),
    ),
  },
  closed,
);

export const TopAlbumsList = Type.Object({
  items: Type.Array(
    Type.Object({ rank: Type.Integer({ minimum: 1 }), followerCount: Type.Integer(), album: AlbumSchema }),
  ),
});

export const GenreStatsList = Type.Object({
  items: Type.Array(
    Type.Object({
      genre: Type.String({ description: 'the spelling most albums use' }),
      albumCount: Type.Integer(),
      songCount: Type.Integer(),
    }),
  ),
});

export const ArtistTimeline = Type.Object({
  artist: Type.Object({ id: Id, name: Type.String() }),
  items: Type.Array(Type.Object({ year: Type.Integer(), albumCount: Type.Integer() })),
});

nameSchemas({
  RecentlyPlayedFeed: RecentlyPlayedPage,
  TrendingSongs: TrendingList,
  Recommendations: RecommendationList,
  TopAlbums: TopAlbumsList,
  GenreStats: GenreStatsList,
  ArtistTimeline,
});

exampleBody(PlayBody, { event: 'complete', positionMs: 245_000 });
