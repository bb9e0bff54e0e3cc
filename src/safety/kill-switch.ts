/**
 * The kill switch of automatic flips (issue 20, item 7; docs/safety.md): an operator turns
 * automatic failover off for a known network maintenance, and on again. Health keeps being
 * watched and alerts still fire; operator flips still work. Embedded, the switch lives in the
 * state directory (`automatic.json`, replaced atomically and durably by the state's
 * AtomicWriter) so that it survives a restart; it is read once at start-up.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicWriter } from '../state/atomic-writer.js';
import { DrProxyError } from '../errors.js';

export interface AutomaticState {
  enabled: boolean;
  /** Why it was last switched ('' when never switched). */
  reason: string;
  /** The operator token's name that switched it ('' when never switched). */
  by: string;
  /** When (ISO 8601), or null when never switched. */
  at: string | null;
}

export const AUTOMATIC_ON: AutomaticState = Object.freeze({ enabled: true, reason: '', by: '', at: null });

const FILE = 'automatic.json';

/** Where the switch is persisted: the state directory's file (below) or etcd (cluster/kill-switch-store.ts). */
export interface AutomaticStore {
  /** The stored switch (on when none); one that cannot be read is OFF with a `problem` (the safe side). */
  load(): Promise<{ state: AutomaticState; problem?: string }>;
  /** Persist `s` before it is applied; may answer the switch now current when a newer one came meanwhile (etcd). */
  save(s: AutomaticState): Promise<AutomaticState | void>;
  /** Clustered: told when the switch changed elsewhere (another replica's POST /automatic). */
  onChange?(listener: (s: AutomaticState) => void): void;
  close(): Promise<void>;
}

/** A stored switch (JSON text); throws when it is not one. */
export function parseAutomatic(text: string, file: string): AutomaticState {
  const v = JSON.parse(text) as Partial<AutomaticState>;
  if (typeof v.enabled !== 'boolean') throw new Error(`${file}: "enabled" is not true or false`);
  return { enabled: v.enabled, reason: String(v.reason ?? ''), by: String(v.by ?? ''), at: typeof v.at === 'string' ? v.at : null };
}

/** The switch's file in the state directory. */
export class KillSwitchFile implements AutomaticStore {
  private readonly writer = new AtomicWriter();
  readonly file: string;

  constructor(dir: string) {
    this.file = join(dir, FILE);
  }

  /**
   * The stored switch; on when there is none. A file that cannot be read or parsed keeps
   * automatic flips OFF (the safe side: an operator turned them off once) and says why.
   */
  async load(): Promise<{ state: AutomaticState; problem?: string }> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: AUTOMATIC_ON };
      return this.unreadable((err as Error).message);
    }
    try {
      return { state: parseAutomatic(text, this.file) };
    } catch (err) {
      return this.unreadable((err as Error).message);
    }
  }

  private unreadable(message: string): { state: AutomaticState; problem: string } {
    const problem = `kill switch ${this.file} cannot be read (${message}): automatic flips stay OFF until an operator switches them (POST /automatic)`;
    return { state: { enabled: false, reason: problem, by: 'drproxy', at: new Date().toISOString() }, problem };
  }

  async save(s: AutomaticState): Promise<void> {
    try {
      await this.writer.write(this.file, `${this.file}.tmp`, `${JSON.stringify(s)}\n`);
    } catch (err) {
      throw new DrProxyError('DRP_STATE_IO', `could not persist the kill switch in ${this.file}: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
