import type { AuthUser } from '../../platform/auth.js';
import type { Db } from '../../platform/db.js';
import { findUserById, findUserByLogin, type UserRow } from '../identity/index.js';
import type { AppPasswords } from './app-passwords.js';
import { ErrorCode, missingParameter, SubsonicError } from './subsonic.response.js';

/** A request's parameters from the query string and a form body, repeated names kept. */
export interface Params {
  get(name: string): string | undefined;
  all(name: string): string[];
  /** Every parameter name given, once each. */
  names(): string[];
}

export interface Authenticated {
  caller: AuthUser;
  user: UserRow;
}

const wrongCredentials = () => new SubsonicError(ErrorCode.wrongCredentials, 'Wrong username or password');

/** The user a Subsonic `u` names: the account's username or email, case-insensitively. */
function userNamed(db: Db, login: string): Promise<UserRow | undefined> {
  return findUserByLogin(db, login);
}

/** `p` is the password in clear or `enc:` and its UTF-8 bytes in hex. */
function plainPassword(p: string): string {
  if (!p.startsWith('enc:')) return p;
  const hex = p.slice(4);
  return /^(?:[0-9a-fA-F]{2})*$/.test(hex) ? Buffer.from(hex, 'hex').toString('utf8') : '';
}

/**
 * Checks the Subsonic credentials of a request against the user's app passwords (account
 * passwords never work here): `apiKey` (OpenSubsonic), or `u` with `t`+`s` or `p`.
 */
export async function authenticate(
  db: Db,
  appPasswords: AppPasswords,
  params: Params,
): Promise<Authenticated> {
  const apiKey = params.get('apiKey');
  const u = params.get('u');
  const [t, s, p] = [params.get('t'), params.get('s'), params.get('p')];
  let user: UserRow | undefined;
  if (apiKey !== undefined) {
    if (u !== undefined || t !== undefined || p !== undefined) {
      throw new SubsonicError(ErrorCode.conflictingAuth, 'Use either apiKey or u with a password or token');
    }
    const owner = await appPasswords.ownerOf(apiKey);
    user = owner ? await findUserById(db, owner) : undefined;
    if (!user) throw new SubsonicError(ErrorCode.invalidApiKey, 'Invalid API key');
  } else {
    if (u === undefined) throw missingParameter('u');
    if (p === undefined && (t === undefined || s === undefined))
      throw missingParameter(t === undefined ? 't' : 's');
    user = await userNamed(db, u);
    if (!user) throw wrongCredentials();
    const valid =
      p !== undefined
        ? (await appPasswords.ownerOf(plainPassword(p))) === user.id
        : await appPasswords.matchesToken(user.id, t as string, s as string);
    if (!valid) throw wrongCredentials();
  }
  if (user.blocked) throw new SubsonicError(ErrorCode.notAuthorized, 'This account is blocked');
  return {
    user,
    caller: { id: user.id, role: user.role, artistId: user.artistId, sessionId: `app-password:${user.id}` },
  };
}
