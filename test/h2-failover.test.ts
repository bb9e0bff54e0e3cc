/**
 * A failover under HTTP/2 load (issue 22 item 3): 4 HTTP/2 connections with 20 concurrent
 * streams each keep sending idempotent GETs while the primary (a child process) is killed
 * with SIGKILL. No request fails: the ones in flight at the primary are retried or held
 * and re-dispatched to the backup as HTTP/1.1 requests are; answers then come from the backup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientHttp2Session } from 'node:http2';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { sitesHealthy, startProxy, tempDir, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { makeCert } from './helpers/certs.js';
import { h2connect, h2request } from './helpers/h2.js';
import { waitFor } from './helpers/poll.js';

const CONNECTIONS = 4;
const STREAMS = 20;

let primary: Upstream, backup: Upstream;
let p: TestProxy;
let port: number;

beforeAll(async () => {
  const dir = await tempDir('drproxy-h2f-');
  const cert = makeCert(dir, 'a', ['acme.example.com']);
  [primary, backup] = await Promise.all([startUpstream('a1-primary'), startUpstream('b1-standby')]);
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } }],
    defaults: { health_check: FAST_CHECKS, failover: { min_interval: '1s', hold_requests: '5s' }, proxy: { connect_timeout: '500ms' } },
    tenants: {
      acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1-primary', backends: [primary.url] }, { name: 'b1-standby', backends: [backup.url] }] },
    },
  });
  await sitesHealthy(p, 'acme');
  port = p.ports[0]!;
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('failover under HTTP/2 load', () => {
  it('loses no idempotent request; answers then come from the backup', async () => {
    const sessions: ClientHttp2Session[] = [];
    for (let i = 0; i < CONNECTIONS; i++) sessions.push(await h2connect(port, 'acme.example.com'));
    const bySite: Record<string, number> = {};
    const failed: string[] = [];
    let sent = 0;
    let stop = false;
    let backupAnswers = 0;
    const worker = async (s: ClientHttp2Session, n: number): Promise<void> => {
      while (!stop) {
        sent++;
        try {
          const r = await h2request(s, { ':path': `/w${n}`, ':authority': 'acme.example.com' });
          if (r.status !== 200) failed.push(`${r.status} ${r.body}`);
          else {
            const site = (JSON.parse(r.body) as { site: string }).site;
            bySite[site] = (bySite[site] ?? 0) + 1;
            if (site === 'b1-standby') backupAnswers++;
          }
        } catch (err) {
          failed.push((err as Error).message);
        }
      }
    };
    const load = sessions.flatMap((s) => Array.from({ length: STREAMS }, (_, i) => worker(s, i)));
    await waitFor(() => (bySite['a1-primary'] ?? 0) >= 200, { what: 'load on the primary' });
    await primary.kill('SIGKILL');
    await waitFor(() => backupAnswers >= 500, { what: 'answers from the backup', timeout: 20_000 });
    stop = true;
    await Promise.all(load);
    for (const s of sessions) s.close();
    expect(failed).toEqual([]);
    expect(bySite['b1-standby']).toBeGreaterThanOrEqual(500);
    expect(sent).toBe((bySite['a1-primary'] ?? 0) + bySite['b1-standby']!);
    expect(p.proxy.tenant('acme')!.flips.at(-1)).toMatchObject({ from: 'a1-primary', to: 'b1-standby' });
  });
});
