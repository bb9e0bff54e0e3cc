/**
 * A steady request load against the proxy (127.0.0.1 only), bounded in time, recording every
 * request: when it was sent and answered, its status, which site answered and with which epoch.
 */
import { Pool } from 'undici';

export interface Sample {
  sentAt: number;
  doneAt: number;
  status: number;
  site?: string;
  epoch?: string;
  error?: string;
  method: string;
}

export interface LoadOptions {
  url: string;
  host: string;
  /** Requests per second. */
  rate?: number;
  path?: string;
  methods?: string[];
  /** Stop after this long at most (ms). */
  maxMs?: number;
}

export interface Load {
  samples: Sample[];
  /** Stop sending and wait for every request in flight. */
  stop(): Promise<Sample[]>;
}

export function startLoad(opts: LoadOptions): Load {
  const rate = opts.rate ?? 1000;
  const methods = opts.methods ?? ['GET'];
  const pool = new Pool(opts.url, { connections: 1024, pipelining: 1 });
  const samples: Sample[] = [];
  const pending = new Set<Promise<void>>();
  const t0 = Date.now();
  let sent = 0;
  let stopped = false;
  const tickMs = 5;
  const perTick = rate * (tickMs / 1000);
  // A raw undici dispatch handler per request: no promise, no body stream, no JSON parse (the
  // upstream names the epoch it saw in a header). This process shares two cores with drproxy
  // and the upstreams; the lighter it is, the less the timing tests measure it.
  const one = (method: string): Promise<void> =>
    new Promise<void>((resolve) => {
      const s: Sample = { sentAt: Date.now(), doneAt: 0, status: 0, method };
      const done = (error?: Error) => {
        if (error) s.error = error.message;
        s.doneAt = Date.now();
        samples.push(s);
        resolve();
      };
      const handler = {
        onConnect() {},
        onHeaders(status: number, raw: Buffer[]) {
          s.status = status;
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i]!.toString('latin1').toLowerCase();
            if (name === 'x-site') s.site = raw[i + 1]!.toString('latin1');
            else if (name === 'x-seen-epoch' && raw[i + 1]!.length > 0) s.epoch = raw[i + 1]!.toString('latin1');
          }
          return true;
        },
        onData() {
          return true;
        },
        onComplete() {
          done();
        },
        onError(err: Error) {
          done(err);
        },
      };
      pool.dispatch({ path: opts.path ?? '/', method, headers: { host: opts.host }, headersTimeout: 15_000, bodyTimeout: 15_000 }, handler as unknown as Parameters<Pool['dispatch']>[1]);
    });
  const timer = setInterval(() => {
    if (stopped) return;
    if (Date.now() - t0 > (opts.maxMs ?? 20_000)) {
      stopped = true;
      return;
    }
    const due = Math.floor(((Date.now() - t0) / tickMs + 1) * perTick) - sent;
    for (let i = 0; i < due; i++) {
      const p = one(methods[sent % methods.length]!);
      sent++;
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
  }, tickMs);
  return {
    samples,
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (pending.size > 0) await Promise.all([...pending]);
      await pool.close();
      return samples;
    },
  };
}

export function failures(samples: Sample[]): Sample[] {
  return samples.filter((s) => s.status !== 200);
}
