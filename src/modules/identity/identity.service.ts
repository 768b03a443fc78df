import type { AccessClaims, AuthUser, Role, TokenService } from '../../platform/auth.js';
import { hashToken, newOpaqueToken } from '../../platform/auth.js';
import { batched } from '../../platform/batch.js';
import { type Db, isUniqueViolation, type Tx, withTx } from '../../platform/db.js';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from '../../platform/errors.js';
import { recordEvent } from '../../platform/events.js';
import type { Image } from '../../platform/http.js';
import { artistExists } from '../catalog/index.js';
import type { UserRow } from './identity.repo.js';
import * as repo from './identity.repo.js';

/**
 * Work another module must do in the same transaction as an account's deletion (what a
 * foreign-key cascade cannot do, such as lowering counters). It may return work for after commit.
 */
export type UserDeletionHook = (tx: Tx, userId: string) => Promise<(() => Promise<void>) | undefined | void>;

export interface IdentityDeps {
  db: Db;
  tokens: TokenService;
  refreshTtlSec: number;
  /** Filled in by the app once the modules that hang off users exist. */
  userDeletionHooks?: UserDeletionHook[];
  /** From the playlists module, for the public profile; absent: 0. */
  publicPlaylistCount?: (userId: string) => Promise<number>;
  /** Business time (session and refresh-token expiry, the reuse window); absent: the system clock. */
  clock?: () => Date;
}

export interface UserView {
  id: string;
  email?: string;
  username: string;
  displayName: string;
  role: Role;
  artistId: string | null;
  blocked: boolean;
  images: Image[];
  createdAt: string;
}

/** The public profile: what anyone may see of a user. */
export interface PublicUserView {
  id: string;
  username: string;
  displayName: string;
  images: { url: string; width: number; height: number }[];
  publicPlaylistCount: number;
  createdAt: string;
}

