import { albumFollows, artistFollows, type FollowRow, type PlayRow, plays } from './activity.js';
import type { AlbumPlan, ArtistPlan, CatalogPlan, SongPlan, UserPlan } from './plan.js';
import { type Column, insertRows, type SqlClient } from './sql.js';

export interface LoadContext {
  sql: SqlClient;
  plan: CatalogPlan;
  /** One argon2 hash of the bench password, shared by every account. */
  passwordHash: string;
  log: (line: string) => void;
}

/**
 * The rows one module owns. A module's rows load only when all its tables exist in the
 * migrated schema, so the generator follows the modules as they land: adding one is adding
 * one of these to MODULE_ROWS.
 */
export interface ModuleRows {
  module: string;
  tables: string[];
  /** Inserts the rows; returns the row count per table. */
  load(ctx: LoadContext): Promise<Record<string, number>>;
  /** Statements deriving maintained counters from the rows, run once every module has loaded. */
  counters: string[];
}

const iso = (ms: number) => new Date(ms).toISOString();

const identityRows: ModuleRows = {
  module: 'identity',
  tables: ['users'],
  async load({ sql, plan, passwordHash, log }) {
    const columns: Column<UserPlan>[] = [
      { name: 'id', type: 'uuid', value: (u) => u.id },
      { name: 'email', type: 'text', value: (u) => u.email },
      // Bench emails have distinct local parts, which make valid usernames as registration would.
      { name: 'username', type: 'text', value: (u) => u.email.split('@')[0] },
      { name: 'password_hash', type: 'text', value: () => passwordHash },
      { name: 'display_name', type: 'text', value: (u) => u.displayName },
      { name: 'role', type: 'text', value: (u) => u.role },
      {
        name: 'artist_id',
        type: 'uuid',
        value: (u) => (u.artist === null ? null : plan.artists[u.artist]!.id),
      },
      { name: 'created_at', type: 'timestamptz', value: (u) => iso(u.createdAt) },
      { name: 'updated_at', type: 'timestamptz', value: (u) => iso(u.createdAt) },
    ];
    return { users: await insertRows(sql, 'users', columns, plan.users, log) };
  },
  counters: [],
};

