/**
 * Commit latency of the embedded state store (FileStateStore): what a flip waits for before any
 * routing change. Commits one tenant's state `--count` times and reports p50 / p90 / p99 / max.
 *
 *   node bench/state-commit.js [--count 300] [--dist dist] [--dir DIR]
 *
 * --dist: the build to measure (another checkout's dist/, to compare two versions in one run).
 * --dir: where the state directory goes (default: a temp directory; use the disk drproxy's
 * state.dir will be on).
 */
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import * as L from './lib.js';

export async function runStateCommit(options = {}) {
  const o = { count: 300, dist: path.join(L.ROOT, 'dist'), dir: os.tmpdir(), ...options };
  const { FileStateStore } = await import(pathToFileURL(path.resolve(o.dist, 'state/file-store.js')).href);
  const dir = mkdtempSync(path.join(o.dir, 'drproxy-state-bench-'));
  const store = new FileStateStore(dir);
  await store.open();
  const state = (epoch) => ({ tenant: 't', epoch, phase: 'active', active: epoch % 2 ? 'a' : 'b', fenced: [], reason: 'bench', trigger: 'admin', updated_at: new Date().toISOString() });
  await store.commit(state(1), undefined);
  const ms = [];
  for (let e = 2; e <= o.count + 1; e++) {
    const t0 = performance.now();
    await store.commit(state(e), e - 1);
    ms.push(performance.now() - t0);
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  return { dist: o.dist, count: ms.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: ms[ms.length - 1] };
}

L.runMain(import.meta.url, 'state-commit', runStateCommit, (r) => `state commit (${r.dist}): ${r.count} commits, p50 ${L.fmt(r.p50, 3)} ms, p90 ${L.fmt(r.p90, 3)} ms, p99 ${L.fmt(r.p99, 3)} ms, max ${L.fmt(r.max, 3)} ms\n`);
