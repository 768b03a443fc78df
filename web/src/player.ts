import { ApiError, api, problem, type Song, send, session } from './api';

export type Quality = 'auto' | 'low' | 'medium' | 'high' | 'original';
export const QUALITIES: Quality[] = ['auto', 'low', 'medium', 'high', 'original'];
const QUALITY_KEY = 'backbeat.quality';

interface HlsLike {
  loadSource(url: string): void;
  attachMedia(media: HTMLMediaElement): void;
  destroy(): void;
}

/**
 * The queue and the one `<audio>` element. Streams come from the API's signed URLs: a
 * progressive MP3 at the chosen quality, or the HLS ladder for `auto` (natively where the
 * browser plays HLS, else through hls.js, loaded only then). Reports `play` once playback
 * starts, `complete` at the end and `skip` when the listener moves on early.
 */
class Player extends EventTarget {
  readonly audio: HTMLAudioElement;
  queue: Song[] = [];
  index = -1;
  quality: Quality;
  error: string | null = null;
  loading = false;
  private hls: HlsLike | null = null;
  private reported = false;
  private finished = false;
  private loadToken = 0;

  constructor() {
    super();
    this.audio = document.createElement('audio');
    this.audio.id = 'player-audio';
    this.audio.preload = 'auto';
    document.body.append(this.audio);
    const saved = localStorage.getItem(QUALITY_KEY) as Quality | null;
    this.quality = saved && QUALITIES.includes(saved) ? saved : 'medium';
    for (const type of ['play', 'pause', 'timeupdate', 'durationchange', 'waiting', 'playing']) {
      this.audio.addEventListener(type, () => this.changed());
    }
    this.audio.addEventListener('playing', () => this.reportPlay());
    this.audio.addEventListener('ended', () => this.onEnded());
    this.audio.addEventListener('error', () => this.fail('This track could not be played'));
    this.setupMediaSession();
  }

  get current(): Song | null {
    return this.queue[this.index] ?? null;
  }

  get playing(): boolean {
    return !this.audio.paused;
  }

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  private fail(message: string): void {
    this.error = message;
    this.loading = false;
    this.changed();
  }

  /** Replaces the queue and starts at `start`. */
  playList(songs: Song[], start = 0): void {
    this.leaveCurrent();
    this.queue = songs.slice();
    void this.load(start, 0);
  }

  enqueue(song: Song): void {
    this.queue.push(song);
    if (this.index < 0) void this.load(this.queue.length - 1, 0);
    this.changed();
  }

  toggle(): void {
    if (!this.current) return;
    if (this.audio.paused) void this.audio.play().catch(() => {});
    else this.audio.pause();
  }

  next(): void {
    if (this.index + 1 >= this.queue.length) return;
    this.leaveCurrent();
    void this.load(this.index + 1, 0);
  }

  /** Past the first seconds, "previous" restarts the track, as most players do. */
  previous(): void {
    if (this.audio.currentTime > 3 || this.index === 0) {
      this.audio.currentTime = 0;
      return;
    }
    this.leaveCurrent();
    void this.load(this.index - 1, 0);
  }

  jump(index: number): void {
    this.leaveCurrent();
    void this.load(index, 0);
  }

  seek(seconds: number): void {
    if (Number.isFinite(seconds)) this.audio.currentTime = seconds;
  }

  setQuality(quality: Quality): void {
    this.quality = quality;
    localStorage.setItem(QUALITY_KEY, quality);
    if (this.current) void this.load(this.index, this.audio.currentTime, !this.audio.paused);
    this.changed();
  }

  /** Moving on before the end of a started track is a skip. */
  private leaveCurrent(): void {
    const song = this.current;
    if (song && this.reported && !this.finished) {
      this.report(song, 'skip', this.audio.currentTime);
    }
  }

  private report(song: Song, event: 'play' | 'complete' | 'skip', seconds: number): void {
    const positionMs = Math.max(0, Math.round(seconds * 1000));
    api(`/songs/${song.id}/plays`, { method: 'POST', body: { event, positionMs } }).catch(() => {});
  }

  private reportPlay(): void {
    const song = this.current;
    if (!song || this.reported) return;
    this.reported = true;
    this.report(song, 'play', this.audio.currentTime);
  }

  private onEnded(): void {
    const song = this.current;
    if (song && !this.finished) {
      this.finished = true;
      this.report(song, 'complete', this.audio.duration || song.durationMs / 1000);
    }
    if (this.index + 1 < this.queue.length) void this.load(this.index + 1, 0);
    else this.changed();
  }

  /**
   * Resolves the signed URL: the API answers 302 to it. A HEAD request follows the redirect
   * without downloading the file, and `response.url` is where it ended; on failure a GET
   * reads the problem's detail.
   */
  private async signedUrl(song: Song, hls: boolean): Promise<string> {
    const path = hls ? `/songs/${song.id}/hls` : `/songs/${song.id}/stream?quality=${this.quality}`;
    const head = await send(path, { method: 'HEAD' });
    if (head.ok) return head.url;
    throw await problem(await send(path));
  }

  private async load(index: number, startAt: number, autoplay = true): Promise<void> {
    const song = this.queue[index];
    if (!song) return;
    const token = ++this.loadToken;
    const sameSong = index === this.index;
    this.index = index;
    if (!sameSong) {
      this.reported = false;
      this.finished = false;
    }
    this.error = null;
    this.loading = true;
    this.changed();
    this.hls?.destroy();
    this.hls = null;
    if (!session.user) {
      this.fail('Sign in to listen');
      return;
    }
    try {
      const useHls = this.quality === 'auto';
      const url = await this.signedUrl(song, useHls);
      if (token !== this.loadToken) return;
      if (useHls && !this.audio.canPlayType('application/vnd.apple.mpegurl')) {
        await this.attachHls(url);
      } else {
        this.audio.src = url;
      }
      if (startAt) this.audio.currentTime = startAt;
      this.loading = false;
      this.updateMediaSession(song);
      this.changed();
      if (autoplay) await this.audio.play();
    } catch (error) {
      if (token !== this.loadToken) return;
      if (error instanceof DOMException && error.name === 'NotAllowedError') {
        this.fail('Press play to start: the browser blocked autoplay');
        return;
      }
      this.fail(error instanceof ApiError ? error.message : 'This track could not be played');
    }
  }

  private async attachHls(url: string): Promise<void> {
    const { default: Hls } = await import('hls.js/light');
    if (!Hls.isSupported()) throw new ApiError(0, 'NO_HLS', 'This browser cannot play adaptive streams');
    const hls = new Hls();
    hls.loadSource(url);
    hls.attachMedia(this.audio);
    this.hls = hls;
  }

  /** Lock-screen and headset controls on phones. */
  private setupMediaSession(): void {
    if (!('mediaSession' in navigator)) return;
    const handlers: [MediaSessionAction, () => void][] = [
      ['play', () => this.toggle()],
      ['pause', () => this.toggle()],
      ['nexttrack', () => this.next()],
      ['previoustrack', () => this.previous()],
    ];
    for (const [action, handler] of handlers) {
      try {
        navigator.mediaSession.setActionHandler(action, handler);
      } catch {}
    }
  }

  private updateMediaSession(song: Song): void {
    if (!('mediaSession' in navigator)) return;
    navigator.mediaSession.metadata = new MediaMetadata({
      title: song.title,
      artist: song.artist.name,
      album: song.album.title,
    });
  }
}

export const player = new Player();
