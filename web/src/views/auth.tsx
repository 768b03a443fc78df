import { useState } from 'preact/hooks';
import { api, session, type TokenPair } from '../api';
import { ErrorNote } from '../components';
import { messageOf } from '../hooks';

/** Sign in with email or username, or create an account. */
export function SignIn() {
  const [mode, setMode] = useState<'signin' | 'register'>('signin');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const login = String(form.get('login') ?? '').trim();
    const password = String(form.get('password') ?? '');
    setBusy(true);
    setError(null);
    try {
      const pair =
        mode === 'register'
          ? await api<TokenPair>('/auth/register', {
              method: 'POST',
              body: { email: login, password, displayName: String(form.get('displayName') ?? '').trim() },
            })
          : await api<TokenPair>('/auth/login', {
              method: 'POST',
              body: login.includes('@') ? { email: login, password } : { username: login, password },
            });
      session.set(pair);
      location.hash = '#/';
    } catch (e) {
      setError(messageOf(e));
    }
    setBusy(false);
  };

  return (
    <section class="narrow" aria-labelledby="auth-title">
      <h1 id="auth-title">{mode === 'register' ? 'Create an account' : 'Sign in'}</h1>
      <form onSubmit={submit} class="stack">
        <label for="login">
          {mode === 'register' ? 'Email' : 'Email or username'}
          {mode === 'register' ? (
            <input id="login" name="login" type="email" autocomplete="username" required />
          ) : (
            <input id="login" name="login" type="text" autocomplete="username" required />
          )}
        </label>
        {mode === 'register' && (
          <label>
            Display name
            <input name="displayName" required maxLength={64} autocomplete="nickname" />
          </label>
        )}
        <label>
          Password
          <input
            name="password"
            type="password"
            required
            minLength={8}
            maxLength={128}
            autocomplete={mode === 'register' ? 'new-password' : 'current-password'}
          />
        </label>
        <ErrorNote message={error} />
        <button type="submit" class="primary" disabled={busy}>
          {mode === 'register' ? 'Create account' : 'Sign in'}
        </button>
      </form>
      <p>
        {mode === 'register' ? 'Already have an account? ' : 'New here? '}
        <button
          type="button"
          class="link"
          onClick={() => setMode(mode === 'register' ? 'signin' : 'register')}
        >
          {mode === 'register' ? 'Sign in' : 'Create an account'}
        </button>
      </p>
    </section>
  );
}
