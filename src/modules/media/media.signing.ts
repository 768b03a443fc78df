import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from '../../platform/clock.js';
import { ForbiddenError } from '../../platform/errors.js';

/**
 * Signed media URLs: an HMAC-SHA256 over the path and the expiry, with a key derived from the
 * server secret (HKDF, its own label, so a media signature is never a valid token signature).
 * They need no Authorization header, so an `<audio>` element or a player app can use them.
 */
export interface UrlSigner {
  /** `path?exp=...&sig=...`, valid for the configured lifetime (or until `expiresAt`). */
  sign(path: string, expiresAt?: number): string;
  /**
   * The expiry (s since the epoch) and the whole seconds left until it, for `max-age`. Throws
   * 403 INVALID_SIGNATURE or URL_EXPIRED.
   */
  verify(
    path: string,
    exp: string | undefined,
    sig: string | undefined,
  ): { expiresAt: number; secondsLeft: number };
}

/** Signs and checks media URLs; they are issued and expire on `clock` (business time). */
export function createUrlSigner(secret: string, ttlSec: number, clock: Clock = systemClock): UrlSigner {
  const now = () => clock().getTime();
  const key = Buffer.from(hkdfSync('sha256', secret, 'backbeat', 'media-url-signing', 32));
  /**
   * URLs whose signature already checked out, with their expiry. A player sends one signed URL
   * many times (a range request per buffer or seek), and only that exact string hits: a changed
   * path, expiry or signature is checked afresh. Expiry is still checked on every request.
   */
  const verified = new LRUCache<string, number>({ max: VERIFIED_URLS });
  const mac = (path: string, exp: number) =>
    createHmac('sha256', key).update(`${path}\n${exp}`).digest('base64url');
  return {
    sign(path, expiresAt) {
      const exp = expiresAt ?? Math.floor(now() / 1000) + ttlSec;
      return `${path}?exp=${exp}&sig=${mac(path, exp)}`;
    },
    verify(path, exp, sig) {
      const signed = `${path}\n${exp}\n${sig}`;
      let expiresAt = verified.get(signed);
      if (expiresAt === undefined) {
        expiresAt = Number(exp);
        const valid =
          typeof sig === 'string' &&
          /^[0-9]{1,12}$/.test(exp ?? '') &&
          safeEqual(Buffer.from(sig), Buffer.from(mac(path, expiresAt)));
        if (!valid)
          throw new ForbiddenError('This media URL is not signed for this path', 'INVALID_SIGNATURE');
        verified.set(signed, expiresAt);
      }
      const nowMs = now();
      if (expiresAt * 1000 <= nowMs) throw new ForbiddenError('This media URL has expired', 'URL_EXPIRED');
      return { expiresAt, secondsLeft: Math.max(0, expiresAt - Math.floor(nowMs / 1000)) };
    },
  };
}

/** How many verified media URLs a process remembers (~250 bytes each). */
const VERIFIED_URLS = 10_000;

const safeEqual = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
