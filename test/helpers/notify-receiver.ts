/** A real HTTP receiver for notification tests (node:http on 127.0.0.1, a free port). */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stopAll } from './upstream.js';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** JSON bodies of the requests answered 2xx. */
  accepted: () => unknown[];
  close(): Promise<void>;
}

/** `answer(n, req)` decides the status of the n-th request (from 1); 200 by default; `hang` never answers. */
export async function startReceiver(answer: (n: number, r: Received, res: ServerResponse) => number | 'hang' = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const ok = new Set<Received>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(r);
      const status = answer(received.length, r, res);
      if (status === 'hang') return;
      if (status >= 200 && status < 300) ok.add(r);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ status: status < 300 ? 'success' : 'error' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    accepted: () => received.filter((r) => ok.has(r)).map((r) => JSON.parse(r.body) as unknown),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A notify test's teardown: its proxy, its receiver, the upstreams, the env variables its sinks read. */
export async function endNotifyTest(p: { stop(): Promise<void> } | undefined, rx: Receiver | undefined): Promise<void> {
  await p?.stop();
  await rx?.close();
  await stopAll();
  delete process.env.TEST_NOTIFY_URL;
  delete process.env.TEST_NOTIFY_SECRET;
}
