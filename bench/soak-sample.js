/**
 * What the soak (bench/soak.js) watches while it runs: drproxy's RSS and open file descriptors
 * (/proc), a few of its /metrics counters, and each tenant's epoch both as drproxy reports it
 * (GET /status) and as committed in its state directory (read from outside, through the
 * journal: lib.js committedStates). Also the soak's admin client: one keep-alive connection,
 * `Host: 127.0.0.1:PORT` (an admin Host allow-list accepts its own address), few calls.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Client } from 'undici';
import * as L from './lib.js';

/** Open file descriptors of a process (NaN once it is gone). */
export function openFds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** {inode: {local, remote, state}} of the TCP sockets in /proc/PID/net/tcp (ports only). */
function tcpByInode(pid) {
  const out = new Map();
  for (const f of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10) continue;
      const port = (x) => parseInt(x.slice(x.lastIndexOf(':') + 1), 16);
      out.set(c[9], { local: port(c[1]), remote: port(c[2]), state: c[3] });
    }
  }
  return out;
}

/**
 * drproxy's open file descriptors by kind: listening sockets, client connections (data plane),
 * admin connections, connections to the upstreams, other sockets, and the rest (files, pipes,
 * epoll, eventfd...). `ports`: {data, admin, upstream: Set}.
 */
export function fdKinds(pid, ports) {
  const kinds = { listen: 0, client: 0, admin: 0, upstream: 0, otherSocket: 0, other: 0 };
  let fds = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const tcp = tcpByInode(pid);
  for (const fd of fds) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    const t = m && tcp.get(m[1]);
    if (!m) kinds.other++;
    else if (!t) kinds.otherSocket++;
    else if (t.state === '0A') kinds.listen++;
    else if (t.local === ports.data) kinds.client++;
    else if (t.local === ports.admin) kinds.admin++;
    else if (ports.upstream.has(t.remote)) kinds.upstream++;
    else kinds.otherSocket++;
  }
  return kinds;
}

/** drproxy's admin API as the soak uses it. Every call is counted; none throws. */
export class AdminClient {
  constructor(port, { viewer, operator }) {
    this.port = port;
    this.tokens = { viewer, operator };
    this.client = new Client(`http://127.0.0.1:${port}`, { pipelining: 1, keepAliveTimeout: 10_000 });
    this.calls = 0;
    this.errors = [];
  }

