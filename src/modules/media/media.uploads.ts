import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../platform/errors.js';
import type { MediaStorage } from './media.storage.js';

/** A body written to a temporary file: its content hash and size, read once as it streamed by. */
export interface ReceivedFile {
  tmp: string;
  hash: string;
  bytes: number;
}

export const tooLarge = (maxBytes: number) =>
  new AppError(413, 'PAYLOAD_TOO_LARGE', 'Payload too large', `The file is larger than ${maxBytes} bytes`);

export const unsupportedMedia = (detail: string) =>
  new AppError(415, 'UNSUPPORTED_MEDIA', 'Unsupported media type', detail);

/**
 * Streams an upload to a temporary file under MEDIA_DIR, hashing as it goes; never holds the
 * whole body in memory. Over `maxBytes` it stops with 413; if the client aborts or anything
 * fails, the partial file is removed before the error goes on.
 */
export async function receiveFile(
  storage: MediaStorage,
  body: Readable,
  maxBytes: number,
): Promise<ReceivedFile> {
  const tmp = storage.tmpPath();
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(tooLarge(maxBytes));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  // The body is piped, not part of the pipeline: on a 413 the request must stay open for the
  // answer, while an aborted request still ends the pipeline through the meter.
  const onAbort = () => meter.destroy(new Error('upload aborted'));
  body.once('aborted', onAbort);
  body.once('error', onAbort);
  body.pipe(meter);
  try {
    await pipeline(meter, createWriteStream(tmp, { mode: 0o600 }));
  } catch (error) {
    body.unpipe(meter);
    await storage.remove(tmp);
    throw error;
  } finally {
    body.off('aborted', onAbort);
    body.off('error', onAbort);
  }
  if (bytes === 0) {
    await storage.remove(tmp);
    throw unsupportedMedia('The body is empty');
  }
  return { tmp, hash: hash.digest('hex'), bytes };
}
