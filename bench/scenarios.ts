import type { Request } from 'autocannon';
import { withTypo } from './dataset/names.js';
import { type Fixtures, userEmail } from './dataset/plan.js';
import { intBelow, type Random, randomStream, ZipfSampler } from './dataset/random.js';

/** How a scenario's requests vary, which decides how much the app's cache can help. */
export type RequestMix =
  | 'same' // one request repeated: after the first, a cached endpoint answers from its cache
  | 'varied' // a new query every request: no cache can help
  | 'cycled' // a fixed set of distinct requests, in turn: cached after the first pass
  | 'skewed' // drawn popular-first with repeats, like real traffic
  | 'write'; // changes data on every request

export interface Scenario {
  key: string;
  title: string;
  mix: RequestMix;
  /** The endpoint keeps its answers in the app's cache (issues 3 and 6), so repeats are hits. */
  cachedByApp: boolean;
  /** Statuses that count as success. */
  expect: number[];
  /** The cycle of requests each connection repeats (autocannon's `requests`). */
  requests: Request[];
}

export interface ScenarioInputs {
  fixtures: Fixtures;
  seed: number;
  /** Access token of bench-user@bench.test (follows 1,000 albums). */
  feedToken: string;
  /** Access tokens of a few ordinary accounts that do the writing. */
  writerTokens: string[];
}

export const API = '/api/v1';
export const CACHED_ALBUM_PAGE = `${API}/albums?limit=20`;

