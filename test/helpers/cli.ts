/** Run the built CLI (dist/cli.js) as a child process, the way a shell would. */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The caller's environment without DRPROXY_* variables, plus `env`. */
function envWith(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DRPROXY_')));
  return { ...base, ...env };
}

/** Run to completion; stdout and stderr collected. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: envWith(env), timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

/**
 * Run with stdout read by a reader that goes away early, as `drproxy … | head -1` does:
 * `firstLine` reads up to the first newline and then closes the pipe; `immediately` closes it
 * before the CLI has written anything. Resolves with what was read and how the CLI ended.
 */
export function runCliIntoClosedReader(args: string[], close: 'firstLine' | 'immediately', env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: envWith(env) });
    let stdout = '';
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    if (close === 'immediately') proc.stdout.destroy();
    else {
      proc.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const nl = stdout.indexOf('\n');
        if (nl >= 0) {
          stdout = stdout.slice(0, nl + 1);
          proc.stdout.destroy();
        }
      });
    }
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
