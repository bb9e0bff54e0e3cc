/**
 * The state directory's journal (`journal.log`): the group commit of the embedded store.
 *
 * A commit appends its record, the same line it will write into its tenant's file
 * (`{"v":2,"slot","seq","state","crc"}`, see slots.ts), to the journal; the whole batch of
 * commits that queued meanwhile shares one fdatasync, and the commits are durable once it
 * returns. The records are then written into their tenants' files (checkpoints), and the
 * journal is emptied once all of them, and the state manifest (manifest.ts) that records
 * them, are on disk (atomic-writer.ts). Without it, a region's thousand
 * flips each waited for their own fdatasync, one after another (~0.26 ms each on this VM's
 * disk): the last tenant's epoch was durable half a second after its trip.
 *
 * At start-up (state-open.ts), before any tenant is loaded, every record the journal still
 * holds (drproxy stopped before its checkpoint) is written into its tenant's file if that file
 * does not already hold it or something newer, folded into the state manifest, and the journal
 * is emptied. From then on the files alone are the state, as without a journal. A line that
 * does not decode (a batch torn by a crash: its commits never returned) is skipped.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { AtomicWriter } from './atomic-writer.js';
import { decodeFile, decodeRecordLine, slotLine, slotSizeFor } from './slots.js';
import { TENANT_NAME } from '../config/validate.js';

export const JOURNAL_FILE = 'journal.log';

/** One record of a tenant in the journal. */
export interface JournalEntry {
  seq: number;
  epoch: number;
  /** The state's active site (for the state manifest). */
  site: string;
  stateText: string;
  format: 1 | 2;
  /** The CRC-32 of `stateText`. */
  crc: number;
}

/** A tenant's newest record in the journal, and the one committed before it. */
export interface JournalRecord extends JournalEntry {
  tenant: string;
  prev?: JournalEntry;
}

/** The newest record of each tenant in a journal's bytes, and how many lines did not decode. */
export function readJournal(data: Buffer): { records: Map<string, JournalRecord>; skipped: number } {
  const records = new Map<string, JournalRecord>();
  let skipped = 0;
  for (const line of data.toString('utf8').split('\n')) {
    if (line === '') continue;
    const r = decodeRecordLine(line);
    let state: { tenant?: unknown; epoch?: unknown; active?: unknown } | undefined;
    if (r !== undefined) {
      try {
        state = JSON.parse(r.stateText) as typeof state;
      } catch {
        state = undefined;
      }
    }
    // A tenant's name becomes a file name: only names the config accepts.
    if (r === undefined || typeof state?.tenant !== 'string' || !TENANT_NAME.test(state.tenant) || typeof state.epoch !== 'number') {
      skipped++;
      continue;
    }
    const had = records.get(state.tenant);
    const site = typeof state.active === 'string' ? state.active : '';
    const entry: JournalEntry = { seq: r.seq, epoch: state.epoch, site, stateText: r.stateText, format: r.format, crc: crc32(r.stateText) };
    if (had !== undefined && r.seq < had.seq) continue;
    // Equal seqs: a commit reported failed (its fdatasync) may still have landed; the commit
    // made after it, with the same seq, is later in the journal and wins.
    const prev = had === undefined ? undefined : r.seq > had.seq ? strip(had) : had.prev;
    records.set(state.tenant, { tenant: state.tenant, ...entry, ...(prev && { prev }) });
  }
  return { records, skipped };
}

function strip(r: JournalRecord): JournalEntry {
  return { seq: r.seq, epoch: r.epoch, site: r.site, stateText: r.stateText, format: r.format, crc: r.crc };
}

/**
 * Write every journal record that its tenant's file lacks into that file, durably: a tenant's
 * last two records, in order, so that its file's two slots hold consecutive commits. Returns
 * what was replayed, for the log. The journal itself is emptied by the caller (state-open.ts),
 * once the state manifest holds its records too.
 */
export async function replayJournal(records: Map<string, JournalRecord>, tenantsDir: string, writer: AtomicWriter): Promise<string[]> {
  const replayed: string[] = [];
  for (const j of records.values()) {
    const file = join(tenantsDir, `${j.tenant}.json`);
    let wrote = false;
    for (const r of j.prev === undefined ? [j] : [j.prev, j]) wrote = (await replayInto(file, r, writer)) || wrote;
    if (wrote) replayed.push(j.tenant);
  }
  return replayed;
}

/** Empty the journal durably. */
export async function emptyJournal(dir: string): Promise<void> {
  const fh = await open(join(dir, JOURNAL_FILE), 'r+');
  try {
    await fh.truncate(0);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The journal's bytes, or undefined when there is none. */
export async function journalBytes(dir: string): Promise<Buffer | undefined> {
  try {
    return await readFile(join(dir, JOURNAL_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write `j` into `file` unless the file already holds it or something newer. */
async function replayInto(file: string, j: JournalEntry, writer: AtomicWriter): Promise<boolean> {
  let data: Buffer | undefined;
  try {
    data = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const decoded = data === undefined ? undefined : decodeFile(data);
  // Both slots damaged is a disk fault, not a crash (a crash tears one slot at most): the newest
  // commit may have gone straight to the file, past the journal. Left as it is, so that loading
  // the tenant stops with the clear error it always did.
  if (decoded?.kind === 'unreadable') return false;
  if (decoded?.kind === 'plain') {
    // A hand repair (or an older drproxy) wins, unless it would take the epoch back.
    let epoch = -1;
    try {
      epoch = (JSON.parse(decoded.text) as { epoch?: number }).epoch ?? -1;
    } catch {
      /* unreadable: the journal's record replaces it */
    }
    if (epoch >= j.epoch) return false;
  }
  if (decoded?.kind === 'slots') {
    let newest: { slot: 0 | 1; seq: number } | undefined;
    for (const slot of [0, 1] as const) {
      const c = decoded.slots[slot];
      if (c.status === 'ok' && (newest === undefined || c.seq > newest.seq)) newest = { slot, seq: c.seq };
    }
    if (newest !== undefined && newest.seq >= j.seq) return false;
    // Into the slot that does not hold the newest valid record (a torn one included).
    const slot: 0 | 1 = newest?.slot === 0 ? 1 : 0;
    const line = slotLine(slot, j.seq, j.stateText);
    if (slotSizeFor(line) <= decoded.size) {
      await writer.writeAt(file, slot * decoded.size, { line, size: decoded.size, regions: 1 });
      return true;
    }
  }
  // No file, a plain one, or slots too small: a new file, the record in slot 0.
  const line = slotLine(0, j.seq, j.stateText);
  await writer.write(file, `${file}.tmp-${process.pid}`, { line, size: slotSizeFor(line), regions: 2 });
  return true;
}
