/** How the console's audit table reads a record (src/console/web/audit-format.ts). */
import { describe, expect, it } from 'vitest';
import { epochOf, resultOf, whatOf } from '../src/console/web/audit-format.js';

describe('audit table cells', () => {
  it('an admin call: its action, result and status, epoch before → after', () => {
    const r = { event: 'admin', action: 'failover', result: 'ok', status: 200, epoch_before: 1, epoch_after: 2 };
    expect([whatOf(r), resultOf(r), epochOf(r)]).toEqual(['failover', 'ok 200', '1 → 2']);
  });

  it("a mutation's intent record: marked, started, no epoch", () => {
    const r = { event: 'admin', phase: 'intent', action: 'fence' };
    expect([whatOf(r), resultOf(r), epochOf(r)]).toEqual(['fence (intent)', 'started', '—']);
  });

  it('a state change: its event, its result, its epoch', () => {
    const r = { event: 'failover', result: 'routed', epoch: 3 };
    expect([whatOf(r), resultOf(r), epochOf(r)]).toEqual(['failover', 'routed', '3']);
    expect(epochOf({ epoch_before: 4 })).toBe('4 → ?');
    expect(resultOf({ event: 'state' })).toBe('—');
  });
});
