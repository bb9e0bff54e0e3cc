/** Raw client sockets that record what happened to them: for idle-socket and connection-cap tests. */
import net from 'node:net';

export interface Tracked {
  socket: net.Socket;
  /** performance.now() when the connection was established. */
  openedAt: number;
  /** performance.now() when it closed, once it has. */
  closedAt: number | undefined;
  /** Everything the server sent (latin1). */
  data: string;
  /** The server closed its side cleanly (FIN), as opposed to a reset. */
  ended: boolean;
  error: (Error & { code?: string }) | undefined;
  closed: Promise<void>;
}

/** Connect to 127.0.0.1:port (from `localAddress` when given) and track the socket. */
export function connectTracked(port: number, opts: { localAddress?: string; host?: string; timeoutMs?: number } = {}): Promise<Tracked> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: opts.host ?? '127.0.0.1', ...(opts.localAddress && { localAddress: opts.localAddress }) });
    let onClose!: () => void;
    const t: Tracked = {
      socket,
      openedAt: 0,
      closedAt: undefined,
      data: '',
      ended: false,
      error: undefined,
      closed: new Promise<void>((r) => (onClose = r)),
    };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (t.data += d));
    socket.on('end', () => (t.ended = true));
    socket.on('error', (err) => (t.error = err));
    socket.on('close', () => {
      t.closedAt = performance.now();
      onClose();
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to port ${port} timed out`));
    }, opts.timeoutMs ?? 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      t.openedAt = performance.now();
      resolve(t);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      if (t.openedAt === 0) reject(err);
    });
  });
}

/** Open `count` sockets, `batch` at a time (so that the listen backlog never overflows). */
export async function openMany(port: number, count: number, opts: { localAddress?: string; batch?: number } = {}): Promise<Tracked[]> {
  const out: Tracked[] = [];
  const batch = opts.batch ?? 100;
  for (let i = 0; i < count; i += batch) {
    const n = Math.min(batch, count - i);
    out.push(...(await Promise.all(Array.from({ length: n }, () => connectTracked(port, opts)))));
  }
  return out;
}

export function destroyAll(sockets: Iterable<Tracked>): void {
  for (const t of sockets) t.socket.destroy();
}

/** A refused connection's answer: status line, lower-case headers, body. */
export function parseAnswer(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const head = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, head).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0]!.split(' ')[1]), headers, body: raw.slice(head + 4) };
}
