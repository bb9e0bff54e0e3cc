/**
 * Warm standby connections (proxy.standby_connections) when the backup is far away. The backup
 * site is an HTTPS upstream reached through a relay that holds every chunk for --delay ms in
 * each direction, as a backup in another region would (this kernel has no netem, so the
 * relay delays data only: the TCP handshake to it is local, and a new connection here costs the
 * TLS handshake's round trip but not the TCP one; real links cost both). Under a steady
 * open-loop load the primary is SIGKILLed, with standby_connections 0 and N interleaved, and
 * we measure the time from drproxy's route switch to the first backup answer, and the latency
 * of the requests sent in the second after the kill.
 *
 *   node bench/standby-rtt.js [--delay 10] [--rate 200] [--standby 16] [--repeat 3]
 *
 * drproxy on CPU 0; the upstreams, the relay and the load on CPU 1. All on 127.0.0.1.
 */
import net from 'node:net';
import https from 'node:https';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as L from './lib.js';
import { flipsFromLog, startLoad } from './failover.js';

const HOST = 'bench.local';

// --- child: an HTTPS upstream behind a delaying relay -----------------------------------------

function runChild(dir, delay) {
  const server = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')), keepAliveTimeout: 30_000 }, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2, 'x-upstream-site': 'backup' });
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const target = server.address().port;
    const relay = net.createServer((client) => {
      const upstream = net.connect(target, '127.0.0.1');
      const pipe = (from, to) => {
        from.on('data', (d) => setTimeout(() => to.writable && to.write(d), delay));
        from.on('end', () => setTimeout(() => to.end(), delay));
        from.on('error', () => to.destroy());
        from.on('close', () => setTimeout(() => to.destroy(), delay));
      };
      pipe(client, upstream);
      pipe(upstream, client);
    });
    relay.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: relay.address().port }));
  });
}

if (process.argv[2] === '--child') {
  runChild(process.argv[3], Number(process.argv[4]));
} else {
  L.runMain(import.meta.url, 'standby-rtt', runStandbyRtt, standbyRttMarkdown);
}

// --- parent -----------------------------------------------------------------------------------

