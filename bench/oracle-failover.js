/**
 * The floor of a failover, for `failover.js --proxy oracle`: a bare undici proxy that knows
 * nothing but "primary, else backup". Every request goes to the primary site's backends in
 * turn until the first request there fails (any error: refused, reset, closed) or, with
 * --retry-503, is answered 503; from that moment on everything goes to the backup, and the
 * failed request is sent to the backup at once. No health checks, no hysteresis, no epoch, no
 * persistence, no drain, no held queue: none of what makes a failover safe. What it measures is
 * how soon *any* proxy on this machine could have a backup answer once the primary dies; the
 * difference to drproxy is what drproxy's safety costs. Never a design to run: one reset
 * connection would move the whole tenant, and two replicas would disagree.
 *
 *   node bench/oracle-failover.js --primary PORT,PORT --backup PORT,PORT --port PORT [--retry-503]
 *
 * Prints {"listen":"127.0.0.1:PORT"} on stdout when listening, and {"switched":WALL_MS} when
 * it moves to the backup.
 */
import http from 'node:http';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { failResponse, relayHead, upstreamHeaders } from './bare-lib.js';

const { values } = parseArgs({
  options: {
    primary: { type: 'string' },
    backup: { type: 'string' },
    port: { type: 'string', default: '0' },
    'retry-503': { type: 'boolean', default: false },
  },
});
if (!values.primary || !values.backup) {
  process.stderr.write('oracle-failover: --primary and --backup (comma-separated ports) are required\n');
  process.exit(2);
}
const retry503 = values['retry-503'];

// The same pools as the bare undici proxy and drproxy's defaults: 128 keep-alive connections
// per backend, no pipelining.
const pools = (ports) => ports.split(',').map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: 128, pipelining: 1, keepAliveTimeout: 4000 }));
const sites = { primary: pools(values.primary), backup: pools(values.backup) };
let active = 'primary';
let turn = 0;

function toBackup() {
  if (active === 'backup') return;
  active = 'backup';
  process.stdout.write(`${JSON.stringify({ switched: performance.timeOrigin + performance.now() })}\n`);
}

/** Where a discarded answer's body goes. */
class Sink extends Writable {
  _write(_chunk, _enc, cb) {
    cb();
  }
}

/** One attempt; on a primary failure, switch and try once more on the backup. */
function forward(req, res, headers) {
  const site = active;
  const list = sites[site];
  const pool = list[turn++ % list.length];
  // A 503 from the primary is not relayed: its body goes to a Sink, and the request to the backup.
  let retried = false;
  pool.stream(
    { path: req.url, method: req.method, headers, opaque: res },
    ({ statusCode, headers: h, opaque }) => {
      if (retry503 && statusCode === 503 && site === 'primary') {
        retried = true;
        toBackup();
        forward(req, res, headers);
        return new Sink();
      }
      return relayHead(opaque, statusCode, h);
    },
    (err) => {
      if (!err || retried) return;
      if (site === 'primary' && !res.headersSent) {
        toBackup();
        forward(req, res, headers);
        return;
      }
      failResponse(res, err);
    },
  );
}


const server = http.createServer({ noDelay: true, keepAliveTimeout: 5000 }, (req, res) => {
  forward(req, res, upstreamHeaders(req.rawHeaders));
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`${JSON.stringify({ listen: `${a.address}:${a.port}` })}\n`);
});
const stop = () => server.close(() => Promise.all([...sites.primary, ...sites.backup].map((p) => p.destroy())).finally(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
