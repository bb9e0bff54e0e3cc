/**
 * The state directory's lock: an exclusive fcntl lock on its `LOCK` file, held through one open
 * file descriptor for as long as the process runs. The kernel drops it when the process dies,
 * however it dies, so a restart never finds a stale lock, whatever pid the last owner had (in
 * a container drproxy is pid 1 every time: a pid file holding "1" kept it from ever starting
 * again). Node has no flock or fcntl: `os-lock` (a small N-API addon) makes the call.
 *
 * fcntl locks belong to the process and are dropped when it closes ANY descriptor of the file:
 * nothing else in drproxy may open `LOCK` (this module keeps the only descriptor), and a second
 * store on the same directory in the same process is refused before it opens the file, since
 * the kernel would grant the same process the lock twice.
 *
 * The file's content is informational: the owner's pid, then a line saying the lock is
 * fcntl's. A file holding only a pid was written by a drproxy before this lock, which
 * took its lock by creating the file: if that pid is alive, is not this process and runs Node
 * (an older drproxy may still be running), drproxy refuses to start; otherwise it is stale.
 */
import { closeSync, ftruncateSync, openSync, readFileSync, readSync, realpathSync, writeSync, constants } from 'node:fs';
import { basename, join } from 'node:path';
import { createRequire } from 'node:module';
import { DrProxyError } from '../errors.js';

const MARK = 'fcntl lock';
const held = new Set<string>();

interface OsLock {
  lock(fd: number, options: { exclusive?: boolean; immediate?: boolean }): Promise<void>;
}

function osLock(file: string): OsLock {
  try {
    return createRequire(import.meta.url)('os-lock') as OsLock;
  } catch (err) {
    throw new DrProxyError('DRP_STATE_IO', `cannot lock ${file}: the os-lock addon did not load (${(err as Error).message}); run \`npm rebuild os-lock\``, { cause: err });
  }
}

/** A held lock: release it by closing its descriptor. */
export interface DirLock {
  release(): void;
}

/** Take the lock of `file` (the state directory's LOCK), or throw DRP_STATE_IO saying who has it. */
export async function lockDir(dir: string, file: string): Promise<DirLock> {
  // One key per directory however it is named (a relative path, a symlink): opening the file
  // a second time in this process and closing it would drop the lock.
  let key = file;
  try {
    key = join(realpathSync(dir), basename(file));
  } catch {
    /* no directory: open() below says so */
  }
  if (held.has(key)) throw inUse(dir, file, process.pid);
  const lib = osLock(file);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  } catch (err) {
    throw new DrProxyError('DRP_STATE_IO', `cannot open ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    try {
      await lib.lock(fd, { exclusive: true, immediate: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EACCES' || code === 'EBUSY') throw inUse(dir, file, ownerOf(contentOf(fd)));
      throw new DrProxyError('DRP_STATE_IO', `cannot lock ${file}: ${(err as Error).message}`, { cause: err });
    }
    const old = oldOwner(contentOf(fd));
    if (old !== undefined) throw inUse(dir, file, old, ' (its LOCK file is in the form a drproxy before fcntl locks wrote: stop that drproxy first, or delete the file if that process is not one)');
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n${MARK}: held while the drproxy with this pid runs; the content is informational\n`, 0);
  } catch (err) {
    closeSync(fd); // we hold nothing: nothing to drop
    throw err instanceof DrProxyError ? err : new DrProxyError('DRP_STATE_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
  held.add(key);
  let open = true;
  return {
    release() {
      if (!open) return;
      open = false;
      held.delete(key);
      // The file stays: removing it would let a process that opened it a moment ago lock a
      // file no longer in the directory while a third creates and locks a new one.
      closeSync(fd);
    },
  };
}

function contentOf(fd: number): string {
  const buf = Buffer.alloc(256);
  try {
    return buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8');
  } catch {
    return '';
  }
}

function ownerOf(content: string): number | undefined {
  const pid = Number.parseInt(content, 10);
  return pid > 0 ? pid : undefined;
}

/** The pid of a live older drproxy that may still hold the directory by its pid file. */
function oldOwner(content: string): number | undefined {
  if (content.includes(MARK)) return undefined;
  const pid = ownerOf(content);
  if (pid === undefined || pid === process.pid || !alive(pid)) return undefined;
  return runsNode(pid) ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function runsNode(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /(^|\/)(node|nodejs|drproxy)[^/]*$/.test(argv[0] ?? '') || argv.some((a) => a.includes('drproxy'));
  } catch {
    return true; // cannot tell: assume it may be an older drproxy
  }
}

function inUse(dir: string, file: string, owner: number | undefined, extra = ''): DrProxyError {
  return new DrProxyError(
    'DRP_STATE_IO',
    `state directory ${dir} is in use by process ${owner ?? '(unknown)'} (${file})${extra}; two proxies must not share one state directory`,
  );
}
