/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, v1 text and v2 binary) read from the
 * bytes a connection sent so far: pure, no sockets (proxy-header-reader.ts does the socket
 * side). Incremental: given a prefix it answers 'more' until it can say `header` or `invalid`,
 * never reading past a fixed bound (v1: 107 bytes; v2: 16 + MAX_V2_LENGTH).
 *
 * Our own ~150 lines rather than an npm parser: none is in the dependency tree, and the ones
 * published (proxy-protocol-js, @balena/proxy-protocol-parser) parse a complete buffer and throw
 * on a prefix, so a socket reader would still have to find the header's end itself, which is
 * most of the work (README, dependencies).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The client the load balancer speaks for; absent for LOCAL (health checks) and UNKNOWN. */
export interface ProxiedClient {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

export type ProxyParse =
  | { kind: 'more' }
  | { kind: 'header'; /** Bytes the header took: what follows is the client's. */ length: number; client: ProxiedClient | undefined }
  | { kind: 'invalid'; reason: string };

/** v1: "PROXY " ... "\r\n" in at most 107 bytes (the specification's bound). */
export const MAX_V1_LENGTH = 107;
/** v2: addresses (at most 216 for AF_UNIX) plus TLVs; more than this is refused, not buffered. */
export const MAX_V2_LENGTH = 1024;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const MORE: ProxyParse = Object.freeze({ kind: 'more' });

/** What the bytes so far say. */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return MORE;
  if (buf[0] === V2_SIGNATURE[0]) {
    const n = Math.min(buf.length, V2_SIGNATURE.length);
    if (!buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return invalid('not a PROXY protocol v2 signature');
    return buf.length < 16 ? MORE : parseV2(buf);
  }
  const n = Math.min(buf.length, V1_PREFIX.length);
  if (!buf.subarray(0, n).equals(V1_PREFIX.subarray(0, n))) return invalid('no PROXY protocol header (neither v1 "PROXY " nor the v2 signature)');
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end === -1 || end + 2 > MAX_V1_LENGTH) {
    return buf.length >= MAX_V1_LENGTH ? invalid(`v1 header longer than ${MAX_V1_LENGTH} bytes`) : MORE;
  }
  return parseV1(buf.toString('latin1', V1_PREFIX.length, end), end + 2);
}

function invalid(reason: string): ProxyParse {
  return { kind: 'invalid', reason };
}

/** "TCP4 src dst sport dport", single spaces, or "UNKNOWN" followed by anything. */
function parseV1(line: string, length: number): ProxyParse {
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) return { kind: 'header', length, client: undefined };
  const parts = line.split(' ');
  if (parts.length !== 5) return invalid('v1 header must be "PROXY TCP4|TCP6 src dst sport dport"');
  const [proto, src, dst, sport, dport] = parts as [string, string, string, string, string];
  const valid = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : undefined;
  if (valid === undefined) return invalid(`v1 protocol must be TCP4, TCP6 or UNKNOWN, not ${JSON.stringify(proto.slice(0, 16))}`);
  if (!valid(src) || !valid(dst)) return invalid(`v1 ${proto} addresses are not valid ${proto === 'TCP4' ? 'IPv4' : 'IPv6'} addresses`);
  const port = v1Port(sport);
  if (port === undefined || v1Port(dport) === undefined) return invalid('v1 ports must be decimal 0..65535 without leading zeros');
  return { kind: 'header', length, client: { address: src, port, family: proto === 'TCP4' ? 'IPv4' : 'IPv6' } };
}

function v1Port(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** buf has at least the 16-byte fixed part and a valid signature. */
function parseV2(buf: Buffer): ProxyParse {
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return invalid(`v2 version must be 2, not ${verCmd >> 4}`);
  const command = verCmd & 0x0f;
  if (command > 1) return invalid(`v2 command must be LOCAL or PROXY, not ${command}`);
  const famProto = buf[13]!;
  const len = buf.readUInt16BE(14);
  if (len > MAX_V2_LENGTH) return invalid(`v2 header announces ${len} bytes, more than ${MAX_V2_LENGTH}`);
  if (buf.length < 16 + len) return MORE;
  const length = 16 + len;
  // LOCAL: the balancer's own connection (health check); the addresses, if any, are ignored.
  if (command === 0) return { kind: 'header', length, client: undefined };
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  if (transport > 2) return invalid(`v2 transport must be UNSPEC, STREAM or DGRAM, not ${transport}`);
  if (family === 0x1) {
    if (len < 12) return invalid('v2 AF_INET addresses need 12 bytes');
    const address = `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`;
    return { kind: 'header', length, client: { address, port: buf.readUInt16BE(24), family: 'IPv4' } };
  }
  if (family === 0x2) {
    if (len < 36) return invalid('v2 AF_INET6 addresses need 36 bytes');
    return { kind: 'header', length, client: { address: ipv6(buf, 16), port: buf.readUInt16BE(48), family: 'IPv6' } };
  }
  // AF_UNSPEC and AF_UNIX: no IP to speak of; the connection is served with the real peer.
  if (family === 0x0 || family === 0x3) return { kind: 'header', length, client: undefined };
  return invalid(`v2 address family must be UNSPEC, INET, INET6 or UNIX, not ${family}`);
}

/** 16 bytes as the compressed text form Node uses for remoteAddress (net.SocketAddress). */
function ipv6(buf: Buffer, at: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + 2 * i));
  // An IPv4-mapped address is written as Node writes it, ::ffff:a.b.c.d.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
  }
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best === -1) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
