/**
 * deploy/ (issue 17, item 12): the Kubernetes manifests, the systemd unit and the Dockerfile
 * are checked against the config they run, so that a port, a probe path or a mount cannot
 * drift from it unnoticed. The ConfigMap's embedded config is loaded with drproxy's own loader;
 * the probes and the ServiceMonitor must reach the public admin listener, the PVC must be
 * mounted at state.dir, the grace period must exceed server.shutdown_timeout, and the unit must
 * pass `systemd-analyze verify` (skipped with a message where it is not installed, failed in
 * CI, where .ci/run installs it).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfigFile, parseConfigText } from '../src/config/index.js';
import { DEFAULT_SERVER } from '../src/config/defaults.js';
import type { Config } from '../src/config/types.js';
import { tempDir } from './helpers/proxy.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const K8S = path.join(ROOT, 'deploy/kubernetes');
const UNIT = path.join(ROOT, 'deploy/systemd/drproxy.service');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are plain parsed YAML */
type Doc = Record<string, any>;

interface Port {
  name?: string;
  containerPort: number;
}

let docs: Array<Doc & { file: string }>;
let config: Config;
let deployment: Doc;
let pod: Doc;
let container: Doc;
let service: Doc;

const one = (kind: string) => {
  const found = docs.filter((d) => d.kind === kind);
  expect(found.map((d) => `${d.kind} in ${d.file}`), kind).toHaveLength(1);
  return found[0]!;
};

/** A probe's or Service's port (a name or a number) as a container port number. */
function containerPort(port: string | number): number {
  if (typeof port === 'number') return port;
  const p = (container.ports as Port[]).find((x) => x.name === port);
  expect(p, `container port named ${port}`).toBeDefined();
  return p!.containerPort;
}

beforeAll(async () => {
  const files = (await readdir(K8S)).filter((f) => f.endsWith('.yaml'));
  docs = [];
  for (const file of files) {
    for (const d of parseAllDocuments(await readFile(path.join(K8S, file), 'utf8'))) {
      expect(d.errors, file).toEqual([]);
      const js = d.toJS() as Doc | null;
      if (js) docs.push({ ...js, file });
    }
  }
  const cm = one('ConfigMap');
  ({ config } = parseConfigText(cm.data['drproxy.yaml'], `${cm.file} (drproxy.yaml)`, '/etc/drproxy'));
  deployment = one('Deployment');
  pod = deployment.spec.template.spec;
  expect(pod.containers).toHaveLength(1);
  container = pod.containers[0];
  service = one('Service');
});

