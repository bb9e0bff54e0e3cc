/**
 * The CLI's --json output follows one convention whatever the admin API's parts use: snake_case
 * keys (nested objects too: flip records, timings, drain results), instants as ISO 8601 strings,
 * durations in milliseconds (`*_ms`) with at most two decimals. The built CLI runs against a
 * real drproxy, through a failover so that flip records, timings and drain results are present.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { FAST_CHECKS, startProxy, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { runCli } from './helpers/cli.js';
import { cliJson } from '../src/cli-json.js';

const OPERATOR = `op-${randomBytes(16).toString('hex')}`;
process.env.DRP_TEST_JSON_OPERATOR = OPERATOR;

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Every convention breach in a parsed --json answer, as "path: what"; empty when it follows them all. */
function breaches(v: unknown, at = '$'): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => breaches(x, `${at}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  const out: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const here = `${at}.${k}`;
    if (!/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/.test(k)) out.push(`${here}: key not snake_case`);
    if (k.endsWith('_seconds')) out.push(`${here}: a duration in seconds (want *_ms)`);
    if (k.endsWith('_at') && x !== null && !(typeof x === 'string' && ISO.test(x))) out.push(`${here}: instant ${JSON.stringify(x)} is not ISO 8601`);
    if (k.endsWith('_ms') && !(typeof x === 'number' && /^\d+(\.\d{1,2})?$/.test(String(x)))) out.push(`${here}: duration ${JSON.stringify(x)} is not ms with at most two decimals`);
    out.push(...breaches(x, here));
  }
  return out;
}

describe('--json output: one naming style, one time format, durations in ms', () => {
  let a1: Upstream | undefined, b1: Upstream | undefined;
  let p: TestProxy | undefined;
  const op = (...args: string[]) => runCli([...args, '--json', '--admin', p!.adminUrl, '--token', OPERATOR]);

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({
      admin: { tokens: [{ name: 'ops', role: 'operator', token_env: 'DRP_TEST_JSON_OPERATOR' }] },
      defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s', drain_timeout: '1s' } },
      tenants: {
        acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] },
      },
    });
    const t = p.proxy.tenant('acme')!;
    await waitFor(() => t.sites.every((s) => s.backends.every((b) => b.health.check.state === 'up')), { what: 'all backends up' });
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(a1, b1);
  });

  it('failover --json: snake_case keys, ISO 8601 timings, ms durations', async () => {
    const r = await op('failover', 'acme', '--to', 'b1', '--reason', 'json drill');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown> & { timings: Record<string, unknown> };
    expect(breaches(j)).toEqual([]);
    expect(j).toMatchObject({ tenant: 'acme', from: 'a1', to: 'b1', result: 'routed', rto_ms: 900_000 });
    expect(j.timings.routed_at).toMatch(ISO);
    expect(j.duration_ms).toBeTypeOf('number');
  });

  it('status TENANT --json: the flip records are reshaped too', async () => {
    const r = await op('status', 'acme');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { flips: Array<Record<string, unknown>>; updated_at: unknown };
    expect(breaches(j)).toEqual([]);
    const flip = j.flips.at(-1)!;
    expect(flip).toMatchObject({ to: 'b1', reason: 'json drill', actor: 'ops', rto_ms: 900_000 });
    expect(Object.keys(flip)).toContain('duration_ms');
    expect((flip.timings as Record<string, unknown>).detected_at).toMatch(ISO);
    expect(j.updated_at).toMatch(ISO);
  });

  it('status --json and an error answer follow the same convention', async () => {
    const s = await op('status');
    expect(s.code).toBe(0);
    const j = JSON.parse(s.stdout) as Record<string, unknown> & { config: Record<string, unknown> };
    expect(breaches(j)).toEqual([]);
    expect(j.uptime_ms).toBeTypeOf('number');
    expect(j.config.loaded_at).toMatch(ISO);
    const e = await op('failover', 'nobody', '--reason', 'x');
    expect(e.code).toBe(1);
    expect(breaches(JSON.parse(e.stdout))).toEqual([]);
  });

  it('float noise never reaches the output', () => {
    const j = cliJson({ durationMs: 12.340000000001, rto_seconds: 0.1 + 0.2, rto_ratio: 0.1 + 0.2, timings: { routedAt: 1_700_000_000_000 } });
    expect(JSON.stringify(j)).toBe('{"duration_ms":12.34,"rto_ms":300,"rto_ratio":0.3,"timings":{"routed_at":"2023-11-14T22:13:20.000Z"}}');
  });
});
