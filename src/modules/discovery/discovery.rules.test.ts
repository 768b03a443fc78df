import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, scoreCandidate, tasteOf } from './discovery.service.js';

// The pure rules behind the play feed and recommendations: no app, no database.

describe('play feed cursors', () => {
  it('round-trip a position, to the millisecond', () => {
    const position = { playedAt: new Date('2026-03-04T05:06:07.089Z'), id: 123_456_789_012 };
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
  });

  it('refuse anything this feed did not give out with 400 INVALID_CURSOR', () => {
    const bad = [
      '',
      'not base64 at all!',
      Buffer.from('12.x').toString('base64url'),
      Buffer.from('1234567890123456.1').toString('base64url'),
      Buffer.from('-1.1').toString('base64url'),
    ];
    for (const cursor of bad) {
      expect(() => decodeCursor(cursor)).toThrow(expect.objectContaining({ code: 'INVALID_CURSOR' }));
    }
  });
});

describe('recommendation scoring', () => {
  const song = (id: string, artistId: string, genre: string, releaseYear: number) => ({
    id,
    artistId,
    genre,
    releaseYear,
  });
  const taste = tasteOf([
    song('1', 'queen', 'rock', 1975),
    song('2', 'queen', 'rock', 1977),
    song('3', 'bowie', 'glam', 1972),
    song('4', 'abba', 'pop', 1976),
  ]);

  it('weighs genres and artists against the favourite, and averages the era', () => {
    expect(taste.genres).toEqual(
      new Map([
        ['rock', 1],
        ['glam', 0.5],
        ['pop', 0.5],
      ]),
    );
    expect(taste.artists.get('queen')).toBe(1);
    expect(taste.artists.get('bowie')).toBe(0.5);
    expect(taste.year).toBe(1975);
  });

  it('scores 60 % collaborative and 40 % content (genre 45, artist 35, era 20)', () => {
    const perfect = scoreCandidate(song('x', 'queen', 'rock', 1975), taste, 1);
    expect(perfect.score).toBeCloseTo(1, 10);
    const contentOnly = scoreCandidate(song('x', 'queen', 'rock', 1975), taste, 0);
    expect(contentOnly.score).toBeCloseTo(0.4, 10);
    // Glam (0.5), another artist, five years off the era (0.5): 0.4 * (0.225 + 0.1).
    expect(scoreCandidate(song('x', 'other', 'glam', 1980), taste, 0).score).toBeCloseTo(0.13, 10);
    // Ten years or more from the era weighs nothing.
    expect(scoreCandidate(song('x', 'other', 'jazz', 1995), taste, 0).score).toBe(0);
  });

  it('names the strongest reason: co-listened, then same artist, genre, era', () => {
    expect(scoreCandidate(song('x', 'queen', 'rock', 1975), taste, 0.7).reason).toBe('co-listened');
    expect(scoreCandidate(song('x', 'queen', 'jazz', 1975), taste, 0).reason).toBe('same-artist');
    expect(scoreCandidate(song('x', 'other', 'rock', 1990), taste, 0).reason).toBe('same-genre');
    expect(scoreCandidate(song('x', 'other', 'jazz', 1974), taste, 0).reason).toBe('same-era');
  });
});
