import type { DemoActivity, GeneratedCatalog } from './modules/catalog/index.js';
import { seededRandom } from './modules/catalog/index.js';
import { addDemoPlays, type DemoPlay } from './modules/discovery/index.js';
import { addDemoListeners } from './modules/identity/index.js';
import { addDemoFollows, type DemoFollows } from './modules/library/index.js';
import type { Tx } from './platform/db.js';

const LISTENERS = 30;
const DAY_MS = 86_400_000;
/** Plays fall in the last two weeks, so they count as recent and reach every trending window. */
const PLAY_DAYS = 14;
const FOLLOW_DAYS = 60;

/**
 * The demo catalog's listeners: a few dozen accounts (they cannot sign in) that follow albums
 * and artists and have played songs, so popularity, `sort=-popularity`, top albums and trending
 * mean something on a fresh start. Seeded, so every start makes the same activity, and written
 * with a few set-based statements (about 600 plays and 200 follows), so loading stays fast.
 *
 * Taste is skewed the way real listening is: albums get a fixed rank, and a listener picks an
 * album with weight 1 / rank, so a few albums are hits and most get a little attention.
 */
export async function addDemoActivity(
  tx: Tx,
  catalog: GeneratedCatalog,
  now = new Date(),
): Promise<DemoActivity> {
  const random = seededRandom(20_261_130);
  const listed = catalog.albums.filter((album) => album.listed);
  const songsOf = new Map<string, string[]>();
  for (const song of catalog.songs) {
    if (!song.listed || !song.id) continue;
    songsOf.set(song.albumId, [...(songsOf.get(song.albumId) ?? []), song.id]);
  }
  const ranked = shuffled(listed, random);
  const pickAlbum = weightedPicker(
    ranked.map((_, rank) => 1 / (rank + 1)),
    random,
  );
  const at = (days: number) => new Date(now.getTime() - Math.floor(random() * days * DAY_MS));

  const listeners = await addDemoListeners(tx, LISTENERS);
  const follows: DemoFollows = { albums: [], artists: [] };
  const plays: DemoPlay[] = [];
  for (const userId of listeners) {
    const albums = new Set<number>();
    const followCount = 2 + Math.floor(random() * 7);
    while (albums.size < followCount) albums.add(pickAlbum());
    const artists = new Set<string>();
    for (const index of albums) {
      const album = ranked[index]!;
      follows.albums.push({ userId, albumId: album.id!, createdAt: at(FOLLOW_DAYS) });
      if (artists.size < 2) artists.add(album.artistId);
    }
    for (const artistId of artists) follows.artists.push({ userId, artistId, createdAt: at(FOLLOW_DAYS) });

    const heard = new Set<string>();
    const playCount = 10 + Math.floor(random() * 21);
    for (let attempt = 0; heard.size < playCount && attempt < playCount * 3; attempt++) {
      const songs = songsOf.get(ranked[pickAlbum()]!.id!) ?? [];
      const songId = songs[Math.floor(random() * songs.length)];
      if (!songId || heard.has(songId)) continue;
      heard.add(songId);
      plays.push({ userId, songId, playedAt: at(PLAY_DAYS) });
    }
  }
  await addDemoFollows(tx, follows);
  await addDemoPlays(tx, plays, now);
  return {
    listeners: listeners.length,
    follows: follows.albums.length + follows.artists.length,
    plays: plays.length,
  };
}

/** A seeded Fisher-Yates shuffle (a copy). */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Picks an index with probability proportional to its weight. */
function weightedPicker(weights: readonly number[], random: () => number): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (const weight of weights) {
    total += weight;
    cumulative.push(total);
  }
  return () => {
    const target = random() * total;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (cumulative[mid]! > target) high = mid;
      else low = mid + 1;
    }
    return low;
  };
}
