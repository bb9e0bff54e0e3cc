/**
 * The access log on a full disk (ENOSPC): requests are answered as fast as ever, the lines that
 * cannot be written are dropped and counted (drproxy_access_log_dropped_total,
 * drproxy_access_log_write_errors_total), nothing is thrown, and logging resumes by itself once
 * there is space again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/poll.js';
import { parseExposition, value } from '../helpers/prom.js';
import { SKIP_REASON, tmpfs } from '../helpers/tmpfs.js';

const fs = tmpfs('1m');
afterAll(() => fs.unmount());

describe.skipIf(!fs.mounted)(`access log on a full disk (${fs.mounted ? 'tmpfs' : SKIP_REASON})`, () => {
  let up: Upstream;
  let p: TestProxy;
  const file = join(fs.dir, 'access.log');

  beforeAll(async () => {
    up = await startUpstream('a');
    p = await startProxy({
      access_log: { mode: 'all', destination: file },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's1', backends: [up.url] }] } },
    });
    await waitFor(() => p.proxy.tenant('t')!.sites[0]!.health().available, { what: 'backend up' });
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(up);
  });

  const get = async (path: string): Promise<number> => {
    const r = await request(`${p.url}${path}`, { headers: { host: 't.example.com' }, headersTimeout: 2000, bodyTimeout: 2000 });
    await r.body.dump();
    return r.statusCode;
  };
  const logged = async (path: string): Promise<boolean> => existsSync(file) && (await readFile(file, 'utf8')).includes(`"path":"${path}"`);
  const counters = async () => {
    const e = parseExposition(await p.proxy.metrics.registry.metrics());
    return { dropped: value(e, 'drproxy_access_log_dropped_total') ?? 0, errors: value(e, 'drproxy_access_log_write_errors_total') ?? 0 };
  };

  it('drops and counts lines, never delays or fails a request, and resumes once there is space', async () => {
    expect(await get('/before')).toBe(200);
    await waitFor(() => logged('/before'), { what: 'the first line' });

    await fs.fill(0);
    // Enough lines (~400 bytes each) to fill any page left partly free.
    for (let i = 0; i < 300; i++) expect(await get(`/full${i}`)).toBe(200);
    const during = await waitFor(async () => {
      const c = await counters();
      return c.errors > 0 && c.dropped > 0 ? c : undefined;
    }, { what: 'dropped lines counted' });
    expect(during.dropped).toBeGreaterThan(0);

    await fs.unfill();
    // The destination is retried a second after its failure: poll with fresh requests.
    await waitFor(async () => (await get('/after')) === 200 && (await logged('/after')), { timeout: 15_000, interval: 200, what: 'logging to resume' });
  });
});
