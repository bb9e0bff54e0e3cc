/**
 * Durable writes done on a worker thread, so that a commit costs the event loop one message
 * instead of eight file-system round trips: file replacement (temp file, fsync, rename, fsync
 * of the directory) and in-place writes of a state slot (pwrite, fdatasync: see slots.ts).
 *
 * Why: each fs.promises call is a separate libuv request whose continuation waits for a turn
 * of the event loop. Under load a turn takes about a millisecond, so the eight steps of an
 * atomic write took 3–10 ms in bench/failover.js, and the flip's "persisted" step is on the
 * path of every held request. The worker runs the same steps with the synchronous calls
 * (blocking only itself) and answers with one message. Writes queued while it works are
 * done in one batch that shares a single directory fsync per directory.
 *
 * With a journal (journal.ts), every commit is durable once its record is appended to the
 * journal: every commit of a batch shares one fdatasync (group commit), and the records reach
 * their tenants' files afterwards, once the journal has been quiet for 20 ms, one per turn of
 * the worker's loop, never ahead of a newer batch's journal write. A region's thousand flips
 * wait for a few fdatasyncs instead of a thousand in a row, and a lone commit for one
 * fdatasync of an append. The records also carry the state manifest's high-water marks
 * (manifest.ts), which the worker writes before it empties the journal.
 *
 * The worker is plain JavaScript evaluated from a string (writer-thread.ts).
 */
import { Worker } from 'node:worker_threads';
import { WORKER_SOURCE } from './writer-thread.js';

/**
 * A record padded by the worker (see slots.ts): `regions` regions of `size` bytes, `line` at the
 * start of the first, spaces after it, each region ending in a newline. The padding is made on
 * the worker: at a thousand tenants' first commits it is megabytes that would otherwise be
 * allocated here and copied across.
 */
export interface PaddedRecord {
  line: string;
  size: number;
  regions: 1 | 2;
}

interface Job {
  id: number;
  file: string;
  /** Replace: the temp file beside `file`. */
  tmp?: string;
  /** In-place write: where `data` goes in `file` (which must exist). */
  offset?: number;
  /** Journaled write: the record line appended to the journal first. */
  log?: string;
  /** The commit this write is, for the state manifest (manifest.ts). */
  mark?: CommitMark;
  data: PaddedRecord | string;
}

/** A tenant's commit as the state manifest records it. */
export interface CommitMark {
  tenant: string;
  epoch: number;
  seq: number;
  site: string;
  crc: number;
}

/** The state manifest as the writer thread starts with it (manifest.ts). */
export interface ManifestSeed {
  path: string;
  entries: Record<string, { epoch: number; seq: number; site: string; crc?: number }>;
  /** Its newest record's slot and generation, and its slot size (0: no file yet). */
  slot: 0 | 1;
  seq: number;
  size: number;
}

interface Result {
  id?: number;
  error?: string;
  code?: string;
  /** A checkpoint (a journaled record's write to its file) failed: the journal is kept. */
  checkpointError?: string;
  /** Answer to a drain: every queued write is done. */
  drained?: true;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

export interface AtomicWriterOptions {
  /**
   * The journal file: writes given a record line (`writeLogged`) are durable once the line is
   * appended to it, and reach their own file afterwards (journal.ts).
   */
  journal?: string;
  /**
   * The state manifest, read when the thread starts: the commits' marks are folded into it
   * and it is written before the journal is emptied (or, without a journal, before a commit
   * is answered).
   */
  manifest?: () => ManifestSeed;
  /** A journaled record could not be written to its file (the journal keeps it). */
  onCheckpointError?: (message: string) => void;
  /**
   * Run before a thread replaces one that died: the journal may hold acknowledged records
   * whose checkpoints died with it, and they must reach their files before any newer commit
   * (the two slots of a file must stay one commit apart). Writes queued meanwhile wait for it.
   */
  recover?: () => Promise<void>;
}

/** How long close() waits for queued checkpoints before it stops the thread anyway. */
const CLOSE_DRAIN_MS = 5000;

export class AtomicWriter {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Jobs of this turn, posted to the worker together at the end of it. */
  private queue: Job[] = [];
  private posting = false;
  private drains: Array<() => void> = [];
  /** The last thread died without being asked to: recover before the next one starts. */
  private lost = false;
  private recovering = false;

  constructor(private readonly options: AtomicWriterOptions = {}) {}

  /** Replace `file` with `data` durably; `tmp` is the temp file beside it. */
  write(file: string, tmp: string, data: PaddedRecord | string): Promise<void> {
    return this.enqueue({ file, tmp, data });
  }

