/**
 * `npm run demo`: two local sites, drproxy in front of them, a little traffic, then the primary
 * is killed (SIGKILL) and you watch the tenant fail over to the standby with a new epoch.
 */
import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { cleanup, paint, portFree, say, showProxyLog, start as startChild } from './procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = `${root}config/demo.yaml`;
const PROXY = 'http://127.0.0.1:18080';
const HOST = 'demo.localhost';
const SITES = { 'a1-primary': 18081, 'b1-standby': 18082 } as const;

function start(args: string[], port: number, label: string): Promise<ChildProcess> {
  return startChild(process.execPath, args, port, label, (line) => label === 'drproxy' && showProxyLog('drproxy', line));
}

async function probe(n: number): Promise<{ ok: boolean; site?: string; epoch?: string }> {
  try {
    const r = await request(`${PROXY}/hello/${n}`, { headers: { host: HOST }, headersTimeout: 6000 });
    const text = await r.body.text();
    if (r.statusCode !== 200) {
      say(paint(31, `#${String(n).padStart(3)}  ${r.statusCode}  ${text.trim()}`));
      return { ok: false };
    }
    const j = JSON.parse(text) as { site: string; epoch: string };
    const color = j.site === 'a1-primary' ? 32 : 36;
    say(`#${String(n).padStart(3)}  200  served by ${paint(color, j.site.padEnd(10))}  epoch ${j.epoch}`);
    return { ok: true, site: j.site, epoch: j.epoch };
  } catch (err) {
    say(paint(31, `#${String(n).padStart(3)}  error: ${(err as Error).message}`));
    return { ok: false };
  }
}

async function main(): Promise<void> {
  for (const port of [18080, 18901, ...Object.values(SITES)]) {
    if (!(await portFree(port))) throw new Error(`port ${port} on 127.0.0.1 is in use; the demo needs 18080-18082 and 18901`);
  }
  await rm(`${root}var/demo`, { recursive: true, force: true });
  say('starting two sites: a1-primary (region A) on :18081, b1-standby (region B) on :18082');
  const sites: Record<string, ChildProcess> = {};
  for (const [name, port] of Object.entries(SITES)) {
    sites[name] = await start([`${root}dist/demo/site.js`, name, String(port)], port, name);
  }
  say(`starting drproxy on ${PROXY} with ${CONFIG}`);
  await start([`${root}dist/cli.js`, '--config', CONFIG], 18080, 'drproxy');
  say(`sending a request every 100 ms to http://${HOST}:18080 …`);
  let n = 0;
  let failed = 0;
  let killedAt = 0;
  let firstBackup = 0;
  let lastEpoch = '';
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    n++;
    if (n === 25) {
      say(paint(31, '>>> killing the primary site a1-primary with SIGKILL'));
      killedAt = Date.now();
      sites['a1-primary']!.kill('SIGKILL');
    }
    const r = await probe(n);
    if (!r.ok) failed++;
    if (r.epoch) lastEpoch = r.epoch;
    if (killedAt && !firstBackup && r.site === 'b1-standby') firstBackup = Date.now();
    if (firstBackup && Date.now() - firstBackup > 1500) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  process.stdout.write('\n');
  if (!firstBackup) throw new Error('the tenant did not fail over within 20 s');
  say(paint(1, `failover: traffic on b1-standby ${firstBackup - killedAt} ms after the kill; epoch now ${lastEpoch}; ` +
    `${failed} of ${n} requests failed`));
  say('the old primary is fenced: even when it comes back, it gets no traffic until an operator fails back.');
  say(`state persisted in ${root}var/demo/tenants/demo.json`);
}

process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

main().then(
  () => {
    cleanup();
  },
  (err: unknown) => {
    process.stderr.write(`demo failed: ${(err as Error).message}\n`);
    cleanup();
    process.exitCode = 1;
  },
);
