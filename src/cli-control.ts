/**
 * The operator commands of the drproxy CLI: thin wrappers over the admin API of a running proxy.
 *
 *   drproxy status [TENANT] [--json]
 *   drproxy failover TENANT [--to SITE] --reason TEXT [--force [--break-glass]] [--json]
 *   drproxy failback TENANT --reason TEXT [--force [--break-glass]] [--json]
 *   drproxy fence|unfence TENANT SITE --reason TEXT [--break-glass] [--json]
 *   drproxy drain|enable TENANT SITE BACKEND --reason TEXT [--json]
 *   drproxy reload [--json]
 *
 * Exit status: 0 done; 1 the proxy refused or could not be reached, or a failover ended frozen;
 * 2 usage error; 3 pending two-person approval (cli-approval.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  AdminApiError,
  AdminClient,
  AdminConnectionError,
  DEFAULT_ADMIN_URL,
  type FlipRecord,
  type FlipResponse,
  type SiteStatus,
  type TenantStatus,
} from './admin/client.js';
import { cliJsonText } from './cli-json.js';
import { renderCluster } from './cli-cluster.js';
import { isPending, reportPending } from './cli-approval.js';

export const CONTROL_COMMANDS = ['status', 'failover', 'failback', 'fence', 'unfence', 'drain', 'enable', 'reload'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export function isControlCommand(command: string | undefined): command is ControlCommand {
  return (CONTROL_COMMANDS as readonly string[]).includes(command ?? '');
}

export const CONTROL_HELP = `Operator commands (talk to a running drproxy through its admin API):
  drproxy status [TENANT] [--json]                    tenants, sites, backends (clustered: replicas, leader, acks);
                                                      with TENANT also its recent failovers
  drproxy failover TENANT [--to SITE] --reason TEXT [--force [--break-glass]]
                                                      move TENANT's traffic to SITE (default: next available site)
  drproxy failback TENANT --reason TEXT [--force [--break-glass]]
                                                      planned move back to TENANT's preferred (first) site
  drproxy fence TENANT SITE --reason TEXT [--break-glass]
                                                      SITE gets no traffic and is never chosen automatically
  drproxy unfence TENANT SITE --reason TEXT           lift the fence
  drproxy drain TENANT SITE BACKEND --reason TEXT     take BACKEND out of rotation (in-flight requests finish)
  drproxy enable TENANT SITE BACKEND --reason TEXT    put BACKEND back in rotation
  drproxy reload [--reason TEXT] [--json]             re-read the config file; a bad file changes nothing

Options of the operator commands:
  --admin URL                      admin API (default $DRPROXY_ADMIN, else ${DEFAULT_ADMIN_URL})
  --token TOKEN                    bearer token (default $DRPROXY_TOKEN): viewer for status, operator for the rest
  --token-file PATH                read the token from PATH (default $DRPROXY_TOKEN_FILE); unlike --token, not visible in ps
  --reason TEXT                    required by every change; written to the audit log
  --force                          failover/failback: also to a site that is fenced, stale or unavailable
  --break-glass                    failover/failback (with --force), fence: go ahead although a tenant's per-flip
                                   safety rule (min_available_sites, failure_domain) is broken; recorded as break glass
  --json                           print the API's answer (errors too) as JSON instead of text: snake_case keys,
                                   instants in ISO 8601 (UTC), durations in milliseconds (*_ms)

  Exit status: 0 done; 1 refused, unreachable, or the failover ended frozen; 2 usage error;
  3 pending two-person approval (the request id is printed; see drproxy approvals).
`;

interface CommandSpec {
  args: string[];
  /** Trailing positionals that may be left out. */
  optionalArgs?: number;
  reason: boolean;
  /** Accepts --reason without requiring it. */
  optionalReason?: boolean;
  force?: boolean;
  /** Accepts --break-glass (per-flip safety rules, docs/safety.md). */
  breakGlass?: boolean;
  to?: boolean;
  summary: string;
}

