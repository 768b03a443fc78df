import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveFfmpeg } from '../src/modules/media/index.js';

/** Audio for tests is made here with ffmpeg, never committed. */
export const FFMPEG = resolveFfmpeg(undefined);
const FFPROBE = (createRequire(import.meta.url)('@ffprobe-installer/ffprobe') as { path: string }).path;

export function scratchDir(prefix = 'backbeat-audio-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface ToneOptions {
  seconds?: number;
  frequency?: number;
  /** Bitrate of lossy formats, e.g. 128. */
  kbps?: number;
  tags?: Record<string, string>;
  /** Embed a small red picture as the front cover (MP3 only). */
  cover?: boolean;
}

const CODECS: Record<string, string[]> = {
  flac: ['-c:a', 'flac'],
  mp3: ['-c:a', 'libmp3lame'],
  ogg: ['-c:a', 'libvorbis'],
  wav: ['-c:a', 'pcm_s16le'],
};

/**
 * An ID3v2.3 tag of Latin-1 text frames (`TPE1`, `TALB`, `TIT2`, `TRCK`...): put before the bytes
 * of an untagged MP3, it makes many differently tagged files from one ffmpeg run.
 */
export function id3(frames: Record<string, string>): Buffer {
  const body = Buffer.concat(
    Object.entries(frames).map(([id, text]) => {
      const data = Buffer.concat([Buffer.from([0]), Buffer.from(text, 'latin1')]);
      const header = Buffer.alloc(10);
      header.write(id, 0, 'ascii');
      header.writeUInt32BE(data.length, 4);
      return Buffer.concat([header, data]);
    }),
  );
  const n = body.length;
  const size = Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f]);
  return Buffer.concat([Buffer.from('ID3'), Buffer.from([3, 0, 0]), size, body]);
}

/** A stereo 44.1 kHz sine tone with tags, as FLAC, MP3, Ogg Vorbis or WAV. */
export function makeTone(dir: string, name: string, options: ToneOptions = {}): string {
  const file = join(dir, name);
  const format = name.slice(name.lastIndexOf('.') + 1);
  const tone = `sine=frequency=${options.frequency ?? 440}:duration=${options.seconds ?? 3}`;
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', tone];
  if (options.cover) args.push('-f', 'lavfi', '-i', 'color=c=red:s=320x320:d=1');
  args.push('-map', '0:a', '-ac', '2', '-ar', '44100', ...(CODECS[format] ?? []));
  if (options.kbps) args.push('-b:a', `${options.kbps}k`);
  if (options.cover) {
    args.push('-map', '1:v', '-frames:v', '1', '-c:v', 'mjpeg', '-id3v2_version', '3');
    args.push('-metadata:s:v', 'title=Album cover', '-metadata:s:v', 'comment=Cover (front)');
  }
  for (const [key, value] of Object.entries(options.tags ?? {})) args.push('-metadata', `${key}=${value}`);
  execFileSync(FFMPEG, [...args, file]);
  return file;
}

export interface Probe {
  format: { format_name: string; duration: string; bit_rate: string };
  streams: {
    codec_type: string;
    codec_name: string;
    bit_rate?: string;
    sample_rate?: string;
    channels?: number;
  }[];
}

/** What ffmpeg finds when it decodes a whole file (stream line included); throws when it cannot. */
export function decodeInfo(file: string): string {
  const run = spawnSync(FFMPEG, ['-hide_banner', '-xerror', '-i', file, '-f', 'null', '-'], {
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`ffmpeg could not decode ${file}: ${run.stderr}`);
  return run.stderr;
}

/** ffprobe's view of a file: what a client would find in what the server streams. */
export function ffprobe(file: string): Probe {
  const out = execFileSync(FFPROBE, [
    '-v',
    'error',
    '-print_format',
    'json',
    '-show_format',
    '-show_streams',
    file,
  ]);
  return JSON.parse(out.toString()) as Probe;
}

/** A solid-colour PNG of the given size. */
export function makePicture(dir: string, name: string, width: number, height: number): string {
  const file = join(dir, name);
  execFileSync(FFMPEG, [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `color=c=blue:s=${width}x${height}:d=1`,
    '-frames:v',
    '1',
    file,
  ]);
  return file;
}
