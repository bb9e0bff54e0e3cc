/**
 * V8 settings of a serving drproxy process, set by the CLI before the config is loaded.
 *
 * `--no-allocation-site-pretenuring`: V8 allocates objects straight into the old generation
 * once their allocation site's objects have been seen to survive young-generation GCs, and it
 * never reverses that decision. A burst (thousands of first probes at start-up, a flip's
 * re-sent backlog) can trip it for sites whose objects live for microseconds, such as undici's
 * response-header buffers: from then on every probe and request leaves its garbage in the old
 * generation, and the resident memory climbs until a full GC. At 1,000 tenants with 6,000
 * distinct backends, idle, RSS climbed by ~10 MB/s to a 306–314 MB peak; with the flag it stays
 * at 160–214 MB (bench/RESULTS.md). Throughput was unchanged within this VM's noise (paired:
 * 1.005× with the flag). An operator's own `--[no-]allocation-site-pretenuring` on node's
 * command line wins (NODE_OPTIONS cannot carry it: node refuses that flag there).
 */
import { setFlagsFromString } from 'node:v8';

export const V8_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring'];

/**
 * The V8_FLAGS that the operator did not set either way on node's command line (`execArgv`).
 * None if V8's flags are frozen after start-up: setting one would then abort the process. Node
 * leaves them unfrozen (`--no-freeze-flags-after-init` is its default) for
 * `v8.setFlagsFromString`; only an explicit `--freeze-flags-after-init` freezes them.
 */
export function v8FlagsToSet(execArgv: readonly string[]): string[] {
  const args = execArgv.map((a) => a.replaceAll('_', '-'));
  if (args.includes('--freeze-flags-after-init')) return [];
  const given = args.join(' ');
  return V8_FLAGS.filter((flag) => !given.includes(`-${flag.replace(/^--(no-)?/, '')}`));
}

/** Set them in this process; returns those set. */
export function applyV8Flags(): string[] {
  const flags = v8FlagsToSet(process.execArgv);
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}
