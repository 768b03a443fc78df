/**
 * Load for the fault tests: writers that create playlists as fast as the server takes them and
 * remember every one it acknowledged, and a poller that records what `/health/ready` says.
 */
const REQUEST_TIMEOUT_MS = 10_000;

export class Writers {
  readonly acked: string[] = [];
  /** Answers other than 201 by status (or `timeout` / `network`), with when they happened. */
  readonly refused = new Map<string, number>();
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private sequence = 0;
  /** When each acknowledgement arrived, in order. */
  readonly ackTimes: number[] = [];

  constructor(
    private readonly base: () => string,
    private readonly token: string,
  ) {}

  start(concurrency = 4): this {
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop());
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** Resolves once `count` more writes were acknowledged. */
  async until(count: number): Promise<void> {
    const target = this.acked.length + count;
    while (this.acked.length < target) await new Promise((r) => setTimeout(r, 20));
  }

  /** When the first write after `since` was acknowledged. */
  firstAckAfter(since: number): number | undefined {
    return this.ackTimes.find((t) => t >= since);
  }

  get refusedCount(): number {
    return [...this.refused.values()].reduce((a, b) => a + b, 0);
  }

  /** Refusals that are not an honest "retry later" (503) or a dead server (network). */
  unexpected(allowed: string[]): Record<string, number> {
    return Object.fromEntries([...this.refused].filter(([status]) => !allowed.includes(status)));
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const name = `fault-${process.pid}-${++this.sequence}`;
      try {
        const res = await fetch(`${this.base()}/api/v1/playlists`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
          body: JSON.stringify({ name }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await res.text();
        if (res.status === 201) {
          this.acked.push(JSON.parse(text).id);
          this.ackTimes.push(Date.now());
        } else {
          this.count(String(res.status));
          await new Promise((r) => setTimeout(r, 50));
        }
      } catch (error) {
        this.count((error as Error).name === 'TimeoutError' ? 'timeout' : 'network');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private count(status: string): void {
    this.refused.set(status, (this.refused.get(status) ?? 0) + 1);
  }
}

export interface ReadySample {
  at: number;
  status: number;
  checks: Record<string, string>;
  /** The process's own word on whether it still answers requests (a 503 may still serve). */
  serving: boolean;
}

/** Polls `/health/ready` every 200 ms. */
export class ReadyPoller {
  readonly samples: ReadySample[] = [];
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly base: () => string) {}

  start(): this {
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          const res = await fetch(`${this.base()}/health/ready`, { signal: AbortSignal.timeout(5000) });
          const body = (await res.json()) as { checks: Record<string, string>; serving: boolean };
          this.samples.push({
            at: Date.now(),
            status: res.status,
            checks: body.checks,
            serving: body.serving,
          });
        } catch {
          this.samples.push({ at: Date.now(), status: 0, checks: {}, serving: false });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  /** True when some sample answered 503 naming `check` as failed. */
  reported(check: string): boolean {
    return this.samples.some((s) => s.status === 503 && s.checks[check] === 'error');
  }

  /** True when some sample answered 503 naming `check` as failed while still serving (on a fallback). */
  degraded(check: string): boolean {
    return this.samples.some((s) => s.status === 503 && s.checks[check] === 'error' && s.serving);
  }

  /** How many samples said the process does not serve (the gateway takes it out of rotation). */
  get notServing(): number {
    return this.samples.filter((s) => s.status === 503 && !s.serving).length;
  }

  /** The first moment after `since` that the service was ready again. */
  readyAgainAfter(since: number): number | undefined {
    return this.samples.find((s) => s.at >= since && s.status === 200)?.at;
  }
}

/** Waits until `/health/ready` answers 200; returns when. */
export function waitReady(base: string, timeoutMs = 60_000): Promise<number> {
  return waitHealth(base, (status) => status === 200, timeoutMs);
}

/** Waits until `/health/ready` answers 200 with every check ok (not just serving); returns when. */
export function waitHealthy(base: string, timeoutMs = 60_000): Promise<number> {
  return waitHealth(base, (status, body) => status === 200 && body.status === 'ok', timeoutMs);
}

async function waitHealth(
  base: string,
  done: (status: number, body: { status?: string }) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(3000) });
      if (done(res.status, (await res.json()) as { status?: string })) return Date.now();
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${base} was not ready again within ${timeoutMs} ms`);
}
