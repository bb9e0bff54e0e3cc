/**
 * Operator actions (failover, failback, fence, unfence, drill, region drill) sent to a follower, carried out by the
 * leader through etcd and answered once the leader is done (issue 18: "a mutation sent to a
 * follower is carried out by the leader … and answered once committed"). Through etcd, not an
 * HTTP hop to the leader: replicas need no route to each other, and the proposal lives exactly
 * as long as the replica that waits for its answer.
 *
 * Keys (P = state.etcd.prefix):
 *   P/ops/proposals/<id>  the action, put by the follower under its own lease;
 *   P/ops/outcomes/<id>   {state: "running"} claimed by the leader before it acts (a transaction:
 *                     the outcome does not exist yet, and the leader guard), then the answer;
 *                     under the proposer's lease, so both vanish with the replica that waits.
 * A leader that finds a proposal already claimed (its predecessor died carrying it out) does not
 * run it again: a forced failover is never done twice; the proposer is told the outcome is unknown.
 */
import { randomUUID } from 'node:crypto';
import { DrProxyError, type ErrorCode } from '../errors.js';
import type { Compare, EtcdClient, EtcdWatch, KeyValue, WatchEvent } from './etcd.js';

/** `region_drill`: no tenant (its proposal's `tenant` is empty); the leader starts a region drill. */
export type ProposalAction = 'failover' | 'failback' | 'fence' | 'unfence' | 'drill' | 'region_drill';

export interface Proposal {
  id: string;
  tenant: string;
  action: ProposalAction;
  /** The operator request (reason, actor, force, to, site), as the admin route built it. */
  op: Record<string, unknown>;
  /** The follower that received it. */
  replica: string;
}

type Outcome =
  | { state: 'running' }
  | { state: 'done'; ok: true; value: unknown }
  /** `details`: the error's own fields (a refused drill's reasons), so that the follower answers as the leader would. */
  | { state: 'done'; ok: false; code: ErrorCode; message: string; details?: Record<string, unknown> };

/** An error the leader answered a proposal with, as the follower receives it: its code, message and own fields. */
export class ForwardedError extends DrProxyError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(code, message);
  }
}

export interface ProposalsOptions {
  client: Pick<EtcdClient, 'txn' | 'getPrefix' | 'watchPrefix'>;
  prefix: string;
  replicaId: string;
  /** This replica's current lease id (undefined while it has none). */
  lease(): string | undefined;
  /** The leader's guard clauses (LeaderElection.guard()); throws when not leader. */
  guard(): Compare[];
  /** How long a follower waits for the leader's answer, ms. */
  timeoutMs: number;
}

/** Carries out a proposal on the leader: the controller's own operator method. */
export type ProposalHandler = (p: Proposal) => Promise<unknown>;

export class Proposals {
  readonly #o: ProposalsOptions;
  readonly #root: string;
  readonly #waiting = new Map<string, { done: (o: Outcome) => void }>();
  #watch: EtcdWatch | undefined;
  #handler: ProposalHandler | undefined;
  #leading = false;
  /** Proposals this replica claimed, or answered for a leader that is gone (never twice). */
  readonly #handled = new Set<string>();

  constructor(options: ProposalsOptions) {
    this.#o = options;
    this.#root = `${options.prefix.replace(/\/+$/, '')}/ops`;
  }

