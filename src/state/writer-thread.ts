/**
 * The state writer thread's source (see atomic-writer.ts for what it does and why). Plain
 * JavaScript evaluated from a string: it must load the same way from dist/ and from the
 * TypeScript sources under the test runner.
 */
export const WORKER_SOURCE = `
'use strict';
// Not require(): under --input-type=module an eval'd worker is an ES module.
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
const path = process.getBuiltinModule('node:path');
const { crc32 } = process.getBuiltinModule('node:zlib');
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
function replace(job) {
  try { writeTemp(job); fs.renameSync(job.tmp, job.file); } catch (err) { try { fs.unlinkSync(job.tmp); } catch {} throw err; }
}
function fail(job, err) { return { id: job.id, error: err.message, code: err.code }; }

// The state manifest (manifest.ts): every tenant's last commit (epoch, seq, site), folded in
// from the journal's records and written once they are all in their files, before the journal
// is emptied. Without a journal, written before a commit is answered.
const man = workerData && workerData.manifest ? workerData.manifest : undefined;
if (man) { man.entries = Object.assign(Object.create(null), man.entries); man.dirty = false; }
function mark(job) {
  if (!man || !job.mark) return;
  man.entries[job.mark.tenant] = { epoch: job.mark.epoch, seq: job.mark.seq, site: job.mark.site, crc: job.mark.crc };
  man.dirty = true;
}
function manifestLine(slot, seq) {
  // slots.ts slotLine, over the manifest's state: the CRC-32 of every byte before the digits.
  const head = '{"v":2,"slot":' + slot + ',"seq":' + seq + ',"state":' + JSON.stringify({ v: 1, tenants: man.entries }) + ',"crc":';
  return head + crc32(head) + '}';
}
function flushManifest() {
  const seq = man.seq + 1;
  const slot = man.slot === 0 ? 1 : 0;
  const line = manifestLine(slot, seq);
  let inPlace = man.size > 0 && Buffer.byteLength(line) + 1 <= man.size;
  if (inPlace) {
    try {
      writeAt({ file: man.path, offset: slot * man.size, data: { line, size: man.size, regions: 1 } });
      man.slot = slot;
    } catch (err) {
      // Deleted under us: written anew below, from what this thread holds (every tenant).
      if (err.code !== 'ENOENT') throw err;
      inPlace = false;
    }
  }
  if (!inPlace) {
    const whole = manifestLine(0, seq);
    const size = Math.ceil((Buffer.byteLength(whole) + 1) / 4096) * 4096;
    replace({ file: man.path, tmp: man.path + '.tmp-' + process.pid, data: { line: whole, size, regions: 2 } });
    fsyncDir(path.dirname(man.path));
    man.slot = 0;
    man.size = size;
  }
  man.seq = seq;
  man.dirty = false;
}

// The journal (journal.ts): commits' records appended, one fdatasync per batch; a commit is
// durable then. Each record is then written to its tenant's file (its checkpoint), in commit
// order, one per turn of this thread's loop so that new batches are never queued behind them,
// and only once the journal has been quiet for a moment: a run of commits (a region's flips,
// one tenant's flip and completion) pays one fdatasync each, not one more for a checkpoint in
// its way. Once every record in the journal is in its file and in the manifest, the journal
// is emptied.
const CHECKPOINT_DELAY_MS = 20;
const BACKLOG = 20000;
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
let direct = 0;
let lastLogAt = 0;
let checkpointFailed = false;
let manifestRetryAt = 0;
let manifestBackoff = 1000;
let drainWanted = false;
let scheduled = false;
let timer;
function schedule() { if (!scheduled) { scheduled = true; setImmediate(pump); } }
function scheduleIn(ms) {
  if (timer) return;
  timer = setTimeout(() => { timer = undefined; pump(); }, Math.max(1, ms));
}

parentPort.on('message', (msg) => {
  if (msg === 'drain') drainWanted = true;
  else for (const job of msg) {
    if (job.log !== undefined && jfd >= 0) logQ.push(job);
    else { workQ.push(job); direct++; }
  }
  schedule();
});

function pump() {
  scheduled = false;
  if (logQ.length > 0) writeLog();
  else if (head < workQ.length) {
    const wait = drainWanted || direct > 0 || workQ.length - head > BACKLOG ? 0 : CHECKPOINT_DELAY_MS - (Date.now() - lastLogAt);
    if (wait > 0) { scheduleIn(wait); return; }
    runWork();
  }
  if (logQ.length > 0 || head < workQ.length) { schedule(); return; }
  workQ = [];
  head = 0;
  if (journalBytes > 0 && !keepJournal && !checkpointFailed) emptyJournal();
  if (drainWanted) { drainWanted = false; parentPort.postMessage([{ drained: true }]); }
}

function emptyJournal() {
  if (man && man.dirty) {
    if (Date.now() < manifestRetryAt && !drainWanted) return;
    try { flushManifest(); manifestBackoff = 1000; } catch (err) {
      // The journal keeps every record: the manifest is written again later (1 s, doubling to
      // a minute, so that a lasting fault is not reported every second).
      manifestRetryAt = Date.now() + manifestBackoff;
      scheduleIn(manifestBackoff);
      manifestBackoff = Math.min(60000, manifestBackoff * 2);
      parentPort.postMessage([{ checkpointError: 'state manifest ' + man.path + ': ' + err.message }]);
      return;
    }
  }
  // Every record in it is in its tenant's file and in the manifest, durably: nothing to replay
  // any more. Not synced: a journal that comes back after a crash replays records its files
  // already hold.
  try { fs.ftruncateSync(jfd, 0); journalBytes = 0; } catch { keepJournal = true; }
}

function writeLog() {
  const jobs = logQ;
  logQ = [];
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
  lastLogAt = Date.now();
  const results = [];
  for (const job of jobs) {
    if (error) { results.push(fail(job, error)); continue; }
    mark(job);
    results.push({ id: job.id });
    workQ.push({ file: job.file, offset: job.offset, tmp: job.tmp, data: job.data, checkpoint: true });
  }
  parentPort.postMessage(results);
}

function runWork() {
  const job = workQ[head++];
  if (job.checkpoint && job.tmp === undefined) {
    try { writeAt(job); } catch (err) { checkpointFailed = true; parentPort.postMessage([{ checkpointError: job.file + ': ' + err.message }]); }
    return;
  }
  if (!job.checkpoint) direct--;
  if (job.offset !== undefined) {
    let result = { id: job.id };
    try { writeAt(job); settle(job); } catch (err) { result = fail(job, err); }
    parentPort.postMessage([result]);
    return;
  }
  // File replacements queued together (a thousand tenants' first commits) share one fsync
  // per directory.
  const group = [job];
  while (head < workQ.length && workQ[head].tmp !== undefined && workQ[head].offset === undefined) {
    const g = workQ[head++];
    if (!g.checkpoint) direct--;
    group.push(g);
  }
  const results = [];
  const dirs = new Map();
  const failed = (g, err) => {
    if (g.checkpoint) { checkpointFailed = true; results.push({ checkpointError: g.file + ': ' + err.message }); }
    else results.push(fail(g, err));
  };
  for (const g of group) {
    try {
      replace(g);
      const dir = path.dirname(g.file);
      if (!dirs.has(dir)) dirs.set(dir, []);
      dirs.get(dir).push(g);
    } catch (err) { failed(g, err); }
  }
  for (const [dir, gs] of dirs) {
    let error;
    try { fsyncDir(dir); } catch (err) { error = err; }
    for (const g of gs) {
      if (error) { failed(g, error); continue; }
      if (g.checkpoint) continue;
      try { settle(g); results.push({ id: g.id }); } catch (err) { results.push(fail(g, err)); }
    }
  }
  if (results.length > 0) parentPort.postMessage(results);
}

// A commit written straight to its file (no journal): its manifest entry is durable before
// the commit is answered.
function settle(job) {
  if (!man || !job.mark) return;
  mark(job);
  flushManifest();
}
`;