describe('deploy/kubernetes', () => {
  it('every manifest parses, names its kind, and is listed in kustomization.yaml', () => {
    const kustomization = one('Kustomization');
    const listed = [...(kustomization.resources as string[])].sort();
    const files = [...new Set(docs.filter((d) => d.kind !== 'Kustomization').map((d) => d.file))].sort();
    expect(listed).toEqual(files);
    for (const d of docs) {
      expect(d.apiVersion, d.file).toBeTypeOf('string');
      if (d.kind !== 'Kustomization') expect(d.metadata?.name, d.file).toBeTypeOf('string');
    }
    const kinds = docs.map((d) => d.kind).sort();
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'Kustomization', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Service', 'ServiceMonitor']);
    expect(one('ServiceMonitor').apiVersion).toBe('monitoring.coreos.com/v1');
    // The image kustomize substitutes is the one the container names.
    expect((kustomization.images as Array<{ name: string }>).map((i) => i.name)).toContain(String(container.image).split(':')[0]);
  });

  it('runs the mounted config: admin API on loopback, public listener on every address', () => {
    const cm = one('ConfigMap');
    const configArg = (container.args as string[])[(container.args as string[]).indexOf('--config') + 1];
    const mount = (container.volumeMounts as Doc[]).find((m) => m.name === (pod.volumes as Doc[]).find((v) => v.configMap?.name === cm.metadata.name)?.name);
    expect(mount, 'the ConfigMap is mounted').toBeDefined();
    expect(configArg).toBe(path.posix.join(mount!.mountPath, 'drproxy.yaml'));
    expect(config.admin.listen.host).toBe('127.0.0.1');
    expect(config.admin.public_listen).toEqual({ host: '0.0.0.0', port: 9902 });
    expect(config.listen.host).toBe('0.0.0.0');
  });

  it("container ports are the config's listen and admin.public_listen ports", () => {
    expect(containerPort('http')).toBe(config.listen.port);
    expect(containerPort('metrics')).toBe(config.admin.public_listen!.port);
    const ports = (container.ports as Port[]).map((p) => p.containerPort);
    expect(ports).not.toContain(config.admin.listen.port);
  });

  it('liveness, readiness and startup probes hit /healthz and /readyz on the public listener', () => {
    const pub = config.admin.public_listen!.port;
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      expect(containerPort(container[probe].httpGet.port), probe).toBe(pub);
      expect(['/healthz', '/readyz'], probe).toContain(container[probe].httpGet.path);
    }
  });

  it('the Service targets the container ports; the ServiceMonitor scrapes /metrics on a Service port to the public listener', () => {
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(service.spec.selector as Record<string, string>)) expect(labels[k], k).toBe(v);
    const byName = new Map((service.spec.ports as Doc[]).map((p) => [p.name as string, p]));
    expect(containerPort(byName.get('http')!.targetPort)).toBe(config.listen.port);
    const sm = one('ServiceMonitor');
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels as Record<string, string>)) expect(service.metadata.labels[k], k).toBe(v);
    expect(sm.spec.endpoints.length).toBeGreaterThan(0);
    for (const e of sm.spec.endpoints as Doc[]) {
      expect(e.path).toBe('/metrics');
      expect(byName.has(e.port), `Service port named ${e.port}`).toBe(true);
      expect(containerPort(byName.get(e.port)!.targetPort)).toBe(config.admin.public_listen!.port);
    }
  });

  it('the PVC is mounted at state.dir; one replica, Recreate', () => {
    const pvc = one('PersistentVolumeClaim');
    const volume = (pod.volumes as Doc[]).find((v) => v.persistentVolumeClaim?.claimName === pvc.metadata.name);
    expect(volume, 'a volume of the PVC').toBeDefined();
    const mount = (container.volumeMounts as Doc[]).find((m) => m.name === volume!.name);
    expect(mount?.mountPath).toBe(config.state.dir);
    expect(mount?.readOnly).toBeFalsy();
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
  });

  it('terminationGracePeriodSeconds is above server.shutdown_timeout', () => {
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.server.shutdown_timeout);
  });

  it('token variables come from a Secret; non-root, read-only root filesystem, no capabilities, resources', () => {
    const env = new Map((container.env as Doc[]).map((e) => [e.name as string, e]));
    for (const t of config.admin.tokens) {
      expect(env.get(t.token_env!)?.valueFrom?.secretKeyRef?.name, t.token_env).toBeTypeOf('string');
    }
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('the worker threads fit the memory limit (a pod without a CPU limit sees every core of its node)', () => {
    expect(config.server.workers).toBeTypeOf('number');
    const limit = String(container.resources.limits.memory);
    expect(limit).toMatch(/^\d+Mi$/);
    // The main thread at 1,000 tenants ~256 MB with one worker, ~70 MB each further one (bench/RESULTS.md).
    expect(256 + 70 * ((config.server.workers as number) - 1)).toBeLessThanOrEqual(parseInt(limit, 10));
  });

  it('the PodDisruptionBudget selects the pod', () => {
    const pdb = one('PodDisruptionBudget');
    const labels = deployment.spec.template.metadata.labels as Record<string, string>;
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>)) expect(labels[k], k).toBe(v);
  });

  it('README.md says one replica per state directory', async () => {
    const readme = await readFile(path.join(K8S, 'README.md'), 'utf8');
    expect(readme).toMatch(/one replica per state directory/i);
    expect(readme).toContain('strategy: Recreate');
  });
});

