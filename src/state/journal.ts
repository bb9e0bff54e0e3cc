/**
 * The state directory's journal (`journal.log`): the group commit of the embedded store.
 *
 * A commit appends its record, the same line it will write into its tenant's file
 * (`{"slot","seq","crc","state"}`, see slots.ts), to the journal; the whole batch of commits
 * that queued meanwhile shares one fdatasync, and the commits are durable once it returns.
 * The records are then written into their tenants' slots (checkpoints), and the journal is
 * emptied once all of them are on disk (atomic-writer.ts). Without it, a region's thousand
 * flips each waited for their own fdatasync, one after another (~0.26 ms each on this VM's
 * disk): the last tenant's epoch was durable half a second after its trip.
 *
 * At start-up (`recoverJournal`), before any tenant is loaded, every record the journal still
 * holds (drproxy stopped before its checkpoint) is written into its tenant's file if that file
 * does not already hold it or something newer, and the journal is emptied. From then on the
 * files alone are the state, as without a journal. A line that does not decode (a batch torn
 * by a crash: its commits never returned) is skipped.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicWriter } from './atomic-writer.js';
import { decodeFile, decodeRecordLine, slotLine, slotSizeFor } from './slots.js';
import { TENANT_NAME } from '../config/validate.js';

export const JOURNAL_FILE = 'journal.log';

/** A tenant's newest record in the journal. */
export interface JournalRecord {
  tenant: string;
  seq: number;
  epoch: number;
  stateText: string;
}

/** The newest record of each tenant in a journal's bytes, and how many lines did not decode. */
export function readJournal(data: Buffer): { records: Map<string, JournalRecord>; skipped: number } {
  const records = new Map<string, JournalRecord>();
  let skipped = 0;
  for (const line of data.toString('utf8').split('\n')) {
    if (line === '') continue;
    const r = decodeRecordLine(line);
    let state: { tenant?: unknown; epoch?: unknown } | undefined;
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
    // Equal seqs: a commit reported failed (its fdatasync) may still have landed; the commit
    // made after it, with the same seq, is later in the journal and wins.
    if (had === undefined || r.seq >= had.seq) records.set(state.tenant, { tenant: state.tenant, seq: r.seq, epoch: state.epoch, stateText: r.stateText });
  }
  return { records, skipped };
}

/**
 * Write every journal record that its tenant's file lacks into that file, durably, then empty
 * the journal. Returns what was replayed, for the log.
 */
export async function recoverJournal(dir: string, tenantsDir: string): Promise<{ replayed: string[]; skipped: number }> {
  const path = join(dir, JOURNAL_FILE);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { replayed: [], skipped: 0 };
    throw err;
  }
  if (data.length === 0) return { replayed: [], skipped: 0 };
  const { records, skipped } = readJournal(data);
  const replayed: string[] = [];
  // A writer of its own, without the journal: the store's writer must start with the journal
  // empty (a thread that finds records there keeps them, not knowing their checkpoints).
  const writer = new AtomicWriter();
  try {
    for (const j of records.values()) {
      const file = join(tenantsDir, `${j.tenant}.json`);
      if (await replayInto(file, j, writer)) replayed.push(j.tenant);
    }
  } finally {
    await writer.close();
  }
  // Everything the journal held is now in the files: empty it, durably, before new commits.
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(0);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { replayed, skipped };
}

/** Write `j` into `file` unless the file already holds it or something newer. */
async function replayInto(file: string, j: JournalRecord, writer: AtomicWriter): Promise<boolean> {
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
