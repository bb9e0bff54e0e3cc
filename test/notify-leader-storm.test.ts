/**
 * leader_changed in a restart storm is not a flood (notify/leader-notice.ts): the first change
 * is told at once, the changes within the quiet window after it go out as one event carrying
 * the latest state and how many changes it stands for.
 */
import { describe, expect, it } from 'vitest';
import { LeaderNotices } from '../src/notify/leader-notice.js';
import type { NotifyEvent } from '../src/notify/events.js';
import { waitFor } from './helpers/poll.js';

describe('leader_changed throttling', () => {
  it('ten changes in a burst are two events: the first and a summary of the rest', async () => {
    const got: NotifyEvent[] = [];
    const n = new LeaderNotices(() => ({ emit: (e) => got.push(e) }), Date.now, 300);
    n.changed('r1', true, 'r0');
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ kind: 'leader_changed', severity: 'info', summary: 'replica r1 now leads the cluster (previous leader: r0)' });
    for (let i = 0; i < 9; i++) n.changed('r1', i % 2 === 1, 'r0');
    expect(got).toHaveLength(1);
    await waitFor(() => got.length === 2, { what: 'the summary event' });
    expect(got[1]).toMatchObject({ severity: 'warning', details: { replica: 'r1', leading: false, changes: 9 } });
    expect(got[1]!.summary).toMatch(/^replica r1 stopped leading the cluster \(9 leadership changes/);
  });
});
