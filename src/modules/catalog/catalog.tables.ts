import { type SQL, sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  boolean,
  check,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { uuidv7 } from 'uuidv7';
import type { Image } from '../../platform/http.js';

/** The `audio` object of a song, as the API shows it. */
export interface SongAudio {
  status: 'none' | 'processing' | 'ready' | 'failed';
  durationMs?: number;
  source?: {
    format: string;
    codec: string;
    bitrateKbps: number;
    sampleRate: number;
    channels: number;
    bytes: number;
  };
  qualities?: ('low' | 'medium' | 'high' | 'original')[];
  loudness?: { integratedLufs: number; truePeakDb: number; trackGainDb: number };
  error?: string;
}

/** What kind of release an album is (as Spotify): a song released on its own is a `single`. */
export const ALBUM_TYPES = ['album', 'single', 'ep', 'compilation'] as const;
export type AlbumType = (typeof ALBUM_TYPES)[number];

/** Full-text document; only ever written by PostgreSQL (generated columns). */
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/** Names are searched in the `simple` configuration: they are not English prose to stem. */
const searchVectorOf = (text: SQL) => sql`to_tsvector('simple'::regconfig, ${text})`;

/** Sort key for names and titles: case-insensitive, byte order so every database sorts alike. */
export const sortKey = (column: SQL | AnyPgColumn) => sql`lower(${column}) collate "C"`;

/**
 * Case- and accent-insensitive form of a name: NFKD splits letters from their accents, the
 * combining marks go, whitespace collapses. Playlist imports match a song's title and artist
 * name in this form (PGlite has no unaccent); `songs_folded_match_idx` indexes it, so a match
 * looks songs up instead of folding the whole catalog for every batch of an import.
 */
export const foldedName = (value: SQL | AnyPgColumn) =>
  sql`lower(btrim(regexp_replace(regexp_replace(normalize(${value}, NFKD), '[\\u0300-\\u036f]', '', 'g'), '\\s+', ' ', 'g')))`;

export const artists = pgTable(
  'artists',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    name: text('name').notNull(),
    bio: text('bio'),
    imageUrl: text('image_url'),
    /** Uploaded pictures (the media module writes them); `imageUrl` is then the largest. */
    images: jsonb('images').$type<Image[]>().notNull().default(sql`'[]'::jsonb`),
    /** Content hash of the uploaded picture, so its files are deleted when nothing uses them. */
    imageHash: text('image_hash'),
    genres: text('genres').array().notNull().default(sql`'{}'::text[]`),
    /** The admin's switch: a hidden artist is seen by admins only. */
    isVisible: boolean('is_visible').notNull().default(true),
    /** Albums everyone may see (public and visible), so the number never reveals hidden ones. */
    albumCount: integer('album_count').notNull().default(0),
    followerCount: integer('follower_count').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    searchVector: tsvector('search_vector').generatedAlwaysAs(
      (): SQL => searchVectorOf(sql`${artists.name}`),
    ),
  },
  (t) => [
    // Names are unique case-insensitively: `artistName` on album creation must name one artist.
    uniqueIndex('artists_lower_name_key').on(sql`lower(${t.name})`),
    index('artists_image_hash_idx').on(t.imageHash),
    index('artists_created_at_idx').on(t.createdAt, t.id),
    index('artists_name_sort_idx').on(sortKey(t.name), t.id),
    index('artists_album_count_idx').on(t.albumCount, t.id),
    index('artists_follower_count_idx').on(t.followerCount, t.id),
    index('artists_name_trgm_idx').using('gin', t.name.op('gin_trgm_ops')),
    index('artists_search_vector_idx').using('gin', t.searchVector),
  ],
);

