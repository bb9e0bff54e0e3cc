/**
 * A fence/promote hook endpoint for tests: records calls, answers with a chosen status and delay.
 * The readiness monitor's `check` calls are answered the same way but recorded apart (`checks`),
 * so that `calls` holds only the fences and promotes a test is about.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HookServer {
  url: string;
  port: number;
  calls: Array<{ path: string; body: Record<string, unknown> }>;
  checks: Array<{ path: string; body: Record<string, unknown> }>;
  status: number;
  delayMs: number;
  /** Calls being answered now, and the most there ever were at once. */
  inflight: number;
  maxInflight: number;
  close(): Promise<void>;
}

/** `port`: listen on this one (a hook that comes back where it was); a free one by default. */
export async function startHookServer(status = 200, delayMs = 0, port = 0): Promise<HookServer> {
  const hs: HookServer = { url: '', port: 0, calls: [], checks: [], status, delayMs, inflight: 0, maxInflight: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    let body = '';
    hs.maxInflight = Math.max(hs.maxInflight, ++hs.inflight);
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const call = { path: req.url!, body: body ? (JSON.parse(body) as Record<string, unknown>) : {} };
      (call.body.action === 'check' ? hs.checks : hs.calls).push(call);
      setTimeout(() => {
        hs.inflight--;
        res.writeHead(hs.status, { 'content-type': 'text/plain' });
        res.end('hook');
      }, hs.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  hs.port = (server.address() as AddressInfo).port;
  hs.url = `http://127.0.0.1:${hs.port}`;
  hs.close = () =>
    new Promise((r) => {
      server.close(() => r());
      // A hook that goes away drops its keep-alive connections too.
      server.closeAllConnections();
    });
  return hs;
}
