import { sql } from 'drizzle-orm';
import {
  bigint,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { SongAudio } from '../catalog/index.js';

export interface Rendition {
  kbps: number;
  file: string;
}

/**
 * One row per stored original, by content hash: uploads of the same bytes share it and its
 * renditions. Files are removed by the sweep once no song refers to the hash.
 */
export const audioFiles = pgTable('media_audio_files', {
  hash: text('hash').primaryKey(),
  /** File name extension of the original (flac, mp3, ogg, wav, m4a, opus). */
  ext: text('ext').notNull(),
  bytes: bigint('bytes', { mode: 'number' }).notNull(),
  /** Set for files referenced in place (a scanned music folder); unset: under MEDIA_DIR. */
  externalPath: text('external_path'),
  /** quality -> rendition file (relative to the hash's derived folder) and its bitrate; set once transcoded. */
  renditions: jsonb('renditions').$type<Record<string, Rendition>>(),
  /** The `audio` object (status ready) the transcode measured; a song with these bytes shows it. */
  audio: jsonb('audio').$type<SongAudio>(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** Which original each song plays. */
export const songAudio = pgTable(
  'media_song_audio',
  {
    /** No foreign key: a deleted song leaves this row for the sweep, which then frees its files. */
    songId: uuid('song_id').primaryKey(),
    hash: text('hash')
      .notNull()
      .references(() => audioFiles.hash, { onDelete: 'restrict' }),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('media_song_audio_hash_idx').on(t.hash)],
);

/** Every stored picture, by content hash of the upload; its sizes sit beside it. */
export const imageFiles = pgTable('media_image_files', {
  hash: text('hash').primaryKey(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export const SCAN_STATUSES = ['queued', 'running', 'done', 'failed'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

export interface ScanError {
  path: string;
  code: string;
}

/** One folder import (admin API or CLI): its progress is written here while it runs. */
export const libraryScans = pgTable(
  'media_library_scans',
  {
    id: uuid('id').primaryKey(),
    /** The scanned folder relative to the music root ('' for the root itself). */
    path: text('path').notNull(),
    /** The absolute folder the scan walks. */
    root: text('root').notNull(),
    full: integer('full').notNull().default(0),
    status: text('status').$type<ScanStatus>().notNull().default('queued'),
    total: integer('total').notNull().default(0),
    processed: integer('processed').notNull().default(0),
    added: integer('added').notNull().default(0),
    updated: integer('updated').notNull().default(0),
    unchanged: integer('unchanged').notNull().default(0),
    removed: integer('removed').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    errors: jsonb('errors').$type<ScanError[]>().notNull().default(sql`'[]'::jsonb`),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }),
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    // One scan at a time, whoever asks: a second insert while one is queued or running fails.
    uniqueIndex('media_library_scans_active_idx')
      .on(sql`(true)`)
      .where(sql`${t.status} in ('queued', 'running')`),
    index('media_library_scans_created_idx').on(t.createdAt, t.id),
  ],
);
export type LibraryScanRow = typeof libraryScans.$inferSelect;

/**
 * Every imported file by its absolute path (one song each, never two): size and mtime decide
 * whether a rescan reads it again. `scanId`/`change` say which scan last added or updated it,
 * so a scan resumed after a restart counts those files as it did before.
 */
export const libraryFiles = pgTable(
  'media_library_files',
  {
    path: text('path').primaryKey(),
    size: bigint('size', { mode: 'number' }).notNull(),
    mtimeMs: doublePrecision('mtime_ms').notNull(),
    songId: uuid('song_id').notNull(),
    albumKey: text('album_key').notNull(),
    scanId: uuid('scan_id'),
    change: text('change').$type<'added' | 'updated'>(),
  },
  (t) => [index('media_library_files_song_idx').on(t.songId)],
);

/** Which catalog album a grouping key (MusicBrainz album id, or album artist + title) became. */
export const libraryAlbums = pgTable('media_library_albums', {
  key: text('key').primaryKey(),
  albumId: uuid('album_id').notNull(),
});
