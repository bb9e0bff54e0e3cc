/**
 * Embedded state store: one JSON file per tenant in a local directory.
 *
 * Durability: write a temp file, fsync it, rename it over the old file, fsync the directory
 * (on a worker thread: see atomic-writer.ts). A crash at any point leaves either the old or the
 * new file, never a torn one. A file that is
 * torn anyway (disk fault, hand edit) stops start-up with a clear message: drproxy never resets
 * an epoch to 0 on its own, because a lower epoch would let a fenced side take writes again.
 *
 * A LOCK file holding the owner's pid keeps two processes from sharing one directory.
 */
import { mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DrProxyError } from '../errors.js';
import { AtomicWriter } from './atomic-writer.js';
import type { StateStore, TenantState, TenantPhase } from './types.js';

const PHASES: ReadonlySet<TenantPhase> = new Set(['active', 'failing_over', 'frozen']);
const heldLocks = new Set<string>();

export class FileStateStore implements StateStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  private readonly tenantsDir: string;
  private readonly lockFile: string;
  /** Highest epoch seen per tenant (loaded or committed): never go below it. */
  private readonly seen = new Map<string, number>();
  private readonly listeners = new Set<(s: TenantState) => void>();
  private locked = false;
  private readonly writer = new AtomicWriter();

  constructor(dir: string) {
    this.dir = dir;
    this.tenantsDir = join(dir, 'tenants');
    this.lockFile = join(dir, 'LOCK');
  }

  async open(): Promise<void> {
    try {
      await mkdir(this.tenantsDir, { recursive: true });
    } catch (err) {
      throw new DrProxyError('DRP_STATE_IO', `state directory ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
    await this.takeLock();
    this.writer.warm();
    // Temp files left by a crash mid-write hold nothing that was committed: remove them.
    for (const name of await readdir(this.tenantsDir)) {
      if (name.includes('.tmp-')) await unlink(join(this.tenantsDir, name)).catch(() => {});
    }
  }

  async load(tenant: string): Promise<TenantState | undefined> {
    const file = this.fileOf(tenant);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new DrProxyError('DRP_STATE_IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    const state = parseState(text, file, tenant);
    const seen = this.seen.get(tenant) ?? 0;
    if (state.epoch < seen) {
      throw new DrProxyError(
        'DRP_STATE_EPOCH_REGRESSION',
        `${file}: epoch ${state.epoch} is lower than epoch ${seen} already seen for tenant ${tenant}; refusing to go back`,
      );
    }
    this.seen.set(tenant, state.epoch);
    return state;
  }

  async commit(next: TenantState, expectedEpoch: number | undefined): Promise<void> {
    const tenant = next.tenant;
    const seen = this.seen.get(tenant);
    if (seen !== expectedEpoch) {
      throw new DrProxyError(
        'DRP_STATE_CONFLICT',
        `tenant ${tenant}: expected stored epoch ${expectedEpoch ?? 'none'}, found ${seen ?? 'none'}`,
      );
    }
    if (seen !== undefined && next.epoch < seen) {
      throw new DrProxyError(
        'DRP_STATE_EPOCH_REGRESSION',
        `tenant ${tenant}: epoch ${next.epoch} is lower than stored epoch ${seen}`,
      );
    }
    const file = this.fileOf(tenant);
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      await this.writer.write(file, tmp, JSON.stringify(next, null, 2) + '\n');
    } catch (err) {
      throw new DrProxyError('DRP_STATE_IO', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
    }
    this.seen.set(tenant, next.epoch);
    for (const l of this.listeners) l(next);
  }

  watch(listener: (s: TenantState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.writer.close();
    if (!this.locked) return;
    this.locked = false;
    heldLocks.delete(this.lockFile);
    await unlink(this.lockFile).catch(() => {});
  }

  private fileOf(tenant: string): string {
    return join(this.tenantsDir, `${tenant}.json`);
  }

  private async takeLock(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.lockFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
        this.locked = true;
        heldLocks.add(this.lockFile);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new DrProxyError('DRP_STATE_IO', `cannot create ${this.lockFile}: ${(err as Error).message}`, { cause: err });
        }
      }
      const owner = Number.parseInt(await readFile(this.lockFile, 'utf8').catch(() => ''), 10);
      const ours = owner === process.pid && heldLocks.has(this.lockFile);
      if (ours || (owner > 0 && pidAlive(owner))) {
        throw new DrProxyError(
          'DRP_STATE_IO',
          `state directory ${this.dir} is in use by process ${owner} (${this.lockFile}); two proxies must not share one state directory`,
        );
      }
      // The owner died without cleaning up (SIGKILL): the lock is stale.
      await unlink(this.lockFile).catch(() => {});
    }
    throw new DrProxyError('DRP_STATE_IO', `cannot take the lock ${this.lockFile}`);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function corrupt(file: string, why: string): DrProxyError {
  return new DrProxyError(
    'DRP_STATE_CORRUPT',
    `state file ${file} is unreadable (${why}). drproxy will not start with a guessed epoch: ` +
      `restore the file from a backup, or, after confirming the tenant's current epoch and active site ` +
      `out of band, write a corrected file.`,
  );
}

export function parseState(text: string, file: string, tenant: string): TenantState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw corrupt(file, text.length === 0 ? 'empty file' : `not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null) throw corrupt(file, 'not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.tenant !== tenant) throw corrupt(file, `tenant is ${JSON.stringify(o.tenant)}, expected "${tenant}"`);
  if (typeof o.epoch !== 'number' || !Number.isSafeInteger(o.epoch) || o.epoch < 0) {
    throw corrupt(file, 'epoch is not a non-negative integer');
  }
  if (typeof o.phase !== 'string' || !PHASES.has(o.phase as TenantPhase)) throw corrupt(file, 'bad phase');
  if (typeof o.active !== 'string' || o.active === '') throw corrupt(file, 'active site missing');
  if (!Array.isArray(o.fenced) || !o.fenced.every((s) => typeof s === 'string')) throw corrupt(file, 'fenced is not a list of sites');
  for (const k of ['from', 'to'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw corrupt(file, `${k} is not a string`);
  }
  return {
    tenant,
    epoch: o.epoch,
    phase: o.phase as TenantPhase,
    active: o.active,
    ...(typeof o.from === 'string' ? { from: o.from } : {}),
    ...(typeof o.to === 'string' ? { to: o.to } : {}),
    fenced: o.fenced as string[],
    ...(o.frozen_cause === 'no_site' || o.frozen_cause === 'fence_failed' || o.frozen_cause === 'promote_failed'
      ? { frozen_cause: o.frozen_cause }
      : {}),
    reason: typeof o.reason === 'string' ? o.reason : '',
    trigger: typeof o.trigger === 'string' ? o.trigger : '',
    updated_at: typeof o.updated_at === 'string' ? o.updated_at : '',
  };
}
