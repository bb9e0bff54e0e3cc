/**
 * Issue 5: user-space instructions per health-check probe, counted by valgrind's callgrind, so
 * that the cost of a probe can be compared without this VM's noise (idle CPU at 1,000 distinct
 * tenants moved from 27–33 % to 37–42 % of a core between two hours, the same code). Three
 * probers, each alone against the same upstream, interleaved:
 *   - drproxy, idle, with --tenants tenants of 3 sites × 2 distinct backends (one probe loop each);
 *   - a bare undici `request()` loop (bench/probe-loop.js) with as many loops;
 *   - the raw-socket floor (bench/probe-loop.js --raw): no HTTP parser, no timeout.
 *
 *   node bench/probe-instructions.js [--tenants 40] [--interval 1000] [--warmup 45] [--seconds 6] [--windows 5] [--runs 2]
 *                                    [--targets drproxy,undici,raw,client,probe-client,registry,registry-b] [--cli PATH] [--keep DIR]
 *
 * Each prober runs under `valgrind --tool=callgrind --instr-atstart=no`, warms up for --warmup
 * seconds (JIT, connections), then callgrind counts --windows windows of --seconds each, and the
 * upstream counts the probes in each. A late JIT compile, which under valgrind costs as much as
 * thousands of probes, spoils a window or two, never all: a run gives the median window, and
 * its cheapest window (the steady state, the figure to compare two builds by).
 * All threads count (GC and compiler helpers included). Under valgrind a prober
 * runs tens of times slower, so the number of loops stays small: per-probe costs are higher at
 * a low probe rate than at 6,000 a second (fewer events per wake-up), for every prober alike.
 * --cli: another drproxy build's dist/cli.js, counted as the target `drproxy-b` (add it to
 * --targets) to compare two builds of the probe path instruction for instruction.
 * probe-client: drproxy's own probe client alone (needs a build), without Probe or ActiveCheck.
 * registry: drproxy's whole probe path (HealthRegistry, ActiveCheck, Probe, the client) without
 * the rest of drproxy, which under valgrind takes minutes to start; registry-b: the --cli build's.
 * client: the leanest undici prober (bench/probe-loop.js clientScript: one Client per loop,
 * dispatch, no body kept). --keep DIR copies the callgrind dumps there.
 * Needs valgrind (and callgrind_control); skipped with a message without it.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import * as L from './lib.js';
import { scaleConfig } from './scale.js';
import { copyFileSync, mkdirSync } from 'node:fs';
import { clientScript, probeClientScript, rawScript, registryScript, undiciScript } from './probe-loop.js';

/** The command line of one prober (after `node`). */
function proberArgs(target, { up, o, tmp, run }) {
  const loops = o.tenants * 6;
  if (target === 'drproxy' || target === 'drproxy-b') {
    const cfg = path.join(tmp, `${target}-${run}.yaml`);
    writeFileSync(cfg, scaleConfig({ n: o.tenants, port: 0, stateDir: path.join(tmp, `state-${target}-${run}`), ports: up.ports, sharedProbes: false }));
    if (target === 'drproxy-b' && !o.cli) throw new Error('drproxy-b needs --cli PATH (another build\'s dist/cli.js)');
    return [target === 'drproxy' ? L.DRPROXY_CLI : path.resolve(String(o.cli)), '--config', cfg];
  }
  if (target === 'client') return ['--input-type=module', '-e', clientScript(up.ports, { loops, interval: o.interval })];
  if (target === 'registry' || target === 'registry-b') {
    if (target === 'registry-b' && !o.cli) throw new Error('registry-b needs --cli PATH (another build\'s dist/cli.js)');
    const distDir = target === 'registry' ? path.dirname(L.DRPROXY_CLI) : path.dirname(path.resolve(String(o.cli)));
    return ['--input-type=module', '-e', registryScript(up.ports, { loops, interval: o.interval, distDir })];
  }
  if (target === 'probe-client') return ['--input-type=module', '-e', probeClientScript(up.ports, { loops, interval: o.interval })];
  const script = target === 'raw' ? rawScript(up.ports, { loops, interval: o.interval }) : undiciScript(up.ports, { loops, interval: o.interval, signal: false });
  return ['--input-type=module', '-e', script];
}

