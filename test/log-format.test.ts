/**
 * The main log's format (issue 17, item 10): level names instead of pino's numbers, pid and
 * hostname on every line, the audit file likewise, and `log.format: pretty` for a terminal
 * (built in: log-pretty.ts), with secrets still redacted.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createLogger } from '../src/log.js';
import { prettyLine } from '../src/log-pretty.js';
import { AuditLog } from '../src/admin/audit.js';
import { parseConfigText } from '../src/config/index.js';
import type { ConfigError } from '../src/errors.js';
import { tempDir, testConfigDoc } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

function memoryLogger(format?: 'json' | 'pretty') {
  const lines: string[] = [];
  const logger = createLogger({ level: 'trace', ...(format && { format }), destination: { write: (l: string) => void lines.push(l) } });
  return { logger, lines };
}

describe('JSON log lines', () => {
  it('name their level and carry pid, hostname and an ISO time', () => {
    const { logger, lines } = memoryLogger();
    logger.info({ tenant: 'acme' }, 'hello');
    logger.warn('careful');
    logger.error('broken');
    const [info, warn, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(info).toMatchObject({ level: 'info', pid: process.pid, hostname: hostname(), service: 'drproxy', tenant: 'acme', msg: 'hello' });
    expect(warn!.level).toBe('warn');
    expect(error!.level).toBe('error');
    expect(new Date(info!.time as string).toISOString()).toBe(info!.time);
  });

  it('child loggers and a changed level keep the names', () => {
    const { logger, lines } = memoryLogger();
    logger.level = 'debug';
    logger.child({ component: 'x' }).debug('deep');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'debug', component: 'x', pid: process.pid });
  });

  it('the audit file too', async () => {
    const file = join(await tempDir('drproxy-audit-'), 'audit.log');
    const { logger } = memoryLogger();
    const audit = new AuditLog(logger, { file });
    audit.event({ event: 'failover', tenant: 'acme' }, 'failover');
    audit.close();
    const rec = JSON.parse((await readFile(file, 'utf8')).trim().split('\n')[0]!) as Record<string, unknown>;
    expect(rec).toMatchObject({ level: 'warn', event: 'failover', audit: true, pid: process.pid, hostname: hostname() });
  });
});

describe('log.format: pretty', () => {
  it('one short line: time, level, message, then the fields as key=value', () => {
    const { logger, lines } = memoryLogger('pretty');
    logger.info({ tenant: 'acme', listen: '127.0.0.1:8080', problems: ['a b'] }, 'drproxy listening');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  drproxy listening {2}tenant=acme listen=127\.0\.0\.1:8080 problems=\["a b"\]\n$/);
    expect(lines[0]).not.toMatch(/pid=|hostname=|service=/);
  });

  it('redacts secrets and prints an error stack on the lines below', () => {
    const { logger, lines } = memoryLogger('pretty');
    logger.error({ token: 'hunter2', err: new Error('boom') }, 'it failed');
    expect(lines[0]).toMatch(/^\S+ ERROR it failed {2}token="\[redacted\]" err=boom\n {4}Error: boom\n +at /);
    expect(lines[0]).not.toContain('hunter2');
  });

  it('colours the level only when asked (a TTY), and passes a non-JSON line as it is', () => {
    const line = JSON.stringify({ level: 'warn', time: '2026-12-06T14:05:12.345Z', msg: 'slow' });
    expect(prettyLine(line, true)).toBe('14:05:12.345 \x1b[33mWARN \x1b[0m slow\n');
    expect(prettyLine(line, false)).toBe('14:05:12.345 WARN  slow\n');
    expect(prettyLine('not json\n')).toBe('not json\n');
  });

  it('is chosen by the config; a bad value names its path', () => {
    const tenants = { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's1', backends: ['http://127.0.0.1:9'] }] } };
    expect(parseConfigText(stringify({ log: { format: 'pretty' }, tenants }), 't.yaml', '/').config.log).toEqual({ level: 'info', format: 'pretty' });
    try {
      parseConfigText(stringify({ log: { format: 'text' }, tenants }), 't.yaml', '/');
      expect.fail('accepted');
    } catch (err) {
      expect((err as ConfigError).problems.filter((p) => p.severity === 'error').map((p) => `${p.path}: ${p.message}`)).toEqual(['log.format: expected one of json, pretty, got "text"']);
    }
  });

  it('drproxy itself logs pretty lines on stdout (DRPROXY_LOG_FORMAT overrides the file)', async () => {
    const doc = await testConfigDoc({ log: { level: 'info', format: 'json' }, tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's1', backends: ['http://127.0.0.1:9'] }] } } });
    const configFile = join(await tempDir('drproxy-cfg-'), 'drproxy.yaml');
    await writeFile(configFile, stringify(doc));
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const proc = spawn(process.execPath, [cli, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DRPROXY_LOG_FORMAT: 'pretty' } });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => / INFO {2}drproxy listening {2}listen=127\.0\.0\.1:\d+ /.test(out), { what: 'the pretty listening line' });
      expect(out).not.toContain('{"level"');
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
  });
});