const SPECS: Record<ControlCommand, CommandSpec> = {
  status: { args: ['TENANT'], optionalArgs: 1, reason: false, summary: 'drproxy status [TENANT] [--json]' },
  failover: { args: ['TENANT'], reason: true, force: true, breakGlass: true, to: true, summary: 'drproxy failover TENANT [--to SITE] --reason TEXT [--force [--break-glass]] [--json]' },
  failback: { args: ['TENANT'], reason: true, force: true, breakGlass: true, summary: 'drproxy failback TENANT --reason TEXT [--force [--break-glass]] [--json]' },
  fence: { args: ['TENANT', 'SITE'], reason: true, breakGlass: true, summary: 'drproxy fence TENANT SITE --reason TEXT [--break-glass] [--json]' },
  unfence: { args: ['TENANT', 'SITE'], reason: true, summary: 'drproxy unfence TENANT SITE --reason TEXT [--json]' },
  drain: { args: ['TENANT', 'SITE', 'BACKEND'], reason: true, summary: 'drproxy drain TENANT SITE BACKEND --reason TEXT [--json]' },
  enable: { args: ['TENANT', 'SITE', 'BACKEND'], reason: true, summary: 'drproxy enable TENANT SITE BACKEND --reason TEXT [--json]' },
  reload: { args: [], reason: false, optionalReason: true, summary: 'drproxy reload [--reason TEXT] [--json]' },
};

