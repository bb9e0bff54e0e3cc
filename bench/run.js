/**
 * The benchmark suite of issue 5 (`npm run bench` builds first, then runs this).
 *
 *   node bench/run.js                       throughput, failover, region, scale and instructions, full length
 *   node bench/run.js --quick               a short smoke run of all of them
 *   node bench/run.js --only scale          one (or a comma list) of throughput|failover|region|scale|instructions|soak
 *   node bench/run.js --only soak [--quick] the soak (bench/soak.js: 10 minutes of load and faults); never in
 *                                           the default set, it is long
 *   node bench/run.js --only tls [--quick]  HTTPS, HTTP/2 and handshakes against NGINX (bench/tls.js); not in the
 *                                           default set (it needs nginx and h2load)
 *
 * Other flags are passed to the benchmarks (--duration, --rounds, --warmup, --connections,
 * --no-wrk, --rate, --pre, --post, --kinds, --tenants, --idle, --ports, --shared-probes, --fault-every).
 * Results: markdown on stdout, JSON and markdown per benchmark plus report.md in bench/out/.
 */
import { execFileSync } from 'node:child_process';
import * as L from './lib.js';
import { runThroughput, throughputMarkdown } from './throughput.js';
import { runFailover, failoverMarkdown } from './failover.js';
import { runRegionHang, regionMarkdown } from './region-hang.js';
import { runScale, scaleMarkdown } from './scale.js';
import { runInstructions, instructionsMarkdown } from './instructions.js';
import { runSoak, soakMarkdown } from './soak.js';
import { runTls, tlsMarkdown } from './tls.js';

const BENCHES = {
  throughput: [runThroughput, throughputMarkdown],
  failover: [runFailover, failoverMarkdown],
  region: [runRegionHang, regionMarkdown],
  scale: [runScale, scaleMarkdown],
  instructions: [runInstructions, instructionsMarkdown],
  soak: [runSoak, soakMarkdown],
  tls: [runTls, tlsMarkdown],
};
/** Run only when named with --only: too long for the default set. */
const NOT_DEFAULT = new Set(['soak', 'tls']);

const o = L.commonOptions(process.argv.slice(2), {});
const onlyGiven = Boolean(o.only);
const only = o.only ? String(o.only).split(',') : Object.keys(BENCHES).filter((n) => !NOT_DEFAULT.has(n));
delete o.only;
for (const name of only) {
  if (!BENCHES[name]) {
    process.stderr.write(`bench: unknown benchmark "${name}" (${Object.keys(BENCHES).join(', ')})\n`);
    process.exit(2);
  }
}

function gitRev() {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: L.ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: L.ROOT, encoding: 'utf8' }).trim();
    return `commit ${rev}${dirty ? ' + uncommitted changes in src/' : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}

L.pinSelf(L.CPU_LOAD);
const m = L.machineInfo();
const sections = [
  '## drproxy benchmark run',
  '',
  `- machine: ${m.nproc} CPU(s), ${m.cpu}, ${m.memGb} GB RAM, Linux ${m.kernel}, Node ${m.node}`,
  `- pinning: ${m.pinned ? 'proxy on CPU 0, upstream and load generator on CPU 1 (taskset)' : 'none (taskset missing or a single CPU)'}; wrk ${m.wrk ? 'installed' : 'not installed'}`,
  `- drproxy tree: ${gitRev()}`,
  `- started ${m.date}, load average ${m.loadavg.join(' ')}`,
  `- command: node bench/run.js ${process.argv.slice(2).join(' ')}`.trimEnd(),
  '',
];
let failed = 0;
for (const name of only) {
  const [run, markdown] = BENCHES[name];
  const t0 = performance.now();
  try {
    const r = await run(o);
    sections.push(markdown(r));
    // A benchmark with pass/fail targets (the soak) lists the ones it missed.
    if (r?.missed?.length) {
      failed++;
      L.log(`${name}: targets missed: ${r.missed.join(', ')}`);
    }
    L.log(`${name} done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } catch (err) {
    failed++;
    L.log(`${name} FAILED: ${err.stack ?? err}`);
    sections.push(`### ${name}\n\nFAILED: ${err.message}\n`);
  }
}
const report = sections.join('\n');
const file = L.writeOut(onlyGiven ? `report-${only.join('-')}.md` : 'report.md', report);
process.stdout.write(`${report}\n(written to ${file})\n`);
process.exit(failed ? 1 : 0);
