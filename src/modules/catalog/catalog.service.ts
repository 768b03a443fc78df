import { LRUCache } from 'lru-cache';
import type { AuthUser } from '../../platform/auth.js';
import type { Cache } from '../../platform/cache.js';
import type { Db } from '../../platform/db.js';
import { createAlbumsService } from './albums.service.js';
import { createArtistsService } from './artists.service.js';
import { isAdmin, listScope } from './catalog.access.js';
import { albumTag, artistTag, SEARCH_TAG } from './catalog.cache.js';
import type { Window } from './catalog.input.js';
import * as repo from './catalog.queries.js';
import type { SearchType } from './catalog.schemas.js';
import {
  type AlbumView,
  type ArtistView,
  forViewer,
  type PlaylistSummaryView,
  type SongView,
  toAlbumView,
  toArtistView,
  toSongView,
} from './catalog.views.js';
import { createSearchIndex, type IndexedType, plainQueryWords } from './search-index.js';
import { createSongsService } from './songs.service.js';

/** Playlist search, supplied by the playlists module; without it search finds no playlists. */
export type PlaylistSearch = (
  caller: AuthUser | null,
  query: { q: string; limit: number; offset: number },
) => Promise<{ items: PlaylistSummaryView[]; total: number }>;

export interface CatalogDeps {
  db: Db;
  cache: Cache;
  searchPlaylists?: PlaylistSearch;
  /** From the following module, for `followedByMe` on album detail; absent: never followed. */
  isFollowingAlbum?: (userId: string, albumId: string) => Promise<boolean>;
  /** Decides whether a `publishAt` is past (the job queue's clock); default the system's. */
  clock?: () => Date;
}

/** Lower-cased and space-collapsed: matching ignores case, so cache keys should too. */
/**
 * A search as matched: lower case, single spaces, the first MAX_QUERY_WORDS words. Forty short
 * words cost eleven times one word in trigram and prefix matching; eight cost a few times.
 */
const normaliseQuery = (q: string | undefined) =>
  q?.trim().split(/\s+/).slice(0, repo.MAX_QUERY_WORDS).join(' ').toLowerCase() || undefined;

/** Songs whose album `viewsByIds` remembers (about 100 bytes each). */
const SONG_ALBUMS_KEPT = 200_000;

type SearchView = ArtistView | AlbumView | SongView;
type SearchRowItem = { type: IndexedType; id: string; key: string; tags: string[]; albumId?: string };

/**
 * Whether a loaded view may be kept under its item's tags: a song only under its own album's
 * (a song whose album was not known yet has no tags, and is read again next time).
 */
const keepFound = (item: SearchRowItem, view: SearchView | null) =>
  item.type !== 'song' ||
  (item.albumId !== undefined && (view === null || (view as SongView).album.id === item.albumId));

const viewsOf = <R, V>({ rows, total }: { rows: R[]; total: number }, toView: (row: R) => V) => ({
  items: rows.map(toView),
  total,
});

