/**
 * passive_health.slow_after: a request still without response headers that long after it was
 * written to its connection counts as one passive failure, so a hung backend is seen from its real traffic instead
 * of only by probes. The late requests themselves are not failed: the flip re-sends them.
 * Answers that come, however slow, reset the streak, so one slow endpoint among fast ones
 * ejects nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { validateConfig } from '../src/config/index.js';
import type { Upstream } from './helpers/upstream.js';
import { startTwoSiteProxy, type TestProxy, type TwoSiteSetup, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { admin } from './helpers/admin.js';
import { parseExposition } from './helpers/prom.js';

const H = { host: 't.example.com' };
// Probes too slow to find anything during a test: what is found, real traffic found.
const SLOW_PROBES = { interval: '20s', timeout: '1s', rise: 1, fall: 1, jitter: 0 };

/** Tenant t on two one-backend sites (a1, b1) with slow probes and these defaults. */
function twoSiteProxy(defaults: Record<string, unknown>): Promise<TwoSiteSetup> {
  return startTwoSiteProxy({ health_check: SLOW_PROBES, ...defaults });
}

async function get(url: string): Promise<string> {
  const r = await request(url, { headers: H });
  await r.body.dump();
  return `${r.statusCode} ${String(r.headers['x-site'])}`;
}

describe('slow_after in the config', () => {
  it('is off by default, takes a duration, and must be shorter than response_timeout; slow_confirm is on by default and takes true or false', () => {
    const doc = (passive?: Record<string, unknown>) => ({
      tenants: { t: { ...twoSiteTenant('t.example.com', { url: 'http://127.0.0.1:1' }, { url: 'http://127.0.0.1:2' }), ...(passive && { passive_health: passive }), proxy: { response_timeout: '2s' } } },
    });
    expect(validateConfig(doc(), { baseDir: '/' }).config!.tenants[0]!.passive_health.slow_after).toBe(0);
    expect(validateConfig(doc({ slow_after: '300ms' }), { baseDir: '/' }).config!.tenants[0]!.passive_health.slow_after).toBe(300);
    expect(validateConfig(doc(), { baseDir: '/' }).config!.tenants[0]!.passive_health.slow_confirm).toBe(true);
    expect(validateConfig(doc({ slow_after: '300ms', slow_confirm: false }), { baseDir: '/' }).config!.tenants[0]!.passive_health.slow_confirm).toBe(false);
    const notBool = validateConfig(doc({ slow_confirm: 'yes' }), { baseDir: '/' });
    expect(notBool.problems).toContainEqual(expect.objectContaining({ path: 'tenants.t.passive_health.slow_confirm', severity: 'error' }));
    const bad = validateConfig(doc({ slow_after: '2s' }), { baseDir: '/' });
    expect(bad.config).toBeUndefined();
    expect(bad.problems).toContainEqual(expect.objectContaining({ path: 'tenants.t.passive_health', severity: 'error', message: expect.stringContaining('slow_after (2s) must be shorter than proxy.response_timeout (2s)') }));
  });
});

