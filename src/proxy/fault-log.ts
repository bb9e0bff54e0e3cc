/**
 * Warnings for upstream answers drproxy refused (invalid HTTP) or had to cut short (the body
 * broke off after part of it was sent): a backend doing that is broken, and its operator should
 * hear of it even with passive ejection off. Rate-limited per backend: one line, then at most one
 * per window, carrying how many more there were since the last line. Only failures reach here.
 */
import type { Logger } from '../log.js';
import type { Backend } from './backend.js';

export type UpstreamFault = 'invalid_response' | 'truncated_response';

const WINDOW_MS = 10_000;

export class FaultLog {
  private readonly last = new Map<string, { at: number; more: number }>();

  constructor(private readonly log: Logger) {}

  report(backend: Backend, fault: UpstreamFault, detail: string): void {
    const now = performance.now();
    const seen = this.last.get(backend.key);
    if (seen !== undefined && now - seen.at < WINDOW_MS) {
      seen.more++;
      return;
    }
    const more = seen?.more ?? 0;
    this.last.set(backend.key, { at: now, more: 0 });
    this.log.warn(
      { tenant: backend.tenant, site: backend.site, backend: backend.name, fault, detail, ...(more > 0 && { more_since_last: more }) },
      fault === 'invalid_response' ? `backend sent an invalid response: ${detail}` : `backend response cut short: ${detail}`,
    );
  }
}
