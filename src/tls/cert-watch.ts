/**
 * Watches certificate files for changes: the directories that hold them (tools such as
 * certbot and cert-manager replace a file by renaming another over it, which a watch on the
 * file itself would not see), debounced so that a certificate and its key written one after
 * the other are read once, together.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';

const DEBOUNCE_MS = 200;

export class CertWatch {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onChange: () => void,
    private readonly onError: (dir: string, err: Error) => void,
  ) {}

  /** Watch these files (and whole directories, for cert_dir); replaces the previous set. */
  set(files: readonly string[], dirs: readonly string[]): void {
    this.close();
    const byDir = new Map<string, Set<string> | null>();
    for (const d of dirs) byDir.set(d, null);
    for (const f of files) {
      const d = dirname(f);
      const names = byDir.get(d);
      if (names === null) continue;
      if (names === undefined) byDir.set(d, new Set([basename(f)]));
      else names.add(basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, file) => {
          if (names === null || file === null || names.has(String(file))) this.changed();
        });
        w.on('error', (err) => this.onError(dir, err));
        this.watchers.push(w);
      } catch (err) {
        this.onError(dir, err as Error);
      }
    }
  }

  private changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onChange(), DEBOUNCE_MS);
    this.timer.unref();
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
