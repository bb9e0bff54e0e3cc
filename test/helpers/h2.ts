/** HTTP/2 clients for tests: node:http2 sessions to a drproxy listener (TLS or h2c). */
import http2, { type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';

export interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
}

/** A session to 127.0.0.1:port: TLS with `servername` (any certificate accepted), or h2c when servername is null. */
export function h2connect(port: number, servername: string | null, opts: http2.SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const authority = servername === null ? `http://127.0.0.1:${port}` : `https://127.0.0.1:${port}`;
    const s = http2.connect(authority, { ...(servername !== null && { servername, rejectUnauthorized: false }), ...opts });
    s.once('connect', () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One request on a session; `:authority` defaults to the session's. */
export function h2request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    let out = '';
    let head: http2.IncomingHttpHeaders = {};
    req.setEncoding('utf8');
    req.on('response', (h) => (head = h));
    req.on('data', (d: string) => (out += d));
    req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: out }));
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}
