/**
 * drproxy as a child process with its admin API: for tests whose point is that the process
 * survives (an in-process proxy would take the test runner down with it, or hide the crash).
 */
import { request } from 'undici';
import { waitFor } from './poll.js';
import { spawnProxy, type ChildProxy } from './proxy.js';

export interface AdminChild {
  child: ChildProxy;
  adminPort: number;
  adminUrl: string;
  /** True while the process runs. */
  alive(): boolean;
  /** GET /healthz answers 200 (the process still serves). */
  serves(): Promise<boolean>;
}

export async function spawnAdminChild(doc: Record<string, unknown>, env: Record<string, string> = {}, stateDir?: string): Promise<AdminChild> {
  const child = await spawnProxy(doc, stateDir, env);
  const adminPort = Number(await waitFor(() => /"admin":"[^"]*:(\d+)"/.exec(child.output())?.[1], { what: 'the admin port' }));
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  return {
    child,
    adminPort,
    adminUrl,
    alive: () => child.proc.exitCode === null && child.proc.signalCode === null,
    async serves() {
      const r = await request(`${adminUrl}/healthz`, { headersTimeout: 5000, bodyTimeout: 5000 });
      await r.body.text();
      return r.statusCode === 200;
    },
  };
}
