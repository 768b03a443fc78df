import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { type Album, api, formatDuration, imageFor, type Playlist, type Song, session } from './api';
import { messageOf, useLoad } from './hooks';
import { player } from './player';

/** An error from the API, said plainly and announced to screen readers. */
export function ErrorNote({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  ) : null;
}

export function Cover({
  album,
  size,
}: {
  album: Pick<Album, 'images' | 'coverUrl' | 'title'>;
  size: number;
}) {
  const url = imageFor(album.images, album.coverUrl, size);
  return url ? (
    <img class="cover" src={url} alt={`Cover of ${album.title}`} width={size} height={size} loading="lazy" />
  ) : (
    <div class="cover placeholder" style={{ width: size, height: size }} aria-hidden="true">
      ♪
    </div>
  );
}

export function AlbumGrid({ albums }: { albums: Album[] }) {
  return (
    <ul class="grid">
      {albums.map((album) => (
        <li key={album.id}>
          <a href={`#/albums/${album.id}`} class="card">
            <Cover album={album} size={160} />
            <span class="card-title">{album.title}</span>
            <span class="muted">
              {album.artist.name} · {album.releaseYear}
            </span>
          </a>
        </li>
      ))}
    </ul>
  );
}

/** A list of songs: play from here (the list becomes the queue), queue one, add to a playlist. */
export function SongList({
  songs,
  label,
  extra,
}: {
  songs: Song[];
  label: string;
  extra?: (song: Song, index: number) => ComponentChildren;
}) {
  return (
    <ol class="songs" aria-label={label}>
      {songs.map((song, index) => (
        <li key={`${song.id}-${index}`} class={player.current?.id === song.id ? 'current' : ''}>
          <button
            type="button"
            class="icon"
            aria-label={`Play ${song.title}`}
            onClick={() => player.playList(songs, index)}
          >
            ▶
          </button>
          <span class="song-title">
            {song.title}
            {song.explicit && (
              <abbr class="explicit" title="Explicit">
                E
              </abbr>
            )}
            <span class="muted">
              <a href={`#/artists/${song.artist.id}`}>{song.artist.name}</a> ·{' '}
              <a href={`#/albums/${song.album.id}`}>{song.album.title}</a>
            </span>
          </span>
          <span class="muted duration">{formatDuration(song.durationMs)}</span>
          <button
            type="button"
            class="icon"
            aria-label={`Add ${song.title} to the queue`}
            onClick={() => player.enqueue(song)}
          >
            +
          </button>
          {session.user && <AddToPlaylist song={song} />}
          {extra?.(song, index)}
        </li>
      ))}
    </ol>
  );
}

/** A small menu of the caller's playlists; picking one adds the song at the end. */
function AddToPlaylist({ song }: { song: Song }) {
  const [open, setOpen] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  return (
    <span class="menu">
      <button
        type="button"
        class="icon"
        aria-expanded={open}
        aria-label={`Add ${song.title} to a playlist`}
        onClick={() => setOpen(!open)}
      >
        ⋯
      </button>
      {open && (
        <PlaylistPicker
          onPick={async (playlist) => {
            try {
              await api(`/playlists/${playlist.id}/tracks`, { method: 'POST', body: { songIds: [song.id] } });
              setStatus(`Added to ${playlist.name}`);
            } catch (error) {
              setStatus(messageOf(error));
            }
            setOpen(false);
          }}
        />
      )}
      {status && (
        <span class="muted" role="status">
          {status}
        </span>
      )}
    </span>
  );
}

function PlaylistPicker({ onPick }: { onPick: (playlist: Playlist) => void }) {
  const mine = useLoad((signal) => api<{ items: Playlist[] }>('/me/playlists?limit=100', { signal }), []);
  return (
    <div class="popover" role="menu">
      <ErrorNote message={mine.error} />
      {mine.data?.items.length === 0 && <p class="muted">No playlists yet</p>}
      {mine.data?.items.map((playlist) => (
        <button type="button" role="menuitem" key={playlist.id} onClick={() => onPick(playlist)}>
          {playlist.name}
        </button>
      ))}
    </div>
  );
}

/** Follow / unfollow an album or artist (PUT / DELETE, both idempotent). */
export function FollowButton({
  kind,
  id,
  name,
  initial,
}: {
  kind: 'albums' | 'artists';
  id: string;
  name: string;
  initial: boolean;
}) {
  const [following, setFollowing] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  if (!session.user) return null;
  const toggle = async () => {
    setError(null);
    try {
      await api(`/me/following/${kind}/${id}`, { method: following ? 'DELETE' : 'PUT' });
      setFollowing(!following);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return (
    <>
      <button
        type="button"
        aria-pressed={following}
        aria-label={`${following ? 'Unfollow' : 'Follow'} ${name}`}
        onClick={toggle}
      >
        {following ? 'Following' : 'Follow'}
      </button>
      <ErrorNote message={error} />
    </>
  );
}

/** A file input that uploads on pick and shows a progress bar while it does. */
export function UploadField({
  label,
  accept,
  onUpload,
}: {
  label: string;
  accept: string;
  onUpload: (file: File, progress: (fraction: number) => void) => Promise<unknown>;
}) {
  const [progress, setProgress] = useState<number | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pick = async (event: Event) => {
    const input = event.currentTarget as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    setError(null);
    setMessage(null);
    setProgress(0);
    try {
      await onUpload(file, setProgress);
      setMessage(`Uploaded ${file.name}`);
    } catch (e) {
      setError(messageOf(e));
    }
    setProgress(null);
    input.value = '';
  };
  return (
    <div class="upload">
      <label>
        {label}
        <input type="file" accept={accept} onChange={pick} disabled={progress !== null} />
      </label>
      {progress !== null && (
        <progress max={1} value={progress} aria-label={`${label}: upload progress`}>
          {Math.round(progress * 100)}%
        </progress>
      )}
      {message && (
        <span class="muted" role="status">
          {message}
        </span>
      )}
      <ErrorNote message={error} />
    </div>
  );
}

const ICONS = {
  previous: 'M6 5h2v14H6zM20 5v14L9 12z',
  next: 'M16 5h2v14h-2zM4 5v14l11-7z',
  play: 'M7 4v16l13-8z',
  pause: 'M6 4h4v16H6zM14 4h4v16h-4z',
};

/** Transport icons as inline SVG: symbol glyphs are missing from many phone and server fonts. */
export function Icon({ name }: { name: keyof typeof ICONS }) {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="currentColor">
      <path d={ICONS[name]} />
    </svg>
  );
}
