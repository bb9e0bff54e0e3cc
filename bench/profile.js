/**
 * Issue 5: where does each proxy spend its CPU per request? Runs drproxy and the bare undici
 * proxy, one after the other, under the same wrk load with `node --cpu-prof`, then prints the
 * self time per request of the top functions and per area (drproxy, undici, Node's http/net
 * internals, GC, …) side by side.
 *
 *   node bench/profile.js [--duration 10] [--connections 64] [--top 40] [--targets drproxy,bare-undici]
 *                         [--mode cpu|alloc]
 *
 * `--mode alloc` samples allocations instead (bench/heap-sample.js, objects collected by GC
 * included) and prints bytes allocated per request by function: what the GC has to clean up.
 *
 * The proxies are pinned to CPU 0, the upstream and wrk to CPU 1. Profiles are written to
 * bench/out/profile/ (open them in Chrome DevTools for the call trees).
 */
import path from 'node:path';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as L from './lib.js';
import { proxyArgs } from './throughput.js';

const HOST = 'bench.local';

const { values: a } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    top: { type: 'string', default: '40' },
    targets: { type: 'string', default: 'drproxy,bare-undici' },
    mode: { type: 'string', default: 'cpu' },
  },
});
const duration = Number(a.duration);
const connections = Number(a.connections);
const top = Number(a.top);
const alloc = a.mode === 'alloc';
const WARMUP_S = 3;

/** Bytes allocated per (function, location) in one sampling heap profile. */
function selfBytes(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const size = new Map();
  for (const s of prof.samples) size.set(s.nodeId, (size.get(s.nodeId) ?? 0) + s.size);
  const self = new Map();
  const walk = (n) => {
    const cf = n.callFrame;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    const b = size.get(n.id) ?? 0;
    if (b) self.set(key, (self.get(key) ?? 0) + b);
    for (const c of n.children ?? []) walk(c);
  };
  walk(prof.head);
  return self;
}

/** Self time in µs per (function, location) of one .cpuprofile. */
function selfTimes(file) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]);
    const dt = prof.timeDeltas[i] ?? 0;
    const cf = n.callFrame;
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return self;
}

function shortUrl(url) {
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  if (u.startsWith(L.ROOT)) return u.slice(L.ROOT.length + 1);
  return u;
}

