/**
 * Which role serves a path. Patterns are matched by segment (`:x` one segment, `*` the rest);
 * the most specific pattern wins (a literal segment beats `:x`, which beats `*`), so
 * `/songs/trending` reaches discovery while `/songs/:id` reaches the catalog. A module that
 * becomes a role adds its lines here.
 */
export const GATEWAY_ROUTES: ReadonlyArray<readonly [pattern: string, role: string]> = [
  ['/api/v1', 'identity'],
  ['/api/v1/auth/*', 'identity'],
  ['/api/v1/me', 'identity'],
  ['/api/v1/admin/*', 'identity'],
  ['/api/v1/artists', 'catalog'],
  ['/api/v1/artists/*', 'catalog'],
  ['/api/v1/albums', 'catalog'],
  ['/api/v1/albums/*', 'catalog'],
  ['/api/v1/songs', 'catalog'],
  ['/api/v1/songs/*', 'catalog'],
  ['/api/v1/search', 'catalog'],
  ['/api/v1/me/following/*', 'library'],
  ['/api/v1/me/notifications', 'library'],
  ['/api/v1/me/notifications/*', 'library'],
  ['/api/v1/playlists', 'library'],
  ['/api/v1/playlists/*', 'library'],
  ['/api/v1/me/playlists', 'library'],
  ['/api/v1/users/:id/playlists', 'library'],
  ['/api/v1/songs/:id/plays', 'discovery'],
  ['/api/v1/songs/trending', 'discovery'],
  ['/api/v1/songs/:id/similar', 'discovery'],
  ['/api/v1/me/recently-played', 'discovery'],
  ['/api/v1/me/recommendations', 'discovery'],
  ['/api/v1/stats/*', 'discovery'],
  ['/api/v1/users/:id', 'identity'],
  ['/api/v1/me/app-passwords', 'identity'],
  ['/api/v1/me/app-passwords/*', 'identity'],
  ['/api/v1/songs/:id/audio', 'media'],
  ['/api/v1/songs/:id/stream', 'media'],
  ['/api/v1/songs/:id/hls', 'media'],
  ['/api/v1/albums/:id/cover', 'media'],
  ['/api/v1/artists/:id/image', 'media'],
  ['/api/v1/me/avatar', 'media'],
  ['/api/v1/admin/library/*', 'media'],
  ['/media/*', 'media'],
  ['/rest', 'subsonic'],
  ['/rest/*', 'subsonic'],
  ['/api/v1/events', 'live'],
  ['/api/v1/events/*', 'live'],
  ['/socket.io/*', 'live'],
];

type Segment = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'rest' };
interface Rule {
  segments: Segment[];
  role: string;
}

function parsePattern(pattern: string): Segment[] {
  return pattern
    .split('/')
    .filter(Boolean)
    .map((part) =>
      part === '*'
        ? { kind: 'rest' }
        : part.startsWith(':')
          ? { kind: 'param' }
          : { kind: 'literal', text: part },
    );
}

const RANK = { literal: 0, param: 1, rest: 2 } as const;

/** Orders rules so that the first match is the most specific one. */
function bySpecificity(a: Rule, b: Rule): number {
  for (let i = 0; i < Math.max(a.segments.length, b.segments.length); i++) {
    const x = a.segments[i];
    const y = b.segments[i];
    if (!x || !y) return x ? -1 : 1;
    if (RANK[x.kind] !== RANK[y.kind]) return RANK[x.kind] - RANK[y.kind];
  }
  return 0;
}

function matches(rule: Rule, parts: string[]): boolean {
  for (let i = 0; i < rule.segments.length; i++) {
    const segment = rule.segments[i]!;
    if (segment.kind === 'rest') return parts.length > i;
    const part = parts[i];
    if (part === undefined) return false;
    if (segment.kind === 'literal' && segment.text !== part) return false;
  }
  return parts.length === rule.segments.length;
}

/** Builds the lookup from a table such as `GATEWAY_ROUTES`. */
export function createRoleRouter(
  table: ReadonlyArray<readonly [string, string]>,
): (path: string) => string | undefined {
  const rules = table
    .map(([pattern, role]) => ({ segments: parsePattern(pattern), role }))
    .sort(bySpecificity);
  return (path) => {
    const parts = path.split('?', 1)[0]!.split('/').filter(Boolean);
    return rules.find((rule) => matches(rule, parts))?.role;
  };
}