describe('Dockerfile', () => {
  it("exposes the image config's public listener, and its HEALTHCHECK asks it", async () => {
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    const { config: image } = await loadConfigFile(path.join(ROOT, 'deploy/docker/drproxy.yaml'));
    expect(image.admin.listen.host).toBe('127.0.0.1');
    const pub = image.admin.public_listen!;
    expect(pub.host).toBe('0.0.0.0');
    const exposed = /^EXPOSE (.+)$/m.exec(dockerfile)![1]!.split(/\s+/).map(Number);
    expect(exposed.sort()).toEqual([image.listen.port, pub.port].sort());
    expect(dockerfile).toMatch(new RegExp(`HEALTHCHECK[^\\n]*\\\\\\n[^\\n]*http://127\\.0\\.0\\.1:${pub.port}/healthz`));
    expect(dockerfile).toMatch(/^FROM node:26-slim$/m);
  });
});

describe('deploy/systemd/drproxy.service', () => {
  it('is hardened, reloads with SIGHUP, and waits longer than shutdown_timeout to stop', async () => {
    const unit = await readFile(UNIT, 'utf8');
    const keys = new Map<string, string[]>();
    for (const line of unit.split('\n')) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
    }
    const one = (k: string) => keys.get(k)?.at(-1);
    for (const [k, v] of Object.entries({ DynamicUser: 'yes', StateDirectory: 'drproxy', NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes', Restart: 'on-failure' })) {
      expect(one(k), k).toBe(v);
    }
    expect(one('RestrictAddressFamilies')).toBe('AF_INET AF_INET6 AF_UNIX');
    expect(Number(one('LimitNOFILE'))).toBeGreaterThanOrEqual(65536);
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    // The CLI reloads on SIGHUP.
    expect(await readFile(path.join(ROOT, 'src/cli.ts'), 'utf8')).toMatch(/process\.on\('SIGHUP'/);
    const stop = /^(\d+)s$/.exec(one('TimeoutStopSec') ?? '');
    expect(stop, 'TimeoutStopSec in seconds').not.toBeNull();
    expect(Number(stop![1]) * 1000).toBeGreaterThan(Math.max(DEFAULT_SERVER.shutdown_timeout, config.server.shutdown_timeout));
    // The config path of ExecStart is the one StateDirectory's state.dir goes with.
    expect(one('ExecStart')).toMatch(/--config \/etc\/drproxy\/drproxy\.yaml$/);
  });

  it('passes systemd-analyze verify', async (ctx) => {
    if (!existsSync(SYSTEMD_ANALYZE)) {
      if (process.env.CI) throw new Error(`${SYSTEMD_ANALYZE} is missing: .ci/run installs the Debian package systemd`);
      console.warn(`skipped: ${SYSTEMD_ANALYZE} is not installed (Debian package systemd)`);
      ctx.skip();
    }
    // verify needs ExecStart's binary to exist: the unit's /usr/bin/node becomes this Node.
    const unit = (await readFile(UNIT, 'utf8')).replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `);
    expect(unit).toContain(`ExecStart=${process.execPath} `);
    const dir = await tempDir('drproxy-unit-');
    const file = path.join(dir, 'drproxy.service');
    await writeFile(file, unit);
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(SYSTEMD_ANALYZE, ['verify', '--man=no', file], (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
      });
    });
    // verify exits 0 on unknown keys and bad values ("…, ignoring"): any line about the unit fails.
    const aboutUnit = output.split('\n').filter((l) => l.includes('drproxy.service'));
    expect({ code, aboutUnit }).toEqual({ code: 0, aboutUnit: [] });
  });
});
