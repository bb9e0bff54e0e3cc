/** The JSON body of a 409 safety_rule answer (docs/safety.md "Per-flip rules"): the rules broken and how to override. */
import type { DrProxyError } from '../errors.js';
import { OVERRIDE_HINT, type RuleViolation } from '../failover/flip-rules.js';

export function safetyRuleBody(err: DrProxyError): Record<string, unknown> {
  const violations = (err as DrProxyError & { violations?: RuleViolation[] }).violations ?? [];
  return { rules: violations, override: OVERRIDE_HINT };
}
