import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { loadConfigFile, parseConfigText } from '../src/config/index.js';

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../config/drproxy.example.yaml');

describe('config example file', () => {
  it('loads without errors or warnings', async () => {
    const { config, warnings } = await loadConfigFile(EXAMPLE);
    expect(warnings).toEqual([]);
    expect(config.source).toBe(EXAMPLE);
    expect(config.tenants.map((t) => t.name)).toEqual(['acme', 'globex']);
    expect(config.tenants[0]!.sites.map((s) => s.name)).toEqual(['a1-primary', 'a2-standby', 'b1-standby']);
    expect(config.tiers.DR1!.rto).toBe(2 * 3_600_000);
    expect(config.tenants[1]!.tier.name).toBe('DR1');
  });

  it('documents every option with its default', async () => {
    const text = await readFile(EXAMPLE, 'utf8');
    const options = [
      'listen:', 'public_listen:', 'metrics_auth:', 'tokens:', 'token_env:', 'token_file:', 'dir:', 'etcd:', 'headers_timeout:', 'request_timeout:', 'keep_alive_timeout:',
      'max_header_size:', 'max_requests_per_socket:', 'shutdown_timeout:', 'max_headers:',
      'underscores_in_headers:', 'trusted_proxies:', 'epoch:', 'site:', 'level:',
      'tiers:', 'path:', 'method:', 'interval:', 'fast_interval:', 'timeout:', 'jitter:', 'rise:', 'fall:',
      'expect_status:', 'expect_body:', 'host:', 'data_age:', 'json_field:', 'kind:', 'mode:', 'failback:',
      'failback_after:', 'min_interval:', 'trip_after:', 'drain_timeout:', 'hold_requests:', 'hold_max:',
      'hook_check_interval:',
      'balance:', 'connect_timeout:', 'response_timeout:', 'body_timeout:', 'max_connections:',
      'preserve_host:', 'retry_on:', 'max_retries:', 'tier:', 'hosts:', 'paths:', 'sites:', 'name:',
      'slow_after:', 'region:', 'zone:', 'backends:', 'weight', 'min_healthy:', 'fence:', 'required:', 'promote:',
      'format:', 'access_log:', 'sample_rate:', 'destination:', 'include_query:', 'max_buffer:',
    ];
    for (const option of options) expect(text, option).toContain(option);
    expect(text.match(/Default:/g)!.length).toBeGreaterThanOrEqual(40);
  });

  it('still loads with the commented-out alternatives enabled', async () => {
    const text = await readFile(EXAMPLE, 'utf8');
    const enabled = text
      .replace(/^( {4})# (- \{ name: ci.*)$/m, '$1$2')
      .replace(/^( {4})# (expect_body:.*)$/m, '$1$2');
    expect(enabled).not.toBe(text);
    const { config } = parseConfigText(enabled, 'alt.yaml', '/etc/drproxy');
    expect(config.admin.tokens.map((t) => t.name)).toEqual(['ops', 'grafana', 'ci']);
    expect(config.admin.tokens[2]!.token_file).toBe('/etc/drproxy/secrets/ci.token');
    expect(config.tenants[0]!.sites[0]!.health_check.expect_body).toBe('"status":"ok"');
  });
});
