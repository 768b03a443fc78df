import { ValidationError } from '../../platform/errors.js';
import { jsonNestedDeeperThan, MAX_JSON_DEPTH } from '../../platform/validation.js';
import type { SongView } from '../catalog/index.js';

/** One track of an import, as the file describes it. */
export interface ImportEntry {
  /** M3U: the line of its `#EXTINF` (or of its path when it has none); JSON: its 1-based index. */
  line: number;
  /** What the file said, as the answer reports it when nothing matched. */
  text: string;
  /** Artist and title readings of `text`, most likely first. */
  candidates: { artist: string; title: string }[];
  album: string | null;
}

/**
 * Longest artist or title a reading may have: the catalog's names and titles stop at 200
 * characters, so anything longer can never match.
 */
const MAX_NAME_LENGTH = 200;
/**
 * Longest description read for candidates: two names and a separator. Longer text is reported
 * unmatched without being read, so a hostile line costs nothing beyond its length.
 */
const MAX_TEXT_LENGTH = 2 * MAX_NAME_LENGTH + 16;
/** Readings tried per entry: real names hold a dash or two, never dozens. */
export const MAX_READINGS = 4;
/** What an unmatched entry's report repeats of its text. */
const REPORTED_TEXT_LENGTH = 200;

const isDash = (char: string) => char === '-' || char === '\u2013' || char === '\u2014';
const isSpace = (char: string | undefined) => char !== undefined && /\s/.test(char);

/**
 * Split points of `Artist - Title` (a dash with whitespace on both sides), found in one pass
 * over the text: a backtracking pattern such as `\s+-\s+` is quadratic on long runs of spaces.
 */
function separators(text: string): { start: number; end: number }[] {
  const found: { start: number; end: number }[] = [];
  let end = 0;
  for (let i = 1; i < text.length - 1 && found.length < MAX_READINGS; i++) {
    if (!isDash(text[i]!) || !isSpace(text[i - 1]) || !isSpace(text[i + 1]) || i - 1 < end) continue;
    let start = i - 1;
    while (start > end && isSpace(text[start - 1])) start--;
    end = i + 1;
    while (isSpace(text[end])) end++;
    found.push({ start, end });
    i = end - 1;
  }
  return found;
}

/** `Artist - Title` with dashes inside names: every split point is a reading, the first one first. */
function artistTitleReadings(text: string): { artist: string; title: string }[] {
  if (text.length > MAX_TEXT_LENGTH) return [];
  return separators(text).flatMap(({ start, end }) => {
    const artist = text.slice(0, start).trim();
    const title = text.slice(end).trim();
    return usableReading(artist, title) ? [{ artist, title }] : [];
  });
}

const usableReading = (artist: string, title: string) =>
  artist !== '' && title !== '' && artist.length <= MAX_NAME_LENGTH && title.length <= MAX_NAME_LENGTH;

const reported = (text: string) => text.slice(0, REPORTED_TEXT_LENGTH);

