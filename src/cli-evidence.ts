/**
 * The evidence commands: check an audit file's hash chain and a drill report's signature,
 * offline, without a running drproxy (an auditor's machine needs only the files and the public
 * key). docs/security.md, "Tamper-evident evidence".
 *
 *   drproxy verify-audit FILE [--head HASH] [--json]
 *   drproxy verify-report FILE [--key PUBLIC_KEY_PEM] [--content-only] [--json]
 *
 * Exit status: 0 valid; 1 invalid (the first problem is named), or the file cannot be read;
 * 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { KeyObject } from 'node:crypto';
import { loadPublicKey } from './evidence/keys.js';
import { verifyMarkdown } from './evidence/markdown-signature.js';
import { isDrproxyLayout, verifyReport, type SignatureCheck } from './evidence/signature.js';
import { verifyChainFile, type ChainVerdict } from './evidence/verify-chain.js';

export const EVIDENCE_COMMANDS = ['verify-audit', 'verify-report'] as const;
export type EvidenceCommand = (typeof EVIDENCE_COMMANDS)[number];

export function isEvidenceCommand(command: string | undefined): command is EvidenceCommand {
  return (EVIDENCE_COMMANDS as readonly string[]).includes(command ?? '');
}

export const EVIDENCE_HELP = `Evidence commands (offline, on files):
  drproxy verify-audit FILE [--head HASH] [--json]
                                   check the audit file's hash chain: exit 0 with the record count and
                                   the head, or 1 naming the first line that was edited, removed,
                                   inserted or reordered; --head: also require that record (the
                                   chain head a drill report names) to be in the chain
  drproxy verify-report FILE [--key PUBLIC_KEY_PEM] [--content-only] [--json]
                                   check a drill report's Ed25519 signature (JSON or Markdown): exit 0
                                   and the key id, or 1 when a byte was changed, it is unsigned, or
                                   --key is given and another key signed it; --content-only: a JSON
                                   report reformatted by another tool (whitespace, key order) passes
                                   when its content is the signed one
`;

const out = (s: string) => void process.stdout.write(`${s}\n`);
const err = (s: string) => void process.stderr.write(`${s}\n`);

function usage(command: EvidenceCommand, message: string): number {
  err(`drproxy ${command}: ${message}\n\n${EVIDENCE_HELP}`);
  return 2;
}

function parse(command: EvidenceCommand, args: string[], options: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, ...options } });
  } catch (e) {
    return usage(command, (e as Error).message);
  }
}

export async function runEvidence(command: EvidenceCommand, args: string[]): Promise<number> {
  if (command === 'verify-audit') {
    const p = parse(command, args, { head: { type: 'string' } });
    if (typeof p === 'number') return p;
    const head = (p.values as Record<string, unknown>).head as string | undefined;
    if (p.positionals.length !== 1) return usage(command, 'give exactly one FILE');
    if (head !== undefined && !/^[0-9a-fA-F]{64}$/.test(head)) return usage(command, '--head takes a record hash: 64 hex digits');
    return verifyAudit(p.positionals[0]!, head, p.values.json === true);
  }
  const p = parse(command, args, { key: { type: 'string' }, 'content-only': { type: 'boolean' } });
  if (typeof p === 'number') return p;
  if (p.positionals.length !== 1) return usage(command, 'give exactly one FILE');
  const v = p.values as Record<string, unknown>;
  return verifyReportFile(p.positionals[0]!, v.key as string | undefined, v.json === true, v['content-only'] === true);
}

async function verifyAudit(file: string, head: string | undefined, json: boolean): Promise<number> {
  let v: ChainVerdict;
  try {
    v = await verifyChainFile(file, head === undefined ? {} : { head });
  } catch (e) {
    err(`drproxy verify-audit: ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return 1;
  }
  const headMissing = head !== undefined && v.head_found === undefined;
  if (json) out(JSON.stringify({ file, ...v, ...(head !== undefined && { head_wanted: head.toLowerCase() }) }));
  else if (v.problem) err(`${file}: line ${v.problem.line}: ${v.problem.message}`);
  else {
    const tip = v.head ? `head seq ${v.head.seq} ${v.head.hash}` : 'no records yet';
    const segs = v.segments.length ? `; ${v.segments.length} segment(s) after unchained lines (first at line ${v.segments[0]!.line})` : '';
    out(`${file}: OK: ${v.records} chained record(s) in ${v.lines} line(s), ${tip}${segs}`);
    if (head !== undefined) {
      if (v.head_found) out(`${file}: ${head.toLowerCase()} is record seq ${v.head_found.seq} (line ${v.head_found.line}) of the chain`);
      else err(`${file}: ${head.toLowerCase()} is not a record of this chain: the file is not the one the report was closed on, or it was rewritten`);
    }
  }
  return v.valid && !headMissing ? 0 : 1;
}

async function verifyReportFile(file: string, keyFile: string | undefined, json: boolean, contentOnly: boolean): Promise<number> {
  let trusted: KeyObject | undefined;
  if (keyFile !== undefined) {
    try {
      trusted = loadPublicKey(keyFile);
    } catch (e) {
      err(`drproxy verify-report: --key ${keyFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (e as Error).message}`);
      return 1;
    }
  }
  let doc: Buffer;
  try {
    doc = await readFile(file);
  } catch (e) {
    err(`drproxy verify-report: ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return 1;
  }
  const r = checkReportBytes(doc, trusted, contentOnly);
  return answer(file, r.format, r.check, r.about, json);
}

export interface ReportBytesCheck {
  format: 'json' | 'markdown';
  check: SignatureCheck;
  /** A JSON report's id, kind, tenant or region, status and chain head. */
  about: Record<string, unknown>;
}

