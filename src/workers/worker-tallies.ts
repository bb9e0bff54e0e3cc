/**
 * The data plane's process-wide fault tallies (plain numbers in module objects, read at scrape by
 * the main registry's counters: access-log drops and write errors, HTTP/2 rapid-reset closes,
 * PROXY-protocol refusals). Each worker's isolate has its own copy of those objects; at each
 * scrape a worker sends its values and the main thread adds what grew since that worker's last
 * answer to its own objects, so the existing series count every worker (never down: a worker
 * that exits keeps what it gave).
 */
import { accessLogStats } from '../proxy/access-log.js';
import { rapidResetStats } from '../proxy/h2-resets.js';
import { proxyProtocolRefused } from '../proxy/proxy-header-reader.js';

export interface Tallies {
  readonly accessDropped: number;
  readonly accessWriteErrors: number;
  readonly rapidReset: number;
  readonly proxyRefused: Readonly<Record<string, number>>;
  /** A gauge: the worker's HTTP/2 sessions open now. */
  readonly h2Sessions: number;
}

/** Worker side: this isolate's tallies. */
export function ownTallies(h2Sessions: number): Tallies {
  return { accessDropped: accessLogStats.droppedLines, accessWriteErrors: accessLogStats.writeErrors, rapidReset: rapidResetStats.sessionsClosed, proxyRefused: { ...proxyProtocolRefused }, h2Sessions };
}

/** Main side: the deltas into this isolate's objects; the sessions gauge as the live workers' sum. */
export class TallyFold {
  private readonly last = new Map<string, Tallies>();
  /** drproxy_http2_sessions under workers (metrics/connections.ts reads `sessions.size`). */
  readonly http2 = { sessions: { size: 0 } as unknown as ReadonlySet<unknown> };

  fold(answers: ReadonlyMap<string, Tallies>): void {
    let sessions = 0;
    for (const [worker, t] of answers) {
      const was = this.last.get(worker);
      accessLogStats.droppedLines += t.accessDropped - (was?.accessDropped ?? 0);
      accessLogStats.writeErrors += t.accessWriteErrors - (was?.accessWriteErrors ?? 0);
      rapidResetStats.sessionsClosed += t.rapidReset - (was?.rapidReset ?? 0);
      const refused = proxyProtocolRefused as Record<string, number>;
      for (const [k, n] of Object.entries(t.proxyRefused)) refused[k] = (refused[k] ?? 0) + n - (was?.proxyRefused[k] ?? 0);
      sessions += t.h2Sessions;
      this.last.set(worker, t);
    }
    (this.http2.sessions as unknown as { size: number }).size = sessions;
  }

  forget(worker: string): void {
    this.last.delete(worker);
  }
}
