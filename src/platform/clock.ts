/**
 * Business time as the services see it: when tokens, sessions, streams and chat windows expire,
 * when events are retried, when a release is due. The system's in production; tests pass one
 * they move (`buildTestApp(env, { clock })`), so nothing waits for real time to go by.
 * Measuring how long something took (rates, deadlines of a wait) is not business time and
 * keeps a monotonic timer.
 */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
