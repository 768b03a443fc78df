import { useEffect, useState } from 'preact/hooks';
import { api, formatDuration, type Page, type Playlist, type PlaylistTrack, session } from '../api';
import { ErrorNote, Loading } from '../components';
import { messageOf, useLoad } from '../hooks';
import { player } from '../player';

/** The caller's playlists and a form to create one. */
export function Playlists() {
  const mine = useLoad((signal) => api<Page<Playlist>>('/me/playlists?limit=100', { signal }), []);
  const [error, setError] = useState<string | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setError(null);
    try {
      const created = await api<Playlist>('/playlists', {
        method: 'POST',
        body: {
          name: String(data.get('name') ?? '').trim(),
          description: String(data.get('description') ?? '').trim() || undefined,
          isPublic: data.get('isPublic') === 'on',
        },
      });
      location.hash = `#/playlists/${created.id}`;
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return (
    <>
      <h1>Your playlists</h1>
      <form class="filters" onSubmit={create} aria-label="New playlist">
        <label>
          Name
          <input name="name" required maxLength={100} />
        </label>
        <label>
          Description
          <input name="description" maxLength={300} />
        </label>
        <label class="inline">
          <input name="isPublic" type="checkbox" defaultChecked />
          Public
        </label>
        <button type="submit" class="primary">
          Create playlist
        </button>
      </form>
      <ErrorNote message={error} />
      <Loading when={mine.loading} />
      <ErrorNote message={mine.error} />
      {mine.data?.items.length === 0 && <p class="muted">No playlists yet.</p>}
      <ul class="list">
        {mine.data?.items.map((p) => (
          <li key={p.id}>
            <a href={`#/playlists/${p.id}`}>{p.name}</a>{' '}
            <span class="muted">
              {p.trackCount} tracks · {p.isPublic ? 'public' : 'private'}
            </span>
          </li>
        ))}
      </ul>
    </>
  );
}

const TRACK_PAGE = 100;

/**
 * One playlist. Its owner reorders tracks by dragging a row (or with the move buttons, from
 * the keyboard) and removes them; every edit answers with the playlist, and the tracks are
 * read again so positions stay the server's.
 */
export function PlaylistPage({ id }: { id: string }) {
  const playlist = useLoad((signal) => api<Playlist>(`/playlists/${id}`, { signal }), [id]);
  const [tracks, setTracks] = useState<PlaylistTrack[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [dragged, setDragged] = useState<number | null>(null);
  const [status, setStatus] = useState('');
  const data = playlist.data;
  const owner = !!data && data.owner.id === session.user?.id;

  useEffect(() => setTracks(data?.tracks ?? []), [data]);

  const loadMore = async () => {
    try {
      const page = await api<Page<PlaylistTrack>>(
        `/playlists/${id}/tracks?offset=${tracks.length}&limit=${TRACK_PAGE}`,
      );
      setTracks([...tracks, ...page.items]);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  const edit = async (run: () => Promise<unknown>, done: string) => {
    setError(null);
    try {
      await run();
      setStatus(done);
      playlist.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  /** Moves the track at `from` so that it ends up at position `to` (Spotify's insertBefore counts before the move). */
  const move = (from: number, to: number) => {
    if (from === to) return;
    const insertBefore = to > from ? to + 1 : to;
    void edit(
      () => api(`/playlists/${id}/tracks/order`, { method: 'PUT', body: { rangeStart: from, insertBefore } }),
      `Moved track ${from + 1} to position ${to + 1}`,
    );
  };
  const remove = (position: number) =>
    edit(
      () => api(`/playlists/${id}/tracks`, { method: 'DELETE', body: { positions: [position] } }),
      `Removed track ${position + 1}`,
    );

  return (
    <>
      <Loading when={playlist.loading && !data} />
      <ErrorNote message={playlist.error} />
      {data && (
        <>
          <h1>{data.name}</h1>
          {data.description && <p>{data.description}</p>}
          <p class="muted">
            by {data.owner.displayName} · {data.trackCount} tracks, {formatDuration(data.durationMs)} ·{' '}
            {data.isPublic ? 'public' : 'private'}
          </p>
          <div class="actions">
            <button
              type="button"
              class="primary"
              disabled={!tracks.length}
              onClick={() =>
                player.playList(
                  tracks.map((t) => t.song),
                  0,
                )
              }
            >
              Play
            </button>
            {owner && (
              <button
                type="button"
                onClick={() =>
                  confirm(`Delete the playlist ${data.name}?`) &&
                  edit(() => api(`/playlists/${id}`, { method: 'DELETE' }), 'Deleted').then(() => {
                    location.hash = '#/playlists';
                  })
                }
              >
                Delete playlist
              </button>
            )}
          </div>
          <ErrorNote message={error} />
          <p class="visually-hidden" role="status">
            {status}
          </p>
          {!tracks.length && <p class="muted">No tracks yet: add songs from an album or from search.</p>}
          <ol class="songs tracks" aria-label={`Tracks of ${data.name}`}>
            {tracks.map((track, index) => (
              <li
                key={`${track.position}-${track.song.id}`}
                data-position={track.position}
                draggable={owner}
                class={dragged === index ? 'dragging' : ''}
                onDragStart={(e) => {
                  setDragged(index);
                  e.dataTransfer?.setData('text/plain', String(index));
                }}
                onDragEnd={() => setDragged(null)}
                onDragOver={(e) => owner && e.preventDefault()}
                onDrop={(e) => {
                  e.preventDefault();
                  const from = Number(e.dataTransfer?.getData('text/plain') ?? dragged);
                  setDragged(null);
                  if (Number.isInteger(from)) move(from, index);
                }}
              >
                {owner && (
                  <span class="handle" aria-hidden="true">
                    ⠿
                  </span>
                )}
                <button
                  type="button"
                  class="icon"
                  aria-label={`Play ${track.song.title}`}
                  onClick={() =>
                    player.playList(
                      tracks.map((t) => t.song),
                      index,
                    )
                  }
                >
                  ▶
                </button>
                <span class="song-title">
                  {track.song.title}
                  <span class="muted">{track.song.artist.name}</span>
                </span>
                <span class="muted duration">{formatDuration(track.song.durationMs)}</span>
                {owner && (
                  <>
                    <button
                      type="button"
                      class="icon"
                      aria-label={`Move ${track.song.title} up`}
                      disabled={index === 0}
                      onClick={() => move(index, index - 1)}
                    >
                      ↑
                    </button>
                    <button
                      type="button"
                      class="icon"
                      aria-label={`Move ${track.song.title} down`}
                      disabled={index === tracks.length - 1}
                      onClick={() => move(index, index + 1)}
                    >
                      ↓
                    </button>
                    <button
                      type="button"
                      class="icon"
                      aria-label={`Remove ${track.song.title}`}
                      onClick={() => remove(track.position)}
                    >
                      ✕
                    </button>
                  </>
                )}
              </li>
            ))}
          </ol>
          {tracks.length < data.trackCount && (
            <button type="button" onClick={loadMore}>
              Load more tracks
            </button>
          )}
        </>
      )}
    </>
  );
}