const catalogRows: ModuleRows = {
  module: 'catalog',
  tables: ['artists', 'albums', 'songs'],
  async load({ sql, plan, log }) {
    const artistColumns: Column<ArtistPlan>[] = [
      { name: 'id', type: 'uuid', value: (a) => a.id },
      { name: 'name', type: 'text', value: (a) => a.name },
      {
        name: 'genres',
        type: 'text',
        value: (a) => a.genres.join('|'),
        select: "string_to_array(genres, '|')",
      },
      { name: 'is_visible', type: 'boolean', value: (a) => a.isVisible },
      { name: 'created_at', type: 'timestamptz', value: (a) => iso(a.createdAt) },
      { name: 'updated_at', type: 'timestamptz', value: (a) => iso(a.createdAt) },
    ];
    const albumColumns: Column<AlbumPlan>[] = [
      { name: 'id', type: 'uuid', value: (a) => a.id },
      { name: 'artist_id', type: 'uuid', value: (a) => plan.artists[a.artist]!.id },
      { name: 'artist_name', type: 'text', value: (a) => plan.artists[a.artist]!.name },
      { name: 'title', type: 'text', value: (a) => a.title },
      { name: 'genre', type: 'text', value: (a) => a.genre },
      { name: 'release_year', type: 'integer', value: (a) => a.releaseYear },
      { name: 'release_date', type: 'date', value: (a) => a.releaseDate },
      { name: 'cover_url', type: 'text', value: (a) => a.coverUrl },
      { name: 'label', type: 'text', value: (a) => a.label },
      { name: 'is_public', type: 'boolean', value: (a) => a.isPublic },
      { name: 'is_visible', type: 'boolean', value: (a) => a.isVisible },
      { name: 'listed', type: 'boolean', value: (a) => a.listed },
      { name: 'created_at', type: 'timestamptz', value: (a) => iso(a.createdAt) },
      { name: 'updated_at', type: 'timestamptz', value: (a) => iso(a.createdAt) },
    ];
    const albumOf = (s: SongPlan) => plan.albums[s.album]!;
    const songColumns: Column<SongPlan>[] = [
      { name: 'id', type: 'uuid', value: (s) => s.id },
      { name: 'album_id', type: 'uuid', value: (s) => albumOf(s).id },
      { name: 'artist_id', type: 'uuid', value: (s) => plan.artists[albumOf(s).artist]!.id },
      { name: 'artist_name', type: 'text', value: (s) => plan.artists[albumOf(s).artist]!.name },
      { name: 'title', type: 'text', value: (s) => s.title },
      { name: 'track_number', type: 'integer', value: (s) => s.trackNumber },
      { name: 'duration_ms', type: 'integer', value: (s) => s.durationMs },
      { name: 'genre', type: 'text', value: (s) => s.genre },
      { name: 'explicit', type: 'boolean', value: (s) => s.explicit },
      { name: 'release_year', type: 'integer', value: (s) => albumOf(s).releaseYear },
      { name: 'listed', type: 'boolean', value: (s) => albumOf(s).listed },
      { name: 'created_at', type: 'timestamptz', value: (s) => iso(s.createdAt) },
      { name: 'updated_at', type: 'timestamptz', value: (s) => iso(s.createdAt) },
    ];
    return {
      artists: await insertRows(sql, 'artists', artistColumns, plan.artists, log),
      albums: await insertRows(sql, 'albums', albumColumns, plan.albums, log),
      songs: await insertRows(sql, 'songs', songColumns, plan.songs, log),
    };
  },
  // The same rules as the catalog repository: album_count counts public and visible albums.
  counters: [
    `update albums a set song_count = s.songs, duration_ms = s.duration
     from (select album_id, count(*)::int as songs, sum(duration_ms)::bigint as duration
           from songs group by album_id) s
     where s.album_id = a.id`,
    `update artists ar set album_count = c.albums
     from (select artist_id, count(*)::int as albums from albums
           where is_public and is_visible group by artist_id) c
     where c.artist_id = ar.id`,
    // The search lexicon is kept by triggers, which the bulk load (replica mode) skips.
    `insert into catalog_search_words (word)
     select unnest(tsvector_to_array(search_vector)) from artists
     union select unnest(tsvector_to_array(to_tsvector('simple', title))) from albums
     union select unnest(tsvector_to_array(to_tsvector('simple', title))) from songs
     on conflict do nothing`,
  ],
};

/**
 * Follows, as the library stores them: current follows only (no ended follow periods), and
 * notifications derived at read time, so there is nothing else to fill.
 */
const libraryFollowingRows: ModuleRows = {
  module: 'library (following)',
  tables: ['album_follows', 'artist_follows'],
  async load({ sql, plan, log }) {
    const followColumns = (targetColumn: string, targetId: (f: FollowRow) => string): Column<FollowRow>[] => [
      { name: 'user_id', type: 'uuid', value: (f) => plan.users[f.user]!.id },
      { name: targetColumn, type: 'uuid', value: targetId },
      { name: 'created_at', type: 'timestamptz', value: (f) => iso(f.createdAt) },
    ];
    return {
      album_follows: await insertRows(
        sql,
        'album_follows',
        followColumns('album_id', (f) => plan.albums[f.target]!.id),
        albumFollows(plan),
        log,
      ),
      artist_follows: await insertRows(
        sql,
        'artist_follows',
        followColumns('artist_id', (f) => plan.artists[f.target]!.id),
        artistFollows(plan),
        log,
      ),
    };
  },
  counters: [
    `update albums a set follower_count = f.n
     from (select album_id, count(*)::int as n from album_follows group by album_id) f
     where f.album_id = a.id`,
    `update artists ar set follower_count = f.n
     from (select artist_id, count(*)::int as n from artist_follows group by artist_id) f
     where f.artist_id = ar.id`,
  ],
};

/**
 * Listening history, then every table discovery derives from it, computed in SQL with the
 * module's rules: a `play` counts when the same user's previous play of that song is at least
 * 30 s older (the service compares with the last counted play; the two differ only for chains
 * of plays under 30 s apart, which random times over 30 days all but never produce).
 * Trending totals hold every counted play and no window has been rolled: the server's first
 * trending read subtracts what lies outside each window, exactly as after a quiet spell.
 */
