/** A fence/promote hook endpoint for tests: records calls, answers with a chosen status and delay. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HookServer {
  url: string;
  calls: Array<{ path: string; body: Record<string, unknown> }>;
  status: number;
  delayMs: number;
  close(): Promise<void>;
}

export async function startHookServer(status = 200, delayMs = 0): Promise<HookServer> {
  const hs: HookServer = { url: '', calls: [], status, delayMs, close: async () => {} };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      hs.calls.push({ path: req.url!, body: body ? (JSON.parse(body) as Record<string, unknown>) : {} });
      setTimeout(() => {
        res.writeHead(hs.status, { 'content-type': 'text/plain' });
        res.end('hook');
      }, hs.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hs.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hs.close = () => new Promise((r) => server.close(() => r()));
  return hs;
}
