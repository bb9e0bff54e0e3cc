/** The JSON body of a 409 safety_rule answer (docs/safety.md "Per-flip rules"): the rules broken and how to override. */
import type { DrProxyError } from '../errors.js';
import { OVERRIDE_HINT, type RuleViolation } from '../failover/flip-rules.js';

export function safetyRuleBody(err: DrProxyError): Record<string, unknown> {
  const e = err as DrProxyError & { violations?: RuleViolation[]; details?: { violations?: RuleViolation[] } };
  // A follower gets the leader's refusal as a ForwardedError: its fields are in `details`.
  const violations = e.violations ?? e.details?.violations ?? [];
  return { rules: violations, override: OVERRIDE_HINT };
}
