import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { loadConfigFile, parseConfigText } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';

function problemsOf(text: string): Array<{ path: string; message: string; severity: string }> {
  try {
    parseConfigText(text, 'test.yaml', '/tmp');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const SITES = `    sites:
      - { name: a1, backends: [http://10.0.1.10:8080] }
      - { name: a2, backends: [http://10.0.2.10:8080] }
`;

describe('config YAML syntax errors', () => {
  it('names line and column, with an empty path', () => {
    const problems = problemsOf('listen: 0.0.0.0:8080\ntenants:\n  acme: [a, b\n  beta: 1\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('');
    expect(problems[0]!.severity).toBe('error');
    expect(problems[0]!.message).toMatch(/^YAML syntax error at line \d+, column \d+: /);
  });

  it('points at the exact position', () => {
    const [problem] = problemsOf('log:\n  level: info: x\ntenants: {}\n');
    expect(problem!.message).toBe('YAML syntax error at line 2, column 10: Nested mappings are not allowed in compact mappings');
  });

  it('rejects tabs used as indentation', () => {
    const [problem] = problemsOf('tenants:\n\tacme: {}\n');
    expect(problem!.message).toContain('YAML syntax error at line 2, column 1: Tabs are not allowed');
  });

  it('reports a tenant defined twice as a duplicate key with line and column', () => {
    const text = `tenants:
  acme:
    tier: BC
    hosts: [acme.example.com]
${SITES}  acme:
    tier: DR1
    hosts: [other.example.com]
${SITES}`;
    const problems = problemsOf(text);
    expect(problems).toEqual([
      { path: '', message: 'YAML syntax error at line 8, column 3: duplicate key "acme" in tenants', severity: 'error' },
    ]);
  });

  it('reports any duplicate key, with where it is', () => {
    const [problem] = problemsOf(`tenants:
  acme:
    tier: BC
    hosts: [acme.example.com]
    sites:
      - name: a1
        backends: [http://10.0.1.10:8080]
        name: a2
`);
    expect(problem!.message).toBe('YAML syntax error at line 8, column 9: duplicate key "name" in tenants.acme.sites[0]');
  });

  it('rejects several documents in one file', () => {
    const [problem] = problemsOf('tenants: {}\n---\ntenants: {}\n');
    expect(problem!.message).toMatch(/^YAML syntax error at line 2, column 1: more than one YAML document/);
  });

  it('rejects an alias to an unknown anchor', () => {
    const [problem] = problemsOf('tenants: *nope\n');
    expect(problem!.path).toBe('');
    expect(problem!.message).toContain('nope');
  });

  it('accepts anchors and aliases', () => {
    const { config } = parseConfigText(
      `defaults:
  health_check: &hc { path: /ready }
tenants:
  acme:
    tier: BC
    hosts: [acme.example.com]
    health_check: *hc
${SITES}`,
      'alias.yaml',
      '/tmp',
    );
    expect(config.tenants[0]!.sites[0]!.health_check.path).toBe('/ready');
  });

  it('reports syntax errors from a file with its absolute path in the message', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'drproxy-config-'));
    try {
      const file = path.join(dir, 'bad.yaml');
      await writeFile(file, 'tenants:\n  acme: {\n');
      const err = await loadConfigFile(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: \\d+ problems?\\n  YAML syntax error at line \\d+, column \\d+`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
