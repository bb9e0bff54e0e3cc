/**
 * drproxy_tls_cert_expiry_seconds{tenant,name}: seconds until each served certificate's
 * notAfter (negative once expired), read at scrape time. `tenant` is the tenant whose
 * certificate it is, or "default" for a listener's own (default certificate, cert_dir);
 * `name` is the certificate's first DNS name. Alert: DrproxyTlsCertExpiring (14 days).
 */
import { Gauge, type Registry } from 'prom-client';
import type { LoadedCert } from './cert-store.js';

export function registerTlsMetrics(registry: Registry, source: () => Iterable<LoadedCert>): void {
  new Gauge({
    name: 'drproxy_tls_cert_expiry_seconds',
    help: 'Seconds until a served TLS certificate expires (notAfter), per tenant ("default": a listener\'s own) and certificate name',
    labelNames: ['tenant', 'name'],
    registers: [registry],
    collect() {
      this.reset();
      const now = Date.now();
      for (const c of source()) this.set({ tenant: c.source.tenant, name: c.pair.name }, Math.round((c.pair.notAfter - now) / 1000));
    },
  });
}
