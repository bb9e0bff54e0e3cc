/**
 * `drproxy status` in clustered mode: the `cluster` section of GET /status, compact: who this
 * replica is, who leads, whether it serves and holds a valid lease, then one line per live
 * replica with the epoch and stage it acknowledged for each tenant, and the sites it votes down.
 */
import type { ClusterAck, ClusterSection } from './admin/client.js';
import { table } from './cli-control.js';

/** "t:2 routed, u:1 drained", tenants sorted; "-" when it acknowledged nothing yet. */
function acks(acknowledged: Record<string, ClusterAck>): string {
  const names = Object.keys(acknowledged).sort();
  if (names.length === 0) return '-';
  return names.map((t) => `${t}:${acknowledged[t]!.epoch} ${acknowledged[t]!.stage}`).join(', ');
}

/** "t:a1, u:b2": the sites `replica` votes down, tenants sorted; "-" when none. */
function votesDown(votes: ClusterSection['votes'], replica: string): string {
  const down: string[] = [];
  for (const t of Object.keys(votes ?? {}).sort()) {
    for (const [site, v] of Object.entries(votes![t]![replica] ?? {})) if (v === 'down') down.push(`${t}:${site}`);
  }
  return down.length === 0 ? '-' : down.join(', ');
}

export function renderCluster(c: ClusterSection): string {
  const leader = c.leader === null ? 'NO LEADER' : c.leading ? `leader ${c.leader} (this replica)` : `leader ${c.leader}`;
  const head =
    `cluster: replica ${c.replica}, ${leader}, ` +
    `${c.serving ? 'serving' : 'NOT SERVING (etcd lost)'}, lease ${c.lease_valid ? 'valid' : 'NOT VALID'}`;
  const rows = c.replicas.map((r) => [r.id + (r.id === c.replica ? ' (this)' : ''), r.id === c.leader ? 'leader' : 'follower', acks(r.acknowledged), votesDown(c.votes, r.id)]);
  return `${head}\n${table(['REPLICA', 'ROLE', 'ACKNOWLEDGED (tenant:epoch stage)', 'VOTES DOWN (tenant:site)'], rows)}`;
}
