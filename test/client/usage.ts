/**
 * A typed client generated from openapi.json (`npm run check:client`): if this compiles, the
 * document gives generators named types (`components['schemas']['Album']`) and operations.
 * Compiled only (tsc --noEmit), never run.
 */
import createClient from 'openapi-fetch';
import type { components, operations, paths } from './api.generated.js';

type Album = components['schemas']['Album'];
type Problem = components['schemas']['Problem'];
type AlbumPage = components['schemas']['AlbumPage'];

export async function firstAlbumTitles(baseUrl: string, token: string): Promise<string[]> {
  const client = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } });
  const { data, error } = await client.GET('/api/v1/albums', {
    params: { query: { limit: 5, sort: '-releaseYear' } },
  });
  if (error) throw new Error((error as Problem).code);
  const page: AlbumPage = data;
  const album: Album | undefined = page.items[0];
  if (album) {
    const detail = await client.GET('/api/v1/albums/{id}', { params: { path: { id: album.id } } });
    const songs: string[] = detail.data?.songs.map((song) => song.title) ?? [];
    await client.PUT('/api/v1/me/following/albums/{id}', { params: { path: { id: album.id } } });
    await client.POST('/api/v1/me/notifications/read', {});
    return songs;
  }
  return page.items.map((item) => item.title);
}

export type FollowAlbum = operations['followAlbum'];
