import type { Image } from '../../platform/http.js';
import type { AlbumRow, ArtistRow, SongRow } from './catalog.repo.js';
import type { AlbumType, SongAudio } from './catalog.tables.js';

export interface ArtistView {
  id: string;
  name: string;
  bio: string | null;
  imageUrl: string | null;
  images: Image[];
  genres: string[];
  albumCount: number;
  followerCount: number;
  createdAt: string;
  /** Admins only. */
  isVisible?: boolean;
}

export interface SongView {
  id: string;
  title: string;
  album: { id: string; title: string };
  artist: { id: string; name: string };
  trackNumber: number;
  durationMs: number;
  genre: string;
  explicit: boolean;
  playCount: number;
  audio: SongAudio;
  isPublic: boolean;
  /** Admins only. */
  isVisible?: boolean;
  createdAt: string;
}

export interface AlbumView {
  id: string;
  title: string;
  artist: { id: string; name: string };
  genre: string;
  releaseYear: number;
  releaseDate: string | null;
  albumType: AlbumType;
  coverUrl: string | null;
  images: Image[];
  label: string | null;
  isPublic: boolean;
  /** Admins only. */
  isVisible?: boolean;
  /** Scheduled release time; until then only the owner and admins see the album. */
  publishAt: string | null;
  songCount: number;
  durationMs: number;
  followerCount: number;
  popularity: number;
  createdAt: string;
  updatedAt: string;
}

export interface AlbumDetailView extends AlbumView {
  songs: SongView[];
  /** Only for signed-in callers. */
  followedByMe?: boolean;
}

/** The Playlist shape of API.md as search returns it. */
export interface PlaylistSummaryView {
  id: string;
  name: string;
  description: string | null;
  owner: { id: string; displayName: string };
  isPublic: boolean;
  trackCount: number;
  durationMs: number;
  followerCount: number;
  createdAt: string;
  updatedAt: string;
}

// ---------------------------------------------------------------------------------------------
// Views

/** The columns an artist view is made of, so other modules can select just these. */
export type ArtistViewRow = Pick<
  ArtistRow,
  | 'id'
  | 'name'
  | 'bio'
  | 'imageUrl'
  | 'images'
  | 'genres'
  | 'albumCount'
  | 'followerCount'
  | 'createdAt'
  | 'isVisible'
>;

function toArtistView(row: ArtistViewRow): ArtistView {
  return {
    id: row.id,
    name: row.name,
    bio: row.bio,
    imageUrl: row.imageUrl,
    images: row.images,
    genres: row.genres,
    albumCount: row.albumCount,
    followerCount: row.followerCount,
    createdAt: row.createdAt.toISOString(),
    isVisible: row.isVisible,
  };
}

function toAlbumView(row: AlbumRow): AlbumView {
  return {
    id: row.id,
    title: row.title,
    artist: { id: row.artistId, name: row.artistName },
    genre: row.genre,
    releaseYear: row.releaseYear,
    releaseDate: row.releaseDate,
    albumType: row.albumType,
    coverUrl: row.coverUrl,
    images: row.images,
    label: row.label,
    isPublic: row.isPublic,
    isVisible: row.isVisible,
    publishAt: row.publishAt?.toISOString() ?? null,
    songCount: row.songCount,
    durationMs: row.durationMs,
    followerCount: row.followerCount,
    popularity: row.popularity,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function toSongView(row: SongRow): SongView {
  return {
    id: row.id,
    title: row.title,
    album: { id: row.albumId, title: row.albumTitle },
    artist: { id: row.artistId, name: row.artistName },
    trackNumber: row.trackNumber,
    durationMs: row.durationMs,
    genre: row.genre,
    explicit: row.explicit,
    playCount: row.playCount,
    audio: row.audio,
    isPublic: row.isPublic,
    isVisible: row.isVisible,
    createdAt: row.createdAt.toISOString(),
  };
}

/** `isVisible` is the admin's switch and only admins see it. */
function forViewer<T extends { isVisible?: boolean }>(view: T, admin: boolean): T {
  if (admin) return view;
  const { isVisible: _adminOnly, ...rest } = view;
  return rest as T;
}

/**
 * Whether users see a song of an album they may see: its own switches (the cached album record
 * holds the admin's view, so `isVisible` is there).
 */
const songShown = (song: SongView) => song.isPublic && song.isVisible === true;

/**
 * An album detail as a non-admin sees it: without `isVisible`, and (unless `owner`, who sees
 * their own hidden songs as they see their hidden albums) without the songs hidden from users.
 */
function albumForReader(album: AlbumDetailView, owner: boolean): AlbumDetailView {
  const songs = owner ? album.songs : album.songs.filter(songShown);
  return { ...forViewer(album, false), songs: songs.map((song) => forViewer(song, false)) };
}

export { albumForReader, forViewer, toAlbumView, toArtistView, toSongView };
