import type { FastifyBaseLogger } from 'fastify';
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
import { createSearchIndex, type IndexedPage, type IndexedType, plainQueryWords } from './search-index.js';
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
  /** Where the search index reports its builds. */
  log?: Pick<FastifyBaseLogger, 'info' | 'warn'>;
}

/** Lower-cased and space-collapsed: matching ignores case, so cache keys should too. */
/**
 * A search as matched: lower case, single spaces, the first MAX_QUERY_WORDS words. Forty short
 * words cost eleven times one word in trigram and prefix matching; eight cost a few times.
 */
const normaliseQuery = (q: string | undefined) =>
  q?.trim().split(/\s+/).slice(0, repo.MAX_QUERY_WORDS).join(' ').toLowerCase() || undefined;

type SearchView = ArtistView | AlbumView | SongView;
type SearchRowItem = {
  type: IndexedType;
  id: string;
  key: string;
  tags: string[];
  albumId?: string;
  keep?: false;
};

/**
 * How a search hands out its rows: `name` tells the cached forms apart (a row's form depends on
 * the viewer); `row` makes one from a catalog view, `playlist` from a playlist's.
 */
export interface SearchForm<R> {
  name: string;
  row: (type: IndexedType, view: SearchView) => R;
  playlist: (view: PlaylistSummaryView) => R;
}

/** Each type's item as the JSON the caller is sent (the route's serializers for the item schemas). */
export type SearchEncoders = Record<SearchType, (item: object) => string>;

/** A search's pages: one per type asked for. */
export interface SearchPages<A, B = A, S = A, P = A> {
  albums?: { items: A[]; total: number };
  artists?: { items: B[]; total: number };
  songs?: { items: S[]; total: number };
  playlists?: { items: P[]; total: number };
}

/** The views a user (or an admin) sees. */
const viewsFor = (admin: boolean): SearchForm<SearchView | PlaylistSummaryView> => ({
  name: admin ? 'view-admin' : 'view',
  row: (_type, view) => forViewer(view, admin),
  playlist: (view) => view,
});

/**
 * The JSON a user (or an admin) is sent for each row: a page of a search is then its rows'
 * cached JSON joined, with nothing to build or serialise again.
 */
