/**
 * The load generator of bench/plays.ts, forked into a process of its own so that autocannon
 * does not share the server's event loop (the figures were a lower bound while it did). It
 * takes one job over IPC, drives it, answers with autocannon's result and exits.
 */
import autocannon from 'autocannon';

export interface LoadJob {
  url: string;
  connections: number;
  seconds: number;
  tokens: string[];
  /**
   * `plays`: POST /songs/:id/plays over `songIds` (Zipf-like skew); `me`: GET /me; `page`: the
   * cached first album page, anonymous (bench/scale.ts).
   */
  kind: 'plays' | 'me' | 'page';
  songIds: string[];
}

/** The part of autocannon's result the bench reads. */
export interface LoadResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

const pick = <T>(items: T[], skew = 1) => items[Math.floor(Math.random() ** skew * items.length)]!;

function request(job: LoadJob): { method: string; path: string; body?: string } {
  if (job.kind === 'me') return { method: 'GET', path: '/api/v1/me' };
  if (job.kind === 'page') return { method: 'GET', path: '/api/v1/albums?limit=20' };
  const fate = Math.random();
  const event = fate < 0.7 ? 'play' : fate < 0.9 ? 'complete' : 'skip';
  return {
    method: 'POST',
    path: `/api/v1/songs/${pick(job.songIds, 3)}/plays`,
    body: JSON.stringify({ event, positionMs: 1000 }),
  };
}

process.once('message', async (job: LoadJob) => {
  const result = (await autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.seconds,
    requests: [
      {
        setupRequest: (base) => ({
          ...base,
          ...request(job),
          headers: (job.kind === 'page'
            ? {}
            : { authorization: `Bearer ${pick(job.tokens)}`, 'content-type': 'application/json' }) as Record<
            string,
            string
          >,
        }),
      },
    ],
  })) as unknown as LoadResult;
  const { requests, latency, non2xx, errors } = result;
  process.send?.({ requests: { total: requests.total }, latency, non2xx, errors }, () => process.exit(0));
});