  /** Overwrite the padded record's bytes of the existing `file` at `offset`, durably (fdatasync). */
  writeAt(file: string, offset: number, data: PaddedRecord): Promise<void> {
    return this.enqueue({ file, offset, data });
  }

  /**
   * A commit: `data` into `file` at `offset` (in place), or, with `offset` undefined, `file`
   * replaced by `data` through its temp file. Durable as soon as `line` is in the journal (one
   * fdatasync shared by every commit of the batch); the write to `file` follows when the journal
   * is quiet. Without a journal, exactly writeAt or write.
   */
  writeLogged(file: string, offset: number | undefined, data: PaddedRecord, line: string, mark: CommitMark): Promise<void> {
    const where = offset === undefined ? { tmp: `${file}.tmp-${process.pid}` } : { offset };
    return this.enqueue({ file, ...where, data, log: line, mark });
  }

  private enqueue(job: Omit<Job, 'id'>): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, ...job });
      if (!this.posting) {
        // Commits made in the same turn (a region's flips) go in one message and one batch.
        this.posting = true;
        queueMicrotask(this.post);
      }
    });
  }

  private readonly post = (): void => {
    this.posting = false;
    if (this.queue.length === 0 || this.recovering) return;
    const recover = this.options.recover;
    if (this.lost && recover !== undefined) {
      this.recovering = true;
      recover().then(
        () => {
          this.lost = false;
          this.recovering = false;
          this.post();
        },
        (err: Error) => {
          // Nothing is written past a journal that could not be recovered; the next write tries again.
          this.recovering = false;
          const batch = this.queue;
          this.queue = [];
          for (const job of batch) {
            this.pending.get(job.id)?.reject(new Error(`state journal recovery after the writer thread died: ${err.message}`));
            this.pending.delete(job.id);
          }
        },
      );
      return;
    }
    const batch = this.queue;
    this.queue = [];
    const w = this.start();
    w.ref();
    w.postMessage(batch);
  };

  /**
   * Start the worker now (about 20–40 ms) rather than on the first write: that first write may
   * be a flip's, with requests held behind it.
   */
  warm(): void {
    if (this.pending.size === 0) this.start().unref();
  }

  /** Resolves once every write queued so far has reached its file (journaled ones included). */
  drain(): Promise<void> {
    // Writes of this turn not yet posted go first, or the drain would overtake them.
    if (this.posting) this.post();
    if (!this.worker) return Promise.resolve();
    const w = this.worker;
    return new Promise<void>((resolve) => {
      this.drains.push(resolve);
      w.ref();
      w.postMessage('drain');
    });
  }

  /**
   * Stop the worker, after the queued checkpoints are done (up to 5 s: what is left stays in
   * the journal for the next start). Writes still pending then are failed.
   */
  async close(): Promise<void> {
    const w = this.worker;
    if (w && this.options.journal !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.drain(), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_DRAIN_MS)))]);
      clearTimeout(timer);
    }
    this.worker = undefined;
    if (w) await w.terminate();
    this.failAll(new Error('state writer closed'));
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const workerData = { journal: this.options.journal, manifest: this.options.manifest?.() };
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'drproxy-state-writer', workerData });
    w.on('message', (results: Result[]) => {
      for (const r of results) {
        if (r.drained) {
          const ds = this.drains;
          this.drains = [];
          for (const d of ds) d();
          continue;
        }
        if (r.checkpointError !== undefined) {
          this.options.onCheckpointError?.(r.checkpointError);
          continue;
        }
        const p = this.pending.get(r.id!);
        if (!p) continue;
        this.pending.delete(r.id!);
        if (r.error === undefined) p.resolve();
        else p.reject(Object.assign(new Error(r.error), { code: r.code }));
      }
      // Idle, the worker must not keep the process alive (what it still checkpoints is in the
      // journal).
      if (this.pending.size === 0 && this.drains.length === 0) w.unref();
    });
    w.on('error', (err) => {
      this.worker = undefined;
      this.lost = true;
      this.failAll(err);
    });
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      // An exit we did not ask for (close() clears this.worker first): fail what was waiting,
      // rather than leave a flip waiting forever; the next write recovers the journal and
      // starts a new worker.
      this.worker = undefined;
      this.lost = true;
      this.failAll(new Error(`state writer thread exited (code ${code})`));
    });
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.queue = [];
    const ds = this.drains;
    this.drains = [];
    for (const d of ds) d();
  }
}
