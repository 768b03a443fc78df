import { type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { albums, songs } from './catalog.tables.js';

// The catalog's visibility rule for everyone (users and anonymous callers), as SQL: an album or
// song is shown when its derived `listed` column is true (see "Catalog visibility" in
// docs/architecture.md). Other modules' queries take these conditions from here instead of
// naming the column, so the rule is written in one place.

/** `alias.column`, or the column itself (qualified by its table's name) without an alias. */
function columnOf(column: AnyPgColumn, alias: string | undefined): SQL {
  return alias === undefined ? sql`${column}` : sql`${sql.identifier(alias)}.${sql.identifier(column.name)}`;
}

/**
 * SQL condition: the song is listed. `alias` names the `songs` row in the caller's statement
 * (`from songs s` -> `listedSong('s')`); without it the table is referred to by its own name.
 */
export const listedSong = (alias?: string): SQL => columnOf(songs.listed, alias);

/** SQL condition: the album is listed; `alias` as for `listedSong`. */
export const listedAlbum = (alias?: string): SQL => columnOf(albums.listed, alias);
