/**
 * The main thread's fold of the workers' per-tenant traffic (worker-traffic.ts): reports of the
 * tenants that moved arrive between scrapes, and a scrape's answers are folded only once every
 * worker answered, so an answer read before a report may be folded after it. Counters never go
 * down (the older record is skipped), nothing is counted twice, and `held` is the live workers' sum.
 */
import { describe, expect, it } from 'vitest';
import { TenantTraffic } from '../src/metrics/traffic.js';
import { LatencyCounts } from '../src/request-latency.js';
import { REQUEST_BUCKETS } from '../src/metrics/index.js';
import { TrafficFold, WorkerTraffic } from '../src/workers/worker-traffic.js';

const bounds = Float64Array.from(REQUEST_BUCKETS);

function answered(w: WorkerTraffic, n: number, held = 0): void {
  const t = w.of('t');
  t.byClass[1]! += n;
  t.own.count += n;
  t.held = held;
}

describe('TrafficFold', () => {
  it('skips a worker record older than one already folded, and sums held over the live workers', () => {
    const main = new TenantTraffic('t', new LatencyCounts(bounds));
    const fold = new TrafficFold((name) => (name === 't' ? main : undefined));
    const w1 = new WorkerTraffic();
    const w2 = new WorkerTraffic();
    answered(w1, 3, 1);
    const scrapeAnswer = w1.counts(); // read by a scrape, folded only later
    answered(w1, 2, 2);
    fold.fold(new Map([['w1', w1.moved()!]])); // a report read after it, folded first
    expect(main.byClass[1]).toBe(5);
    fold.fold(new Map([['w1', scrapeAnswer]]));
    expect(main.byClass[1]).toBe(5);
    expect(main.latency.count).toBe(5);
    expect(w1.moved()).toBeUndefined(); // nothing moved since
    answered(w2, 4, 3);
    fold.fold(new Map([['w1', w1.counts()], ['w2', w2.counts()]]));
    expect(main.byClass[1]).toBe(9);
    expect(main.held).toBe(5);
    fold.forget('w2');
    expect(main.byClass[1]).toBe(9); // what an exited worker counted stays
    expect(main.held).toBe(2);
  });
});
