/**
 * The leader's audit records of an operator action a follower forwarded (admin/forwarded-audit.ts):
 * intent then outcome, naming the follower and the proposal; a failed action is recorded with the
 * status the follower answers; an intent record that cannot be written refuses the action.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditLog } from '../src/admin/audit.js';
import { auditedCarryOut, forwardedTo } from '../src/admin/forwarded-audit.js';
import type { Proposal } from '../src/cluster/proposals.js';
import { DrProxyError } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { tempDir } from './helpers/proxy.js';

function memoryAudit(file?: string): { audit: AuditLog; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: 'info', destination: { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) } });
  return { audit: new AuditLog(log, file === undefined ? {} : { file }), records };
}

const proposal: Proposal = { id: 'p-1', tenant: 't', action: 'failover', op: { to: 'b1', reason: 'drill', actor: 'ops', force: false }, replica: 'r1' };

describe('the leader audits what it carries out for a follower', () => {
  it('intent, then the outcome with the new epoch, naming the follower and the proposal', async () => {
    const { audit, records } = memoryAudit();
    const value = await auditedCarryOut(audit, proposal, () => Promise.resolve({ epoch: 2, to: 'b1' }));
    expect(value).toEqual({ epoch: 2, to: 'b1' });
    expect(records.map((r) => [r.phase, r.result])).toEqual([['intent', undefined], [undefined, 'ok']]);
    const common = { audit: true, event: 'admin', action: 'failover', actor: 'ops', tenant: 't', site: 'b1', reason: 'drill', forwarded_from: 'r1', proposal: 'p-1' };
    expect(records[0]).toMatchObject(common);
    expect(records[1]).toMatchObject({ ...common, status: 200, epoch_after: 2, detail: 'carried out for replica r1' });
  });

  it('a refused action: recorded with the status the follower answers, and rethrown', async () => {
    const { audit, records } = memoryAudit();
    const fence = { ...proposal, action: 'fence' as const, op: { site: 'a1', reason: 'x', actor: 'ops' } };
    await expect(auditedCarryOut(audit, fence, () => Promise.reject(new DrProxyError('DRP_CONFLICT', 'site a1 is active: fail over first')))).rejects.toMatchObject({ code: 'DRP_CONFLICT' });
    expect(records[1]).toMatchObject({ action: 'fence', site: 'a1', result: 'error', status: 409, detail: 'DRP_CONFLICT: site a1 is active: fail over first' });
  });

  it('an intent that cannot be written refuses the action: it does not run', async () => {
    const notADir = join(await tempDir('drproxy-audit-'), 'file');
    await writeFile(notADir, 'x');
    const { audit } = memoryAudit(join(notADir, 'audit.log'));
    let ran = false;
    const run = () => ((ran = true), Promise.resolve({ epoch: 2 }));
    // A DrProxyError, so that proposals.ts passes its code to the follower (503 audit_unavailable there).
    const err = await auditedCarryOut(audit, proposal, run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DrProxyError);
    expect(err).toMatchObject({ code: 'DRP_AUDIT_UNAVAILABLE' });
    expect(ran).toBe(false);
    audit.close();
  });

  it('a follower names the leader it forwards to; the leader and single-process mode name none', () => {
    expect(forwardedTo({ replica: 'r1', leader: 'r0', leading: false })).toBe('r0');
    expect(forwardedTo({ replica: 'r1', leader: null, leading: false })).toBe('no leader known');
    expect(forwardedTo({ replica: 'r0', leader: 'r0', leading: true })).toBeUndefined();
    expect(forwardedTo(undefined)).toBeUndefined();
  });
});
