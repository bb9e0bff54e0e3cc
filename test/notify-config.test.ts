/** `notify:` config: defaults, and path-named errors (URL or secret in the text, missing refs, unknown names). */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';

const TENANTS = `
tenants:
  acme: { tier: BC, hosts: [acme.test], sites: [{ name: a1, backends: ["http://127.0.0.1:1"] }] }
`;

function problems(notify: string): string[] {
  try {
    parseConfigText(TENANTS + notify, 'test.yaml', '/etc/drproxy');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('notify config', () => {
  it('reads sinks with their defaults; files are relative to the config file', () => {
    const { config } = parseConfigText(`${TENANTS}
notify:
  - { name: hook, kind: webhook, url_env: HOOK_URL, secret_file: secrets/hook }
  - { name: pager, kind: pagerduty, routing_key_env: PD_KEY, events: [frozen, recovered], tiers: [bc], coalesce: 1s }
`, 'test.yaml', '/etc/drproxy');
    expect(config.notify[0]).toMatchObject({ name: 'hook', kind: 'webhook', url_env: 'HOOK_URL', secret_file: '/etc/drproxy/secrets/hook', queue: 1000, retries: 5, coalesce: 5000, tenants: [], tiers: [] });
    expect(config.notify[0]!.events).toHaveLength(12);
    expect(config.notify[1]).toMatchObject({ events: ['frozen', 'recovered'], tiers: ['BC'], coalesce: 1000 });
    expect(parseConfigText(TENANTS, 'test.yaml', '/').config.notify).toEqual([]);
  });

  it('names the exact path of each problem', () => {
    expect(problems(`
notify:
  - { name: hook, kind: webhook, url: "https://hooks.example/x", secret_env: S }
  - { name: chat, kind: slack }
  - { name: pager, kind: pagerduty, url_env: U, events: [frozn], tenants: [nobody], queue: 0 }
  - { name: hook, kind: teams, url_env: U }
`)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^notify\[0\]: needs exactly one of url_env or url_file \(neither given\)/),
      expect.stringMatching(/^notify\[0\]\.url: never put the url in the config text/),
      expect.stringMatching(/^notify\[1\]: needs exactly one of url_env or url_file/),
      expect.stringMatching(/^notify\[2\]: needs exactly one of routing_key_env or routing_key_file/),
      expect.stringMatching(/^notify\[2\]\.events\[0\]: .*frozn/),
      expect.stringMatching(/^notify\[2\]\.queue: /),
      expect.stringMatching(/^notify\[2\]\.tenants\[0\]: no tenant "nobody"/),
      expect.stringMatching(/^notify\[3\]\.kind: /),
    ]));
    expect(problems(`
notify:
  - { name: a, kind: slack, url_env: U }
  - { name: a, kind: slack, url_file: f, secret_env: S }
`)).toEqual(expect.arrayContaining([expect.stringMatching(/^notify\[1\]\.name: duplicate sink name "a"/), expect.stringMatching(/^notify\[1\]\.secret_env: unknown key/)]));
  });
});
