/** The drill's typed errors: a refusal carries every reason its preflight found. */
import { DrProxyError } from '../errors.js';
import type { DrillReason } from './types.js';

export class DrillRefusedError extends DrProxyError {
  constructor(
    readonly tenant: string,
    readonly reasons: DrillReason[],
    /** The `refused` report stored as evidence of the attempt. */
    readonly id: string,
  ) {
    super('DRP_DRILL_REFUSED', `drill of ${tenant} refused: ${reasons.map((r) => r.message).join('; ')}`);
    this.name = 'DrillRefusedError';
  }
}
