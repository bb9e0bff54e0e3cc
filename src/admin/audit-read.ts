/**
 * Reads the audit file (audit.ts, audit-file.ts) back for GET /audit: newest records first,
 * read from the END of the file in bounded chunks, so that a file of gigabytes answers as fast
 * as a small one and never sits in memory. A scan stops at `limit` matches or after
 * SCAN_MAX_BYTES, whichever comes first, and says which (with a cursor to go on from).
 *
 * `before=<seq>` pages back: `seq` is the line's number in the file (src/evidence/chain.ts), so
 * it grows with the byte offset; a binary search on offsets finds where to start, then the scan
 * keeps only records with a smaller seq (a file whose seq does not grow, an edited one, is
 * still read correctly, only more slowly).
 *
 * The chain links of the lines scanned are checked (each record's `prev` is the `hash` of the
 * record on the line before): a quick sign, not a verification (no hash is recomputed: that is
 * `drproxy verify-audit`, src/evidence/verify-chain.ts).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { SEGMENT_EVENT } from '../evidence/chain.js';

export const CHUNK = 64 * 1024;
/** Bytes scanned per call at most: ~50 ms of parsing; a rare filter match needs a few calls. */
export const SCAN_MAX_BYTES = 8 * 1024 * 1024;
/** A line longer than this is not one of drproxy's records (those are a few KB): skipped. */
const LINE_MAX = 1024 * 1024;

export interface AuditQuery {
  limit: number;
  before?: number;
  tenant?: string;
  action?: string;
  event?: string;
}

export interface ChainCheck {
  /** Pairs of adjacent lines whose link was compared. */
  links_checked: number;
  /** No link broken in the lines scanned (a new segment is not a break: chain.ts). */
  consistent: boolean;
  /** seq of the records whose `prev` is not the hash of the line before. */
  breaks: number[];
  /** seq of the segment records scanned (a new chain after a torn or foreign line). */
  segments: number[];
}

export interface AuditPage {
  records: Array<Record<string, unknown>>;
  /** Where the scan stopped: limit matches found, start of the file reached, or the scan bound. */
  stopped: 'limit' | 'start_of_file' | 'scan_bound';
  /** Pass as `before` for the next (older) page; null at the start of the file. */
  next_before: number | null;
  scanned: { bytes: number; lines: number; skipped_lines: number };
  chain: ChainCheck;
}

interface Scan {
  q: AuditQuery;
  /** Cheap substring tests before JSON.parse, so that a rare filter value scans fast. */
  needles: string[];
  page: AuditPage;
  /** The line scanned just before (newer than) the current one, for the chain link check. */
  newer?: { seq: number; prev: string; segment: boolean };
  oldestSeq?: number;
}

function needlesOf(q: AuditQuery): string[] {
  const n: string[] = [];
  if (q.tenant !== undefined) n.push(`"tenant":${JSON.stringify(q.tenant)}`);
  if (q.action !== undefined) n.push(`"action":${JSON.stringify(q.action)}`);
  if (q.event !== undefined) n.push(`"event":${JSON.stringify(q.event)}`);
  return n;
}

/** Reads one page of `path`; a missing file is an empty trail. Throws other I/O errors. */
export async function readAuditPage(path: string, q: AuditQuery): Promise<AuditPage> {
  const page: AuditPage = { records: [], stopped: 'start_of_file', next_before: null, scanned: { bytes: 0, lines: 0, skipped_lines: 0 }, chain: { links_checked: 0, consistent: true, breaks: [], segments: [] } };
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return page;
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    const end = q.before === undefined ? size : await offsetOfSeq(fh, size, q.before);
    await scanBack(fh, end, { q, needles: needlesOf(q), page });
  } finally {
    await fh.close();
  }
  page.chain.consistent = page.chain.breaks.length === 0;
  return page;
}

