/**
 * A raw `node:net` HTTP/1.x client for hostile tests: sends exact bytes and reports exactly what
 * came back: every response message (1xx included) with its framing, whether the final one was
 * complete, and how the connection ended (a clean FIN, a reset, or still open).
 */
import net from 'node:net';

export interface RawMessage {
  statusLine: string;
  status: number;
  /** Header lines as received, [name, value], names as sent. */
  headers: Array<[string, string]>;
  /** How the body is delimited: by length, by chunked coding, by the connection close, or none. */
  framing: 'length' | 'chunked' | 'close' | 'none';
  body: Buffer;
  /** The body arrived whole (for chunked: the terminating 0-chunk was seen). */
  complete: boolean;
}

export interface RawExchange {
  /** Everything received, as latin1. */
  raw: string;
  messages: RawMessage[];
  /** The last message, the final answer (undefined if no status line arrived). */
  final: RawMessage | undefined;
  /** How it ended: 'open' (final answer complete, connection kept), 'fin', 'reset', 'timeout'. */
  ended: 'open' | 'fin' | 'reset' | 'timeout';
  header(name: string): string | undefined;
}

/** Split a byte stream into response messages (best effort; stops at the first thing it cannot read). */
export function parseResponses(data: Buffer, method = 'GET', closed = false): RawMessage[] {
  const out: RawMessage[] = [];
  let pos = 0;
  while (pos < data.length) {
    const end = data.indexOf('\r\n\r\n', pos);
    if (end === -1) break;
    const lines = data.subarray(pos, end).toString('latin1').split('\r\n');
    const statusLine = lines[0]!;
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
    const headers = lines.slice(1).map((l): [string, string] => {
      const i = l.indexOf(':');
      return [l.slice(0, i), l.slice(i + 1).trim()];
    });
    const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    pos = end + 4;
    const msg: RawMessage = { statusLine, status, headers, framing: 'none', body: Buffer.alloc(0), complete: true };
    out.push(msg);
    if ((status >= 100 && status < 200) || status === 204 || status === 304 || method === 'HEAD') continue;
    if (get('transfer-encoding')?.toLowerCase() === 'chunked') {
      msg.framing = 'chunked';
      const parts: Buffer[] = [];
      msg.complete = false;
      for (;;) {
        const eol = data.indexOf('\r\n', pos);
        if (eol === -1) break;
        const size = parseInt(data.subarray(pos, eol).toString('latin1'), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const fin = data.indexOf('\r\n\r\n', eol);
          if (fin !== -1 || data.subarray(eol, eol + 4).toString() === '\r\n\r\n') {
            msg.complete = true;
            pos = (fin === -1 ? eol : fin) + 4;
          }
          break;
        }
        if (data.length < eol + 2 + size + 2) {
          parts.push(data.subarray(eol + 2, Math.min(data.length, eol + 2 + size)));
          pos = data.length;
          break;
        }
        parts.push(data.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
      msg.body = Buffer.concat(parts);
      if (!msg.complete) break;
      continue;
    }
    const cl = get('content-length');
    if (cl !== undefined) {
      msg.framing = 'length';
      const n = Number(cl);
      msg.body = data.subarray(pos, Math.min(data.length, pos + n));
      msg.complete = msg.body.length === n;
      pos += msg.body.length;
      if (!msg.complete) break;
      continue;
    }
    msg.framing = 'close';
    msg.body = data.subarray(pos);
    msg.complete = closed;
    pos = data.length;
  }
  return out;
}

function finalOf(messages: RawMessage[]): RawMessage | undefined {
  const m = messages[messages.length - 1];
  return m;
}

/**
 * Send `request` (exact bytes) on a new connection from `localAddress` and read until the final
 * answer is complete (then the connection is left 'open' and closed by us), or the connection
 * ends, or `timeoutMs` passes.
 */
export function rawExchange(
  port: number,
  request: string | Buffer,
  {
    timeoutMs = 5000,
    method,
    localAddress,
    bodyAfter100,
    onData,
  }: {
    timeoutMs?: number;
    method?: string;
    localAddress?: string;
    /** Sent once a `100 Continue` has arrived (the request carries `Expect: 100-continue`). */
    bodyAfter100?: string;
    /** Called with everything received so far, at each arrival. */
    onData?: (raw: string) => void;
  } = {},
): Promise<RawExchange> {
  const m = method ?? (typeof request === 'string' ? request : request.toString('latin1')).split(' ', 1)[0]!;
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ended: RawExchange['ended']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const data = Buffer.concat(chunks);
      const messages = parseResponses(data, m, ended === 'fin' || ended === 'reset');
      const final = finalOf(messages);
      resolve({
        raw: data.toString('latin1'),
        messages,
        final,
        ended,
        header: (n) => final?.headers.find(([k]) => k.toLowerCase() === n.toLowerCase())?.[1],
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    let bodySent = bodyAfter100 === undefined;
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      onData?.(Buffer.concat(chunks).toString('latin1'));
      const msgs = parseResponses(Buffer.concat(chunks), m);
      if (!bodySent && msgs.some((x) => x.status === 100)) {
        bodySent = true;
        s.write(bodyAfter100!);
      }
      const last = finalOf(msgs);
      if (last && last.status >= 200 && last.complete && last.framing !== 'close') finish('open');
    });
    s.on('end', () => finish('fin'));
    s.on('error', (err: Error & { code?: string }) => finish(err.code === 'ECONNRESET' ? 'reset' : 'fin'));
    s.on('close', () => finish('fin'));
    s.write(request);
  });
}
