import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

/**
 * ffmpeg as a port: the binary named by FFMPEG_PATH, else `ffmpeg` on PATH, else the static
 * build that `npm install` brings (@ffmpeg-installer/ffmpeg), so a fresh machine with only
 * Node.js still transcodes.
 */
export function resolveFfmpeg(configured: string | undefined): string {
  if (configured) return configured;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'ffmpeg');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  const require = createRequire(import.meta.url);
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

/** ffmpeg ended with an error; `stderr` keeps the end of its output for the log, never for clients. */
export class FfmpegError extends Error {
  override name = 'FfmpegError';
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

const STDERR_KEEP = 16 * 1024;

/** Runs ffmpeg to the end; an aborted signal kills it. Resolves with the tail of stderr. */
export function runFfmpeg(bin: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-hide_banner', '-nostdin', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(signal ? { signal } : {}),
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    child.on('error', (error) => reject(error));
    child.on('close', (code) => {
      if (code === 0) resolve(stderr);
      else reject(new FfmpegError(`ffmpeg exited with ${code}`, stderr));
    });
  });
}

/**
 * True when ffmpeg finds an audio stream in the file and decodes audio from its first seconds:
 * the type of an upload is decided by its bytes, whatever the request said. A header with no
 * frames behind it decodes to nothing and is refused too.
 */
export function decodesAsAudio(bin: string, file: string): Promise<boolean> {
  const args = ['-v', 'error', '-xerror', '-i', file, '-map', '0:a:0', '-t', '2', '-ac', '1', '-ar', '8000'];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-hide_banner', '-nostdin', ...args, '-f', 's16le', 'pipe:1'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let samples = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      samples += chunk.length;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 && samples > 0));
  });
}

export interface Loudness {
  integratedLufs: number;
  truePeakDb: number;
}

/** The EBU R128 summary that the `ebur128` filter prints at the end. */
export function parseLoudness(stderr: string): Loudness | null {
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const integrated = /I:\s+(-?[0-9.]+|-inf)\s+LUFS/.exec(summary);
  const peak = /Peak:\s+(-?[0-9.]+|-inf)\s+dBFS/.exec(summary);
  if (!integrated) return null;
  const value = (text: string | undefined) => (text === undefined || text === '-inf' ? -70 : Number(text));
  return { integratedLufs: value(integrated[1]), truePeakDb: value(peak?.[1]) };
}

/**
 * Decodes the source once and writes every MP3 rendition (44.1 kHz stereo, CBR) while the
 * `ebur128` filter measures loudness on the same decoded audio.
 */
export async function encodeRenditions(
  bin: string,
  source: string,
  outputs: { file: string; kbps: number }[],
  signal?: AbortSignal,
): Promise<Loudness> {
  const args = ['-v', 'info', '-xerror', '-i', source];
  for (const output of outputs) {
    args.push(
      ...['-map', '0:a:0', '-map_metadata', '-1', '-vn', '-ar', '44100', '-ac', '2'],
      ...['-c:a', 'libmp3lame', '-b:a', `${output.kbps}k`, '-f', 'mp3', '-y', output.file],
    );
  }
  args.push('-map', '0:a:0', '-af', 'ebur128=peak=true', '-f', 'null', '-');
  const stderr = await runFfmpeg(bin, args, signal);
  const loudness = parseLoudness(stderr);
  if (!loudness) throw new FfmpegError('no loudness summary', stderr);
  return loudness;
}

/** Cuts an MP3 rendition into MPEG-TS segments of at most `seconds` and a VOD playlist, without re-encoding. */
export async function segmentHls(
  bin: string,
  mp3: string,
  dir: string,
  seconds: number,
  signal?: AbortSignal,
): Promise<void> {
  await runFfmpeg(
    bin,
    [
      ...['-v', 'error', '-i', mp3, '-map', '0:a:0', '-c:a', 'copy', '-f', 'hls'],
      ...['-hls_time', String(seconds), '-hls_playlist_type', 'vod', '-hls_segment_type', 'mpegts'],
      ...['-hls_segment_filename', join(dir, 'seg%04d.ts'), '-y', join(dir, 'index.m3u8')],
    ],
    signal,
  );
}
