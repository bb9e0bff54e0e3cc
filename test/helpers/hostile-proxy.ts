/**
 * drproxy in front of a capturing upstream, for the hostile-input suite: tenant `t` on host
 * t.example.com, one site, one backend that records every byte it receives.
 */
import { expect } from 'vitest';
import { startCaptureUpstream, type CaptureUpstream } from './capture-upstream.js';
import { rawExchange } from './raw-client.js';
import { startProxy, sitesHealthy, type TestProxy } from './proxy.js';

export const HOST = 't.example.com';

export interface HostileSetup {
  up: CaptureUpstream;
  p: TestProxy;
  stop(): Promise<void>;
}

/** `server` is the proxy's `server:` block. Probes are 30 s apart: the first one only, in practice. */
export async function startHostileProxy(server: Record<string, unknown> = {}): Promise<HostileSetup> {
  const up = await startCaptureUpstream();
  const p = await startProxy({
    server,
    defaults: { health_check: { interval: '30s', timeout: '1s' }, passive_health: { consecutive_failures: 0 } },
    tenants: { t: { tier: 'BC', hosts: [HOST, '*.wild.example.com'], sites: [{ name: 'a1', backends: [up.url] }] } },
  });
  await sitesHealthy(p, 't');
  return {
    up,
    p,
    async stop() {
      await p.stop();
      await up.close();
    },
  };
}

/**
 * Send `text` on its own connection and expect drproxy's own answer `status` (and error `code`),
 * the connection closed, and nothing at all at the upstream.
 */
export async function expectAnsweredAlone(h: HostileSetup, text: string, status: number, code?: string): Promise<void> {
  const r = await rawExchange(h.p.port, text, { waitClose: true });
  expect(r.responses[0]?.status).toBe(status);
  if (code !== undefined) expect(r.responses[0]!.headers['x-drproxy-error']).toBe(code);
  expect(r.closed).toBe(true);
  expect(h.up.requests).toEqual([]);
  expect(h.up.bytes()).toBe('');
}
