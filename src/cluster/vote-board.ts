/**
 * The replica's health votes (health-votes.ts) as every tenant controller uses them
 * (failover/quorum-view.ts VoteBoard): one HealthVotes per replica, its events sent to the
 * tenant they concern only (a region failure brings votes for hundreds of tenants at once:
 * no tenant scans the others' events), and the quorum options read when a decision is made.
 */
import type { HealthVote, QuorumOptions, SiteVote } from '../failover/quorum-health.js';
import type { VoteBoard, VoteListener } from '../failover/quorum-view.js';
import type { HealthVotes } from './health-votes.js';
import { addKeyed } from './keyed-listeners.js';

export class ClusterVoteBoard implements VoteBoard {
  readonly #listeners = new Map<string, Set<VoteListener>>();

  constructor(
    private readonly votes: HealthVotes,
    private readonly quorum: QuorumOptions['quorum'],
    /** Live replicas now (the coordinator's registrations), this one included. */
    private readonly live: () => number,
  ) {
    votes.on('changed', (tenant) => this.#each(tenant, (l) => l.changed()));
    votes.on('peerDown', (tenant, site, replica) => this.#each(tenant, (l) => l.peerDown(site, replica)));
  }

  publish(tenant: string, vote: HealthVote): void {
    this.votes.publish(tenant, vote);
  }

  withdraw(tenant: string): void {
    this.votes.withdraw(tenant);
  }

  peers(tenant: string): readonly HealthVote[] {
    return [...this.votes.votesFor(tenant).values()];
  }

  options(): QuorumOptions {
    return { quorum: this.quorum, live: this.live() };
  }

  /** The live replicas changed: a majority quorum may have too, every tenant decides again. */
  liveChanged(): void {
    for (const set of [...this.#listeners.values()]) for (const l of [...set]) l.changed();
  }

  subscribe(tenant: string, listener: VoteListener): () => void {
    return addKeyed(this.#listeners, tenant, listener);
  }

  /** Each tenant's votes as this replica sees them: replica → site → up/down/unknown (GET /status). */
  status(tenants: Iterable<string>, self: string): Record<string, Record<string, Record<string, SiteVote>>> {
    const out: Record<string, Record<string, Record<string, SiteVote>>> = {};
    for (const t of tenants) {
      const own = this.votes.ownVote(t);
      const byReplica: Record<string, Record<string, SiteVote>> = own ? { [self]: { ...own.sites } } : {};
      for (const [id, v] of this.votes.votesFor(t)) byReplica[id] = { ...v.sites };
      out[t] = byReplica;
    }
    return out;
  }

  #each(tenant: string, fn: (l: VoteListener) => void): void {
    for (const l of [...(this.#listeners.get(tenant) ?? [])]) fn(l);
  }
}