const json = (token?: string): Record<string, string> => ({
  'content-type': 'application/json',
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/**
 * Visits 0..n-1 in a scattered order without repeating until all n were sent: consecutive
 * requests differ in every part of the query, and none repeats within a run shorter than n.
 */
function scatter(n: number): () => number {
  const stride = [7919, 104_729, 1_299_709].find((p) => gcd(p, n) === 1) ?? 1;
  let i = 0;
  return () => (i++ * stride) % n;
}

/** A request whose path (and more) is rebuilt for every send. */
const dynamic = (build: (request: Request, context: Record<string, unknown>) => Request): Request => ({
  setupRequest: build,
});

/** A GET whose path is drawn anew for every send. */
const getEach = (path: () => string): Request =>
  dynamic((request) => ({ ...request, method: 'GET', path: path() }));

const popularFirst = (n: number) =>
  new ZipfSampler(
    Int32Array.from({ length: n }, (_, i) => i),
    1,
  );

export function buildScenarios({ fixtures, seed, feedToken, writerTokens }: ScenarioInputs): Scenario[] {
  const random: Random = randomStream(seed, 'load');
  const albums = popularFirst(fixtures.albumIds.length);
  const songs = popularFirst(fixtures.songIds.length);
  const terms = popularFirst(fixtures.searchTerms.length);
  let writer = 0;
  const nextWriter = () => writerTokens[writer++ % writerTokens.length]!;

  const sorts = ['releaseYear', 'title', 'createdAt', 'popularity', 'songCount', 'followerCount'].flatMap(
    (f) => [f, `-${f}`],
  );
  const spans = [2, 5, 10, 25];
  const years = fixtures.years.to - fixtures.years.from + 1;
  const filtered = scatter(fixtures.genres.length * years * spans.length * sorts.length);

  const topAlbumQueries = [undefined, ...fixtures.genres].flatMap((genre) =>
    Array.from(
      { length: 100 },
      (_, i) => `limit=${i + 1}${genre ? `&genre=${encodeURIComponent(genre)}` : ''}`,
    ),
  );
  const topAlbums = scatter(topAlbumQueries.length);
  const timelines = scatter(fixtures.artistIds.length);

  return [
    {
      key: 'album-page-cached',
      title: 'Album list page, cached (same first page)',
      mix: 'same',
      cachedByApp: true,
      expect: [200],
      requests: [{ method: 'GET', path: CACHED_ALBUM_PAGE }],
    },
    {
      key: 'album-page-filtered',
      title: 'Album list, filtered and sorted (genre, years, sort; uncached)',
      mix: 'varied',
      cachedByApp: true,
      expect: [200],
      requests: [
        getEach(() => {
          let i = filtered();
          const sort = sorts[i % sorts.length]!;
          i = Math.floor(i / sorts.length);
          const span = spans[i % spans.length]!;
          i = Math.floor(i / spans.length);
          const from = fixtures.years.from + (i % years);
          const genre = fixtures.genres[Math.floor(i / years)]!;
          const to = Math.min(fixtures.years.to, from + span);
          const query = `genre=${encodeURIComponent(genre)}&yearFrom=${from}&yearTo=${to}&sort=${sort}&limit=20`;
          return `${API}/albums?${query}`;
        }),
      ],
    },
    {
      key: 'search-typo',
      title: 'Search with a typo (artist names and album titles, one slip each)',
      mix: 'varied',
      cachedByApp: false,
      expect: [200],
      requests: [
        getEach(() => {
          const q = withTypo(random, fixtures.searchTerms[terms.sample(random)]!);
          return `${API}/search?q=${encodeURIComponent(q)}`;
        }),
      ],
    },
    {
      key: 'album-detail',
      title: 'Album detail with its songs (popular albums more often)',
      mix: 'skewed',
      cachedByApp: true,
      expect: [200],
      requests: [getEach(() => `${API}/albums/${fixtures.albumIds[albums.sample(random)]}`)],
    },
    {
      key: 'top-albums',
      title: 'Top albums by followers (every genre and limit in turn)',
      mix: 'cycled',
      cachedByApp: true,
      expect: [200],
      requests: [getEach(() => `${API}/stats/top-albums?${topAlbumQueries[topAlbums()]}`)],
    },
    {
      key: 'genre-stats',
      title: 'Genre statistics',
      mix: 'same',
      cachedByApp: true,
      expect: [200],
      requests: [{ method: 'GET', path: `${API}/stats/genres` }],
    },
    {
      key: 'artist-timeline',
      title: 'Artist timeline (albums per year, every artist in turn)',
      mix: 'cycled',
      cachedByApp: true,
      expect: [200],
      requests: [getEach(() => `${API}/stats/artists/${fixtures.artistIds[timelines()]}/timeline`)],
    },
    {
      key: 'notification-feed',
      title: `Notification feed of a user following ${fixtures.feedUserFollows.toLocaleString('en-US')} albums`,
      mix: 'same',
      // Cached per user since issue 18's second round: a repeat is a hit until a followed album changes.
      cachedByApp: true,
      expect: [200],
      requests: [{ method: 'GET', path: `${API}/me/notifications?limit=20`, headers: bearer(feedToken) }],
    },
    {
      key: 'follow-mix',
      title: 'Follow then unfollow an album (write mix, popular albums more often)',
      mix: 'write',
      cachedByApp: false,
      expect: [204],
      requests: [
        dynamic((request, context) => {
          context.token = nextWriter();
          context.album = fixtures.albumIds[albums.sample(random)];
          const path = `${API}/me/following/albums/${context.album}`;
          return { ...request, method: 'PUT', path, headers: bearer(context.token as string) };
        }),
        dynamic((request, context) => ({
          ...request,
          method: 'DELETE',
          path: `${API}/me/following/albums/${context.album}`,
          headers: bearer(context.token as string),
        })),
      ],
    },
    {
      key: 'play-ingest',
      title: 'Play ingestion (play, complete and skip events, popular songs more often)',
      mix: 'write',
      cachedByApp: false,
      expect: [202],
      requests: [
        dynamic((request) => {
          const roll = random();
          const event = roll < 0.7 ? 'play' : roll < 0.9 ? 'complete' : 'skip';
          return {
            ...request,
            method: 'POST',
            path: `${API}/songs/${fixtures.songIds[songs.sample(random)]}/plays`,
            headers: json(nextWriter()),
            body: JSON.stringify({ event, positionMs: intBelow(random, 180_000) }),
          };
        }),
      ],
    },
    {
      key: 'login',
      title: 'Sign-in (argon2id password check, new session)',
      mix: 'write',
      cachedByApp: false,
      expect: [200],
      requests: [
        dynamic((request) => ({
          ...request,
          method: 'POST',
          path: `${API}/auth/login`,
          headers: json(),
          body: JSON.stringify({
            email: userEmail(1 + intBelow(random, fixtures.users)),
            password: fixtures.password,
          }),
        })),
      ],
    },
  ];
}
