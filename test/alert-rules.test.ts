/**
 * config/prometheus/alerts.yml: `promtool check rules` accepts it and `promtool test rules`
 * passes its unit tests (config/prometheus/alerts.test.yml: input series that fire and that do
 * not fire each alert). It defines exactly the alert names fixed for the runbook, each with a
 * severity and the annotations the runbook and the pager need.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { findTool, run } from './helpers/prometheus.js';
import { ALERTS } from './helpers/alerts.js';

const DIR = fileURLToPath(new URL('../config/prometheus/', import.meta.url));
const promtool = findTool('promtool');


interface Rule {
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parse(readFileSync(`${DIR}alerts.yml`, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
const tests = parse(readFileSync(`${DIR}alerts.test.yml`, 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> };

describe('alert rules (config/prometheus/alerts.yml)', () => {
  it('define every alert of the runbook, with severity, summary, description and runbook link', () => {
    expect(rules.map((r) => r.alert)).toEqual(ALERTS);
    for (const r of rules) {
      expect(r.labels?.severity, r.alert).toMatch(/^(page|ticket)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      expect(r.annotations?.description, r.alert).toBeTruthy();
      expect(r.annotations?.runbook_url, r.alert).toBe(`docs/operations.md#${r.alert!.toLowerCase()}`);
      // Tenant alerts name the tenant in what the pager shows.
      if (/drproxy_tenant_|rto_ratio/.test(r.expr)) expect(r.annotations?.summary, r.alert).toContain('{{ $labels.tenant }}');
    }
  });

  it('each alert has unit tests where it fires and where it does not', () => {
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of ALERTS) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${name} fires in a test`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${name} stays quiet in a test`).toBe(true);
    }
  });

  describe.skipIf(!promtool.path)(`with promtool${promtool.skipReason ? ` (skipped: ${promtool.skipReason})` : ''}`, () => {
    it('promtool check rules accepts the file', () => {
      const r = run(promtool.path!, ['check', 'rules', 'alerts.yml'], DIR);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    });

    it('promtool test rules passes the unit tests', () => {
      const r = run(promtool.path!, ['test', 'rules', 'alerts.test.yml'], DIR);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toContain('SUCCESS');
    });
  });
});
