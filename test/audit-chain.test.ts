/**
 * The audit file's hash chain, written by a real AuditLog to a real file: every line carries
 * seq, prev and hash; the chain continues across a reopen; editing one byte of any line,
 * deleting, inserting or swapping lines is caught and the line named; a torn last line or a
 * file written before the chain starts a new segment that covers those bytes; a failed write
 * does not move the head.
 */
import { describe, expect, it } from 'vitest';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { AuditLog } from '../src/admin/audit.js';
import { AuditFile } from '../src/admin/audit-file.js';
import { ChainedAuditFile } from '../src/evidence/chained-file.js';
import { GENESIS, sha256Hex } from '../src/evidence/chain.js';
import { verifyChainBytes, verifyChainFile } from '../src/evidence/verify-chain.js';
import type { AuditRef } from '../src/drill/types.js';
import { tempDir } from './helpers/proxy.js';

const silent = pino({ level: 'silent' });

/** Writes `n` records of the three kinds through a fresh AuditLog; their references. */
function write(file: string, n: number, from = 0): AuditRef[] {
  const audit = new AuditLog(silent, { file });
  const refs: AuditRef[] = [];
  for (let i = from; i < from + n; i++) {
    const kind = i % 3;
    const ref =
      kind === 0
        ? audit.event({ event: 'state', tenant: 'acme', i }, `state change ${i}`)
        : kind === 1
          ? audit.intent({ action: 'failover', actor: 'ops', tenant: 'acme', reason: `drill ✓ ${i}` })
          : audit.record({ action: 'failover', actor: 'ops', result: 'ok', status: 200, tenant: 'acme' });
    refs.push(ref!);
  }
  audit.close();
  return refs;
}

const lines = async (file: string) => (await readFile(file, 'utf8')).split('\n').slice(0, -1);
const setLines = (file: string, ls: string[]) => writeFile(file, ls.map((l) => `${l}\n`).join(''));

