/**
 * `drproxy notify test SINK [--reason TEXT] [--json]` (docs/notifications.md), over the admin
 * API (POST /notify/test): sends one test event to the sink and prints what it answered.
 * Exit status: 0 the sink accepted it (2xx); 1 it refused, could not be reached, or the proxy
 * could not be; 2 usage error.
 */
import { parseArgs } from 'node:util';
import { AdminApiError } from './admin/client.js';
import { ADMIN_OPTIONS, failure, openClient } from './cli-control.js';

export const NOTIFY_HELP = `Notifications (docs/notifications.md):
  drproxy notify test SINK [--reason TEXT] [--json]   send a test event to a notify: sink; print its answer
`;

export function isNotifyCommand(command: string | undefined): boolean {
  return command === 'notify';
}

interface TestAnswer {
  sink: string;
  kind: string;
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

const out = (s: string) => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

function usage(message: string): number {
  err(`drproxy notify: ${message}\nUsage: drproxy notify test SINK [--reason TEXT] [--json]\nSee drproxy --help.`);
  return 2;
}

export async function runNotify(args: string[]): Promise<number> {
  let values: { admin?: string; token?: string; 'token-file'?: string; json?: boolean; help?: boolean; reason?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...ADMIN_OPTIONS, reason: { type: 'string' } } }));
  } catch (e) {
    return usage((e as Error).message);
  }
  if (values.help) {
    out(NOTIFY_HELP);
    return 0;
  }
  if (positionals[0] !== 'test') return usage(positionals[0] === undefined ? 'missing subcommand (test)' : `unknown subcommand "${positionals[0]}"`);
  if (positionals.length !== 2 || !positionals[1]!.trim()) return usage(positionals.length < 2 ? 'missing SINK' : `unexpected argument "${positionals[2]}"`);
  const client = openClient(values, usage);
  if (typeof client === 'number') return client;
  try {
    const r = await client.raw('POST', '/notify/test', { sink: positionals[1], ...(values.reason?.trim() && { reason: values.reason.trim() }) });
    if (r.status !== 200) throw new AdminApiError(r.status, r.body);
    const a = r.body as TestAnswer;
    if (values.json) out(JSON.stringify(a, null, 2));
    else {
      const said = a.status !== undefined ? `HTTP ${a.status}${a.body ? `: ${a.body.trim()}` : ''}` : `error: ${a.error ?? 'unknown'}`;
      out(`${a.sink} (${a.kind}) ${a.ok ? 'accepted' : 'refused'} the test event: ${said}`);
    }
    return a.ok ? 0 : 1;
  } catch (e) {
    const hadToken = [values.token, values['token-file'], process.env.DRPROXY_TOKEN, process.env.DRPROXY_TOKEN_FILE].some(Boolean);
    return failure(e, values.json === true, client, hadToken);
  }
}
