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
