import type { parseFile } from 'music-metadata';
import { decodesAsAudio } from './media.ffmpeg.js';

/** What an audio file says about itself: its format and the tags that fill a song's defaults. */
export interface AudioProbe {
  ext: string;
  format: string;
  codec: string;
  /** Null for lossless sources (everything is below them). */
  bitrateKbps: number | null;
  sampleRate: number;
  channels: number;
  durationMs: number;
  tags: {
    title?: string;
    trackNumber?: number;
    picture?: { data: Uint8Array; format: string };
  };
}

/** C0 controls and DEL; tags from files may carry NUL bytes, which PostgreSQL text cannot hold. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

/** A tag as catalog text: no control characters (NUL included), trimmed, bounded. */
export function cleanTag(value: string | undefined | null, maxLength = 200): string | undefined {
  const text = value?.replace(CONTROL_CHARACTERS, ' ').trim().slice(0, maxLength).trim();
  return text || undefined;
}

/** Container names as music-metadata reports them -> the extension the original is stored under. */
const EXTENSIONS: [RegExp, string][] = [
  [/flac/i, 'flac'],
  [/mpeg|mp3/i, 'mp3'],
  [/ogg|opus|vorbis/i, 'ogg'],
  [/wave|wav|riff/i, 'wav'],
  [/mp4|m4a|aac|isom|mp42|3gp/i, 'm4a'],
  [/aiff/i, 'aiff'],
];

/** The extension an original of this container and codec is stored and served under. */
export function storedExtension(
  container: string | undefined,
  codec: string | undefined,
): string | undefined {
  const name = `${container ?? ''} ${codec ?? ''}`;
  return EXTENSIONS.find(([pattern]) => pattern.test(name))?.[1];
}

export const CONTENT_TYPES: Record<string, string> = {
  flac: 'audio/flac',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  aiff: 'audio/aiff',
};

/**
 * Reads a file's format and tags. Null when it is not audio ffmpeg can decode: the bytes
 * decide, never the declared type or the file name.
 */
export async function probeAudio(ffmpeg: string, file: string): Promise<AudioProbe | null> {
  if (!(await decodesAsAudio(ffmpeg, file))) return null;
  let metadata: Awaited<ReturnType<typeof parseFile>>;
  try {
    // Loaded on the first upload, not at start (serving does not need it).
    metadata = await (await import('music-metadata')).parseFile(file, { duration: true });
  } catch {
    return null;
  }
  const { format, common } = metadata;
  const ext = storedExtension(format.container, format.codec);
  if (!ext || !format.duration || !format.sampleRate) return null;
  const picture = common.picture?.[0];
  const track = common.track?.no ?? undefined;
  return {
    ext,
    format: ext,
    codec: format.codec ?? ext,
    bitrateKbps: format.lossless || !format.bitrate ? null : Math.round(format.bitrate / 1000),
    sampleRate: format.sampleRate,
    channels: format.numberOfChannels ?? 2,
    durationMs: Math.max(1, Math.round(format.duration * 1000)),
    tags: {
      ...(cleanTag(common.title) ? { title: cleanTag(common.title) } : {}),
      ...(track && track > 0 && track < 1000 ? { trackNumber: track } : {}),
      ...(picture ? { picture: { data: picture.data, format: picture.format } } : {}),
    },
  };
}
