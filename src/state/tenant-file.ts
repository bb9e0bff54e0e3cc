/**
 * Reading a tenant's state file (either format, see slots.ts) into a checked TenantState. Pure:
 * no repair here; what to do with a damaged or suspect file is decided in verdict.ts.
 */
import { crc32 } from 'node:zlib';
import { DrProxyError } from '../errors.js';
import { decodeFile } from './slots.js';
import type { TenantPhase, TenantState } from './types.js';

const PHASES: ReadonlySet<TenantPhase> = new Set(['active', 'failing_over', 'frozen']);
const CAUSES: ReadonlySet<string> = new Set(['no_site', 'fence_failed', 'promote_failed', 'state_lost', 'drill_interrupted']);

export function corrupt(file: string, why: string): DrProxyError {
  return new DrProxyError(
    'DRP_STATE_CORRUPT',
    `state file ${file} is unreadable (${why}). drproxy will not start with a guessed epoch: ` +
      `restore the file from a backup, or, after confirming the tenant's current epoch and active site ` +
      `out of band, write a corrected file.`,
  );
}

export function parseState(text: string, file: string, tenant: string): TenantState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw corrupt(file, text.length === 0 ? 'empty file' : `not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null) throw corrupt(file, 'not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.tenant !== tenant) throw corrupt(file, `tenant is ${JSON.stringify(o.tenant)}, expected "${tenant}"`);
  if (typeof o.epoch !== 'number' || !Number.isSafeInteger(o.epoch) || o.epoch < 0) {
    throw corrupt(file, 'epoch is not a non-negative integer');
  }
  if (typeof o.phase !== 'string' || !PHASES.has(o.phase as TenantPhase)) throw corrupt(file, 'bad phase');
  if (typeof o.active !== 'string' || o.active === '') throw corrupt(file, 'active site missing');
  if (!Array.isArray(o.fenced) || !o.fenced.every((s) => typeof s === 'string')) throw corrupt(file, 'fenced is not a list of sites');
  for (const k of ['from', 'to'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw corrupt(file, `${k} is not a string`);
  }
  return {
    tenant,
    epoch: o.epoch,
    phase: o.phase as TenantPhase,
    active: o.active,
    ...(typeof o.from === 'string' ? { from: o.from } : {}),
    ...(typeof o.to === 'string' ? { to: o.to } : {}),
    fenced: o.fenced as string[],
    ...(typeof o.frozen_cause === 'string' && CAUSES.has(o.frozen_cause) ? { frozen_cause: o.frozen_cause as TenantState['frozen_cause'] } : {}),
    reason: typeof o.reason === 'string' ? o.reason : '',
    trigger: typeof o.trigger === 'string' ? o.trigger : '',
    updated_at: typeof o.updated_at === 'string' ? o.updated_at : '',
  };
}

/** A valid record of a slotted file. */
export interface SlotRecord {
  slot: 0 | 1;
  seq: number;
  state: TenantState;
  format: 1 | 2;
  /** The CRC-32 of the state's text (as the state manifest records it). */
  crc: number;
}

/** What a state file holds: the current state and, for a slotted file, where it is. */
export interface StoredState {
  state: TenantState;
  /** Slotted files: the newest valid record's slot, sequence number and the slot size. */
  layout?: { slot: 0 | 1; seq: number; size: number };
  /** Slotted files: every valid record, newest first. */
  records?: SlotRecord[];
  /** A slot that held something unreadable beside the valid one. */
  damaged?: { slot: 0 | 1; why: string };
  /**
   * Two valid records that cannot both be what drproxy wrote: a file's two slots always hold
   * consecutive commits (sequence numbers one apart, the epoch rising by one at most). One of
   * them was damaged in a way its checksum did not cover (a version 1 record's `seq`).
   */
  inconsistent?: string;
}

/**
 * Read a state file's bytes (either format: see slots.ts). Throws DRP_STATE_CORRUPT when no
 * valid state is in it. Does not repair anything: FileStateStore.load does.
 */
export function readStateFile(data: Buffer, file: string, tenant: string): StoredState {
  const decoded = decodeFile(data);
  if (decoded.kind === 'unreadable') throw corrupt(file, decoded.why);
  if (decoded.kind === 'plain') return { state: parseState(decoded.text, file, tenant) };
  const records: SlotRecord[] = [];
  let damaged: StoredState['damaged'];
  for (const slot of [0, 1] as const) {
    const c = decoded.slots[slot];
    if (c.status === 'bad') damaged = { slot, why: c.why };
    // Every valid record must parse.
    if (c.status === 'ok') records.push({ slot, seq: c.seq, state: parseState(c.stateText, file, tenant), format: c.format, crc: crc32(c.stateText) });
  }
  if (records.length === 0) throw corrupt(file, damaged ? `slot ${damaged.slot}: ${damaged.why}` : 'no state record');
  records.sort((a, b) => b.seq - a.seq);
  const best = records[0]!;
  const older = records[1];
  let inconsistent: string | undefined;
  if (older !== undefined && (best.seq !== older.seq + 1 || best.state.epoch < older.state.epoch || best.state.epoch > older.state.epoch + 1)) {
    inconsistent =
      `its two records are not consecutive commits (slot ${best.slot}: seq ${best.seq}, epoch ${best.state.epoch}; ` +
      `slot ${older.slot}: seq ${older.seq}, epoch ${older.state.epoch})`;
  }
  return {
    state: best.state,
    layout: { slot: best.slot, seq: best.seq, size: decoded.size },
    records,
    ...(damaged && { damaged }),
    ...(inconsistent !== undefined && { inconsistent }),
  };
}
