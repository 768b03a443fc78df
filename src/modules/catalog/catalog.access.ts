import type { AuthUser } from '../../platform/auth.js';
import type { Executor } from '../../platform/db.js';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../platform/errors.js';
import * as repo from './catalog.queries.js';
import type { Scope } from './catalog.repo.js';
import {
  type ArtistView,
  type ArtistViewRow,
  forViewer,
  toAlbumView,
  toArtistView,
  toSongView,
} from './catalog.views.js';

// ---------------------------------------------------------------------------------------------
// Callers, visibility and ownership

const isAdmin = (caller: AuthUser | null) => caller?.role === 'admin';
const ownArtistId = (caller: AuthUser | null) => (caller?.role === 'artist' ? caller.artistId : null);

/** What a caller may open by id: admins everything, an artist also their own hidden content. */
function detailScope(caller: AuthUser | null): Scope {
  if (isAdmin(caller)) return { kind: 'all' };
  const own = ownArtistId(caller);
  return own ? { kind: 'own', artistId: own } : { kind: 'listed' };
}

/** What a list shows: like a user's by default, even for admins, unless an admin asks otherwise. */
function listScope(caller: AuthUser | null, visibility: 'all' | 'hidden' | undefined): Scope {
  if (visibility) {
    if (!caller) throw new UnauthorizedError('The visibility filter is for admins; sign in');
    if (!isAdmin(caller)) {
      throw new ForbiddenError('Only admins may filter by visibility', 'INSUFFICIENT_ROLE');
    }
    return { kind: visibility };
  }
  const own = ownArtistId(caller);
  return own ? { kind: 'own', artistId: own } : { kind: 'listed' };
}

function scopeKey(scope: Scope): string {
  return scope.kind === 'own' ? `own:${scope.artistId}` : scope.kind;
}

function canSee(caller: AuthUser | null, listed: boolean, artistId: string): boolean {
  return listed || isAdmin(caller) || ownArtistId(caller) === artistId;
}

/** Admins manage everything; an artist account only its own artist's content. */
function assertCanManage(caller: AuthUser | null, artistId: string): void {
  if (isAdmin(caller) || ownArtistId(caller) === artistId) return;
  throw new ForbiddenError("Artist accounts manage only their own artist's content", 'NOT_OWNER');
}

function assertAdminForVisible(caller: AuthUser | null, input: { isVisible?: boolean }): void {
  if (input.isVisible !== undefined && !isAdmin(caller)) {
    throw new ForbiddenError('Only admins may change isVisible', 'ADMIN_ONLY_FIELD');
  }
}

const albumNotFound = () => new NotFoundError('Album', 'ALBUM_NOT_FOUND');
const artistNotFound = () => new NotFoundError('Artist', 'ARTIST_NOT_FOUND');
const songNotFound = () => new NotFoundError('Song', 'SONG_NOT_FOUND');
const unknownArtist = () =>
  new ValidationError(
    'No artist you may see has this id',
    [{ path: '/artistId', message: 'names no artist' }],
    'UNKNOWN_ARTIST',
  );

// ---------------------------------------------------------------------------------------------
// Functions other modules use directly (through index.ts)

/** Song views for `ids` that `caller` may open, in the order of `ids`; others are left out. */
export async function getVisibleSongs(db: Executor, ids: string[], caller: AuthUser | null) {
  const rows = await repo.findSongsByIds(db, [...new Set(ids)], detailScope(caller));
  const admin = isAdmin(caller);
  return repo.inOrder(
    ids,
    rows.map((r) => forViewer(toSongView(r), admin)),
  );
}

/** Album views for `ids` that `caller` may open, in the order of `ids`; others are left out. */
export async function getVisibleAlbums(db: Executor, ids: string[], caller: AuthUser | null) {
  const rows = await repo.findAlbumsByIds(db, [...new Set(ids)], detailScope(caller));
  const admin = isAdmin(caller);
  return repo.inOrder(
    ids,
    rows.map((r) => forViewer(toAlbumView(r), admin)),
  );
}

/** SQL condition on `albums` for "this caller may open it" (undefined: no restriction). */
export const albumVisibleTo = (caller: AuthUser | null) => repo.albumInScope(detailScope(caller));

/** SQL condition on `artists` for "this caller may open it" (undefined: no restriction). */
export const artistVisibleTo = (caller: AuthUser | null) => repo.artistInScope(detailScope(caller));

/** The API view of an artist row as this caller may see it (`isVisible` for admins only). */
export const artistViewFor = (row: ArtistViewRow, caller: AuthUser | null): ArtistView =>
  forViewer(toArtistView(row), isAdmin(caller));

/** SQL condition on `songs` for "this caller may open it" (undefined: no restriction). */
export const songVisibleTo = (caller: AuthUser | null) => repo.songInScope(detailScope(caller));

/** What `songVisibleTo` decides, as values: for one statement that serves several callers. */
export interface SongScope {
  seesAll: boolean;
  ownArtistId: string | null;
}

export function songScopeOf(caller: AuthUser | null): SongScope {
  const scope = detailScope(caller);
  return { seesAll: scope.kind === 'all', ownArtistId: scope.kind === 'own' ? scope.artistId : null };
}

export {
  albumNotFound,
  artistNotFound,
  assertAdminForVisible,
  assertCanManage,
  canSee,
  detailScope,
  isAdmin,
  listScope,
  ownArtistId,
  scopeKey,
  songNotFound,
  unknownArtist,
};
