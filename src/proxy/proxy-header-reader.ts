/**
 * The socket side of the PROXY protocol (docs/tls.md, "PROXY protocol"): on a listener with
 * `proxy_protocol: true` each accepted connection first has its header read, before Node's TLS
 * or HTTP code sees a byte. Only a peer in server.trusted_proxies may send one: any other is
 * closed at accept. A trusted peer that sends no valid header within server.headers_timeout,
 * or an invalid one, is closed. What follows the header in the same chunk is put back
 * (`unshift`) for Node's TLS wrap (initRead reads a socket's buffered bytes) or HTTP parser.
 *
 * The client the header names is kept on the socket and read through `peerAddress()`: the
 * one accessor for X-Forwarded-For, the access log, the trust of X-Forwarded-* headers and the
 * per-client connection cap. remoteAddress itself is left as it is (the balancer's).
 */
import type { Socket } from 'node:net';
import { parseProxyHeader, MAX_V1_LENGTH, MAX_V2_LENGTH, type ProxiedClient } from './proxy-protocol.js';
import { RefusalLog } from './refusal-log.js';
import type { Logger } from '../log.js';

export type ProxyRefusal = 'untrusted' | 'invalid' | 'timeout';

const kClient = Symbol('drproxy.proxiedClient');
type ProxiedSocket = Socket & { [kClient]?: ProxiedClient; _parent?: ProxiedSocket | null };

/** The client a PROXY header named for this connection (a TLSSocket looks at the TCP socket it wraps). */
export function proxiedClient(socket: Socket): ProxiedClient | undefined {
  const s = socket as ProxiedSocket;
  return s[kClient] ?? s._parent?.[kClient];
}

/** The connection's client: the PROXY header's, else the TCP peer. */
export function peerAddress(socket: Socket): string | undefined {
  return proxiedClient(socket)?.address ?? socket.remoteAddress;
}

/** The family of peerAddress() ('IPv4' / 'IPv6'). */
export function peerFamily(socket: Socket): string | undefined {
  return proxiedClient(socket)?.family ?? socket.remoteFamily;
}

/** Never more than this is buffered while waiting for a header. */
const MAX_HEADER = Math.max(MAX_V1_LENGTH, 16 + MAX_V2_LENGTH);
const LOG_WINDOW_MS = 10_000;

export interface ProxyHeaderOptions {
  /** The TCP peer is in server.trusted_proxies. */
  trusted(socket: Socket): boolean;
  /** server.headers_timeout: the header must be complete within it. */
  timeoutMs: number;
  log: Logger;
  /** Names the listener in logs. */
  listener: string;
}

/** Refusals by reason, for all PROXY protocol listeners (drproxy_proxy_protocol_refused_total). */
export const proxyProtocolRefused: Record<ProxyRefusal, number> = { untrusted: 0, invalid: 0, timeout: 0 };

export class ProxyHeaderReader {
  private readonly report: RefusalLog<ProxyRefusal>;

  constructor(private readonly opts: ProxyHeaderOptions) {
    this.report = new RefusalLog(opts.log, LOG_WINDOW_MS, `${opts.listener} (PROXY protocol)`);
  }

  /**
   * Read the header, then hand the socket on with the header's bytes gone (`next`). `plain`:
   * Node's HTTP server takes the socket, and it must be resumed; a TLS wrap must not be (its
   * TLSWrap reads the handle itself and takes the socket's buffered bytes at its first read;
   * resuming the wrapped socket stalls the handshake).
   */
  read(socket: Socket, plain: boolean, next: (socket: Socket) => void): void {
    socket.on('error', ignore);
    if (!this.opts.trusted(socket)) return this.refuse(socket, 'untrusted');
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => this.refuse(socket, 'timeout'), this.opts.timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', done);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = parseProxyHeader(buf.length > MAX_HEADER ? buf.subarray(0, MAX_HEADER) : buf);
      if (r.kind === 'more') return;
      done();
      if (r.kind === 'invalid') return this.refuse(socket, 'invalid', r.reason);
      // Paused first: an unshift into a flowing stream would emit the bytes to no listener.
      socket.pause();
      if (buf.length > r.length) socket.unshift(buf.subarray(r.length));
      if (r.client !== undefined) (socket as ProxiedSocket)[kClient] = r.client;
      socket.removeListener('error', ignore);
      next(socket);
      // Node's HTTP server does not resume a socket paused before it.
      if (plain && !socket.destroyed) socket.resume();
    };
    socket.on('data', onData);
    socket.once('close', done);
  }

  private refuse(socket: Socket, reason: ProxyRefusal, detail?: string): void {
    proxyProtocolRefused[reason]++;
    this.report.note(reason, detail === undefined ? (socket.remoteAddress ?? '?') : `${socket.remoteAddress ?? '?'} (${detail})`);
    // Nothing can be answered: before the header there is no protocol yet (TLS or HTTP).
    socket.destroy();
  }

  close(): void {
    this.report.close();
  }
}

function ignore(): void {}
