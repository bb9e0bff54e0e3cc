/**
 * The key layout of one fleet under `state.etcd.prefix` (P): `P/leader` (leader.ts),
 * `P/replicas/<id>`, `P/tenants/<t>`, `P/acks/<id>/<t>` (docs/design.md, "Clustered mode: the
 * coordinator on etcd"), `P/drills/<id>` (one drill report) and `P/drill-index/<id>` (its line
 * of `GET /drills`, drill-store.ts), `P/automatic` (the kill switch, src/safety/) and
 * `P/approvals/<id>` (one two-person approval request, approval-store.ts). Replica IDs never contain '/', so an ack key splits unambiguously.
 */
export interface ClusterKeys {
  readonly replicas: string;
  readonly tenants: string;
  readonly acks: string;
  readonly drills: string;
  readonly drillIndex: string;
  /** The kill switch of automatic flips (one key; absent = automatic flips on). */
  readonly automatic: string;
  readonly approvals: string;
  approval(id: string): string;
  replica(id: string): string;
  tenant(tenant: string): string;
  ack(replicaId: string, tenant: string): string;
  /** `P/tenants/<t>` → t; undefined for a key outside the prefix. */
  tenantOf(key: string): string | undefined;
  /** `P/replicas/<id>` → id. */
  replicaOf(key: string): string | undefined;
  /** `P/acks/<id>/<t>` → [id, t]. */
  ackOf(key: string): [replicaId: string, tenant: string] | undefined;
}

export function clusterKeys(prefix: string): ClusterKeys {
  const base = prefix.replace(/\/+$/, '');
  const replicas = `${base}/replicas/`;
  const tenants = `${base}/tenants/`;
  const acks = `${base}/acks/`;
  const drills = `${base}/drills/`;
  const drillIndex = `${base}/drill-index/`;
  const approvals = `${base}/approvals/`;
  const rest = (key: string, under: string): string | undefined => (key.startsWith(under) && key.length > under.length ? key.slice(under.length) : undefined);
  return {
    replicas,
    tenants,
    acks,
    drills,
    drillIndex,
    automatic: `${base}/automatic`,
    approvals,
    approval: (id) => approvals + id,
    replica: (id) => replicas + id,
    tenant: (t) => tenants + t,
    ack: (id, t) => `${acks}${id}/${t}`,
    tenantOf: (key) => rest(key, tenants),
    replicaOf: (key) => rest(key, replicas),
    ackOf(key) {
      const r = rest(key, acks);
      const slash = r?.indexOf('/') ?? -1;
      return r === undefined || slash <= 0 || slash === r.length - 1 ? undefined : [r.slice(0, slash), r.slice(slash + 1)];
    },
  };
}

/** A replica ID that fits in one key segment. */
export function checkReplicaId(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)) {
    throw new RangeError(`replica id ${JSON.stringify(id)}: expected 1-128 letters, digits, '.', '_', ':' or '-' (no '/')`);
  }
  return id;
}
