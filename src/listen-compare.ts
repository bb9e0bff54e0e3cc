/** Whether a reload changes a listener (which needs a restart): `listen`, `admin.listen`, `admin.public_listen`. */
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