export const albums = pgTable(
  'albums',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    artistId: uuid('artist_id')
      .notNull()
      .references(() => artists.id, { onDelete: 'restrict' }),
    /** The artist's name, copied so search and sorts never join; renames rewrite it. */
    artistName: text('artist_name').notNull(),
    title: text('title').notNull(),
    genre: text('genre').notNull(),
    releaseYear: integer('release_year').notNull(),
    releaseDate: date('release_date', { mode: 'string' }),
    albumType: text('album_type').$type<AlbumType>().notNull().default('album'),
    coverUrl: text('cover_url'),
    images: jsonb('images').$type<Image[]>().notNull().default(sql`'[]'::jsonb`),
    imageHash: text('image_hash'),
    label: text('label'),
    /** The owner's switch (artist or admin). */
    isPublic: boolean('is_public').notNull().default(true),
    /** The admin's switch. */
    isVisible: boolean('is_visible').notNull().default(true),
    /**
     * Scheduled release (`publishAt` in the API): until then the album is not `released`. Kept
     * after the release as the time it was scheduled for.
     */
    publishAt: timestamp('publish_at', { withTimezone: true, mode: 'date' }),
    /** False while a scheduled release is pending; the release job turns it on (catalog.releases.ts). */
    released: boolean('released').notNull().default(true),
    /**
     * When a scheduled album went public, which is when its followers hear of it; null for an
     * album public from its creation (its `createdAt` counts) or not released yet.
     */
    releasedAt: timestamp('released_at', { withTimezone: true, mode: 'date' }),
    /**
     * Derived: public, visible, released and by a visible artist, i.e. what users and anonymous
     * callers may see. Kept in step by the repository so every list filters on one column.
     */
    listed: boolean('listed').notNull().default(true),
    /** Songs that are public and visible themselves (so the numbers never reveal hidden ones). */
    songCount: integer('song_count').notNull().default(0),
    durationMs: bigint('duration_ms', { mode: 'number' }).notNull().default(0),
    followerCount: integer('follower_count').notNull().default(0),
    playCount: bigint('play_count', { mode: 'number' }).notNull().default(0),
    /**
     * Counted plays of its songs in the last 30 days (the sum of their 30d trending totals):
     * with followers, what popularity is made of. Discovery raises it as plays are counted and
     * sets it again from the totals whenever the 30-day window moves on (hourly).
     */
    recentPlayCount: integer('recent_play_count').notNull().default(0),
    popularity: integer('popularity').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    searchText: text('search_text').generatedAlwaysAs(
      (): SQL => sql`${albums.title} || ' ' || ${albums.artistName}`,
    ),
    searchVector: tsvector('search_vector').generatedAlwaysAs(
      (): SQL => searchVectorOf(sql`${albums.title} || ' ' || ${albums.artistName}`),
    ),
  },
  (t) => [
    index('albums_artist_id_idx').on(t.artistId, t.createdAt, t.id),
    index('albums_image_hash_idx').on(t.imageHash),
    index('albums_lower_genre_idx').on(sql`lower(${t.genre})`),
    index('albums_release_year_idx').on(t.releaseYear, t.id),
    index('albums_title_sort_idx').on(sortKey(t.title), t.id),
    index('albums_created_at_idx').on(t.createdAt, t.id),
    index('albums_popularity_idx').on(t.popularity, t.id),
    index('albums_song_count_idx').on(t.songCount, t.id),
    index('albums_follower_count_idx').on(t.followerCount, t.id),
    index('albums_search_text_trgm_idx').using('gin', t.searchText.op('gin_trgm_ops')),
    index('albums_search_vector_idx').using('gin', t.searchVector),
    check('albums_popularity_check', sql`${t.popularity} between 0 and 100`),
    check(
      'albums_album_type_check',
      sql`${t.albumType} in (${sql.raw(ALBUM_TYPES.map((type) => `'${type}'`).join(', '))})`,
    ),
  ],
);

export const songs = pgTable(
  'songs',
  {
    id: uuid('id').primaryKey().$defaultFn(uuidv7),
    albumId: uuid('album_id')
      .notNull()
      .references(() => albums.id, { onDelete: 'cascade' }),
    /**
     * The song's own artist: the album's, except on albums imported from a music folder, where
     * each song keeps its track artist (a compilation's tracks, a guest). The artist filter,
     * the Song's `artist` and ownership checks read it.
     */
    artistId: uuid('artist_id')
      .notNull()
      .references(() => artists.id, { onDelete: 'restrict' }),
    artistName: text('artist_name').notNull(),
    title: text('title').notNull(),
    trackNumber: integer('track_number').notNull(),
    durationMs: integer('duration_ms').notNull(),
    genre: text('genre').notNull(),
    explicit: boolean('explicit').notNull().default(false),
    /** The album's release year, copied so the year filters never join albums. */
    releaseYear: integer('release_year').notNull(),
    playCount: bigint('play_count', { mode: 'number' }).notNull().default(0),
    /** The API's `audio` object, written by the media module as a transcode moves on. */
    audio: jsonb('audio').$type<SongAudio>().notNull().default(sql`'{"status":"none"}'::jsonb`),
    /** The owner's switch (artist or admin). */
    isPublic: boolean('is_public').notNull().default(true),
    /** The admin's switch. */
    isVisible: boolean('is_visible').notNull().default(true),
    /**
     * Derived: the song's own switches and its album's `listed`, i.e. what users and anonymous
     * callers may see. Kept in step by the repository so every read path filters on one column.
     */
    listed: boolean('listed').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    searchText: text('search_text').generatedAlwaysAs(
      (): SQL => sql`${songs.title} || ' ' || ${songs.artistName}`,
    ),
    searchVector: tsvector('search_vector').generatedAlwaysAs(
      (): SQL => searchVectorOf(sql`${songs.title} || ' ' || ${songs.artistName}`),
    ),
  },
  (t) => [
    uniqueIndex('songs_album_track_key').on(t.albumId, t.trackNumber),
    index('songs_artist_id_idx').on(t.artistId, t.createdAt, t.id),
    index('songs_lower_genre_idx').on(sql`lower(${t.genre})`),
    index('songs_title_sort_idx').on(sortKey(t.title), t.id),
    index('songs_created_at_idx').on(t.createdAt, t.id),
    index('songs_play_count_idx').on(t.playCount, t.id),
    index('songs_duration_ms_idx').on(t.durationMs, t.id),
    index('songs_release_year_idx').on(t.releaseYear, t.id),
    index('songs_search_text_trgm_idx').using('gin', t.searchText.op('gin_trgm_ops')),
    index('songs_search_vector_idx').using('gin', t.searchVector),
    index('songs_folded_match_idx').on(foldedName(t.title), foldedName(t.artistName)),
    check('songs_track_number_check', sql`${t.trackNumber} > 0`),
    check('songs_duration_ms_check', sql`${t.durationMs} > 0`),
  ],
);