/** The flags every command that talks to the admin API takes (parseArgs options). */
export const ADMIN_OPTIONS = { admin: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

export class UsageError extends Error {}

const out = (s: string) => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

/** Run one operator command; resolves with the exit status. Never throws. */
export async function runControl(command: string, args: string[]): Promise<number> {
  if (!isControlCommand(command)) {
    err(`drproxy: unknown command "${command}"\n\n${CONTROL_HELP}`);
    return 2;
  }
  const spec = SPECS[command];
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        ...ADMIN_OPTIONS,
        ...((spec.reason || spec.optionalReason) && { reason: { type: 'string' } }),
        ...(spec.force && { force: { type: 'boolean' } }),
        ...(spec.breakGlass && { 'break-glass': { type: 'boolean' } }),
        ...(spec.to && { to: { type: 'string' } }),
      },
    });
  } catch (e) {
    return usage(command, (e as Error).message);
  }
  const values = parsed.values as {
    admin?: string;
    token?: string;
    'token-file'?: string;
    json?: boolean;
    help?: boolean;
    reason?: string;
    force?: boolean;
    'break-glass'?: boolean;
    to?: string;
  };
  const positionals = parsed.positionals;
  if (values.help) {
    out(`Usage: ${spec.summary}\n\n${CONTROL_HELP}`);
    return 0;
  }
  const min = spec.args.length - (spec.optionalArgs ?? 0);
  if (positionals.length < min) return usage(command, `missing ${spec.args.slice(positionals.length, min).join(' ')}`);
  if (positionals.length > spec.args.length) return usage(command, `unexpected argument "${positionals[spec.args.length]}"`);
  if (positionals.some((p) => p.trim() === '')) return usage(command, 'empty argument');
  if (spec.reason && !values.reason?.trim()) return usage(command, '--reason TEXT is required: it is written to the audit log');
  if (values.to !== undefined && !values.to.trim()) return usage(command, '--to needs a site name');
  const glass = values['break-glass'] === true;
  if (glass && spec.force && !values.force) return usage(command, '--break-glass needs --force');

  const client = openClient(values, (m) => usage(command, m));
  if (typeof client === 'number') return client;

  const json = values.json === true;
  const reason = values.reason?.trim() ?? '';
  const [a = '', b = '', c = ''] = positionals;
  try {
    switch (command) {
      case 'status': {
        if (a) {
          const t = await client.tenant(a);
          if (json) return printJson(t);
          out(renderTenants([t]));
          out('');
          out(renderSites([t]));
          out('');
          out(renderFlips(t.flips));
          return 0;
        }
        const s = await client.status();
        if (json) return printJson(s);
        out(
          `drproxy ${s.version}, up ${human(s.uptime_seconds)}, config ${s.config.source}` +
            `${s.config.loaded_at ? ` (loaded ${s.config.loaded_at})` : ''}\n`,
        );
        if (s.tenants.length === 0) out('no tenants');
        else out(`${renderTenants(s.tenants)}\n\n${renderSites(s.tenants)}`);
        if (s.cluster) out(`\n${renderCluster(s.cluster)}`);
        return 0;
      }
      case 'failover':
      case 'failback': {
        const r =
          command === 'failover'
            ? await client.failover(a, { ...(values.to && { to: values.to.trim() }), reason, ...(values.force && { force: true }), ...(glass && { break_glass: true }) })
            : await client.failback(a, { reason, ...(values.force && { force: true }), ...(glass && { break_glass: true }) });
        if (isPending(r)) return reportPending(r, json);
        if (json) printJson(r);
        else out(renderFlip(command, r));
        if (r.result === 'frozen') {
          err(
            `drproxy: ${command} of ${r.tenant} ended FROZEN at epoch ${r.epoch}: a required fence or promote hook failed; ` +
              `no site takes traffic until an operator acts (see drproxy status ${r.tenant})`,
          );
          return 1;
        }
        if (r.result === 'stayed') {
          err(`drproxy: ${command} of ${r.tenant} stayed on ${r.from} at epoch ${r.epoch}: ${r.to} became unavailable during the flip`);
          return 1;
        }
        return 0;
      }
      case 'fence':
      case 'unfence': {
        const r = command === 'fence' ? await client.fence(a, b, reason, glass) : await client.unfence(a, b, reason);
        if (isPending(r)) return reportPending(r, json);
        if (json) return printJson(r);
        out(`${command} ${r.tenant}/${r.site}: fenced sites: ${r.fenced.length ? r.fenced.join(', ') : 'none'}, epoch ${r.epoch}`);
        return 0;
      }
      case 'drain':
      case 'enable': {
        const r = command === 'drain' ? await client.drain(a, b, c, reason) : await client.enable(a, b, c, reason);
        if (json) return printJson(r);
        out(`${command} ${r.tenant}/${r.site}/${r.backend}: ${r.drained ? 'drained (no new requests)' : 'in rotation'}`);
        return 0;
      }
      case 'reload': {
        const r = await client.reload(reason || undefined);
        if (json) return printJson(r);
        for (const w of r.warnings ?? []) err(`warning: ${w.path ? `${w.path}: ` : ''}${w.message}`);
        const changes = [
          r.added.length ? `added ${r.added.join(', ')}` : '',
          r.removed.length ? `removed ${r.removed.join(', ')}` : '',
          r.changed.length ? `changed ${r.changed.join(', ')}` : '',
        ].filter(Boolean);
        out(`reload: OK, ${r.tenants} tenant(s)${changes.length ? `; ${changes.join('; ')}` : '; no tenant changed'}`);
        return 0;
      }
    }
  } catch (e) {
    const hadToken = [values.token, values['token-file'], process.env.DRPROXY_TOKEN, process.env.DRPROXY_TOKEN_FILE].some(Boolean);
    return failure(e, json, client, hadToken);
  }
}

function usage(command: ControlCommand, message: string): number {
  err(`drproxy ${command}: ${message}\nUsage: ${SPECS[command].summary}\nSee drproxy --help.`);
  return 2;
}

/** The API's answer in the CLI's one JSON convention (snake_case, ISO 8601 instants, ms): see cli-json.ts. */
function printJson(v: unknown): number {
  out(cliJsonText(v));
  return 0;
}

/** The admin client an operator command's flags name, or its exit status (2: usage, 1: other) when they cannot. */
export function openClient(values: { admin?: string; token?: string; 'token-file'?: string }, onUsage: (message: string) => number): AdminClient | number {
  try {
    return new AdminClient({ url: adminUrl(values.admin), token: token(values) });
  } catch (e) {
    if (e instanceof UsageError || e instanceof TypeError) return onUsage((e as Error).message);
    err(`drproxy: ${(e as Error).message}`);
    return 1;
  }
}