export interface AuthResultView {
  user: UserView;
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

/** The API shape of a user; the email only when the viewer may see it (themself, admins). */
export function toUserView(row: UserRow, withEmail: boolean): UserView {
  return {
    id: row.id,
    ...(withEmail ? { email: row.email } : {}),
    username: row.username,
    displayName: row.displayName,
    role: row.role,
    artistId: row.artistId,
    blocked: row.blocked,
    images: row.images,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * The one form an email is stored and looked up in: NFKC folds compatibility characters (the
 * Kelvin sign, full-width letters) into their plain letters, then lower case. Registration and
 * login both go through it, so an address that signs in is one that could have registered.
 */
export const normaliseEmail = (email: string) => email.normalize('NFKC').trim().toLowerCase();
const normaliseUsername = (username: string) => username.trim().toLowerCase();

const USERNAME_MAX = 32;
const USERNAME_MIN = 3;
/** Candidates checked per query when making a username. */
const USERNAME_BATCH = 20;

/**
 * The username an email suggests: its local part, lower-case, without characters a username
 * cannot hold (the migration that gave existing accounts usernames uses the same rule).
 */
function usernameBase(email: string): string {
  const local = normaliseEmail(email).split('@')[0] ?? '';
  return local.replace(/[^a-z0-9._-]/g, '').slice(0, USERNAME_MAX) || 'user';
}

/** The n-th candidate for `base`: itself, then with 2, 3, ... appended (cut to fit). */
function usernameCandidate(base: string, n: number): string {
  return n === 1 ? base : base.slice(0, USERNAME_MAX - String(n).length) + n;
}

const usernameTaken = () => new ConflictError('This username is taken', 'USERNAME_TAKEN');

/** argon2 (a native addon) loads with the first password hashed or checked, not at start. */
let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const loadArgon2 = () => {
  argon2 ??= import('@node-rs/argon2');
  return argon2;
};
const hash = async (password: string) => (await loadArgon2()).hash(password);
/**
 * False for a wrong password or a hash argon2 cannot read; a failure to load argon2 itself is
 * not a wrong password and propagates (a 500, as a start that could not load it would have failed).
 */
const verify = async (hashed: string, password: string) => {
  const argon = await loadArgon2();
  return argon.verify(hashed, password).catch(() => false);
};

// Verifying against a real hash when the email is unknown keeps both failures equally slow.
let decoyHash: Promise<string> | undefined;
const getDecoyHash = () => {
  decoyHash ??= hash('decoy-password-for-timing');
  return decoyHash;
};

export class AdminEmailTakenError extends Error {
  override name = 'AdminEmailTakenError';
  constructor(email: string) {
    super(
      `ADMIN_EMAIL: an account with ${email} already exists and is not an admin; it is not promoted. ` +
        'Choose an ADMIN_EMAIL no account uses, or have an existing admin grant the role.',
    );
  }
}

/** How long a spent refresh token still yields its successor (a double submit, not a replay). */
export const REFRESH_REUSE_WINDOW_MS = 10_000;

const invalidCredentials = () => new UnauthorizedError('Email or password is wrong', 'INVALID_CREDENTIALS');
const accountBlocked = () => new ForbiddenError('This account is blocked', 'ACCOUNT_BLOCKED');

/**
 * Tells every process, once the transaction commits, that sessions of the user ended (or the
 * user was blocked or deleted): the chat then disconnects their sockets at once rather than at
 * its next periodic check.
 */
async function sessionsEnded(tx: Tx, userId: string | undefined): Promise<void> {
  if (userId) await recordEvent(tx, 'identity.sessions_ended', { userId });
}

export function createIdentityService(deps: IdentityDeps) {
  const { db, tokens } = deps;
  const liveSession = batched<string, repo.LiveSessionUser | undefined>(async (ids) => {
    const rows = new Map((await repo.findLiveSessionUsers(db, ids)).map((r) => [r.sessionId, r]));
    return ids.map((id) => rows.get(id));
  });
  const clock = deps.clock ?? (() => new Date());
  const refreshExpiry = () => new Date(clock().getTime() + deps.refreshTtlSec * 1000);

  async function issueTokens(
    user: UserRow,
    sessionId: string,
    refreshToken: string,
  ): Promise<AuthResultView> {
    return {
      user: toUserView(user, true),
      accessToken: await tokens.signAccess({ userId: user.id, sessionId, role: user.role }),
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: tokens.accessTtlSec,
    };
  }

  /**
   * The token that replaced a spent one, when the spent one was used less than
   * REFRESH_REUSE_WINDOW_MS ago and its successor is still unspent (so it is the immediately
   * previous token of the family); otherwise undefined, and the reuse revokes the family.
   */
  async function successorInReuseWindow(
    tx: Tx,
    spent: { sessionId: string; usedAt: Date | null; successorSealed: string | null },
    spentHash: string,
  ): Promise<string | undefined> {
    if (!spent.usedAt || !spent.successorSealed) return undefined;
    if (clock().getTime() - spent.usedAt.getTime() >= REFRESH_REUSE_WINDOW_MS) return undefined;
    const successor = tokens.open(spent.successorSealed, spentHash);
    if (!successor) return undefined;
    const row = await repo.findRefreshToken(tx, hashToken(successor));
    return row && row.sessionId === spent.sessionId && !row.usedAt ? successor : undefined;
  }

  async function startSession(user: UserRow): Promise<AuthResultView> {
    const { token, hash: tokenHash } = newOpaqueToken();
    const sessionId = await withTx(db, (tx) =>
      repo.insertSession(tx, { userId: user.id, expiresAt: refreshExpiry(), tokenHash }),
    );
    return issueTokens(user, sessionId, token);
  }

  /** The first free username made from `email` (lowest numeric suffix); racing sign-ups retry. */
  async function freeUsernameFor(email: string): Promise<string> {
    const base = usernameBase(email);
    for (let first = 1; ; first += USERNAME_BATCH) {
      const candidates = Array.from({ length: USERNAME_BATCH }, (_, i) =>
        usernameCandidate(base, first + i),
      ).filter((name) => name.length >= USERNAME_MIN);
      const taken = await repo.takenUsernames(db, candidates);
      const free = candidates.find((name) => !taken.has(name));
      if (free) return free;
    }
  }

  async function createUser(input: {
    email: string;
    password: string;
    displayName: string;
    username?: string;
    role?: Role;
  }) {
    const passwordHash = await hash(input.password);
    const chosen = input.username === undefined ? undefined : normaliseUsername(input.username);
    // A made-up username can be taken by a concurrent sign-up between the check and the insert.
    for (let attempt = 1; ; attempt++) {
      try {
        return await repo.insertUser(db, {
          email: normaliseEmail(input.email),
          username: chosen ?? (await freeUsernameFor(input.email)),
          passwordHash,
          displayName: input.displayName.trim() || input.displayName,
          role: input.role,
        });
      } catch (error) {
        if (isUniqueViolation(error, 'users_email_key')) {
          throw new ConflictError('An account with this email exists', 'EMAIL_TAKEN');
        }
        if (!isUniqueViolation(error, 'users_username_key')) throw error;
        if (chosen || attempt >= 3) throw usernameTaken();
      }
    }
  }

  /**
   * Creates an account unless one has this email (the configured first admin, demo accounts);
   * safe to run on every start. Returns whether it created one.
   */
  /** Creates an account unless one has this email (first admin, demo accounts); safe on every start. */
  async function ensureAccount(input: {
    email: string;
    password: string;
    displayName: string;
    role: Role;
    artistId?: string;
  }): Promise<boolean> {
    if (await repo.findUserByEmail(db, normaliseEmail(input.email))) return false;
    try {
      const user = await createUser(input);
      if (input.artistId) await repo.updateUser(db, user.id, { artistId: input.artistId });
      return true;
    } catch (error) {
      if (error instanceof ConflictError) return false;
      throw error;
    }
  }

  return {
    /** Registration always creates a plain `user`; roles are only ever granted by an admin. */
    async register(input: { email: string; password: string; displayName: string; username?: string }) {
      return startSession(await createUser(input));
    },

    /** By email or by username (exactly one); both failures answer alike. */
    async login(input: { email?: string; username?: string; password: string }) {
      if ((input.email === undefined) === (input.username === undefined)) {
        throw new ValidationError('Sign in with email or username, exactly one of them', [
          {
            path: input.email === undefined ? '/email' : '/username',
            message: 'send email or username, not both',
          },
        ]);
      }
      const user =
        input.email !== undefined
          ? await repo.findUserByEmail(db, normaliseEmail(input.email))
          : await repo.findUserByUsername(db, normaliseUsername(input.username!));
      if (!user) {
        await verify(await getDecoyHash(), input.password);
        throw invalidCredentials();
      }
      if (!(await verify(user.passwordHash, input.password))) throw invalidCredentials();
      if (user.blocked) throw accountBlocked();
      return startSession(user);
    },

    /**
     * Rotates a refresh token. A spent one presented again revokes its whole family (session),
     * except within the reuse window: a client that double-submits (two tabs, a retry) gets the
     * successor its first request received, with a fresh access token, instead of being logged out.
     */
    async refresh(refreshToken: string) {
      const presentedHash = hashToken(refreshToken);
      const { token, hash: newHash } = newOpaqueToken();
      const outcome = await withTx(db, async (tx) => {
        const spent = await repo.spendRefreshToken(tx, presentedHash, clock());
        if (!spent) return { error: 'invalid' as const };
        const successor = spent.reused ? await successorInReuseWindow(tx, spent, presentedHash) : undefined;
        if (spent.reused && !successor) {
          await sessionsEnded(tx, await repo.revokeSession(tx, spent.sessionId));
          return { error: 'reused' as const };
        }
        const found = await repo.findSessionWithUser(tx, spent.sessionId);
        if (!found || found.session.revokedAt || spent.expiresAt <= clock())
          return { error: 'invalid' as const };
        if (found.user.blocked) return { error: 'blocked' as const };
        if (successor) return { user: found.user, sessionId: spent.sessionId, refreshToken: successor };
        await repo.rotateRefreshToken(tx, spent.sessionId, spent.id, {
          tokenHash: newHash,
          expiresAt: refreshExpiry(),
          successorSealed: tokens.seal(token, presentedHash),
        });
        return { user: found.user, sessionId: spent.sessionId, refreshToken: token };
      });
      if ('error' in outcome) {
        if (outcome.error === 'blocked') throw accountBlocked();
        if (outcome.error === 'reused') {
          throw new UnauthorizedError(
            'This refresh token was already used; the session is revoked',
            'REFRESH_TOKEN_REUSED',
          );
        }
        throw new UnauthorizedError('The refresh token is invalid or expired', 'INVALID_REFRESH_TOKEN');
      }
      return issueTokens(outcome.user, outcome.sessionId, outcome.refreshToken);
    },

    /** Ends the session the refresh token belongs to; unknown tokens are ignored (nothing to end). */
    async logout(refreshToken: string) {
      await withTx(db, async (tx) => {
        const spent = await repo.spendRefreshToken(tx, hashToken(refreshToken), clock());
        if (spent) await sessionsEnded(tx, await repo.revokeSession(tx, spent.sessionId));
      });
    },

    /**
     * Resolves an access token's claims to the caller as the database says now: every signed-in
     * request looks its session up (so logout, blocks and role changes apply at once), and the
     * lookups of concurrent requests share one query.
     */
    async resolveSession(claims: AccessClaims): Promise<AuthUser> {
      const row = await liveSession(claims.sessionId);
      if (!row || row.id !== claims.userId || row.expiresAt <= clock()) {
        throw new UnauthorizedError('The session has ended; sign in again', 'SESSION_ENDED');
      }
      if (row.blocked) throw accountBlocked();
      return { id: row.id, role: row.role, artistId: row.artistId, sessionId: claims.sessionId };
    },

    async getMe(caller: AuthUser): Promise<UserView> {
      const user = await repo.findUserById(db, caller.id);
      if (!user) throw new UnauthorizedError('The account no longer exists', 'SESSION_ENDED');
      return toUserView(user, true);
    },

    /** A password change ends every other session of the user, tokens and all. */
    async updateMe(
      caller: AuthUser,
      input: { displayName?: string; username?: string; currentPassword?: string; newPassword?: string },
    ) {
      const user = await repo.findUserById(db, caller.id);
      if (!user) throw new UnauthorizedError('The account no longer exists', 'SESSION_ENDED');
      const changes: Parameters<typeof repo.updateUser>[2] = {};
      if (input.displayName !== undefined) changes.displayName = input.displayName;
      if (input.username !== undefined) changes.username = normaliseUsername(input.username);
      if (input.newPassword !== undefined) {
        if (input.currentPassword === undefined) {
          throw new ValidationError('newPassword needs currentPassword', [
            { path: '/currentPassword', message: 'is required to change the password' },
          ]);
        }
        if (!(await verify(user.passwordHash, input.currentPassword))) {
          throw new ForbiddenError('The current password is wrong', 'WRONG_PASSWORD');
        }
        changes.passwordHash = await hash(input.newPassword);
      }
      const updated = await withTx(db, async (tx) => {
        const row = await repo.updateUser(tx, user.id, changes);
        if (changes.passwordHash && (await repo.revokeOtherSessions(tx, user.id, caller.sessionId))) {
          await sessionsEnded(tx, user.id);
        }
        return row!;
      }).catch((error: unknown) => {
        if (isUniqueViolation(error, 'users_username_key')) throw usernameTaken();
        throw error;
      });
      return toUserView(updated, true);
    },

    /** Anyone's public profile (no email, no role). */
    async getPublicProfile(id: string): Promise<PublicUserView> {
      const user = await repo.findUserById(db, id);
      if (!user) throw new NotFoundError('User', 'USER_NOT_FOUND');
      return {
        id: user.id,
        username: user.username,
        displayName: user.displayName,
        images: user.images,
        publicPlaylistCount: (await deps.publicPlaylistCount?.(user.id)) ?? 0,
        createdAt: user.createdAt.toISOString(),
      };
    },

    async listUsers(query: { q?: string; role?: Role; blocked?: boolean; limit: number; offset: number }) {
      const { rows, total } = await repo.listUsers(db, query);
      return { items: rows.map((r) => toUserView(r, true)), total };
    },

    /** Role and block changes apply on the user's next request: sessions resolve the user each time. */
    async adminUpdateUser(
      caller: AuthUser,
      id: string,
      input: { role?: Role; blocked?: boolean; artistId?: string | null },
    ) {
      if (id === caller.id && (input.blocked === true || (input.role && input.role !== 'admin'))) {
        throw new ConflictError('Admins cannot block or demote themselves', 'SELF_MODIFICATION');
      }
      return withTx(db, async (tx) => {
        const user = await repo.findUserById(tx, id);
        if (!user) throw new NotFoundError('User', 'USER_NOT_FOUND');
        const role = input.role ?? user.role;
        let artistId = input.artistId === undefined ? user.artistId : input.artistId;
        if (role !== 'artist') {
          if (input.artistId) {
            throw new ValidationError('artistId only applies to artist accounts', [
              { path: '/artistId', message: 'needs role "artist"' },
            ]);
          }
          artistId = null;
        } else if (!artistId) {
          throw new ValidationError('An artist account needs artistId', [
            { path: '/artistId', message: 'is required for role "artist"' },
          ]);
        } else if (artistId !== user.artistId && !(await artistExists(tx, artistId))) {
          throw new ValidationError(
            'No artist has this id',
            [{ path: '/artistId', message: 'names no artist' }],
            'UNKNOWN_ARTIST',
          );
        }
        const updated = await repo.updateUser(tx, id, {
          role,
          artistId,
          ...(input.blocked !== undefined ? { blocked: input.blocked } : {}),
        });
        if (input.blocked && !user.blocked) await sessionsEnded(tx, id);
        return toUserView(updated!, true);
      });
    },

    async adminDeleteUser(caller: AuthUser, id: string) {
      if (id === caller.id) throw new ConflictError('Admins cannot delete themselves', 'SELF_MODIFICATION');
      const afterCommit = await withTx(db, async (tx) => {
        if (!(await repo.findUserById(tx, id))) throw new NotFoundError('User', 'USER_NOT_FOUND');
        const followUps = [];
        for (const hook of deps.userDeletionHooks ?? []) followUps.push(await hook(tx, id));
        await repo.deleteUser(tx, id);
        await sessionsEnded(tx, id);
        return followUps;
      });
      for (const followUp of afterCommit) if (followUp) await followUp();
    },

    ensureAccount,

    /**
     * Creates the configured first admin; false when that admin already exists. An existing
     * account with the email that is not an admin is never promoted (whoever registered it would
     * become admin): that is an `AdminEmailTakenError`, and the server refuses to start.
     */
    async ensureAdmin(email: string, password: string): Promise<boolean> {
      if (await ensureAccount({ email, password, displayName: 'Administrator', role: 'admin' })) return true;
      const existing = await repo.findUserByEmail(db, normaliseEmail(email));
      if (existing?.role !== 'admin') throw new AdminEmailTakenError(normaliseEmail(email));
      return false;
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
