/**
 * V8 young-generation sizes when the data plane runs on worker threads (docs/design.md, "Every
 * core: threads", memory).
 *
 * V8 grows an isolate's semi-spaces (the young generation) from 1 MB up to 32 MB each on this
 * Node, whenever enough objects survived scavenges, and never shrinks them while the isolate
 * keeps allocating. A drproxy main thread that probes 6,000 backends a second reaches 64 MB of
 * young generation, and each worker under load ~52 MB: most of the RSS a worker adds at 1,000
 * tenants (bench/RESULTS.md). Neither needs it:
 *
 * - The main thread only runs the control plane once the data plane is on workers, so its
 *   growth is stopped (`--semi-space-growth-factor=1`, read by V8 at each growth: the main
 *   isolate exists already, and a growth factor is the only size V8 reads later). The CLI stops
 *   it before reading the config (a 1,000-tenant config alone grows it to 32 MB) and lets it
 *   grow again if the data plane stays on the main thread.
 * - Each worker's young generation starts at its cap: `--min-semi-space-size` is read when an
 *   isolate is created, so set before the first worker starts it is the workers' initial size,
 *   and `resourceLimits.maxYoungGenerationSizeMb` (3 × the semi-space: two semi-spaces and the
 *   new large-object space) holds it there. A 4 MB semi-space costs no measurable throughput
 *   (bench/paired.js --workers 1, against the default) where 1 MB cost ~7 %.
 *
 * An operator who sizes the young generation on node's command line or in NODE_OPTIONS keeps it:
 * nothing is set then.
 */
import { setFlagsFromString } from 'node:v8';
import type { ResourceLimits } from 'node:worker_threads';

/** Each worker's semi-space, MB. */
export const WORKER_SEMI_SPACE_MB = 4;

const OPERATOR_FLAGS = /--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor|--max[-_]young[-_]generation/;

/** Whether the operator sized the young generation (node's command line or NODE_OPTIONS). */
export function operatorSizedYoung(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return OPERATOR_FLAGS.test(execArgv.join(' ')) || OPERATOR_FLAGS.test(nodeOptions ?? '');
}

/** The flags set before the first worker starts (none when the operator sized the young generation). */
export function workerHeapFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  if (operatorSizedYoung(execArgv, nodeOptions)) return [];
  return ['--semi-space-growth-factor=1', `--min-semi-space-size=${WORKER_SEMI_SPACE_MB}`];
}

/**
 * The growth factor once the data plane stays inline: V8 grows by 2 at each expansion, and an
 * expansion needs as many bytes to survive scavenges as the young generation holds, so from the
 * 1 MB held during the config load it took seconds of traffic to get back to where V8 would
 * have been: a hang's held backlog was released ~40 ms slower (bench/failover.js). A large
 * factor makes the next expansion go straight to V8's maximum (it caps the product).
 */
const INLINE_GROWTH_FACTOR = 64;
let held = false;
let applied: string[] | undefined;

/**
 * Before the config is read (the CLI): stop the main thread's young generation growing while
 * it parses and builds every tenant, which is when it grows most. `releaseMainYoung` puts the
 * growth back if the data plane then stays on this thread (`server.workers: 0`).
 */
export function holdMainYoung(): void {
  if (held || operatorSizedYoung(process.execArgv, process.env.NODE_OPTIONS)) return;
  setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

export function releaseMainYoung(): void {
  if (!held || applied !== undefined) return;
  setFlagsFromString(`--semi-space-growth-factor=${INLINE_GROWTH_FACTOR}`);
  held = false;
}

/** Set them once per process, before the first worker; returns what was set. */
export function sizeHeapsForWorkers(): string[] {
  if (applied !== undefined) return applied;
  applied = workerHeapFlags(process.execArgv, process.env.NODE_OPTIONS);
  for (const flag of applied) setFlagsFromString(flag);
  return applied;
}

/** Each worker's resourceLimits: its young generation held at its starting size. */
export function workerResourceLimits(): ResourceLimits {
  return applied?.length ? { maxYoungGenerationSizeMb: 3 * WORKER_SEMI_SPACE_MB } : {};
}
