import { pathToFileURL } from 'node:url';
/**
 * Shared helpers of the benchmarks: pinned child processes (and their cleanup on any exit),
 * free ports, readiness polling, /proc readings, load generators (autocannon, wrk) and stats.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..');
export const OUT_DIR = path.join(BENCH_DIR, 'out');
export const DRPROXY_CLI = path.join(ROOT, 'dist', 'cli.js');
const AUTOCANNON_CLI = path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');

export const wall = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// CPU pinning

function which(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}

const CPUS = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
export const HAS_TASKSET = which('taskset');
export const HAS_WRK = which('wrk');
/** valgrind's callgrind and its control tool (bench/instructions.js, bench/probe-instructions.js). */
export const HAS_CALLGRIND = which('valgrind') && which('callgrind_control');
/** Proxy on CPU 0, upstream and load generator on CPU 1, when there are two CPUs and taskset. */
export const PINNED = HAS_TASKSET && CPUS >= 2;
export const CPU_PROXY = '0';
export const CPU_LOAD = '1';

/** Pin this process (all its threads) to `cpu`. */
export function pinSelf(cpu) {
  if (!PINNED) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
  } catch {
    /* not fatal */
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes, always cleaned up

const children = new Set();

function killAllNow() {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(c.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  children.clear();
}

let handlersInstalled = false;
function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      killAllNow();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    killAllNow();
    process.exit(1);
  });
}

/**
 * Spawn a command, pinned to `cpu` with taskset when pinning is possible. The returned child's
 * pid is the command's own (taskset execs it).
 */