describe('a hung backend found by its real traffic', () => {
  let setup: TwoSiteSetup | undefined;
  let primary: Upstream, backup: Upstream;
  let p: TestProxy;

  beforeAll(async () => {
    setup = await twoSiteProxy({
      failover: { min_interval: '0s', hold_requests: '10s', drain_timeout: '2s' },
      // Slow answers eject on their own here (passive-slow-confirm.test.ts: with a probe).
      passive_health: { consecutive_failures: 3, slow_after: '200ms', slow_confirm: false },
      proxy: { response_timeout: '30s' },
    });
    ({ primary, backup, p } = setup);
  });

  afterAll(() => setup?.stop());

  it('slow requests among fast answers eject nothing, and are answered', async () => {
    const t = p.proxy.tenant('t')!;
    const slow = get(`${p.url}/slow?ms=700`);
    const slow2 = get(`${p.url}/slow?ms=700`);
    const a1 = t.site('a1')!.backends[0]!;
    await waitFor(() => a1.backend.calls.size === 2, { what: 'two slow calls in flight' });
    // Counted as slow (two, under consecutive_failures 3) …
    await waitFor(() => a1.backend.passiveFailures === 2, { what: 'the two late calls counted' });
    // … and a fast answer resets the streak.
    expect(await get(`${p.url}/fast`)).toBe('200 a1');
    expect(a1.backend.passiveFailures).toBe(0);
    expect(await Promise.all([slow, slow2])).toEqual(['200 a1', '200 a1']);
    expect(t.state!.active).toBe('a1');
    expect(a1.passive.ejectedUntil).toBe(0);
  });

  it('uploads that take longer than slow_after are not slow: the clock starts when the body is sent', async () => {
    const t = p.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    // Three at once (consecutive_failures is 3), each body trickling up for ~600 ms; the
    // upstream answers when the body ends.
    const upload = (i: number) =>
      request(`${p.url}/upload-${i}`, {
        method: 'POST',
        headers: H,
        body: Readable.from(
          (async function* () {
            for (let k = 0; k < 6; k++) {
              yield Buffer.from(`chunk ${k}\n`);
              await sleep(100);
            }
          })(),
        ),
      }).then(async (r) => {
        await r.body.dump();
        return `${r.statusCode} ${String(r.headers['x-site'])}`;
      });
    const started = performance.now();
    const answers = await Promise.all([0, 1, 2].map(upload));
    expect(performance.now() - started).toBeGreaterThan(500);
    expect(answers).toEqual(['200 a1', '200 a1', '200 a1']);
    expect(a1.backend.passiveFailures).toBe(0);
    expect(a1.passive.ejectedUntil).toBe(0);
    expect(t.state!.active).toBe('a1');
  });

  it('a SIGSTOPped primary is ejected from its unanswered requests and the tenant fails over; those requests are answered by the backup', async () => {
    const t = p.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    await primary.kill('SIGSTOP');
    try {
      const answers = Array.from({ length: 4 }, (_, i) => get(`${p.url}/hung-${i}`));
      // Within 5 s: neither the 30 s response_timeout nor the 20 s probes can have done it.
      await waitFor(() => t.state!.active === 'b1', { what: 'failover to b1', timeout: 5000 });
      expect(await Promise.all(answers)).toEqual(Array(4).fill('200 b1'));
      // Probes (every 20 s) had no part in it: the backend is still up for them.
      expect(a1.health.check.state).toBe('up');
      expect(a1.passive.ejectedUntil).toBeGreaterThan(0);
      const onBackup = (await backup.stats()).byPath;
      for (let i = 0; i < 4; i++) expect(onBackup[`/hung-${i}`]).toBe(1);
      // The ejection is counted with the failure that tripped it, and logged with it.
      const e = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
      expect(e.samples).toContainEqual({ name: 'drproxy_backend_ejections_total', labels: { tenant: 't', site: 'a1', kind: 'slow' }, value: 1 });
      expect(p.logs).toContainEqual(expect.objectContaining({ msg: 'backend ejected (passive health)', site: 'a1', kind: 'slow' }));
    } finally {
      await primary.kill('SIGCONT');
    }
  });
});

describe('requests queued for a free connection', () => {
  let setup: TwoSiteSetup | undefined;
  let p: TestProxy;

  beforeAll(async () => {
    setup = await twoSiteProxy({ passive_health: { consecutive_failures: 3, slow_after: '400ms' }, proxy: { max_connections: 1 } });
    ({ p } = setup);
  });

  afterAll(() => setup?.stop());

  it('are not slow while they wait in the queue: the clock starts when a request is written', async () => {
    const t = p.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    // One connection, six requests of 150 ms each: the last is answered ~900 ms after it was
    // dispatched, but each waits only ~150 ms on the backend once written.
    const answers = await Promise.all(Array.from({ length: 6 }, () => get(`${p.url}/slow?ms=150`)));
    expect(answers).toEqual(Array(6).fill('200 a1'));
    expect(a1.passive.ejectedUntil).toBe(0);
    expect(t.state!.active).toBe('a1');
  });
});
