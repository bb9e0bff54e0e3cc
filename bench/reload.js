/**
 * Reload time at scale: start drproxy in this process with N tenants (3 sites × 2 backends,
 * all pointing at one local upstream port that refuses nothing), then time reload() of the
 * unchanged file and of a file where 10 % of the tenants changed a backend.
 *
 *   node bench/reload.js [--tenants 1000]
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../dist/config/index.js';
import { DrProxy } from '../dist/drproxy.js';
import { createLogger } from '../dist/log.js';

const { values } = parseArgs({ options: { tenants: { type: 'string', default: '1000' } } });
const N = Number(values.tenants);
const up = http.createServer((_q, r) => r.end('ok'));
await new Promise((r) => up.listen(0, '127.0.0.1', r));
const port = up.address().port;
const dir = mkdtempSync(path.join(tmpdir(), 'drproxy-bench-reload-'));
const file = path.join(dir, 'drproxy.yaml');

function write(changed) {
  let y = `listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nstate: { dir: ${dir}/state }\nlog: { level: warn }\ntenants:\n`;
  for (let i = 0; i < N; i++) {
    y += `  t${i}:\n    tier: BC\n    hosts: [t${i}.bench.local]\n    sites:\n`;
    // A changed tenant gets a second backend (same address, another name) in its first site.
    for (let s = 0; s < 3; s++) y += `      - { name: s${s}, backends: [http://127.0.0.1:${port}${i < changed && s === 0 ? `, { url: "http://127.0.0.1:${port}", name: extra }` : ''}] }\n`;
  }
  writeFileSync(file, y);
}

write(0);
const { config } = await loadConfigFile(file);
const proxy = await DrProxy.start(config, { logger: createLogger({ level: 'silent' }) });
const time = async (label) => {
  const t0 = performance.now();
  const r = await proxy.reload();
  const ms = performance.now() - t0;
  console.log(`${label}: ${ms.toFixed(0)} ms (ok=${r.ok}${r.ok ? `, changed ${r.changed.length}` : ''})`);
  return ms;
};
await time(`reload ${N} tenants, file unchanged`);
write(Math.round(N / 10));
await time(`reload ${N} tenants, ${Math.round(N / 10)} changed`);
await proxy.stop();
up.close();
