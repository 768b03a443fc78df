import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, formatDuration, type Notification, session } from './api';
import { ErrorNote, Icon } from './components';
import { useChanges, useRoute, useUser } from './hooks';
import { describe, notificationLink, notifications } from './notifications';
import { player, QUALITIES, type Quality } from './player';
import './styles.css';
import { AlbumPage, ArtistPage } from './views/album';
import { SignIn } from './views/auth';
import { Browse } from './views/browse';
import { Home } from './views/home';
import { PlaylistPage, Playlists } from './views/playlists';
import { Search } from './views/search';

function Header() {
  const user = useUser();
  useChanges(notifications);
  const signOut = async () => {
    const refreshToken = session.refreshToken;
    session.set(null);
    location.hash = '#/';
    if (refreshToken) await api('/auth/logout', { method: 'POST', body: { refreshToken } }).catch(() => {});
  };
  return (
    <header class="top">
      <a href="#/" class="brand">
        Backbeat
      </a>
      <nav aria-label="Main">
        <a href="#/search">Search</a>
        <a href="#/albums">Browse</a>
        {user && <a href="#/playlists">Playlists</a>}
        {user && (
          <a href="#/notifications" class="bell">
            Notifications
            {notifications.unread > 0 && (
              <span class="count" data-testid="unread-count">
                {notifications.unread}
                <span class="visually-hidden"> unread</span>
              </span>
            )}
          </a>
        )}
      </nav>
      <div class="account">
        {user ? (
          <>
            <span class="muted">{user.displayName}</span>
            <button type="button" class="link" onClick={signOut}>
              Sign out
            </button>
          </>
        ) : (
          <a href="#/signin">Sign in</a>
        )}
      </div>
    </header>
  );
}

function NotificationsView() {
  useChanges(notifications);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <h1>Notifications</h1>
      <p class="muted" aria-live="polite">
        {notifications.connected ? 'Live' : 'Connecting…'} · {notifications.unread} unread
      </p>
      <button
        type="button"
        disabled={!notifications.unread}
        onClick={() => notifications.markAllRead().catch((e) => setError(String(e.message)))}
      >
        Mark all as read
      </button>
      <ErrorNote message={error} />
      {!notifications.items.length && <p class="muted">Follow albums and artists to hear about new music.</p>}
      <ul class="list" aria-label="Notifications">
        {notifications.items.map((n) => (
          <li key={n.id} class={n.readAt ? '' : 'unread'}>
            <a href={notificationLink(n)}>{describe(n)}</a>{' '}
            <time class="muted" dateTime={n.createdAt}>
              {new Date(n.createdAt).toLocaleString()}
            </time>
          </li>
        ))}
      </ul>
    </>
  );
}

/** Announces a live notification for a few seconds. */
function Toast() {
  const [shown, setShown] = useState<Notification | null>(null);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>;
    const onArrived = (event: Event) => {
      setShown((event as CustomEvent<Notification>).detail);
      clearTimeout(timer);
      timer = setTimeout(() => setShown(null), 6000);
    };
    notifications.addEventListener('arrived', onArrived);
    return () => notifications.removeEventListener('arrived', onArrived);
  }, []);
  return (
    <div class="toast-region" role="status" aria-live="polite">
      {shown && (
        <a class="toast" href={notificationLink(shown)}>
          {describe(shown)}
        </a>
      )}
    </div>
  );
}

function PlayerBar() {
  useChanges(player);
  const song = player.current;
  const audio = player.audio;
  const duration = Number.isFinite(audio.duration) ? audio.duration : (song?.durationMs ?? 0) / 1000;
  return (
    <section class="player" aria-label="Player">
      <div class="now">
        {song ? (
          <>
            <strong>{song.title}</strong>
            <span class="muted">{song.artist.name}</span>
          </>
        ) : (
          <span class="muted">Nothing playing</span>
        )}
        {player.loading && <span class="muted">Loading…</span>}
        <ErrorNote message={player.error} />
      </div>
      <div class="controls">
        <button
          type="button"
          class="icon"
          aria-label="Previous"
          onClick={() => player.previous()}
          disabled={!song}
        >
          <Icon name="previous" />
        </button>
        <button
          type="button"
          class="icon big"
          aria-label={player.playing ? 'Pause' : 'Play'}
          onClick={() => player.toggle()}
          disabled={!song}
        >
          <Icon name={player.playing ? 'pause' : 'play'} />
        </button>
        <button
          type="button"
          class="icon"
          aria-label="Next"
          onClick={() => player.next()}
          disabled={player.index + 1 >= player.queue.length}
        >
          <Icon name="next" />
        </button>
        <span class="muted time">{formatDuration(audio.currentTime * 1000)}</span>
        <input
          type="range"
          class="seek"
          aria-label="Seek"
          min={0}
          max={Math.max(duration, 0.1)}
          step={1}
          value={audio.currentTime}
          aria-valuetext={`${formatDuration(audio.currentTime * 1000)} of ${formatDuration(duration * 1000)}`}
          disabled={!song}
          onInput={(e) => player.seek(Number(e.currentTarget.value))}
        />
        <span class="muted time">{formatDuration(duration * 1000)}</span>
        <label class="quality">
          <span class="visually-hidden">Quality</span>
          <select
            value={player.quality}
            onChange={(e) => player.setQuality(e.currentTarget.value as Quality)}
          >
            {QUALITIES.map((q) => (
              <option key={q} value={q}>
                {q === 'auto' ? 'Auto (HLS)' : q}
              </option>
            ))}
          </select>
        </label>
      </div>
      {player.queue.length > 1 && (
        <details class="queue">
          <summary>Queue ({player.queue.length})</summary>
          <ol>
            {player.queue.map((s, i) => (
              <li key={`${s.id}-${i}`}>
                <button
                  type="button"
                  class="link"
                  aria-current={i === player.index ? 'true' : undefined}
                  onClick={() => player.jump(i)}
                >
                  {s.title} <span class="muted">{s.artist.name}</span>
                </button>
              </li>
            ))}
          </ol>
        </details>
      )}
    </section>
  );
}

function needsSignIn(view: string): boolean {
  return ['playlists', 'notifications'].includes(view);
}

function Page() {
  const { parts, params } = useRoute();
  const user = useUser();
  const [view = '', id] = parts;
  const main = useRef<HTMLElement>(null);
  // Moving to another view puts focus on the new content, as a page load would.
  useEffect(() => main.current?.focus(), [view, id]);
  let content = <Home />;
  if (!user && needsSignIn(view)) content = <SignIn />;
  else if (view === 'signin') content = <SignIn />;
  else if (view === 'search') content = <Search params={params} />;
  else if (view === 'albums' && id) content = <AlbumPage id={id} />;
  else if (view === 'albums' || view === 'artists') {
    content = id ? <ArtistPage id={id} /> : <Browse kind={view} params={params} key={view} />;
  } else if (view === 'playlists') content = id ? <PlaylistPage id={id} /> : <Playlists />;
  else if (view === 'notifications') content = <NotificationsView />;
  return (
    <main ref={main} tabIndex={-1}>
      {content}
    </main>
  );
}

function App() {
  const user = useUser();
  useEffect(() => {
    if (user) void notifications.start();
    else notifications.stop();
  }, [user?.id]);
  return (
    <>
      <button type="button" class="skip" onClick={() => document.querySelector('main')?.focus()}>
        Skip to content
      </button>
      <Header />
      <Page />
      <Toast />
      <PlayerBar />
    </>
  );
}

render(<App />, document.getElementById('app')!);
