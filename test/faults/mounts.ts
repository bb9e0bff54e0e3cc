/**
 * Small filesystems for the state fault tests: a tmpfs of a given size, remounted read-only,
 * or a read-only bind mount of a directory. Mounting needs root (CI and this VM run as root);
 * where it is not permitted the tests that need it are skipped, saying why.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function run(args: string[]): boolean {
  try {
    execFileSync('mount', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether this process may mount (probed once with a throwaway tmpfs). */
export const canMount: boolean = (() => {
  const probe = mkdtempSync(join(tmpdir(), 'drproxy-mount-probe-'));
  const ok = run(['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
  if (ok) execFileSync('umount', [probe], { stdio: 'ignore' });
  rmSync(probe, { recursive: true, force: true });
  if (!ok) console.warn('state fault tests that need a small or read-only filesystem are skipped: `mount` is not permitted here (run as root, as CI does)');
  return ok;
})();

export interface Tmpfs {
  dir: string;
  /** Remount read-only or read-write (no file on it may be open for writing to go read-only). */
  readOnly(ro: boolean): void;
  /** Bytes free. */
  free(): number;
  unmount(): void;
}

export function tmpfs(size: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'drproxy-tmpfs-'));
  if (!run(['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])) throw new Error(`cannot mount a tmpfs on ${dir}`);
  return {
    dir,
    readOnly(ro) {
      execFileSync('mount', ['-o', `remount,${ro ? 'ro' : 'rw'}`, dir], { stdio: 'pipe' });
    },
    free() {
      const out = execFileSync('df', ['--output=avail', '-B1', dir], { encoding: 'utf8' });
      return Number(out.trim().split('\n').pop());
    },
    unmount() {
      // Lazy: a store left open by a failed assertion must not turn into a second error here.
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Make `dir` a read-only view of itself (a bind mount); returns the undo. */
export function bindReadOnly(dir: string): () => void {
  execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
  execFileSync('mount', ['-o', 'remount,bind,ro', dir], { stdio: 'pipe' });
  return () => execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
}
