/**
 * The soak's burst of hostile connections (bench/soak.js): for `ms`, from 127.0.0.2 when it can
 * be bound (so that a per-client cap on 127.0.0.1, where the load comes from, is not what is
 * measured), otherwise 127.0.0.1:
 *   - `idle` sockets that connect and never send a byte;
 *   - `slowloris` senders: a request line and then one header line a second, never finished;
 *   - `garbage` senders: one malformed request per connection, again and again, each
 *     connection read until drproxy answers or closes it.
 * Everything is closed at the end. Returns what each kind of connection saw.
 *
 * `runHostileBurst` runs it in a child process (this file), so that the soak's load generator,
 * which times every request from its scheduled send, does not share its event loop with the
 * burst's sockets.
 */
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as L from './lib.js';

/** Malformed requests, each named in the report by its label. */
const GARBAGE = [
  ['not HTTP', 'GARBAGE\r\n\r\n'],
  ['Host twice', 'GET / HTTP/1.1\r\nHost: HOST\r\nHost: HOST\r\n\r\n'],
  ['CL + TE', 'GET / HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['bad chunk size', 'POST / HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n'],
  ['20 KB URL', `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: HOST\r\n\r\n`],
  ['binary', '\x00\x01\x02\x03\xff\xfe\r\n\r\n'],
  ['bare LF', 'GET / HTTP/1.1\nHost: HOST\n\n'],
  ['Host with a non-numeric port', 'GET / HTTP/1.1\r\nHost: HOST:port\r\n\r\n'],
];

/** 127.0.0.2 if a socket can be bound to it here, else 127.0.0.1. */
export async function hostileAddress() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve('127.0.0.1'));
    s.listen(0, '127.0.0.2', () => s.close(() => resolve('127.0.0.2')));
  });
}

function connect(port, localAddress) {
  const s = net.connect({ port, host: '127.0.0.1', localAddress });
  s.on('error', () => {});
  return s;
}

/** Idle sockets: how many connected, and how many drproxy closed before the end. */
function idleSockets(port, localAddress, n, stats) {
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = connect(port, localAddress);
    s.once('connect', () => stats.idleConnected++);
    // Read what comes (drproxy's 408): a paused socket never sees the peer's close.
    s.on('data', (d) => {
      const line = d.toString('latin1').split('\r\n')[0];
      stats.idleAnswers[line] = (stats.idleAnswers[line] ?? 0) + 1;
    });
    s.once('close', () => {
      if (!s.ours) stats.idleClosedByPeer++;
    });
    socks.push(s);
  }
  return socks;
}

function slowloris(port, localAddress, host, n, stats) {
  const socks = [];
  for (let i = 0; i < n; i++) {
    const s = connect(port, localAddress);
    s.once('connect', () => s.write(`GET /slow HTTP/1.1\r\nHost: ${host}\r\n`));
    s.on('data', (d) => {
      const line = d.toString('latin1').split('\r\n')[0];
      stats.slowlorisAnswers[line] = (stats.slowlorisAnswers[line] ?? 0) + 1;
    });
    s.timer = setInterval(() => s.writable && s.write(`X-Slow-${Math.floor(Math.random() * 1e6)}: x\r\n`), 1000);
    s.once('close', () => {
      clearInterval(s.timer);
      if (!s.ours) stats.slowlorisClosedByPeer++;
    });
    socks.push(s);
  }
  return socks;
}

/** One malformed request on its own connection: resolves with drproxy's status line (or how it ended). */
function garbageOnce(port, localAddress, payload) {
  return new Promise((resolve) => {
    const s = connect(port, localAddress);
    let got = '';
    const done = (how) => {
      clearTimeout(timer);
      s.destroy();
      resolve(how);
    };
    const timer = setTimeout(() => done(got ? got.split('\r\n')[0] : 'no answer in 2 s'), 2000);
    s.once('connect', () => s.write(payload, 'latin1'));
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.split('\r\n')[0]);
    });
    s.once('error', (err) => done(`error ${err.code ?? err.message}`));
    s.once('close', () => done(got ? got.split('\r\n')[0] : 'closed without an answer'));
  });
}

async function garbageLoop(port, localAddress, host, until, stats, offset) {
  for (let i = 0; L.wall() < until; i++) {
    const [label, payload] = GARBAGE[(i + offset) % GARBAGE.length];
    const how = await garbageOnce(port, localAddress, payload.replaceAll('HOST', host));
    const answers = (stats.garbageAnswers[label] ??= {});
    const key = how.slice(0, 60);
    answers[key] = (answers[key] ?? 0) + 1;
    await L.sleep(100);
  }
}

export async function hostileBurst(port, { host, ms, idle = 300, slow = 5, garbage = 5 }) {
  const localAddress = await hostileAddress();
  const stats = { from: localAddress, idle, slowloris: slow, garbage, idleConnected: 0, idleClosedByPeer: 0, idleAnswers: {}, slowlorisClosedByPeer: 0, slowlorisAnswers: {}, garbageAnswers: {} };
  const until = L.wall() + ms;
  const idleSocks = idleSockets(port, localAddress, idle, stats);
  const slowSocks = slowloris(port, localAddress, host, slow, stats);
  const loops = Array.from({ length: garbage }, (_, i) => garbageLoop(port, localAddress, host, until, stats, i));
  await L.sleep(ms);
  await Promise.all(loops);
  stats.idleOpenAtEnd = idleSocks.filter((s) => !s.destroyed).length;
  for (const s of [...idleSocks, ...slowSocks]) {
    s.ours = true;
    clearInterval(s.timer);
    s.destroy();
  }
  return stats;
}

/** The burst in a child process on the load CPU: resolves with its stats. */
export async function runHostileBurst(port, opts) {
  const child = L.spawnNode(path.join(L.BENCH_DIR, 'soak-hostile.js'), [], { cpu: L.CPU_LOAD, ipc: true });
  const done = L.nextMessage(child, (m) => m?.type === 'done', opts.ms + 15_000);
  child.send({ type: 'burst', port, opts });
  try {
    return (await done).stats;
  } finally {
    await L.stopChild(child, { graceMs: 2000 });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.send) {
  process.once('message', async (m) => {
    const stats = await hostileBurst(m.port, m.opts);
    process.send({ type: 'done', stats }, () => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}
