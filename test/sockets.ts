import { io as connect, type Socket } from 'socket.io-client';

// biome-ignore lint/suspicious/noExplicitAny: acks are asserted field by field in the tests.
type Json = any;

/**
 * A socket.io-client connection to the chat namespace (`/events`) of the server at `base`,
 * with no reconnection: a test decides itself when to connect again. Kept in `into`, so the
 * test's cleanup can disconnect every socket it opened.
 */
export function openChat(
  base: string,
  token: unknown,
  into: Socket[],
  transports: ('websocket' | 'polling')[] = ['websocket'],
): Socket {
  const socket = connect(`${base}/events`, { transports, auth: { token }, reconnection: false });
  into.push(socket);
  return socket;
}

/** Resolves when the handshake succeeds; rejects with the `connect_error`. */
export const connected = (socket: Socket) =>
  new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });

/** Emits and waits for the server's acknowledgement. */
export const emitAck = (socket: Socket, name: string, ...args: unknown[]): Promise<Json> =>
  socket.timeout(10_000).emitWithAck(name, ...args);