  /** Watch proposals and outcomes from `fromRevision`; `handler` runs them while this replica leads. */
  start(fromRevision: number, handler: ProposalHandler): void {
    this.#handler = handler;
    this.#watch = this.#o.client.watchPrefix(`${this.#root}/`, fromRevision, {
      onEvents: (events) => this.#onEvents(events),
    });
  }

  /** Leadership changed: a new leader carries out what is pending and unclaimed. */
  async leading(now: boolean): Promise<void> {
    this.#leading = now;
    if (!now) return;
    const [proposals, outcomes] = await Promise.all([this.#o.client.getPrefix(`${this.#root}/proposals/`), this.#o.client.getPrefix(`${this.#root}/outcomes/`)]);
    const claimed = new Set(outcomes.kvs.map((kv) => kv.key.slice(`${this.#root}/outcomes/`.length)));
    const running = new Map(outcomes.kvs.filter((kv) => (JSON.parse(kv.value) as Outcome).state === 'running').map((kv) => [kv.key, kv]));
    for (const kv of proposals.kvs) {
      const id = kv.key.slice(`${this.#root}/proposals/`.length);
      if (!claimed.has(id)) this.#run(kv);
      else if (!this.#handled.has(id)) {
        this.#handled.add(id);
        // Claimed by a leader that is gone: never run twice; tell the proposer what we know.
        const o = running.get(this.#key('outcomes', id));
        if (o) void this.#answer(o.key, o.lease, { state: 'done', ok: false, code: 'DRP_LEADER_CHANGED', message: "the leader changed while carrying out this action: its outcome is unknown; check the tenant's state before trying again" });
      }
    }
  }

  /** Follower: send `action` to the leader and wait for its answer (the leader's result, or its error). */
  async propose(tenant: string, action: ProposalAction, op: Record<string, unknown>): Promise<unknown> {
    const lease = this.#o.lease();
    if (lease === undefined) throw new DrProxyError('DRP_ETCD_LEASE_LOST', 'this replica is not connected to etcd: it cannot send the action to the leader');
    const p: Proposal = { id: randomUUID(), tenant, action, op, replica: this.#o.replicaId };
    const outcome = new Promise<Outcome>((done) => this.#waiting.set(p.id, { done }));
    const timer = setTimeout(() => this.#waiting.get(p.id)?.done({ state: 'done', ok: false, code: 'DRP_ETCD_TIMEOUT', message: `the leader did not answer within ${this.#o.timeoutMs} ms; check the tenant's state before trying again` }), this.#o.timeoutMs);
    try {
      await this.#o.client.txn([], [{ put: this.#key('proposals', p.id), value: JSON.stringify(p), lease }]);
      const o = await outcome;
      if (o.state !== 'done') throw new DrProxyError('DRP_ETCD_TIMEOUT', 'no answer');
      if (!o.ok) throw o.details === undefined ? new DrProxyError(o.code, o.message) : new ForwardedError(o.code, o.message, o.details);
      return o.value;
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(p.id);
      // Best effort: both keys also go with this replica's lease.
      void this.#o.client.txn([], [{ delete: this.#key('proposals', p.id) }, { delete: this.#key('outcomes', p.id) }]).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const w of this.#waiting.values()) w.done({ state: 'done', ok: false, code: 'DRP_ETCD_UNAVAILABLE', message: 'drproxy is stopping' });
    await this.#watch?.cancel();
  }

  #key(kind: 'proposals' | 'outcomes', id: string): string {
    return `${this.#root}/${kind}/${id}`;
  }

  #onEvents(events: WatchEvent[]): void {
    for (const ev of events) {
      if (ev.type !== 'put') continue;
      if (ev.kv.key.startsWith(`${this.#root}/proposals/`)) {
        if (this.#leading) this.#run(ev.kv);
      } else if (ev.kv.key.startsWith(`${this.#root}/outcomes/`)) {
        const id = ev.kv.key.slice(`${this.#root}/outcomes/`.length);
        const o = JSON.parse(ev.kv.value) as Outcome;
        if (o.state === 'done') this.#waiting.get(id)?.done(o);
      }
    }
  }

  /** Claim the proposal (once, as leader), carry it out, write the answer. */
  #run(kv: KeyValue): void {
    const p = JSON.parse(kv.value) as Proposal;
    if (this.#handled.has(p.id) || this.#handler === undefined) return;
    this.#handled.add(p.id);
    const outcome = this.#key('outcomes', p.id);
    void (async () => {
      let guard: Compare[];
      try {
        guard = this.#o.guard();
      } catch {
        return; // not leader any more: the next one carries it out
      }
      const claim = await this.#o.client.txn([...guard, { key: outcome, target: 'create', value: 0 }], [{ put: outcome, value: JSON.stringify({ state: 'running' }), lease: kv.lease }]);
      if (!claim.succeeded) return;
      let answer: Outcome;
      try {
        answer = { state: 'done', ok: true, value: await this.#handler!(p) };
      } catch (err) {
        const e = err instanceof DrProxyError ? err : new DrProxyError('DRP_INTERNAL', (err as Error).message);
        const details = detailsOf(e);
        answer = { state: 'done', ok: false, code: e.code, message: e.message, ...(details && { details }) };
      }
      await this.#answer(outcome, kv.lease, answer);
    })().catch(() => undefined);
  }

  async #answer(key: string, lease: string, o: Outcome): Promise<void> {
    await this.#o.client.txn([], [{ put: key, value: JSON.stringify(o), lease }]).catch(() => undefined);
  }
}

/** An error's own fields besides code and name (DrillRefusedError: tenant, reasons, id), when it has some. */
function detailsOf(err: DrProxyError): Record<string, unknown> | undefined {
  const own = Object.entries(err).filter(([k]) => k !== 'code' && k !== 'name');
  if (own.length === 0) return undefined;
  try {
    return JSON.parse(JSON.stringify(Object.fromEntries(own))) as Record<string, unknown>;
  } catch {
    return undefined; // not JSON (a cycle): the code and message still go
  }
}
