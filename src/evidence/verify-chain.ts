/**
 * Checks an audit file's hash chain (chain.ts), line by line from the bytes, and stops at the
 * first break, naming its line: an edited line (its hash does not match its bytes), a line
 * removed, inserted or reordered (`prev` or `seq` do not follow), a line that is not a chained
 * record and that no segment record covers. Lines that are not chained records (written before
 * the chain existed, torn by a crash) are accepted only when a segment record follows them,
 * whose `prev` is the SHA-256 of every byte before it.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { AuditRef } from '../drill/types.js';
import { GENESIS, parseTail, SEGMENT_EVENT } from './chain.js';

export type ChainProblemKind = 'bad_json' | 'not_chained' | 'hash_mismatch' | 'prev_mismatch' | 'seq_mismatch' | 'torn_line';

export interface ChainProblem {
  /** 1 = first line of the file. */
  line: number;
  kind: ChainProblemKind;
  message: string;
}

export interface ChainSegment {
  /** The segment record's line. */
  line: number;
  /** How many lines before it were not chained records. */
  unchained_lines: number;
}

export interface ChainVerdict {
  valid: boolean;
  lines: number;
  records: number;
  /** The last record checked (the chain's head when valid). */
  head?: AuditRef;
  segments: ChainSegment[];
  problem?: ChainProblem;
  /** With `head`: where that hash is in the chain, if it is. */
  head_found?: { seq: number; line: number };
}

class ChainVerifier {
  private lineNo = 0;
  private prev = GENESIS;
  private records = 0;
  private head: AuditRef | undefined;
  private readonly segments: ChainSegment[] = [];
  /** The first of the unchained lines seen since the last record, and their count. */
  private pending: { problem: ChainProblem; count: number } | undefined;
  problem: ChainProblem | undefined;
  private headFound: { seq: number; line: number } | undefined;
  /** Every byte of the file so far, for a segment record's `prev`. */
  private readonly prefix: Hash = createHash('sha256');

  constructor(private readonly wanted?: string) {}

  line(buf: Buffer, ended: boolean): void {
    const n = ++this.lineNo;
    if (!ended) {
      this.problem = { line: n, kind: 'torn_line', message: 'the last line has no newline: a write was cut short (drproxy ends it and starts a new chain segment when it next writes to the file)' };
      return;
    }
    this.check(buf, n);
    this.prefix.update(buf);
    this.prefix.update('\n');
  }

  private check(buf: Buffer, n: number): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      return this.unchained({ line: n, kind: 'bad_json', message: `not valid JSON (${(err as Error).message}): the line was edited or cut` });
    }
    const tail = parseTail(buf);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !tail) {
      return this.unchained({ line: n, kind: 'not_chained', message: 'not a chained audit record (no "seq", "prev" and "hash" at its end)' });
    }
    if (tail.computed !== tail.hash) {
      return this.fail({ line: n, kind: 'hash_mismatch', message: `hash mismatch: the line was edited after it was written (it records ${tail.hash}, its bytes give ${tail.computed})` });
    }
    if ((parsed as { event?: unknown }).event === SEGMENT_EVENT) {
      const before = this.prefix.copy().digest('hex');
      if (tail.prev !== before) {
        // An unchained line just before it is the likelier culprit (an edit that broke a record's JSON): name it.
        const p = this.pending?.problem;
        return this.fail(p ? { ...p, message: `${p.message}; the segment record on line ${n} does not cover it` } : { line: n, kind: 'prev_mismatch', message: `segment record: "prev" is not the SHA-256 of the ${n - 1} line(s) before it: a line before it was edited, removed or inserted` });
      }
      this.segments.push({ line: n, unchained_lines: this.pending?.count ?? 0 });
      this.pending = undefined;
    } else {
      if (this.pending) return this.fail(this.pending.problem);
      if (tail.prev !== this.prev) {
        const why = n === 1 ? `"prev" of the first line is not the genesis value: lines were removed from the start of the file` : `"prev" does not match the hash of line ${n - 1}: a line was removed, inserted or reordered just before this one`;
        return this.fail({ line: n, kind: 'prev_mismatch', message: `prev mismatch: ${why}` });
      }
    }
    if (tail.seq !== n) return this.fail({ line: n, kind: 'seq_mismatch', message: `seq ${tail.seq} on line ${n}: lines were removed or inserted before it` });
    this.records++;
    this.prev = tail.hash;
    this.head = { seq: tail.seq, hash: tail.hash };
    if (this.wanted === tail.hash) this.headFound = { seq: tail.seq, line: n };
  }

  private unchained(p: ChainProblem): void {
    if (this.pending) this.pending.count++;
    else this.pending = { problem: p, count: 1 };
  }

  private fail(p: ChainProblem): void {
    this.problem = p;
  }

  verdict(): ChainVerdict {
    if (!this.problem && this.pending) this.problem = this.pending.problem;
    const v: ChainVerdict = { valid: this.problem === undefined, lines: this.lineNo, records: this.records, segments: this.segments };
    if (this.head) v.head = this.head;
    if (this.problem) v.problem = this.problem;
    if (this.headFound) v.head_found = this.headFound;
    return v;
  }
}

/** Checks the chain of the audit file at `path` (throws when it cannot be read). */
export function verifyChainFile(path: string, opts: { head?: string } = {}): Promise<ChainVerdict> {
  return verifyChunks(createReadStream(path) as AsyncIterable<Buffer>, opts);
}

/** Checks the chain of an audit file's bytes held in memory. */
export function verifyChainBytes(bytes: Buffer, opts: { head?: string } = {}): Promise<ChainVerdict> {
  return verifyChunks([bytes], opts);
}

async function verifyChunks(chunks: AsyncIterable<Buffer> | Iterable<Buffer>, opts: { head?: string }): Promise<ChainVerdict> {
  const v = new ChainVerifier(opts.head?.toLowerCase());
  let carry: Buffer[] = [];
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const part = chunk.subarray(start, nl);
      v.line(carry.length > 0 ? Buffer.concat([...carry, part]) : part, true);
      carry = [];
      if (v.problem) return v.verdict();
      start = nl + 1;
    }
    if (start < chunk.length) carry.push(chunk.subarray(start));
  }
  if (carry.length > 0) v.line(Buffer.concat(carry), false);
  return v.verdict();
}
