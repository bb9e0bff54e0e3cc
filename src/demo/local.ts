/**
 * `npm start`: drproxy on config/local.yaml, in front of stand-in sites on this machine, so
 * that a fresh clone starts something that works and probes nothing but 127.0.0.1 (issue 17,
 * item 13). For each backend of the config on 127.0.0.1 or localhost it starts a stand-in site
 * (site.ts) on that port, then runs drproxy in the foreground; signals go to drproxy (SIGHUP
 * reloads), and when drproxy exits the sites are stopped.
 *
 *   node dist/demo/local.js [--config FILE]    (default: config/local.yaml)
 *
 * To serve your own config, run `npx drproxy --config FILE`: it starts no stand-ins.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../config/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

function configArg(argv: string[]): string {
  const i = argv.indexOf('--config');
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : `${root}config/local.yaml`;
}

/** Start one stand-in site and resolve once it listens (it prints LISTENING). */
function startSite(name: string, port: number): Promise<ChildProcess> {
  const proc = spawn(process.execPath, [`${root}dist/demo/site.js`, name, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('LISTENING')) resolve(proc);
    });
    proc.once('exit', (code) => reject(new Error(`stand-in site ${name} on 127.0.0.1:${port} exited (${code}); is the port in use?`)));
  });
}

async function main(): Promise<void> {
  const file = configArg(process.argv.slice(2));
  const { config } = await loadConfigFile(file);
  const sites: ChildProcess[] = [];
  const stopSites = () => sites.forEach((s) => s.kill('SIGTERM'));
  try {
    const started = new Set<number>();
    for (const t of config.tenants) {
      for (const site of t.sites) {
        for (const b of site.backends) {
          const u = new URL(b.url);
          const port = Number(u.port || 80);
          if (!LOCAL_HOSTS.has(u.hostname) || started.has(port)) continue;
          started.add(port);
          const proc = await startSite(site.name, port);
          sites.push(proc);
          process.stdout.write(`stand-in site ${t.name}/${site.name} on 127.0.0.1:${port} (pid ${proc.pid})\n`);
        }
      }
    }
  } catch (err) {
    stopSites();
    throw err;
  }
  const proxy = spawn(process.execPath, [`${root}dist/cli.js`, '--config', file], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => proxy.kill(sig));
  proxy.once('exit', (code, signal) => {
    stopSites();
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`npm start: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
