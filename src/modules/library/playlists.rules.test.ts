import { describe, expect, it } from 'vitest';
import { parseM3u } from './playlists.formats.js';
import { type Entry, insertAt, moveRange, removeAt } from './playlists.service.js';

// The pure rules behind playlist edits and imports: no app, no database.

/** Entries named by letter; lower case ones are hidden (songs the caller may not see). */
const entries = (letters: string): Entry[] =>
  [...letters].map((l) => ({ id: l, songId: l.toUpperCase(), visible: l === l.toUpperCase() }));
const names = (list: Entry[]) => list.map((e) => e.id ?? `+${e.songId}`).join('');
const added = (songId: string): Entry => ({ id: null, songId, visible: true });

describe('reorder arithmetic (Spotify semantics over visible positions)', () => {
  it('moves a range before the track that was at insertBefore, or to the end', () => {
    expect(names(moveRange(entries('ABCDE'), 0, 1, 3))).toBe('BCADE');
    expect(names(moveRange(entries('ABCDE'), 3, 2, 0))).toBe('DEABC');
    expect(names(moveRange(entries('ABCDE'), 1, 2, 5))).toBe('ADEBC');
  });

  it('leaves the order as it is for a target inside or just after the range', () => {
    const list = entries('ABCDE');
    for (const before of [1, 2, 3]) expect(moveRange(list, 1, 2, before)).toBe(list);
  });

  it('counts positions over visible tracks and leaves hidden ones where they are', () => {
    // Visible: A B C (positions 0 1 2); x and y are hidden.
    expect(names(moveRange(entries('AxByC'), 2, 1, 0))).toBe('CAxBy');
    expect(names(moveRange(entries('AxByC'), 0, 1, 3))).toBe('xByCA');
    expect(names(removeAt(entries('AxByC'), [1]))).toBe('AxyC');
    expect(names(insertAt(entries('AxByC'), 1, [added('N')]))).toBe('Ax+NByC');
    expect(names(insertAt(entries('AxByC'), 3, [added('N')]))).toBe('AxByC+N');
  });

  it('refuses positions past the visible end with POSITION_OUT_OF_RANGE and the field', () => {
    const list = entries('AxB');
    const problem = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error as { code: string; errors: { path: string }[] };
      }
      throw new Error('no error');
    };
    expect(problem(() => insertAt(list, 3, [added('N')]))).toMatchObject({
      code: 'POSITION_OUT_OF_RANGE',
      errors: [{ path: '/position' }],
    });
    expect(problem(() => removeAt(list, [0, 2]))).toMatchObject({ errors: [{ path: '/positions/1' }] });
    expect(problem(() => moveRange(list, 2, 1, 0))).toMatchObject({ errors: [{ path: '/rangeStart' }] });
    expect(problem(() => moveRange(list, 1, 2, 0))).toMatchObject({ errors: [{ path: '/rangeLength' }] });
    expect(problem(() => moveRange(list, 0, 1, 3))).toMatchObject({ errors: [{ path: '/insertBefore' }] });
  });
});

describe('M3U parsing', () => {
  it('reads #EXTINF descriptions, file names, CRLF, a BOM and a trailing description', () => {
    const content = [
      '\uFEFF#EXTM3U',
      '#EXTINF:354,Queen - Bohemian Rhapsody',
      'Music/queen/bohemian.mp3',
      '# a comment',
      'Music/Daft%20Punk%20-%20One%20More%20Time.flac?x=1',
      '#EXTINF:200,Jay-Z - Big Pimpin - Remix',
    ].join('\r\n');
    const parsed = parseM3u(content);
    expect(parsed.map((e) => [e.line, e.text])).toEqual([
      [2, 'Queen - Bohemian Rhapsody'],
      [5, 'Daft Punk - One More Time'],
      [6, 'Jay-Z - Big Pimpin - Remix'],
    ]);
    expect(parsed[0]!.candidates).toEqual([{ artist: 'Queen', title: 'Bohemian Rhapsody' }]);
    // Every split point is a reading, the first first; a dash without spaces is part of a name.
    expect(parsed[2]!.candidates).toEqual([
      { artist: 'Jay-Z', title: 'Big Pimpin - Remix' },
      { artist: 'Jay-Z - Big Pimpin', title: 'Remix' },
    ]);
  });

  it('gives no readings for text without a separator or far too long, and stays linear', () => {
    expect(parseM3u('#EXTINF:1,Untitled\nx.mp3')[0]!.candidates).toEqual([]);
    const long = `${'a'.repeat(300)} - ${'b'.repeat(300)}`;
    const [entry] = parseM3u(`#EXTINF:1,${long}\nx.mp3`);
    expect(entry!.candidates).toEqual([]);
    expect(entry!.text).toHaveLength(200);
    expect(parseM3u(`#EXTINF:1,a${' '.repeat(100_000)}-${' '.repeat(100_000)}b\nx.mp3`)).toHaveLength(1);
  });
});
