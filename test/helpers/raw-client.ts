/**
 * A raw HTTP/1.x client on node:net for hostile-input tests: sends bytes exactly as given (in
 * parts, optionally paced), parses the answers it gets without normalising anything, and
 * reports whether the server closed the connection.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** The status line, e.g. "HTTP/1.1 400 Bad Request". */
  statusLine: string;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** Every byte received (latin1). */
  raw: string;
  responses: RawResponse[];
  /** The server closed (or reset) the connection before the deadline. */
  closed: boolean;
  /** Milliseconds from the first byte sent until the connection closed (or the deadline). */
  elapsedMs: number;
}

export interface RawOptions {
  /** Stop once this many complete responses are in (default 1); Infinity: wait for close. */
  responses?: number;
  /** After the responses are in, wait for the server to close the connection (default false). */
  waitClose?: boolean;
  /** Give up after this long (default 5000 ms). */
  timeout?: number;
  /** Delay between parts (default 0: all at once, in one write each). */
  gapMs?: number;
  /** Local address to connect from (127.0.0.2, ...). */
  localAddress?: string;
}

/** Complete responses at the start of `raw` (Content-Length, chunked, or bodiless statuses). */
export function parseResponses(raw: string, closed: boolean): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = raw.indexOf('\r\n\r\n', at);
    if (headEnd === -1) return out;
    const lines = raw.slice(at, headEnd).split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = headEnd + 4;
    let body: string;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      body = '';
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (raw.length < bodyStart + n) return out;
      body = raw.slice(bodyStart, bodyStart + n);
      bodyStart += n;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      body = '';
      let p = bodyStart;
      for (;;) {
        const eol = raw.indexOf('\r\n', p);
        if (eol === -1) return out;
        const size = parseInt(raw.slice(p, eol), 16);
        if (size === 0) {
          const end = raw.indexOf('\r\n\r\n', eol);
          if (end === -1) return out;
          p = end + 4;
          break;
        }
        if (raw.length < eol + 2 + size + 2) return out;
        body += raw.slice(eol + 2, eol + 2 + size);
        p = eol + 2 + size + 2;
      }
      bodyStart = p;
    } else {
      // Close-delimited.
      if (!closed) return out;
      body = raw.slice(bodyStart);
      bodyStart = raw.length;
    }
    out.push({ status, statusLine, headers, body });
    at = bodyStart;
  }
}

export function rawExchange(port: number, parts: string | Buffer | Array<string | Buffer>, opts: RawOptions = {}): Promise<RawExchange> {
  const { responses = 1, waitClose = false, timeout = 5000, gapMs = 0, localAddress } = opts;
  const list = Array.isArray(parts) ? parts : [parts];
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    const started = performance.now();
    let raw = '';
    let closed = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      const result = { raw, responses: parseResponses(raw, closed), closed, elapsedMs: performance.now() - started };
      s.destroy();
      resolve(result);
    };
    const deadline = setTimeout(finish, timeout);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      raw += d;
      if (!waitClose && parseResponses(raw, false).length >= responses) finish();
    });
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('error', () => {});
    let i = 0;
    const next = () => {
      if (closed || settled || i >= list.length) return;
      s.write(list[i++]!);
      if (i < list.length) timer = setTimeout(next, gapMs);
    };
    s.once('connect', next);
  });
}
