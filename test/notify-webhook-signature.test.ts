/**
 * The webhook signature verifies with the verification example in docs/notifications.md, run
 * as written against a real delivery; a changed body or an old timestamp is refused; and the
 * sink's URL and secret never reach the log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream } from './helpers/upstream.js';
import { endNotifyTest, startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';

interface Case {
  secret: string;
  header: unknown;
  body: string;
  now?: number;
}

/**
 * Runs the fenced block between the verify-example markers of docs/notifications.md, as written,
 * in a plain `node` (not through the test runner's module loader) on each case; its answers.
 */
async function docExample(cases: Case[]): Promise<boolean[]> {
  const doc = await readFile(new URL('../docs/notifications.md', import.meta.url), 'utf8');
  const m = /<!-- verify-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- verify-example:end -->/.exec(doc);
  expect(m, 'docs/notifications.md has the verify-example block').not.toBeNull();
  const driver = `\nconst cases = JSON.parse(process.env.CASES);\nconsole.log(JSON.stringify(cases.map((c) => verifyDrproxySignature(c.secret, c.header, c.body, c.now))));\n`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', m![1]! + driver], { env: { CASES: JSON.stringify(cases) }, encoding: 'utf8' });
  return JSON.parse(out) as boolean[];
}

let p: TestProxy | undefined;
let rx: Receiver | undefined;
afterEach(() => endNotifyTest(p, rx));

describe('webhook signature', () => {
  it('verifies with the documented example; a changed body or a replay older than 5 minutes does not', async () => {
    rx = await startReceiver();
    const secret = 'whsec-4f1c2a-notify-test';
    process.env.TEST_NOTIFY_URL = `${rx.url}/hooks/secret-path-token`;
    process.env.TEST_NOTIFY_SECRET = secret;
    const up = await startUpstream('a1');
    p = await startProxy({
      tenants: { acme: { tier: 'BC', hosts: ['acme.test'], sites: [{ name: 'a1', backends: [up.url] }, { name: 'b1', backends: [up.url] }] } },
      notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', coalesce: '20ms', retries: 2, retry_base: '10ms' }],
    });
    p.proxy.notifier.emit({ kind: 'frozen', at: Date.now(), severity: 'critical', summary: 'acme is frozen', tenant: 'acme', dedup_key: 'frozen:acme' });
    const r = await waitFor(() => rx!.received[0], { what: 'a delivery' });
    expect(r.path).toBe('/hooks/secret-path-token');
    expect(r.headers['content-type']).toBe('application/json');
    const header = r.headers['x-drproxy-signature'];
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect((JSON.parse(r.body) as { events: Array<{ kind: string; tenant: string }> }).events).toMatchObject([{ kind: 'frozen', tenant: 'acme' }]);
    // As delivered: valid; tampered, wrong key, replayed 6 minutes later, unsigned: refused.
    const results = await docExample([
      { secret, header, body: r.body },
      { secret, header, body: r.body.replace('acme', 'acmf') },
      { secret: 'another-secret', header, body: r.body },
      { secret, header, body: r.body, now: Date.now() + 6 * 60_000 },
      { secret, header: undefined, body: r.body },
    ]);
    expect(results).toEqual([true, false, false, false, false]);
    // Secrets never logged, even when a delivery fails.
    await rx.close();
    p.proxy.notifier.emit({ kind: 'recovered', at: Date.now(), severity: 'resolved', summary: 'acme recovered', tenant: 'acme' });
    await waitFor(() => p!.logs.find((l) => l.event === 'notification_given_up'), { what: 'the give-up line' });
    const text = JSON.stringify(p.logs);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('secret-path-token');
  });
});
