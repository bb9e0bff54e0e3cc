/**
 * Requests held while their tenant flips (or while its active site has no routable backend):
 * they wait, bounded in time and count, instead of failing. Their bodies are not read while
 * they wait (the request stream stays paused, so TCP pushes back on the client). When the slot
 * publishes a route that is not `hold`, every held request is released through the normal
 * request path, in arrival order.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TenantRoute, TenantSlot } from './route.js';
import { sendError } from './responses.js';

interface Held {
  req: IncomingMessage;
  res: ServerResponse;
  timer: NodeJS.Timeout;
  onClose: () => void;
}

export type Release = (req: IncomingMessage, res: ServerResponse, slot: TenantSlot) => void;

export class HeldQueue {
  private readonly items = new Set<Held>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly slot: TenantSlot,
    private readonly release: Release,
    private readonly onCountChange?: (tenant: string, delta: number) => void,
  ) {}

  get size(): number {
    return this.items.size;
  }

  /** Hold a request under `route` (a hold route); answers 503 when the queue is full. */
  hold(req: IncomingMessage, res: ServerResponse, route: TenantRoute): void {
    if (this.items.size >= route.holdMax) {
      sendError(res, 'hold_full', `tenant ${route.tenant} is failing over and too many requests are waiting`, retryAfter(route));
      return;
    }
    const held: Held = {
      req,
      res,
      timer: setTimeout(() => {
        this.remove(held);
        const current = this.slot.route;
        sendError(
          res,
          current.mode === 'unavailable' ? 'tenant_unavailable' : 'hold_timeout',
          `tenant ${route.tenant}: ${current.reason || route.reason} (held ${route.holdMs}ms)`,
          retryAfter(route),
        );
      }, route.holdMs),
      onClose: () => this.remove(held),
    };
    res.once('close', held.onClose);
    this.items.add(held);
    this.onCountChange?.(this.slot.tenant, 1);
    this.unsubscribe ??= this.slot.onPublish((r) => this.onRoute(r));
  }

  private onRoute(route: TenantRoute): void {
    if (route.mode === 'hold') return;
    const all = [...this.items];
    for (const h of all) this.remove(h);
    for (const h of all) this.release(h.req, h.res, this.slot);
  }

  private remove(h: Held): void {
    if (!this.items.delete(h)) return;
    clearTimeout(h.timer);
    h.res.off('close', h.onClose);
    this.onCountChange?.(this.slot.tenant, -1);
    if (this.items.size === 0 && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
  }

  /** Answer every held request now (shutdown). */
  flush(): void {
    for (const h of [...this.items]) {
      this.remove(h);
      sendError(h.res, 'shutting_down', 'drproxy is shutting down', 1);
    }
  }
}

function retryAfter(route: TenantRoute): number {
  return Math.max(1, Math.ceil(route.holdMs / 1000));
}
