import type { AuthUser } from '../../platform/auth.js';
import type { Cache } from '../../platform/cache.js';
import type { Db } from '../../platform/db.js';
import { createAlbumsService } from './albums.service.js';
import { createArtistsService } from './artists.service.js';
import { isAdmin, listScope } from './catalog.access.js';
import { SEARCH_TAG } from './catalog.cache.js';
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

/** The service the routes use: one object, composed from the per-resource services. */
export function createCatalogService(deps: CatalogDeps) {
  const { db } = deps;
  const albums = createAlbumsService(deps);
  const artists = createArtistsService(deps, albums.listAlbums);
  const songs = createSongsService(deps);
  const searchIndex = createSearchIndex(db, deps.cache);

  /**
   * A plain search's pages from the search index (the rows read by id in one statement), or
   * undefined when it cannot answer.
   */
  async function fromIndex(q: string, window: Window, types: IndexedType[]) {
    const searcher = searchIndex.at(await deps.cache.stamp([SEARCH_TAG]));
    if (!searcher) return undefined;
    const words = plainQueryWords(q) ?? (await repo.queryWords(db, q));
    const pages = searcher({ q, words, ...window }, types);
    const idsOf = (type: IndexedType) => pages.get(type)?.ids ?? [];
    const rows = await repo.rowsByIds(db, {
      artist: idsOf('artist'),
      album: idsOf('album'),
      song: idsOf('song'),
    });
    const pageOf = <R>(type: IndexedType, found: R[]) => {
      const page = pages.get(type);
      return page && { rows: found, total: page.total };
    };
    return {
      artist: pageOf('artist', rows.artist),
      album: pageOf('album', rows.album),
      song: pageOf('song', rows.song),
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
          const { rows, total } = indexed?.album ?? (await repo.listAlbums(db, relevance));
          return { albums: { items: rows.map((r) => forViewer(toAlbumView(r), admin)), total } };
        },
        artist: async () => {
          const { indexed, relevance } = await matched;
          const { rows, total } = indexed?.artist ?? (await repo.listArtists(db, relevance));
          return { artists: { items: rows.map((r) => forViewer(toArtistView(r), admin)), total } };
        },
        song: async () => {
          const { indexed, relevance } = await matched;
          const { rows, total } = indexed?.song ?? (await repo.listSongs(db, relevance));
          return { songs: { items: rows.map((r) => forViewer(toSongView(r), admin)), total } };
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
