import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { admin, get, t, useAppWithAdminAndUser, user } from '../../../test/context.js';
import { call, register } from '../../../test/helpers.js';

useAppWithAdminAndUser();

const api = (path: string) => `/api/v1${path}`;
const PASSWORD = 'correct-horse-battery';
const tag = () => randomBytes(3).toString('hex');

const signUp = (body: Record<string, unknown>) =>
  call(t.app, 'POST', api('/auth/register'), {
    body: { email: `${tag()}@example.test`, password: PASSWORD, displayName: 'Someone', ...body },
  });
const signIn = (body: Record<string, unknown>) => call(t.app, 'POST', api('/auth/login'), { body });

describe('usernames at registration', () => {
  it('makes one from the email, with the lowest free numeric suffix when taken', async () => {
    const local = `Ada.Love+${tag()}`;
    const first = await signUp({ email: `${local}@example.test` });
    expect(first.status).toBe(201);
    const base = local.toLowerCase().replace('+', '');
    expect(first.body.user.username).toBe(base);
    const second = await signUp({ email: `${local}@other.test` });
    expect(second.body.user.username).toBe(`${base}2`);
    const third = await signUp({ email: `${local}@third.test` });
    expect(third.body.user.username).toBe(`${base}3`);
  });

  it('pads a local part too short for a username with a suffix, and keeps within 32 characters', async () => {
    const short = await signUp({ email: 'Jo@example.test' });
    expect(short.body.user.username).toBe('jo2');
    const long = `${'x'.repeat(40)}${tag()}`;
    const first = await signUp({ email: `${long}@a.test` });
    expect(first.body.user.username).toBe(long.slice(0, 32));
    const second = await signUp({ email: `${long}@b.test` });
    expect(second.body.user.username).toBe(`${long.slice(0, 31)}2`);
  });

  it('takes a chosen one case-insensitively, unique, and refuses a bad one', async () => {
    const name = `Ada_${tag()}`;
    const chosen = await signUp({ username: name });
    expect(chosen.status).toBe(201);
    expect(chosen.body.user.username).toBe(name.toLowerCase());
    const taken = await signUp({ username: name.toUpperCase() });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('USERNAME_TAKEN');
    for (const bad of ['ab', 'with space', 'é-accent', 'x'.repeat(33), 'semi;colon']) {
      const res = await signUp({ username: bad });
      expect(res.status, bad).toBe(400);
      expect(res.body.errors[0].path).toBe('/username');
    }
  });
});

describe('signing in with a username', () => {
  it('accepts email or username (any case), exactly one of them', async () => {
    const name = `lin_${tag()}`;
    const email = `${tag()}@example.test`;
    await signUp({ email, username: name });
    const byName = await signIn({ username: name.toUpperCase(), password: PASSWORD });
    expect(byName.status).toBe(200);
    expect(byName.body.user).toMatchObject({ username: name, email });
    expect((await signIn({ email, password: PASSWORD })).status).toBe(200);
    const both = await signIn({ email, username: name, password: PASSWORD });
    expect(both.status).toBe(400);
    expect(both.body.code).toBe('VALIDATION_FAILED');
    expect((await signIn({ password: PASSWORD })).status).toBe(400);
  });

  it('answers a wrong password and an unknown username alike', async () => {
    const name = `kim_${tag()}`;
    await signUp({ username: name });
    const wrong = await signIn({ username: name, password: 'not-the-password' });
    const unknown = await signIn({ username: `nobody_${tag()}`, password: PASSWORD });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
    expect(unknown.body.code).toBe(wrong.body.code);
    expect(unknown.body.detail).toBe(wrong.body.detail);
  });
});

describe('PATCH /me {username}', () => {
  it('changes it, frees the old one, and answers 409 when taken', async () => {
    const me = await register(t.app);
    const other = await register(t.app);
    const wanted = `New.Name-${tag()}`;
    const changed = await call(t.app, 'PATCH', api('/me'), { session: me, body: { username: wanted } });
    expect(changed.status).toBe(200);
    expect(changed.body.username).toBe(wanted.toLowerCase());
    expect((await signIn({ username: wanted, password: PASSWORD })).status).toBe(200);
    const clash = await call(t.app, 'PATCH', api('/me'), { session: other, body: { username: wanted } });
    expect(clash.status).toBe(409);
    expect(clash.body.code).toBe('USERNAME_TAKEN');
    const same = await call(t.app, 'PATCH', api('/me'), { session: me, body: { username: wanted } });
    expect(same.status).toBe(200);
    const bad = await call(t.app, 'PATCH', api('/me'), { session: me, body: { username: 'no' } });
    expect(bad.status).toBe(400);
  });
});

describe('GET /users/:id', () => {
  it('is the public profile: no email or role, public playlists counted', async () => {
    const someone = await register(t.app, { displayName: 'Profile Owner' });
    for (const isPublic of [true, true, false]) {
      const made = await call(t.app, 'POST', api('/playlists'), {
        session: someone,
        body: { name: 'P', isPublic },
      });
      expect(made.status).toBe(201);
    }
    const me = (await get(api('/me'), someone)).body;
    const profile = await get(api(`/users/${someone.user.id}`));
    expect(profile.status).toBe(200);
    expect(profile.body).toEqual({
      id: someone.user.id,
      username: me.username,
      displayName: 'Profile Owner',
      images: [],
      publicPlaylistCount: 2,
      createdAt: me.createdAt,
    });
    expect((await get(api(`/users/${someone.user.id}`), user)).body).not.toHaveProperty('email');
  });

  it('answers 404 for nobody and 400 for a malformed id', async () => {
    expect((await get(api('/users/01890000-0000-7000-8000-000000000000'))).status).toBe(404);
    expect((await get(api('/users/not-an-id'))).status).toBe(400);
  });

  it('shows usernames to admins in the user list, searchable', async () => {
    const name = `findme_${tag()}`;
    await signUp({ username: name });
    const found = await get(api(`/admin/users?q=${name}`), admin);
    expect(found.body.items.map((u: { username: string }) => u.username)).toEqual([name]);
  });
});
