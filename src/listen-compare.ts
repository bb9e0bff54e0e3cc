/** Whether a reload changes what only a restart can change: listeners (`listen`, `admin.listen`, `admin.public_listen`), state, server, headers. */
import type { Config } from './config/types.js';

/** admin.public_listen is unchanged when both are absent, or both present and the same address. */
export function samePublicListen(old: { host: string; port: number } | undefined, next: { host: string; port: number } | undefined, bound: number | undefined): boolean {
  if (old === undefined || next === undefined) return old === next;
  return sameListen(old, next, bound);
}

/** The listener set is unchanged when each address (as sameListen) and its TLS settings are. */
export function sameListeners(old: Config['listeners'], next: Config['listeners'], bound: Array<number | undefined>): boolean {
  if (old.length !== next.length) return false;
  return old.every((o, i) => sameListen(o.address, next[i]!.address, bound[i]) && JSON.stringify(o.tls) === JSON.stringify(next[i]!.tls));
}

/** A listen address is unchanged when host and port match; port 0 matches the port it got. */
export function sameListen(old: { host: string; port: number }, next: { host: string; port: number }, bound: number | undefined): boolean {
  if (old.host !== next.host) return false;
  return old.port === next.port || (old.port === 0 && (next.port === bound || next.port === 0));
}


/** The ports listeners got (port 0 in the config matches the port it got). */
export interface BoundPorts {
  readonly listeners: Array<number | undefined>;
  readonly admin: number | undefined;
  readonly adminPublic: number | undefined;
}

/** What a reload from `old` to `next` would change that only a restart can: the config paths. */
export function restartOnlyChanges(old: Config, next: Config, bound: BoundPorts): string[] {
  const out: string[] = [];
  if (!sameListeners(old.listeners, next.listeners, bound.listeners)) out.push('listen');
  if (!sameListen(old.admin.listen, next.admin.listen, bound.admin)) out.push('admin.listen');
  if (!samePublicListen(old.admin.public_listen, next.admin.public_listen, bound.adminPublic)) out.push('admin.public_listen');
  if (JSON.stringify(old.state) !== JSON.stringify(next.state)) out.push('state');
  if (old.server.workers !== next.server.workers) out.push('server.workers');
  if (JSON.stringify(old.server) !== JSON.stringify(next.server)) out.push('server');
  if (JSON.stringify(old.headers) !== JSON.stringify(next.headers)) out.push('headers');
  return out;
}