async function countOnce(target, up, o, tmp, run) {
  const outFile = path.join(tmp, `${target}-${run}.callgrind`);
  const args = proberArgs(target, { up, o, tmp, run });
  const child = L.spawnCallgrind(outFile, args, { cwd: L.ROOT });
  try {
    await L.sleep(o.warmup * 1000);
    if (!L.alive(child)) throw new Error(`${target} exited during the warm-up: ${child.tail.join('')}`);
    L.callgrindControl(child, '-i', 'on');
    // Successive windows, each dumped on its own (a dump resets the counts): a JIT compile, which
    // under valgrind costs as much as thousands of probes, lands in one window, not in all.
    const probes = [];
    for (let w = 0; w < o.windows; w++) {
      const h0 = (await up.stats()).health;
      await L.sleep(o.seconds * 1000);
      probes.push((await up.stats()).health - h0);
      L.callgrindControl(child, '-d', `window-${w}`);
    }
    // One numbered dump per window (the base file would be the final part, written at an exit
    // that the SIGKILL below never lets happen).
    const dumps = await L.callgrindDumps(outFile, o.windows);
    if (o.keep) {
      // --keep DIR: the dumps outlive the run, for callgrind_annotate.
      mkdirSync(String(o.keep), { recursive: true });
      for (const f of dumps) copyFileSync(f, path.join(String(o.keep), path.basename(f)));
    }
    const perWindow = dumps.map((f, i) => L.callgrindInstructions(f) / probes[i]);
    const perProbe = L.median(perWindow);
    const steady = Math.min(...perWindow);
    L.log(`${target} run ${run}: ${L.fmt(perProbe)} instructions per probe, median of ${o.windows} windows of ${o.seconds} s; cheapest ${L.fmt(steady)} (${perWindow.map((x) => L.fmt(x)).join(', ')}; ${o.tenants * 6} loops)`);
    return { perProbe, steady, perWindow, probes };
  } finally {
    await L.stopChild(child, { signal: 'SIGKILL' });
  }
}

export async function runProbeInstructions(options = {}) {
  const o = { tenants: 40, interval: 1000, warmup: 45, seconds: 6, windows: 5, runs: 2, targets: 'drproxy,undici,raw', ...options };
  if (o.quick) Object.assign(o, { warmup: options.warmup ?? 10, seconds: options.seconds ?? 3, windows: options.windows ?? 3, runs: options.runs ?? 1 });
  if (!L.HAS_CALLGRIND) {
    L.log('probe-instructions: valgrind is not installed; skipped');
    return { kind: 'probe-instructions', skipped: 'valgrind not installed', options: o };
  }
  L.pinSelf(L.CPU_LOAD);
  const up = await L.startUpstream({ count: 64, site: 'scale' });
  const tmp = L.tempDir('drproxy-bench-probe-cg-');
  const targets = String(o.targets).split(',');
  const samples = await L.interleavedRuns(targets, o.runs, up, (t, run) => countOnce(t, up, o, tmp, run));
  const summary = Object.fromEntries(
    targets.map((t) => [t, { ...L.spread(samples[t].map((s) => s.perProbe)), steady: Math.min(...samples[t].map((s) => s.steady)) }]),
  );
  const result = { kind: 'probe-instructions', machine: L.machineInfo(), options: o, samples, summary };
  L.writeOut('probe-instructions.json', result);
  L.writeOut('probe-instructions.md', probeInstructionsMarkdown(result));
  return result;
}

const NAMES = { registry: 'drproxy health registry alone', 'registry-b': 'health registry, the --cli build', drproxy: 'drproxy (idle, distinct backends)', 'drproxy-b': 'drproxy, the --cli build', undici: 'bare undici request() loop', client: 'lean undici Client.dispatch loop', 'probe-client': 'drproxy probe client alone', raw: 'raw sockets (the floor)' };

export function probeInstructionsMarkdown(r) {
  if (r.skipped) return `### Instructions per probe\n\nSkipped: ${r.skipped}.\n`;
  const o = r.options;
  const lines = [
    `### Instructions per probe (callgrind; ${o.tenants * 6} probe loops every ${o.interval} ms; after ${o.warmup} s, the median of ${o.windows} windows of ${o.seconds} s; ${o.runs} run(s) each, interleaved)`,
    '',
    '| prober | instructions per probe: median of the runs [min–max] | cheapest window | vs raw (cheapest) |',
    '|---|---:|---:|---:|',
  ];
  const raw = r.summary.raw?.steady;
  for (const [t, s] of Object.entries(r.summary)) {
    lines.push(`| ${NAMES[t] ?? t} | ${L.fmt(s.median)} [${L.fmt(s.range[0])}–${L.fmt(s.range[1])}] | ${L.fmt(s.steady)} | ${raw ? `${L.fmt(s.steady / raw, 2)}×` : ''} |`);
  }
  lines.push('');
  return lines.join('\n');
}

L.runMain(import.meta.url, 'probe-instructions', runProbeInstructions, probeInstructionsMarkdown);
