import { and, count, desc, eq, ilike, inArray, isNotNull, isNull, ne, type SQL, sql } from 'drizzle-orm';
import type { Role } from '../../platform/auth.js';
import type { Executor } from '../../platform/db.js';
import type { Image } from '../../platform/http.js';
import { refreshTokens, sessions, users } from './identity.tables.js';

export type UserRow = typeof users.$inferSelect;

export async function findUserById(db: Executor, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row;
}

/** Whether an account with this id exists (other modules' 404s for a user). */
export async function userExists(db: Executor, id: string): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, id)).limit(1);
  return rows.length > 0;
}

export async function findUserByUsername(db: Executor, username: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.username, username));
  return row;
}

/** The usernames taken among `candidates`. */
export async function takenUsernames(db: Executor, candidates: string[]): Promise<Set<string>> {
  const rows = await db
    .select({ username: users.username })
    .from(users)
    .where(inArray(users.username, candidates));
  return new Set(rows.map((r) => r.username));
}

export async function findUserByEmail(db: Executor, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.email, email));
  return row;
}

/**
 * The user a login name names, for clients that sign in with a name instead of a token (the
 * Subsonic API's `u`): an email, case-insensitively (emails are stored lower-case).
 */
/** The account a login name names: its email or its username (both stored lower-case). */
export async function findUserByLogin(db: Executor, login: string): Promise<UserRow | undefined> {
  const name = login.normalize('NFKC').trim().toLowerCase();
  const [row] = await db
    .select()
    .from(users)
    .where(name.includes('@') ? eq(users.email, name) : eq(users.username, name));
  return row;
}

export async function insertUser(
  db: Executor,
  values: { email: string; username: string; passwordHash: string; displayName: string; role?: Role },
): Promise<UserRow> {
  const [row] = await db.insert(users).values(values).returning();
  return row!;
}

export async function updateUser(
  db: Executor,
  id: string,
  values: Partial<
    Pick<UserRow, 'displayName' | 'username' | 'passwordHash' | 'role' | 'artistId' | 'blocked'>
  >,
): Promise<UserRow | undefined> {
  const [row] = await db
    .update(users)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(users.id, id))
    .returning();
  return row;
}

export async function deleteUser(db: Executor, id: string): Promise<boolean> {
  const rows = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  return rows.length > 0;
}

export async function listUsers(
  db: Executor,
  filter: { q?: string; role?: Role; blocked?: boolean; limit: number; offset: number },
): Promise<{ rows: UserRow[]; total: number }> {
  const conditions: SQL[] = [];
  if (filter.q) {
    const pattern = `%${filter.q.replace(/[\\%_]/g, '\\$&')}%`;
    conditions.push(
      sql`(${ilike(users.email, pattern)} or ${ilike(users.username, pattern)} or ${ilike(users.displayName, pattern)})`,
    );
  }
  if (filter.role) conditions.push(eq(users.role, filter.role));
  if (filter.blocked !== undefined) conditions.push(eq(users.blocked, filter.blocked));
  const where = conditions.length ? and(...conditions) : undefined;
  const [rows, [totalRow]] = await Promise.all([
    db
      .select()
      .from(users)
      .where(where)
      .orderBy(desc(users.createdAt), users.id)
      .limit(filter.limit)
      .offset(filter.offset),
    db.select({ total: count() }).from(users).where(where),
  ]);
  return { rows, total: totalRow?.total ?? 0 };
}

export async function insertSession(
  db: Executor,
  values: { userId: string; expiresAt: Date; tokenHash: string },
): Promise<string> {
  const [session] = await db
    .insert(sessions)
    .values({ userId: values.userId, expiresAt: values.expiresAt })
    .returning({ id: sessions.id });
  await db.insert(refreshTokens).values({
    sessionId: session!.id,
    tokenHash: values.tokenHash,
    expiresAt: values.expiresAt,
  });
  return session!.id;
}

