import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../server/config';
import { ConfigError } from '../../server/errors';
import { ROOT } from '../support/deployFiles';

/**
 * deploy/k8s validated against the Kubernetes API schemas (kubernetes-models: types, required
 * fields, enums), then against what the server needs: probes on its health routes, resources from
 * the measured RSS, a termination grace above the server's own, names that refer to each other.
 */
const K8S_DIR = join(ROOT, 'deploy', 'k8s');
const MODELS = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
} as const;

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked by the Kubernetes schemas first, then read by path
type Manifest = any;

function manifests(): { file: string; doc: Manifest }[] {
  return readdirSync(K8S_DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).map((d) => ({ file, doc: d.toJS() })),
    );
}

function one(kind: string): Manifest {
  const found = manifests().filter((m) => m.doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!.doc;
}

function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}` as keyof typeof MODELS];
  if (Model === undefined) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

/** Mebibytes of a Kubernetes memory quantity such as 192Mi or 1Gi. */
function mebibytes(q: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unexpected memory quantity ${q}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

describe('deploy/k8s', () => {
  it('validates every manifest against the Kubernetes schemas', () => {
    const all = manifests();
    expect(all.map((m) => m.doc.kind).sort()).toEqual(
      [
        'ConfigMap',
        'Deployment',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'Secret',
        'Service',
      ].sort(),
    );
    for (const { file, doc } of all) expect(() => validate(doc), file).not.toThrow();
    const kustomization = readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8');
    for (const file of new Set(all.map((m) => m.file))) expect(kustomization).toContain(`- ${file}`);
  });

  it('the schema check has teeth: a wrong type or a missing required field fails', () => {
    const d = structuredClone(one('Deployment'));
    d.spec.replicas = 'three';
    expect(() => validate(d)).toThrow(/replicas must be integer/);
    const s = structuredClone(one('Service'));
    s.spec.ports[0].port = undefined;
    expect(() => validate(s)).toThrow(/port/);
  });

  it('Deployment: 3 replicas, probes on /health/ready and /health/live, config from the ConfigMap and Secret', () => {
    const d = one('Deployment');
    expect(d.spec.replicas).toBe(3);
    const c = d.spec.template.spec.containers[0];
    const port = c.ports.find((p: Manifest) => p.name === c.readinessProbe.httpGet.port);
    expect(port.containerPort).toBe(Number(one('ConfigMap').data.PORT));
    expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/health/live');
    expect(c.envFrom.map((e: Manifest) => e.configMapRef?.name ?? e.secretRef?.name)).toEqual([
      one('ConfigMap').metadata.name,
      one('Secret').metadata.name,
    ]);
    expect(c.volumeMounts.map((v: Manifest) => v.mountPath)).toContain(one('ConfigMap').data.JOURNAL_DIR);
    expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
  });

  it('sizes memory from the measured RSS in bench/results/server-load.md', () => {
    const table = readFileSync(join(ROOT, 'bench', 'results', 'server-load.md'), 'utf8');
    const rssRow = (label: string) =>
      Number(new RegExp(`\\| ${label} \\|[^|]*\\| ([\\d.]+) MB \\|`).exec(table)![1]);
    const idleMb = rssRow('resident memory, idle after start');
    const loadedMb = rssRow('resident memory after the runs');
    expect(loadedMb).toBeGreaterThan(idleMb);
    const { requests, limits } = one('Deployment').spec.template.spec.containers[0].resources;
    const mb = (q: string) => (mebibytes(q) * 1024 * 1024) / 1e6;
    expect(mb(requests.memory)).toBeGreaterThanOrEqual(loadedMb);
    expect(mb(limits.memory)).toBeGreaterThanOrEqual(1.5 * loadedMb);
    expect(requests.cpu).toBeDefined();
  });

  it('gives the pod longer to stop than the server takes to drain, after the preStop pause', () => {
    const spec = one('Deployment').spec.template.spec;
    const graceMs = Number(one('ConfigMap').data.SHUTDOWN_GRACE_MS);
    const preStop = spec.containers[0].lifecycle.preStop.exec.command as string[];
    const preStopMs = preStop[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
    expect(spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(graceMs + preStopMs);
  });

  it('ConfigMap holds only variables the server reads, and they load', () => {
    const data = one('ConfigMap').data as Record<string, string>;
    expect(Object.keys(data).filter((k) => CONFIG_VARIABLES[k] === undefined)).toEqual([]);
    expect(() =>
      loadConfig({ ...data, API_KEY: 'a-key-of-24-characters!!' }, { instanceId: 'pacer-0' }),
    ).not.toThrow();
  });

  it('ships a Secret whose placeholders the server refuses, so a forgotten value stops the start', () => {
    const secret = one('Secret');
    expect(Object.keys(secret.stringData)).toEqual(['API_KEY', 'DATABASE_URL']);
    const good = { API_KEY: 'a-key-of-24-characters!!', DATABASE_URL: 'postgres://p:p@db:5432/pacer' };
    expect(() => loadConfig(good, { instanceId: 'pacer-0' })).not.toThrow();
    for (const name of ['API_KEY', 'DATABASE_URL'] as const) {
      const env = { ...good, [name]: secret.stringData[name] };
      expect(() => loadConfig(env, { instanceId: 'pacer-0' }), name).toThrow(ConfigError);
    }
  });

  it('Service, PodDisruptionBudget and HorizontalPodAutoscaler point at the Deployment', () => {
    const d = one('Deployment');
    const podLabels = d.spec.template.metadata.labels;
    expect(one('Service').spec.selector).toEqual(podLabels);
    expect(one('Service').spec.ports[0].targetPort).toBe(d.spec.template.spec.containers[0].ports[0].name);
    expect(one('PodDisruptionBudget').spec.selector.matchLabels).toEqual(podLabels);
    expect(d.spec.selector.matchLabels).toEqual(podLabels);
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: d.metadata.name,
    });
    expect(hpa.spec.minReplicas).toBe(d.spec.replicas);
    expect(hpa.spec.minReplicas).toBeGreaterThan(one('PodDisruptionBudget').spec.minAvailable);
  });
});
