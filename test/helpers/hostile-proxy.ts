/**
 * drproxy in front of a capturing upstream, for the hostile-input suite: tenant `t` on host
 * t.example.com, one site, one backend that records every byte it receives.
 */
import { startCaptureUpstream, type CaptureUpstream } from './capture-upstream.js';
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
