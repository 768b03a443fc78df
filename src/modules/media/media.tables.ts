import { bigint, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
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
