import { albumTitle, GENRES, labelName, songTitle, uniqueArtistName } from './names.js';
import {
  chance,
  intBelow,
  permutation,
  type Random,
  randomStream,
  roughNormal,
  uuidv7At,
  ZipfSampler,
} from './random.js';

export type Size = 'S' | 'M' | 'L';

export interface SizeSpec {
  artists: number;
  albums: number;
  songs: number;
  users: number;
  follows: number;
  plays: number;
}

export const SIZES: Record<Size, SizeSpec> = {
  S: { artists: 200, albums: 1_000, songs: 10_000, users: 1_000, follows: 10_000, plays: 50_000 },
  M: { artists: 2_000, albums: 10_000, songs: 100_000, users: 10_000, follows: 100_000, plays: 500_000 },
  L: {
    artists: 10_000,
    albums: 100_000,
    songs: 1_000_000,
    users: 100_000,
    follows: 1_000_000,
    plays: 5_000_000,
  },
};

/** Every generated account signs in with this (the hash is computed once and shared). */
export const BENCH_PASSWORD = 'bench-password-2026';
export const BENCH_ACCOUNTS = {
  admin: 'bench-admin@bench.test',
  /** Follows FEED_USER_FOLLOWS albums early on, so its feed has thousands of items. */
  user: 'bench-user@bench.test',
  artist: 'bench-artist@bench.test',
} as const;
export const FEED_USER_FOLLOWS = 1_000;
/** Ordinary accounts are user-000001@bench.test and up. */
export const userEmail = (n: number) => `user-${String(n).padStart(6, '0')}@bench.test`;

const DAY_MS = 86_400_000;
const CATALOG_HISTORY_MS = 3 * 365 * DAY_MS;
const FIRST_YEAR = 1970;

export interface ArtistPlan {
  id: string;
  name: string;
  genres: string[];
  isVisible: boolean;
  careerStart: number;
  createdAt: number;
}

export interface AlbumPlan {
  id: string;
  artist: number;
  title: string;
  genre: string;
  releaseYear: number;
  releaseDate: string | null;
  label: string | null;
  coverUrl: string | null;
  isPublic: boolean;
  isVisible: boolean;
  /** What anonymous callers see: public, visible, by a visible artist. */
  listed: boolean;
  createdAt: number;
  /** Index of its first song in `songs`; an album's songs are contiguous, in track order. */
  firstSong: number;
  songCount: number;
}

export interface SongPlan {
  id: string;
  album: number;
  trackNumber: number;
  title: string;
  durationMs: number;
  genre: string;
  explicit: boolean;
  createdAt: number;
}

export interface UserPlan {
  id: string;
  email: string;
  displayName: string;
  role: 'user' | 'artist' | 'admin';
  artist: number | null;
  createdAt: number;
}

export interface CatalogPlan {
  size: Size;
  spec: SizeSpec;
  seed: number;
  nowMs: number;
  artists: ArtistPlan[];
  albums: AlbumPlan[];
  songs: SongPlan[];
  users: UserPlan[];
  /** Index in `users` of bench-user@bench.test. */
  feedUser: number;
  /** Popularity ranks, shared by every module so follows and plays favour the same hits. */
  popularArtists: ZipfSampler;
  popularAlbums: ZipfSampler;
  activeUsers: ZipfSampler;
}

/**
 * Genres by share: a few dominate (rock, pop), the rest form a tail. Exponent 0.8 gives the top
 * genre about a fifth of the albums, close to streaming-service catalogs.
 */
function genrePicker(random: Random): () => string {
  const sampler = new ZipfSampler(Int32Array.from(GENRES.keys()), 0.8);
  return () => GENRES[sampler.sample(random)]!;
}

/** Release years lean recent (more music is released every decade), from 1970 to this year. */
function careerStartYear(random: Random, thisYear: number): number {
  return thisYear - Math.floor((thisYear - FIRST_YEAR) * random() ** 1.7);
}

function planArtists(seed: number, spec: SizeSpec, nowMs: number, thisYear: number): ArtistPlan[] {
  const random = randomStream(seed, 'artists');
  const nextGenre = genrePicker(random);
  const taken = new Set<string>();
  return Array.from({ length: spec.artists }, () => {
    const createdAt = nowMs - CATALOG_HISTORY_MS + random() * (CATALOG_HISTORY_MS - 60 * DAY_MS);
    const primary = nextGenre();
    const secondary = chance(random, 0.3) ? nextGenre() : primary;
    return {
      id: uuidv7At(random, createdAt),
      name: uniqueArtistName(random, taken),
      genres: secondary === primary ? [primary] : [primary, secondary],
      isVisible: !chance(random, 0.01),
      careerStart: careerStartYear(random, thisYear),
      createdAt,
    };
  });
}

