import DataLoader from 'dataloader';
import { outsideRequestTurn } from './db.js';

export interface BatchOptions {
  /** The most items one call of `run` gets; more wait for the next batch. */
  maxBatchSize?: number;
  /** Told when a whole batch failed and its items are being retried one at a time. */
  onBatchFailure?: (error: unknown, size: number) => void;
}

/**
 * Coalesces the calls made in one turn of the event loop into one call of `run`, which answers
 * every item in order (a result, or an Error for that item alone). Under load one statement then
 * serves many requests: fewer round trips, fewer commits and far less per-query work on both
 * sides, while each caller still waits for its own answer (nothing is acknowledged before it is
 * written). With one request at a time a batch is that request, a turn of the loop later.
 *
 * If `run` throws, the batch is retried one item at a time, so a bad item (say a row deleted
 * meanwhile) fails only its own caller; `run` must therefore write all or nothing.
 */
export function batched<I, R>(
  run: (items: readonly I[]) => Promise<readonly (R | Error)[]>,
  options: BatchOptions = {},
): (item: I) => Promise<R> {
  const alone = async (item: I): Promise<R | Error> => {
    try {
      const [result] = await run([item]);
      return result as R | Error;
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
  const loader = new DataLoader<I, R>(
    async (items) => {
      if (items.length === 1) return [await alone(items[0] as I)];
      try {
        return await run(items);
      } catch (error) {
        options.onBatchFailure?.(error, items.length);
        return Promise.all(items.map(alone));
      }
    },
    {
      cache: false,
      maxBatchSize: options.maxBatchSize ?? 500,
      // After the I/O of this turn: every request read in it joins the batch. The batch serves
      // all of them, so it runs outside the first one's turn on the embedded database's queue.
      batchScheduleFn: (dispatch) => setImmediate(() => outsideRequestTurn(dispatch)),
    },
  );
  return (item) => loader.load(item);
}
