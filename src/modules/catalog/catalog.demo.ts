import { uuidv7 } from 'uuidv7';
import type { Role } from '../../platform/auth.js';
import type { Cache } from '../../platform/cache.js';
import { type Db, type Tx, withTx } from '../../platform/db.js';
import { ALBUM_LISTS_TAG, SEARCH_TAG } from './catalog.cache.js';
import * as repo from './catalog.queries.js';
import type { albums, artists, songs } from './catalog.tables.js';

const GENRES = [
  'Rock',
  'Pop',
  'Jazz',
  'Hip-Hop',
  'Electronic',
  'Classical',
  'Folk',
  'Blues',
  'Country',
  'Reggae',
  'Metal',
  'Soul',
];
const FIRST_YEAR = 1985;
const YEARS = 40;

const ADJECTIVES = [
  'Velvet',
  'Electric',
  'Silent',
  'Golden',
  'Midnight',
  'Crimson',
  'Neon',
  'Paper',
  'Hollow',
  'Wild',
  'Lunar',
  'Iron',
  'Glass',
  'Static',
  'Northern',
  'Broken',
  'Silver',
  'Secret',
  'Faded',
  'Burning',
  'Copper',
  'Violet',
  'Distant',
  'Frozen',
];
const NOUNS = [
  'Comets',
  'Harbor',
  'Echoes',
  'Tigers',
  'Satellites',
  'Lanterns',
  'Orchard',
  'Machines',
  'Rivers',
  'Foxes',
  'Parade',
  'Mirrors',
  'Wolves',
  'Engines',
  'Gardens',
  'Signals',
  'Owls',
  'Tides',
  'Ghosts',
  'Pilots',
  'Sparrows',
  'Canyons',
  'Radios',
  'Giants',
];
const WORDS = [
  'Summer',
  'Nights',
  'Fever',
  'Horizon',
  'Blue',
  'Gravity',
  'Dreams',
  'Ocean',
  'Motion',
  'Shadows',
  'Light',
  'Stories',
  'Highway',
  'Winter',
  'Fire',
  'Heart',
  'City',
  'Kingdom',
  'Silence',
  'Paradise',
  'Mountain',
  'Future',
  'Memory',
  'Thunder',
  'Sugar',
  'Echo',
  'Radio',
  'Crystal',
  'Morning',
  'Rain',
  'Gold',
  'Satellite',
  'Stranger',
  'Garden',
  'Wire',
  'Love',
  'Desert',
  'River',
  'Neon',
  'Home',
];
const LABELS = ['Backbeat Records', 'Northside', 'Blue Room', 'Analog House', 'Tidewater', null];

/** A small seeded generator (mulberry32): the same seed gives the same catalog every time. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CatalogShape {
  artists: number;
  albumsPerArtist: number;
  songsPerAlbum: number;
  seed?: number;
  /** Every n-th album is private, so the visibility rules have something to show. */
  privateEvery?: number;
}

/**
 * Builds a deterministic catalog (names, genres, years, durations) with its counters filled
 * in, ready for `bulkInsertCatalog`. The demo data and the benches both use it.
 */
