/**
 * The public admin listener (admin.public_listen) faces the network, so it is tried with raw
 * bytes: no spelling of a request target (absolute-form, dot segments, doubled slashes,
 * escapes, a query, another method, a body with Expect: 100-continue) reaches anything but
 * /healthz, /readyz and /metrics, and the failover the POSTs ask for never happens (the epoch
 * stays 1). Its connections are capped like the admin listener's, by a guard of its own: idle
 * sockets from one address on the public port get the raw 503 past
 * admin.max_connections_per_client, while another address's probes there, and the loopback
 * admin listener, keep answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminTokens, OPERATOR } from '../helpers/admin.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { rawRequest } from '../helpers/raw.js';
import { connectTracked, destroyAll, openMany, parseAnswer, type Tracked } from '../helpers/sockets.js';
import { waitFor } from '../helpers/poll.js';

const TENANTS = {
  t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:39998'] }, { name: 'b1', backends: ['http://127.0.0.1:39999'] }] },
};
const PER_CLIENT = 4;

let p: TestProxy;
let pub: number;
const open: Tracked[] = [];

beforeAll(async () => {
  p = await startProxy({ admin: { ...adminTokens(), public_listen: '127.0.0.1:0', max_connections_per_client: PER_CLIENT } , tenants: TENANTS });
  pub = p.proxy.admin!.public!.address().port;
});
afterAll(async () => {
  destroyAll(open);
  await p?.stop();
});

function statusOf(raw: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
}

describe('public admin listener, hostile requests', () => {
  it('no request-target spelling reaches /status, /tenants or a mutation', async () => {
    const auth = `Authorization: Bearer ${OPERATOR}\r\n`;
    const targets = [
      'http://127.0.0.1/status',
      '/healthz/../status',
      '/metrics/../tenants/t',
      '//status',
      '/status/',
      '/%73tatus',
      '/status?x=1',
      '/tenants/t?',
      '/tenants/%74',
      '/healthz%2F..%2Fstatus',
      '*',
    ];
    for (const target of targets) {
      const raw = await rawRequest(pub, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Connection: close\r\n\r\n`);
      expect([400, 404], `GET ${target}: ${raw.slice(0, 80)}`).toContain(statusOf(raw));
      expect(raw, target).not.toContain('"tenants"');
    }
    const body = JSON.stringify({ reason: 'hostile', force: true });
    for (const [method, target, extra] of [
      ['POST', '/tenants/t/failover', ''],
      ['POST', '/tenants/t/failover', 'Expect: 100-continue\r\n'],
      ['POST', 'http://127.0.0.1/tenants/t/failover', ''],
      ['PUT', '/tenants/t/failover', ''],
      ['POST', '/healthz/../tenants/t/failover', ''],
      ['POST', '/reload', ''],
    ] as const) {
      const raw = await rawRequest(
        pub,
        `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}${extra}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${extra ? '' : body}`,
      );
      expect(statusOf(raw), `${method} ${target}`).toBe(404);
      expect(parseAnswer(raw).body).toContain('"error": "not_found"');
      expect(raw).not.toMatch(/^HTTP\/1\.1 100/);
    }
    expect(p.proxy.tenant('t')!.state.epoch).toBe(1);
    expect(p.proxy.tenant('t')!.state.active).toBe('a1');
    const head = await rawRequest(pub, 'HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(statusOf(head)).toBe(200);
  });

  it('caps connections per address on the public port; other addresses and the admin listener still answer', async () => {
    const idle = await openMany(pub, PER_CLIENT + 3, { localAddress: '127.0.0.2' });
    open.push(...idle);
    await waitFor(() => idle.filter((t) => t.data.startsWith('HTTP/1.1 503 ')).length === 3, { what: 'three refused sockets' });
    const probe = await connectTracked(pub, { localAddress: '127.0.0.3' });
    open.push(probe);
    probe.socket.write('GET /readyz HTTP/1.1\r\nHost: 10.0.0.1\r\nConnection: close\r\n\r\n');
    await probe.closed;
    expect(parseAnswer(probe.data).status).toBe(200);
    const m = await rawRequest(Number(new URL(p.adminUrl).port), 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(statusOf(m)).toBe(200);
    expect(m).toMatch(/^drproxy_admin_connections_refused_total\{reason="max_connections_per_client"\} 3$/m);
    destroyAll(idle);
  });
});
