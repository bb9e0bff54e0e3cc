/**
 * The bare undici proxy of the throughput comparison: one undici Pool to the upstream
 * (128 keep-alive connections, no pipelining — drproxy's defaults), each request piped to the
 * upstream with Pool.stream() and the response streamed back. No routing, no health, no
 * header stamping: the floor of what an undici-based proxy costs.
 *
 *   node bench/bare-undici.js --upstream http://127.0.0.1:PORT --port PORT
 *
 * Prints {"listen":"127.0.0.1:PORT"} on stdout when listening.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    connections: { type: 'string', default: '128' },
  },
});
if (!values.upstream) {
  process.stderr.write('bare-undici: --upstream URL is required\n');
  process.exit(2);
}

const pool = new Pool(values.upstream, {
  connections: Number(values.connections),
  pipelining: 1,
  keepAliveTimeout: 4000,
});

// Hop-by-hop request headers (and the ones undici refuses from a caller).
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect']);

function upstreamHeaders(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  }
  return out;
}

const server = http.createServer({ noDelay: true, keepAliveTimeout: 5000 }, (req, res) => {
  const h = req.headers;
  const hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
  pool.stream(
    { path: req.url, method: req.method, headers: upstreamHeaders(req.rawHeaders), body: hasBody ? req : null, opaque: res },
    ({ statusCode, headers, opaque }) => {
      delete headers.connection;
      delete headers['keep-alive'];
      delete headers['transfer-encoding'];
      opaque.writeHead(statusCode, headers);
      return opaque;
    },
    (err) => {
      if (!err) return;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('bad gateway\n');
      } else {
        res.destroy(err);
      }
    },
  );
});

server.listen(Number(values.port), values.host, () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ listen: `${a.address}:${a.port}` })}\n`);
});
const stop = () => server.close(() => pool.close().finally(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
