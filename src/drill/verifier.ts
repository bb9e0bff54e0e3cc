/**
 * A drill's verification through the data plane: synthetic requests to drproxy's own listener,
 * with the tenant's host and the configured path, until one is answered by the expected site
 * at the expected epoch (the backend echoes the site and epoch headers drproxy stamps on its
 * requests, or names its site in `served_by_header`), or until the timeout. The requests are
 * counted, so that they can be left out of the tenant's traffic figures.
 */
import { isIP } from 'node:net';
import { Pool } from 'undici';
import type { DrillVerifyConfig, HeaderNames } from '../config/types.js';

export interface VerifyExpect {
  site: string;
  epoch: number;
}

export interface VerifyOptions {
  /** The data plane's address; 0.0.0.0 and :: are reached on loopback. */
  address: string;
  port: number;
  /** A TLS listener: HTTPS with SNI = `host`, the certificate not checked (docs/drills.md). */
  tls?: boolean;
  host: string;
  verify: DrillVerifyConfig;
  headers: HeaderNames;
  now: () => number;
  /** Stops the verification early (the drill service stops). */
  signal?: AbortSignal;
}

export interface VerifyResult {
  verified: boolean;
  /** When the first verified answer arrived (epoch ms). */
  at?: number;
  attempts: number;
  /** Answers by status ("200", "503"), and "error" for requests that got none. */
  statuses: Record<string, number>;
  /** The last answer that did not verify, for the report. */
  last?: { status?: number; site?: string; epoch?: string; error?: string };
}

/** All the synthetic requests of one drill, by status class (1xx..5xx at 0..4). */
export class SyntheticCount {
  requests = 0;
  readonly byClass = new Float64Array(5);
  add(status: number): void {
    this.requests++;
    const i = ((status / 100) | 0) - 1;
    if (i >= 0 && i < 5) this.byClass[i]!++;
  }
}

/** 0.0.0.0 and :: listen everywhere: reach them on loopback. */
export function loopbackOf(address: string): string {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::' || address === '::0') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Does this answer come from the expected site at the expected epoch? */
export function answers(h: Record<string, string | string[] | undefined>, status: number, o: Pick<VerifyOptions, 'verify' | 'headers'>, want: VerifyExpect): boolean {
  if (status >= 500) return false;
  const epoch = header(h, o.headers.epoch);
  const served = o.verify.served_by_header;
  // With a served-by header, the site is what it names; an echoed epoch, when present, must match too.
  if (served !== undefined) return header(h, served) === want.site && (epoch === undefined || epoch === String(want.epoch));
  return header(h, o.headers.site) === want.site && epoch === String(want.epoch);
}

/** Send synthetic requests every `verify.interval` until one verifies or `verify.timeout` passes. */
export async function verifyThrough(o: VerifyOptions, want: VerifyExpect, count: SyntheticCount): Promise<VerifyResult> {
  const pool = new Pool(`${o.tls ? 'https' : 'http'}://${loopbackOf(o.address)}:${o.port}`, { connections: 2, pipelining: 1, ...(o.tls && { connect: tlsConnect(o.host) }) });
  const r: VerifyResult = { verified: false, attempts: 0, statuses: {} };
  const deadline = o.now() + o.verify.timeout;
  try {
    while (!o.signal?.aborted) {
      const left = deadline - o.now();
      if (left <= 0) break;
      const sentAt = o.now();
      r.attempts++;
      try {
        const res = await pool.request({ method: 'GET', path: o.verify.path, headers: { host: o.host, 'user-agent': 'drproxy-drill' }, signal: AbortSignal.timeout(left), headersTimeout: left, bodyTimeout: left });
        await res.body.dump();
        count.add(res.statusCode);
        r.statuses[res.statusCode] = (r.statuses[res.statusCode] ?? 0) + 1;
        if (answers(res.headers, res.statusCode, o, want)) {
          r.verified = true;
          r.at = o.now();
          break;
        }
        r.last = { status: res.statusCode, ...pick(res.headers, o) };
      } catch (err) {
        r.statuses.error = (r.statuses.error ?? 0) + 1;
        r.last = { error: (err as Error).message };
      }
      const wait = Math.min(o.verify.interval - (o.now() - sentAt), deadline - o.now());
      if (wait > 0) await new Promise((done) => setTimeout(done, wait));
    }
  } finally {
    await pool.close().catch(() => {});
  }
  return r;
}

/**
 * Over a TLS listener: SNI = the tenant's host (so that the Host/SNI check passes and the
 * tenant's own certificate is the one served). The certificate is not verified: drproxy talks
 * to itself on its own address to check routing; a private or self-signed certificate must not
 * fail a drill, and expiry has its own metric and alert (drproxy_tls_cert_expiry_seconds).
 */
function tlsConnect(host: string): { servername?: string; rejectUnauthorized: false } {
  // An IP address is never sent as SNI (RFC 6066 §3): the listener's default certificate then.
  return { ...(isIP(host) === 0 && { servername: host }), rejectUnauthorized: false };
}

function pick(h: Record<string, string | string[] | undefined>, o: Pick<VerifyOptions, 'verify' | 'headers'>): { site?: string; epoch?: string } {
  const site = header(h, o.verify.served_by_header ?? o.headers.site);
  const epoch = header(h, o.headers.epoch);
  return { ...(site !== undefined && { site }), ...(epoch !== undefined && { epoch }) };
}