describe('audit hash chain', () => {
  it('every record returns its reference; each line ends with seq, prev and hash over its own bytes', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    const refs = write(file, 5);
    expect(refs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    const ls = await lines(file);
    let prev = GENESIS;
    ls.forEach((l, i) => {
      const rec = JSON.parse(l) as { seq: number; prev: string; hash: string };
      expect(rec).toMatchObject({ seq: i + 1, prev, hash: refs[i]!.hash });
      expect(sha256Hex(Buffer.from(l.slice(0, l.indexOf(',"hash":')), 'utf8'))).toBe(rec.hash);
      prev = rec.hash;
    });
    const v = await verifyChainFile(file);
    expect(v).toMatchObject({ valid: true, records: 5, lines: 5, head: refs[4], segments: [] });
  });

  it('continues the chain across a reopen (head read from the last line)', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    const first = write(file, 3);
    const reopened = new AuditLog(silent, { file });
    expect(reopened.head()).toEqual(first[2]);
    expect(reopened.filePath).toBe(file);
    const next = reopened.event({ event: 'state', tenant: 'acme' }, 'after the restart')!;
    expect(next.seq).toBe(4);
    expect(reopened.head()).toEqual(next);
    reopened.close();
    expect(JSON.parse((await lines(file))[3]!).prev).toBe(first[2]!.hash);
    // Written at once, without asking for the head first: the same continuation, no new segment.
    const more = write(file, 2, 4);
    expect(more.map((r) => r.seq)).toEqual([5, 6]);
    expect(JSON.parse((await lines(file))[4]!).prev).toBe(next.hash);
    expect(await verifyChainFile(file)).toMatchObject({ valid: true, records: 6, head: more[1], segments: [] });
  });

  it('names the line when any one byte of the file is edited (a value, the JSON, seq, prev, hash, a newline)', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    write(file, 5);
    const original = await readFile(file);
    let line = 1;
    for (let at = 0; at < original.length; at++) {
      const edited = Buffer.from(original);
      edited[at] = edited[at] === 0x31 ? 0x32 : 0x31; // "1" or "2": any other byte
      const v = await verifyChainBytes(edited);
      expect(v.valid, `byte ${at} (line ${line})`).toBe(false);
      expect(v.problem?.line, `byte ${at} of line ${line}: ${v.problem?.message}`).toBe(line);
      if (original[at] === 0x0a) line++;
    }
    // The file itself, through the file reader.
    await writeFile(file, Buffer.concat([original.subarray(0, 10), Buffer.from('X'), original.subarray(11)]));
    expect((await verifyChainFile(file)).problem?.line).toBe(1);
  });

  it('a value changed with valid JSON is a hash mismatch on that line', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    write(file, 4);
    const ls = await lines(file);
    ls[2] = ls[2]!.replace('"status":200', '"status":500');
    await setLines(file, ls);
    expect((await verifyChainFile(file)).problem).toMatchObject({ line: 3, kind: 'hash_mismatch', message: expect.stringMatching(/edited/) });
  });

  it('a deleted, inserted or swapped line is a prev mismatch on the line where the order breaks', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    const refs = write(file, 5);
    const ls = await lines(file);
    const cases: [string, string[], number][] = [
      ['line 3 deleted', [ls[0]!, ls[1]!, ls[3]!, ls[4]!], 3],
      ['line 1 deleted', ls.slice(1), 1],
      ['line 2 repeated', [ls[0]!, ls[1]!, ls[1]!, ...ls.slice(2)], 3],
      ['lines 2 and 3 swapped', [ls[0]!, ls[2]!, ls[1]!, ls[3]!, ls[4]!], 2],
      ['lines 4 and 5 swapped', [...ls.slice(0, 3), ls[4]!, ls[3]!], 4],
    ];
    for (const [what, edited, line] of cases) {
      await setLines(file, edited);
      expect((await verifyChainFile(file)).problem, what).toMatchObject({ line, kind: 'prev_mismatch', message: expect.stringMatching(/removed|inserted|reordered/) });
    }
    // The last line deleted: a valid shorter chain, but the head a report named is gone.
    await setLines(file, ls.slice(0, 4));
    const v = await verifyChainFile(file, { head: refs[4]!.hash });
    expect(v.valid).toBe(true);
    expect(v.head_found).toBeUndefined();
    await setLines(file, ls);
    expect((await verifyChainFile(file, { head: refs[4]!.hash })).head_found).toEqual({ seq: 5, line: 5 });
  });

  it('a torn last line: reported until the next write, which ends it and starts a segment covering it', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    write(file, 3);
    await appendFile(file, '{"level":"info","time":"2026-12-06T10:00:00.000Z","event":"adm');
    expect((await verifyChainFile(file)).problem).toMatchObject({ line: 4, kind: 'torn_line' });

    const audit = new AuditLog(silent, { file });
    const ref = audit.intent({ action: 'failover', actor: 'ops', tenant: 'acme', reason: 'after the crash' })!;
    audit.close();
    const ls = await lines(file);
    expect(ls[3]).toBe('{"level":"info","time":"2026-12-06T10:00:00.000Z","event":"adm'); // kept, not cut
    const segment = JSON.parse(ls[4]!);
    expect(segment).toMatchObject({ event: 'audit_chain_segment', follows: { reason: 'torn_line', lines: 4 }, seq: 5 });
    expect(segment.prev).toBe(sha256Hex(Buffer.from(ls.slice(0, 4).map((l) => `${l}\n`).join(''))));
    expect(ref.seq).toBe(6);
    expect(await verifyChainFile(file)).toMatchObject({ valid: true, records: 5, lines: 6, head: ref, segments: [{ line: 5, unchained_lines: 1 }] });

    // The torn bytes are covered too: editing them breaks the chain.
    ls[3] = ls[3]!.replace('adm', 'xdm');
    await setLines(file, ls);
    expect((await verifyChainFile(file)).problem?.line).toBe(4);
  });

  it('a file written before the chain existed gets a segment after its last line', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    await writeFile(file, '{"level":"info","msg":"old record 1"}\n{"level":"info","msg":"old record 2"}\n');
    expect((await verifyChainFile(file)).problem).toMatchObject({ line: 1, kind: 'not_chained' });
    const refs = write(file, 2);
    expect(refs.map((r) => r.seq)).toEqual([4, 5]);
    expect(JSON.parse((await lines(file))[2]!)).toMatchObject({ event: 'audit_chain_segment', follows: { reason: 'unchained', lines: 2 } });
    expect(await verifyChainFile(file)).toMatchObject({ valid: true, records: 3, segments: [{ line: 3, unchained_lines: 2 }] });
  });

  it('a file truncated under a running writer (copytruncate) starts again at genesis', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    const audit = new AuditLog(silent, { file });
    audit.event({ event: 'state' }, 'before the rotation');
    audit.event({ event: 'state' }, 'before the rotation');
    await writeFile(file, '');
    const ref = audit.event({ event: 'state' }, 'after the rotation')!;
    audit.close();
    expect(ref.seq).toBe(1);
    expect(JSON.parse((await lines(file))[0]!).prev).toBe(GENESIS);
    expect(await verifyChainFile(file)).toMatchObject({ valid: true, records: 1, head: ref });
  });

  it('a failed write returns no reference and does not move the head; the next one continues the chain', async () => {
    const file = join(await tempDir('drproxy-chain-'), 'audit.log');
    let fail = false;
    class FlakyFile extends AuditFile {
      override append(line: string | Buffer): NodeJS.ErrnoException | undefined {
        return fail ? Object.assign(new Error('no space left'), { code: 'ENOSPC' }) : super.append(line);
      }
    }
    const chain = new ChainedAuditFile(new FlakyFile(file));
    const a = chain.append('{"n":1}\n').ref!;
    fail = true;
    expect(chain.append('{"n":2}\n')).toMatchObject({ err: { code: 'ENOSPC' } });
    expect(chain.head()).toEqual(a);
    fail = false;
    const b = chain.append('{"n":3}\n').ref!;
    expect(b.seq).toBe(2);
    expect(await verifyChainFile(file)).toMatchObject({ valid: true, records: 2, head: b });
  });

  it('no file configured: records return no reference and there is no head', () => {
    const audit = new AuditLog(silent);
    expect(audit.event({ event: 'x' }, 'x')).toBeUndefined();
    expect(audit.intent({ action: 'failover', actor: 'ops' })).toBeUndefined();
    expect(audit.head()).toBeUndefined();
    expect(audit.filePath).toBeUndefined();
  });
});
