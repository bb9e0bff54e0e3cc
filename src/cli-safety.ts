/**
 * Operator commands of the safety rules (docs/safety.md):
 *
 *   drproxy automatic [--json]                     show whether automatic flips are on
 *   drproxy automatic off|on --reason TEXT [--json] the kill switch (POST /automatic)
 *   drproxy confirm --reason TEXT [--json]         release automatic flips a tripped fleet breaker holds
 *
 * Flags --admin, --token, --token-file as the other operator commands. Exit status: 0 done;
 * 1 refused or unreachable; 2 usage error.
 */
import { parseArgs } from 'node:util';
import { AdminApiError } from './admin/client.js';
import { failure, openClient } from './cli-control.js';

export const SAFETY_HELP = `Safety rules:
  drproxy automatic                               show whether automatic flips are on (kill switch)
  drproxy automatic off|on --reason TEXT          stop (off) or allow (on) every automatic flip; operator flips still work
  drproxy confirm --reason TEXT                   release the automatic flips a tripped fleet breaker holds
`;

type SafetyCommand = 'automatic' | 'confirm';

export function isSafetyCommand(c: string | undefined): c is SafetyCommand {
  return c === 'automatic' || c === 'confirm';
}

const out = (s: string) => void process.stdout.write(`${s}\n`);
const err = (s: string) => void process.stderr.write(`${s}\n`);

function usage(message: string): number {
  err(`drproxy: ${message}\n\n${SAFETY_HELP}`);
  return 2;
}

export async function runSafety(command: SafetyCommand, args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { admin: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean' }, reason: { type: 'string' } } });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  const [what, extra] = positionals;
  if (extra !== undefined || (command === 'confirm' && what !== undefined)) return usage(`unexpected argument "${extra ?? what}"`);
  if (command === 'automatic' && what !== undefined && what !== 'on' && what !== 'off') return usage(`drproxy automatic: expected "on" or "off", got "${what}"`);
  const change = command === 'confirm' || what !== undefined;
  const reason = values.reason?.trim() ?? '';
  if (change && reason === '') return usage('--reason TEXT is required: it is written to the audit log');
  const client = openClient(values, usage);
  if (typeof client === 'number') return client;
  try {
    const r =
      command === 'confirm'
        ? await client.raw('POST', '/safety/confirm', { reason })
        : what === undefined
          ? await client.raw('GET', '/automatic')
          : await client.raw('POST', '/automatic', { enabled: what === 'on', reason });
    if (r.status !== 200) throw new AdminApiError(r.status, r.body);
    const b = r.body as Record<string, unknown>;
    if (values.json) out(JSON.stringify(b, null, 2));
    else if (command === 'confirm') out(`fleet breaker confirmed: ${String(b.count)} held automatic flip(s) released`);
    else out(`automatic flips: ${b.enabled ? 'ON' : 'OFF'}${b.by ? ` (by ${String(b.by)} at ${String(b.at)}: ${String(b.reason)})` : ''}`);
    return 0;
  } catch (e) {
    return failure(e, values.json === true, client, values.token !== undefined || values['token-file'] !== undefined || !!process.env.DRPROXY_TOKEN);
  }
}
