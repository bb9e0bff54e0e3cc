/**
 * A test upstream that records exactly what it receives: a raw TCP front (node:net) logs every
 * byte of every connection, then hands the bytes to a plain Node HTTP server behind it, which
 * answers each request with what it parsed (JSON) and records whether the request completed.
 * Health-check connections (their first bytes are "GET /healthz") are kept apart, so that
 * `bytes()` is only what proxied traffic delivered. In-process: no child to kill.
 */
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface SeenRequest {
  method: string;
  url: string;
  httpVersion: string;
  /** Exactly as parsed: [name, value, name, value, ...] in arrival order. */
  rawHeaders: string[];
  /** Lower-cased name → values, every occurrence kept. */
  headers: Record<string, string[]>;
  body: string;
  /** The whole request arrived (false: its connection went away mid-request). */
  complete: boolean;
}

export interface CaptureUpstream {
  url: string;
  port: number;
  /** Requests parsed so far (health checks excluded). */
  requests: SeenRequest[];
  /** Every byte proxied connections delivered since `mark()` (latin1), in arrival order. */
  bytes(): string;
  /** Forget what was received so far (call at the start of each test). */
  mark(): void;
  close(): Promise<void>;
}

function seen(req: IncomingMessage, body: string, complete: boolean): SeenRequest {
  const headers: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) (headers[req.rawHeaders[i]!.toLowerCase()] ??= []).push(req.rawHeaders[i + 1]!);
  return { method: req.method!, url: req.url!, httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, headers, body, complete };
}

export async function startCaptureUpstream(): Promise<CaptureUpstream> {
  const requests: SeenRequest[] = [];
  // No limits of its own: it must show what drproxy let through, not cut it.
  const inner = http.createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    if (req.url === '/healthz') {
      res.end('ok');
      return;
    }
    let body = '';
    let done = false;
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      done = true;
      const s = seen(req, body, true);
      requests.push(s);
      const text = JSON.stringify(s);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    req.on('close', () => {
      if (!done) requests.push(seen(req, body, false));
    });
  });
  inner.keepAliveTimeout = 30_000;
  inner.maxHeadersCount = 0;
  const wss = new WebSocketServer({ noServer: true });
  inner.on('upgrade', (req, socket, head) => {
    requests.push(seen(req, '', true));
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(`echo:${d.toString()}`)));
  });
  await new Promise<void>((r) => inner.listen(0, '127.0.0.1', r));
  const innerPort = (inner.address() as AddressInfo).port;

  let log: string[] = [];
  const sockets = new Set<net.Socket>();
  const front = net.createServer((client) => {
    sockets.add(client);
    const back = net.connect(innerPort, '127.0.0.1');
    sockets.add(back);
    let first = true;
    let health = false;
    client.on('data', (d) => {
      const text = d.toString('latin1');
      if (first) health = text.startsWith('GET /healthz');
      first = false;
      if (!health) log.push(text);
      back.write(d);
    });
    back.pipe(client);
    const end = () => {
      client.destroy();
      back.destroy();
      sockets.delete(client);
      sockets.delete(back);
    };
    client.on('close', end);
    back.on('close', end);
    client.on('error', end);
    back.on('error', end);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    bytes: () => log.join(''),
    mark() {
      log = [];
      requests.length = 0;
    },
    async close() {
      for (const s of sockets) s.destroy();
      wss.close();
      inner.closeAllConnections();
      await Promise.all([new Promise((r) => front.close(r)), new Promise((r) => inner.close(r))]);
    },
  };
}
