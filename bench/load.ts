import autocannon, { type Request } from 'autocannon';

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface Measurement {
  requests: number;
  seconds: number;
  rps: number;
  /** Milliseconds, from every response (autocannon's own histogram keeps whole milliseconds only). */
  latencyMs: Latency;
  statuses: Record<string, number>;
  /** Responses whose status was not one the scenario expects. */
  unexpected: number;
  /** Connection errors and timeouts. */
  errors: number;
}

export interface LoadOptions {
  connections: number;
  /** How long to run; with `amount`, the most it may take. */
  seconds: number;
  /** Stop after this many requests (or `seconds`, whichever comes first). */
  amount?: number;
  expect: number[];
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * Drives `requests` (a cycle autocannon repeats per connection) at `url` for a fixed time (or
 * a fixed number of requests, bounded by that time) with a fixed number of connections, each
 * sending its next request when the previous one answered.
 */
export async function measure(url: string, requests: Request[], options: LoadOptions): Promise<Measurement> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const statuses: Record<string, number> = {};
  const started = performance.now();
  const instance = autocannon({
    url,
    connections: options.connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.seconds }),
    timeout: 10,
    requests,
  });
  // autocannon has no time bound of its own when it counts requests.
  const bound = options.amount ? setTimeout(() => instance.stop(), options.seconds * 1000) : undefined;
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  const result = await instance;
  clearTimeout(bound);
  const seconds = result.duration || (performance.now() - started) / 1000;
  const sorted = latencies.slice(0, count).sort();
  const expected = options.expect.reduce((sum, status) => sum + (statuses[status] ?? 0), 0);
  return {
    requests: count,
    seconds: round2(seconds),
    rps: Math.round(count / seconds),
    latencyMs: {
      p50: round2(percentile(sorted, 50)),
      p90: round2(percentile(sorted, 90)),
      p99: round2(percentile(sorted, 99)),
      max: round2(percentile(sorted, 100)),
      mean: round2(sorted.reduce((a, b) => a + b, 0) / Math.max(1, count)),
    },
    statuses,
    unexpected: count - expected,
    errors: result.errors,
  };
}