/**
 * The live sessions among `sessionIds` (not revoked; expiry is the caller's check), each joined
 * to its user: one query answers the access tokens of many concurrent requests.
 */
export async function findLiveSessionUsers(db: Executor, sessionIds: readonly string[]) {
  return db
    .select({
      sessionId: sessions.id,
      id: users.id,
      role: users.role,
      artistId: users.artistId,
      blocked: users.blocked,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(inArray(sessions.id, [...new Set(sessionIds)]), isNull(sessions.revokedAt)));
}

export type LiveSessionUser = Awaited<ReturnType<typeof findLiveSessionUsers>>[number];

/**
 * Spends a refresh token atomically: only one concurrent caller can mark it used. Returns the
 * token's row either way, so the caller can tell a spent token (reuse) from an unknown one.
 */
export async function spendRefreshToken(db: Executor, tokenHash: string, now: Date) {
  const [spent] = await db
    .update(refreshTokens)
    .set({ usedAt: now })
    .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.usedAt)))
    .returning(spentColumns);
  if (spent) return { ...spent, reused: false };
  const known = await findRefreshToken(db, tokenHash);
  return known ? { ...known, reused: true } : undefined;
}

const spentColumns = {
  id: refreshTokens.id,
  sessionId: refreshTokens.sessionId,
  expiresAt: refreshTokens.expiresAt,
  usedAt: refreshTokens.usedAt,
  successorSealed: refreshTokens.successorSealed,
};

export async function findRefreshToken(db: Executor, tokenHash: string) {
  const [row] = await db
    .select(spentColumns)
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, tokenHash));
  return row;
}

export async function findSessionWithUser(db: Executor, sessionId: string) {
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sessionId));
  return row;
}

/**
 * Adds the successor of the spent token `spentId` and keeps it, sealed, on the spent row. Only
 * the immediately previous token may lead to the current one, so older rows lose theirs.
 */
export async function rotateRefreshToken(
  db: Executor,
  sessionId: string,
  spentId: string,
  values: { tokenHash: string; expiresAt: Date; successorSealed: string },
): Promise<void> {
  await db
    .update(refreshTokens)
    .set({ successorSealed: null })
    .where(and(eq(refreshTokens.sessionId, sessionId), isNotNull(refreshTokens.successorSealed)));
  await db
    .update(refreshTokens)
    .set({ successorSealed: values.successorSealed })
    .where(eq(refreshTokens.id, spentId));
  await db
    .insert(refreshTokens)
    .values({ sessionId, tokenHash: values.tokenHash, expiresAt: values.expiresAt });
  await db.update(sessions).set({ expiresAt: values.expiresAt }).where(eq(sessions.id, sessionId));
}

/** Revokes a session; the user it belonged to when this revoked it, else undefined (gone or revoked before). */
export async function revokeSession(db: Executor, sessionId: string): Promise<string | undefined> {
  const [row] = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
    .returning({ userId: sessions.userId });
  return row?.userId;
}

/** Revokes every session of the user but one; how many it revoked. */
export async function revokeOtherSessions(
  db: Executor,
  userId: string,
  keepSessionId: string,
): Promise<number> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return rows.length;
}

/** A user's avatar, written by the media module. */
export async function writeUserImages(
  tx: Executor,
  userId: string,
  set: { images: Image[]; hash: string | null },
) {
  await tx
    .update(users)
    .set({ images: set.images, imageHash: set.hash, updatedAt: new Date() })
    .where(eq(users.id, userId));
}

/** Avatar hashes among `hashes` that a user still shows. */
export async function userImageHashesInUse(db: Executor, hashes: string[]): Promise<Set<string>> {
  if (!hashes.length) return new Set();
  const rows = await db.select({ hash: users.imageHash }).from(users).where(inArray(users.imageHash, hashes));
  return new Set(rows.map((r) => r.hash as string));
}
