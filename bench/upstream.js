/**
 * A fast local upstream for the benchmarks: a raw TCP HTTP/1.1 responder with a tiny fixed
 * answer, keep-alive and pipelining, so that it is never what limits a measurement.
 *
 *   node bench/upstream.js [--ports 0,0,...] [--count N] [--site NAME] [--status 200] [--backlog 4096]
 *
 * Every request (any method, any path) gets the same short answer, which names the site in an
 * `x-upstream-site` header. Requests whose path starts with /healthz are counted separately
 * (probes). Request bodies with Content-Length are skipped; chunked request bodies are refused
 * (501, close): the benchmarks only send GETs.
 *
 * As a child process with an IPC channel it reports {type:'ready', ports, pid} and accepts:
 *   {type:'mode', status: 503|200}  → answers with that status from now on; replies
 *                                     {type:'mode', status, at} (at = wall clock ms, µs precision)
 *   {type:'stats'}                  → replies {type:'stats', requests, health, perPort}
 * Without IPC it prints the ready object as one JSON line on stdout.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    ports: { type: 'string', default: '' },
    count: { type: 'string', default: '1' },
    site: { type: 'string', default: 'upstream' },
    status: { type: 'string', default: '200' },
    host: { type: 'string', default: '127.0.0.1' },
    // Listen backlog of each port. bench/region-hang.js --fault blackhole sets a small one, so
    // that once this process is stopped a few connections fill it and further SYNs are dropped.
    backlog: { type: 'string', default: '4096' },
  },
});

const site = values.site;
const wall = () => performance.timeOrigin + performance.now();

function response(status) {
  const reason = status === 200 ? 'OK' : status === 503 ? 'Service Unavailable' : 'Status';
  const body = status === 200 ? 'ok\n' : 'unavailable\n';
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n` +
      `x-upstream-site: ${site}\r\nkeep-alive: timeout=60\r\n\r\n${body}`,
    'latin1',
  );
}

let current = response(Number(values.status));
let requests = 0;
let health = 0;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const NOT_IMPL = Buffer.from('HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
const sockets = new Set();

function onConnection(sock, counter) {
  sock.setNoDelay(true);
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  sock.on('error', () => {});
  let rest = null;
  let skip = 0;
  sock.on('data', (chunk) => {
    let data = rest === null ? chunk : Buffer.concat([rest, chunk]);
    rest = null;
    let off = 0;
    let n = 0;
    let close = false;
    while (off < data.length) {
      if (skip > 0) {
        const k = Math.min(skip, data.length - off);
        skip -= k;
        off += k;
        continue;
      }
      const end = data.indexOf(CRLFCRLF, off);
      if (end === -1) {
        rest = data.subarray(off);
        if (rest.length > 65536) sock.destroy();
        break;
      }
      // Request line: "GET /healthz HTTP/1.1"
      const sp = data.indexOf(32, off);
      if (sp !== -1 && sp < end && data.toString('latin1', sp + 1, Math.min(sp + 9, end)) === '/healthz') health++;
      // Only look at headers when a body or a close may be announced (rare in the benchmarks).
      const head = data.toString('latin1', off, end).toLowerCase();
      const cl = head.indexOf('\ncontent-length:');
      if (cl !== -1) {
        const eol = head.indexOf('\r', cl + 16);
        skip = parseInt(head.slice(cl + 16, eol === -1 ? head.length : eol), 10) || 0;
      }
      if (head.includes('\ntransfer-encoding:')) {
        sock.end(NOT_IMPL);
        return;
      }
      if (head.includes('\nconnection: close')) close = true;
      off = end + 4;
      n++;
      requests++;
      counter.n++;
      if (close) break;
    }
    if (n === 1) sock.write(current);
    else if (n > 1) {
      const out = Buffer.allocUnsafe(current.length * n);
      for (let i = 0; i < n; i++) current.copy(out, i * current.length);
      sock.write(out);
    }
    if (close) sock.end();
  });
}

const wanted = values.ports
  ? values.ports.split(',').map((p) => Number(p))
  : Array.from({ length: Number(values.count) }, () => 0);
const counters = [];
const servers = [];
const ports = [];
for (const p of wanted) {
  const counter = { n: 0 };
  const server = net.createServer({ noDelay: true }, (s) => onConnection(s, counter));
  server.maxConnections = 10_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: p, host: values.host, backlog: Number(values.backlog) }, resolve);
  });
  counters.push(counter);
  servers.push(server);
  ports.push(server.address().port);
}

const ready = { type: 'ready', pid: process.pid, site, ports };
if (process.send) {
  process.send(ready);
  process.on('message', (msg) => {
    if (msg?.type === 'mode') {
      current = response(Number(msg.status));
      process.send({ type: 'mode', status: Number(msg.status), at: wall() });
    } else if (msg?.type === 'stats') {
      process.send({ type: 'stats', requests, health, perPort: counters.map((c) => c.n) });
    } else if (msg?.type === 'exit') {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
  });
  // The parent went away: do not linger.
  process.on('disconnect', () => process.exit(0));
} else {
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}
