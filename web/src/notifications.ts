import { api, type Notification, send, session } from './api';

const DEFAULT_RETRY_MS = 2000;

/**
 * The notification feed and its live stream. EventSource cannot send an Authorization header,
 * so the stream is read with fetch and parsed here; after a drop it reconnects with
 * `Last-Event-ID` and the server replays what was missed.
 */
class Notifications extends EventTarget {
  items: Notification[] = [];
  unread = 0;
  connected = false;
  private lastEventId: string | null = null;
  private abort: AbortController | null = null;
  private retryMs = DEFAULT_RETRY_MS;

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  async start(): Promise<void> {
    this.stop();
    const abort = new AbortController();
    this.abort = abort;
    try {
      const page = await api<{ items: Notification[]; unreadCount: number }>('/me/notifications?limit=30', {
        signal: abort.signal,
      });
      this.items = page.items;
      this.unread = page.unreadCount;
      this.lastEventId = page.items[0]?.id ?? null;
      this.changed();
    } catch {
      if (abort.signal.aborted) return;
    }
    void this.listen(abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = null;
    this.items = [];
    this.unread = 0;
    this.connected = false;
    this.lastEventId = null;
  }

  async markAllRead(): Promise<void> {
    await api('/me/notifications/read', { method: 'POST', body: {} });
    const now = new Date().toISOString();
    this.items = this.items.map((n) => ({ ...n, readAt: n.readAt ?? now }));
    this.unread = 0;
    this.changed();
  }

  private async listen(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && session.accessToken) {
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (this.lastEventId) headers['last-event-id'] = this.lastEventId;
        const res = await send('/me/notifications/stream', { headers, signal });
        if (res.ok && res.body) {
          this.connected = true;
          this.changed();
          await this.read(res.body, signal);
        }
      } catch {}
      this.connected = false;
      if (!signal.aborted) this.changed();
      await new Promise((resolve) => setTimeout(resolve, this.retryMs));
    }
  }

  /** Splits the stream into events (blank-line separated) and their `field: value` lines. */
  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const decoder = new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>;
    const reader = body.pipeThrough(decoder).getReader();
    signal.addEventListener('abort', () => void reader.cancel().catch(() => {}));
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    }
  }

  private dispatch(block: string): void {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      fields[name] = name === 'data' && fields.data !== undefined ? `${fields.data}\n${value}` : value;
    }
    if (fields.retry && /^\d+$/.test(fields.retry)) this.retryMs = Number(fields.retry);
    if (fields.id) this.lastEventId = fields.id;
    if (fields.event !== 'notification' || !fields.data) return;
    const notification = JSON.parse(fields.data) as Notification;
    if (this.items.some((n) => n.id === notification.id)) return;
    this.items = [notification, ...this.items];
    if (!notification.readAt) this.unread++;
    this.changed();
    this.dispatchEvent(new CustomEvent('arrived', { detail: notification }));
  }
}

export const notifications = new Notifications();

export function describe(n: Notification): string {
  if (n.type === 'album.song_added') return `New song “${n.song?.title}” on ${n.album?.title}`;
  if (n.type === 'artist.album_added') return `${n.artist?.name} released ${n.album?.title}`;
  if (n.type === 'event.started') return `${n.artist?.name ?? 'An artist'} is live: ${n.event?.title}`;
  return 'Something new';
}

export function notificationLink(n: Notification): string {
  return n.album ? `#/albums/${n.album.id}` : '#/';
}
