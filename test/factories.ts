import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { call, register, type Session } from './helpers.js';

/** A short random suffix, so names made by different tests never collide. */
export const unique = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}`;

async function created(res: Awaited<ReturnType<typeof call>>, what: string) {
  if (res.status !== 201) throw new Error(`${what} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** An artist created through the API by `session` (an admin). */
export async function makeArtist(
  app: FastifyInstance,
  session: Session,
  overrides: Record<string, unknown> = {},
) {
  const res = await call(app, 'POST', '/api/v1/artists', {
    session,
    body: { name: unique('Artist'), ...overrides },
  });
  return created(res, 'makeArtist');
}

/** An album created through the API; without artistId or artistName, under a new artist. */
export async function makeAlbum(
  app: FastifyInstance,
  session: Session,
  overrides: Record<string, unknown> = {},
) {
  const artistRef =
    'artistId' in overrides || 'artistName' in overrides
      ? {}
      : { artistId: (await makeArtist(app, session)).id };
  const res = await call(app, 'POST', '/api/v1/albums', {
    session,
    body: { title: unique('Album'), genre: 'Rock', releaseYear: 2001, ...artistRef, ...overrides },
  });
  return created(res, 'makeAlbum');
}

/** A song appended to `albumId` through the API. */
export async function makeSong(
  app: FastifyInstance,
  session: Session,
  albumId: string,
  overrides: Record<string, unknown> = {},
) {
  const res = await call(app, 'POST', `/api/v1/albums/${albumId}/songs`, {
    session,
    body: { title: unique('Song'), durationMs: 200_000, ...overrides },
  });
  return created(res, 'makeSong');
}

/**
 * A signed-in artist account for `artistId`, made the way an admin makes one: register a user,
 * then give it role `artist`. Roles apply on the next request, so the session works at once.
 */
export async function makeArtistAccount(app: FastifyInstance, admin: Session, artistId: string) {
  const session = await register(app, { displayName: 'Artist account' });
  const res = await call(app, 'PATCH', `/api/v1/admin/users/${session.user.id}`, {
    session: admin,
    body: { role: 'artist', artistId },
  });
  if (res.status !== 200)
    throw new Error(`makeArtistAccount failed: ${res.status} ${JSON.stringify(res.body)}`);
  return session;
}
