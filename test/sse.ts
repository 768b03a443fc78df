export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A Server-Sent Events client over fetch, parsing events as they arrive. */
export async function openStream(
  baseUrl: string,
  session: { auth: Record<string, string> } | null,
  headers: Record<string, string> = {},
) {
  const controller = new AbortController();
  const response = await fetch(`${baseUrl}/api/v1/me/notifications/stream`, {
    headers: { ...(session?.auth ?? {}), ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  let wake: () => void = () => {};
  let ended = false;
  if (response.ok && response.body) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const event: SseEvent = {};
            for (const line of buffer.slice(0, end).split('\n')) {
              if (line.startsWith(':')) event.comment = line.slice(1).trim();
              const [, field, value] = /^(id|event|data): ?(.*)$/.exec(line) ?? [];
              if (field) event[field as 'id' | 'event' | 'data'] = value;
            }
            buffer = buffer.slice(end + 2);
            events.push(event);
          }
          wake();
        }
      } catch {
        // Aborted by close().
      } finally {
        ended = true;
        wake();
      }
    })();
  }
  /** The next event matching `match`, consumed; rejects after `timeoutMs`. */
  async function next(match: (e: SseEvent) => boolean, timeoutMs = 1000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = events.findIndex(match);
      if (index >= 0) return events.splice(index, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0 || ended) throw new Error(`no matching event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, left);
      });
    }
  }
  return {
    response,
    events,
    next,
    nextNotification: (timeoutMs?: number) => next((e) => e.event === 'notification', timeoutMs),
    get ended() {
      return ended;
    },
    close: () => controller.abort(),
  };
}
