/**
 * h2c with prior knowledge (RFC 9113 §3.3) on a plain listener with `h2c: true`: a new
 * connection whose first bytes are the HTTP/2 client preface goes to the HTTP/2 server
 * (h2-front.ts), any other to Node's HTTP/1.1 handler unchanged. Only such listeners read
 * ahead; the others are untouched. h2c by `Upgrade: h2c` stays refused (upgrade-policy.ts).
 *
 * The bytes read ahead are put back (unshift) before the socket is handed on: Node's HTTP/1.1
 * parser reads them from the stream, and an HTTP/2 session takes what the socket already
 * buffered. A client that sends nothing is closed after server.headers_timeout, as Node closes
 * a silent HTTP/1.1 client.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Put the preface check in front of a plain server's connection handler. Call it before
 * anything that wraps the 'connection' listeners (connection-guard.ts), and after a PROXY
 * protocol header is read (the preface follows that header).
 */
export function installH2cPreface(server: http.Server, toH2: (socket: Socket) => void, silentMs: number): void {
  const http1 = server.listeners('connection') as Array<(this: http.Server, socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    const toHttp1 = (): void => {
      for (const h of http1) h.call(server, socket);
      // Node's HTTP/1.1 handler reads new bytes from the handle itself; the ones read ahead
      // wait in the stream's buffer and flow to its parser once the socket flows again.
      socket.resume();
    };
    sniff(socket, silentMs, (h2) => {
      if (h2) toH2(socket);
      else toHttp1();
    });
  });
}

/** Read until the bytes so far are the preface (true) or cannot be (false). */
function sniff(socket: Socket, silentMs: number, done: (h2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const onError = (): void => {
    socket.destroy();
  };
  const finish = (h2: boolean): void => {
    socket.removeListener('data', onData);
    socket.removeListener('error', onError);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(seen);
    done(h2);
  };
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    if (seen.compare(PREFACE, 0, n, 0, n) !== 0) finish(false);
    else if (n === PREFACE.length) finish(true);
  };
  socket.on('error', onError);
  socket.on('data', onData);
  if (silentMs > 0) socket.setTimeout(silentMs, () => socket.destroy());
}
