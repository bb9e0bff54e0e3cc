/** Send a raw HTTP/1.1 request text and read the whole answer (the server closes or we time out). */
import net from 'node:net';

export function rawRequest(port: number, text: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      out += d;
      // Stop once a full answer with a Content-Length body is in.
      const head = out.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(out.slice(0, head));
      if (head !== -1 && m && out.length >= head + 4 + Number(m[1])) s.end();
    });
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      resolve(out);
    });
    s.write(text);
  });
}
