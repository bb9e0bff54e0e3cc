/**
 * Start-up of a state directory, before any tenant is loaded (and again when the writer thread
 * died): the journal's records are written into the tenant files that lack them
 * (journal.ts), the state manifest is read, rebuilt if it is missing or unreadable, and the
 * journal's records folded into it (manifest.ts); the manifest is written, then the journal
 * emptied.
 */
import { join } from 'node:path';
import { AtomicWriter } from './atomic-writer.js';
import { emptyJournal, journalBytes, readJournal, replayJournal, type JournalRecord } from './journal.js';
import { MANIFEST_FILE, mergeEntry, readManifest, scanTenantFiles, writeManifest, type ManifestEntry, type ManifestLayout } from './manifest.js';

/** Something start-up found that an operator should hear of. */
export interface StateNotice {
  event: string;
  /** An alert (something was lost or damaged), or a plain warning. */
  alert: boolean;
  message: string;
  tenant?: string;
}

export interface RecoveredState {
  /** Tenants whose files lacked commits the journal held (an unclean stop). */
  replayed: string[];
  /** Journal lines that did not decode (a batch torn by a crash). */
  skipped: number;
  /** The state manifest, as written. */
  entries: Map<string, ManifestEntry>;
  layout: ManifestLayout;
  notices: StateNotice[];
}

export async function recoverState(dir: string, tenantsDir: string): Promise<RecoveredState> {
  const data = await journalBytes(dir);
  const { records, skipped } = data !== undefined && data.length > 0 ? readJournal(data) : { records: new Map<string, JournalRecord>(), skipped: 0 };
  const read = await readManifest(dir);
  // A writer of its own, without the journal: the store's writer must start with the journal
  // empty (a thread that finds records there keeps them, not knowing their checkpoints).
  const writer = new AtomicWriter();
  try {
    const replayed = await replayJournal(records, tenantsDir, writer);
    const notices: StateNotice[] = [];
    const file = join(dir, MANIFEST_FILE);
    let entries: Map<string, ManifestEntry>;
    let layout: ManifestLayout | undefined;
    if (read.status === 'ok') {
      ({ entries, layout } = read);
      if (read.damaged !== undefined) {
        // One slot torn: a crash while it was written (the journal then still holds what the
        // lost generation had) or a disk fault. The files make up for a lost generation.
        for (const [t, e] of (await scanTenantFiles(tenantsDir)).entries) mergeEntry(entries, t, e);
        notices.push({
          event: 'state_manifest_repaired',
          alert: records.size === 0,
          message: `state manifest ${file}: ${read.damaged}; loaded the other slot and merged the tenant files into it`,
        });
      }
    } else {
      const scan = await scanTenantFiles(tenantsDir);
      entries = scan.entries;
      const current = scan.current || [...records.values()].some((r) => r.format === 2);
      if (read.status === 'damaged') {
        notices.push({ event: 'state_manifest_rebuilt', alert: true, message: `state manifest ${file} is unreadable (${read.why}); rebuilt from ${scan.files} tenant file(s), now the best evidence of their epochs` });
      } else if (scan.files > 0 && current) {
        notices.push({ event: 'state_manifest_rebuilt', alert: true, message: `state manifest ${file} is missing while ${scan.files} tenant file(s) are there; rebuilt from them, now the best evidence of their epochs (a deleted tenant file can no longer be noticed)` });
      } else if (scan.files > 0) {
        notices.push({ event: 'state_manifest_created', alert: false, message: `state manifest ${file} created from ${scan.files} tenant file(s) written by an earlier drproxy` });
      }
    }
    for (const j of records.values()) mergeEntry(entries, j.tenant, { epoch: j.epoch, seq: j.seq, site: j.site, crc: j.crc });
    if (layout === undefined || records.size > 0 || notices.length > 0) layout = await writeManifest(writer, dir, entries, layout);
    // Everything the journal held is now in the files and the manifest: empty it, durably,
    // before new commits.
    if (data !== undefined && data.length > 0) await emptyJournal(dir);
    return { replayed, skipped, entries, layout, notices };
  } finally {
    await writer.close();
  }
}
