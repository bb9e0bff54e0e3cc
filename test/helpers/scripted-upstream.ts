/**
 * A raw `node:net` test upstream that answers each request with exact bytes, so that nothing
 * (no HTTP library) normalises a broken answer before drproxy sees it. Requests are parsed only
 * as far as the tests need: the head, then a Content-Length body. `GET /healthz` answers 200 so
 * that health checks pass; every other path runs the script registered for it, which writes
 * what it likes on the socket (and may reset it, hang, or keep it open for the next request).
 */
import net from 'node:net';

export interface ReceivedRequest {
  /** The request head as received (request line and header lines, no final blank line). */
  head: string;
  method: string;
  path: string;
  body: Buffer;
}

/** A script: answer `req` on `socket` (exact bytes), or do anything else with the socket. */
export type Script = (socket: net.Socket, req: ReceivedRequest) => void;

export interface ScriptedUpstream {
  port: number;
  url: string;
  /** Every request received on a scripted path, in order. */
  readonly received: ReceivedRequest[];
  /** Connections accepted so far. */
  connections(): number;
  on(path: string, script: Script): void;
  /** Also run `script` as soon as the head of a request for `path` is in, before its body. */
  onHead(path: string, script: (socket: net.Socket, head: string) => void): void;
  close(): Promise<void>;
}

const HEALTHY = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const scripts = new Map<string, Script>();
  const headScripts = new Map<string, (socket: net.Socket, head: string) => void>();
  const received: ReceivedRequest[] = [];
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let pending: { head: string; method: string; path: string; need: number } | undefined;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (pending === undefined) {
          const end = buf.indexOf('\r\n\r\n');
          if (end === -1) return;
          const head = buf.subarray(0, end).toString('latin1');
          buf = buf.subarray(end + 4);
          const [method = '', path = ''] = head.split('\r\n', 1)[0]!.split(' ');
          const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
          pending = { head, method, path, need: cl ? Number(cl[1]) : 0 };
          headScripts.get(path.split('?')[0]!)?.(socket, head);
        }
        if (buf.length < pending.need) return;
        const body = buf.subarray(0, pending.need);
        buf = buf.subarray(pending.need);
        const req: ReceivedRequest = { head: pending.head, method: pending.method, path: pending.path, body };
        pending = undefined;
        if (req.path === '/healthz') {
          socket.write(HEALTHY);
          continue;
        }
        received.push(req);
        const script = scripts.get(req.path.split('?')[0]!);
        if (script) script(socket, req);
        else socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nno script');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    connections: () => accepted,
    on(path, script) {
      scripts.set(path, script);
    },
    onHead(path, script) {
      headScripts.set(path, script);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
