import { useEffect, useState } from 'preact/hooks';
import { ApiError, session, type User } from './api';

/** Re-renders when `target` says it changed (the player, the notification feed). */
export function useChanges(target: EventTarget): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const bump = () => setTick((t) => t + 1);
    target.addEventListener('change', bump);
    return () => target.removeEventListener('change', bump);
  }, [target]);
}

export function useUser(): User | null {
  const [user, setUser] = useState(session.user);
  useEffect(() => session.subscribe(setUser), []);
  return user;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** Loads data for a view; a newer load (or leaving the view) cancels the older one. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error: string | null; loading: boolean }>({
    error: null,
    loading: true,
  });
  const [generation, setGeneration] = useState(0);
  // The caller names what the load depends on.
  useEffect(() => {
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    load(abort.signal).then(
      (data) => !abort.signal.aborted && setState({ data, error: null, loading: false }),
      (error) => !abort.signal.aborted && setState({ error: messageOf(error), loading: false }),
    );
    return () => abort.abort();
  }, [...deps, generation]);
  return { ...state, data: state.data, reload: () => setGeneration((g) => g + 1) };
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error && error.name !== 'AbortError') return error.message;
  return 'Something went wrong';
}

/** The hash route: `#/albums/123?sort=title` -> ['albums', '123'] and its query. */
export function useRoute(): { parts: string[]; params: URLSearchParams } {
  const read = () => {
    const [path = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
    return {
      parts: path.split('/').filter(Boolean).map(decodeURIComponent),
      params: new URLSearchParams(search),
    };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => setRoute(read());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