/** Checks a report file's bytes: JSON (signature over the content, and the layout) or signed Markdown. */
export function checkReportBytes(doc: Buffer, trusted?: KeyObject, contentOnly = false): ReportBytesCheck {
  const text = doc.toString('utf8');
  if (!text.trimStart().startsWith('{')) return { format: 'markdown', check: verifyMarkdown(doc, trusted), about: {} };
  let report: Record<string, unknown>;
  try {
    report = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    return { format: 'json', check: { valid: false, problem: 'malformed', message: `not valid JSON (${(e as Error).message}): the file was edited or cut` }, about: {} };
  }
  if (typeof report !== 'object' || report === null || Array.isArray(report)) return { format: 'json', check: { valid: false, problem: 'malformed', message: 'not a drill report (not a JSON object)' }, about: {} };
  let check = verifyReport(report, trusted);
  if (check.valid && !contentOnly && !isDrproxyLayout(text, report)) {
    check = { ...check, valid: false, problem: 'layout', message: `${check.message}, but the file's bytes are not as drproxy writes them (whitespace or escapes were edited; --content-only checks the content alone)` };
  }
  const audit = report.audit as { chain_head?: unknown } | undefined;
  return { format: 'json', check, about: { id: report.id, kind: report.kind, tenant: report.tenant, region: report.region, status: report.status, chain_head: audit?.chain_head } };
}

function answer(file: string, format: 'json' | 'markdown', check: SignatureCheck, about: Record<string, unknown>, json: boolean): number {
  if (json) out(JSON.stringify({ file, format, ...check, ...(Object.keys(about).length > 0 && { report: about }) }));
  else if (!check.valid) err(`${file}: INVALID: ${check.message}`);
  else {
    const head = about.chain_head as { seq?: number; hash?: string } | undefined;
    const what = about.id ? `; report ${String(about.id)} (${String(about.status)})` : '';
    const chain = head?.hash ? `; audit chain head seq ${head.seq} ${head.hash} (check it with: drproxy verify-audit AUDIT_FILE --head ${head.hash})` : '';
    out(`${file}: valid: ${check.message}${what}${chain}`);
  }
  return check.valid ? 0 : 1;
}
