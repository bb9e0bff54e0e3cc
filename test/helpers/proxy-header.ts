/** PROXY protocol headers for tests (v1 text, v2 binary), built by hand so that tests control every byte. */
import net from 'node:net';

export const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 header: version/command byte, family/transport byte, then the payload. */
export function v2(verCmd: number, famProto: number, payload: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(payload.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, famProto]), len, payload]);
}

export function inet(src: number[], dst: number[], sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

export function inet6(src: Buffer, dst: Buffer, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(36);
  src.copy(b, 0);
  dst.copy(b, 16);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(dport, 34);
  return b;
}

/** v2 PROXY TCP over IPv4 from `client` (a.b.c.d). */
export function v2Tcp4(client: string, port = 40000): Buffer {
  return v2(0x21, 0x11, inet(client.split('.').map(Number), [127, 0, 0, 1], port, 443));
}

export function v1Tcp4(client: string, port = 40000): Buffer {
  return Buffer.from(`PROXY TCP4 ${client} 127.0.0.1 ${port} 443\r\n`, 'latin1');
}

/** A raw client: connect (optionally from `localAddress`), send `chunks` one write each, collect what comes back until close. */
export function rawSend(port: number, chunks: Buffer[], opts: { localAddress?: string; timeoutMs?: number } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }) });
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (text += d));
    s.on('error', () => {});
    s.on('close', () => resolve({ text, closed: true }));
    s.setTimeout(opts.timeoutMs ?? 5000, () => {
      s.destroy();
      resolve({ text, closed: false });
    });
    s.on('connect', async () => {
      for (const c of chunks) {
        // One write each, handed to the kernel before the next (separate segments on loopback).
        await new Promise((r) => s.write(c, r));
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}
