/**
 * What a process serves. Every module is a role; `worker` runs the background work (schedules,
 * durable event consumers, jobs); `all` is every role at once, the one-process default; the
 * gateway is a process shape of its own and serves no module.
 */
export const MODULE_ROLES = [
  'identity',
  'catalog',
  'library',
  'discovery',
  'media',
  'subsonic',
  'live',
] as const;
export type ModuleRole = (typeof MODULE_ROLES)[number];
export type Role = ModuleRole | 'worker';
export const ROLES: readonly Role[] = [...MODULE_ROLES, 'worker'];

/** A process's roles: a set of roles, or the gateway. */
export type Services = { kind: 'roles'; roles: ReadonlySet<Role> } | { kind: 'gateway' };

export const ALL_SERVICES: Services = { kind: 'roles', roles: new Set(ROLES) };

/**
 * Parses `SERVICES`: `all`, `gateway`, or a comma list of roles. Returns an error message for
 * anything else, so configuration can name the variable.
 */
export function parseServices(value: string): Services | string {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'all') return ALL_SERVICES;
  if (names.length === 1 && names[0] === 'gateway') return { kind: 'gateway' };
  if (!names.length) return 'must name at least one role';
  const unknown = names.filter((name) => !(ROLES as readonly string[]).includes(name));
  if (unknown.length) {
    return `unknown role ${unknown.map((n) => `"${n}"`).join(', ')} (use all, gateway or a comma list of ${ROLES.join(', ')})`;
  }
  return { kind: 'roles', roles: new Set(names as Role[]) };
}

/** The roles `/health/ready` reports, in a stable order. */
export function roleNames(services: Services): string[] {
  return services.kind === 'gateway' ? ['gateway'] : ROLES.filter((role) => services.roles.has(role));
}
