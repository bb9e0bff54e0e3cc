/**
 * "10.0.0.0/8", "fd00::/8" or a single address ("192.0.2.7", "::1") as net.BlockList takes it.
 * Only the text is parsed here; matching is left to net.BlockList.
 */
import { isIP } from 'node:net';

export interface Cidr {
  address: string;
  /** Prefix length; undefined for a single address. */
  prefix?: number;
  family: 'ipv4' | 'ipv6';
}

/** The parsed block, or what is wrong with the text. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return 'not an IP address or CIDR block (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)';
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (slash === -1) return { address, family };
  const bits = text.slice(slash + 1);
  const max = version === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `prefix length must be 0 to ${max}`;
  return { address, prefix: Number(bits), family };
}
