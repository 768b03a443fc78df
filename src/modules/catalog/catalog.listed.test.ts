import { PgDialect } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { listedAlbum, listedSong } from './catalog.listed.js';

// The visibility conditions other modules put in their own SQL: the row they name must be the
// caller's (an alias of its statement), or the table itself. No database needed.

const text = (condition: ReturnType<typeof listedSong>) => new PgDialect().sqlToQuery(condition).sql;

describe('listed conditions', () => {
  it('name the table itself without an alias', () => {
    expect(text(listedSong())).toBe('"songs"."listed"');
    expect(text(listedAlbum())).toBe('"albums"."listed"');
  });

  it("name the caller's alias, quoted, with no parameters", () => {
    expect(text(listedSong('s'))).toBe('"s"."listed"');
    expect(text(listedAlbum('a'))).toBe('"a"."listed"');
    expect(new PgDialect().sqlToQuery(listedSong('s')).params).toEqual([]);
  });
});