/**
 * Songs per album: exponential-ish around the mean (singles and EPs, a few 30-track
 * compilations), scaled so the total is exactly the size's song count.
 */
function songCounts(random: Random, albums: number, songs: number): Int32Array {
  const weights = Array.from({ length: albums }, () => 0.25 - Math.log(1 - random()));
  const total = weights.reduce((a, b) => a + b, 0);
  const counts = Int32Array.from(weights, (w) => Math.max(1, Math.floor((w / total) * songs)));
  let missing = songs - counts.reduce((a, b) => a + b, 0);
  for (let i = intBelow(random, albums); missing !== 0; i = (i + 1) % albums) {
    if (missing > 0) {
      counts[i]!++;
      missing--;
    } else if (counts[i]! > 1) {
      counts[i]!--;
      missing++;
    }
  }
  return counts;
}

function planAlbums(
  seed: number,
  spec: SizeSpec,
  artists: ArtistPlan[],
  popularArtists: ZipfSampler,
  nowMs: number,
  thisYear: number,
): AlbumPlan[] {
  const random = randomStream(seed, 'albums');
  const nextGenre = genrePicker(random);
  const counts = songCounts(random, spec.albums, spec.songs);
  let firstSong = 0;
  return Array.from({ length: spec.albums }, (_, i) => {
    // Every artist has at least one album; the rest go mostly to the popular ones.
    const artist = i < artists.length ? i : popularArtists.sample(random);
    const by = artists[artist]!;
    const createdAt = by.createdAt + random() * (nowMs - 30 * DAY_MS - by.createdAt);
    const releaseYear = Math.min(thisYear, by.careerStart + Math.floor(random() * 15));
    const month = 1 + intBelow(random, 12);
    const day = 1 + intBelow(random, 28);
    const isPublic = !chance(random, 0.02);
    const isVisible = !chance(random, 0.01);
    const album: AlbumPlan = {
      id: uuidv7At(random, createdAt),
      artist,
      title: albumTitle(random),
      genre: chance(random, 0.8) ? by.genres[0]! : nextGenre(),
      releaseYear,
      releaseDate: chance(random, 0.7)
        ? `${releaseYear}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`
        : null,
      label: labelName(random),
      coverUrl: chance(random, 0.8) ? `https://img.bench.test/albums/${i + 1}.jpg` : null,
      isPublic,
      isVisible,
      listed: isPublic && isVisible && by.isVisible,
      createdAt,
      firstSong,
      songCount: counts[i]!,
    };
    firstSong += album.songCount;
    return album;
  });
}

const EXPLICIT_SHARE: Record<string, number> = { 'Hip-Hop': 0.45, Metal: 0.15, Rock: 0.1 };
const LONG_FORM = new Set(['Classical', 'Ambient', 'Jazz']);

function planSongs(seed: number, albums: AlbumPlan[], nowMs: number): SongPlan[] {
  const random = randomStream(seed, 'songs');
  const nextGenre = genrePicker(random);
  const songs: SongPlan[] = [];
  albums.forEach((album, a) => {
    // Tracks arrive over days after the album, so followers hear of later ones (notifications).
    const gapMs = random() * 2 * DAY_MS;
    for (let t = 1; t <= album.songCount; t++) {
      const createdAt = Math.min(nowMs - 60_000, album.createdAt + (t - 1) * gapMs + random() * 60_000);
      const genre = chance(random, 0.95) ? album.genre : nextGenre();
      const mean = LONG_FORM.has(genre) ? 420_000 : 215_000;
      songs.push({
        id: uuidv7At(random, createdAt),
        album: a,
        trackNumber: t,
        title: songTitle(random),
        durationMs: Math.round(Math.min(1_800_000, Math.max(45_000, roughNormal(random, mean, mean / 3)))),
        genre,
        explicit: chance(random, EXPLICIT_SHARE[genre] ?? 0.04),
        createdAt,
      });
    }
  });
  return songs;
}

