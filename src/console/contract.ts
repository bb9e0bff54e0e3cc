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

/**
 * The summaries are defined once, in the page's model (browser-safe: types only, no Node
 * imports), and re-exported here for the server side. A flip's record is the server's own
 * FlipRecord; test/console-contract.test.ts checks at compile time that the page's copy of it
 * reads what the server sends.
 */
export type { TenantPhase, TenantSummary, FleetSnapshot, TenantsChanged, WhoAmI, BackendDetail, SiteDetail } from './web/model.js';
import type { TenantDetail as PageTenantDetail } from './web/model.js';

/** GET /tenants/:t and each of GET /status `tenants`: the page's TenantDetail with the server's FlipRecord. */
export type TenantDetail = Omit<PageTenantDetail, 'flips'> & { flips?: FlipRecord[] };

export interface FlipEvent {
  tenant: string;
  record: FlipRecord;
}
