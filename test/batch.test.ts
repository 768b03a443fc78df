import { describe, expect, it } from 'vitest';
import { batched } from '../src/platform/batch.js';

/** A batched doubler that records the batches it ran and fails on the items it is told to. */
function doubler(failOn: (n: number) => boolean = () => false) {
  const batches: number[][] = [];
  const failures: number[] = [];
  const double = batched(
    async (items: readonly number[]) => {
      batches.push([...items]);
      if (items.some(failOn)) throw new Error(`bad item in ${items.join(',')}`);
      return items.map((n) => (n < 0 ? new Error(`negative ${n}`) : n * 2));
    },
    { maxBatchSize: 4, onBatchFailure: (_error, size) => failures.push(size) },
  );
  return { double, batches, failures };
}

describe('batched', () => {
  it('runs the calls of one turn together, in order, at most maxBatchSize at a time', async () => {
    const { double, batches } = doubler();
    expect(await Promise.all([1, 2, 3, 4, 5, 6].map(double))).toEqual([2, 4, 6, 8, 10, 12]);
    expect(batches).toEqual([
      [1, 2, 3, 4],
      [5, 6],
    ]);
    // A later call is a batch of its own.
    expect(await double(7)).toBe(14);
    expect(batches.at(-1)).toEqual([7]);
  });

  it('rejects only the caller whose item the run answered with an Error', async () => {
    const { double } = doubler();
    const results = await Promise.allSettled([1, -2, 3].map(double));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('negative -2');
  });

  it('retries a failed batch one item at a time, so only the bad item fails', async () => {
    const { double, batches, failures } = doubler((n) => n === 13);
    const results = await Promise.allSettled([12, 13, 14].map(double));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).toEqual([24, 'failed', 28]);
    expect(batches).toEqual([[12, 13, 14], [12], [13], [14]]);
    expect(failures).toEqual([3]);
  });
});
