import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Where media files live: content-addressed under one root (MEDIA_DIR). Every file appears
 * whole or not at all: writers fill a temporary path under `tmp/` on the same file system and
 * `commit` renames it into place. An S3-compatible store can take this shape's place later.
 */
export class MediaStorage {
  constructor(readonly root: string) {
    for (const dir of ['tmp', 'originals', 'derived', 'images'])
      mkdirSync(join(root, dir), { recursive: true });
  }

  /** A fresh temporary path (file or folder) that `commit` can move into place. */
  tmpPath(suffix = ''): string {
    return join(this.root, 'tmp', `${randomUUID()}${suffix}`);
  }

  original(hash: string, ext: string): string {
    return join(this.root, 'originals', hash.slice(0, 2), `${hash}.${ext}`);
  }

  /** The folder of everything made from one original: renditions and the HLS ladder. */
  derived(hash: string): string {
    return join(this.root, 'derived', hash.slice(0, 2), hash);
  }

  image(hash: string, size: number): string {
    return join(this.root, 'images', hash.slice(0, 2), `${hash}-${size}.jpg`);
  }

  /** Moves a finished temporary file or folder to `target`; an existing target (same content) wins. */
  async commit(tmp: string, target: string): Promise<void> {
    await mkdir(dirname(target), { recursive: true });
    try {
      await rename(tmp, target);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async remove(...paths: string[]): Promise<void> {
    await Promise.all(paths.map((path) => rm(path, { recursive: true, force: true })));
  }
}