/** The service the routes use: one object, composed from the per-resource services. */
export function createCatalogService(deps: CatalogDeps) {
  const { db } = deps;
  const albums = createAlbumsService(deps);
  const artists = createArtistsService(deps, albums.listAlbums);
  const songs = createSongsService(deps);
  const searchIndex = createSearchIndex(db, deps.cache);

  /** The album of each song seen by a search: a song's cached view depends on its album's tag. */
  const albumOfSong = new LRUCache<string, string>({ max: SONG_ALBUMS_KEPT });

  /**
   * The views of a search page's rows, from the cache where it holds them under the tags that
   * keep the artist and album pages current (every change to what a view shows bumps them:
   * names, counters, covers, audio, visibility), the rest read by id in one statement. A song
   * is cached from the second time a search finds it: the first read tells its album.
   */
  async function viewsByIds(ids: Record<IndexedType, string[]>): Promise<Record<IndexedType, SearchView[]>> {
    const item = (type: IndexedType, id: string, tags: string[], albumId?: string): SearchRowItem => ({
      type,
      id,
      key: `catalog:found:${type}:${id}`,
      tags,
      albumId,
    });
    const items = [
      ...ids.artist.map((id) => item('artist', id, [artistTag(id)])),
      ...ids.album.map((id) => item('album', id, [albumTag(id)])),
      ...ids.song.map((id) => {
        const albumId = albumOfSong.get(id);
        return item('song', id, albumId ? [albumTag(albumId)] : [], albumId);
      }),
    ];
    const views = await deps.cache.readMany<SearchView | null, SearchRowItem>(
      items,
      async (missed) => {
        const wanted: Record<IndexedType, string[]> = { artist: [], album: [], song: [] };
        for (const i of missed) wanted[items[i]!.type].push(items[i]!.id);
        const rows = await repo.rowsByIds(db, wanted);
        const found = new Map<string, SearchView>();
        for (const row of rows.artist) found.set(row.id, toArtistView(row));
        for (const row of rows.album) found.set(row.id, toAlbumView(row));
        for (const row of rows.song) {
          albumOfSong.set(row.id, row.albumId);
          found.set(row.id, toSongView(row));
        }
        return missed.map((i) => found.get(items[i]!.id) ?? null);
      },
      keepFound,
    );
    const byType: Record<IndexedType, SearchView[]> = { artist: [], album: [], song: [] };
    views.forEach((view, i) => {
      if (view) byType[items[i]!.type].push(view);
    });
    return byType;
  }

  /**
   * A plain search's pages from the search index (the rows' views from `viewsByIds`), or
   * undefined when it cannot answer.
   */
  async function fromIndex(q: string, window: Window, types: IndexedType[]) {
    const searcher = searchIndex.at(await deps.cache.stamp([SEARCH_TAG]));
    if (!searcher) return undefined;
    const words = plainQueryWords(q) ?? (await repo.queryWords(db, q));
    const pages = searcher({ q, words, ...window }, types);
    const views = await viewsByIds({
      artist: pages.get('artist')?.ids ?? [],
      album: pages.get('album')?.ids ?? [],
      song: pages.get('song')?.ids ?? [],
    });
    const pageOf = <V>(type: IndexedType) => {
      const page = pages.get(type);
      return page && { items: views[type] as V[], total: page.total };
    };
    return {
      artist: pageOf<ArtistView>('artist'),
      album: pageOf<AlbumView>('album'),
      song: pageOf<SongView>('song'),
    };
  }

  return {
    ...artists,
    ...albums,
    ...songs,
    searchIndex,

    // ------------------------------------------------------------------ search
    /**
     * Call after a committed change, made outside this service, to names or to what is listed
     * (the music folder import, scheduled releases): what search finds changed.
     */
    invalidateSearch(): Promise<void> {
      return deps.cache.invalidate(SEARCH_TAG);
    },

    /** Each requested type is one relevance-ordered page; playlists come from `searchPlaylists`. */
    async search(caller: AuthUser | null, query: { q: string; types: SearchType[] } & Window) {
      const scope = listScope(caller, undefined);
      const admin = isAdmin(caller);
      const q = normaliseQuery(query.q) ?? '';
      const window = { limit: query.limit, offset: query.offset };
      const types = [...new Set(query.types)];
      const catalogTypes = types.filter((type): type is IndexedType => type !== 'playlist');
      // What users see, by relevance: the search index's answer when it has one, then the
      // page's rows by id. Otherwise one lexicon lookup serves every type searched. Playlists
      // need neither, and run meanwhile.
      const matched = (async () => {
        const indexed =
          q && scope.kind === 'listed' && catalogTypes.length
            ? await fromIndex(q, window, catalogTypes)
            : undefined;
        const search = !indexed && q && catalogTypes.length ? await repo.searchQuery(db, q) : undefined;
        return { indexed, relevance: { scope, q, search, sort: 'relevance', ...window } as const };
      })();
      const searches = {
        album: async () => {
          const { indexed, relevance } = await matched;
          const { items, total } =
            indexed?.album ?? viewsOf(await repo.listAlbums(db, relevance), toAlbumView);
          return { albums: { items: items.map((v) => forViewer(v, admin)), total } };
        },
        artist: async () => {
          const { indexed, relevance } = await matched;
          const { items, total } =
            indexed?.artist ?? viewsOf(await repo.listArtists(db, relevance), toArtistView);
          return { artists: { items: items.map((v) => forViewer(v, admin)), total } };
        },
        song: async () => {
          const { indexed, relevance } = await matched;
          const { items, total } = indexed?.song ?? viewsOf(await repo.listSongs(db, relevance), toSongView);
          return { songs: { items: items.map((v) => forViewer(v, admin)), total } };
        },
        playlist: async () => ({
          playlists: deps.searchPlaylists
            ? await deps.searchPlaylists(caller, { q, ...window })
            : { items: [], total: 0 },
        }),
      } satisfies Record<SearchType, () => Promise<object>>;
      // The types are independent: on PostgreSQL they run at once on separate connections.
      const result = Object.assign({}, ...(await Promise.all(types.map((type) => searches[type]()))));
      return result as Partial<{
        albums: { items: AlbumView[]; total: number };
        artists: { items: ArtistView[]; total: number };
        songs: { items: SongView[]; total: number };
        playlists: { items: PlaylistSummaryView[]; total: number };
      }>;
    },
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;

export { normaliseQuery };
