/**
 * A stand-in tenant site for the demo: answers /healthz and says which site served a request
 * and which epoch drproxy stamped on it.
 *
 *   node dist/demo/site.js NAME PORT
 */
import http from 'node:http';

const [name = 'site', port = '0'] = process.argv.slice(2);

const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  const body = JSON.stringify({ site: name, epoch: req.headers['x-dr-epoch'] ?? null, path: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
