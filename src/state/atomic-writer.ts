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
 * done in one batch that shares a single directory fsync per directory (group commit).
 *
 * The worker is plain JavaScript evaluated from a string: it must load the same way from
 * dist/ and from the TypeScript sources under the test runner, and it is twenty lines.
 */
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
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
parentPort.on('message', (batch) => {
  const results = [];
  const dirs = new Map();
  for (const job of batch) {
    if (job.offset !== undefined) {
      try { writeAt(job); results.push({ id: job.id }); } catch (err) { results.push({ id: job.id, error: err.message, code: err.code }); }
      continue;
    }
    try {
      writeTemp(job);
      fs.renameSync(job.tmp, job.file);
      const dir = path.dirname(job.file);
      if (!dirs.has(dir)) dirs.set(dir, []);
      dirs.get(dir).push(job.id);
    } catch (err) {
      try { fs.unlinkSync(job.tmp); } catch {}
      results.push({ id: job.id, error: err.message, code: err.code });
    }
  }
  for (const [dir, ids] of dirs) {
    let error;
    try { fsyncDir(dir); } catch (err) { error = err; }
    for (const id of ids) results.push(error ? { id, error: error.message, code: error.code } : { id });
  }
  parentPort.postMessage(results);
});
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
  data: PaddedRecord | string;
}

interface Result {
  id: number;
  error?: string;
  code?: string;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

export class AtomicWriter {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Jobs waiting for the worker to finish its current batch. */
  private queue: Job[] = [];
  private busy = false;

  /** Replace `file` with `data` durably; `tmp` is the temp file beside it. */
  write(file: string, tmp: string, data: PaddedRecord | string): Promise<void> {
    return this.enqueue({ file, tmp, data });
  }

  /** Overwrite the padded record's bytes of the existing `file` at `offset`, durably (fdatasync). */
  writeAt(file: string, offset: number, data: PaddedRecord): Promise<void> {
    return this.enqueue({ file, offset, data });
  }

  private enqueue(job: Omit<Job, 'id'>): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, ...job });
      if (!this.busy) this.flush();
    });
  }

  /**
   * Start the worker now (about 20–40 ms) rather than on the first write: that first write may
   * be a flip's, with requests held behind it.
   */
  warm(): void {
    if (!this.busy) this.start().unref();
  }

  /** Stop the worker (pending writes are failed). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.failAll(new Error('state writer closed'));
  }

  private flush(): void {
    if (this.queue.length === 0) {
      this.busy = false;
      // Idle, the worker must not keep the process alive.
      this.worker?.unref();
      return;
    }
    const batch = this.queue;
    this.queue = [];
    this.busy = true;
    const w = this.start();
    w.ref();
    w.postMessage(batch);
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'drproxy-state-writer' });
    w.on('message', (results: Result[]) => {
      for (const r of results) {
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        if (r.error === undefined) p.resolve();
        else p.reject(Object.assign(new Error(r.error), { code: r.code }));
      }
      this.flush();
    });
    w.on('error', (err) => {
      this.worker = undefined;
      this.busy = false;
      this.failAll(err);
    });
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      // An exit we did not ask for (close() clears this.worker first): fail what was waiting,
      // rather than leave a flip waiting forever; the next write starts a new worker.
      this.worker = undefined;
      this.failAll(new Error(`state writer thread exited (code ${code})`));
    });
    this.worker = w;
    return w;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.queue = [];
    this.busy = false;
  }
}
