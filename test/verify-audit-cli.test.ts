/**
 * `drproxy verify-audit FILE [--head HASH] [--json]`, the built CLI as a child process, on an
 * audit file a real AuditLog wrote: exit 0 with the record count and the head; exit 1 naming
 * the line when one byte was edited or a line removed; --head checks that a report's chain head
 * is in the chain; usage errors exit 2.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { AuditLog } from '../src/admin/audit.js';
import type { AuditRef } from '../src/drill/types.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/proxy.js';

let dir: string;
let file: string;
let refs: AuditRef[];

beforeAll(async () => {
  dir = await tempDir('drproxy-verify-audit-');
  file = join(dir, 'audit.log');
  const audit = new AuditLog(pino({ level: 'silent' }), { file });
  refs = [];
  for (let i = 0; i < 6; i++) refs.push(i % 2 ? audit.intent({ action: 'failover', actor: 'ops', tenant: 'acme', reason: `r${i}` })! : audit.event({ event: 'state', tenant: 'acme', i }, `s${i}`)!);
  audit.close();
});

/** A copy of the audit file changed by `edit`. */
async function copyWith(name: string, edit: (lines: string[]) => string[]): Promise<string> {
  const lines = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
  const out = join(dir, name);
  await writeFile(out, edit(lines).map((l) => `${l}\n`).join(''));
  return out;
}

describe('drproxy verify-audit', () => {
  it('an intact file: exit 0, the record count and the head', async () => {
    const r = await runCli(['verify-audit', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`OK: 6 chained record(s) in 6 line(s), head seq 6 ${refs[5]!.hash}`);
  });

  it('one byte edited: exit 1, the line named as edited', async () => {
    const edited = await copyWith('edited.log', (ls) => ls.map((l, i) => (i === 3 ? l.replace('"reason":"r3"', '"reason":"r4"') : l)));
    const r = await runCli(['verify-audit', edited]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/edited\.log: line 4: hash mismatch: the line was edited/);
    expect(r.stdout).toBe('');
  });

  it('a line removed: exit 1, prev mismatch on the line after it', async () => {
    const cut = await copyWith('cut.log', (ls) => ls.filter((_, i) => i !== 2));
    const r = await runCli(['verify-audit', cut]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cut\.log: line 3: prev mismatch: .*removed, inserted or reordered/);
  });

  it('broken JSON: exit 1, that line named', async () => {
    const broken = await copyWith('broken.log', (ls) => ls.map((l, i) => (i === 1 ? l.slice(0, 40) : l)));
    const r = await runCli(['verify-audit', broken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.log: line 2: not valid JSON/);
  });

  it('--head: 0 when the report\'s chain head is in the chain, 1 when it is not', async () => {
    const found = await runCli(['verify-audit', file, '--head', refs[3]!.hash]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`${refs[3]!.hash} is record seq 4 (line 4) of the chain`);
    const shorter = await copyWith('shorter.log', (ls) => ls.slice(0, 5));
    const missing = await runCli(['verify-audit', shorter, '--head', refs[5]!.hash]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`${refs[5]!.hash} is not a record of this chain`);
  });

  it('--json: one object with the verdict', async () => {
    const ok = await runCli(['verify-audit', file, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ file, valid: true, lines: 6, records: 6, segments: [], head: refs[5] });
    const edited = await copyWith('edited-json.log', (ls) => ls.map((l, i) => (i === 0 ? l.replace('"s0"', '"s9"') : l)));
    const bad = await runCli(['verify-audit', edited, '--json']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ valid: false, problem: { line: 1, kind: 'hash_mismatch' } });
  });

  it('usage errors exit 2; a missing file exits 1', async () => {
    expect((await runCli(['verify-audit'])).code).toBe(2);
    expect((await runCli(['verify-audit', file, '--head', 'abc'])).code).toBe(2);
    const missing = await runCli(['verify-audit', join(dir, 'nope.log')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.log: cannot be read \(ENOENT\)/);
  });
});