const discoveryRows: ModuleRows = {
  module: 'discovery',
  tables: [
    'play_events',
    'play_count_guards',
    'listener_signals',
    'song_play_buckets',
    'song_trending',
    'trending_rolls',
  ],
  async load({ sql, plan, log }) {
    const playColumns: Column<PlayRow>[] = [
      { name: 'user_id', type: 'uuid', value: (p) => plan.users[p.user]!.id },
      { name: 'song_id', type: 'uuid', value: (p) => plan.songs[p.song]!.id },
      { name: 'event', type: 'text', value: (p) => p.event },
      { name: 'position_ms', type: 'integer', value: (p) => p.positionMs },
      { name: 'played_at', type: 'timestamptz', value: (p) => iso(p.playedAt) },
    ];
    const rows = { play_events: await insertRows(sql, 'play_events', playColumns, plays(plan), log) };
    const started = performance.now();
    await sql.query(`create temporary table counted_plays as
      select user_id, song_id, played_at from (
        select user_id, song_id, played_at,
          lag(played_at) over (partition by user_id, song_id order by played_at, id) as previous
        from play_events where event = 'play') p
      where previous is null or played_at >= previous + interval '30 seconds'`);
    await sql.query(`insert into play_count_guards (user_id, song_id, counted_at)
      select user_id, song_id, max(played_at) from counted_plays group by user_id, song_id`);
    await sql.query(`insert into listener_signals (user_id, song_id, completes, skips, last_completed_at)
      select user_id, song_id, count(*) filter (where event = 'complete')::int,
        count(*) filter (where event = 'skip')::int, max(played_at) filter (where event = 'complete')
      from play_events where event <> 'play' group by user_id, song_id`);
    await sql.query(`insert into song_play_buckets (hour, song_id, plays)
      select date_trunc('hour', played_at), song_id, count(*)::int from counted_plays group by 1, 2`);
    // Each window is the current hour and the 23 (167, 719) before it, already rolled there, as
    // the service keeps them: a server started on this data rolls an hour at a time, not all of it.
    const start = (hours: number) => `date_trunc('hour', now()) - interval '${hours - 1} hours'`;
    const inWindow = (hours: number) => `coalesce(sum(plays) filter (where hour >= ${start(hours)}), 0)::int`;
    await sql.query(`insert into song_trending (song_id, plays_24h, plays_7d, plays_30d)
      select song_id, ${inWindow(24)}, ${inWindow(24 * 7)}, ${inWindow(24 * 30)}
      from song_play_buckets group by song_id`);
    await sql.query(`insert into trending_rolls (window_name, rolled_until) values
      ('24h', ${start(24)}), ('7d', ${start(24 * 7)}), ('30d', ${start(24 * 30)})`);
    log(`  derived play counters in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return rows;
  },
  counters: [
    `update songs s set play_count = p.n
     from (select song_id, count(*) as n from counted_plays group by song_id) p
     where p.song_id = s.id`,
    `update albums a set play_count = p.n
     from (select album_id, sum(play_count) as n from songs group by album_id) p
     where p.album_id = a.id`,
    `update albums a set recent_play_count = p.n
     from (select s.album_id, sum(t.plays_30d)::int as n from song_trending t join songs s on s.id = t.song_id
       group by s.album_id) p
     where p.album_id = a.id`,
  ],
};

/** In load order: a module's rows may refer to rows of the modules before it. */
export const MODULE_ROWS: ModuleRows[] = [catalogRows, identityRows, libraryFollowingRows, discoveryRows];

/**
 * Popularity depends on every module's counters (followers, recent plays), so it is derived
 * last, with the catalog repository's formula (`popularityOf` in catalog.repo.ts): logarithmic
 * in followers plus a tenth of the last 30 days' plays, capped at 100.
 */
export const FINAL_COUNTERS = [
  `update albums set popularity =
     least(100, floor(12 * ln(1 + greatest(0, follower_count) + greatest(0, recent_play_count) / 10.0)))::int`,
];
