/** The leader carries out an operator action a follower received (proposals.ts) on the tenant's controller (a drill: on its drill service). */
import { DrProxyError } from '../errors.js';
import type { OperatorRequest } from '../failover/operator.js';
import type { TenantController } from '../failover/tenant-controller.js';
import type { Proposal } from './proposals.js';

/** `drill`, `region_drill`: start a drill or a region drill on the leader's drill services (cluster/drills.ts); the answer is the started report. */
export function carryOut(c: TenantController | undefined, p: Proposal, drill?: (p: Proposal) => Promise<unknown>): Promise<unknown> {
  if (p.action === 'drill' || p.action === 'region_drill') return drill ? drill(p) : Promise.reject(new DrProxyError('DRP_DRILL_UNAVAILABLE', 'drills are not available on the leader'));
  if (!c) return Promise.reject(new DrProxyError('DRP_NOT_FOUND', `no tenant ${p.tenant}`));
  const op = p.op as unknown as OperatorRequest & { to?: string; site?: string };
  switch (p.action) {
    case 'failover':
      return c.operatorFailover(op);
    case 'failback':
      return c.failback(op);
    case 'fence':
      return c.fence(op.site ?? '', op);
    case 'unfence':
      return c.unfence(op.site ?? '', op);
  }
}
