import { ValidationError } from '../../platform/errors.js';
import { parseSort } from '../../platform/http.js';
import type { SortOrRelevance } from './catalog.repo.js';

interface Window {
  limit: number;
  offset: number;
}

// ---------------------------------------------------------------------------------------------
// Input normalisation

function normaliseGenres(genres: string[] | undefined): string[] | undefined {
  if (!genres?.length) return undefined;
  return [...new Set(genres.map((g) => g.trim().toLowerCase()))].sort();
}

/** Genres as written, trimmed, without case-insensitive duplicates. */
function cleanGenres(genres: string[]): string[] {
  const seen = new Set<string>();
  return genres
    .map((g) => g.trim())
    .filter((g) => {
      const key = g.toLowerCase();
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

const trimOrNull = (value: string | null | undefined) => (value == null ? value : value.trim());

function chooseSort<F extends string>(sort: string | undefined, q: string | undefined): SortOrRelevance<F> {
  if (!sort && q) return 'relevance';
  return parseSort<F>(sort, '-createdAt' as `-${F}`);
}

function assertYearRange(yearFrom: number | undefined, yearTo: number | undefined): void {
  if (yearFrom !== undefined && yearTo !== undefined && yearFrom > yearTo) {
    throw new ValidationError('yearFrom is after yearTo', [
      { path: '/yearFrom', message: 'must not be after yearTo' },
    ]);
  }
}

function assertReleaseDateInYear(releaseYear: number, releaseDate: string | null | undefined): void {
  if (releaseDate && Number(releaseDate.slice(0, 4)) !== releaseYear) {
    throw new ValidationError('releaseDate is not in releaseYear', [
      { path: '/releaseDate', message: 'must fall in releaseYear' },
    ]);
  }
}

export {
  assertReleaseDateInYear,
  assertYearRange,
  chooseSort,
  cleanGenres,
  normaliseGenres,
  trimOrNull,
  type Window,
};
