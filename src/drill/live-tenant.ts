/**
 * A drill's tenant across config reloads: a reload replaces a changed tenant's controller while
 * a drill may be dwelling, so every read and action goes to the tenant's current controller
 * (the last one known, if the tenant was removed). The failback hold moves with it.
 */
import type { FlipRequest } from '../failover/flip-runner.js';
import type { OperatorRequest } from '../failover/operator.js';
import type { HookChecks } from '../failover/readiness.js';
import type { DrillTenant } from './deps.js';

export class LiveTenant implements DrillTenant {
  private held = false;

  constructor(
    private last: DrillTenant,
    private readonly lookup: (name: string) => DrillTenant | undefined,
  ) {}

  private get c(): DrillTenant {
    const now = this.lookup(this.last.name) ?? this.last;
    if (now !== this.last) {
      if (this.held) now.holdForDrill(true);
      this.last = now;
    }
    return now;
  }

  get name() {
    return this.last.name;
  }
  get config() {
    return this.c.config;
  }
  get state() {
    return this.c.state;
  }
  get sites() {
    return this.c.sites;
  }
  get slot() {
    return this.c.slot;
  }
  get lastFlipAt() {
    return this.c.lastFlipAt;
  }
  site(name: string) {
    return this.c.site(name);
  }
  failover(req: FlipRequest) {
    return this.c.failover(req);
  }
  unfence(site: string, op: OperatorRequest) {
    return this.c.unfence(site, op);
  }
  freeze(cause: 'drill_interrupted', message: string) {
    return this.c.freeze(cause, message);
  }
  holdForDrill(on: boolean): void {
    this.held = on;
    this.c.holdForDrill(on);
  }
  hookChecks(site: string): HookChecks {
    return this.c.hookChecks?.(site) ?? {};
  }
  checkHooks(): Promise<void> {
    return this.c.checkHooks?.() ?? Promise.resolve();
  }
}
