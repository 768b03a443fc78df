import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import type { Db } from '../../platform/db.js';
import { NotFoundError } from '../../platform/errors.js';
import { appPasswords } from './subsonic.tables.js';

export interface AppPasswordView {
  id: string;
  name: string;
  createdAt: string;
}

/** Two keys from the server secret: one encrypts app passwords, one makes their lookup hash. */
function deriveKeys(serverSecret: string) {
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', serverSecret, 'backbeat-app-passwords', info, 32));
  return { encryption: derive('aes-256-gcm'), lookup: derive('lookup-hmac') };
}

const toView = (row: typeof appPasswords.$inferSelect): AppPasswordView => ({
  id: row.id,
  name: row.name,
  createdAt: row.createdAt.toISOString(),
});

/**
 * App passwords: what Subsonic players sign in with instead of the account password, one per
 * player, each revocable on its own.
 */
export function createAppPasswords(db: Db, serverSecret: string) {
  const keys = deriveKeys(serverSecret);

  function encrypt(password: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', keys.encryption, iv);
    const data = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), data]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /** The password, or null when the stored value does not decrypt (another server secret). */
  function decrypt(secret: string): string | null {
    const [version, iv, tag, data] = secret.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', keys.encryption, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    } catch {
      return null;
    }
  }

  const lookupOf = (password: string) => createHmac('sha256', keys.lookup).update(password).digest('hex');

  return {
    async create(userId: string, name: string): Promise<AppPasswordView & { password: string }> {
      // 144 random bits, URL-safe: easy to paste into a player, impossible to guess.
      const password = randomBytes(18).toString('base64url');
      const [row] = await db
        .insert(appPasswords)
        .values({ userId, name: name.trim(), secret: encrypt(password), lookup: lookupOf(password) })
        .returning();
      return { ...toView(row!), password };
    },

    async list(userId: string): Promise<AppPasswordView[]> {
      const rows = await db
        .select()
        .from(appPasswords)
        .where(eq(appPasswords.userId, userId))
        .orderBy(desc(appPasswords.createdAt), desc(appPasswords.id));
      return rows.map(toView);
    },

    async remove(userId: string, id: string): Promise<void> {
      const deleted = await db
        .delete(appPasswords)
        .where(and(eq(appPasswords.id, id), eq(appPasswords.userId, userId)))
        .returning({ id: appPasswords.id });
      if (!deleted.length) throw new NotFoundError('App password', 'APP_PASSWORD_NOT_FOUND');
    },

    /** The user whose app password this is (the OpenSubsonic `apiKey`, or a plain `p`). */
    async ownerOf(password: string): Promise<string | null> {
      const [row] = await db
        .select({ userId: appPasswords.userId })
        .from(appPasswords)
        .where(eq(appPasswords.lookup, lookupOf(password)));
      return row?.userId ?? null;
    },

    /** Whether `token` is md5(password + salt) for one of the user's app passwords. */
    async matchesToken(userId: string, token: string, salt: string): Promise<boolean> {
      const rows = await db
        .select({ secret: appPasswords.secret })
        .from(appPasswords)
        .where(eq(appPasswords.userId, userId));
      const given = Buffer.from(token.toLowerCase());
      return rows.some((row) => {
        const password = decrypt(row.secret);
        if (password === null) return false;
        const expected = Buffer.from(
          createHash('md5')
            .update(password + salt)
            .digest('hex'),
        );
        return expected.length === given.length && timingSafeEqual(expected, given);
      });
    },
  };
}

export type AppPasswords = ReturnType<typeof createAppPasswords>;
