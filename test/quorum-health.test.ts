/**
 * Issue 18, "Health by quorum": the snapshot the leader's decide() reads in clustered mode
 * (src/failover/quorum-health.ts), from this replica's own snapshot and the other replicas'
 * votes, with plain numbers. A site is unavailable only when a quorum of the live replicas sees
 * it so (this one included), available only when a quorum sees it available; a replica that has
 * not voted does not see it down; the detection start is the one at which a quorum saw it down.
 */
import { describe, expect, it } from 'vitest';
import { quorumHealth, quorumSize, voteOf, type HealthVote, type SiteVote } from '../src/failover/quorum-health.js';
import type { HealthSnapshot, SiteSnapshot } from '../src/failover/site.js';
import { Availability, decide, type DecisionState } from '../src/failover/decide.js';
import { validateConfig } from '../src/config/index.js';

const NOW = 5_000_000;

function site(name: string, view: SiteVote, detectionStart = 0): SiteSnapshot {
  const up = view === 'up' ? 2 : 0;
  const unknown = view === 'unknown' ? 2 : 0;
  return { name, up, down: 2 - up - unknown, unknown, total: 2, need: 1, available: view === 'up', unavailable: view === 'down', stale: false, detectionStart };
}

/** This replica's snapshot: primary `a` and backup `b`. */
function own(a: SiteVote, b: SiteVote = 'up', aStart = 0): HealthSnapshot {
  return { at: NOW, sites: [site('a', a, a === 'down' ? aStart : 0), site('b', b)] };
}

function vote(a: SiteVote | undefined, b: SiteVote | undefined = 'up', aStart = 0): HealthVote {
  const sites: Record<string, SiteVote> = {};
  if (a) sites.a = a;
  if (b) sites.b = b;
  return { epoch: 1, sites, detection: { a: a === 'down' ? aStart : 0, b: 0 }, at: NOW };
}

function a(snapshot: ReturnType<typeof quorumHealth>): { available: boolean; unavailable: boolean; detectionStart: number; unknown: number; votes: unknown } {
  const s = snapshot.sites[0]!;
  return { available: s.available, unavailable: s.unavailable, detectionStart: s.detectionStart, unknown: s.unknown, votes: s.votes };
}

