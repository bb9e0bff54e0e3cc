/**
 * The operator console's contract (issue 21): what the admin API gives the page
 * (src/console/web/) beyond the existing endpoints. Types only, so that the server (Node) and
 * the page (browser) compile against one definition.
 *
 *   GET /                      the page (no token: it holds nothing; it asks for one)
 *   GET /console/<asset>       its local scripts and styles (no token), strict CSP on every answer
 *   GET /whoami                viewer: { name, role } of the token sent (the page shows actions to operators)
 *   GET /fleet                 viewer: FleetSnapshot (compact: 5,000 tenants stay small)
 *   GET /events                viewer: Server-Sent Events (text/event-stream), read by the page with
 *                              fetch() and a stream reader, since EventSource cannot send Authorization:
 *      event: snapshot   data: FleetSnapshot       first, and again whenever the server resyncs a client
 *      event: tenants    data: TenantsChanged      tenants whose summary changed, coalesced (≤ 4 a second)
 *      event: flip       data: FlipEvent           each finished flip (coalesced into the same ticks)
 *      : ping                                       a comment every 15 s so that proxies keep the stream open
 *   GET /tenants/:t            (exists) the tenant's detail with `flips` (FlipRecord[], src/failover/flip.ts)
 */
import type { FlipRecord } from '../failover/flip.js';

export type TenantPhase = 'active' | 'failing_over' | 'frozen';

/** One tenant on the fleet view. */
export interface TenantSummary {
  name: string;
  tier: string;
  phase: TenantPhase;
  epoch: number;
  active: string;
  /** The first site of its preference order. */
  preferred: string;
  /** active !== preferred. */
  off_preferred: boolean;
  frozen_cause?: string;
  /** Regions of its sites, in preference order, without repeats (for the region filter). */
  regions: string[];
  fenced: string[];
  /** Sites available by health / sites configured. */
  sites_available: number;
  sites: number;
  reason?: string;
  updated_at?: string;
}

export interface FleetSnapshot {
  /** Server time, ISO 8601. */
  at: string;
  version: string;
  counts: Record<TenantPhase, number> & { off_preferred: number; total: number };
  automatic: { enabled: boolean; reason?: string; by?: string };
  /** Clustered mode: this replica and the leader it knows. */
  cluster?: { replica: string; leader: string | null; leading: boolean };
  tenants: TenantSummary[];
}

export interface TenantsChanged {
  at: string;
  counts: FleetSnapshot['counts'];
  tenants: TenantSummary[];
  /** Tenants gone (a reload removed them). */
  removed: string[];
}

export interface FlipEvent {
  tenant: string;
  record: FlipRecord;
}

export interface WhoAmI {
  name: string;
  role: 'viewer' | 'operator';
}
