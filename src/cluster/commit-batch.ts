/**
 * The leader's commits of many tenants in few transactions. Each transaction carries the
 * leader's guard once and each tenant's own clause (mod revision == the cached one, or create
 * revision == 0 for a tenant without state), and puts every record: at most MAX_TXN_OPS
 * compares and puts. A transaction that fails does not fail its tenants: each is retried alone,
 * so only the tenants whose clause (or the leader's) fails are refused, with the reason.
 */
import { DrProxyError } from '../errors.js';
import { MAX_TXN_OPS } from './batcher.js';
import type { Compare, EtcdClient, KeyValue } from './etcd.js';

export interface PendingCommit {
  readonly tenant: string;
  readonly key: string;
  readonly value: string;
  /** The tenant's clause: its mod revision as cached, or create revision 0. */
  readonly compare: Compare;
  resolve(revision: number): void;
  reject(err: DrProxyError): void;
}

export interface CommitDeps {
  client: Pick<EtcdClient, 'txn' | 'get'>;
  /** The leader's clauses; throws when this process is not the leader now. */
  guard(): Compare[];
  /** Counts each transaction sent (batching is measured by it). */
  onTxn(tenants: number): void;
  /** A tenant's record read after its clause failed: newer than the cache, so the cache takes it. */
  onStale(tenant: string, kv: KeyValue): void;
  maxOps?: number;
}

/** Sends `items` in as few transactions as fit, concurrently; settles every item. */
export async function runCommits(deps: CommitDeps, items: readonly PendingCommit[]): Promise<void> {
  const max = (deps.maxOps ?? MAX_TXN_OPS) - 1; // one compare for the leader's guard
  const runs: PendingCommit[][] = [];
  let run: PendingCommit[] = [];
  let inRun = new Set<string>();
  for (const item of items) {
    // Two commits of one tenant never share a transaction (etcd refuses a key put twice).
    if (run.length >= max || inRun.has(item.tenant)) {
      runs.push(run);
      run = [];
      inRun = new Set();
    }
    run.push(item);
    inRun.add(item.tenant);
  }
  if (run.length > 0) runs.push(run);
  await Promise.all(runs.map((r) => runOne(deps, r)));
}

async function runOne(deps: CommitDeps, run: PendingCommit[]): Promise<void> {
  let guard: Compare[];
  try {
    guard = deps.guard();
  } catch (err) {
    return rejectAll(run, new DrProxyError('DRP_NOT_LEADER', `not committed: ${(err as Error).message}`, { cause: err }));
  }
  let succeeded: boolean;
  let revision: number;
  try {
    deps.onTxn(run.length);
    ({ succeeded, revision } = await deps.client.txn(
      [...guard, ...run.map((c) => c.compare)],
      run.map((c) => ({ put: c.key, value: c.value })),
    ));
  } catch (err) {
    return rejectAll(run, err as DrProxyError);
  }
  if (succeeded) {
    for (const c of run) c.resolve(revision);
    return;
  }
  if (run.length > 1) {
    // The leader's clause is the same for every tenant: one read settles the whole batch when
    // the term ended, instead of a transaction and a read per tenant (a region's worth).
    const ended = await termEnded(deps, guard);
    if (ended !== undefined) return rejectAll(run, ended);
    await Promise.all(run.map((c) => runOne(deps, [c])));
    return;
  }
  run[0]!.reject(await explain(deps, run[0]!));
}

/** The error that refuses every commit of a batch when a leader clause no longer holds (or cannot be read); else undefined. */
async function termEnded(deps: CommitDeps, guard: readonly Compare[]): Promise<DrProxyError | undefined> {
  for (const g of guard) {
    let kv: KeyValue | undefined;
    try {
      ({ kv } = await deps.client.get(g.key));
    } catch (err) {
      return err as DrProxyError;
    }
    if (!holds(g, kv)) return new DrProxyError('DRP_NOT_LEADER', 'not committed: this replica\'s leadership term ended (the leader key changed)');
  }
  return undefined;
}

/** Whether an equality clause holds for `kv` as read (undefined: the key does not exist). */
function holds(g: Compare, kv: KeyValue | undefined): boolean {
  const field = { create: kv?.createRevision ?? 0, mod: kv?.modRevision ?? 0, version: kv?.version ?? 0, value: kv?.value, lease: kv?.lease ?? '0' }[g.target];
  return (g.op ?? '==') === '==' ? String(field) === String(g.value) : true;
}

/** Why one tenant's transaction failed: its own clause (someone committed) or the leader's. */
async function explain(deps: CommitDeps, c: PendingCommit): Promise<DrProxyError> {
  let kv: KeyValue | undefined;
  try {
    ({ kv } = await deps.client.get(c.key));
  } catch (err) {
    return new DrProxyError('DRP_STATE_CONFLICT', `tenant ${c.tenant}: the commit's guard failed, and reading why failed too: ${(err as Error).message}`, { cause: err });
  }
  const expected = Number(c.compare.value);
  const own = c.compare.target === 'create' ? kv === undefined : kv?.modRevision === expected;
  if (own) return new DrProxyError('DRP_NOT_LEADER', `tenant ${c.tenant}: not committed: this replica's leadership term ended (the leader key changed)`);
  if (kv !== undefined) deps.onStale(c.tenant, kv);
  return new DrProxyError(
    'DRP_STATE_CONFLICT',
    kv === undefined
      ? `tenant ${c.tenant}: its record was deleted from etcd since it was read`
      : `tenant ${c.tenant}: committed elsewhere since it was read (mod revision ${kv.modRevision}, expected ${c.compare.target === 'create' ? 'no record' : expected})`,
  );
}

function rejectAll(run: readonly PendingCommit[], err: DrProxyError): void {
  for (const c of run) c.reject(err);
}
