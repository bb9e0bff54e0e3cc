/**
 * Issue 16 item 16: the state directory's lock dies with its process (an fcntl lock on LOCK,
 * src/state/lock.ts). A LOCK file left holding this process's own pid (the container case:
 * drproxy is pid 1 at every start) or pid 1 does not stop a start; two proxies on one
 * directory: the second is refused with a clear error; SIGKILL the holder and the next start
 * succeeds at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStateStore } from '../src/state/file-store.js';
import { spawnProxy, tempDir, type ChildProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

const DIST = fileURLToPath(new URL('../dist/state/file-store.js', import.meta.url));

/**
 * A child process that writes `lock` (with `$PID` replaced by its own pid) into LOCK, then
 * opens a store on `dir`: prints "opened" or the error, then exits.
 */
async function childOpens(dir: string, lock?: string): Promise<string> {
  const script = `
    const { writeFileSync } = await import('node:fs');
    const lock = ${JSON.stringify(lock ?? null)};
    if (lock !== null) writeFileSync(${JSON.stringify(join(dir, 'LOCK'))}, lock.replace('$PID', String(process.pid)));
    const { FileStateStore } = await import(${JSON.stringify(DIST)});
    const s = new FileStateStore(${JSON.stringify(dir)});
    try { await s.open(); console.log('opened'); await s.close(); } catch (err) { console.log(err.code + ': ' + err.message); }
  `;
  const file = join(await tempDir('drproxy-lock-'), 'child.mjs');
  await writeFile(file, script);
  const proc = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => proc.once('exit', r));
  return out.trim();
}

async function open(dir: string): Promise<FileStateStore> {
  const s = new FileStateStore(dir);
  await s.open();
  return s;
}

describe('the state directory lock', () => {
  it("a stale LOCK holding this process's own pid does not stop a start", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'LOCK'), `${process.pid}\n`);
    const s = await open(dir);
    await s.close();
  });

  it('the container case: a child that finds its own pid in LOCK starts', async () => {
    const dir = await tempDir();
    expect(await childOpens(dir, '$PID\n')).toBe('opened');
  });

  it('a stale LOCK holding pid 1 (a container restarted with its volume kept) does not stop a start', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'LOCK'), '1\n');
    const s = await open(dir);
    await s.close();
    expect(await childOpens(dir, '1\n')).toBe('opened');
  });

  it('an old-form LOCK of a live Node process (an older drproxy may still run there) is refused', async () => {
    const dir = await tempDir();
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      await writeFile(join(dir, 'LOCK'), `${other.pid}\n`);
      await expect(open(dir)).rejects.toThrow(new RegExp(`in use by process ${other.pid} .*before fcntl locks`));
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('a second store in this process is refused, and the first keeps its lock (seen from another process)', async () => {
    const dir = await tempDir();
    const a = await open(dir);
    await expect(open(dir)).rejects.toMatchObject({ code: 'DRP_STATE_IO', message: expect.stringMatching(`in use by process ${process.pid}`) });
    expect(await childOpens(dir)).toMatch(new RegExp(`^DRP_STATE_IO: state directory .* is in use by process ${process.pid} `));
    // Named another way (a symlink to it): still the same directory, still refused.
    const link = join(await tempDir(), 'link');
    await symlink(dir, link);
    await expect(open(link)).rejects.toMatchObject({ code: 'DRP_STATE_IO' });
    expect(await childOpens(dir)).toMatch(/^DRP_STATE_IO: /);
    await a.close();
    expect(await childOpens(dir)).toBe('opened');
    // Released, the file stays, naming its last holder.
    expect(await readFile(join(dir, 'LOCK'), 'utf8')).toMatch(/^\d+\nfcntl lock: /);
  });
});

describe('two drproxy processes on one state directory', () => {
  let up: Upstream;
  const children: ChildProxy[] = [];
  beforeAll(async () => {
    up = await startUpstream('a1');
  });
  afterAll(async () => {
    for (const c of children) await c.kill();
    await stopAll(up);
  });
  const doc = () => ({ tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [up.url] }] } } });

  it('the second is refused with a clear error; SIGKILL the first and the next start succeeds at once', async () => {
    const dir = await tempDir();
    const first = await spawnProxy(doc(), dir);
    children.push(first);
    const refused = await spawnProxy(doc(), dir).then(
      (c) => (children.push(c), 'started'),
      (err: Error) => err.message,
    );
    expect(refused).toMatch(new RegExp(`state directory .* is in use by process ${first.proc.pid} \\(.*LOCK\\).*two proxies must not share one state directory`, 's'));
    await first.kill('SIGKILL');
    const next = await spawnProxy(doc(), dir);
    children.push(next);
    expect(next.port).toBeGreaterThan(0);
  });
});
