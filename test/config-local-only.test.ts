/**
 * Issue 17, item 13: the configs that ship (the example, the image's default, the Kubernetes
 * ConfigMap's, `npm start`'s and the demo's) must never send probes, hook calls or traffic to
 * addresses that are not the user's. The example used 10.0.x.x backends, and the image ran it:
 * a container started as documented probed whatever answered at those addresses on the
 * user's network. Every backend and hook host must now be under .example (RFC 2606: never
 * resolves) or on this machine (127.0.0.1, localhost).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfigFile, parseConfigText } from '../src/config/index.js';
import type { Config } from '../src/config/types.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FILES = ['config/drproxy.example.yaml', 'deploy/docker/drproxy.yaml', 'config/local.yaml', 'config/demo.yaml'];

/** Every host drproxy would connect to: backends, fence and promote hooks. */
function outboundHosts(config: Config): string[] {
  const hosts: string[] = [];
  for (const t of config.tenants) {
    for (const s of t.sites) {
      for (const b of s.backends) hosts.push(new URL(b.url).hostname);
      for (const hook of [s.fence, s.promote]) if (hook) hosts.push(new URL(hook.url).hostname);
    }
  }
  return hosts;
}

const isOwn = (host: string) => host.endsWith('.example') || host === '127.0.0.1' || host === 'localhost' || host === '[::1]';

describe('shipped configs reach only .example names or this machine', () => {
  for (const file of FILES) {
    it(file, async () => {
      const { config } = await loadConfigFile(path.join(ROOT, file));
      const hosts = outboundHosts(config);
      expect(hosts.length).toBeGreaterThan(0);
      expect(hosts.filter((h) => !isOwn(h)), `hosts outside .example/127.0.0.1/localhost in ${file}`).toEqual([]);
    });
  }

  it("the Kubernetes ConfigMap's config", async () => {
    const docs = parseAllDocuments(await readFile(path.join(ROOT, 'deploy/kubernetes/configmap.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; data: Record<string, string> });
    const cm = docs.find((d) => d.kind === 'ConfigMap')!;
    const { config } = parseConfigText(cm.data['drproxy.yaml']!, 'configmap.yaml', '/etc/drproxy');
    expect(outboundHosts(config).filter((h) => !isOwn(h))).toEqual([]);
  });

  it('the image runs deploy/docker/drproxy.yaml', async () => {
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^COPY deploy\/docker\/drproxy\.yaml \/etc\/drproxy\/drproxy\.yaml$/m);
    expect(dockerfile).toMatch(/^CMD \["--config", "\/etc\/drproxy\/drproxy\.yaml"\]$/m);
    expect(dockerfile).not.toMatch(/drproxy\.example\.yaml/);
  });
});
