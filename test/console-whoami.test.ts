/** GET /whoami (issue 21, item 2): the name and role of the token sent; 401 without a valid one. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';

const tenants = { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }] } };
let p: TestProxy;

beforeAll(async () => {
  p = await startProxy({ admin: adminTokens(), tenants });
});
afterAll(async () => {
  await p?.stop();
});

describe('GET /whoami', () => {
  it('a viewer token: its name and role', async () => {
    const r = await admin(p.adminUrl, 'GET', '/whoami', { token: VIEWER });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ name: 'grafana', role: 'viewer' });
  });

  it('an operator token: its name and role', async () => {
    const r = await admin(p.adminUrl, 'GET', '/whoami', { token: OPERATOR });
    expect(r.body).toEqual({ name: 'ops', role: 'operator' });
  });

  it('no token, or a wrong one: 401 with a JSON body', async () => {
    const none = await admin(p.adminUrl, 'GET', '/whoami');
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: 'unauthorized', detail: expect.stringMatching(/Bearer token is required/) });
    const wrong = await admin(p.adminUrl, 'GET', '/whoami', { token: 'not-a-token' });
    expect(wrong.status).toBe(401);
  });

  it('is audited as a read, with the actor', async () => {
    await admin(p.adminUrl, 'GET', '/whoami', { token: VIEWER });
    expect(p.logs.some((l) => l.audit === true && l.action === 'whoami' && l.actor === 'grafana' && l.result === 'ok')).toBe(true);
  });
});
