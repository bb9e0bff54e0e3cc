/**
 * Issue 5: CPU instructions per request, counted by valgrind's callgrind: a measure of the work
 * each proxy does per request that does not move with the VM's noise (req/s on this 2-vCPU VM
 * varies ±25 % between identical runs; instruction counts vary a few %, from JIT and GC timing).
 * User-space instructions only: the syscalls per request are the same for both proxies
 * (`strace -c`: one writev, one write, two reads per request).
 *
 *   node bench/instructions.js [--requests 5000] [--warmup 8000] [--runs 3] [--targets drproxy,bare-undici]
 *                              [--baseline DIR]
 *
 * --baseline DIR: with target `baseline` (e.g. --targets drproxy,baseline), drproxy built in
 * another checkout (DIR, with its dist/): the instructions a change added or saved per request.
 *
 * Each target runs under `valgrind --tool=callgrind --instr-atstart=no`; autocannon sends
 * `warmup` requests (JIT warm, not counted), then callgrind counts `requests` requests
 * (32 connections). Needs valgrind (and callgrind_control); skipped with a message without it.
 */
import path from 'node:path';
import { readdirSync } from 'node:fs';
import * as L from './lib.js';
import { proxyArgs } from './throughput.js';

const HOST = 'bench.local';

async function autocannonCount(port, amount) {
  const child = L.spawnNode(path.join(L.ROOT, 'node_modules', 'autocannon', 'autocannon.js'), ['-c', '32', '-a', String(amount), '-H', `host=${HOST}`, '--json', `http://127.0.0.1:${port}/`], { cpu: L.CPU_LOAD });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await child.exitPromise;
  const j = JSON.parse(out.slice(out.indexOf('{')));
  return { ok: j['2xx'], errors: j.errors + j.timeouts + j.non2xx };
}

async function countOnce(name, up, o, tmp, run) {
  const port = await L.freePort();
  const outFile = path.join(tmp, `${name}-${run}.callgrind`);
  const args = proxyArgs(name, { port, up, dir: tmp, baseline: o.baseline });
  const child = L.spawnCallgrind(outFile, args);
  await L.waitForListen(port, { child, timeoutMs: 180_000 });
  await L.waitForStatus(port, { host: HOST, child, timeoutMs: 60_000 });
  await autocannonCount(port, o.warmup);
  L.callgrindControl(child, '-i', 'on');
  const r = await autocannonCount(port, o.requests);
  L.callgrindControl(child, '-i', 'off');
  L.callgrindControl(child, '-d');
  await L.callgrindDumps(outFile, 1);
  await L.stopChild(child, { graceMs: 20_000 });
  // One file per dump (all threads in each), and the final part written at exit: add them up.
  let total = 0;
  for (const f of readdirSync(tmp).filter((x) => x.startsWith(`${name}-${run}.callgrind`))) total += L.callgrindInstructions(path.join(tmp, f));
  const perRequest = total / o.requests;
  L.log(`${name} run ${run}: ${L.fmt(perRequest)} instructions per request (${r.ok} answered 2xx, ${r.errors} errors)`);
  return { perRequest, ok: r.ok, errors: r.errors };
}

export async function runInstructions(options = {}) {
  const o = { requests: 5000, warmup: 8000, runs: 3, targets: 'drproxy,bare-undici', ...options };
  if (o.quick) Object.assign(o, { requests: options.requests ?? 1000, warmup: options.warmup ?? 2000, runs: options.runs ?? 1 });
  if (!L.HAS_CALLGRIND) {
    L.log('instructions: valgrind is not installed; skipped');
    return { kind: 'instructions', skipped: 'valgrind not installed', options: o };
  }
  L.pinSelf(L.CPU_LOAD);
  const up = await L.startUpstream({ count: 2, site: 'primary' });
  const tmp = L.tempDir('drproxy-bench-cg-');
  const targets = o.targets.split(',');
  const samples = await L.interleavedRuns(targets, o.runs, up, (t, run) => countOnce(t, up, o, tmp, run));
  const summary = Object.fromEntries(targets.map((t) => [t, L.spread(samples[t].map((s) => s.perRequest))]));
  const result = { kind: 'instructions', machine: L.machineInfo(), options: o, samples, summary };
  L.writeOut('instructions.json', result);
  L.writeOut('instructions.md', instructionsMarkdown(result));
  return result;
}

export function instructionsMarkdown(r) {
  if (r.skipped) return `### Instructions per request\n\nSkipped: ${r.skipped}.\n`;
  const o = r.options;
  const lines = [`### Instructions per request (callgrind, ${o.requests} requests counted after ${o.warmup} warm-up, ${o.runs} run(s) each, interleaved)`, ''];
  lines.push('| target | instructions per request, median [min–max] |', '|---|---:|');
  for (const [t, s] of Object.entries(r.summary)) lines.push(`| ${t} | ${L.fmt(s.median)} [${L.fmt(s.range[0])}–${L.fmt(s.range[1])}] |`);
  const d = r.summary.drproxy;
  for (const other of ['bare-undici', 'baseline']) {
    const b = r.summary[other];
    if (d && b) lines.push('', `drproxy / ${other} = **${L.fmt(d.median / b.median, 3)}** (user-space instructions per request; lower is less work).`);
  }
  lines.push('');
  return lines.join('\n');
}

L.runMain(import.meta.url, 'instructions', runInstructions, instructionsMarkdown);
