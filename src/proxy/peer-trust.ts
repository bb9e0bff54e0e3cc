/**
 * Which client connections may speak for someone else (server.trusted_proxies), decided once
 * per connection and kept on its socket, with the listener's header rules, as one of two shared
 * policy objects: a request costs one property read, never an address match.
 */
import { BlockList, type Socket } from 'node:net';
import { parseCidr } from '../config/cidr.js';
import { peerAddress, peerFamily } from './proxy-header-reader.js';

export interface ConnectionPolicy {
  /** The peer is a trusted proxy: its X-Forwarded-* and Forwarded headers are kept. */
  readonly trusted: boolean;
  /** Header names with underscores are passed upstream (server.underscores_in_headers). */
  readonly underscores: boolean;
}

const kPolicy = Symbol('drproxy.connectionPolicy');
type PolicySocket = Socket & { [kPolicy]?: ConnectionPolicy };

/** The strictest rules: for sockets no listener has seen (none in practice). */
const STRICT: ConnectionPolicy = Object.freeze({ trusted: false, underscores: false });

/** The policy of a request's connection. */
export function policyOf(socket: Socket): ConnectionPolicy {
  return (socket as PolicySocket)[kPolicy] ?? STRICT;
}

export class PeerTrust {
  private readonly list: BlockList | undefined;
  private readonly trustedPolicy: ConnectionPolicy;
  private readonly untrustedPolicy: ConnectionPolicy;

  /** `cidrs` were validated by the config loader. */
  constructor(cidrs: readonly string[], underscores: boolean) {
    if (cidrs.length > 0) {
      const list = new BlockList();
      for (const text of cidrs) {
        const c = parseCidr(text);
        if (typeof c === 'string') throw new TypeError(`trusted_proxies: ${c}: ${text}`);
        if (c.prefix === undefined) list.addAddress(c.address, c.family);
        else list.addSubnet(c.address, c.prefix, c.family);
      }
      this.list = list;
    }
    this.trustedPolicy = Object.freeze({ trusted: true, underscores });
    this.untrustedPolicy = Object.freeze({ trusted: false, underscores });
  }

  /** Decide a connection's policy on its first request; later requests find it set. */
  attach(socket: Socket): void {
    const s = socket as PolicySocket;
    if (s[kPolicy] === undefined) s[kPolicy] = this.isTrusted(socket) ? this.trustedPolicy : this.untrustedPolicy;
  }

  /**
   * Whether the connection's client may speak for others. Behind a PROXY protocol balancer it
   * is the client the header named (peerAddress): the balancer vouches for the address, not
   * for the X-Forwarded-* headers that client wrote; only a client that is itself a trusted
   * proxy (an L7 proxy behind the L4 balancer) has them believed.
   */
  isTrusted(socket: Socket): boolean {
    return this.trusts(peerAddress(socket), peerFamily(socket));
  }

  /** The TCP peer itself is listed: the one check a PROXY protocol header needs (proxy-header-reader.ts). */
  isTrustedPeer(socket: Socket): boolean {
    return this.trusts(socket.remoteAddress, socket.remoteFamily);
  }

  private trusts(address: string | undefined, family: string | undefined): boolean {
    if (this.list === undefined) return false;
    // IPv4-mapped IPv6 peers ("::ffff:10.0.0.1") match IPv4 blocks: BlockList maps them.
    return address !== undefined && this.list.check(address, family === 'IPv6' ? 'ipv6' : 'ipv4');
  }
}
