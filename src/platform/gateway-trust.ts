import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The header by which the gateway proves a request came through it. */
export const GATEWAY_HEADER = 'x-backbeat-gateway';
const FORWARDED_HEADERS = [
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'forwarded',
];

/**
 * The gateway and the services share `JWT_SECRET` already (every service checks tokens itself),
 * so the proof is derived from it: no new secret to distribute, and a client cannot forge it.
 */
export function gatewayProof(jwtSecret: string): string {
  return createHmac('sha256', jwtSecret).update('backbeat gateway v1').digest('base64url');
}

export interface GatewayTrust {
  /** Whether these request headers carry the gateway's proof. */
  fromGateway(headers: IncomingHttpHeaders): boolean;
  /**
   * Drops `X-Forwarded-*` and `Forwarded` unless the request came through the gateway, so
   * nothing downstream believes a client's claim about its address or scheme.
   */
  dropUntrustedForwarding(headers: IncomingHttpHeaders): void;
}

export function createGatewayTrust(jwtSecret: string): GatewayTrust {
  const expected = Buffer.from(gatewayProof(jwtSecret));
  const fromGateway = (headers: IncomingHttpHeaders) => {
    const given = headers[GATEWAY_HEADER];
    if (typeof given !== 'string' || given.length !== expected.length) return false;
    return timingSafeEqual(Buffer.from(given), expected);
  };
  return {
    fromGateway,
    dropUntrustedForwarding(headers) {
      if (fromGateway(headers)) return;
      for (const name of FORWARDED_HEADERS) if (headers[name] !== undefined) delete headers[name];
      if (headers[GATEWAY_HEADER] !== undefined) delete headers[GATEWAY_HEADER];
    },
  };
}

/** Removes every forwarding header a client sent; the gateway then sets its own. */
export function stripForwarding(headers: Record<string, unknown>): void {
  for (const name of FORWARDED_HEADERS) delete headers[name];
  delete headers[GATEWAY_HEADER];
}

/**
 * The header by which the gateway tells a `live` process its tag, which the process puts at the
 * start of the socket.io session ids it makes so that the gateway can send the session's later
 * long-polling requests back to it (sticky sessions without state in the gateway).
 */
export const LIVE_TAG_HEADER = 'x-backbeat-live-tag';
const LIVE_TAG = /^[0-9a-f]{8}$/;

/** A live process's tag: derived from its URL in the gateway's list, the same in every gateway. */
export function liveTag(upstreamUrl: string): string {
  return createHash('sha256').update(upstreamUrl).digest('hex').slice(0, 8);
}

/** The tag a request carries, when it is well formed (the caller checks it came through the gateway). */
export function liveTagOf(headers: IncomingHttpHeaders): string | undefined {
  const tag = headers[LIVE_TAG_HEADER];
  return typeof tag === 'string' && LIVE_TAG.test(tag) ? tag : undefined;
}