  /** {status, body} (body parsed when JSON) or {error}. */
  async call(method, path, { role = 'viewer', body, timeoutMs = 10_000 } = {}) {
    this.calls++;
    const headers = { host: `127.0.0.1:${this.port}` };
    if (role) headers.authorization = `Bearer ${this.tokens[role]}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const res = await this.client.request({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body), headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      const text = await res.body.text();
      let parsed = text;
      if (String(res.headers['content-type'] ?? '').startsWith('application/json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          /* keep the text */
        }
      }
      if (res.statusCode >= 400) this.noteError(`${method} ${path}: ${res.statusCode} ${typeof parsed === 'object' ? parsed.error : ''}`);
      return { status: res.statusCode, body: parsed };
    } catch (err) {
      this.noteError(`${method} ${path}: ${err.code ?? err.message}`);
      return { error: err.code ?? err.message };
    }
  }

  noteError(text) {
    if (this.errors.length < 200) this.errors.push({ at: L.wall(), text });
  }

  close() {
    return this.client.destroy().catch(() => {});
  }
}

/** Sum of every series of each metric named in `names`, from Prometheus text. */
export function metricSums(text, names) {
  const out = {};
  for (const line of String(text).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const brace = line.indexOf('{');
    const name = brace !== -1 && brace < sp ? line.slice(0, brace) : line.slice(0, sp);
    if (!names.includes(name)) continue;
    out[name] = (out[name] ?? 0) + Number(line.slice(sp + 1));
  }
  return out;
}

const METRICS = [
  'drproxy_requests_total',
  'drproxy_upstream_retries_total',
  'drproxy_failovers_total',
  'drproxy_backend_ejections_total',
  'drproxy_requests_held',
  'nodejs_heap_size_used_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'process_open_fds',
];

/** Per tenant {epoch, active, phase, primaryUp} from a /status body. */
function tenantsOf(body, primaries) {
  const out = {};
  for (const t of body?.tenants ?? []) {
    const primary = t.sites?.find((s) => s.name === primaries[t.name]);
    // Each primary backend's active-check state, and whether passive health ejected it.
    const backends = (primary?.backends ?? []).map((b) => `${b.state}${b.ejected ? '+ejected' : ''}${b.drained ? '+drained' : ''}`).join(',');
    out[t.name] = { epoch: t.epoch, active: t.active, phase: t.phase, fenced: t.fenced, primaryUp: Boolean(primary?.available), primaryBackends: backends };
  }
  return out;
}

/**
 * Samples drproxy every `everyMs`: /proc always, /status always, /metrics every
 * `metricsEvery` samples, the state directory always. `pollStatus()` takes one more /status
 * reading at once (the fault schedule waits on it), recorded in the same epoch series.
 */
export class Sampler {
  constructor({ pid, admin, stateDir, primaries, start, everyMs = 1000, metricsEvery = 5 }) {
    Object.assign(this, { pid, admin, stateDir, primaries, start, everyMs, metricsEvery });
    this.samples = [];
    this.statusSeries = [];
    this.stateSeries = [];
    this.latest = {};
    this.n = 0;
    this.stopped = false;
  }

  rel(t = L.wall()) {
    return (t - this.start) / 1000;
  }

  async pollStatus() {
    const r = await this.admin.call('GET', '/status');
    if (r.status !== 200 || typeof r.body !== 'object') return undefined;
    const tenants = tenantsOf(r.body, this.primaries);
    this.latest = tenants;
    this.statusSeries.push({ t: this.rel(), tenants });
    return tenants;
  }

  async sampleOnce() {
    const t = this.rel();
    let rss = NaN;
    try {
      rss = L.rssMb(this.pid);
    } catch {
      /* gone */
    }
    let cpu = NaN;
    try {
      cpu = L.cpuSeconds(this.pid);
    } catch {
      /* gone */
    }
    // cpu: drproxy's user + system seconds so far, a cost that other processes on the machine do not inflate.
    const s = { t, rss, fds: openFds(this.pid), cpu };
    if (this.n++ % this.metricsEvery === 0) {
      const m = await this.admin.call('GET', '/metrics', { role: null });
      if (m.status === 200) s.metrics = metricSums(m.body, METRICS);
    }
    // The fault schedule polls /status while it waits: no second call in the same second.
    if (!(this.rel() - (this.statusSeries.at(-1)?.t ?? -Infinity) < 0.9)) await this.pollStatus();
    const states = await L.committedStates(this.stateDir).catch(() => []);
    this.stateSeries.push({ t, tenants: Object.fromEntries(states.map((x) => [x.tenant, { epoch: x.epoch, active: x.active, phase: x.phase }])) });
    this.samples.push(s);
    return s;
  }

  begin() {
    const loop = async () => {
      while (!this.stopped) {
        const t0 = L.wall();
        await this.sampleOnce();
        await L.sleep(Math.max(0, this.everyMs - (L.wall() - t0)));
      }
    };
    this.done = loop();
  }

  async stop() {
    this.stopped = true;
    await this.done;
  }
}

/**
 * Epochs per tenant never decreased along a series [{t, tenants: {name: {epoch}}}]: returns
 * {monotonic, readings, decreases: [{tenant, t, from, to}]}.
 */
export function epochCheck(series) {
  const last = {};
  const decreases = [];
  let readings = 0;
  for (const { t, tenants } of series) {
    for (const [name, x] of Object.entries(tenants)) {
      if (!Number.isFinite(x.epoch)) continue;
      readings++;
      if (last[name] !== undefined && x.epoch < last[name]) decreases.push({ tenant: name, t, from: last[name], to: x.epoch });
      last[name] = Math.max(last[name] ?? 0, x.epoch);
    }
  }
  return { monotonic: decreases.length === 0, readings, decreases, final: last };
}
