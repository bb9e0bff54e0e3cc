/**
 * Health by quorum, the tenant controller's side (clustered mode; issue 18, docs/design.md
 * "Clustered mode: health by quorum"). The controller's own snapshot still drives its own
 * routes; what its decisions read is the quorum view (quorum-health.ts) built from it and the
 * other replicas' latest votes, so that one replica's broken link to a region moves nothing.
 *
 * - Every evaluation publishes this replica's vote (the board writes it only when it changed).
 * - Other replicas' votes changed: the tenant is evaluated again (the leader may now trip).
 * - Another replica votes down a site this one has up: its backends are probed at once
 *   (probe-now.ts) and the tenant evaluated, so its new vote goes out within one probe round
 *   trip instead of one check interval.
 * The board (cluster/vote-board.ts) is the replica's one HealthVotes, shared by every tenant.
 */
import type { Logger } from '../log.js';
import { probeSiteNow } from './probe-now.js';
import { quorumHealth, voteOf, type HealthVote, type QuorumOptions } from './quorum-health.js';
import type { HealthSnapshot, SiteRuntime } from './site.js';

/** What a tenant's quorum view is told about its votes. */
export interface VoteListener {
  /** Other replicas' votes for the tenant came, changed or went. */
  changed(): void;
  /** `replica` voted `site` down while this replica's latest vote has it up. */
  peerDown(site: string, replica: string): void;
}

/** This replica's votes and its peers', per tenant (ControllerDeps.votes; clustered only). */
export interface VoteBoard {
  publish(tenant: string, vote: HealthVote): void;
  /** The tenant left this replica's config: its vote is deleted. */
  withdraw(tenant: string): void;
  /** Other live replicas' latest votes for the tenant. */
  peers(tenant: string): readonly HealthVote[];
  /** `state.etcd.quorum` and the live replica count now. */
  options(): QuorumOptions;
  subscribe(tenant: string, listener: VoteListener): () => void;
}

export interface QuorumViewDeps {
  readonly board: VoteBoard;
  readonly tenant: string;
  readonly sites: readonly SiteRuntime[];
  readonly log: Logger;
  /** Decide again (the controller's evaluate()). */
  readonly evaluate: () => void;
}

export class QuorumView {
  constructor(private readonly d: QuorumViewDeps) {}

  /** Listen to the tenant's votes; the returned function stops it. */
  subscribe(): () => void {
    return this.d.board.subscribe(this.d.tenant, {
      changed: () => this.d.evaluate(),
      peerDown: (site, replica) => this.probe(site, replica),
    });
  }

  /**
   * The snapshot decisions read. `vote`: publish `own` as this replica's vote first (not while
   * the controller is quiesced by a reload: its successor votes for the tenant).
   */
  health(own: HealthSnapshot, epoch: number, vote: boolean): HealthSnapshot {
    const { board, tenant } = this.d;
    if (vote) board.publish(tenant, voteOf(own, epoch));
    return quorumHealth(own, board.peers(tenant), board.options());
  }

  /** The tenant was removed from the config (not replaced): its vote goes. */
  withdraw(): void {
    this.d.board.withdraw(this.d.tenant);
  }

  private probe(name: string, replica: string): void {
    const site = this.d.sites.find((s) => s.name === name);
    if (site === undefined) return;
    this.d.log.info({ site: name, replica }, `replica ${replica} sees site ${name} down: probing it now`);
    probeSiteNow(site).then(
      () => this.d.evaluate(),
      (err: unknown) => this.d.log.error({ err, site: name }, 'out-of-schedule probe failed'),
    );
  }
}
