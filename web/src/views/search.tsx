import { useEffect, useRef, useState } from 'preact/hooks';
import { type Album, type Artist, api, type Page, type Playlist, query, type Song } from '../api';
import { AlbumGrid, ErrorNote, SongList } from '../components';
import { messageOf } from '../hooks';
import { ArtistGrid } from './browse';

interface Results {
  albums?: Page<Album>;
  artists?: Page<Artist>;
  songs?: Page<Song>;
  playlists?: Page<Playlist>;
}
const DEBOUNCE_MS = 250;

/** Search as you type; the server forgives typos. Each keystroke cancels the previous request. */
export function Search({ params }: { params: URLSearchParams }) {
  const [text, setText] = useState(params.get('q') ?? '');
  const [results, setResults] = useState<Results | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    const q = text.trim();
    history.replaceState(null, '', `#/search${query({ q })}`);
    if (!q) {
      setResults(null);
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => {
      api<Results>(`/search${query({ q: q.slice(0, 200), type: 'album,artist,song,playlist', limit: 8 })}`, {
        signal: abort.signal,
      }).then(
        (found) => {
          setResults(found);
          setError(null);
        },
        (e) => !abort.signal.aborted && setError(messageOf(e)),
      );
    }, DEBOUNCE_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [text]);

  const nothing =
    results &&
    !results.albums?.total &&
    !results.artists?.total &&
    !results.songs?.total &&
    !results.playlists?.total;
  return (
    <>
      <h1>Search</h1>
      <search>
        <form onSubmit={(e) => e.preventDefault()}>
          <label>
            Albums, artists, songs, playlists
            <input
              ref={input}
              type="search"
              value={text}
              maxLength={200}
              onInput={(e) => setText(e.currentTarget.value)}
              autocomplete="off"
            />
          </label>
        </form>
      </search>
      <ErrorNote message={error} />
      <div aria-live="polite">
        {nothing && <p class="muted">Nothing found for “{text}”.</p>}
        {!!results?.artists?.items.length && (
          <section aria-labelledby="found-artists">
            <h2 id="found-artists">Artists</h2>
            <ArtistGrid artists={results.artists.items} />
          </section>
        )}
        {!!results?.albums?.items.length && (
          <section aria-labelledby="found-albums">
            <h2 id="found-albums">Albums</h2>
            <AlbumGrid albums={results.albums.items} />
          </section>
        )}
        {!!results?.songs?.items.length && (
          <section aria-labelledby="found-songs">
            <h2 id="found-songs">Songs</h2>
            <SongList songs={results.songs.items} label="Songs found" />
          </section>
        )}
        {!!results?.playlists?.items.length && (
          <section aria-labelledby="found-playlists">
            <h2 id="found-playlists">Playlists</h2>
            <ul>
              {results.playlists.items.map((p) => (
                <li key={p.id}>
                  <a href={`#/playlists/${p.id}`}>{p.name}</a>{' '}
                  <span class="muted">by {p.owner.displayName}</span>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </>
  );
}
