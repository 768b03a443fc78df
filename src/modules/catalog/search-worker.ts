import { parentPort } from 'node:worker_threads';
import { LRUCache } from 'lru-cache';
import {
  assemble,
  type Held,
  type IndexedPage,
  type IndexedSearch,
  type IndexedType,
  type Reading,
  searchBuilt,
  searchRemembered,
} from './search-built.js';

// The search index's worker thread (see search-index.ts): it assembles each index from what the
// main thread read, keeps the last two (a new one is built while the old one still answers),
// and answers searches against the one a request names. Ranking hundreds of candidates is most
// of a search's CPU; here it runs beside the thread that serves HTTP.

export type ToWorker =
  | {
      kind: 'load';
      generation: number;
      words: string[];
      readings: Record<IndexedType, Reading>;
      answersKept: number;
    }
  | { kind: 'search'; id: number; generation: number; query: IndexedSearch; types: IndexedType[] };

export type FromWorker =
  | { kind: 'loaded'; generation: number }
  | { kind: 'failed'; generation: number; message: string }
  | { kind: 'pages'; id: number; pages: Map<IndexedType, IndexedPage> | null }
  | { kind: 'error'; id: number; message: string };

/** Indexes kept: the newest and the one before it, which answers until the new one is in use. */
const KEPT = 2;

const port = parentPort;
if (!port) throw new Error('search-worker.ts runs as a worker thread');

const held = new Map<number, Held & { answersKept: number }>();
const send = (message: FromWorker) => port.postMessage(message);

port.on('message', (message: ToWorker) => {
  if (message.kind === 'load') {
    const { generation, words, readings, answersKept } = message;
    assemble(words, readings).then(
      (built) => {
        held.set(generation, {
          built,
          answers: new LRUCache({ max: Math.max(1, answersKept) }),
          answersKept,
        });
        for (const old of [...held.keys()].sort((a, b) => a - b).slice(0, -KEPT)) held.delete(old);
        send({ kind: 'loaded', generation });
      },
      (error: unknown) => send({ kind: 'failed', generation, message: String(error) }),
    );
    return;
  }
  const { id, generation, query, types } = message;
  const index = held.get(generation);
  try {
    const pages = !index
      ? null
      : index.answersKept
        ? searchRemembered(index, query, types)
        : searchBuilt(index.built, query, types);
    send({ kind: 'pages', id, pages });
  } catch (error) {
    send({ kind: 'error', id, message: String(error) });
  }
});
