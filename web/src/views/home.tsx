import { type Album, api, type Song, session } from '../api';
import { AlbumGrid, ErrorNote, Loading, SongList } from '../components';
import { useLoad } from '../hooks';

interface Feed {
  recent: Song[];
  trending: Song[];
  recommended: Song[];
  newest: Album[];
}

/** Recently played, trending, recommendations and the newest albums. */
export function Home() {
  const signedIn = !!session.user;
  const feed = useLoad<Feed>(
    async (signal) => {
      const [trending, newest, recent, recommended] = await Promise.all([
        api<{ items: { song: Song }[] }>('/songs/trending?window=7d&limit=10', { signal }),
        api<{ items: Album[] }>('/albums?sort=-createdAt&limit=12', { signal }),
        signedIn
          ? api<{ items: { song: Song }[] }>('/me/recently-played?limit=10', { signal })
          : { items: [] },
        signedIn
          ? api<{ items: { song: Song }[] }>('/me/recommendations?limit=10', { signal })
          : { items: [] },
      ]);
      return {
        trending: trending.items.map((i) => i.song),
        newest: newest.items,
        recent: recent.items.map((i) => i.song),
        recommended: recommended.items.map((i) => i.song),
      };
    },
    [signedIn],
  );
  const data = feed.data;
  return (
    <>
      <h1>Home</h1>
      <Loading when={feed.loading && !data} />
      <ErrorNote message={feed.error} />
      {data && signedIn && (
        <section aria-labelledby="recent-title">
          <h2 id="recent-title">Recently played</h2>
          {data.recent.length ? (
            <SongList songs={data.recent} label="Recently played" />
          ) : (
            <p class="muted">Nothing yet: play something.</p>
          )}
        </section>
      )}
      {data && signedIn && data.recommended.length > 0 && (
        <section aria-labelledby="recommended-title">
          <h2 id="recommended-title">Recommended for you</h2>
          <SongList songs={data.recommended} label="Recommended for you" />
        </section>
      )}
      {data && (
        <section aria-labelledby="trending-title">
          <h2 id="trending-title">Trending this week</h2>
          {data.trending.length ? (
            <SongList songs={data.trending} label="Trending this week" />
          ) : (
            <p class="muted">No plays this week yet.</p>
          )}
        </section>
      )}
      {data && (
        <section aria-labelledby="new-title">
          <h2 id="new-title">New albums</h2>
          <AlbumGrid albums={data.newest} />
        </section>
      )}
    </>
  );
}