export function generateCatalog(shape: CatalogShape, now = new Date()) {
  const random = seededRandom(shape.seed ?? 20_261_121);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const start = now.getTime() - 400 * 86_400_000;
  const artistRows: (typeof artists.$inferInsert)[] = [];
  const albumRows: (typeof albums.$inferInsert)[] = [];
  const songRows: (typeof songs.$inferInsert)[] = [];
  const combos = ADJECTIVES.length * NOUNS.length;

  for (let a = 0; a < shape.artists; a++) {
    const combo = (a * 7) % combos;
    const round = Math.floor(a / combos);
    const name = `${a % 2 ? 'The ' : ''}${ADJECTIVES[combo % ADJECTIVES.length]} ${
      NOUNS[Math.floor(combo / ADJECTIVES.length)]
    }${round ? ` ${round + 1}` : ''}`;
    // The first genre cycles so every genre gets artists even in a small catalog.
    const genres = [...new Set([GENRES[a % GENRES.length]!, pick(GENRES)])].slice(
      0,
      1 + Math.floor(random() * 2),
    );
    const artistId = uuidv7();
    let publicAlbums = 0;
    for (let b = 0; b < shape.albumsPerArtist; b++) {
      const index = a * shape.albumsPerArtist + b;
      const albumId = uuidv7();
      const createdAt = new Date(start + index * 37 * 60_000);
      const isPublic = !shape.privateEvery || (index + 1) % shape.privateEvery !== 0;
      const genre = random() < 0.8 ? genres[0]! : pick(GENRES);
      let durationMs = 0;
      const albumSongs: Omit<(typeof songRows)[number], 'releaseYear'>[] = [];
      for (let s = 0; s < shape.songsPerAlbum; s++) {
        const songMs = 120_000 + Math.floor(random() * 300_000);
        durationMs += songMs;
        albumSongs.push({
          id: uuidv7(),
          albumId,
          artistId,
          artistName: name,
          title: random() < 0.5 ? `${pick(WORDS)} ${pick(WORDS)}` : `${pick(WORDS)} of ${pick(WORDS)}`,
          trackNumber: s + 1,
          durationMs: songMs,
          genre,
          explicit: random() < 0.1,
          listed: isPublic,
          createdAt: new Date(createdAt.getTime() + s * 1000),
          updatedAt: createdAt,
        });
      }
      if (isPublic) publicAlbums += 1;
      const title = random() < 0.3 ? `The ${pick(WORDS)} ${pick(WORDS)}` : `${pick(WORDS)} ${pick(WORDS)}`;
      const releaseYear = FIRST_YEAR + Math.floor(random() * YEARS);
      for (const song of albumSongs) songRows.push({ ...song, releaseYear });
      albumRows.push({
        id: albumId,
        artistId,
        artistName: name,
        title,
        genre,
        releaseYear,
        label: pick(LABELS),
        isPublic,
        listed: isPublic,
        songCount: shape.songsPerAlbum,
        durationMs,
        createdAt,
        updatedAt: createdAt,
      });
    }
    artistRows.push({
      id: artistId,
      name,
      bio: `${name} play ${genres.join(' and ').toLowerCase()}.`,
      genres,
      albumCount: publicAlbums,
      createdAt: new Date(start + a * 60_000),
      updatedAt: new Date(start + a * 60_000),
    });
  }
  return { artists: artistRows, albums: albumRows, songs: songRows };
}

export type GeneratedCatalog = ReturnType<typeof generateCatalog>;

export interface DemoAccount {
  email: string;
  password: string;
  role: Role;
}

export interface DemoCatalog {
  artists: number;
  albums: number;
  songs: number;
  accounts: DemoAccount[];
  /** What `addActivity` reported it added (listeners, follows, plays). */
  activity?: DemoActivity;
}

export interface DemoActivity {
  listeners: number;
  follows: number;
  plays: number;
}

/**
 * Other modules' part of the demo (listeners, their follows and plays), run in the load's
 * transaction once the catalog rows are in; the catalog cannot reach those modules itself.
 */
export type DemoActivityLoader = (tx: Tx, catalog: GeneratedCatalog) => Promise<DemoActivity>;

type EnsureAccount = (input: DemoAccount & { displayName: string; artistId?: string }) => Promise<boolean>;

/**
 * Loads the demo catalog (50 artists, 200 albums, 2,000 songs over 12 genres and 40 years) and
 * demo admin, artist and user accounts, but only into an empty catalog. Returns what it loaded,
 * or null when the catalog already had content. Domain events are not recorded: the only
 * followers are the demo listeners `addActivity` adds, who cannot sign in to read notifications.
 */
export async function loadDemoCatalog(deps: {
  db: Db;
  cache: Cache;
  ensureAccount: EnsureAccount;
  addActivity?: DemoActivityLoader;
}): Promise<DemoCatalog | null> {
  const catalog = generateCatalog({ artists: 50, albumsPerArtist: 4, songsPerAlbum: 10, privateEvery: 25 });
  const loaded = await withTx(deps.db, async (tx) => {
    await repo.lockDemoLoad(tx);
    if (!(await repo.catalogIsEmpty(tx))) return false;
    await repo.bulkInsertCatalog(tx, catalog);
    return { activity: await deps.addActivity?.(tx, catalog) };
  });
  if (!loaded) return null;
  await deps.cache.invalidate(ALBUM_LISTS_TAG, SEARCH_TAG);

  const accounts: (DemoAccount & { displayName: string; artistId?: string })[] = [
    {
      email: 'admin@backbeat.example',
      password: 'demo-admin-pass',
      role: 'admin',
      displayName: 'Demo Admin',
    },
    {
      email: 'artist@backbeat.example',
      password: 'demo-artist-pass',
      role: 'artist',
      displayName: catalog.artists[0]!.name,
      artistId: catalog.artists[0]!.id,
    },
    {
      email: 'user@backbeat.example',
      password: 'demo-user-pass',
      role: 'user',
      displayName: 'Demo Listener',
    },
  ];
  for (const account of accounts) await deps.ensureAccount(account);
  return {
    artists: catalog.artists.length,
    albums: catalog.albums.length,
    songs: catalog.songs.length,
    accounts: accounts.map(({ email, password, role }) => ({ email, password, role })),
    ...(loaded.activity ? { activity: loaded.activity } : {}),
  };
}
