import type { AlbumView, ArtistView, SongView } from '../catalog/index.js';
import { CONTENT_TYPES } from '../media/index.js';
import type { Payload } from './subsonic.response.js';

/** What a song's line needs from its album and the caller: year, cover, stars, plays. */
export interface SongContext {
  albums: Map<string, AlbumView>;
  starred: Map<string, Date>;
  /** When the caller last played each song (OpenSubsonic `played`). */
  played: Map<string, Date>;
}

/** The caller's own marks on an album or artist: since when it is starred, when last played. */
export interface Marks {
  starred?: Date;
  played?: Date;
}

/** Cover art ids: an album's id, or `ar-` and an artist's id. */
export const artistCoverId = (id: string) => `ar-${id}`;

const seconds = (ms: number) => Math.round(ms / 1000);
const genreList = (genre: string) => (genre ? [{ name: genre }] : []);

/** A song as a Subsonic `Child` with the OpenSubsonic additions. */
export function songEntry(song: SongView, ctx: SongContext): Payload {
  const album = ctx.albums.get(song.album.id);
  const source = song.audio.source;
  const suffix = source?.format ?? 'mp3';
  const loudness = song.audio.loudness;
  return {
    id: song.id,
    parent: song.album.id,
    isDir: false,
    title: song.title,
    album: song.album.title,
    artist: song.artist.name,
    track: song.trackNumber,
    year: album?.releaseYear,
    genre: song.genre,
    coverArt: album?.images.length ? album.id : undefined,
    size: source?.bytes,
    contentType: CONTENT_TYPES[suffix] ?? 'application/octet-stream',
    suffix,
    // Players get the high MP3 rendition unless they ask for the original (`format=raw`).
    transcodedContentType: suffix === 'mp3' ? undefined : 'audio/mpeg',
    transcodedSuffix: suffix === 'mp3' ? undefined : 'mp3',
    duration: seconds(song.audio.durationMs ?? song.durationMs),
    bitRate: source?.bitrateKbps,
    samplingRate: source?.sampleRate,
    channelCount: source?.channels,
    playCount: song.playCount,
    created: song.createdAt,
    starred: ctx.starred.get(song.id)?.toISOString(),
    played: ctx.played.get(song.id)?.toISOString(),
    albumId: song.album.id,
    artistId: song.artist.id,
    type: 'music',
    mediaType: 'song',
    isVideo: false,
    musicBrainzId: '',
    genres: genreList(song.genre),
    artists: [{ id: song.artist.id, name: song.artist.name }],
    displayArtist: song.artist.name,
    albumArtists: [{ id: song.artist.id, name: song.artist.name }],
    displayAlbumArtist: song.artist.name,
    explicitStatus: song.explicit ? 'explicit' : '',
    replayGain: loudness
      ? { trackGain: loudness.trackGainDb, trackPeak: dbToLinear(loudness.truePeakDb) }
      : undefined,
  };
}

/** OpenSubsonic `releaseTypes` names (MusicBrainz's) of the catalog's album types. */
const RELEASE_TYPES: Record<AlbumView['albumType'], string> = {
  album: 'Album',
  single: 'Single',
  ep: 'EP',
  compilation: 'Compilation',
};

/** An album as a Subsonic `AlbumID3` with the OpenSubsonic additions. */
export function albumEntry(album: AlbumView, marks: Marks): Payload {
  return {
    id: album.id,
    name: album.title,
    artist: album.artist.name,
    artistId: album.artist.id,
    coverArt: album.images.length ? album.id : undefined,
    songCount: album.songCount,
    duration: seconds(album.durationMs),
    created: album.createdAt,
    starred: marks.starred?.toISOString(),
    played: marks.played?.toISOString(),
    year: album.releaseYear,
    genre: album.genre,
    musicBrainzId: '',
    genres: genreList(album.genre),
    artists: [{ id: album.artist.id, name: album.artist.name }],
    displayArtist: album.artist.name,
    releaseTypes: [RELEASE_TYPES[album.albumType]],
    recordLabels: album.label ? [{ name: album.label }] : [],
    sortName: album.title.toLowerCase(),
    isCompilation: album.albumType === 'compilation',
    ...(album.releaseDate ? { originalReleaseDate: releaseDate(album.releaseDate) } : {}),
  };
}

/** An artist as a Subsonic `ArtistID3` with the OpenSubsonic additions. */
export function artistEntry(artist: ArtistView, starred: Date | undefined): Payload {
  return {
    id: artist.id,
    name: artist.name,
    coverArt: artist.images.length ? artistCoverId(artist.id) : undefined,
    artistImageUrl: artist.imageUrl ?? undefined,
    albumCount: artist.albumCount,
    starred: starred?.toISOString(),
    musicBrainzId: '',
    sortName: artist.name.toLowerCase(),
    roles: ['albumartist'],
  };
}

function releaseDate(date: string): Payload {
  const [year, month, day] = date.split('-').map(Number);
  return { year, month, day };
}

/** EBU R128 true peak in dBTP as the linear peak ReplayGain uses. */
function dbToLinear(db: number): number {
  return Math.round(10 ** (db / 20) * 1e6) / 1e6;
}
