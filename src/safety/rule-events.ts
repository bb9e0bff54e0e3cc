/**
 * The `safety_rule_tripped` notification of a per-flip rule (src/failover/flip-rules.ts): an
 * automatic flip refused, or an operator's flip or fence carried out under break glass. Severity
 * critical (it pages); dedup_key per tenant and rule, so one standing refusal is one incident.
 */
import type { NotifyEvent } from '../notify/events.js';
import type { RuleTrip } from '../failover/flip-rules.js';

export function ruleTrippedEvent(t: RuleTrip, tier: string | undefined, at: number): NotifyEvent {
  const rules = t.violations.map((v) => v.rule);
  const what = t.trigger === 'fence' ? `fence of ${t.from}` : `${t.trigger} flip ${t.from} → ${t.to}`;
  const summary =
    t.action === 'refused'
      ? `${t.tenant}: automatic ${what} refused by safety rule ${rules.join(', ')}: ${t.violations.map((v) => v.message).join('; ')}`
      : `${t.tenant}: BREAK GLASS by ${t.actor ?? 'anonymous'}: ${what} breaks safety rule ${rules.join(', ')} (${t.reason ?? ''})`;
  return {
    kind: 'safety_rule_tripped',
    at,
    severity: 'critical',
    summary,
    tenant: t.tenant,
    ...(tier !== undefined && { tier }),
    from: t.from,
    ...(t.trigger !== 'fence' && { to: t.to }),
    dedup_key: `safety:${t.tenant}:${rules.join('+')}`,
    details: { action: t.action, trigger: t.trigger, rules: t.violations, ...(t.actor !== undefined && { actor: t.actor }), ...(t.reason !== undefined && { reason: t.reason }) },
  };
}
