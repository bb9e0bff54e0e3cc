/**
 * Embedded state store: one file per tenant in a local directory.
 *
 * Durability: a commit is durable once its record is in the directory's journal, one
 * fdatasync per batch of commits (journal.ts); the record reaches the tenant's file when the
 * journal is quiet: in place into the older of the file's two slots (slots.ts), or, for a new
 * file, a plain-JSON one or a record too big for its slots, a whole new file (temp file,
 * fsync, rename, fsync of the directory). Both run on a worker thread (atomic-writer.ts).
 * `open()` replays what a stop left in the journal before any tenant is loaded. A crash at any
 * point leaves the last committed record readable.
 *
 * The state manifest (manifest.ts) records every tenant's last commit apart from its file, at
 * no cost on a commit's path; a tenant file that is missing or older than it comes up frozen
 * (`state_lost`) at a higher epoch, for an operator to decide (verdict.ts). A slot found
 * damaged beside a valid one may have held the successor of the valid one (a disk fault can
 * damage a committed record too): every commit raises the epoch by at most one (enforced
 * here), so drproxy loads the valid record, moves its epoch two past anything recorded,
 * rewrites the file and says why in the state's reason. A file with no valid record stops
 * start-up with a clear message: drproxy never resets an epoch on its own, because a lower
 * epoch would let a fenced side take writes again.
 *
 * An fcntl lock on the LOCK file keeps two processes from sharing one directory (lock.ts).
 */
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { DrProxyError } from '../errors.js';
import { AtomicWriter } from './atomic-writer.js';
import { JOURNAL_FILE, readJournal, type JournalRecord } from './journal.js';
import { lockDir, type DirLock } from './lock.js';
import { MANIFEST_FILE, type ManifestEntry, type ManifestLayout } from './manifest.js';
import { slotLine, slotSizeFor } from './slots.js';
import { recoverState, type StateNotice } from './state-open.js';
import { parseState, readStateFile, type StoredState } from './tenant-file.js';
import type { StateStore, TenantState } from './types.js';
import { judge, type Verdict } from './verdict.js';

export { parseState, readStateFile, type StoredState } from './tenant-file.js';
export type { StateNotice } from './state-open.js';

