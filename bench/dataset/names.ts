import { chance, intBelow, pick, type Random, randomStream, ZipfSampler } from './random.js';

/**
 * Real-looking words for names and titles, so full-text and trigram search work on text
 * shaped like a real catalog (shared words, varied lengths) rather than on random letters.
 */
const ADJECTIVES = (
  'Silver Broken Golden Electric Velvet Midnight Crimson Hollow Wild Quiet Burning Frozen Lonely ' +
  'Neon Paper Savage Secret Distant Faded Restless Northern Southern Wandering Shining Bitter ' +
  'Sweet Heavy Gentle Lucky Dusty Cosmic Endless Hidden Open Painted Rising Sleeping Stolen Violet ' +
  'Young'
).split(' ');
const NOUNS = (
  'River Heart Fire Mountain Shadow Ocean Garden Highway Mirror Thunder Harbor Echo Horizon ' +
  'Lantern Meadow Machine Signal Station Window Winter Summer Desert Forest Island Kingdom Letter ' +
  'Memory Engine Orchard Parade Planet Rain Satellite Shore Sky Storm Stranger Sunrise Tide Valley ' +
  'Wolves Wire Comet Cathedral Canyon Ballad Anthem Carousel Diamond Feather'
).split(' ');
const FIRST_NAMES = (
  'Ava Miles Nina Otis Lena Marcus Iris Felix Nora Elliott June Ray Clara Hugo Mae Isaac Ruby Theo ' +
  'Alma Jonas Sofia Dexter Lucia Wes Greta Malik Ingrid Rafael Yara Bruno Esme Kofi Hana Levi ' +
  'Pilar Sami'
).split(' ');
const LAST_NAMES = (
  'Hale Moreau Okafor Lindqvist Reyes Castellano Whitfield Nakamura Brennan Dubois Fontaine ' +
  'Grayson Haddad Ivanova Jensen Kowalski Larkin Mendez Novak Oyelaran Petrov Quinlan Rossi ' +
  'Sandoval Tanaka Underwood Varga Weller Xavier Yamamoto Zeller Abernathy Blackwood Carrington ' +
  'Delacroix'
).split(' ');
const LABELS = (
  'Northbound Records|Blue Lantern|Static Bloom|Harbor Lights Music|Quiet Giant|' +
  'Tin Roof Recordings|Velvet Hour|Open Circuit|Paper Moon Audio|Low Tide Records'
).split('|');

const SYLLABLES = (
  'ka lo mi ra ven tor sil mar del no ri sa tha bel cor da el fi gan ho is ju ker lu mo nel or pa ' +
  'quin ros sen tu ul vi wen xa yo zel'
).split(' ');

/**
 * Nouns by frequency: the real ones above are the common head, and 1,500 coined words (from a
 * fixed stream, the same for every seed) form the long tail. Drawn Zipf-like, a few words are in
 * many titles and most in few, so a search matches a realistic number of rows.
 */
const nouns = (() => {
  const random = randomStream(0, 'vocabulary');
  const words = new Set(NOUNS);
  while (words.size < NOUNS.length + 1_500) {
    const word = Array.from({ length: 2 + intBelow(random, 2) }, () => pick(random, SYLLABLES)).join('');
    words.add(word[0]!.toUpperCase() + word.slice(1));
  }
  const list = [...words];
  const sampler = new ZipfSampler(Int32Array.from(list.keys()), 1);
  return (r: Random) => list[sampler.sample(r)]!;
})();

/** 16 genres; their order is their share of the catalog (Zipf-like: rock and pop dominate). */
export const GENRES =
  'Rock|Pop|Hip-Hop|Electronic|R&B|Jazz|Country|Metal|Folk|Classical|Latin|Indie|Soul|Blues|Reggae|Ambient'.split(
    '|',
  );

/** Appended when a drawn artist name is taken: names must be unique to link albums by name. */
const ACT_SUFFIXES = 'Trio|Quartet|Band|Collective|Ensemble|Project|Orchestra|Sound System'.split('|');

/** A new artist name, distinct (case-insensitively) from those in `taken`, which it extends. */
export function uniqueArtistName(random: Random, taken: Set<string>): string {
  let name = artistName(random);
  if (taken.has(name.toLowerCase())) name = `${name} ${pick(random, ACT_SUFFIXES)}`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${name.replace(/ [0-9]+$/, '')} ${n}`;
  taken.add(name.toLowerCase());
  return name;
}

function artistName(random: Random): string {
  switch (intBelow(random, 5)) {
    case 0:
      return `The ${pick(random, ADJECTIVES)} ${nouns(random)}`;
    case 1:
    case 2:
      return `${pick(random, FIRST_NAMES)} ${pick(random, LAST_NAMES)}`;
    case 3:
      return `${nouns(random)} & the ${nouns(random)}`;
    default:
      return `${pick(random, ADJECTIVES)} ${nouns(random)}`;
  }
}

export function albumTitle(random: Random): string {
  switch (intBelow(random, 4)) {
    case 0:
      return `${pick(random, ADJECTIVES)} ${nouns(random)}`;
    case 1:
      return `${nouns(random)} of the ${nouns(random)}`;
    case 2:
      return `${nouns(random)}`;
    default:
      return `${pick(random, ADJECTIVES)} ${nouns(random)} ${nouns(random)}`;
  }
}

export function songTitle(random: Random): string {
  switch (intBelow(random, 5)) {
    case 0:
      return `${nouns(random)}`;
    case 1:
      return `${pick(random, ADJECTIVES)} ${nouns(random)}`;
    case 2:
      return `Under the ${pick(random, ADJECTIVES)} ${nouns(random)}`;
    case 3:
      return `${nouns(random)} in the ${nouns(random)}`;
    default:
      return `${pick(random, FIRST_NAMES)}'s ${nouns(random)}`;
  }
}

export const labelName = (random: Random): string | null =>
  chance(random, 0.7) ? pick(random, LABELS) : null;

/**
 * One keyboard-slip away from `text` (a letter dropped, doubled, swapped with its neighbour or
 * replaced), the kind of query a typo-tolerant search must still answer.
 */
export function withTypo(random: Random, text: string): string {
  const letters = [...text];
  const positions = letters.flatMap((c, i) => (/[a-z]/i.test(c) && i > 0 ? [i] : []));
  if (!positions.length) return text;
  const at = pick(random, positions);
  switch (intBelow(random, 4)) {
    case 0:
      letters.splice(at, 1);
      break;
    case 1:
      letters.splice(at, 0, letters[at]!);
      break;
    case 2:
      if (at + 1 < letters.length) [letters[at], letters[at + 1]] = [letters[at + 1]!, letters[at]!];
      break;
    default:
      letters[at] = String.fromCharCode(97 + intBelow(random, 26));
  }
  return letters.join('');
}
