/**
 * A backend as the data plane sees it: its keep-alive pool and its in-flight count. The
 * control plane decides whether it is routable; the data plane only counts and forwards.
 */
import { Pool } from 'undici';
import type { BackendConfig, ProxyConfig } from '../config/types.js';

export class Backend {
  readonly key: string;
  readonly name: string;
  readonly origin: string;
  readonly weight: number;
  /** host:port, sent as Host when the client's Host is not preserved. */
  readonly hostHeader: string;
  readonly pool: Pool;
  /** Requests forwarded and not yet finished. */
  outstanding = 0;
  private closed = false;

  constructor(
    readonly tenant: string,
    readonly site: string,
    cfg: BackendConfig,
    proxy: ProxyConfig,
  ) {
    this.key = `${tenant}/${site}/${cfg.name}`;
    this.name = cfg.name;
    this.origin = cfg.origin;
    this.weight = cfg.weight;
    this.hostHeader = new URL(cfg.origin).host;
    this.pool = new Pool(cfg.origin, {
      connections: proxy.max_connections,
      pipelining: 1,
      connectTimeout: proxy.connect_timeout,
      headersTimeout: proxy.response_timeout,
      bodyTimeout: proxy.body_timeout,
      keepAliveTimeout: proxy.keep_alive_timeout,
      keepAliveMaxTimeout: Math.max(proxy.keep_alive_timeout, 60_000),
      // Upstream responses are streamed to the client as they come; do not buffer ahead.
      strictContentLength: true,
    });
  }

  /** Close the pool once in-flight requests are done. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close().catch(() => {});
  }

  /** Cut every connection of this backend now, in-flight requests included. */
  async destroy(reason?: Error): Promise<void> {
    this.closed = true;
    await this.pool.destroy(reason ?? null).catch(() => {});
  }
}
