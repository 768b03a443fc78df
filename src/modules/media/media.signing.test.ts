import { describe, expect, it } from 'vitest';
import { createUrlSigner } from './media.signing.js';

// Signed media URLs on a clock the test moves: issued and expiring on it, no app, no database.

function signerAt(startMs: number, ttlSec = 60) {
  let now = startMs;
  const signer = createUrlSigner('a-test-secret-of-enough-length-000', ttlSec, () => new Date(now));
  return { signer, set: (ms: number) => (now = ms) };
}

const query = (url: string) => Object.fromEntries(new URL(url, 'http://x').searchParams);
const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
};

describe('signed media URLs', () => {
  const path = '/media/audio/abc/original.flac';

  it('expire the TTL after the clock signed them, to the second, and tell how many seconds are left', () => {
    const start = Date.parse('2031-05-06T07:08:09.500Z');
    const { signer, set } = signerAt(start, 60);
    const { exp, sig } = query(signer.sign(path));
    expect(Number(exp)).toBe(Math.floor(start / 1000) + 60);
    expect(signer.verify(path, exp, sig)).toEqual({ expiresAt: Number(exp), secondsLeft: 60 });
    set(Number(exp) * 1000 - 1);
    expect(signer.verify(path, exp, sig).secondsLeft).toBe(1);
    set(Number(exp) * 1000);
    expect(codeOf(() => signer.verify(path, exp, sig))).toBe('URL_EXPIRED');
  });

  it('sign a given expiry as is (HLS playlists share their master URL’s)', () => {
    const { signer } = signerAt(Date.parse('2031-01-01T00:00:00Z'));
    const expiresAt = Date.parse('2031-01-01T00:10:00Z') / 1000;
    const { exp, sig } = query(signer.sign(path, expiresAt));
    expect(signer.verify(path, exp, sig)).toEqual({ expiresAt, secondsLeft: 600 });
  });

  it('refuse another path, another expiry, a bad signature or a missing one', () => {
    const { signer } = signerAt(Date.parse('2031-01-01T00:00:00Z'));
    const { exp, sig } = query(signer.sign(path));
    expect(codeOf(() => signer.verify('/media/audio/abc/other.flac', exp, sig))).toBe('INVALID_SIGNATURE');
    expect(codeOf(() => signer.verify(path, String(Number(exp) + 1), sig))).toBe('INVALID_SIGNATURE');
    expect(codeOf(() => signer.verify(path, exp, `${sig}x`))).toBe('INVALID_SIGNATURE');
    expect(codeOf(() => signer.verify(path, exp, undefined))).toBe('INVALID_SIGNATURE');
    expect(codeOf(() => signer.verify(path, 'soon', sig))).toBe('INVALID_SIGNATURE');
  });
});
