/**
 * Spike for issue 23 item 1: what publishing routes to worker threads and getting passive health
 * back costs. Two workers (worker_threads), 127.0.0.1 never touched: messages only.
 *
 *   node bench/workers-routes-spike.js [--tenants 1000] [--rounds 30] [--flips 500] [--health-ms 2000]
 *
 * 1. A route description (src/workers/route-description.ts's shape: 3 backends of the active
 *    site, proxy settings, edge, stamp) for every tenant, posted to both workers as (a) one
 *    structured clone of the plain objects, (b) one JSON string, (c) one SharedArrayBuffer
 *    holding the JSON (posted without a copy; each worker decodes and parses it). Measured: the
 *    main thread's time inside postMessage (and JSON.stringify/encode for b and c), and the time
 *    until both workers acknowledged (each worker rebuilds its tenant map before acking).
 * 2. One tenant's route (a flip's route step) posted to both workers until both acked.
 * 3. Passive-health reports from both workers for --health-ms: one message per batch per turn
 *    (a batch every 1 ms of 20 trips) against one message per trip; the main thread's event-loop
 *    utilisation while receiving them.
 */
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const SELF = fileURLToPath(import.meta.url);

if (!isMainThread) runWorker();
else await main();

function runWorker() {
  const routes = new Map();
  const decoder = new TextDecoder();
  let timer;
  parentPort.on('message', (m) => {
    if (m.type === 'routes-clone') take(m.routes);
    else if (m.type === 'routes-json') take(JSON.parse(m.json));
    else if (m.type === 'routes-sab') take(JSON.parse(decoder.decode(new Uint8Array(m.sab, 0, m.length).slice())));
    else if (m.type === 'route') routes.set(m.route.tenant, m.route);
    else if (m.type === 'health') return health(m);
    else if (m.type === 'stop-health') return clearInterval(timer);
    parentPort.postMessage({ type: 'ack', id: m.id });
  });
  function take(list) {
    for (const r of list) routes.set(r.tenant, r);
  }
  function health({ batched, perTick }) {
    let seq = 0;
    timer = setInterval(() => {
      if (batched) {
        const trips = [];
        for (let i = 0; i < perTick; i++) trips.push({ id: seq++ % 6000, kind: 'reset', failures: 3, refused: 0, since: Date.now() });
        parentPort.postMessage({ type: 'trips', trips });
      } else {
        for (let i = 0; i < perTick; i++) parentPort.postMessage({ type: 'trips', trips: [{ id: seq++ % 6000, kind: 'reset', failures: 3, refused: 0, since: Date.now() }] });
      }
    }, 1);
  }
}