/** `Music/Queen - Bohemian Rhapsody.mp3` or a URL -> `Queen - Bohemian Rhapsody`. */
function nameFromPath(path: string): string {
  const withoutQuery = path.replace(/[?#].*$/, '');
  const file = withoutQuery.split(/[/\\]/).pop() ?? withoutQuery;
  let decoded = file;
  try {
    decoded = decodeURIComponent(file);
  } catch {}
  return decoded.replace(/\.[A-Za-z0-9]{1,5}$/, '').trim();
}

/**
 * Entries of an M3U or M3U8 file: each path line is one track, described by the `#EXTINF`
 * before it (`#EXTINF:354,Queen - Bohemian Rhapsody`) or else by its file name. Other
 * directives and comments are skipped.
 */
export function parseM3u(content: string): ImportEntry[] {
  const entries: ImportEntry[] = [];
  const add = (line: number, text: string) =>
    entries.push({ line, text: reported(text), candidates: artistTitleReadings(text), album: null });
  let described: { line: number; text: string } | null = null;
  const lines = content.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (/^#EXTINF:/i.test(line)) {
      const comma = line.indexOf(',');
      const text = comma < 0 ? '' : line.slice(comma + 1).trim();
      described = text ? { line: index + 1, text } : null;
    } else if (line && !line.startsWith('#')) {
      if (described) add(described.line, described.text);
      else add(index + 1, nameFromPath(line));
      described = null;
    }
  }
  // A description with no path after it (a truncated file) still names a track.
  if (described) add(described.line, described.text);
  return entries;
}

const invalidJson = (detail: string) =>
  new ValidationError(detail, [{ path: '/content', message: detail }], 'INVALID_IMPORT_CONTENT');

/**
 * Entries of a JSON track list: `[{artist, title, album?}]`, or an object with such `tracks`
 * (what the JSON export writes). Items without an artist and a title are reported unmatched.
 */
export function parseTrackListJson(content: string): ImportEntry[] {
  if (jsonNestedDeeperThan(content, MAX_JSON_DEPTH)) {
    throw invalidJson(`content nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    throw invalidJson('content is not valid JSON');
  }
  const tracks = Array.isArray(parsed) ? parsed : (parsed as { tracks?: unknown } | null)?.tracks;
  if (!Array.isArray(tracks))
    throw invalidJson('content must be a JSON array of tracks or {"tracks": [...]}');
  return tracks.map((item: unknown, index) => {
    const track = (item ?? {}) as { artist?: unknown; title?: unknown; album?: unknown };
    const text = (value: unknown) => (typeof value === 'string' ? value.trim() : '');
    const artist = text(track.artist);
    const title = text(track.title);
    const usable = usableReading(artist, title);
    return {
      line: index + 1,
      text: reported(usable ? `${artist} - ${title}` : JSON.stringify(item)),
      candidates: usable ? [{ artist, title }] : [],
      album: usableReading(artist, text(track.album)) ? text(track.album) : null,
    };
  });
}

/** One line of M3U text: a line break inside a title would start a bogus entry. */
const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ');

/** Extended M3U in UTF-8, one batch of songs at a time; each track points at its song in this API. */
export async function* renderM3u8(name: string, batches: AsyncIterable<SongView[]>): AsyncGenerator<string> {
  yield `#EXTM3U\n#PLAYLIST:${oneLine(name)}\n`;
  for await (const songs of batches) {
    yield songs
      .map(
        (song) =>
          `#EXTINF:${Math.round(song.durationMs / 1000)},${oneLine(`${song.artist.name} - ${song.title}`)}\n` +
          `/api/v1/songs/${song.id}\n`,
      )
      .join('');
  }
}

/** The JSON track list (what `parseTrackListJson` reads), as text, one batch of songs at a time. */
export async function* renderTrackListJson(
  playlist: { name: string; description: string | null },
  batches: AsyncIterable<SongView[]>,
): AsyncGenerator<string> {
  yield `{"name":${JSON.stringify(playlist.name)},"description":${JSON.stringify(playlist.description)},"tracks":[`;
  let separator = '';
  for await (const songs of batches) {
    for (const song of songs) {
      const track = {
        artist: song.artist.name,
        title: song.title,
        album: song.album.title,
        durationMs: song.durationMs,
      };
      yield `${separator}${JSON.stringify(track)}`;
      separator = ',';
    }
  }
  yield ']}';
}

/** `attachment` with an ASCII fallback name and the real one (RFC 6266 / RFC 8187). */
export function attachmentDisposition(name: string, extension: string): string {
  const ascii = name.replace(/[^A-Za-z0-9 ._-]/g, '_').trim() || 'playlist';
  return `attachment; filename="${ascii}.${extension}"; filename*=UTF-8''${encodeURIComponent(`${name}.${extension}`)}`;
}
