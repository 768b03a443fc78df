import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';

/**
 * Outside production an unset JWT_SECRET is generated once into DATA_DIR and reused, so
 * tokens survive restarts without anyone inventing a weak secret. Production refuses to start
 * without one (config.ts).
 */
export function resolveJwtSecret(config: Config): Config {
  if (config.jwtSecret) return config;
  mkdirSync(config.dataDir, { recursive: true });
  const file = join(config.dataDir, 'jwt-secret');
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    secret = randomBytes(48).toString('base64url');
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  }
  return Object.freeze({ ...config, jwtSecret: secret });
}
