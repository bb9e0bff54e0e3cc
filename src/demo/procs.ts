/** What the demos share: timestamped output, free-port checks, and child processes started and watched. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

const tty = process.stdout.isTTY;
export const paint = (code: number, s: string): string => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const children: ChildProcess[] = [];

export function say(msg: string): void {
  process.stdout.write(`${new Date().toISOString().slice(11, 23)}  ${msg}\n`);
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Start a child process and resolve once it accepts connections on `port` (10 s at most).
 * `onLine` sees each line of its output.
 */
export function start(cmd: string, args: string[], port: number, label: string, onLine: (line: string) => void = () => {}, env?: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env && { env }) });
  children.push(proc);
  let out = '';
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const line of d.toString().split('\n')) onLine(line);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const onExit = (code: number | null) => reject(new Error(`${label} exited (${code}):\n${out}`));
    proc.once('exit', onExit);
    const poll = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        proc.off('exit', onExit);
        resolve(proc);
      });
      s.once('error', () => {
        if (Date.now() > deadline) reject(new Error(`${label} did not listen on ${port} within 10 s:\n${out}`));
        else setTimeout(poll, 50);
      });
    };
    poll();
  });
}

/** Kill every child (the demo ends or is interrupted). */
export function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
}

/** drproxy's own warnings (failover, backend down) as they happen. */
export function showProxyLog(label: string, line: string): void {
  if (!line.startsWith('{')) return;
  try {
    const rec = JSON.parse(line) as { level: string | number; msg: string; site?: string; backend?: string };
    const level = typeof rec.level === 'number' ? (rec.level >= 50 ? 'error' : rec.level >= 40 ? 'warn' : 'info') : rec.level;
    if (level === 'warn' || level === 'error' || level === 'fatal') say(paint(33, `${label}: ${rec.msg}${rec.backend ? ` (${rec.site}/${rec.backend})` : ''}`));
  } catch {
    /* not a log line */
  }
}
