import { type CatalogPlan, FEED_USER_FOLLOWS } from './plan.js';
import { intBelow, type Random, randomStream } from './random.js';

/**
 * What users did: follows and listening events, drawn skewed (active users, popular albums
 * and songs) and only on what users may see, as the API would have let them.
 */

const DAY_MS = 86_400_000;
/** Album follows' share of all follows; the rest follow artists. */
const ALBUM_FOLLOW_SHARE = 0.9;
/** How far back listening history goes: the longest trending window. */
const PLAY_HISTORY_MS = 30 * DAY_MS;

export interface FollowRow {
  user: number;
  /** An album index (album follows) or an artist index (artist follows). */
  target: number;
  createdAt: number;
}

/** Uniform in [from, to], clamped so a span that closed (from > to) yields `to`. */
const between = (random: Random, from: number, to: number) => Math.min(to, from + random() * (to - from));

/** The listed albums the feed user follows: the most popular ones, each right after it appeared. */
export function feedUserAlbums(plan: CatalogPlan): number[] {
  const albums: number[] = [];
  for (let rank = 0; rank < plan.albums.length && albums.length < FEED_USER_FOLLOWS; rank++) {
    const album = plan.popularAlbums.atRank(rank);
    if (plan.albums[album]!.listed) albums.push(album);
  }
  return albums;
}

/**
 * Draws distinct (user, target) pairs until `count`, from skewed samplers; bounded, since a
 * tiny catalog may not have that many distinct pairs.
 */
function distinctFollows(
  count: number,
  targets: number,
  draw: () => { user: number; target: number } | undefined,
  taken: Set<number>,
): { user: number; target: number }[] {
  const out: { user: number; target: number }[] = [];
  for (let attempts = 0; out.length < count && attempts < count * 20; attempts++) {
    const pair = draw();
    if (!pair) continue;
    const key = pair.user * targets + pair.target;
    if (taken.has(key)) continue;
    taken.add(key);
    out.push(pair);
  }
  return out;
}

export function albumFollows(plan: CatalogPlan): FollowRow[] {
  const random = randomStream(plan.seed, 'album-follows');
  const albums = plan.albums.length;
  const taken = new Set<number>();
  // bench-user follows early: every later track of those albums is in its feed.
  const feed = feedUserAlbums(plan).map((album) => {
    taken.add(plan.feedUser * albums + album);
    return { user: plan.feedUser, target: album, createdAt: plan.albums[album]!.createdAt + 60_000 };
  });
  const wanted = Math.round(plan.spec.follows * ALBUM_FOLLOW_SHARE) - feed.length;
  const drawn = distinctFollows(
    wanted,
    albums,
    () => {
      const target = plan.popularAlbums.sample(random);
      return plan.albums[target]!.listed ? { user: plan.activeUsers.sample(random), target } : undefined;
    },
    taken,
  );
  return [
    ...feed,
    ...drawn.map(({ user, target }) => ({
      user,
      target,
      createdAt: between(
        random,
        Math.max(plan.albums[target]!.createdAt, plan.users[user]!.createdAt),
        plan.nowMs - 60_000,
      ),
    })),
  ];
}

export function artistFollows(plan: CatalogPlan): FollowRow[] {
  const random = randomStream(plan.seed, 'artist-follows');
  const wanted = plan.spec.follows - Math.round(plan.spec.follows * ALBUM_FOLLOW_SHARE);
  const drawn = distinctFollows(
    wanted,
    plan.artists.length,
    () => {
      const target = plan.popularArtists.sample(random);
      return plan.artists[target]!.isVisible ? { user: plan.activeUsers.sample(random), target } : undefined;
    },
    new Set(),
  );
  return drawn.map(({ user, target }) => ({
    user,
    target,
    createdAt: between(
      random,
      Math.max(plan.artists[target]!.createdAt, plan.users[user]!.createdAt),
      plan.nowMs - 60_000,
    ),
  }));
}

export interface PlayRow {
  user: number;
  song: number;
  event: 'play' | 'complete' | 'skip';
  positionMs: number;
  playedAt: number;
}

/**
 * Listening events over the last 30 days, more of them recently (a growing service), streamed
 * so five million never sit in memory at once. Popular albums get most plays and, within an
 * album, the first tracks more than the last; only listed albums are played.
 */
export function* plays(plan: CatalogPlan): Generator<PlayRow> {
  const random = randomStream(plan.seed, 'plays');
  for (let n = 0; n < plan.spec.plays; ) {
    const album = plan.albums[plan.popularAlbums.sample(random)]!;
    if (!album.listed) continue;
    const song = album.firstSong + Math.floor(album.songCount * random() ** 2);
    const { durationMs, createdAt } = plan.songs[song]!;
    const user = plan.activeUsers.sample(random);
    const earliest = Math.max(createdAt, plan.users[user]!.createdAt, plan.nowMs - PLAY_HISTORY_MS);
    const playedAt = plan.nowMs - 60_000 - (plan.nowMs - 60_000 - earliest) * random() ** 1.5;
    const roll = random();
    const event = roll < 0.6 ? 'play' : roll < 0.85 ? 'complete' : 'skip';
    const positionMs =
      event === 'play' ? 0 : event === 'complete' ? durationMs : intBelow(random, durationMs);
    n++;
    yield { user, song, event, positionMs, playedAt };
  }
}
