/**
 * TLS handshakes per second against one server (bench/tls.js runs it in a child pinned to the
 * load CPU): `--concurrency` connections in flight, each a new TCP connection that completes
 * its TLS handshake (SNI `--servername`, ALPN http/1.1, certificate not verified) and closes
 * with close_notify, for `--duration` seconds.
 *
 *   node bench/tls-handshakes.js --port P [--servername localhost] [--concurrency 16]
 *                                [--duration 5] [--resume]
 *
 * --resume: one full handshake first takes a session ticket; every later connection offers it
 * (TLS 1.3 PSK with (EC)DHE, what browsers do), and `resumed` counts those the server accepted.
 * Prints one JSON line: {handshakes, seconds, rate, resumed, errors, clientCpu (its own CPU per
 * second: near 1, the client set the rate), p50, p99} (ms per handshake).
 *
 * Why a Node loop and not h2load or openssl s_time: h2load offers no session resumption, and
 * s_time makes one connection at a time (it measures one handshake's latency, not how many a
 * server completes with several clients at once). The client's own cost matters less than it
 * seems: bench/tls.js also reports the SERVER's CPU time per handshake, which does not depend
 * on how fast the client is.
 */
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    servername: { type: 'string', default: 'localhost' },
    concurrency: { type: 'string', default: '16' },
    duration: { type: 'string', default: '5' },
    resume: { type: 'boolean', default: false },
  },
});

const port = Number(values.port);
const base = { host: '127.0.0.1', port, servername: values.servername, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] };

/**
 * One connection: resolves {ok, ms, resumed, ticket} once the handshake is done (the first
 * connection of a --resume run: once its session ticket came too, which TLS 1.3 sends after the
 * handshake). Closed with close_notify without waiting for the server's close: the server's
 * cost of it is in its CPU time all the same.
 */
function once(session, wantTicket) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s = tls.connect({ ...base, ...(session && { session }) });
    let ms;
    let resumed = false;
    const finish = (ok, ticket, err) => {
      clearTimeout(timer);
      s.removeAllListeners();
      s.on('error', () => {});
      s.end();
      // A server that never closes its side does not keep the socket here for long.
      setTimeout(() => s.destroy(), 2000).unref();
      resolve({ ok, ms, resumed, ticket, err });
    };
    s.once('secureConnect', () => {
      ms = performance.now() - t0;
      // Read now: after the close the session is gone and this answers null.
      resumed = s.isSessionReused();
      if (!wantTicket) finish(true);
    });
    if (wantTicket) s.once('session', (ticket) => finish(true, ticket));
    s.once('error', (err) => finish(false, undefined, err));
    // A handshake (or a ticket) that never comes is an error, not a stuck worker.
    const timer = setTimeout(() => finish(false, undefined, new Error('no handshake (or session ticket) within 10 s')), 10_000);
  });
}

async function main() {
  let session;
  if (values.resume) {
    const first = await once(undefined, true);
    if (!first.ticket) throw new Error('no session ticket from the server: resumption cannot be measured');
    session = first.ticket;
  }
  const durationMs = Number(values.duration) * 1000;
  const lat = [];
  let resumed = 0;
  let errors = 0;
  let lastErr;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const end = t0 + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const r = await once(session);
      if (!r.ok) {
        errors++;
        lastErr = r.err?.message;
        continue;
      }
      lat.push(r.ms);
      if (r.resumed) resumed++;
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Near 1: this client, not the server, set the rate (read the server's CPU per handshake then).
  const clientCpu = (cpu.user + cpu.system) / 1e6 / seconds;
  lat.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] : NaN);
  process.stdout.write(`${JSON.stringify({ handshakes: lat.length, seconds, rate: lat.length / seconds, resumed, errors, lastErr, clientCpu, p50: pct(50), p99: pct(99) })}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`tls-handshakes: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
