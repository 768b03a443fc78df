import {
  type Album,
  type Artist,
  api,
  canUpload,
  formatDuration,
  imageFor,
  type Page,
  type Song,
  upload,
} from '../api';
import { AlbumGrid, Cover, ErrorNote, FollowButton, Loading, SongList, UploadField } from '../components';
import { useLoad, useUser } from '../hooks';
import { player } from '../player';

function AudioBadge({ song }: { song: Song }) {
  const status = song.audio?.status ?? 'none';
  if (status === 'ready') return null;
  const text = {
    none: 'no audio',
    processing: 'processing…',
    failed: `failed (${song.audio?.error ?? 'error'})`,
  }[status];
  return <span class="badge muted">{text}</span>;
}

/** An album: cover, songs, play, follow; its owner or an admin uploads audio and a cover here. */
export function AlbumPage({ id }: { id: string }) {
  const user = useUser();
  const album = useLoad((signal) => api<Album>(`/albums/${id}`, { signal }), [id, user?.id]);
  const data = album.data;
  const owner = !!data && canUpload(user, data.artist.id);
  const songs = data?.songs ?? [];
  return (
    <>
      <Loading when={album.loading && !data} />
      <ErrorNote message={album.error} />
      {data && (
        <>
          <header class="hero">
            <Cover album={data} size={240} />
            <div>
              <p class="muted">{data.albumType ?? 'album'}</p>
              <h1>{data.title}</h1>
              <p>
                <a href={`#/artists/${data.artist.id}`}>{data.artist.name}</a> · {data.releaseYear} ·{' '}
                {data.genre} · {data.songCount} songs, {formatDuration(data.durationMs)}
              </p>
              <div class="actions">
                <button
                  type="button"
                  class="primary"
                  disabled={!songs.length}
                  onClick={() => player.playList(songs, 0)}
                >
                  Play album
                </button>
                <FollowButton
                  kind="albums"
                  id={data.id}
                  name={data.title}
                  initial={!!data.followedByMe}
                  key={data.id}
                />
              </div>
            </div>
          </header>
          {owner && (
            <section class="owner" aria-labelledby="manage-title">
              <h2 id="manage-title">Manage</h2>
              <UploadField
                label="Upload a cover (JPEG, PNG or WebP)"
                accept="image/jpeg,image/png,image/webp"
                onUpload={async (file, progress) => {
                  await upload('PUT', `/albums/${id}/cover`, file, progress);
                  album.reload();
                }}
              />
              <UploadField
                label="Add a song from an audio file"
                accept="audio/*"
                onUpload={async (file, progress) => {
                  await upload('POST', `/albums/${id}/songs`, file, progress, {});
                  album.reload();
                }}
              />
            </section>
          )}
          <SongList
            songs={songs}
            label={`Songs of ${data.title}`}
            extra={(song) => (
              <>
                <AudioBadge song={song} />
                {owner && (
                  <UploadField
                    label={`Audio for ${song.title}`}
                    accept="audio/*"
                    onUpload={async (file, progress) => {
                      await upload('PUT', `/songs/${song.id}/audio`, file, progress);
                      album.reload();
                    }}
                  />
                )}
              </>
            )}
          />
        </>
      )}
    </>
  );
}

/** An artist: picture, bio, follow, albums. */
export function ArtistPage({ id }: { id: string }) {
  const user = useUser();
  const artist = useLoad(
    async (signal) => {
      const [detail, albums, following] = await Promise.all([
        api<Artist>(`/artists/${id}`, { signal }),
        api<Page<Album>>(`/artists/${id}/albums?limit=100`, { signal }),
        user ? api<Page<Artist>>('/me/following/artists?limit=100', { signal }) : null,
      ]);
      return { detail, albums: albums.items, followed: !!following?.items.some((a) => a.id === id) };
    },
    [id, user?.id],
  );
  const data = artist.data;
  const image = data && imageFor(data.detail.images, data.detail.imageUrl, 240);
  return (
    <>
      <Loading when={artist.loading && !data} />
      <ErrorNote message={artist.error} />
      {data && (
        <>
          <header class="hero">
            {image ? (
              <img class="cover round" src={image} alt={data.detail.name} width={240} height={240} />
            ) : (
              <div class="cover placeholder round" aria-hidden="true">
                {data.detail.name.slice(0, 1)}
              </div>
            )}
            <div>
              <p class="muted">artist</p>
              <h1>{data.detail.name}</h1>
              <p class="muted">
                {data.detail.genres.join(', ')} · {data.detail.followerCount} followers
              </p>
              {data.detail.bio && <p>{data.detail.bio}</p>}
              <div class="actions">
                <FollowButton
                  kind="artists"
                  id={id}
                  name={data.detail.name}
                  initial={data.followed}
                  key={id}
                />
              </div>
            </div>
          </header>
          {canUpload(user, id) && (
            <section class="owner" aria-labelledby="manage-artist-title">
              <h2 id="manage-artist-title">Manage</h2>
              <UploadField
                label="Upload a picture (JPEG, PNG or WebP)"
                accept="image/jpeg,image/png,image/webp"
                onUpload={async (file, progress) => {
                  await upload('PUT', `/artists/${id}/image`, file, progress);
                  artist.reload();
                }}
              />
            </section>
          )}
          <h2>Albums</h2>
          <AlbumGrid albums={data.albums} />
        </>
      )}
    </>
  );
}