describe('quorum health', () => {
  it('sizes a majority of the live replicas, or takes a fixed count as it is', () => {
    expect([1, 2, 3, 4, 5].map((n) => quorumSize('majority', n))).toEqual([1, 2, 2, 3, 3]);
    expect(quorumSize(2, 5)).toBe(2);
    expect(quorumSize(3, 1)).toBe(3);
  });

  it('with one replica is that replica\u2019s own view', () => {
    const o = own('down', 'up', NOW - 700);
    const q = quorumHealth(o, [], { quorum: 'majority', live: 1 });
    expect(q.sites.map(({ votes: _, ...s }) => s)).toEqual(o.sites);
    expect(a(q).votes).toEqual({ up: 0, down: 1, replicas: 1, quorum: 1 });
  });

  it('with two replicas and a majority, needs both to see the site down', () => {
    expect(a(quorumHealth(own('down'), [vote('up')], { quorum: 'majority', live: 2 }))).toMatchObject({ unavailable: false, available: false });
    expect(a(quorumHealth(own('up'), [vote('down')], { quorum: 'majority', live: 2 }))).toMatchObject({ unavailable: false, available: false });
    expect(a(quorumHealth(own('down'), [vote('down')], { quorum: 'majority', live: 2 }))).toMatchObject({ unavailable: true, available: false });
    expect(a(quorumHealth(own('up'), [vote('up')], { quorum: 'majority', live: 2 }))).toMatchObject({ unavailable: false, available: true });
  });

  it('with three replicas, one that sees a site down while two see it up leaves it available', () => {
    for (const [mine, peers] of [['down', ['up', 'up']], ['up', ['down', 'up']]] as const) {
      const q = quorumHealth(own(mine), peers.map((p) => vote(p)), { quorum: 'majority', live: 3 });
      expect(a(q)).toMatchObject({ unavailable: false, available: true, detectionStart: 0 });
    }
    // Two of three down, this replica included or not: unavailable.
    expect(a(quorumHealth(own('down'), [vote('down'), vote('up')], { quorum: 'majority', live: 3 }))).toMatchObject({ unavailable: true, available: false });
    expect(a(quorumHealth(own('up'), [vote('down'), vote('down')], { quorum: 'majority', live: 3 }))).toMatchObject({ unavailable: true, available: false });
  });

  it('counts a replica that has not voted (for the tenant, or for the site) as not seeing it down', () => {
    // Three live, one vote missing: one down of three is no majority, and neither is one up.
    const q = quorumHealth(own('down'), [vote(undefined, undefined)], { quorum: 'majority', live: 3 });
    expect(a(q)).toMatchObject({ unavailable: false, available: false });
    // The other site: this replica and the voter see it up, 2 of 3.
    expect(q.sites[1]).toMatchObject({ available: true, unavailable: false });
    expect(a(quorumHealth(own('down'), [], { quorum: 'majority', live: 3 }))).toMatchObject({ unavailable: false });
    expect(a(quorumHealth(own('down'), [vote(undefined)], { quorum: 'majority', live: 2 }))).toMatchObject({ unavailable: false });
  });

  it('takes a fixed quorum as a count of replicas, whatever the number live', () => {
    const one = { quorum: 1, live: 3 } as const;
    expect(a(quorumHealth(own('up'), [vote('down'), vote('up')], one))).toMatchObject({ unavailable: true, available: false });
    const three = { quorum: 3, live: 3 } as const;
    expect(a(quorumHealth(own('down'), [vote('down'), vote('up')], three))).toMatchObject({ unavailable: false });
    expect(a(quorumHealth(own('down'), [vote('down'), vote('down')], three))).toMatchObject({ unavailable: true });
    // More than are live: never reached (the operator asked for that many witnesses).
    expect(a(quorumHealth(own('down'), [vote('down')], { quorum: 3, live: 2 }))).toMatchObject({ unavailable: false, available: false });
  });

  it('dates the outage from when a quorum saw it down, not from one replica\u2019s early view', () => {
    // One replica has seen `a` down for an hour (its own link); the others since NOW-900 and NOW-400.
    const q = quorumHealth(own('down', 'up', NOW - 400), [vote('down', 'up', NOW - 3_600_000), vote('down', 'up', NOW - 900)], { quorum: 'majority', live: 3 });
    expect(a(q)).toMatchObject({ unavailable: true, detectionStart: NOW - 900 });
    // Unknown starts are skipped; none known: 0 (decide uses now).
    expect(a(quorumHealth(own('down', 'up', NOW - 400), [vote('down', 'up', 0)], { quorum: 'majority', live: 2 })).detectionStart).toBe(NOW - 400);
    expect(a(quorumHealth(own('down'), [vote('down')], { quorum: 'majority', live: 2 })).detectionStart).toBe(0);
  });

  it('keeps the site waiting for results while missing or unknown votes could still make it available', () => {
    // This replica sees `a` up, the two others have not probed it yet: in between, unknown > 0.
    expect(a(quorumHealth(own('up'), [vote('unknown'), vote(undefined)], { quorum: 'majority', live: 3 }))).toMatchObject({ available: false, unavailable: false, unknown: 1 });
    // One up, one down, one unknown: the unknown vote could still make it available.
    expect(a(quorumHealth(own('up'), [vote('down'), vote('unknown')], { quorum: 'majority', live: 3 })).unknown).toBe(1);
    // Two of three see it down: settled, own count.
    expect(a(quorumHealth(own('up'), [vote('down'), vote('down')], { quorum: 'majority', live: 3 })).unknown).toBe(0);
  });

  it('publishes a replica\u2019s own vote from its snapshot', () => {
    expect(voteOf(own('down', 'unknown', NOW - 50), 7)).toEqual({ epoch: 7, sites: { a: 'down', b: 'unknown' }, detection: { a: NOW - 50, b: 0 }, at: NOW });
  });

  it('counts votes of more replicas than are seen registered as replicas all the same', () => {
    // live says 1 (registrations not seen yet) but two peers voted: three replicas, majority 2.
    expect(a(quorumHealth(own('down'), [vote('up'), vote('up')], { quorum: 'majority', live: 1 }))).toMatchObject({ unavailable: false, available: true, votes: { up: 2, down: 1, replicas: 3, quorum: 2 } });
  });

  it('is what decide() reads: one replica\u2019s down view trips nothing, a quorum\u2019s fails over from its detection start', () => {
    const { config } = validateConfig(
      { defaults: { failover: { trip_after: '0s', min_interval: '0s' } }, tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: ['a', 'b'].map((name, i) => ({ name, backends: [`http://127.0.0.${i + 1}:1`] })) } } },
      { baseDir: '/tmp' },
    );
    const cfg = config!.tenants[0]!;
    const st: DecisionState = { tenant: { tenant: 't', epoch: 3, phase: 'active', active: 'a', fenced: [], trigger: 'startup', reason: '', updated_at: '' }, busy: false, lastFlipAt: 0, unavailableSince: 0, availability: new Availability() };
    const lone = quorumHealth(own('down', 'up', NOW - 300), [vote('up'), vote('up')], { quorum: 'majority', live: 3 });
    expect(decide(st, lone, NOW, cfg).action).toEqual({ kind: 'none' });
    const quorum = quorumHealth(own('down', 'up', NOW - 300), [vote('down', 'up', NOW - 200), vote('up')], { quorum: 'majority', live: 3 });
    expect(decide(st, quorum, NOW, cfg).action).toMatchObject({ kind: 'flip', to: 'b', trigger: 'health', detectedAt: NOW - 200 });
  });
});
