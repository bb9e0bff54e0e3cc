/**
 * HTTP/2 clients for the rapid-reset tests (CVE-2023-44487): one that opens streams and cancels
 * each at once (HEADERS then RST_STREAM), and one that asks normally. Real sockets, node:http2.
 */
import http2, { type ClientHttp2Session } from 'node:http2';

const { NGHTTP2_CANCEL } = http2.constants;

export interface ResetRun {
  /** Streams opened (and cancelled) before the run ended or the server closed the connection. */
  opened: number;
  /** Error code of the server's GOAWAY, if one came. */
  goaway?: number;
  /** The server closed the connection (false: the run ended with the session still open). */
  closedByServer: boolean;
  session: ClientHttp2Session;
}

/** Open a session and wait for the server's SETTINGS. */
export async function h2Connect(url: string): Promise<ClientHttp2Session> {
  const session = http2.connect(url);
  session.on('error', () => {}); // a GOAWAY ENHANCE_YOUR_CALM ends it with an error: expected here
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('close', () => reject(new Error(`h2 session to ${url} closed before connecting`)));
  });
  return session;
}

/**
 * Open `count` streams, cancelling each right after its HEADERS, `perTurn` per event-loop turn
 * (the attack's shape: many HEADERS+RST pairs per TCP segment). Stops early when the server
 * sends GOAWAY or closes; resolves once the run is over (the session stays open unless the
 * server closed it: the caller closes it).
 */
export async function rapidResets(
  session: ClientHttp2Session,
  { count, perTurn = 100, path = '/', authority }: { count: number; perTurn?: number; path?: string; authority?: string },
): Promise<ResetRun> {
  const run: ResetRun = { opened: 0, closedByServer: false, session };
  session.on('goaway', (code: number) => {
    run.goaway ??= code;
  });
  const closed = new Promise<void>((resolve) => session.once('close', resolve));
  const headers = { ':path': path, ...(authority !== undefined && { ':authority': authority }) };
  const alive = () => !session.closed && !session.destroyed && run.goaway === undefined;
  await new Promise<void>((resolve) => {
    const turn = () => {
      for (let i = 0; i < perTurn && run.opened < count && alive(); i++) {
        try {
          const req = session.request(headers);
          req.on('error', () => {});
          req.close(NGHTTP2_CANCEL);
          run.opened++;
        } catch {
          break; // ERR_HTTP2_GOAWAY_SESSION / ERR_HTTP2_INVALID_SESSION: the server is closing it
        }
      }
      if (run.opened < count && alive()) setImmediate(turn);
      else resolve();
    };
    turn();
  });
  // The last RST frames must reach the server before the caller judges the session kept: they
  // are sent on the next turns (a stream is cancelled once it has an id), the PING after them.
  // Bounded: a Node client over TLS may not notice a server that reset the connection while
  // its own writes were queued (it stops reading); the caller then judges from the server side.
  await new Promise((resolve) => setImmediate(resolve));
  let bound: NodeJS.Timeout | undefined;
  await Promise.race([
    closed,
    new Promise<void>((resolve) => {
      if (alive()) session.ping(() => resolve());
    }),
    new Promise<void>((resolve) => (bound = setTimeout(resolve, 5_000))),
  ]);
  clearTimeout(bound);
  run.closedByServer = session.closed || session.destroyed;
  return run;
}

/** One GET on a session; resolves with the status and body. */
export function h2Get(session: ClientHttp2Session, path: string, authority?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ...(authority !== undefined && { ':authority': authority }) });
    let status = 0;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status, body }));
    req.on('error', reject);
  });
}

/** One HTTP/2 frame: 9-byte header (RFC 9113 §4.1) and payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/**
 * The attack as bytes, no client library: the preface, empty SETTINGS, then `pairs` HEADERS
 * (GET http://localhost/: HPACK static indexes 2, 6, 4 and :authority as a literal; nghttp2
 * refuses a request without it; END_STREAM|END_HEADERS) each followed by its
 * RST_STREAM(CANCEL), all in ONE write so that the server reads them together.
 */
export function rawResetBurst(pairs: number): Buffer {
  const parts = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(0x4, 0, 0, Buffer.alloc(0))];
  const block = Buffer.concat([Buffer.from([0x82, 0x86, 0x84, 0x01, 9]), Buffer.from('localhost', 'latin1')]);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
  for (let i = 0; i < pairs; i++) {
    const id = 2 * i + 1;
    parts.push(frame(0x1, 0x5, id, block), frame(0x3, 0, id, cancel));
  }
  return Buffer.concat(parts);
}

/** The error code of the first GOAWAY frame in what a server sent, if any. */
export function goawayCode(received: Buffer): number | undefined {
  for (let at = 0; at + 9 <= received.length; ) {
    const len = received.readUIntBE(at, 3);
    if (received[at + 3] === 0x7 && at + 9 + len <= received.length) return received.readUInt32BE(at + 9 + 4);
    at += 9 + len;
  }
  return undefined;
}
