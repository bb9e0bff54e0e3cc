/**
 * The audit file's hash chain (docs/security.md, "Tamper-evident evidence"). Every line is one
 * JSON object whose last three members are added here, byte for byte:
 *
 *   {…record…,"seq":N,"prev":"<64 hex>","hash":"<64 hex>"}\n
 *
 * `hash` is the hex SHA-256 of the line's bytes up to (not including) `,"hash":`, so that a
 * verifier recomputes it from the bytes as written: no JSON canonicalisation, nothing to agree
 * on but this file. `prev` is the `hash` of the line before (GENESIS on the first line), and
 * `seq` is the line's number in the file (1 = first line). A record with
 * `"event":"audit_chain_segment"` starts a new segment after lines that are not chained records
 * (a file written before the chain existed, a line torn by a crash): its `prev` is the SHA-256
 * of every byte of the file before it, so those lines are covered too.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { AuditRef } from '../drill/types.js';

/** `prev` of the first line of a file. */
export const GENESIS = '0'.repeat(64);
/** The `event` of a segment record. */
export const SEGMENT_EVENT = 'audit_chain_segment';

/** The chain members at the end of a line (without its newline); anchored so that a record's own fields cannot pose as them. */
const TAIL = /,"seq":([1-9][0-9]{0,15}),"prev":"([0-9a-f]{64})","hash":"([0-9a-f]{64})"}$/;

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Appends the chain members to one serialised JSON object (`{…}`, a trailing newline allowed)
 * and returns the bytes to write (with their newline) and the line's reference.
 */
export function chainLine(json: string, seq: number, prev: string): { line: Buffer; ref: AuditRef } {
  const body = json.endsWith('\n') ? json.slice(0, -1) : json;
  if (!body.startsWith('{') || !body.endsWith('}')) throw new TypeError('an audit record must be one JSON object');
  const open = body.length === 2 ? '{' : `${body.slice(0, -1)},`;
  // Hashed as the bytes that are written (UTF-8), not as a string.
  const signed = Buffer.from(`${open}"seq":${seq},"prev":"${prev}"`, 'utf8');
  const hash = sha256Hex(signed);
  return { line: Buffer.concat([signed, Buffer.from(`,"hash":"${hash}"}\n`, 'latin1')]), ref: { seq, hash } };
}

export interface ChainTail {
  seq: number;
  prev: string;
  /** The hash the line records. */
  hash: string;
  /** The hash its bytes give. */
  computed: string;
}

/** Longer than any chain tail (`,"seq":` + 16 digits + two 64-hex members). */
const TAIL_MAX = 200;

/** The chain members of a line (its bytes, without the newline), or undefined when it has none. */
export function parseTail(line: Buffer): ChainTail | undefined {
  // The tail is ASCII: its characters are its bytes.
  const end = line.subarray(Math.max(0, line.length - TAIL_MAX)).toString('latin1');
  const m = TAIL.exec(end);
  if (!m) return undefined;
  const cut = line.length - (m[0].length - m[0].indexOf(',"hash":'));
  return { seq: Number(m[1]), prev: m[2]!, hash: m[3]!, computed: sha256Hex(line.subarray(0, cut)) };
}

/** The record that starts a new segment, before its chain members. */
export function segmentRecord(follows: { reason: 'torn_line' | 'unchained'; lines: number; bytes: number }, now = new Date()): string {
  const why = follows.reason === 'torn_line' ? 'its last line was cut short (a crash or a full disk)' : 'its last line is not a chained record (written before the chain, or edited)';
  const msg = `audit chain: new segment after ${follows.lines} line(s), ${follows.bytes} byte(s): ${why}; prev is the SHA-256 of those bytes`;
  // The fields every audit line has (log.ts baseLogOptions), then the segment's own.
  return JSON.stringify({ level: 'warn', time: now.toISOString(), service: 'drproxy', pid: process.pid, hostname: hostname(), audit: true, event: SEGMENT_EVENT, follows, msg });
}
