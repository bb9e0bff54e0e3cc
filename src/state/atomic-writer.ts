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
 * With a journal (journal.ts), an in-place commit is durable once its record is appended to
 * the journal: every commit of a batch shares one fdatasync (group commit), and the records
 * reach their tenants' files afterwards, one per turn of the worker's loop, never ahead of a
 * newer batch's journal write. A region's thousand flips wait for a few fdatasyncs instead of
 * a thousand in a row.
 *
 * The worker is plain JavaScript evaluated from a string: it must load the same way from
 * dist/ and from the TypeScript sources under the test runner.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
'use strict';
// Not require(): under --input-type=module an eval'd worker is an ES module.
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
function fsyncDir(dir) {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY);
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
let scratch = Buffer.alloc(0);
function bytes(data) {
  if (typeof data === 'string') return data;
  // A padded record: 'regions' regions of 'size' bytes, the line at the start of the first,
  // spaces after it, each region ending in a newline. Built in one reused buffer: a thousand
  // tenants' first commits come in one batch, and a fresh 8 KiB buffer each grew this
  // thread's memory by megabytes that it kept.
  const n = data.size * data.regions;
  if (scratch.length < n) scratch = Buffer.alloc(n);
  const out = scratch.subarray(0, n);
  out.fill(0x20);
  out.write(data.line, 0, 'utf8');
  for (let r = 1; r <= data.regions; r++) out[r * data.size - 1] = 0x0a;
  return out;
}
function writeTemp(job) {
  const fd = fs.openSync(job.tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
  try { fs.writeFileSync(fd, bytes(job.data)); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}
function writeAt(job) {
  const data = bytes(job.data);
  const fd = fs.openSync(job.file, fs.constants.O_WRONLY);
  try {
    for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done, data.length - done, job.offset + done);
    fs.fdatasyncSync(fd);
  } finally { fs.closeSync(fd); }
}
function fail(job, err) { return { id: job.id, error: err.message, code: err.code }; }

// The journal (journal.ts): commits' records appended, one fdatasync per batch. Each record
// is then written to its tenant's file (its checkpoint), in commit order, one per turn of this
// thread's loop so that new batches are never queued behind them. Once every record in the
// journal has its checkpoint on disk, the journal is emptied. A lone commit with nothing
// queued goes straight to its slot instead.
const journalPath = workerData && workerData.journal;
let jfd = -1;
let journalBytes = 0;
// The journal held records when this thread started (a thread that died left them): their
// checkpoints are unknown here, so it is kept until the store recovers it at the next start.
let keepJournal = false;
if (journalPath) {
  try {
    jfd = fs.openSync(journalPath, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
    journalBytes = fs.fstatSync(jfd).size;
    keepJournal = journalBytes > 0;
  } catch { jfd = -1; }
}
let logQ = [];
let workQ = [];
let head = 0;
let checkpointFailed = false;
let drainWanted = false;
let scheduled = false;
function schedule() { if (!scheduled) { scheduled = true; setImmediate(pump); } }

parentPort.on('message', (msg) => {
  if (msg === 'drain') drainWanted = true;
  else for (const job of msg) (job.log !== undefined && jfd >= 0 ? logQ : workQ).push(job);
  schedule();
});

function pump() {
  scheduled = false;
  if (logQ.length > 0) writeLog();
  else if (head < workQ.length) runWork();
  if (logQ.length > 0 || head < workQ.length) { schedule(); return; }
  workQ = [];
  head = 0;
  if (journalBytes > 0 && !keepJournal && !checkpointFailed) {
    // Every record in it is in its tenant's file, durably: nothing to replay any more. Not
    // synced: a journal that comes back after a crash replays records its files already hold.
    try { fs.ftruncateSync(jfd, 0); journalBytes = 0; } catch { keepJournal = true; }
  }
  if (drainWanted) { drainWanted = false; parentPort.postMessage([{ drained: true }]); }
}

function writeLog() {
  const jobs = logQ;
  logQ = [];
  if (jobs.length === 1 && head >= workQ.length) {
    // One commit and nothing else queued: its own slot costs the same one fdatasync as the
    // journal, and leaves no checkpoint to collide with the next commit.
    let result = { id: jobs[0].id };
    try { writeAt(jobs[0]); } catch (err) { result = fail(jobs[0], err); }
    parentPort.postMessage([result]);
    return;
  }
  let text = '';
  for (const job of jobs) text += job.log + '\\n';
  const buf = Buffer.from(text, 'utf8');
  let error;
  try {
    for (let done = 0; done < buf.length; ) done += fs.writeSync(jfd, buf, done, buf.length - done);
    fs.fdatasyncSync(jfd);
    journalBytes += buf.length;
  } catch (err) {
    error = err;
    // A partial record must not run into the next batch's first one: cut it off, or stop
    // journaling (commits then go straight to their files, as without a journal).
    try { fs.ftruncateSync(jfd, journalBytes); } catch { jfd = -1; keepJournal = true; }
  }
  const results = [];
  for (const job of jobs) {
    if (error) { results.push(fail(job, error)); continue; }
    results.push({ id: job.id });
    workQ.push({ file: job.file, offset: job.offset, data: job.data, checkpoint: true });
  }
  parentPort.postMessage(results);
}

function runWork() {
  const job = workQ[head++];
  if (job.checkpoint) {
    try { writeAt(job); } catch (err) {
      checkpointFailed = true;
      parentPort.postMessage([{ checkpointError: job.file + ': ' + err.message }]);
    }
    return;
  }
  if (job.offset !== undefined) {
    let result = { id: job.id };
    try { writeAt(job); } catch (err) { result = fail(job, err); }
    parentPort.postMessage([result]);
    return;
  }
  // File replacements queued together (a thousand tenants' first commits) share one fsync
  // per directory.
  const group = [job];
  while (head < workQ.length && workQ[head].tmp !== undefined) group.push(workQ[head++]);
  const results = [];
  const dirs = new Map();
  for (const g of group) {
    try {
      writeTemp(g);
      fs.renameSync(g.tmp, g.file);
      const dir = path.dirname(g.file);
      if (!dirs.has(dir)) dirs.set(dir, []);
      dirs.get(dir).push(g.id);
    } catch (err) {
      try { fs.unlinkSync(g.tmp); } catch {}
      results.push(fail(g, err));
    }
  }
  for (const [dir, ids] of dirs) {
    let error;
    try { fsyncDir(dir); } catch (err) { error = err; }
    for (const id of ids) results.push(error ? { id, error: error.message, code: error.code } : { id });
  }
  parentPort.postMessage(results);
}
`;

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
  /** Journaled in-place write: the record line appended to the journal first. */
  log?: string;
  data: PaddedRecord | string;
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
   * The journal file: in-place writes given a record line (`writeLogged`) are durable once the
   * line is appended to it, and reach their own file afterwards (journal.ts).
   */
  journal?: string;
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
   * As writeAt, but durable as soon as `line` is in the journal (one fdatasync shared by every
   * commit of the batch); the write to `file` follows. Without a journal, exactly writeAt.
   */
  writeLogged(file: string, offset: number, data: PaddedRecord, line: string): Promise<void> {
    return this.enqueue(this.options.journal === undefined ? { file, offset, data } : { file, offset, data, log: line });
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
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'drproxy-state-writer', workerData: { journal: this.options.journal } });
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
