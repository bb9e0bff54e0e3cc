/** The console's series (docs/metrics.md): event streams open now, read at scrape. */
import { Gauge, type Registry } from 'prom-client';

export function registerConsoleMetrics(registry: Registry, feed: { readonly size: number }): void {
  new Gauge({
    name: 'drproxy_admin_event_streams',
    help: 'Operator console event streams (GET /events) open now; admin.max_event_streams caps them',
    registers: [registry],
    collect() {
      this.set(feed.size);
    },
  });
}
