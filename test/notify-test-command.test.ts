/**
 * `drproxy notify test SINK` (built CLI, as a child process) and POST /notify/test: operator
 * only; the answer is what the sink said (status and body, or the error); an unknown sink is 404.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll } from './helpers/upstream.js';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';

let p: TestProxy | undefined;
let rx: Receiver | undefined;
afterEach(async () => {
  await p?.stop();
  await rx?.close();
  await stopAll();
  for (const k of ['TEST_NOTIFY_URL', 'TEST_NOTIFY_DEAD', 'TEST_NOTIFY_SECRET']) delete process.env[k];
});

describe('notify test', () => {
  it('sends one test event and prints what the sink answered', async () => {
    rx = await startReceiver((_n, r) => (r.path === '/refuse' ? 410 : 200));
    Object.assign(process.env, { TEST_NOTIFY_URL: `${rx.url}/ok`, TEST_NOTIFY_DEAD: `${rx.url}/refuse`, TEST_NOTIFY_SECRET: 'k' });
    const up = await startUpstream('a1');
    p = await startProxy({
      admin: adminTokens(),
      tenants: { acme: { tier: 'BC', hosts: ['acme.test'], sites: [{ name: 'a1', backends: [up.url] }] } },
      notify: [
        { name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET' },
        { name: 'gone', kind: 'slack', url_env: 'TEST_NOTIFY_DEAD' },
      ],
    });
    expect((await admin(p.adminUrl, 'POST', '/notify/test', { token: VIEWER, body: { sink: 'hook' } })).status).toBe(403);
    const missing = await admin(p.adminUrl, 'POST', '/notify/test', { token: OPERATOR, body: { sink: 'nope' } });
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toContain('sinks: hook, gone');
    expect((await admin(p.adminUrl, 'POST', '/notify/test', { token: OPERATOR, body: {} })).status).toBe(400);

    const env = { DRPROXY_ADMIN: p.adminUrl, DRPROXY_TOKEN: OPERATOR };
    const ok = await runCli(['notify', 'test', 'hook'], env);
    expect(ok.stdout).toMatch(/^hook \(webhook\) accepted the test event: HTTP 200: \{"status":"success"\}/);
    expect(ok.code).toBe(0);
    expect(rx.received).toHaveLength(1);
    expect(rx.received[0]!.headers['x-drproxy-signature']).toBeDefined();
    expect(JSON.parse(rx.received[0]!.body).events[0].summary).toContain('sent by ops');

    const refused = await runCli(['notify', 'test', 'gone', '--json'], env);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ sink: 'gone', kind: 'slack', ok: false, status: 410 });
    expect((await runCli(['notify', 'test'], env)).code).toBe(2);
    // Audited as the operator's action.
    expect(p.logs.some((l) => l.audit === true && l.action === 'notify_test' && String(l.detail).includes('notify test hook: accepted'))).toBe(true);
  });
});