function planUsers(seed: number, spec: SizeSpec, artists: ArtistPlan[], topArtist: number, nowMs: number) {
  const random = randomStream(seed, 'users');
  const founded = nowMs - CATALOG_HISTORY_MS - DAY_MS;
  const known: UserPlan[] = [
    { email: BENCH_ACCOUNTS.admin, displayName: 'Bench Admin', role: 'admin', artist: null },
    { email: BENCH_ACCOUNTS.user, displayName: 'Bench User', role: 'user', artist: null },
    {
      email: BENCH_ACCOUNTS.artist,
      displayName: artists[topArtist]!.name,
      role: 'artist',
      artist: topArtist,
    },
  ].map((u) => ({ ...u, id: uuidv7At(random, founded), createdAt: founded }) as UserPlan);
  const listeners = Array.from({ length: spec.users }, (_, i): UserPlan => {
    const createdAt = nowMs - CATALOG_HISTORY_MS + random() * (CATALOG_HISTORY_MS - DAY_MS);
    return {
      id: uuidv7At(random, createdAt),
      email: userEmail(i + 1),
      displayName: `Listener ${i + 1}`,
      role: 'user',
      artist: null,
      createdAt,
    };
  });
  return { users: [...known, ...listeners], feedUser: 1 };
}

/** The whole catalog and its users, drawn from `seed`; the same seed and day give the same rows. */
export function planCatalog(size: Size, seed: number, nowMs: number): CatalogPlan {
  const spec = SIZES[size];
  const thisYear = new Date(nowMs).getUTCFullYear();
  const artists = planArtists(seed, spec, nowMs, thisYear);
  const ranks = randomStream(seed, 'popularity');
  const popularArtists = new ZipfSampler(permutation(ranks, spec.artists), 0.9);
  const albums = planAlbums(seed, spec, artists, popularArtists, nowMs, thisYear);
  const songs = planSongs(seed, albums, nowMs);
  const { users, feedUser } = planUsers(seed, spec, artists, popularArtists.atRank(0), nowMs);
  return {
    size,
    spec,
    seed,
    nowMs,
    artists,
    albums,
    songs,
    users,
    feedUser,
    popularArtists,
    popularAlbums: new ZipfSampler(permutation(ranks, albums.length), 1),
    activeUsers: new ZipfSampler(permutation(ranks, users.length), 0.8),
  };
}

/** What the load suite needs to know about a dataset to build its requests. */
export interface Fixtures {
  password: string;
  accounts: typeof BENCH_ACCOUNTS;
  /** Ordinary accounts: userEmail(1) .. userEmail(users). */
  users: number;
  feedUserFollows: number;
  genres: string[];
  years: { from: number; to: number };
  /** Listed albums, most popular first (so a Zipf draw over the list favours hits). */
  albumIds: string[];
  /** Listed artists with at least one listed album. */
  artistIds: string[];
  /** Songs of listed albums, most popular albums first, in track order. */
  songIds: string[];
  /** Artist names and album titles of popular albums; the load suite searches them with typos. */
  searchTerms: string[];
}

const FIXTURE_LIMIT = 2_000;

export function fixturesOf(plan: CatalogPlan): Fixtures {
  const albums: AlbumPlan[] = [];
  for (let rank = 0; rank < plan.albums.length && albums.length < FIXTURE_LIMIT; rank++) {
    const album = plan.albums[plan.popularAlbums.atRank(rank)]!;
    if (album.listed) albums.push(album);
  }
  const songs = albums
    .flatMap((a) => plan.songs.slice(a.firstSong, a.firstSong + a.songCount).map((s) => s.id))
    .slice(0, FIXTURE_LIMIT);
  const artistsWithAlbums = [...new Set(albums.map((a) => a.artist))];
  const searchTerms = [
    ...new Set(albums.slice(0, 500).flatMap((a) => [plan.artists[a.artist]!.name, a.title])),
  ];
  const years = plan.albums.reduce(
    (span, a) => ({ from: Math.min(span.from, a.releaseYear), to: Math.max(span.to, a.releaseYear) }),
    { from: Number.POSITIVE_INFINITY, to: 0 },
  );
  return {
    password: BENCH_PASSWORD,
    accounts: BENCH_ACCOUNTS,
    users: plan.spec.users,
    feedUserFollows: Math.min(FEED_USER_FOLLOWS, plan.albums.filter((a) => a.listed).length),
    genres: [...GENRES],
    years,
    albumIds: albums.map((a) => a.id),
    artistIds: artistsWithAlbums.map((i) => plan.artists[i]!.id),
    songIds: songs,
    searchTerms,
  };
}
