/**
 * The bare http-proxy-3 proxy of the throughput comparison: createProxyServer with a Node
 * keep-alive agent (128 sockets), no routing, no health checks.
 *
 *   node bench/bare-http-proxy.js --upstream http://127.0.0.1:PORT --port PORT
 *
 * Prints {"listen":"127.0.0.1:PORT"} on stdout when listening.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { createProxyServer } from 'http-proxy-3';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!values.upstream) {
  process.stderr.write('bare-http-proxy: --upstream URL is required\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = createProxyServer({ target: values.upstream, agent });
proxy.on('error', (err, req, res) => {
  if (res && typeof res.writeHead === 'function' && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway\n');
  } else {
    res?.destroy?.();
  }
});

const server = http.createServer({ noDelay: true, keepAliveTimeout: 5000 }, (req, res) => proxy.web(req, res));
server.listen(Number(values.port), values.host, () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ listen: `${a.address}:${a.port}` })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
