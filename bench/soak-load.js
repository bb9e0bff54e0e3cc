/**
 * The soak's load (bench/soak.js): an open-loop fixed rate spread evenly over the tenants, each
 * tenant on its own bounded pool of keep-alive connections, a small share of POSTs. Every
 * request's outcome is recorded without keeping a record per request (10 minutes at 1,000 req/s
 * is 600,000): per second and tenant, counts and latencies; every failure in full (up to a cap);
 * and, per tenant, the epoch drproxy stamped on each request as the upstream saw it, checked
 * as it arrives: a request written after an answer carrying a higher epoch had been received
 * must never be routed with a lower one.
 */
import { Pool } from 'undici';
import * as L from './lib.js';

const MAX_FAILURES = 20_000;
const POST_BODY = 'soak\n';

/** A second's counts for one tenant. */
function newBucket() {
  return { sent: 0, ok: 0, failed: 0, posts: 0, postsFailed: 0, primary: 0, backup: 0, lat: [], lagMax: 0 };
}

/** One request's raw undici handler (no promise, no body stream: see bench/failover.js). */
class SoakHandler {
  constructor(rec, done) {
    this.rec = rec;
    this.done = done;
    this.body = null;
  }
  onConnect() {
    // Called as the request is written to its connection (undici client-h1 writeH1).
    this.rec.tw = L.wall();
  }
  onHeaders(status, raw) {
    if (status < 200) return true;
    const rec = this.rec;
    rec.status = status;
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i].toString('latin1').toLowerCase();
      if (k === 'x-upstream-site') rec.site = raw[i + 1].toString('latin1');
      else if (k === 'x-seen-epoch') rec.epoch = Number(raw[i + 1].toString('latin1')) || 0;
      else if (k === 'x-seen-site') rec.seenSite = raw[i + 1].toString('latin1');
    }
    // drproxy's own answers (errors) say why in their body: keep it for the report.
    if (!rec.site) {
      rec.site = 'drproxy';
      this.body = [];
    }
    return true;
  }
  onData(chunk) {
    this.body?.push(chunk);
    return true;
  }
  onComplete() {
    if (this.body) this.rec.msg = Buffer.concat(this.body).toString().slice(0, 160).replace(/\s+/g, ' ');
    this.end();
  }
  onError(err) {
    this.rec.err = err.code ?? err.message;
    this.end();
  }
  end() {
    this.rec.t1 = L.wall();
    this.done(this.rec);
  }
}

/** Epoch bookkeeping of one tenant, from the answers' x-seen-epoch (exported to be checked by hand). */
export function newEpochWatch() {
  return { max: 0, maxAt: 0, seen: new Map(), regressions: [], siteMismatches: 0, mismatchExamples: [] };
}

export function checkEpoch(w, rec, tenant) {
  const e = rec.epoch;
  if (!e) return;
  w.seen.set(e, (w.seen.get(e) ?? 0) + 1);
  if (e > w.max) {
    w.max = e;
    w.maxAt = rec.t1;
  } else if (e < w.max && rec.tw > w.maxAt) {
    if (w.regressions.length < 100) w.regressions.push({ tenant, epoch: e, after: w.max, writtenMsAfter: rec.tw - w.maxAt, site: rec.site, at: rec.t1 });
    else w.regressions.count = (w.regressions.count ?? 100) + 1;
  }
  if (rec.seenSite && rec.site !== 'drproxy' && rec.seenSite !== rec.site) {
    w.siteMismatches++;
    if (w.mismatchExamples.length < 10) w.mismatchExamples.push({ stamped: rec.seenSite, answered: rec.site, epoch: e, at: rec.t1 });
  }
}

/**
 * Start the load: `tenants` [{name, host, primary, backup}] (site names), `rate` req/s in all,
 * `postShare` of them POSTs, `connections` per tenant. `start` is the time origin of the
 * buckets (wall ms).
 */
export function startSoakLoad(port, { tenants, rate, postShare = 0.02, connections = 16, timeoutMs = 15_000, start = L.wall() }) {
  const pools = tenants.map(() => new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1, keepAliveTimeout: 10_000 }));
  const buckets = tenants.map(() => []);
  const watches = tenants.map(() => newEpochWatch());
  const failures = [];
  let failuresDropped = 0;
  let outstanding = 0;
  let sent = 0;
  let stopped = false;
  const postEvery = postShare > 0 ? Math.round(1 / postShare) : 0;
  const t0 = L.wall();

  const bucketOf = (ti, t) => {
    const b = Math.max(0, Math.floor((t - start) / 1000));
    return (buckets[ti][b] ??= newBucket());
  };
  const finish = (ti, rec) => {
    outstanding--;
    const bk = bucketOf(ti, rec.t0);
    const ok = rec.status >= 200 && rec.status < 300 && !rec.err;
    if (ok) {
      bk.ok++;
      bk.lat.push(rec.t1 - rec.t0);
      if (rec.site === tenants[ti].primary) bk.primary++;
      else if (rec.site === tenants[ti].backup) bk.backup++;
    } else {
      if (rec.post) bk.postsFailed++;
      else bk.failed++;
      if (failures.length < MAX_FAILURES) failures.push({ tenant: tenants[ti].name, ...rec, t0: rec.t0, lat: rec.t1 - rec.t0 });
      else failuresDropped++;
    }
    checkEpoch(watches[ti], rec, tenants[ti].name);
  };
  const fire = (n, t) => {
    const ti = n % tenants.length;
    const post = postEvery > 0 && Math.floor(n / tenants.length) % postEvery === postEvery - 1;
    const rec = { t0: t, tw: 0, t1: 0, status: 0, site: '', err: '', epoch: 0, post };
    const bk = bucketOf(ti, t);
    bk.sent++;
    // How late this process dispatches the request: its own lag, not drproxy's.
    bk.lagMax = Math.max(bk.lagMax, L.wall() - t);
    if (post) bk.posts++;
    outstanding++;
    const headers = post ? { host: tenants[ti].host, 'content-type': 'text/plain' } : { host: tenants[ti].host };
    pools[ti].dispatch(
      { path: post ? '/soak/write' : '/soak/read', method: post ? 'POST' : 'GET', headers, body: post ? POST_BODY : undefined, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
      new SoakHandler(rec, (r) => finish(ti, r)),
    );
  };
  const tick = () => {
    if (stopped) return;
    const due = Math.floor(((L.wall() - t0) * rate) / 1000);
    while (sent < due) {
      fire(sent, t0 + (sent * 1000) / rate);
      sent++;
    }
    setTimeout(tick, 1);
  };
  tick();
  return {
    buckets,
    watches,
    failures,
    get failuresDropped() {
      return failuresDropped;
    },
    get outstanding() {
      return outstanding;
    },
    get sent() {
      return sent;
    },
    stop() {
      stopped = true;
    },
    /** Wait (up to `maxMs`) for the requests in flight, then close the pools. */
    async drain(maxMs) {
      const deadline = Date.now() + maxMs;
      while (outstanding > 0 && Date.now() < deadline) await L.sleep(20);
      await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
    },
  };
}
