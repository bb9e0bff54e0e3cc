/**
 * Embedded state store: one file per tenant in a local directory.
 *
 * Durability: a commit overwrites the older of the file's two state slots in place and
 * fdatasyncs it (slots.ts); a new file, a plain-JSON one, or a record too big for its slots is
 * written whole instead: temp file, fsync, rename, fsync of the directory. Both run on a worker
 * thread (atomic-writer.ts). A crash at any point leaves the last committed record readable.
 *
 * A slot found damaged beside a valid one is what a crash in the middle of a slot write leaves,
 * but a disk fault can damage a committed record too, so the damaged slot may have held the
 * successor of the valid one. Every commit raises the epoch by at most one (enforced here), so
 * that successor's epoch is at most the valid one's + 1: drproxy loads the valid record, moves
 * its epoch to + 2 (past anything the damaged slot could hold), writes that over the damaged
 * slot and says why in the state's reason. A file with no valid record stops start-up with a
 * clear message: drproxy never resets an epoch to 0 on its own, because a lower epoch would let
 * a fenced side take writes again.
 *
 * An in-place commit is durable once its record is in the directory's journal, one fdatasync
 * per batch of commits (journal.ts); the record reaches the tenant's file right after, and
 * `open()` replays what a stop left in the journal before any tenant is loaded.
 *
 * A LOCK file holding the owner's pid keeps two processes from sharing one directory.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrProxyError } from '../errors.js';
import { AtomicWriter } from './atomic-writer.js';
import { JOURNAL_FILE, readJournal, recoverJournal, type JournalRecord } from './journal.js';
import { decodeFile, slotLine, slotSizeFor } from './slots.js';
import type { StateStore, TenantState, TenantPhase } from './types.js';

const PHASES: ReadonlySet<TenantPhase> = new Set(['active', 'failing_over', 'frozen']);
const heldLocks = new Set<string>();

export class FileStateStore implements StateStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  private readonly tenantsDir: string;
  private readonly lockFile: string;
  /** Highest epoch seen per tenant (loaded or committed): never go below it. */
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<(s: TenantState) => void>();
  private locked = false;
  private readonly writer: AtomicWriter;
  /** Where each tenant's newest record is: its slot, sequence number and the slot size. */
  private readonly layout = new Map<string, { slot: 0 | 1; seq: number; size: number }>();

  /**
   * `onRepair` hears of every damaged slot repaired at load (an alert: a disk may be failing),
   * `onWriteError` of a journaled record that could not be written to its file (the journal
   * keeps it for the next start).
   */
  constructor(
    dir: string,
    private readonly onRepair?: (tenant: string, message: string) => void,
    onWriteError?: (message: string) => void,
  ) {
    this.dir = dir;
    this.tenantsDir = join(dir, 'tenants');
    this.lockFile = join(dir, 'LOCK');
    this.writer = new AtomicWriter({
      journal: join(dir, JOURNAL_FILE),
      onCheckpointError: (message) => onWriteError?.(`state journal checkpoint failed (the journal keeps the record): ${message}`),
      recover: async () => {
        const { replayed } = await recoverJournal(this.dir, this.tenantsDir);
        this.replayed.push(...replayed);
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
    await this.takeLock();
    try {
      this.replayed = (await recoverJournal(this.dir, this.tenantsDir)).replayed;
    } catch (err) {
      throw new DrProxyError('DRP_STATE_IO', `state journal ${join(this.dir, JOURNAL_FILE)}: ${(err as Error).message}`, { cause: err });
    }
    this.writer.warm();
    // Temp files left by a crash mid-write hold nothing that was committed: remove them.
    for (const name of await readdir(this.tenantsDir)) {
      if (name.includes('.tmp-')) await unlink(join(this.tenantsDir, name)).catch(() => {});
    }
  }

  async load(tenant: string): Promise<TenantState | undefined> {
    const file = this.fileOf(tenant);
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new DrProxyError('DRP_STATE_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    const found = readStateFile(data, file, tenant);
    const seen = this.seen.get(tenant) ?? 0;
    if (found.state.epoch < seen) {
      throw new DrProxyError(
        'DRP_STATE_EPOCH_REGRESSION',
        `${file}: epoch ${found.state.epoch} is lower than epoch ${seen} already seen for tenant ${tenant}; refusing to go back`,
      );
    }
    this.seen.set(tenant, found.state.epoch);
    if (found.layout) this.layout.set(tenant, found.layout);
    else this.layout.delete(tenant);
    if (found.damaged === undefined) return found.state;
    // One slot damaged beside a valid one: see the file comment.
    const s = found.state;
    const recovered: TenantState = {
      ...s,
      epoch: s.epoch + 2,
      trigger: 'recovery',
      reason:
        `state file ${file}: slot ${found.damaged.slot} was unreadable (${found.damaged.why}); loaded the other slot (epoch ${s.epoch}) ` +
        `and moved the epoch to ${s.epoch + 2}, past any epoch the damaged slot could hold. Before: ${s.reason}`,
      updated_at: new Date().toISOString(),
    };
    await this.write(recovered);
    this.onRepair?.(tenant, recovered.reason);
    return recovered;
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
    const seq = (at?.seq ?? 0) + 1;
    // In place into the older slot when the file has slots and the record fits them; else the
    // whole file anew (record in slot 0, slot 1 empty) through the temp-file-and-rename path.
    const slot: 0 | 1 = at?.slot === 0 ? 1 : 0;
    let line = slotLine(slot, seq, text);
    const inPlace = at !== undefined && slotSizeFor(line) <= at.size;
    if (!inPlace) line = slotLine(0, seq, text);
    const size = inPlace ? at.size : slotSizeFor(line);
    try {
      if (inPlace) await this.writer.writeLogged(file, slot * size, { line, size, regions: 1 }, line);
      else await this.writer.write(file, `${file}.tmp-${process.pid}`, { line, size, regions: 2 });
    } catch (err) {
      throw new DrProxyError('DRP_STATE_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.layout.set(tenant, { slot: inPlace ? slot : 0, seq, size });
    this.seen.set(tenant, next.epoch);
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
    if (!this.locked) return;
    this.locked = false;
    heldLocks.delete(this.lockFile);
    await unlink(this.lockFile).catch(() => {});
  }

  private fileOf(tenant: string): string {
    return join(this.tenantsDir, `${tenant}.json`);
  }

  private async takeLock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        this.locked = true;
        heldLocks.add(this.lockFile);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new DrProxyError('DRP_STATE_IO', `cannot create ${this.lockFile}: ${(err as Error).message}`, { cause: err });
        }
      }
      const owner = Number.parseInt(await readFile(this.lockFile, 'utf8').catch(() => ''), 10);
      const ours = owner === process.pid && heldLocks.has(this.lockFile);
      if (ours || (owner > 0 && pidAlive(owner))) {
        throw new DrProxyError(
          'DRP_STATE_IO',
          `state directory ${this.dir} is in use by process ${owner} (${this.lockFile}); two proxies must not share one state directory`,
        );
      }
      // The owner died without cleaning up (SIGKILL): the lock is stale.
      await unlink(this.lockFile).catch(() => {});
    }
    throw new DrProxyError('DRP_STATE_IO', `cannot take the lock ${this.lockFile}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function corrupt(file: string, why: string): DrProxyError {
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
    ...(o.frozen_cause === 'no_site' || o.frozen_cause === 'fence_failed' || o.frozen_cause === 'promote_failed'
      ? { frozen_cause: o.frozen_cause }
      : {}),
    reason: typeof o.reason === 'string' ? o.reason : '',
    trigger: typeof o.trigger === 'string' ? o.trigger : '',
    updated_at: typeof o.updated_at === 'string' ? o.updated_at : '',
  };
}

/** What a state file holds: the current state and, for a slotted file, where it is. */
export interface StoredState {
  state: TenantState;
  /** Slotted files: the newest valid record's slot, sequence number and the slot size. */
  layout?: { slot: 0 | 1; seq: number; size: number };
  /** A slot that held something unreadable beside the valid one. */
  damaged?: { slot: 0 | 1; why: string };
}

/**
 * Read a state file's bytes (either format: see slots.ts). Throws DRP_STATE_CORRUPT when no
 * valid state is in it. Does not repair anything: FileStateStore.load does.
 */
export function readStateFile(data: Buffer, file: string, tenant: string): StoredState {
  const decoded = decodeFile(data);
  if (decoded.kind === 'unreadable') throw corrupt(file, decoded.why);
  if (decoded.kind === 'plain') return { state: parseState(decoded.text, file, tenant) };
  let best: { slot: 0 | 1; seq: number; state: TenantState } | undefined;
  let damaged: StoredState['damaged'];
  for (const slot of [0, 1] as const) {
    const c = decoded.slots[slot];
    if (c.status === 'bad') damaged = { slot, why: c.why };
    if (c.status !== 'ok') continue;
    const state = parseState(c.stateText, file, tenant); // every valid record must parse
    if (!best || c.seq > best.seq) best = { slot, seq: c.seq, state };
  }
  if (!best) throw corrupt(file, damaged ? `slot ${damaged.slot}: ${damaged.why}` : 'no state record');
  return { state: best.state, layout: { slot: best.slot, seq: best.seq, size: decoded.size }, ...(damaged && { damaged }) };
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
