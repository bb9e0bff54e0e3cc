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
import { failResponse, relayHead, upstreamHeaders } from './bare-lib.js';

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

const server = http.createServer({ noDelay: true, keepAliveTimeout: 5000 }, (req, res) => {
  const h = req.headers;
  const hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
  pool.stream(
    { path: req.url, method: req.method, headers: upstreamHeaders(req.rawHeaders), body: hasBody ? req : null, opaque: res },
    ({ statusCode, headers, opaque }) => relayHead(opaque, statusCode, headers),
    (err) => {
      if (err) failResponse(res, err);
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
