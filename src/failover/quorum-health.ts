/**
 * Health by quorum (clustered mode, docs/design.md "Clustered mode"; issue 18): the snapshot the
 * leader's `decide()` reads, built from this replica's own snapshot and the latest votes of the
 * other live replicas for the tenant (`P/votes/<id>/<tenant>`, cluster/health-votes.ts). Pure.
 *
 * The rules, per site, with `q` = the quorum (`state.etcd.quorum`: a majority of the live
 * replicas, this one included, or a fixed count):
 *  - unavailable only when at least q replicas see it unavailable, this one included: one
 *    replica's broken link to a region moves nothing. A replica that has not voted for the
 *    tenant, or not for this site, counts as not seeing it down.
 *  - available only when at least q replicas see it available, and it is not unavailable (a
 *    fixed quorum under half the replicas can see both): so that one replica's view (the
 *    leader's, say) cannot send the tenant to a site the others cannot reach, nor keep it from
 *    one they all reach when only its own link is cut. With neither, the site is in between, as
 *    a site with backends still unknown is: no trip, no flip to it.
 *  - `unknown`: this replica's own count, but at least 1 while the site is in between and the
 *    votes still missing or `unknown` could make it available (decide's "waiting for the first
 *    health results", instead of a `no_site` freeze while peers have not probed it yet).
 *  - detection start (the RTO clock): the q-th earliest detection start among the replicas that
 *    see it down, as detection-start.ts takes the failure that took a site below min_healthy:
 *    that is when, by their own probes, a quorum saw the outage. Earlier starts are one
 *    replica's view (a link cut an hour ago is not this outage); in a real region failure all
 *    replicas see it within one probe interval, so this is at most that much after the first.
 *    Starts not known (0) are skipped; 0 when none is known (decide then uses now).
 *  - up/down/total/need and stale: this replica's own (backend counts for the flip's reason;
 *    data age is what the backends report, the same whoever asks). `votes` says how the quorum
 *    stood, for status and logs.
 */
import type { HealthSnapshot, SiteSnapshot } from './site.js';

export type SiteVote = 'up' | 'down' | 'unknown';

/** One replica's view of one tenant's sites, as published under its lease. */
export interface HealthVote {
  /** The tenant's epoch when the replica voted (informational: health does not depend on it). */
  readonly epoch: number;
  readonly sites: Readonly<Record<string, SiteVote>>;
  /** Detection start of each site the replica sees down (ms since epoch), 0 when none or unknown. */
  readonly detection: Readonly<Record<string, number>>;
  /** When the replica published it (ms since epoch, its wall clock: for display only). */
  readonly at: number;
}

export interface QuorumOptions {
  /** `state.etcd.quorum`. */
  readonly quorum: number | 'majority';
  /** Live replicas (registered under `P/replicas/`), this one included. */
  readonly live: number;
}

export interface QuorumVotes {
  readonly up: number;
  readonly down: number;
  /** Replicas counted (live, or more when more have voted than were seen registered). */
  readonly replicas: number;
  /** Votes needed either way. */
  readonly quorum: number;
}

export interface QuorumSiteSnapshot extends SiteSnapshot {
  readonly votes: QuorumVotes;
}

export interface QuorumHealthSnapshot extends HealthSnapshot {
  readonly sites: readonly QuorumSiteSnapshot[];
}

/** A site's vote from a snapshot: down = cannot be available; up = available; else unknown. */
export function siteVote(s: SiteSnapshot): SiteVote {
  return s.unavailable ? 'down' : s.available ? 'up' : 'unknown';
}

/** This replica's vote for a tenant from its own snapshot. */
export function voteOf(own: HealthSnapshot, epoch: number): HealthVote {
  const sites: Record<string, SiteVote> = {};
  const detection: Record<string, number> = {};
  for (const s of own.sites) {
    sites[s.name] = siteVote(s);
    detection[s.name] = s.unavailable ? s.detectionStart : 0;
  }
  return { epoch, sites, detection, at: own.at };
}

/** Replicas needed: a majority of `replicas`, or the fixed count (never reached with fewer replicas). */
export function quorumSize(quorum: number | 'majority', replicas: number): number {
  return quorum === 'majority' ? Math.floor(replicas / 2) + 1 : quorum;
}

/** The snapshot `decide()` reads in clustered mode: own view and peers' votes combined by quorum. */
export function quorumHealth(own: HealthSnapshot, peers: readonly HealthVote[], opts: QuorumOptions): QuorumHealthSnapshot {
  // Votes of a replica whose registration the caller has not seen yet still count as a replica.
  const replicas = Math.max(opts.live, peers.length + 1);
  const q = quorumSize(opts.quorum, replicas);
  return { at: own.at, sites: own.sites.map((s) => quorumSite(s, peers, replicas, q)) };
}

function quorumSite(own: SiteSnapshot, peers: readonly HealthVote[], replicas: number, q: number): QuorumSiteSnapshot {
  const mine = siteVote(own);
  let up = mine === 'up' ? 1 : 0;
  let down = mine === 'down' ? 1 : 0;
  const starts = mine === 'down' && own.detectionStart > 0 ? [own.detectionStart] : [];
  for (const p of peers) {
    const v = p.sites[own.name];
    if (v === 'up') up++;
    else if (v === 'down') {
      down++;
      const t = p.detection[own.name] ?? 0;
      if (t > 0) starts.push(t);
    }
  }
  const votes: QuorumVotes = { up, down, replicas, quorum: q };
  const unavailable = down >= q;
  const available = !unavailable && up >= q;
  // Replicas that could still vote up: not voted, or voted unknown.
  const undecided = replicas - up - down;
  const unknown = !available && !unavailable && up + undecided >= q ? Math.max(own.unknown, 1) : own.unknown;
  return { ...own, available, unavailable, unknown, detectionStart: unavailable ? quorumStart(starts, q) : 0, votes };
}

/** The q-th earliest known detection start (the latest known when fewer are known), 0 when none. */
function quorumStart(starts: number[], q: number): number {
  if (starts.length === 0) return 0;
  starts.sort((a, b) => a - b);
  return starts[Math.min(q, starts.length) - 1]!;
}
