/** Real upstream servers for tests: child processes (killable, stoppable) on 127.0.0.1. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { waitFor } from './poll.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/upstream.mjs', import.meta.url));

export interface Upstream {
  site: string;
  port: number;
  url: string;
  proc: ChildProcess;
  /**
   * connections: accepted so far; fresh: open and never used for a request (pre-connected);
   * stampedOpen: open and used by proxied requests (stamped with an epoch).
   */
  stats(): Promise<{ requests: number; byPath: Record<string, number>; lastHeaders: Record<string, string> | null; epochs: string[]; connections: number; fresh: number; stampedOpen: number; healthAt: number[] }>;
  /** Close every connection that never sent a request (pre-connected ones). */
  closeFresh(): Promise<void>;
  setHealth(status: number, body?: string): Promise<void>;
  setMode(status: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port (after a kill). */
  restart(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function launch(site: string, port: number): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [SCRIPT, '--site', site, '--port', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.once('exit', (code) => reject(new Error(`upstream ${site} exited (${code}) before listening`)));
  });
}

export async function startUpstream(site: string, port = 0): Promise<Upstream> {
  const first = await launch(site, port);
  const u: Upstream = {
    site,
    port: first.port,
    url: `http://127.0.0.1:${first.port}`,
    proc: first.proc,
    async stats() {
      const r = await request(`${u.url}/__stats`);
      return (await r.body.json()) as Awaited<ReturnType<Upstream['stats']>>;
    },
    async setHealth(status, body = 'ok') {
      const r = await request(`${u.url}/__control/health?status=${status}&body=${encodeURIComponent(body)}`, { method: 'POST' });
      await r.body.dump();
    },
    async closeFresh() {
      const r = await request(`${u.url}/__control/close-fresh`, { method: 'POST' });
      await r.body.dump();
    },
    async setMode(status) {
      const r = await request(`${u.url}/__control/mode?status=${status}`, { method: 'POST' });
      await r.body.dump();
    },
    async kill(signal = 'SIGKILL') {
      const p = u.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
    },
    async restart() {
      await waitFor(
        async () => {
          const again = await launch(site, u.port).catch(() => undefined);
          if (again) u.proc = again.proc;
          return again;
        },
        { timeout: 5000, what: `upstream ${site} to listen again on ${u.port}` },
      );
    },
  };
  return u;
}

export async function stopAll(...ups: (Upstream | undefined)[]): Promise<void> {
  for (const u of ups) {
    if (!u) continue;
    await u.kill('SIGKILL');
  }
}
