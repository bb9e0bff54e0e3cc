/**
 * The state manifest (`manifest.json` in the state directory): for every tenant, the epoch,
 * sequence number and active site of its last commit, a high-water mark kept apart from the
 * tenant's own file, so that a tenant file deleted or rolled back to an older copy is noticed
 * (verdict.ts) instead of starting the tenant at epoch 1, or at an old epoch, on a fenced site.
 *
 * It is written as a tenant file is: two slots in turn, in place, each a checksummed record
 * (slots.ts) whose state is `{"v":1,"tenants":{"acme":{"epoch":7,"seq":12,"site":"b1","crc":…},…}}`
 * (`crc`: the CRC-32 of that commit's state text)
 * and whose `seq` counts the manifest's own writes; a larger manifest moves to larger slots
 * through temp file, fsync, rename and directory fsync.
 *
 * Cost: none on a commit's path. A commit is durable once its record is in the journal
 * (journal.ts), and that record carries the tenant, epoch and sequence number, so the journal
 * is the manifest's log: the writer thread folds the records into the manifest and writes it
 * once the journal's records are all in their files, before it empties the journal; at start-up
 * the journal's records are folded in before any tenant is loaded. So the manifest, with the
 * journal, is durable no later than every commit it covers.
 *
 * Missing or unreadable while tenant files exist, it is rebuilt from them (they are then the
 * best evidence) with an alert; a directory written only by a drproxy before the manifest has
 * none yet and gets one without an alert. Both gone is a first start, as before.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TENANT_NAME } from '../config/validate.js';
import type { AtomicWriter } from './atomic-writer.js';
import { decodeFile, slotLine, slotSizeFor } from './slots.js';
import { readStateFile } from './tenant-file.js';

export const MANIFEST_FILE = 'manifest.json';

/** What the manifest records of a tenant's last commit. */
export interface ManifestEntry {
  epoch: number;
  seq: number;
  /** The active site of that commit (the state's `active`). */
  site: string;
  /** The CRC-32 of that commit's state text: which record it was, not only its number. */
  crc?: number;
}

/** Where the manifest's newest record is: as a tenant file's layout. */
export interface ManifestLayout {
  slot: 0 | 1;
  seq: number;
  size: number;
}

export type ManifestRead =
  | { status: 'ok'; entries: Map<string, ManifestEntry>; layout: ManifestLayout; damaged?: string }
  | { status: 'missing' }
  | { status: 'damaged'; why: string };

/** The record line of the manifest for slot `slot`, generation `seq`. */
export function manifestLine(entries: ReadonlyMap<string, ManifestEntry>, slot: 0 | 1, seq: number): string {
  return slotLine(slot, seq, JSON.stringify({ v: 1, tenants: Object.fromEntries(entries) }));
}

export async function readManifest(dir: string): Promise<ManifestRead> {
  let data: Buffer;
  try {
    data = await readFile(join(dir, MANIFEST_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing' };
    throw err;
  }
  const decoded = decodeFile(data);
  if (decoded.kind !== 'slots') return { status: 'damaged', why: decoded.kind === 'unreadable' ? decoded.why : 'not a manifest record' };
  let best: { slot: 0 | 1; seq: number; entries: Map<string, ManifestEntry> } | undefined;
  let damaged: string | undefined;
  for (const slot of [0, 1] as const) {
    const c = decoded.slots[slot];
    const entries = c.status === 'ok' ? parseEntries(c.stateText) : undefined;
    if (c.status === 'bad' || (c.status === 'ok' && entries === undefined)) damaged = `slot ${slot}: ${c.status === 'bad' ? c.why : 'not a manifest'}`;
    if (c.status === 'ok' && entries !== undefined && (best === undefined || c.seq > best.seq)) best = { slot, seq: c.seq, entries };
  }
  if (best === undefined) return { status: 'damaged', why: damaged ?? 'no manifest record' };
  return { status: 'ok', entries: best.entries, layout: { slot: best.slot, seq: best.seq, size: decoded.size }, ...(damaged !== undefined && { damaged }) };
}

function parseEntries(text: string): Map<string, ManifestEntry> | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  const tenants = (o as { v?: unknown; tenants?: unknown } | null)?.tenants;
  if ((o as { v?: unknown }).v !== 1 || typeof tenants !== 'object' || tenants === null) return undefined;
  const entries = new Map<string, ManifestEntry>();
  for (const [name, e] of Object.entries(tenants)) {
    const { epoch, seq, site, crc } = (e ?? {}) as Partial<ManifestEntry>;
    if (!TENANT_NAME.test(name) || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(seq) || typeof site !== 'string') return undefined;
    if (crc !== undefined && !Number.isSafeInteger(crc)) return undefined;
    entries.set(name, { epoch: epoch!, seq: seq!, site, ...(crc !== undefined && { crc }) });
  }
  return entries;
}

/** Keep `e` for `tenant` if it is a later commit than what `entries` has. */
export function mergeEntry(entries: Map<string, ManifestEntry>, tenant: string, e: ManifestEntry): void {
  const had = entries.get(tenant);
  if (had === undefined || e.seq > had.seq || (e.seq === had.seq && e.epoch > had.epoch)) entries.set(tenant, e);
}

/** The tenant files' own record of their last commits, and whether drproxy ≥ the manifest wrote any. */
export async function scanTenantFiles(tenantsDir: string): Promise<{ entries: Map<string, ManifestEntry>; files: number; current: boolean }> {
  const entries = new Map<string, ManifestEntry>();
  let names: string[] = [];
  try {
    names = await readdir(tenantsDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let files = 0;
  let current = false;
  for (const name of names) {
    const tenant = name.endsWith('.json') ? name.slice(0, -5) : '';
    if (!TENANT_NAME.test(tenant)) continue;
    files++;
    const file = join(tenantsDir, name);
    try {
      const found = readStateFile(await readFile(file), file, tenant);
      current ||= found.records?.some((r) => r.format === 2) ?? false;
      // The newest record as it is: a file whose records disagree is judged when it is loaded.
      const newest = found.records?.[0];
      mergeEntry(entries, tenant, { epoch: found.state.epoch, seq: newest?.seq ?? 0, site: found.state.active, ...(newest && { crc: newest.crc }) });
    } catch {
      // Unreadable: loading the tenant stops with the clear error it always did.
    }
  }
  return { entries, files, current };
}

/** Write the manifest durably into its older slot, or anew when it has none or outgrew them. */
export async function writeManifest(writer: AtomicWriter, dir: string, entries: ReadonlyMap<string, ManifestEntry>, at: ManifestLayout | undefined): Promise<ManifestLayout> {
  const file = join(dir, MANIFEST_FILE);
  const seq = (at?.seq ?? 0) + 1;
  const slot: 0 | 1 = at?.slot === 0 ? 1 : 0;
  const line = manifestLine(entries, slot, seq);
  if (at !== undefined && slotSizeFor(line) <= at.size) {
    await writer.writeAt(file, slot * at.size, { line, size: at.size, regions: 1 });
    return { slot, seq, size: at.size };
  }
  const whole = manifestLine(entries, 0, seq);
  const size = slotSizeFor(whole);
  await writer.write(file, `${file}.tmp-${process.pid}`, { line: whole, size, regions: 2 });
  return { slot: 0, seq, size };
}