function describe(i) {
  const proxy = {
    balance: 'round_robin', connect_timeout: 2000, response_timeout: 30000, body_timeout: 30000, max_connections: 64, keep_alive_timeout: 4000,
    standby_connections: 2, preserve_host: true, retry_on: [502, 503, 504], max_retries: 1, retry_budget_percent: 20, max_body_bytes: 10485760,
  };
  const backends = [0, 1, 2].map((j) => ({
    id: i * 6 + j, tenant: `tenant-${i}`, site: 'primary', name: `10.0.${i % 250}.${j}:8080`, url: `http://10.0.${i % 250}.${j}:8080`,
    origin: `http://10.0.${i % 250}.${j}:8080`, weight: 1, tls: undefined,
    passive: { threshold: 5, refusedThreshold: 2, statuses: [502, 503], slowAfter: 0 },
  }));
  return {
    tenant: `tenant-${i}`, mode: 'serve', epoch: 3, site: 'primary', stamp: ['x-drproxy-epoch', '3', 'x-drproxy-site', 'primary'],
    backends, proxy, reason: '', refusal: 'tenant_unavailable', holdMs: 10000, holdMax: 1000, standby: true, detectMs: 3200,
    retryOn: [502, 503, 504], edge: i % 2 === 0 ? { redirect: true, portSuffix: '', hsts: 'max-age=31536000' } : undefined,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      tenants: { type: 'string', default: '1000' },
      rounds: { type: 'string', default: '30' },
      flips: { type: 'string', default: '500' },
      'health-ms': { type: 'string', default: '2000' },
    },
  });
  const workers = [new Worker(SELF), new Worker(SELF)];
  const routes = Array.from({ length: Number(values.tenants) }, (_, i) => describe(i));
  let nextId = 1;
  const pending = new Map();
  for (const w of workers) {
    w.on('message', (m) => {
      if (m.type !== 'ack') return;
      const p = pending.get(m.id);
      if (--p.left === 0) {
        pending.delete(m.id);
        p.resolve(performance.now());
      }
    });
  }
  const publish = (make) => {
    const id = nextId++;
    const acked = new Promise((resolve) => pending.set(id, { left: workers.length, resolve }));
    const t0 = performance.now();
    make(id);
    const posted = performance.now();
    return acked.then((t) => ({ postMs: posted - t0, ackMs: t - t0 }));
  };
  const ways = {
    clone: (id) => {
      for (const w of workers) w.postMessage({ type: 'routes-clone', id, routes });
    },
    json: (id) => {
      const json = JSON.stringify(routes);
      for (const w of workers) w.postMessage({ type: 'routes-json', id, json });
    },
    sab: (id) => {
      const bytes = new TextEncoder().encode(JSON.stringify(routes));
      const sab = new SharedArrayBuffer(bytes.length);
      new Uint8Array(sab).set(bytes);
      for (const w of workers) w.postMessage({ type: 'routes-sab', id, sab, length: bytes.length });
    },
  };
  const load = () => execFileSync('uptime').toString().trim();
  const out = { node: process.version, tenants: routes.length, uptimeBefore: load(), full: {}, jsonBytes: JSON.stringify(routes).length };
  const samples = { clone: [], json: [], sab: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const [name, make] of Object.entries(ways)) samples[name].push(await publish(make));
  }
  for (const [name, xs] of Object.entries(samples)) {
    out.full[name] = { postMsMedian: med(xs.slice(3).map((x) => x.postMs)), ackMsMedian: med(xs.slice(3).map((x) => x.ackMs)), ackMsMax: Math.max(...xs.slice(3).map((x) => x.ackMs)) };
  }
  const flips = [];
  for (let i = 0; i < Number(values.flips); i++) {
    const route = routes[i % routes.length];
    flips.push(await publish((id) => {
      for (const w of workers) w.postMessage({ type: 'route', id, route });
    }));
  }
  const f = flips.slice(50).map((x) => x.ackMs).sort((a, b) => a - b);
  out.oneTenant = { ackMsMedian: med(f), ackMsP99: f[Math.floor(f.length * 0.99)], postMsMedian: med(flips.slice(50).map((x) => x.postMs)) };
  out.health = {};
  for (const batched of [true, false]) out.health[batched ? 'batchPerTick' : 'messagePerTrip'] = await health(workers, batched, Number(values['health-ms']));
  out.uptimeAfter = load();
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  process.exit(0);
}

async function health(workers, batched, ms) {
  let messages = 0;
  let trips = 0;
  const on = (m) => {
    if (m.type !== 'trips') return;
    messages++;
    trips += m.trips.length; // what OutlierDetector.report would get per trip: a Map read and a store
  };
  for (const w of workers) w.on('message', on);
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  for (const w of workers) w.postMessage({ type: 'health', batched, perTick: 20 });
  await new Promise((r) => setTimeout(r, ms));
  for (const w of workers) w.postMessage({ type: 'stop-health' });
  const elu = performance.eventLoopUtilization(elu0);
  const cpu = process.cpuUsage(cpu0);
  for (const w of workers) w.off('message', on);
  return { messagesPerSec: Math.round((messages * 1000) / ms), tripsPerSec: Math.round((trips * 1000) / ms), mainThreadElu: Number(elu.utilization.toFixed(3)), processCpuMs: Math.round((cpu.user + cpu.system) / 1000) };
}

function med(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.floor(s.length / 2)].toFixed(3));
}
