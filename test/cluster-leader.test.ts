/**
 * Issue 18 step 2: leader election with a fencing token on a real etcd. Three candidates in this
 * process, each on its own client behind its own TCP relay; one more as a child process that is
 * SIGKILLed. Exactly one leader; a new one within TTL + 1 s of the old one's end; a commit that
 * carries an old leader's guard fails; a black-holed leader steps down by its own deadline,
 * before etcd lets the next one in, and its late commit fails.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EtcdClient, type Compare } from '../src/cluster/etcd.js';
import { LeaseKeeper } from '../src/cluster/lease.js';
import { LeaderElection } from '../src/cluster/leader.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { startRelay, type TcpRelay } from './helpers/tcp-relay.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const TTL = 2000;
const MARGIN = 400;
const CANDIDATE = fileURLToPath(new URL('./fixtures/cluster-candidate.mjs', import.meta.url));

interface Candidate {
  id: string;
  relay: TcpRelay;
  client: EtcdClient;
  lease: LeaseKeeper;
  election: LeaderElection;
  electedAt?: number;
  steppedDownAt?: number;
}

describe.skipIf(!ETCD_INSTALLED)('leader election with a fencing token (real etcd)', () => {
  const s = useEtcd(1);
  let prefix: string;
  let n = 0;

  async function candidate(id: string): Promise<Candidate> {
    const relay = await startRelay(s.etcd.endpoints[0]!);
    const client = new EtcdClient({ endpoints: [relay.url], requestTimeout: 500, dialTimeout: 2000 });
    const lease = new LeaseKeeper({ client, ttl: TTL, margin: MARGIN });
    const election = new LeaderElection({ client, lease, prefix, replicaId: id, retryDelay: 100 });
    const c: Candidate = { id, relay, client, lease, election };
    election.on('elected', () => (c.electedAt = performance.now()));
    election.on('stepped_down', () => (c.steppedDownAt = performance.now()));
    s.cleanup(() => relay.close(), () => client.close(), () => election.close());
    election.start();
    return c;
  }

  async function three(): Promise<Candidate[]> {
    prefix = `/test${++n}`;
    return Promise.all(['r1', 'r2', 'r3'].map(candidate));
  }

  const leaders = (cs: Candidate[]) => cs.filter((c) => c.election.isLeader());
  const oneLeader = (cs: Candidate[], except?: Candidate) =>
    waitFor(() => {
      const l = leaders(cs).filter((c) => c !== except);
      return l.length === 1 && cs.every((c) => c === except || c.election.leaderId === l[0]!.id) ? l[0] : undefined;
    }, { timeout: TTL + 3000, what: 'exactly one leader' });
  const commit = (client: EtcdClient, guard: Compare[], value: string) => client.txn(guard, [{ put: `${prefix}/flip`, value }]);

  it('elects exactly one leader, whose token is its key create revision', async () => {
    const cs = await three();
    const leader = await oneLeader(cs);
    const { kv } = await s.direct.get(`${prefix}/leader`);
    expect(kv?.value).toBe(leader.id);
    expect(leader.election.token).toBe(kv?.createRevision);
    expect(leader.election.guard()).toEqual([{ key: `${prefix}/leader`, target: 'create', value: kv!.createRevision }]);
    for (const c of cs.filter((x) => x !== leader)) expect(() => c.election.guard()).toThrow(/not the leader/);
    expect((await commit(s.direct, leader.election.guard(), 'by leader')).succeeded).toBe(true);
  });

  it('a resigned leader is replaced within TTL + 1 s, and its old guard no longer commits', async () => {
    const cs = await three();
    const old = await oneLeader(cs);
    const oldGuard = old.election.guard();
    const closedAt = performance.now();
    await old.election.close();
    const next = await oneLeader(cs, old);
    expect(next.electedAt! - closedAt).toBeLessThan(TTL + 1000);
    expect(next.election.token!).toBeGreaterThan(oldGuard[0]!.value as number);
    expect((await commit(s.direct, oldGuard, 'late old leader')).succeeded).toBe(false);
    expect((await commit(s.direct, next.election.guard(), 'new leader')).succeeded).toBe(true);
    expect((await s.direct.get(`${prefix}/flip`)).kv?.value).toBe('new leader');
  });

  it('a black-holed leader steps down by its own deadline, before the next is elected; its late commit fails', async () => {
    const cs = await three();
    const old = await oneLeader(cs);
    const captured = old.election.guard();
    let lastDeadline = old.lease.deadline;
    old.lease.on('renewed', (d) => (lastDeadline = d));
    old.relay.blackhole();
    await once(old.election, 'stepped_down', { signal: AbortSignal.timeout(2 * TTL) });
    expect(old.election.isLeader()).toBe(false);
    expect(() => old.election.guard()).toThrow(/not the leader/);
    // Stepped down at TTL − margin after the last keepalive it sent that succeeded.
    expect(old.steppedDownAt! - (lastDeadline - TTL + MARGIN)).toBeLessThan(TTL - MARGIN + 150);

    const next = await oneLeader(cs, old);
    // etcd let the next leader in only after the old lease expired (TTL): after our step-down.
    expect(next.electedAt!).toBeGreaterThan(old.steppedDownAt!);
    // The old leader's link heals; a commit it had prepared before the partition is refused.
    old.relay.restore();
    const late = await waitFor(() => commit(old.client, captured, 'late old leader'), { timeout: 5000, what: 'late commit answered' });
    expect(late.succeeded).toBe(false);
    expect((await commit(s.direct, next.election.guard(), 'new leader')).succeeded).toBe(true);
    // Healed, the old leader follows the new one and does not take over.
    await waitFor(() => old.election.leaderId === next.id, { timeout: 3000, what: 'old leader follows' });
    expect(leaders(cs)).toEqual([next]);
  });

  /** A candidate in a child process, elected first, and two followers in this process. */
  async function childLeader() {
    prefix = `/test${++n}`;
    const child = spawn(process.execPath, [CANDIDATE, '--endpoint', s.etcd.endpoints[0]!, '--prefix', prefix, '--id', 'child', '--ttl', String(TTL)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    s.cleanup(() => child.kill('SIGKILL'));
    const io = { out: '' };
    child.stdout.on('data', (d: Buffer) => (io.out += d.toString()));
    await waitFor(() => io.out.includes('ELECTED'), { timeout: 10_000, what: 'child elected' });
    const childToken = Number(/ELECTED (\d+)/.exec(io.out)![1]);
    const cs = await Promise.all(['r1', 'r2'].map(candidate));
    await waitFor(() => cs.every((c) => c.election.leaderId === 'child'), { timeout: 3000, what: 'followers see the child' });
    return { child, io, childToken, cs };
  }

  it('a leader process paused (SIGSTOP) past its TTL commits nothing after resuming', async () => {
    const { child, io, cs } = await childLeader();
    child.stdin!.write('commit\n');
    await waitFor(() => io.out.includes('COMMIT ok'), { what: 'a commit while leader' });
    child.kill('SIGSTOP');
    s.cleanup(() => child.kill('SIGCONT'));
    const next = await oneLeader(cs);
    child.kill('SIGCONT');
    child.stdin!.write('commit\nlate\n');
    await waitFor(() => io.out.includes('LATE '), { what: 'the late commit answered' });
    // Refused locally by its own deadline, and etcd refuses the guard it held before the pause.
    expect(io.out).toMatch(/COMMIT refused .*not the leader/);
    expect(io.out).toContain('LATE failed');
    expect(io.out).toContain('STEPPED_DOWN');
    expect((await s.direct.get(`${prefix}/flip`)).kv?.value).toBe('child');
    expect((await commit(s.direct, next.election.guard(), 'r')).succeeded).toBe(true);
  });

  it('a SIGKILLed leader process is replaced within TTL + 1 s', async () => {
    const { child, childToken, cs } = await childLeader();

    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const killedAt = performance.now();
    const next = await oneLeader(cs);
    expect(next.electedAt! - killedAt).toBeLessThan(TTL + 1000);
    expect((await commit(s.direct, [{ key: `${prefix}/leader`, target: 'create', value: childToken }], 'dead leader')).succeeded).toBe(false);
  });
});
