/** `listen[i].proxy_protocol: true` needs server.trusted_proxies (the balancers whose header is believed). */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';

const tenants = { acme: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: ['http://10.0.0.1:80'] }] } };

describe('proxy_protocol config', () => {
  it('is an error naming listen[i].proxy_protocol when server.trusted_proxies is empty', () => {
    const r = validateConfig({ listen: ['127.0.0.1:80', { address: '127.0.0.1:81', proxy_protocol: true }], tenants }, { baseDir: '/etc/drproxy' });
    expect(r.config).toBeUndefined();
    const e = r.problems.find((p) => p.severity === 'error');
    expect(e?.path).toBe('listen[1].proxy_protocol');
    expect(e?.message).toMatch(/server\.trusted_proxies/);
  });

  it('is accepted with trusted_proxies, and off by default', () => {
    const r = validateConfig({ listen: ['127.0.0.1:80', { address: '127.0.0.1:81', proxy_protocol: true }], server: { trusted_proxies: ['10.0.0.0/8'] }, tenants }, { baseDir: '/etc/drproxy' });
    expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(r.config!.listeners.map((l) => l.proxy_protocol)).toEqual([false, true]);
  });
});