function area(key) {
  if (key.startsWith('(garbage collector)')) return 'GC';
  if (key.startsWith('(idle)')) return 'idle';
  if (key.startsWith('(program)')) return 'program (native, unattributed)';
  if (/ dist\//.test(key)) return 'drproxy';
  if (/ bench\//.test(key)) return 'bench script';
  if (/ undici\//.test(key)) return 'undici';
  if (/ prom-client\//.test(key)) return 'prom-client';
  if (/ node:(_http|http)/.test(key)) return 'node http';
  if (/ node:(net|stream|internal\/stream|internal\/streams)/.test(key)) return 'node net/streams';
  if (/ node:/.test(key)) return 'node other';
  return 'native/builtins';
}

/** Allocation sampling over one wrk measurement: SIGWINCH starts it, SIGUSR2 writes it. */
async function sampleAllocations(child, port, heapOut) {
  process.kill(child.pid, 'SIGWINCH');
  await L.sleep(200);
  const r = await L.runWrk({ port, host: HOST, connections, duration });
  process.kill(child.pid, 'SIGUSR2');
  const deadline = Date.now() + 30_000;
  while (!existsSync(heapOut)) {
    if (Date.now() > deadline) throw new Error(`no heap profile at ${heapOut}`);
    await L.sleep(100);
  }
  await L.sleep(500); // let the write finish
  return r;
}

async function profileOne(name, up) {
  const dir = path.join(L.OUT_DIR, 'profile', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tmp = L.tempDir('drproxy-bench-prof-');
  const port = await L.freePort();
  const heapOut = path.join(dir, 'alloc.heapprofile');
  const prof = alloc ? ['--import', path.join(L.BENCH_DIR, 'heap-sample.js')] : ['--cpu-prof', '--cpu-prof-dir', dir];
  const env = alloc ? { HEAP_OUT: heapOut } : undefined;
  const child = L.spawnPinned(process.execPath, [...prof, ...proxyArgs(name, { port, up, dir: tmp })], { cpu: L.CPU_PROXY, env });
  await L.waitForListen(port, { child });
  await L.waitForStatus(port, { host: HOST, child });
  const warm = await L.runWrk({ port, host: HOST, connections, duration: WARMUP_S });
  const r = alloc ? await sampleAllocations(child, port, heapOut) : await L.runWrk({ port, host: HOST, connections, duration });
  await L.stopChild(child, { graceMs: 10_000 });
  if (alloc) {
    L.log(`${name}: ${L.fmt(r.rps)} req/s, ${r.total} requests sampled`);
    return { name, rps: r.rps, p99: r.p99, requests: r.total, self: selfBytes(heapOut) };
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`${name}: no profile written`);
  const requests = warm.total + r.total;
  L.log(`${name}: ${L.fmt(r.rps)} req/s, ${requests} requests profiled`);
  return { name, rps: r.rps, p99: r.p99, requests, self: selfTimes(path.join(dir, file)) };
}

L.pinSelf(L.CPU_LOAD);
const up = await L.startUpstream({ count: 2, site: 'primary' });
const results = [];
try {
  for (const t of a.targets.split(',')) results.push(await profileOne(t, up));
} finally {
  await L.stopChild(up.child);
}

const perReq = (r, us) => us / r.requests;
const lines = [];
const unit = alloc ? 'bytes allocated' : 'µs, self time';
lines.push(`### ${alloc ? 'Allocation' : 'CPU'} per request (${unit}; wrk ${connections} connections, ${duration} s${alloc ? '' : ' + 3 s warm-up'})`, '');
lines.push(`| | ${results.map((r) => r.name).join(' | ')} |`);
lines.push(`|---|${results.map(() => '---:').join('|')}|`);
lines.push(`| req/s | ${results.map((r) => L.fmt(r.rps)).join(' | ')} |`);
lines.push(`| p99 ms | ${results.map((r) => L.fmt(r.p99, 2)).join(' | ')} |`);
const areas = new Set();
const areaSums = results.map((r) => {
  const m = new Map();
  for (const [k, us] of r.self) {
    const ar = area(k);
    areas.add(ar);
    m.set(ar, (m.get(ar) ?? 0) + us);
  }
  return m;
});
for (const ar of [...areas].sort()) {
  if (ar === 'idle') continue;
  lines.push(`| ${ar} | ${results.map((r, i) => L.fmt(perReq(r, areaSums[i].get(ar) ?? 0), 2)).join(' | ')} |`);
}
lines.push(`| **busy total** | ${results.map((r, i) => L.fmt(perReq(r, [...areaSums[i]].filter(([k]) => k !== 'idle').reduce((s, [, v]) => s + v, 0)), 2)).join(' | ')} |`);
lines.push('');
lines.push(`Top ${top} functions by ${alloc ? 'bytes allocated' : 'self time (µs)'} per request:`, '');
lines.push(`| function | ${results.map((r) => r.name).join(' | ')} |`);
lines.push(`|---|${results.map(() => '---:').join('|')}|`);
const keys = new Set();
for (const r of results) for (const k of r.self.keys()) keys.add(k);
const rows = [...keys]
  .filter((k) => !k.startsWith('(idle)'))
  .map((k) => ({ k, v: results.map((r) => perReq(r, r.self.get(k) ?? 0)) }))
  .sort((x, y) => Math.max(...y.v) - Math.max(...x.v))
  .slice(0, top);
for (const row of rows) lines.push(`| \`${row.k}\` | ${row.v.map((v) => L.fmt(v, 2)).join(' | ')} |`);
const md = lines.join('\n');
process.stdout.write(`${md}\n`);
L.writeOut(alloc ? 'profile-alloc.md' : 'profile.md', md);