export function adminUrl(flag: string | undefined): string {
  const url = flag ?? (process.env.DRPROXY_ADMIN || DEFAULT_ADMIN_URL);
  // Accept host:port as a shorthand.
  const full = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  try {
    new URL(full);
  } catch {
    throw new UsageError(`--admin: not a URL: ${url}`);
  }
  return full;
}

export function token(values: { token?: string; 'token-file'?: string }): string | undefined {
  if (values.token !== undefined && values['token-file'] !== undefined) throw new UsageError('give --token or --token-file, not both');
  if (values.token !== undefined) return values.token.trim() || undefined;
  const file = values['token-file'] ?? (process.env.DRPROXY_TOKEN ? undefined : process.env.DRPROXY_TOKEN_FILE);
  if (file) {
    try {
      return readFileSync(file, 'utf8').trim() || undefined;
    } catch (e) {
      throw new Error(`cannot read the token file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return process.env.DRPROXY_TOKEN?.trim() || undefined;
}

export function failure(e: unknown, json: boolean, client: AdminClient, hadToken: boolean): number {
  if (e instanceof AdminApiError) {
    if (json && typeof e.body === 'object' && e.body !== null) out(cliJsonText(e.body));
    err(`drproxy: ${e.status} ${e.error}: ${e.detail || '(no detail)'}`);
    for (const p of e.problems) {
      const where = p.path ? `${p.path}: ` : '';
      err(`${p.severity === 'warning' ? 'warning: ' : ''}${where}${p.message}`);
    }
    if (e.status === 401 && !hadToken) err('drproxy: no token given: pass --token or --token-file, or set DRPROXY_TOKEN');
    return 1;
  }
  if (e instanceof AdminConnectionError) {
    err(`drproxy: ${e.message} (is drproxy running there? set --admin URL or DRPROXY_ADMIN)`);
    return 1;
  }
  err(`drproxy: admin API at ${client.url}: ${(e as Error)?.message ?? String(e)}`);
  return 1;
}

// ---- Rendering -----------------------------------------------------------------------------

/** Aligned columns, two spaces apart; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** 0.4 → "0.4s", 75 → "1m 15s", 7260 → "2h 1m", 200000 → "2d 7h". */
export function human(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 10) return `${Number(seconds.toFixed(1))}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600) ? ` ${Math.floor((s % 86400) / 3600)}h` : ''}`;
}

/** A tier objective the way the config spells it: 900 → "15m", 86400 → "24h", 259200 → "72h". */
export function objective(seconds: number): string {
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** 38 → "38 ms", 12345 → "12.3 s". */
export function millis(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A ratio as a percentage with just enough decimals: 0.0000422 → "0.004%", 0.5 → "50.0%". */
export function percent(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  const pct = ratio * 100;
  if (pct === 0) return '0%';
  if (pct >= 1) return `${pct.toFixed(1)}%`;
  const decimals = Math.min(6, Math.max(1, Math.ceil(-Math.log10(pct))));
  return `${pct.toFixed(decimals)}%`;
}

export function renderFlip(command: 'failover' | 'failback', r: FlipResponse): string {
  return (
    `${command} ${r.tenant}: ${r.from} → ${r.to}, epoch ${r.epoch_before} → ${r.epoch}, ${millis(r.duration_ms)} ` +
    `(RTO ${objective(r.rto_seconds)}: ${percent(r.rto_ratio)})${r.result === 'frozen' ? ' FROZEN' : r.result === 'stayed' ? ` STAYED on ${r.from}` : ''}${r.break_glass ? ` BREAK GLASS (${(r.rules_broken ?? []).map((x) => x.rule).join(', ')})` : ''}`
  );
}

function phase(t: TenantStatus): string {
  if (t.phase === 'frozen') return `FROZEN${t.frozen_cause ? ` (${t.frozen_cause})` : ''}`;
  return t.phase;
}

function renderTenants(tenants: TenantStatus[]): string {
  return table(
    ['TENANT', 'TIER', 'RPO/RTO', 'PHASE', 'EPOCH', 'ACTIVE', 'FENCED', 'FAILOVER', 'FAILBACK'],
    tenants.map((t) => [
      t.name,
      t.tier,
      `${objective(t.rpo_seconds)}/${objective(t.rto_seconds)}`,
      phase(t),
      String(t.epoch),
      t.active,
      t.fenced.length ? t.fenced.join(',') : '-',
      t.mode,
      t.failback,
    ]),
  );
}

function role(t: TenantStatus, s: SiteStatus): string {
  if (t.active === s.name) return t.phase === 'frozen' ? 'active (frozen)' : 'active';
  if (t.fenced.includes(s.name)) return 'fenced';
  return 'standby';
}

function backends(s: SiteStatus): string {
  const up = s.backends.filter((b) => b.state === 'up').length;
  const drained = s.backends.filter((b) => b.drained).length;
  const ejected = s.backends.filter((b) => b.ejected).length;
  const notes = [drained ? `${drained} drained` : '', ejected ? `${ejected} ejected` : ''].filter(Boolean);
  return `${up}/${s.backends.length} up${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

function renderSites(tenants: TenantStatus[]): string {
  const rows: string[][] = [];
  for (const t of tenants) {
    for (const s of t.sites) {
      rows.push([
        t.name,
        s.name,
        [s.region, s.zone].filter(Boolean).join('/') || '-',
        role(t, s),
        s.available ? (s.stale ? 'yes (STALE)' : 'yes') : s.stale ? 'no (STALE)' : 'no',
        backends(s),
        s.data_age_seconds === undefined || s.data_age_seconds === null
          ? '-'
          : `${human(s.data_age_seconds)} (RPO ${objective(t.rpo_seconds)})`,
        ready(s),
      ]);
    }
  }
  return table(['TENANT', 'SITE', 'REGION/ZONE', 'ROLE', 'AVAILABLE', 'BACKENDS', 'DATA AGE', 'READY'], rows) + notReady(tenants);
}

/** Standby readiness: `yes`, or `no (codes)`; `-` from a proxy that does not report it. */
function ready(s: SiteStatus): string {
  if (s.ready === undefined) return '-';
  return s.ready ? 'yes' : `no (${(s.not_ready ?? []).map((r) => r.code).join(', ')})`;
}

/** Each reason a site is not ready, in full, under the site table. */
function notReady(tenants: TenantStatus[]): string {
  const lines = tenants.flatMap((t) => t.sites.flatMap((s) => (s.not_ready ?? []).map((r) => `  ${t.name} ${s.name}: ${r.code}: ${r.message}`)));
  return lines.length ? `\n\nNot ready:\n${lines.join('\n')}` : '';
}

function renderFlips(flips: FlipRecord[] | undefined): string {
  if (!flips?.length) return 'no failovers recorded';
  const recent = flips.slice(-10);
  return (
    `Recent failovers (newest last${flips.length > recent.length ? `, ${recent.length} of ${flips.length}` : ''}):\n` +
    table(
      ['ROUTED AT', 'FROM', 'TO', 'EPOCH', 'TRIGGER', 'RESULT', 'DURATION', 'OF RTO', 'ACTOR', 'REASON'],
      recent.map((f) => [
        Number.isFinite(f.timings?.routedAt) ? new Date(f.timings.routedAt).toISOString() : '-',
        f.from,
        f.to,
        String(f.epoch),
        f.trigger,
        f.break_glass ? `${f.result} (BREAK GLASS)` : f.result,
        millis(f.durationMs),
        f.rtoMs > 0 ? percent(f.durationMs / f.rtoMs) : '-',
        f.actor ?? '-',
        f.reason,
      ]),
    )
  );
}
