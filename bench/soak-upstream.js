/**
 * The soak's upstream (bench/soak.js): one site of one tenant, node:http on one or more ports.
 * Unlike bench/upstream.js (a raw responder built to never limit a throughput figure) it reads
 * every request's headers, because the soak checks what drproxy stamped on each request: every
 * answer names the site in `x-upstream-site` and echoes the epoch and site drproxy sent
 * (`x-dr-epoch`, `x-dr-site`) as `x-seen-epoch` and `x-seen-site`. At ~250 req/s per process
 * node:http is far from any limit.
 *
 *   node bench/soak-upstream.js --site NAME [--ports 0,0] [--count 2]
 *
 * As a child with an IPC channel it reports {type:'ready', ports, pid} and accepts
 *   {type:'mode', status}  answer everything (health checks included) with this status;
 *   {type:'down'}          stop listening and close every connection (connections are refused);
 *   {type:'up'}            listen again on the same ports;
 * each acknowledged with {type:'ack', what, at} (at: wall clock ms).
 */
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    ports: { type: 'string', default: '' },
    count: { type: 'string', default: '2' },
    site: { type: 'string', default: 'upstream' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const site = values.site;
const wall = () => performance.timeOrigin + performance.now();
let status = 200;

function answer(req, res) {
  const headers = {
    'content-type': 'text/plain',
    'x-upstream-site': site,
    'x-seen-epoch': req.headers['x-dr-epoch'] ?? '',
    'x-seen-site': req.headers['x-dr-site'] ?? '',
  };
  const body = status === 200 ? 'ok\n' : 'unavailable\n';
  headers['content-length'] = body.length;
  // Read (and drop) a request body before answering: POSTs carry one.
  req.resume();
  req.on('end', () => {
    res.writeHead(status, headers);
    res.end(body);
  });
}

function createServer() {
  const s = http.createServer({ keepAliveTimeout: 10_000, requestTimeout: 0, headersTimeout: 10_000 }, answer);
  s.on('clientError', (_err, sock) => sock.destroy());
  return s;
}

/** Listen on `port` (0: any); resolves with the server once it listens. */
function listenOn(port) {
  const s = createServer();
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen({ port, host: values.host, backlog: 1024 }, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}

const wanted = values.ports ? values.ports.split(',').map(Number) : Array.from({ length: Number(values.count) }, () => 0);
let servers = [];
for (const p of wanted) servers.push(await listenOn(p));
const ports = servers.map((s) => s.address().port);

async function down() {
  const closing = servers.map((s) => new Promise((resolve) => s.close(() => resolve())));
  for (const s of servers) s.closeAllConnections();
  servers = [];
  await Promise.all(closing);
}

async function up() {
  if (servers.length) return;
  servers = await Promise.all(ports.map((p) => listenOn(p)));
}

const ready = { type: 'ready', pid: process.pid, site, ports };
if (process.send) {
  process.send(ready);
  let queue = Promise.resolve();
  process.on('message', (msg) => {
    // One change at a time: a 'down' must finish closing before the next 'up' listens.
    queue = queue.then(async () => {
      if (msg?.type === 'mode') status = Number(msg.status);
      else if (msg?.type === 'down') await down();
      else if (msg?.type === 'up') await up();
      else return;
      process.send({ type: 'ack', what: msg.type, status, at: wall() });
    });
  });
  process.on('disconnect', () => process.exit(0));
} else {
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}