/** Reads [from, to) (short only at the end of the file). */
async function readRange(fh: FileHandle, buf: Buffer, from: number, to: number): Promise<Buffer> {
  let done = 0;
  while (done < to - from) {
    const { bytesRead } = await fh.read(buf, done, to - from - done, from + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/**
 * Walks back from `end` chunk by chunk, handing each complete line (newest first) to onLine.
 * The rightmost piece is special: empty at a line boundary, else a last line without its
 * newline (torn by a crash mid-write), skipped and counted.
 */
async function scanBack(fh: FileHandle, end: number, s: Scan): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  const piece = new Piece();
  let pos = end;
  while (pos > 0) {
    if (s.page.scanned.bytes >= SCAN_MAX_BYTES) return stop(s, 'scan_bound');
    const from = Math.max(0, pos - CHUNK);
    const chunk = await readRange(fh, buf, from, pos);
    s.page.scanned.bytes += chunk.length;
    pos = from;
    let right = chunk.length;
    for (let nl = chunk.lastIndexOf(0x0a, right - 1); nl >= 0; nl = right > 0 ? chunk.lastIndexOf(0x0a, right - 1) : -1) {
      piece.prepend(chunk.subarray(nl + 1, right));
      right = nl;
      if (piece.done(s)) return;
      if (right === 0) break;
    }
    if (right > 0) piece.prepend(chunk.subarray(0, right));
  }
  if (!piece.empty() && piece.done(s)) return;
  s.page.stopped = 'start_of_file';
  s.page.next_before = null;
}

/** The line being put together from its end back to its start, over chunk boundaries. */
class Piece {
  private parts: Buffer[] = [];
  private length = 0;
  private overlong = false;
  private rightmost = true;

  prepend(b: Buffer): void {
    if (this.overlong || b.length === 0) return;
    this.parts.unshift(Buffer.from(b)); // a copy: the chunk buffer is reused
    this.length += b.length;
    if (this.length > LINE_MAX) [this.parts, this.length, this.overlong] = [[], 0, true];
  }

  empty(): boolean {
    return this.length === 0 && !this.overlong;
  }

  /** Its start was found: hands it on; true when the page is full. */
  done(s: Scan): boolean {
    const line = this.overlong ? undefined : this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const rightmost = this.rightmost;
    const empty = this.empty();
    [this.parts, this.length, this.overlong, this.rightmost] = [[], 0, false, false];
    if (rightmost) {
      if (!empty) s.page.scanned.skipped_lines++;
      return false;
    }
    return onLine(s, line);
  }
}

function stop(s: Scan, why: 'limit' | 'scan_bound'): void {
  s.page.stopped = why;
  s.page.next_before = why === 'limit' ? ((s.page.records.at(-1)?.seq as number | undefined) ?? s.oldestSeq ?? null) : (s.oldestSeq ?? null);
}

/** One complete line (undefined: too long to be a record); true when the page is full. */
function onLine(s: Scan, line: Buffer | undefined): boolean {
  s.page.scanned.lines++;
  let r: Record<string, unknown> | undefined;
  try {
    const v: unknown = line && line.length > 0 ? JSON.parse(line.toString('utf8')) : undefined;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) r = v as Record<string, unknown>;
  } catch {
    // not JSON: a line torn by a crash and ended by the next write (chained-file.ts)
  }
  if (!r) {
    s.page.scanned.skipped_lines++;
    s.newer = undefined; // no link across a line that is not a record
    return false;
  }
  const seq = typeof r.seq === 'number' ? r.seq : undefined;
  if (s.q.before !== undefined && seq !== undefined && seq >= s.q.before) return false;
  checkLink(s, r, seq);
  if (seq !== undefined) s.oldestSeq = seq;
  if (!matches(s, line!, r)) return false;
  s.page.records.push(r);
  if (s.page.records.length < s.q.limit) return false;
  stop(s, 'limit');
  return true;
}

function matches(s: Scan, line: Buffer, r: Record<string, unknown>): boolean {
  if (s.needles.length === 0) return true;
  const text = line.toString('utf8');
  if (!s.needles.every((n) => text.includes(n))) return false;
  const { tenant, action, event } = s.q;
  return (tenant === undefined || r.tenant === tenant) && (action === undefined || r.action === action) && (event === undefined || r.event === event);
}

/** The newer line's `prev` must be this line's `hash` (unless the newer one starts a segment). */
function checkLink(s: Scan, r: Record<string, unknown>, seq: number | undefined): void {
  const newer = s.newer;
  const hash = typeof r.hash === 'string' ? r.hash : undefined;
  const prev = typeof r.prev === 'string' ? r.prev : undefined;
  const segment = r.event === SEGMENT_EVENT;
  if (segment && seq !== undefined) s.page.chain.segments.push(seq);
  if (newer && !newer.segment && hash !== undefined && seq !== undefined) {
    s.page.chain.links_checked++;
    if (newer.prev !== hash || newer.seq !== seq + 1) s.page.chain.breaks.push(newer.seq);
  }
  s.newer = seq !== undefined && prev !== undefined ? { seq, prev, segment } : undefined;
}

/**
 * The offset of the start of the first line whose seq is >= `before` (the file's size when
 * none is), by binary search on offsets. A probe that finds no seq moves the search later,
 * which only makes the scan longer, never misses a record.
 */
async function offsetOfSeq(fh: FileHandle, size: number, before: number): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let lo = 0;
  let hi = size;
  while (hi - lo > CHUNK) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const chunk = await readRange(fh, buf, mid, Math.min(size, mid + CHUNK));
    const first = chunk.indexOf(0x0a);
    const second = first < 0 ? -1 : chunk.indexOf(0x0a, first + 1);
    const seq = second < 0 ? undefined : seqOf(chunk.subarray(first + 1, second));
    if (seq !== undefined && seq >= before) hi = mid + first + 1;
    else lo = mid;
  }
  return hi;
}

const SEQ = /,"seq":([1-9][0-9]{0,15}),"prev":"[0-9a-f]{64}","hash":"[0-9a-f]{64}"}$/;

function seqOf(line: Buffer): number | undefined {
  const m = SEQ.exec(line.subarray(Math.max(0, line.length - 200)).toString('latin1'));
  return m ? Number(m[1]) : undefined;
}
