/**
 * Secrets never reach a log line in clear: every path of REDACT_PATHS, in the shapes drproxy's
 * records take, comes out as "[redacted]", on the main log and on the audit file.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../src/log.js';
import { AuditLog } from '../src/admin/audit.js';
import { tempDir } from './helpers/proxy.js';

const SECRET = 'sekrit-0123456789';

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (l: string) => void lines.push(l) } });
  return { lines, log };
}

const SHAPES: Array<[string, Record<string, unknown>]> = [
  ['token', { token: SECRET }],
  ['authorization', { authorization: `Bearer ${SECRET}` }],
  ['cookie', { cookie: `sid=${SECRET}` }],
  ['headers', { headers: { authorization: `Bearer ${SECRET}`, cookie: `sid=${SECRET}`, 'set-cookie': `sid=${SECRET}`, accept: '*/*' } }],
  ['req.headers', { req: { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, cookie: `a=${SECRET}` } } }],
  ['request.headers', { request: { headers: { authorization: `Bearer ${SECRET}`, cookie: `a=${SECRET}` } } }],
  ['err.headers', { err: Object.assign(new Error('hook failed'), { headers: { authorization: `Bearer ${SECRET}`, cookie: `a=${SECRET}` } }) }],
];

describe('log redaction', () => {
  for (const [name, fields] of SHAPES) {
    it(`redacts ${name}`, () => {
      const { lines, log } = capture();
      log.child({ component: 'test' }).warn(fields, 'a record');
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toContain(SECRET);
      expect(lines[0]).toContain('[redacted]');
    });
  }

  it('keeps the fields that are not secrets', () => {
    const { lines, log } = capture();
    log.info({ headers: { accept: '*/*', authorization: `Bearer ${SECRET}` }, tenant: 'acme' }, 'x');
    const j = JSON.parse(lines[0]!) as { headers: Record<string, string>; tenant: string };
    expect(j.headers).toEqual({ accept: '*/*', authorization: '[redacted]' });
    expect(j.tenant).toBe('acme');
  });

  it('redacts on the audit file too', async () => {
    const dir = await tempDir();
    const file = join(dir, 'audit.log');
    const { log } = capture();
    const audit = new AuditLog(log, { file });
    audit.event({ event: 'test', ...SHAPES[3]![1] }, 'audit record');
    audit.event({ event: 'test', token: SECRET }, 'audit record');
    const text = await readFile(file, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(text).not.toContain(SECRET);
  });
});
