/**
 * What a tenant's state file is worth, given the state manifest's record of the tenant's last
 * commit (manifest.ts). Pure: FileStateStore.load carries the verdict out.
 *
 * The manifest's entry is durable no later than the commit it records, so every commit that
 * returned is at or below it (epoch and sequence number). A file that agrees with it is loaded
 * as it is. A file that is behind it, or missing, lost commits: deleted, or rolled back to an
 * older copy. That tenant comes up frozen (`state_lost`) for an operator to decide, at an epoch
 * two above anything recorded: the manifest covers every commit that returned, one more step
 * covers a commit in flight at a crash, as for a damaged slot. A file with a damaged or suspect
 * slot is loaded from the record that can be trusted, its epoch moved up the same two steps.
 */
import type { ManifestEntry } from './manifest.js';
import type { SlotRecord, StoredState } from './tenant-file.js';
import type { TenantState } from './types.js';

export type Verdict =
  /** No file and no record of one: the tenant's first start. */
  | { kind: 'none' }
  /** Load `state` as it is (`note`: the manifest was behind the file, a warning). */
  | { kind: 'ok'; state: TenantState; note?: string }
  /** Load `base` with its epoch moved to `epoch`, and rewrite it (an alert). */
  | { kind: 'repair'; base: TenantState; epoch: number; why: string }
  /** Commits were lost: come up frozen at `epoch` (an alert; an operator decides). */
  | { kind: 'lost'; base: TenantState | undefined; epoch: number; why: string };

export function judge(found: StoredState | undefined, m: ManifestEntry | undefined): Verdict {
  if (found === undefined) {
    if (m === undefined) return { kind: 'none' };
    return { kind: 'lost', base: undefined, epoch: m.epoch + 2, why: `the file is missing, but the state manifest records epoch ${m.epoch} (seq ${m.seq}) for it` };
  }
  const records = found.records;
  if (records === undefined) {
    // A plain file: a hand repair wins unless it takes the epoch back.
    if (m !== undefined && found.state.epoch < m.epoch) {
      return { kind: 'lost', base: found.state, epoch: m.epoch + 2, why: `it holds epoch ${found.state.epoch}, lower than epoch ${m.epoch} recorded in the state manifest` };
    }
    return { kind: 'ok', state: found.state };
  }
  const top = Math.max(m?.epoch ?? 0, ...records.map((r) => r.state.epoch)) + 2;
  const newest = records[0]!;
  if (m === undefined) {
    if (found.inconsistent !== undefined) {
      const base = [...records].sort((a, b) => b.state.epoch - a.state.epoch || b.seq - a.seq)[0]!;
      return { kind: 'repair', base: base.state, epoch: top, why: `${found.inconsistent}; loaded slot ${base.slot}` };
    }
    if (found.damaged) return { kind: 'repair', base: newest.state, epoch: top, why: damagedWhy(found, newest) };
    return { kind: 'ok', state: newest.state };
  }
  const match = records.find((r) => r.seq === m.seq && r.state.epoch === m.epoch && (m.crc === undefined || r.crc === m.crc));
  if (match !== undefined) {
    if (match !== newest) {
      return {
        kind: 'repair',
        base: match.state,
        epoch: top,
        why: `slot ${newest.slot} claims seq ${newest.seq}, past the last commit the state manifest records (seq ${m.seq}): its record is suspect; loaded slot ${match.slot}`,
      };
    }
    if (found.inconsistent !== undefined) return { kind: 'repair', base: match.state, epoch: top, why: `${found.inconsistent}; loaded slot ${match.slot}, which the state manifest confirms` };
    if (found.damaged) return { kind: 'repair', base: match.state, epoch: top, why: damagedWhy(found, match) };
    return { kind: 'ok', state: match.state };
  }
  const same = m.crc === undefined ? undefined : records.find((r) => r.crc === m.crc && r.state.epoch === m.epoch);
  if (same !== undefined) {
    // The last commit's very state, under another seq: its seq was damaged (a version 1 record's
    // checksum does not cover it).
    return { kind: 'repair', base: same.state, epoch: top, why: `slot ${same.slot} holds the last commit the state manifest records (seq ${m.seq}) under seq ${same.seq}: its seq is damaged` };
  }
  if (newest.seq > m.seq || (newest.seq === m.seq && newest.state.epoch > m.epoch)) {
    // Ahead of the manifest (restored from an older copy, or rebuilt from a damaged slot): the
    // file is the better evidence, and its epoch is not lower.
    if (found.damaged || found.inconsistent !== undefined) return { kind: 'repair', base: newest.state, epoch: top, why: found.inconsistent ?? damagedWhy(found, newest) };
    return { kind: 'ok', state: newest.state, note: `the state manifest records seq ${m.seq} (epoch ${m.epoch}), older than the file's seq ${newest.seq} (epoch ${newest.state.epoch}): the manifest is behind; the file wins` };
  }
  if (found.damaged && newest.seq === m.seq - 1 && m.epoch <= newest.state.epoch + 1) {
    // The damaged slot held the last commit (a disk fault): the manifest agrees with the rest.
    return { kind: 'repair', base: newest.state, epoch: top, why: damagedWhy(found, newest) };
  }
  return {
    kind: 'lost',
    base: newest.state,
    epoch: top,
    why: `it holds seq ${newest.seq} (epoch ${newest.state.epoch}), older than the last commit the state manifest records (seq ${m.seq}, epoch ${m.epoch}): the file was rolled back or replaced`,
  };
}

function damagedWhy(found: StoredState, loaded: SlotRecord): string {
  return `slot ${found.damaged!.slot} was unreadable (${found.damaged!.why}); loaded slot ${loaded.slot} (epoch ${loaded.state.epoch})`;
}
