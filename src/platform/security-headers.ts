import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/** What helmet does to a response: headers it sets, headers it removes. */
interface SecurityHeaders {
  set: Array<[string, string | number | readonly string[]]>;
  remove: string[];
}

const ROUTE_HEADERS = Symbol('securityHeaders');

/**
 * Runs helmet once on a stand-in response and records what it did. Helmet's headers depend on
 * its options only (no directive here is a per-request function, and nonces are not used), so
 * they are the same bytes on every response of a route.
 */
function recordHelmet(options: HelmetOptions): SecurityHeaders {
  const recorded: SecurityHeaders = { set: [], remove: [] };
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      recorded.set.push([name.toLowerCase(), value]);
      return response;
    },
    removeHeader(name: string) {
      recorded.remove.push(name);
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return recorded;
}

/**
 * Helmet's security headers on every answer, computed once per configuration rather than per
 * request. `@fastify/helmet` builds a new helmet middleware (parsing every option and the CSP
 * directives) in two hooks of every request; on a cached read that was a large share of the CPU.
 * A route may still override the options with `helmet: { ... }` or opt out with `helmet: false`,
 * as with `@fastify/helmet`.
 */
export function registerSecurityHeaders(app: FastifyInstance, options: HelmetOptions = {}): void {
  const global = recordHelmet(options);
  app.addHook('onRoute', (route) => {
    const own = route.helmet;
    if (own === undefined) return;
    route.config = Object.assign(route.config ?? {}, {
      [ROUTE_HEADERS]:
        own === false ? { set: [], remove: [] } : recordHelmet({ ...options, ...own } as HelmetOptions),
    });
  });
  // Set as Fastify's reply headers, not on the raw response: a header set on the raw response
  // makes Node merge and check every header of the answer twice when it is written.
  app.addHook('onRequest', (request, reply, done) => {
    const config = request.routeOptions.config as { [ROUTE_HEADERS]?: SecurityHeaders };
    const { set, remove } = config[ROUTE_HEADERS] ?? global;
    for (let i = 0; i < set.length; i++) reply.header(set[i]![0], set[i]![1]);
    const raw = reply.raw;
    for (let i = 0; i < remove.length; i++) if (raw.hasHeader(remove[i]!)) raw.removeHeader(remove[i]!);
    done();
  });
}

declare module 'fastify' {
  interface RouteShorthandOptions {
    /** This route's helmet options (merged over the global ones), or `false` for none. */
    helmet?: HelmetOptions | false;
  }
}