async function scenario(standby, o, certDir) {
  const tmp = L.tempDir('drproxy-bench-rtt-');
  const primary = await L.startUpstream({ count: 2, site: 'primary' });
  const backup = L.spawnNode(path.join(L.BENCH_DIR, 'standby-rtt.js'), ['--child', certDir, String(o.delay)], { cpu: L.CPU_LOAD, ipc: true });
  let dr;
  try {
    const { port: relay } = await L.nextMessage(backup, (m) => m?.type === 'ready');
    const port = await L.freePort();
    const cfg = path.join(tmp, 'drproxy.yaml');
    writeFileSync(
      cfg,
      `${L.configHead('standby-rtt.js', { port, stateDir: path.join(tmp, 'state') })}defaults:
  health_check: { path: /healthz, interval: 250ms, timeout: 200ms, rise: 2, fall: 2, jitter: 0.1 }
  failover: { mode: auto, failback: manual, min_interval: 10s, drain_timeout: 2s, hold_requests: 5s }
  proxy: { connect_timeout: 1s, response_timeout: 5s, standby_connections: ${standby} }
tenants:
  bench:
    tier: BC
    hosts: [${HOST}]
    sites:
      - name: primary
        backends: [${primary.ports.map((p) => `http://127.0.0.1:${p}`).join(', ')}]
      - name: backup
        backends: [https://127.0.0.1:${relay}]
`,
    );
    const child = L.spawnPinned(process.execPath, [L.DRPROXY_CLI, '--config', cfg], { cpu: L.CPU_PROXY, env: { NODE_EXTRA_CA_CERTS: path.join(certDir, 'cert.pem') } });
    dr = child;
    let drLog = '';
    child.stdout.on('data', (d) => (drLog += d));
    await L.waitForListen(port, { child });
    await L.waitForStatus(port, { host: HOST, child });
    await L.sleep(1500); // first checks of the backup (through the relay) land; warm sockets open
    const load = startLoad(port, { rate: o.rate });
    await L.sleep(2000);
    const tFault = L.wall();
    process.kill(primary.pid, 'SIGKILL');
    await L.sleep(2000);
    load.stop();
    await load.drain(10_000);
    const routedMs = flipsFromLog(drLog, tFault)[0]?.steps?.routed ?? NaN;
    const after = load.records.filter((r) => r.t0 >= tFault && r.t0 < tFault + 1000);
    const firstBackup = Math.min(...load.records.filter((r) => r.site === 'backup' && r.status === 200).map((r) => r.t1)) - tFault;
    const lat = after.map((r) => r.t1 - r.t0);
    const bad = load.records.filter((r) => r.status !== 200 || r.err);
    if (bad.length) L.log(`standby ${standby}: failures ${[...new Set(bad.map((r) => r.err || `${r.status} ${r.msg ?? ''}`))].join('; ')}`);
    return {
      standby,
      requests: load.records.length,
      failed: bad.length,
      routedMs,
      firstBackupMs: firstBackup,
      routedToFirstMs: firstBackup - routedMs,
      p50AfterMs: L.percentile(lat, 50),
      p99AfterMs: L.percentile(lat, 99),
    };
  } finally {
    if (dr) await L.stopChild(dr);
    await L.stopChild(primary.child, { signal: 'SIGKILL' });
    await L.stopChild(backup);
  }
}

export async function runStandbyRtt(options = {}) {
  const o = { delay: 10, rate: 200, standby: 16, repeat: 3, ...options };
  L.pinSelf(L.CPU_LOAD);
  const certDir = L.tempDir('drproxy-bench-cert-');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  L.log(`standby-rtt: backup ${o.delay} ms away each way (HTTPS), ${o.rate} req/s, standby_connections 0 vs ${o.standby}, ${o.repeat} round(s)`);
  const results = [];
  for (let round = 0; round < o.repeat; round++) {
    for (const standby of [0, o.standby]) {
      const r = await scenario(standby, o, certDir);
      results.push(r);
      L.log(`standby ${String(standby).padStart(3)}: ${r.failed} failed; routed ${L.fmt(r.routedMs, 1)} ms, first backup answer ${L.fmt(r.firstBackupMs, 1)} ms (+${L.fmt(r.routedToFirstMs, 1)}); 1st s after the kill p50 ${L.fmt(r.p50AfterMs, 1)} / p99 ${L.fmt(r.p99AfterMs, 1)} ms`);
    }
  }
  const result = { kind: 'standby-rtt', machine: L.machineInfo(), options: o, results };
  L.writeOut('standby-rtt.json', result);
  L.writeOut('standby-rtt.md', standbyRttMarkdown(result));
  return result;
}

export function standbyRttMarkdown(r) {
  const o = r.options;
  const lines = [
    `### Warm standby across a ${o.delay * 2} ms round trip (HTTPS backup behind a delaying relay, ${o.rate} req/s, primary SIGKILLed)`,
    '',
    '| standby_connections | failed | routed after the kill | first backup answer | routed → first answer | p50 / p99, requests sent in the 1st s |',
    '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const x of r.results) {
    lines.push(`| ${x.standby} | ${x.failed} | ${L.fmt(x.routedMs, 1)} ms | ${L.fmt(x.firstBackupMs, 1)} ms | ${L.fmt(x.routedToFirstMs, 1)} ms | ${L.fmt(x.p50AfterMs, 1)} / ${L.fmt(x.p99AfterMs, 1)} ms |`);
  }
  for (const s of [0, o.standby]) {
    const xs = r.results.filter((x) => x.standby === s);
    lines.push('', `standby ${s}: median routed → first answer ${L.fmt(L.median(xs.map((x) => x.routedToFirstMs)), 1)} ms, median p99 ${L.fmt(L.median(xs.map((x) => x.p99AfterMs)), 1)} ms`);
  }
  lines.push('');
  return lines.join('\n');
}