export function spawnPinned(cmd, args, { cpu, ipc = false, env, stdout = 'pipe', stderr = 'pipe', cwd = ROOT } = {}) {
  installHandlers();
  const [file, argv] = PINNED && cpu !== undefined ? ['taskset', ['-c', cpu, cmd, ...args]] : [cmd, args];
  const stdio = ['ignore', stdout, stderr];
  if (ipc) stdio.push('ipc');
  const child = spawn(file, argv, { stdio, env: { ...process.env, ...env }, cwd });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // Keep the last lines of output for error messages.
  child.tail = [];
  const keep = (d) => {
    child.tail.push(String(d));
    if (child.tail.length > 20) child.tail.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

export function spawnNode(script, args, opts = {}) {
  return spawnPinned(process.execPath, [script, ...args], opts);
}

export function alive(child) {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM (or `signal`), then SIGKILL after `graceMs`. Resumes a stopped process first. */
export async function stopChild(child, { signal = 'SIGTERM', graceMs = 3000 } = {}) {
  if (!child || !alive(child)) return;
  try {
    process.kill(child.pid, 'SIGCONT');
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }, graceMs);
  await child.exitPromise;
  clearTimeout(t);
}

/** The next IPC message of `child` that satisfies `pred`. */
export function nextMessage(child, pred, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (!pred(m)) return;
      cleanup();
      resolve(m);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`child ${child.pid} exited while waiting for a message: ${child.tail.join('')}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${child.pid}: no message within ${timeoutMs}ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMsg);
      child.off('exit', onExit);
    };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

/** Start bench/upstream.js with `count` listeners (or the given ports) answering as `site`. */
export async function startUpstream({ count = 1, ports, site = 'upstream', cpu = CPU_LOAD, backlog } = {}) {
  const args = ['--site', site];
  if (backlog !== undefined) args.push('--backlog', String(backlog));
  if (ports) args.push('--ports', ports.join(','));
  else args.push('--count', String(count));
  const child = spawnNode(path.join(BENCH_DIR, 'upstream.js'), args, { cpu, ipc: true });
  const ready = await nextMessage(child, (m) => m?.type === 'ready');
  return {
    child,
    pid: child.pid,
    ports: ready.ports,
    site,
    async stats() {
      child.send({ type: 'stats' });
      return nextMessage(child, (m) => m?.type === 'stats', 5000);
    },
    async setStatus(status) {
      const ack = nextMessage(child, (m) => m?.type === 'mode', 5000);
      child.send({ type: 'mode', status });
      return ack;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Ports and readiness

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when a TCP connection to 127.0.0.1:port succeeds; polls every `everyMs`. */
export async function waitForListen(port, { timeoutMs = 60_000, everyMs = 5, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child && !alive(child)) throw new Error(`process ${child.pid} exited before listening: ${child.tail.join('')}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs}ms`);
    await sleep(everyMs);
  }
}

/** One GET on a fresh connection: {status, headers} or {error}. */
export function httpGet(port, { host, path: p = '/', timeoutMs = 2000 } = {}) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers: host ? { host } : {}, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

/** Poll until a GET answers `status` (default 200); returns the time it took (ms). */
export async function waitForStatus(port, { host, status = 200, timeoutMs = 60_000, everyMs = 10, child } = {}) {
  const t0 = performance.now();
  let last;
  for (;;) {
    last = await httpGet(port, { host });
    if (last.status === status) return performance.now() - t0;
    if (child && !alive(child)) throw new Error(`process ${child.pid} exited: ${child.tail.join('')}`);
    if (performance.now() - t0 > timeoutMs) throw new Error(`port ${port} host ${host}: no ${status} after ${timeoutMs}ms (last: ${JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// drproxy

export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  installHandlers();
  process.on('exit', () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  });
  return dir;
}

/**
 * Start drproxy on `configFile`, pinned to the proxy CPU; resolves once its port accepts. `cli`:
 * another build's dist/cli.js, to compare two builds in one run.
 */
export async function startDrproxy(configFile, port, { cpu = CPU_PROXY, timeoutMs = 120_000, cli = DRPROXY_CLI, env } = {}) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const t0 = performance.now();
  const child = spawnNode(cli, ['--config', configFile], { cpu, env });
  await waitForListen(port, { timeoutMs, child });
  return { child, pid: child.pid, port, listenMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// /proc

let clkTck;
function clockTicks() {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Resident set size in MB, from /proc/PID/status (VmRSS). */
export function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** User + system CPU time of a process in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** Busy and total jiffies of each CPU, from /proc/stat: [{busy, total}, …]. */
export function cpuTimes() {
  const out = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2].split(/\s+/).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    // Field 8 is steal: time the hypervisor ran something else while this vCPU wanted to run.
    out[Number(m[1])] = { busy: total - f[3] - f[4], total, steal: f[7] ?? 0 };
  }
  return out;
}

/** Steal fraction of each CPU between two cpuTimes() readings (the VM's host taking the CPU). */
export function cpuSteal(a, b) {
  return b.map((x, i) => (x.total - a[i].total > 0 ? (x.steal - a[i].steal) / (x.total - a[i].total) : NaN));
}

/** Busy fraction of each CPU between two cpuTimes() readings. */
export function cpuBusy(a, b) {
  return b.map((x, i) => (x.total - a[i].total > 0 ? (x.busy - a[i].busy) / (x.total - a[i].total) : NaN));
}

/**
 * Run `node ...nodeArgs` under valgrind's callgrind, pinned to the proxy CPU, counting nothing
 * until `callgrindControl(child, '-i', 'on')`; its output goes to `outFile` (dumps to
 * `outFile.1`, `outFile.2`, …).
 */
export function spawnCallgrind(outFile, nodeArgs, { cwd } = {}) {
  return spawnPinned('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${outFile}`, process.execPath, ...nodeArgs], { cpu: CPU_PROXY, cwd });
}

/** One `callgrind_control` command to a process under callgrind (`-i on`, `-i off`, `-d [reason]`). */
export function callgrindControl(child, ...args) {
  execFileSync('callgrind_control', [...args, String(child.pid)], { stdio: 'ignore' });
}

/** The paths of the numbered dumps `outFile.1` … `outFile.count`, once all exist (polled). */
export async function callgrindDumps(outFile, count, { timeoutMs = 30_000 } = {}) {
  const dir = path.dirname(outFile);
  const prefix = `${path.basename(outFile)}.`;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const dumps = readdirSync(dir)
      .filter((x) => x.startsWith(prefix))
      .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
    if (dumps.length >= count) return dumps.slice(0, count).map((f) => path.join(dir, f));
    if (performance.now() > deadline) throw new Error(`${dumps.length} callgrind dumps of ${outFile} after ${timeoutMs} ms, ${count} expected`);
    await sleep(100);
  }
}

/**
 * Instructions counted in one callgrind output file (all threads): its `totals:` line. Its
 * `summary:` line repeats the count for a dump taken while counting, and reads 0 for one taken
 * after `callgrind_control -i off`: never add both.
 */
export function callgrindInstructions(file) {
  let summary = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^(totals|summary):\s+(\d+)/.exec(line);
    if (m?.[1] === 'totals') return Number(m[2]);
    if (m) summary = Number(m[2]);
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Load generators

/**
 * Run autocannon (its CLI, in a child pinned to the load CPU) against 127.0.0.1:port.
 * Returns {rps, p50, p99, total, errors, non2xx} (latencies in ms).
 */
export async function runAutocannon({ port, host, connections = 64, duration = 10, path: p = '/', cpu = CPU_LOAD, rate }) {
  const args = [AUTOCANNON_CLI, '-c', String(connections), '-d', String(duration), '-n', '--json', '-t', '10'];
  if (host) args.push('-H', `host=${host}`);
  if (rate) args.push('-R', String(rate));
  args.push(`http://127.0.0.1:${port}${p}`);
  const child = spawnPinned(process.execPath, args, { cpu });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const guard = setTimeout(() => stopChild(child, { signal: 'SIGKILL' }), (duration + 30) * 1000);
  const { code } = await child.exitPromise;
  clearTimeout(guard);
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`autocannon exited ${code} without a result: ${child.tail.join('')}`);
  const r = JSON.parse(line);
  return {
    tool: 'autocannon',
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    max: r.latency.max,
    total: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

function wrkMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** Run wrk (1 thread) pinned to the load CPU. Same result shape as runAutocannon. `url`: another URL (https:// in bench/tls.js). */
export async function runWrk({ port, host, connections = 64, duration = 10, path: p = '/', cpu = CPU_LOAD, url }) {
  const args = ['-t', '1', '-c', String(connections), '-d', `${duration}s`, '--latency', '--timeout', '10s'];
  if (host) args.push('-H', `Host: ${host}`);
  args.push(url ?? `http://127.0.0.1:${port}${p}`);
  const child = spawnPinned('wrk', args, { cpu });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const guard = setTimeout(() => stopChild(child, { signal: 'SIGKILL' }), (duration + 30) * 1000);
  const { code } = await child.exitPromise;
  clearTimeout(guard);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk exited ${code} without a result: ${out}${child.tail.join('')}`);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? wrkMs(m[1]) : NaN;
  };
  const total = /(\d+) requests in/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const max = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(out);
  return {
    tool: 'wrk',
    rps: Number(rps[1]),
    p50: pct(50),
    p99: pct(99),
    max: max ? wrkMs(max[1]) : NaN,
    total: total ? Number(total[1]) : NaN,
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: non ? Number(non[1]) : 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Stats and output

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile of an unsorted list. */
export function percentile(xs, p) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function minMax(xs) {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length ? [Math.min(...s), Math.max(...s)] : [NaN, NaN];
}

/** Median and [min, max] of a list. */
export function spread(xs) {
  return { median: median(xs), range: minMax(xs) };
}

/**
 * Measure each target `runs` times, interleaved (A B C, A B C, …), then stop the upstream `up`
 * whatever happened. Returns {target: [sample, …]}.
 */
export async function interleavedRuns(targets, runs, up, measure) {
  const samples = Object.fromEntries(targets.map((t) => [t, []]));
  try {
    for (let run = 1; run <= runs; run++) for (const t of targets) samples[t].push(await measure(t, run));
  } finally {
    await stopChild(up.child);
  }
  return samples;
}

export function fmt(x, digits = 0) {
  if (x === undefined || x === null || !Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function machineInfo() {
  const sh = (c) => {
    try {
      return execFileSync('sh', ['-c', c], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    nproc: Number(sh('nproc --all')) || CPUS,
    cpu: sh("lscpu | sed -n 's/^Model name:[ \\t]*//p' | head -1") || os.cpus()[0]?.model,
    memGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: os.release(),
    pinned: PINNED,
    wrk: HAS_WRK,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}

/** Write bench/out/NAME (latest) and a timestamped copy in bench/out/history/. */
export function writeOut(name, data) {
  mkdirSync(path.join(OUT_DIR, 'history'), { recursive: true });
  const text = typeof data === 'string' ? data : `${JSON.stringify(data, null, 2)}\n`;
  const file = path.join(OUT_DIR, name);
  writeFileSync(file, text);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const ext = path.extname(name);
  writeFileSync(path.join(OUT_DIR, 'history', `${path.basename(name, ext)}-${stamp}${ext}`), text);
  return file;
}

/** Parse --flags shared by the scripts. */
export function commonOptions(argv, defaults) {
  const opts = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') opts.quick = true;
    else if (a === '--no-wrk') opts.wrk = false;
    else if (a.startsWith('--') && a.includes('=')) {
      // --key=value: a value that itself starts with -- (--node-args=--max-semi-space-size=8).
      const eq = a.indexOf('=');
      opts[a.slice(2, eq).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = a.slice(eq + 1);
    } else if (a.startsWith('--')) {
      const key = a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) opts[key] = true;
      else {
        opts[key] = Number.isNaN(Number(v)) ? v : Number(v);
        i++;
      }
    }
  }
  return opts;
}

export function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/**
 * Run a benchmark module as a script: when `metaUrl` is the entry point, parse the common
 * options, run, print its markdown, exit 0 (or print the error and exit 1).
 */
export function runMain(metaUrl, name, run, markdown) {
  if (!process.argv[1] || metaUrl !== pathToFileURL(process.argv[1]).href) return;
  const o = commonOptions(process.argv.slice(2), {});
  run(o).then(
    (r) => {
      process.stdout.write(markdown(r));
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${name}: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}

/**
 * The common head of the drproxy configs the benchmarks generate (listeners, state, quiet log).
 * `adminPort`: a fixed admin port (default any); `tokens`: admin tokens, each
 * `{name, role, env}` (the token read from that environment variable); `etcd`: the fields of a
 * `state.etcd` section (clustered mode).
 */
export function configHead(generator, { port, stateDir, adminPort = 0, tokens = [], etcd }) {
  const tokenLines = tokens.length ? `\n  tokens:\n${tokens.map((t) => `    - { name: ${t.name}, role: ${t.role}, token_env: ${t.env} }`).join('\n')}` : '';
  // `etcd`: a state.etcd section (clustered mode, bench/cluster.js), each field as given.
  const etcdLines = etcd ? `\n  etcd:\n${Object.entries(etcd).map(([k, v]) => `    ${k}: ${Array.isArray(v) ? `[${v.join(', ')}]` : v}`).join('\n')}` : '';
  return `# generated by bench/${generator}
listen: 127.0.0.1:${port}
admin:
  listen: 127.0.0.1:${adminPort}${tokenLines}
state:
  dir: ${stateDir}${etcdLines}
log:
  level: warn
`;
}

/** The benchmarks' one tenant: two sites in preference order, each a list of local ports. */
export function twoSiteTenant(host, [first, firstPorts], [second, secondPorts]) {
  const urls = (ports) => ports.map((p) => `http://127.0.0.1:${p}`).join(', ');
  return `tenants:
  bench:
    tier: BC
    hosts: [${host}]
    sites:
      - name: ${first}
        backends: [${urls(firstPorts)}]
      - name: ${second}
        backends: [${urls(secondPorts)}]
`;
}

/**
 * Every tenant's committed state in a drproxy state directory, read from outside while drproxy
 * runs: its file's record, or the journal's when that is newer (a commit not yet in the file).
 * Files caught mid-write are skipped (read them next time). Works on older builds' directories
 * (no journal) too.
 */
export async function committedStates(stateDir) {
  const { readStateFile, committedOf } = await import(pathToFileURL(path.join(ROOT, 'dist', 'state', 'file-store.js')).href);
  const { JOURNAL_FILE, readJournal } = await import(pathToFileURL(path.join(ROOT, 'dist', 'state', 'journal.js')).href);
  let journal = new Map();
  try {
    journal = readJournal(readFileSync(path.join(stateDir, JOURNAL_FILE))).records;
  } catch {
    /* no journal */
  }
  const states = [];
  let names = [];
  try {
    names = readdirSync(path.join(stateDir, 'tenants')).filter((f) => f.endsWith('.json'));
  } catch {
    /* no state yet */
  }
  for (const f of names) {
    const file = path.join(stateDir, 'tenants', f);
    const tenant = f.slice(0, -5);
    try {
      states.push(committedOf(readStateFile(readFileSync(file), file, tenant), journal.get(tenant), path.join(stateDir, JOURNAL_FILE)));
    } catch {
      /* being rewritten */
    }
  }
  // A tenant's first commit may be in the journal only, its file written once the journal is quiet.
  const inFiles = new Set(names.map((f) => f.slice(0, -5)));
  for (const [tenant, j] of journal) {
    if (!inFiles.has(tenant)) states.push(committedOf(undefined, j, path.join(stateDir, JOURNAL_FILE)));
  }
  return states;
}

/**
 * Paired wrk measurements (paired.js, access-log.js): the targets alternate (A B, B A, …, so
 * that neither always goes first), all running all along, and each pair is measured within
 * seconds, so this VM's drift mostly cancels in a pair's ratio. `onPair(m, i)` gets each
 * target's {rps, p99, cpuUs (CPU per request), errors} by name and returns the pair's record.
 */
export async function measurePairs(targets, { pairs, duration, connections, host }, onPair) {
  const out = [];
  for (let i = 0; i < pairs; i++) {
    const order = i % 2 === 0 ? targets : [...targets].reverse();
    const m = {};
    for (const t of order) {
      const cpu0 = cpuSeconds(t.child.pid);
      const r = await runWrk({ port: t.port, host, connections, duration });
      const cpu = cpuSeconds(t.child.pid) - cpu0;
      t.requests = (t.requests ?? 0) + r.total;
      m[t.name] = { rps: r.rps, p99: r.p99, cpuUs: (cpu * 1e6) / r.total, errors: r.errors + r.non2xx };
    }
    out.push(onPair(m, i));
  }
  return out;
}

/** Median, quartiles and range of a list of ratios; `quartilesText` writes them. */
export function quartiles(xs) {
  return { median: median(xs), q1: percentile(xs, 25), q3: percentile(xs, 75), min: Math.min(...xs), max: Math.max(...xs) };
}

export function quartilesText(s) {
  return `${s.median.toFixed(3)} (IQR ${s.q1.toFixed(3)}–${s.q3.toFixed(3)}, range ${s.min.toFixed(3)}–${s.max.toFixed(3)})`;
}
