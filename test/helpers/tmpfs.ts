/**
 * A tiny tmpfs for full-disk tests (ENOSPC). Mounting needs root, as CI and the test VM run;
 * where it is not permitted, `mounted` is false and the test skips itself with `SKIP_REASON`.
 * Mounted at module load (vitest's skipIf needs to know then), unmounted lazily by `unmount()`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SKIP_REASON = 'skipped: needs `mount -t tmpfs` (root), not permitted here';

export interface Tmpfs {
  dir: string;
  mounted: boolean;
  /** Bytes free on it now. */
  free(): number;
  /** Fills it, leaving `leave` bytes free (rounded by the filesystem to pages). */
  fill(leave?: number): Promise<void>;
  /** Removes the filler. */
  unfill(): Promise<void>;
  unmount(): void;
}

export function tmpfs(size: string): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'drproxy-tinyfs-'));
  let mounted = false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    mounted = true;
  } catch {
    console.warn(`drproxy tests: ${SKIP_REASON}`);
  }
  const filler = join(dir, 'filler');
  const free = (): number => Number(execFileSync('df', ['--output=avail', '-B1', dir], { encoding: 'utf8' }).trim().split('\n').pop());
  return {
    dir,
    mounted,
    free,
    async fill(leave = 0) {
      await writeFile(filler, Buffer.alloc(Math.max(0, free() - leave)));
    },
    async unfill() {
      await rm(filler, { force: true });
    },
    unmount() {
      // Lazy: a file left open by a failed assertion must not turn into a second error here.
      if (mounted) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
