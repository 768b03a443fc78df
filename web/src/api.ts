/** The Backbeat API as this player uses it: Bearer tokens, refresh on 401, problem+json errors. */

export const API = '/api/v1';

export interface Image {
  url: string;
  width: number;
  height: number;
}
export interface Ref {
  id: string;
  name: string;
}
export interface User {
  id: string;
  email?: string;
  username?: string;
  displayName: string;
  role: 'user' | 'artist' | 'admin';
  artistId: string | null;
}
export interface Artist {
  id: string;
  name: string;
  bio: string | null;
  imageUrl: string | null;
  images?: Image[];
  genres: string[];
  albumCount: number;
  followerCount: number;
}
export interface AudioState {
  status: 'none' | 'processing' | 'ready' | 'failed';
  durationMs?: number;
  qualities?: string[];
  error?: string;
}
export interface Song {
  id: string;
  title: string;
  album: { id: string; title: string };
  artist: Ref;
  trackNumber: number;
  durationMs: number;
  genre: string;
  explicit: boolean;
  playCount: number;
  audio?: AudioState;
}
export interface Album {
  id: string;
  title: string;
  artist: Ref;
  genre: string;
  releaseYear: number;
  coverUrl: string | null;
  images?: Image[];
  albumType?: string;
  songCount: number;
  durationMs: number;
  followerCount: number;
  songs?: Song[];
  followedByMe?: boolean;
}
export interface PlaylistTrack {
  position: number;
  addedAt: string;
  song: Song;
}
export interface Playlist {
  id: string;
  name: string;
  description: string | null;
  owner: { id: string; displayName: string };
  isPublic: boolean;
  trackCount: number;
  durationMs: number;
  tracks?: PlaylistTrack[];
}
export interface Notification {
  id: string;
  type: string;
  createdAt: string;
  readAt: string | null;
  album?: { id: string; title: string } | null;
  song?: { id: string; title: string } | null;
  artist?: Ref;
  event?: { id: string; title: string } | null;
}
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
  next: string | null;
}
export interface TokenPair {
  user: User;
  accessToken: string;
  refreshToken: string;
}

/** A failed request, carrying the problem document's `detail` so the page can say what went wrong. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STORAGE_KEY = 'backbeat.session';
type Listener = (user: User | null) => void;

/** The signed-in session, kept in localStorage so a reload stays signed in. */
class Session {
  user: User | null = null;
  accessToken: string | null = null;
  refreshToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private readonly listeners = new Set<Listener>();

  constructor() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
      if (saved) Object.assign(this, saved);
    } catch {}
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(pair: Partial<TokenPair> | null): void {
    this.user = pair ? (pair.user ?? this.user) : null;
    this.accessToken = pair?.accessToken ?? null;
    this.refreshToken = pair?.refreshToken ?? null;
    const { user, accessToken, refreshToken } = this;
    if (pair) localStorage.setItem(STORAGE_KEY, JSON.stringify({ user, accessToken, refreshToken }));
    else localStorage.removeItem(STORAGE_KEY);
    for (const listener of this.listeners) listener(this.user);
  }

  /** One refresh at a time: concurrent 401s share it, since a refresh token is spent on use. */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    if (!this.refreshToken) return false;
    const res = await fetch(`${API}/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: this.refreshToken }),
    });
    if (!res.ok) {
      this.set(null);
      return false;
    }
    this.set(await res.json());
    return true;
  }
}

export const session = new Session();

export function authHeaders(): Record<string, string> {
  return session.accessToken ? { authorization: `Bearer ${session.accessToken}` } : {};
}

/** Turns a non-2xx response into an ApiError with the problem's detail (or its title). */
export async function problem(res: Response): Promise<ApiError> {
  try {
    const body = await res.json();
    return new ApiError(res.status, body.code ?? 'ERROR', body.detail ?? body.title ?? res.statusText);
  } catch {
    return new ApiError(res.status, 'ERROR', `${res.status} ${res.statusText}`);
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
}

/** Sends with the session's token; an expired access token is refreshed once and the request retried. */
export async function send(path: string, init: RequestInit = {}): Promise<Response> {
  const url = path.startsWith('/api/') ? path : `${API}${path}`;
  const attempt = () => fetch(url, { ...init, headers: { ...authHeaders(), ...init.headers } });
  let res = await attempt();
  if (res.status === 401 && session.refreshToken && (await session.refresh())) res = await attempt();
  return res;
}

/** A JSON request; resolves to the parsed body (undefined for 202/204 without one). */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const init: RequestInit = { method: options.method ?? 'GET', signal: options.signal };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await send(path, init);
  if (!res.ok) throw await problem(res);
  if (res.status === 204 || res.headers.get('content-length') === '0') return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Builds a query string, dropping empty values and repeating arrays (`genre=a&genre=b`). */
export function query(params: Record<string, string | number | string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === '') continue;
    for (const one of [value].flat()) search.append(key, String(one));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * Uploads a file with progress (fetch cannot report upload progress; XMLHttpRequest can).
 * The body is the file itself, or multipart with `fields` when some are given.
 */
export function upload<T>(
  method: string,
  path: string,
  file: File,
  onProgress: (fraction: number) => void,
  fields?: Record<string, string>,
): Promise<T> {
  const run = () =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, `${API}${path}`);
      for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
      xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'The upload failed: network error'));
      if (fields) {
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append('file', file);
        xhr.send(form);
      } else {
        xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
        xhr.send(file);
      }
    });
  return (async () => {
    let res = await run();
    if (res.status === 401 && (await session.refresh())) res = await run();
    if (res.status >= 400) {
      let body: { code?: string; detail?: string; title?: string } = {};
      try {
        body = JSON.parse(res.text);
      } catch {}
      throw new ApiError(res.status, body.code ?? 'ERROR', body.detail ?? body.title ?? `HTTP ${res.status}`);
    }
    onProgress(1);
    return (res.text ? JSON.parse(res.text) : undefined) as T;
  })();
}

/** The image closest to `px` wide (images are largest first), else the single URL. */
export function imageFor(images: Image[] | undefined, fallback: string | null, px: number): string | null {
  if (!images?.length) return fallback;
  const fitting = images.filter((i) => i.width >= px);
  return (fitting[fitting.length - 1] ?? images[0])!.url;
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(total / 60);
  return `${minutes}:${String(total % 60).padStart(2, '0')}`;
}

export function canUpload(user: User | null, artistId: string): boolean {
  return !!user && (user.role === 'admin' || (user.role === 'artist' && user.artistId === artistId));
}
