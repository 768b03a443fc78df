import { useEffect, useState } from 'preact/hooks';
import { type Album, type Artist, api, imageFor, type Page, query } from '../api';
import { AlbumGrid, ErrorNote, Loading } from '../components';
import { messageOf, useLoad } from '../hooks';

const ALBUM_SORTS: [string, string][] = [
  ['-createdAt', 'Newest added'],
  ['-popularity', 'Most popular'],
  ['-releaseYear', 'Release year, newest'],
  ['releaseYear', 'Release year, oldest'],
  ['title', 'Title A–Z'],
  ['-followerCount', 'Most followed'],
  ['-songCount', 'Most songs'],
];
const ARTIST_SORTS: [string, string][] = [
  ['name', 'Name A–Z'],
  ['-followerCount', 'Most followed'],
  ['-albumCount', 'Most albums'],
  ['-createdAt', 'Newest added'],
];
const ALBUM_FILTERS = ['q', 'genre', 'yearFrom', 'yearTo', 'type', 'sort'];
const ARTIST_FILTERS = ['q', 'genre', 'sort'];

/** Albums or artists, with filters and sort kept in the address so a view can be shared. */
export function Browse({ kind, params }: { kind: 'albums' | 'artists'; params: URLSearchParams }) {
  const names = kind === 'albums' ? ALBUM_FILTERS : ARTIST_FILTERS;
  const filters = Object.fromEntries(names.map((n) => [n, params.get(n) ?? '']));
  const genres = useLoad((signal) => api<{ items: { genre: string }[] }>('/stats/genres', { signal }), []);
  const key = query(filters);
  const first = useLoad(
    (signal) => api<Page<Album | Artist>>(`/${kind}${query({ ...filters, limit: 24 })}`, { signal }),
    [kind, key],
  );
  const [items, setItems] = useState<(Album | Artist)[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [moreError, setMoreError] = useState<string | null>(null);
  useEffect(() => {
    setItems(first.data?.items ?? []);
    setNext(first.data?.next ?? null);
  }, [first.data]);

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const values = Object.fromEntries(names.map((n) => [n, String(form.get(n) ?? '').trim()]));
    location.hash = `#/${kind}${query(values)}`;
  };
  const loadMore = async () => {
    if (!next) return;
    try {
      const page = await api<Page<Album | Artist>>(next);
      setItems([...items, ...page.items]);
      setNext(page.next);
    } catch (e) {
      setMoreError(messageOf(e));
    }
  };

  return (
    <>
      <h1>Browse</h1>
      <nav class="tabs" aria-label="Browse">
        <a href="#/albums" aria-current={kind === 'albums' ? 'page' : undefined}>
          Albums
        </a>
        <a href="#/artists" aria-current={kind === 'artists' ? 'page' : undefined}>
          Artists
        </a>
      </nav>
      <form class="filters" onSubmit={apply} key={`${kind}${key}`}>
        <label>
          Name
          <input name="q" type="search" defaultValue={filters.q} />
        </label>
        <label>
          Genre
          <select name="genre" defaultValue={filters.genre}>
            <option value="">Any</option>
            {genres.data?.items.map((g) => (
              <option key={g.genre} value={g.genre}>
                {g.genre}
              </option>
            ))}
          </select>
        </label>
        {kind === 'albums' && (
          <>
            <label>
              From year
              <input
                name="yearFrom"
                type="number"
                inputMode="numeric"
                min={1000}
                max={3000}
                defaultValue={filters.yearFrom}
              />
            </label>
            <label>
              To year
              <input
                name="yearTo"
                type="number"
                inputMode="numeric"
                min={1000}
                max={3000}
                defaultValue={filters.yearTo}
              />
            </label>
            <label>
              Type
              <select name="type" defaultValue={filters.type}>
                <option value="">Any</option>
                <option value="album">Album</option>
                <option value="single">Single</option>
                <option value="ep">EP</option>
                <option value="compilation">Compilation</option>
              </select>
            </label>
          </>
        )}
        <label>
          Sort
          <select name="sort" defaultValue={filters.sort}>
            <option value="">Default</option>
            {(kind === 'albums' ? ALBUM_SORTS : ARTIST_SORTS).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      <Loading when={first.loading} />
      <ErrorNote message={first.error} />
      {first.data && (
        <p class="muted" aria-live="polite">
          {first.data.total} {kind}
        </p>
      )}
      {kind === 'albums' ? (
        <AlbumGrid albums={items as Album[]} />
      ) : (
        <ArtistGrid artists={items as Artist[]} />
      )}
      <ErrorNote message={moreError} />
      {next && (
        <button type="button" onClick={loadMore}>
          Load more
        </button>
      )}
    </>
  );
}

export function ArtistGrid({ artists }: { artists: Artist[] }) {
  return (
    <ul class="grid">
      {artists.map((artist) => {
        const image = imageFor(artist.images, artist.imageUrl, 160);
        return (
          <li key={artist.id}>
            <a href={`#/artists/${artist.id}`} class="card">
              {image ? (
                <img class="cover round" src={image} alt="" width={160} height={160} loading="lazy" />
              ) : (
                <div class="cover placeholder round" aria-hidden="true">
                  {artist.name.slice(0, 1)}
                </div>
              )}
              <span class="card-title">{artist.name}</span>
              <span class="muted">
                {artist.albumCount} albums · {artist.followerCount} followers
              </span>
            </a>
          </li>
        );
      })}
    </ul>
  );
}