const encodedFor = (admin: boolean, encoders: SearchEncoders): SearchForm<string> => ({
  name: admin ? 'json-admin' : 'json',
  row: (type, view) => encoders[type](forViewer(view, admin)),
  playlist: encoders.playlist,
});

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
  const searchIndex = createSearchIndex(db, deps.cache, { log: deps.log });

  /**
   * A search page's rows in `form`, from the cache where it holds them under the tags that keep
   * the artist and album pages current (every change to what a view shows bumps them: names,
   * counters, covers, audio, visibility; a song's, its album's), the rest read by id in one
   * statement.
   */
  async function rowsOf<R>(
    pages: Map<IndexedType, IndexedPage>,
    form: SearchForm<R>,
  ): Promise<Record<IndexedType, R[]>> {
    const item = (type: IndexedType, id: string, tagged: string, albumId?: string): SearchRowItem => ({
      type,
      id,
      key: `catalog:found:${form.name}:${type}:${id}`,
      tags: [type === 'artist' ? artistTag(tagged) : albumTag(tagged)],
      albumId,
    });
    const songs = pages.get('song');
    const items = [
      ...(pages.get('artist')?.ids.map((id) => item('artist', id, id)) ?? []),
      ...(pages.get('album')?.ids.map((id) => item('album', id, id)) ?? []),
      ...(songs?.ids.map((id, i) => item('song', id, songs.albumIds![i]!, songs.albumIds![i])) ?? []),
    ];
    const found = await deps.cache.readMany<R | null, SearchRowItem>(
      items,
      async (missed) => {
        const wanted: Record<IndexedType, string[]> = { artist: [], album: [], song: [] };
        for (const i of missed) wanted[items[i]!.type].push(items[i]!.id);
        const rows = await repo.rowsByIds(db, wanted);
        const views = new Map<string, SearchView>();
        for (const row of rows.artist) views.set(row.id, toArtistView(row));
        for (const row of rows.album) views.set(row.id, toAlbumView(row));
        for (const row of rows.song) views.set(row.id, toSongView(row));
        return missed.map((i) => {
          const found = items[i]!;
          const view = views.get(found.id);
          if (!view) return null;
          // A song is kept under its own album's tag only: the index's album is as of its build.
          if (found.type === 'song' && (view as SongView).album.id !== found.albumId) found.keep = false;
          return form.row(found.type, view);
        });
      },
      (found) => found.keep !== false,
    );
    const byType: Record<IndexedType, R[]> = { artist: [], album: [], song: [] };
    found.forEach((row, i) => {
      if (row !== null) byType[items[i]!.type].push(row);
    });
    return byType;
  }

  /**
   * A plain search's pages from the search index (the rows from `rowsOf`), or undefined when it
   * cannot answer.
   */
  async function fromIndex<R>(q: string, window: Window, types: IndexedType[], form: SearchForm<R>) {
    const searcher = searchIndex.at(await deps.cache.stamp([SEARCH_TAG]));
    if (!searcher) return undefined;
    const words = plainQueryWords(q) ?? (await repo.queryWords(db, q));
    const pages = await searcher({ q, words, ...window }, types);
    if (!pages) return undefined;
    const rows = await rowsOf(pages, form);
    const pageOf = (type: IndexedType) => {
      const page = pages.get(type);
      return page && { items: rows[type], total: page.total };
    };
    return { artist: pageOf('artist'), album: pageOf('album'), song: pageOf('song') };
  }

  /** Each requested type is one relevance-ordered page, its rows in `form`. */
  async function searchAs<R>(
    caller: AuthUser | null,
    query: { q: string; types: SearchType[] } & Window,
    form: SearchForm<R>,
  ): Promise<SearchPages<R>> {
    const scope = listScope(caller, undefined);
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
          ? await fromIndex(q, window, catalogTypes, form)
          : undefined;
      const search = !indexed && q && catalogTypes.length ? await repo.searchQuery(db, q) : undefined;
      return { indexed, relevance: { scope, q, search, sort: 'relevance', ...window } as const };
    })();
    /** A type's page: the index's, else the database's (its views made into `form`). */
    const pageOf = async <V extends SearchView>(
      type: IndexedType,
      list: (relevance: Awaited<typeof matched>['relevance']) => Promise<{ items: V[]; total: number }>,
    ) => {
      const { indexed, relevance } = await matched;
      const page = indexed?.[type];
      if (page) return page;
      const { items, total } = await list(relevance);
      return { items: items.map((view) => form.row(type, view)), total };
    };
    const searches = {
      album: async () => ({
        albums: await pageOf('album', async (r) => viewsOf(await repo.listAlbums(db, r), toAlbumView)),
      }),
      artist: async () => ({
        artists: await pageOf('artist', async (r) => viewsOf(await repo.listArtists(db, r), toArtistView)),
      }),
      song: async () => ({
        songs: await pageOf('song', async (r) => viewsOf(await repo.listSongs(db, r), toSongView)),
      }),
      playlist: async () => {
        const { items, total } = deps.searchPlaylists
          ? await deps.searchPlaylists(caller, { q, ...window })
          : { items: [], total: 0 };
        return { playlists: { items: items.map(form.playlist), total } };
      },
    } satisfies Record<SearchType, () => Promise<object>>;
    // The types are independent: on PostgreSQL they run at once on separate connections.
    return Object.assign({}, ...(await Promise.all(types.map((type) => searches[type]()))));
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

    /** Each requested type is one relevance-ordered page of views; playlists come from `searchPlaylists`. */
    search(caller: AuthUser | null, query: { q: string; types: SearchType[] } & Window) {
      return searchAs(caller, query, viewsFor(isAdmin(caller))) as Promise<
        SearchPages<AlbumView, ArtistView, SongView, PlaylistSummaryView>
      >;
    },

    /** `search`, each item as the JSON the caller is sent (`encoders`: the item schemas' serializers). */
    searchEncoded(
      caller: AuthUser | null,
      query: { q: string; types: SearchType[] } & Window,
      encoders: SearchEncoders,
    ): Promise<SearchPages<string>> {
      return searchAs(caller, query, encodedFor(isAdmin(caller), encoders));
    },
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;

export { normaliseQuery };
