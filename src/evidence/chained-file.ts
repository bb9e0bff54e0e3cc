/**
 * The writer's side of the audit hash chain (chain.ts): adds `seq`, `prev` and `hash` to every
 * record it appends to an AuditFile, continuing the chain that the file already holds.
 *
 * The chain's tip (seq, hash, and the file size it was found at) is read from the file's last
 * line before the first append, and again whenever the file's size is not the one this writer
 * left (someone truncated or wrote to it). When that last line is not a chained record (a file
 * written before the chain existed, a line torn by a crash or a full disk, an edited line), a
 * new segment starts: a torn line is first ended with a newline (its bytes are kept), then a
 * segment record whose `prev` is the SHA-256 of every byte before it. The tip moves only when
 * an append fully succeeded; a failed append returns its error and changes nothing, so the
 * caller (AuditLog.intent) can still refuse the mutation whose record did not reach the disk.
 */
import type { AuditFile } from '../admin/audit-file.js';
import type { AuditRef } from '../drill/types.js';
import { createHash } from 'node:crypto';
import { chainLine, GENESIS, parseTail, segmentRecord } from './chain.js';

export interface SegmentInfo {
  reason: 'torn_line' | 'unchained';
  /** Lines before the segment record (a torn line counted, once ended). */
  lines: number;
  bytes: number;
  ref: AuditRef;
}

export interface AppendResult {
  ref?: AuditRef;
  err?: NodeJS.ErrnoException;
}

interface Tip {
  seq: number;
  hash: string;
  /** The file's size right after the tip's line. */
  size: number;
}

const CHUNK = 64 * 1024;
/** A last line longer than this is not one of drproxy's records: a new segment follows it. */
const LINE_MAX = 1024 * 1024;

export class ChainedAuditFile {
  private tip: Tip | undefined;

  constructor(
    private readonly file: AuditFile,
    private readonly onSegment?: (s: SegmentInfo) => void,
  ) {}

  get path(): string {
    return this.file.path;
  }

  /** The last record of the chain: written by this writer, or found at the end of the file. */
  head(): AuditRef | undefined {
    if (this.tip === undefined) {
      try {
        const size = this.file.size();
        const last = size === 0 ? undefined : this.lastLine(size);
        const t = last?.line && !last.torn ? parseTail(last.line) : undefined;
        if (t) this.tip = { seq: t.seq, hash: t.hash, size };
      } catch {
        return undefined;
      }
    }
    return this.tip && this.tip.seq > 0 ? { seq: this.tip.seq, hash: this.tip.hash } : undefined;
  }

  /** Appends one JSON record with its chain members, completely or not at all. */
  append(json: string): AppendResult {
    let tip: Tip;
    try {
      const size = this.file.size();
      tip = this.tip?.size === size ? this.tip : this.resume(size);
    } catch (err) {
      this.tip = undefined;
      return { err: err as NodeJS.ErrnoException };
    }
    const { line, ref } = chainLine(json, tip.seq + 1, tip.hash);
    const err = this.file.append(line);
    if (err) return { err };
    this.tip = { seq: ref.seq, hash: ref.hash, size: tip.size + line.length };
    return { ref };
  }

  /** The tip of the chain in a file of `size` bytes, after a new segment when needed (throws I/O errors). */
  private resume(size: number): Tip {
    if (size === 0) return (this.tip = { seq: 0, hash: GENESIS, size: 0 });
    const last = this.lastLine(size);
    const t = last.line && !last.torn ? parseTail(last.line) : undefined;
    if (t) return (this.tip = { seq: t.seq, hash: t.hash, size });
    return this.startSegment(size, last.torn ? 'torn_line' : 'unchained');
  }

  private startSegment(size: number, reason: SegmentInfo['reason']): Tip {
    let bytes = size;
    if (reason === 'torn_line') {
      // End the torn line: the next record must not be glued to it.
      const err = this.file.append('\n');
      if (err) throw err;
      bytes += 1;
    }
    const { hash, lines } = this.hashPrefix(bytes);
    const { line, ref } = chainLine(segmentRecord({ reason, lines, bytes }), lines + 1, hash);
    const err = this.file.append(line);
    if (err) throw err;
    this.tip = { seq: ref.seq, hash: ref.hash, size: bytes + line.length };
    this.onSegment?.({ reason, lines, bytes, ref });
    return this.tip;
  }

  /** The file's last line (without its newline), and whether it lacks one (torn). */
  private lastLine(size: number): { line?: Buffer; torn: boolean } {
    if (this.byteAt(size - 1) !== 0x0a) return { torn: true };
    const end = size - 1;
    const torn = false;
    let start = end;
    const buf = Buffer.allocUnsafe(CHUNK);
    while (start > 0 && end - start <= LINE_MAX) {
      const from = Math.max(0, start - CHUNK);
      const n = this.file.readAt(buf.subarray(0, start - from), from);
      const nl = buf.subarray(0, n).lastIndexOf(0x0a);
      if (nl >= 0) return { line: this.read(from + nl + 1, end), torn };
      start = from;
    }
    return start === 0 ? { line: this.read(0, end), torn } : { torn };
  }

  /** SHA-256 (hex) and line count of the file's first `bytes` bytes. */
  private hashPrefix(bytes: number): { hash: string; lines: number } {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let lines = 0;
    for (let pos = 0; pos < bytes; ) {
      const n = this.file.readAt(buf.subarray(0, Math.min(CHUNK, bytes - pos)), pos);
      if (n === 0) throw Object.assign(new Error(`${this.file.path} shrank while it was read`), { code: 'EIO' });
      const chunk = buf.subarray(0, n);
      h.update(chunk);
      for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) lines++;
      pos += n;
    }
    return { hash: h.digest('hex'), lines };
  }

  private byteAt(pos: number): number {
    const b = Buffer.alloc(1);
    this.file.readAt(b, pos);
    return b[0]!;
  }

  private read(from: number, to: number): Buffer {
    const b = Buffer.alloc(to - from);
    let done = 0;
    while (done < b.length) {
      const n = this.file.readAt(b.subarray(done), from + done);
      if (n === 0) break;
      done += n;
    }
    return b.subarray(0, done);
  }
}
