/**
 * A failing admin handler never ends the process: whatever a handler throws or rejects with
 * (an Error, a non-Error, an answer that cannot be serialised), and even a failure outside the
 * handlers (the token check itself), the call is answered 500 with a JSON body, logged and
 * counted in drproxy_admin_handler_errors_total, and the next call is served. The admin
 * server runs here against a stand-in AdminApi so that each failure can be provoked; vitest
 * fails the file on any unhandled rejection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { AdminServer } from '../src/admin/server.js';
import { AuditLog } from '../src/admin/audit.js';
import { TokenStore } from '../src/admin/auth.js';
import type { AdminApi } from '../src/admin/api.js';
import { DEFAULT_ADMIN_CONNECTIONS, DEFAULT_ADMIN_RATE_LIMIT } from '../src/config/defaults.js';
import type { AdminConfig } from '../src/config/types.js';
import { createLogger } from '../src/log.js';
import { FaultMetrics } from '../src/fault-metrics.js';
import { admin, VIEWER } from './helpers/admin.js';

const failures: Record<string, () => unknown> = {
  error: () => {
    throw new Error('boom');
  },
  nonError: () => {
    throw undefined; // eslint-disable-line no-throw-literal
  },
  rejected: () => Promise.reject(new TypeError('async boom')),
  unserialisable: () => ({ n: 1n }),
};
let mode = 'error';

const api: AdminApi = {
  tenant: () => undefined,
  status: () => failures[mode]!(),
  tenantStatus: () => ({}),
  ready: () => ({ ready: true, reasons: [] }),
  reload: () => Promise.reject(new Error('reload boom')),
  metricsText: () => Promise.resolve(''),
  metricsContentType: () => 'text/plain',
};

export function adminConfig(over: Partial<AdminConfig> = {}): AdminConfig {
  return { listen: { host: '127.0.0.1', port: 0 }, tokens: [], metrics_auth: false, allowed_hosts: [], rate_limit: { ...DEFAULT_ADMIN_RATE_LIMIT }, ...DEFAULT_ADMIN_CONNECTIONS, ...over };
}

let server: AdminServer;
let url: string;
const logs: Record<string, unknown>[] = [];
const registry = new Registry();
const faults = new FaultMetrics(registry);
let tokens: TokenStore;

beforeAll(async () => {
  const log = createLogger({ level: 'debug', destination: { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) } });
  tokens = TokenStore.load([{ name: 'grafana', role: 'viewer', token_env: 'T' }], { T: VIEWER }).tokens;
  server = new AdminServer(adminConfig(), api, tokens, new AuditLog(log), log, faults);
  url = `http://127.0.0.1:${(await server.listen()).port}`;
});

afterAll(() => server?.close());

async function handlerErrors(): Promise<number> {
  const m = await registry.getSingleMetric('drproxy_admin_handler_errors_total')!.get();
  return m.values.reduce((n, v) => n + v.value, 0);
}

describe('a failing admin handler', () => {
  for (const m of Object.keys(failures)) {
    it(`${m}: 500 with a JSON body, logged, counted; the next call is served`, async () => {
      mode = m;
      const before = await handlerErrors();
      const r = await admin(url, 'GET', '/status', { token: VIEWER });
      expect(r.status).toBe(500);
      expect(r.body).toMatchObject({ error: 'internal' });
      expect(await handlerErrors()).toBe(before + 1);
      expect(logs.some((l) => l.msg === 'admin status failed')).toBe(true);
      expect((await admin(url, 'GET', '/healthz')).status).toBe(200);
    });
  }

  it('a failure outside every handler (the token check) is answered 500 and counted too', async () => {
    const broken = Object.create(tokens) as TokenStore;
    broken.authenticate = () => {
      throw new Error('token store broken');
    };
    server.setTokens(broken);
    try {
      const before = await handlerErrors();
      const r = await admin(url, 'GET', '/status', { token: VIEWER });
      expect(r.status).toBe(500);
      expect(r.body).toMatchObject({ error: 'internal' });
      expect(await handlerErrors()).toBe(before + 1);
    } finally {
      server.setTokens(tokens);
    }
    expect((await admin(url, 'GET', '/status', { token: VIEWER })).status).toBe(500); // mode still failing, but served
  });
});
