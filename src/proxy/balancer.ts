/**
 * Load balancing over the routable backends of the active site. A balancer is built with each
 * route (so its inputs never change under it) and picks in O(1) for round robin, O(n) for
 * least-outstanding with n the (small) number of backends in a site.
 */
import type { BalanceAlgorithm } from '../config/types.js';
import type { Backend } from './backend.js';

export interface Balancer {
  /** A backend, avoiding `not` when another one exists; undefined when there is none. */
  pick(not?: Backend): Backend | undefined;
}

const EMPTY: Balancer = { pick: () => undefined };

export function createBalancer(algorithm: BalanceAlgorithm, backends: readonly Backend[]): Balancer {
  if (backends.length === 0) return EMPTY;
  if (backends.length === 1) {
    const only = backends[0]!;
    return { pick: () => only };
  }
  return algorithm === 'least_outstanding' ? new LeastOutstanding(backends) : new RoundRobin(backends);
}

/**
 * Weighted round robin. The order is precomputed with nginx's smooth weighted round robin, so
 * that weights 5:1:1 give a a b a c a a… rather than five a's in a row, and picking is one
 * array read.
 */
export class RoundRobin implements Balancer {
  private readonly order: Backend[];
  private next = 0;

  constructor(backends: readonly Backend[]) {
    this.order = smoothWeightedOrder(backends);
    this.next = Math.floor(Math.random() * this.order.length);
  }

  pick(not?: Backend): Backend | undefined {
    const order = this.order;
    let b = order[this.next]!;
    this.next = this.next + 1 === order.length ? 0 : this.next + 1;
    if (b === not) {
      for (let i = 0; i < order.length && b === not; i++) {
        b = order[this.next]!;
        this.next = this.next + 1 === order.length ? 0 : this.next + 1;
      }
    }
    return b;
  }
}

export function smoothWeightedOrder(backends: readonly Backend[]): Backend[] {
  const weights = backends.map((b) => b.weight);
  const g = weights.reduce(gcd);
  const w = weights.map((x) => x / g);
  const total = w.reduce((a, b) => a + b, 0);
  const current = w.map(() => 0);
  const order: Backend[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < w.length; i++) {
      current[i]! += w[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    order.push(backends[best]!);
  }
  return order;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Fewest in-flight requests per unit of weight; ties go round robin. */
export class LeastOutstanding implements Balancer {
  private start = 0;
  constructor(private readonly backends: readonly Backend[]) {}

  pick(not?: Backend): Backend | undefined {
    const list = this.backends;
    const n = list.length;
    this.start = this.start + 1 >= n ? 0 : this.start + 1;
    let best: Backend | undefined;
    let bestLoad = Infinity;
    for (let k = 0; k < n; k++) {
      const b = list[(this.start + k) % n]!;
      if (b === not) continue;
      const load = b.outstanding / b.weight;
      if (load < bestLoad) {
        best = b;
        bestLoad = load;
      }
    }
    return best ?? not;
  }
}