export class FileStateStore implements StateStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  private readonly tenantsDir: string;
  /** Highest epoch seen per tenant (loaded or committed): never go below it. */
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<(s: TenantState) => void>();
  private lock: DirLock | undefined;
  private readonly writer: AtomicWriter;
  /** Where each tenant's newest record is: its slot, sequence number and the slot size. */
  private readonly layout = new Map<string, { slot: 0 | 1; seq: number; size: number }>();
  /** The state manifest: every tenant's last commit (manifest.ts). */
  private hwm = new Map<string, ManifestEntry>();
  private manifestLayout: ManifestLayout | undefined;

  /**
   * `onRepair` hears of every damaged slot repaired at load (an alert: a disk may be failing),
   * `onWriteError` of a journaled record that could not be written to its file (the journal
   * keeps it for the next start), `onNotice` of lost tenant state and of the manifest rebuilt.
   */
  constructor(
    dir: string,
    private readonly onRepair?: (tenant: string, message: string) => void,
    onWriteError?: (message: string) => void,
    private readonly onNotice?: (notice: StateNotice) => void,
  ) {
    this.dir = dir;
    this.tenantsDir = join(dir, 'tenants');
    this.writer = new AtomicWriter({
      journal: join(dir, JOURNAL_FILE),
      manifest: () => ({
        path: join(this.dir, MANIFEST_FILE),
        entries: Object.fromEntries(this.hwm),
        slot: this.manifestLayout?.slot ?? 1,
        seq: this.manifestLayout?.seq ?? 0,
        size: this.manifestLayout?.size ?? 0,
      }),
      onCheckpointError: (message) => onWriteError?.(`state journal checkpoint failed (the journal keeps the record): ${message}`),
      recover: async () => {
        const r = await recoverState(this.dir, this.tenantsDir);
        this.replayed.push(...r.replayed);
        this.hwm = r.entries;
        this.manifestLayout = r.layout;
      },
    });
  }

  /** What `open()` replayed from the journal (tenants whose files lacked their last commit). */
  replayed: string[] = [];

  async open(): Promise<void> {
    try {
      await mkdir(this.tenantsDir, { recursive: true });
    } catch (err) {
      throw new DrProxyError('DRP_STATE_IO', `state directory ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
    this.lock = await lockDir(this.dir, join(this.dir, 'LOCK'));
    try {
      const r = await recoverState(this.dir, this.tenantsDir);
      this.replayed = r.replayed;
      this.hwm = r.entries;
      this.manifestLayout = r.layout;
      for (const n of r.notices) this.onNotice?.(n);
    } catch (err) {
      this.release();
      throw new DrProxyError('DRP_STATE_IO', `state directory ${this.dir} (journal and manifest): ${(err as Error).message}`, { cause: err });
    }
    this.writer.warm();
    // Temp files left by a crash mid-write hold nothing that was committed: remove them.
    for (const name of await readdir(this.tenantsDir)) {
      if (name.includes('.tmp-')) await unlink(join(this.tenantsDir, name)).catch(() => {});
    }
  }

  async load(tenant: string): Promise<TenantState | undefined> {
    const file = this.fileOf(tenant);
    // Committed here before (a reload): its file may still lag the journal.
    if (this.seen.has(tenant)) await this.writer.drain();
    let found: StoredState | undefined;
    try {
      found = readStateFile(await readFile(file), file, tenant);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        if (err instanceof DrProxyError) throw err;
        throw new DrProxyError('DRP_STATE_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
      }
    }
    const seen = this.seen.get(tenant) ?? 0;
    if (found !== undefined && found.state.epoch < seen) {
      throw new DrProxyError(
        'DRP_STATE_EPOCH_REGRESSION',
        `${file}: epoch ${found.state.epoch} is lower than epoch ${seen} already seen for tenant ${tenant}; refusing to go back`,
      );
    }
    const m = this.hwm.get(tenant);
    const v = judge(found, m);
    if (v.kind === 'none') return undefined;
    if (v.kind === 'ok') {
      if (v.note !== undefined) this.onNotice?.({ event: 'state_manifest_behind', alert: false, tenant, message: `state file ${file}: ${v.note}` });
      this.seen.set(tenant, v.state.epoch);
      if (found?.layout) this.layout.set(tenant, found.layout);
      else this.layout.delete(tenant);
      // As the file has it (the manifest may have been behind), never below what was recorded.
      const newest = found?.records?.[0];
      if (newest !== undefined && (m === undefined || newest.seq >= m.seq)) {
        this.hwm.set(tenant, { epoch: newest.state.epoch, seq: newest.seq, site: newest.state.active, crc: newest.crc });
      } else if (m !== undefined && v.state.epoch > m.epoch) {
        this.hwm.set(tenant, { epoch: v.state.epoch, seq: m.seq, site: v.state.active }); // a hand repair
      }
      return v.state;
    }
    // Repaired or lost: written anew, the record alone in a new file (its slots must hold
    // consecutive commits, and this record skips epochs).
    this.layout.delete(tenant);
    const next = v.kind === 'repair' ? repaired(file, v) : lost(tenant, file, v, m);
    await this.write(next);
    if (v.kind === 'repair') this.onRepair?.(tenant, next.reason);
    else this.onNotice?.({ event: 'state_lost', alert: true, tenant, message: next.reason });
    return next;
  }

  async commit(next: TenantState, expectedEpoch: number | undefined): Promise<void> {
    const tenant = next.tenant;
    const seen = this.seen.get(tenant);
    if (seen !== expectedEpoch) {
      throw new DrProxyError(
        'DRP_STATE_CONFLICT',
        `tenant ${tenant}: expected stored epoch ${expectedEpoch ?? 'none'}, found ${seen ?? 'none'}`,
      );
    }
    if (seen !== undefined && next.epoch < seen) {
      throw new DrProxyError(
        'DRP_STATE_EPOCH_REGRESSION',
        `tenant ${tenant}: epoch ${next.epoch} is lower than stored epoch ${seen}`,
      );
    }
    // The damaged-slot recovery relies on this (see the file comment).
    if (seen !== undefined && next.epoch > seen + 1) {
      throw new DrProxyError('DRP_STATE_CONFLICT', `tenant ${tenant}: epoch ${next.epoch} skips ahead of stored epoch ${seen} (one step at a time)`);
    }
    await this.write(next);
    for (const l of this.listeners) l(next);
  }

  /** Make `next` the tenant's durable state: in place into the older slot when it fits. */
  private async write(next: TenantState): Promise<void> {
    const tenant = next.tenant;
    const file = this.fileOf(tenant);
    const text = JSON.stringify(next);
    const at = this.layout.get(tenant);
    // Sequence numbers never go back for a tenant, even across a new file.
    const seq = Math.max(at?.seq ?? 0, this.hwm.get(tenant)?.seq ?? 0) + 1;
    // In place into the older slot when the file has slots and the record fits them; else the
    // whole file anew (record in slot 0, slot 1 empty) through the temp-file-and-rename path.
    const slot: 0 | 1 = at?.slot === 0 ? 1 : 0;
    let line = slotLine(slot, seq, text);
    const inPlace = at !== undefined && slotSizeFor(line) <= at.size;
    if (!inPlace) line = slotLine(0, seq, text);
    const size = inPlace ? at.size : slotSizeFor(line);
    const mark = { tenant, epoch: next.epoch, seq, site: next.active, crc: crc32(text) };
    try {
      await this.writer.writeLogged(file, inPlace ? slot * size : undefined, { line, size, regions: inPlace ? 1 : 2 }, line, mark);
    } catch (err) {
      throw new DrProxyError('DRP_STATE_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.layout.set(tenant, { slot: inPlace ? slot : 0, seq, size });
    this.seen.set(tenant, next.epoch);
    this.hwm.set(tenant, { epoch: next.epoch, seq, site: next.active, crc: mark.crc });
  }

  /** Resolves once every commit so far is in its tenant's file too, not only in the journal. */
  checkpointed(): Promise<void> {
    return this.writer.drain();
  }

  watch(listener: (s: TenantState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.writer.close();
    this.release();
  }

  private release(): void {
    this.lock?.release();
    this.lock = undefined;
  }

  private fileOf(tenant: string): string {
    return join(this.tenantsDir, `${tenant}.json`);
  }
}

/** A damaged or suspect file's trusted record, its epoch moved past anything it could hide. */
function repaired(file: string, v: Extract<Verdict, { kind: 'repair' }>): TenantState {
  return {
    ...v.base,
    epoch: v.epoch,
    trigger: 'recovery',
    reason: `state file ${file}: ${v.why}, and moved the epoch to ${v.epoch}, past any epoch the damaged record could hold. Before: ${v.base.reason}`,
    updated_at: new Date().toISOString(),
  };
}

/** A tenant whose commits were lost: frozen above every recorded epoch, for an operator. */
function lost(tenant: string, file: string, v: Extract<Verdict, { kind: 'lost' }>, m: ManifestEntry | undefined): TenantState {
  return {
    tenant,
    epoch: v.epoch,
    phase: 'frozen',
    frozen_cause: 'state_lost',
    active: m?.site || v.base?.active || 'unknown',
    fenced: v.base?.fenced ?? [],
    trigger: 'recovery',
    reason:
      `state file ${file}: ${v.why}. Commits were lost (the file was deleted, replaced or restored from an older copy): ` +
      `the tenant is frozen at epoch ${v.epoch}, above every epoch recorded, until an operator fails it over to the site that must take its traffic` +
      (m ? ` (last recorded active site: ${m.site})` : ''),
    updated_at: new Date().toISOString(),
  };
}

/**
 * A tenant's committed state as a stopped (or running) drproxy left it, read without taking
 * the lock: the newer of its file's record and the journal's. For tools and tests that look at
 * a state directory from outside; drproxy itself replays the journal at start-up.
 */
export function readCommittedState(dir: string, tenant: string): TenantState | undefined {
  let journal: Buffer | undefined;
  try {
    journal = readFileSync(join(dir, JOURNAL_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const j = journal === undefined ? undefined : readJournal(journal).records.get(tenant);
  const file = join(dir, 'tenants', `${tenant}.json`);
  let fromFile: StoredState | undefined;
  try {
    fromFile = readStateFile(readFileSync(file), file, tenant);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return committedOf(fromFile, j, join(dir, JOURNAL_FILE));
}

/**
 * The committed state of a tenant from what its file holds and the journal's newest record for
 * it: the same choice as the replay at start-up (journal.ts). For readers of many tenants,
 * which read the journal once (bench/lib.js).
 */
export function committedOf(fromFile: StoredState | undefined, j: JournalRecord | undefined, journalFile: string): TenantState | undefined {
  if (j !== undefined && (fromFile === undefined || (fromFile.layout !== undefined ? j.seq > fromFile.layout.seq : j.epoch > fromFile.state.epoch))) {
    return parseState(j.stateText, journalFile, j.tenant);
  }
  return fromFile?.state;
}
