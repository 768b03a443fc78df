import type { FastifyBaseLogger } from 'fastify';

/** How often, and how patiently, the gateway asks each process whether it is ready. */
const CHECK_INTERVAL_MS = 1_000;
/** Longer than a process's own readiness checks may take (2 s), so a slow answer is not "down". */
const CHECK_TIMEOUT_MS = 3_000;

export interface Upstream {
  url: string;
  role: string;
  status: 'ok' | 'down';
  latencyMs: number | null;
}

/**
 * The processes behind the gateway, by role, with their health: each is asked `/health/ready`
 * every second (a `503` there, such as while it shuts down, takes it out of rotation unless it
 * says it still serves), and one
 * that refuses a connection is taken out at once, until a check finds it ready again.
 */
export class UpstreamPool {
  private readonly byRole = new Map<string, Upstream[]>();
  private readonly turn = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    upstreams: Record<string, string[]>,
    private readonly log: FastifyBaseLogger,
  ) {
    for (const [role, urls] of Object.entries(upstreams)) {
      this.byRole.set(
        role,
        urls.map((url) => ({ url, role, status: 'down', latencyMs: null })),
      );
    }
  }

  roles(): string[] {
    return [...this.byRole.keys()];
  }

  has(role: string): boolean {
    return this.byRole.has(role);
  }

  list(role: string): readonly Upstream[] {
    return this.byRole.get(role) ?? [];
  }

  /** The next healthy process of `role`, round robin, other than `except`; undefined when none. */
  pick(role: string, except?: Upstream): Upstream | undefined {
    const all = this.byRole.get(role) ?? [];
    const start = this.turn.get(role) ?? 0;
    for (let i = 0; i < all.length; i++) {
      const candidate = all[(start + i) % all.length]!;
      if (candidate.status === 'ok' && candidate !== except) {
        this.turn.set(role, (start + i + 1) % all.length);
        return candidate;
      }
    }
    return undefined;
  }

  /** Out of rotation until a check finds it ready again. */
  markDown(upstream: Upstream): void {
    if (upstream.status === 'down') return;
    // One process may serve several roles: it is down for all of them.
    for (const entry of [...this.byRole.values()].flat())
      if (entry.url === upstream.url) entry.status = 'down';
    this.log.warn({ upstream: upstream.url }, 'upstream taken out of rotation');
  }

  /** Checks every process now, then every second. */
  async start(): Promise<void> {
    await this.checkAll();
    const loop = () => {
      this.timer = setTimeout(async () => {
        await this.checkAll();
        loop();
      }, CHECK_INTERVAL_MS);
      this.timer.unref();
    };
    loop();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async checkAll(): Promise<void> {
    const distinct = new Map<string, Upstream[]>();
    for (const upstream of [...this.byRole.values()].flat()) {
      distinct.set(upstream.url, [...(distinct.get(upstream.url) ?? []), upstream]);
    }
    await Promise.all(
      [...distinct].map(async ([url, entries]) => {
        const { ok, latencyMs } = await probe(url);
        for (const upstream of entries) {
          if (ok && upstream.status === 'down') {
            this.log.info({ upstream: url, role: upstream.role }, 'upstream ready');
          }
          upstream.status = ok ? 'ok' : 'down';
          upstream.latencyMs = latencyMs;
        }
      }),
    );
  }
}

/**
 * One readiness request; ok for a 200 within the timeout, and for a 503 that says the process
 * still serves (`serving`: only Redis or NATS is away, which every replica shares and serves
 * through on its fallbacks).
 */
async function probe(url: string): Promise<{ ok: boolean; latencyMs: number | null }> {
  const started = performance.now();
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    const body = (await response.json().catch(() => null)) as { serving?: unknown } | null;
    const ok = response.status === 200 || (response.status === 503 && body?.serving === true);
    return { ok, latencyMs: Math.round(performance.now() - started) };
  } catch {
    return { ok: false, latencyMs: null };
  }
}
