import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULES_FILE, dashboardQueries, loadRules, seriesNames } from '../support/deployFiles';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';
import { type PrometheusHandle, startPrometheus } from '../support/prometheusServer';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer, waitFor } from '../support/serverProcess';

/**
 * A real Prometheus scrapes a real server that took traffic for one campaign, with the project's
 * rules loaded: every expression of the rules and of the Grafana dashboard must evaluate without
 * error through the HTTP API and return series (the campaign's own, where the expression is per
 * campaign). Alert expressions hold a threshold the campaign does not reach, so for them each
 * series they read must exist instead.
 */
const CAMPAIGN = 'prom-e2e';

let redis: RedisServerHandle;
let db: TestDatabase;
let server: ServerProcess;
let prom: PrometheusHandle;
let root: string;

/** The dashboard's template variables, as Grafana would fill them for the one campaign. */
function fillVariables(expr: string): string {
  return expr.replaceAll('$campaign', CAMPAIGN).replaceAll('$__rate_interval', '1m');
}

async function series(expr: string) {
  return (await prom.query(expr)).result;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-prom-'));
  redis = await startRedisServer();
  db = await createTestDatabase('prom_e2e');
  server = await startServer({
    redisUrl: redis.url,
    journalDir: join(root, 'j'),
    instanceId: 'prom-a',
    env: { DATABASE_URL: db.url },
    startTimeoutMs: 90_000,
  });
  prom = await startPrometheus({ targets: [`127.0.0.1:${server.port}`], ruleFiles: [RULES_FILE] });
  const created = await request('POST', `${server.url}/campaigns`, {
    id: CAMPAIGN,
    name: 'Prometheus e2e',
    daily_budget_cents: 100_000,
    pacing_mode: 'EVEN',
    status: 'ACTIVE',
  });
  expect(created.status).toBe(201);
  // Traffic over a few scrapes, so rates and the latency histogram have two samples or more.
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 25; i++) {
      const id = `r-${round}-${i}`;
      const d = await request('POST', `${server.url}/pacing/decision`, {
        campaign_id: CAMPAIGN,
        bid_cents: 200,
        request_id: id,
      });
      expect(d.status).toBe(200);
      if ((d.body as { allow_bid: boolean }).allow_bid && i % 2 === 0) {
        await request('POST', `${server.url}/spend/track`, {
          campaign_id: CAMPAIGN,
          spend_cents: 0.2,
          event_id: `w-${id}`,
          request_id: id,
        });
      }
    }
    await new Promise((r) => setTimeout(r, 1200));
  }
  await waitFor(
    'recording rules over the scraped samples',
    async () =>
      (await series('pacer:decision_latency_seconds:p99_5m')).length > 0 &&
      (await series(`pacer:campaign_pace_gap_percentage{campaign_id="${CAMPAIGN}"}`)).length > 0,
    300,
    200,
  );
}, 180_000);

afterAll(async () => {
  await prom?.dispose();
  await server?.stop();
  await redis?.dispose();
  await db?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('Prometheus scraping a running server', () => {
  it('loads every rule and evaluates each without error', async () => {
    const data = await prom.api<{
      groups: { rules: { name: string; health: string; lastError?: string }[] }[];
    }>('/api/v1/rules');
    const loaded = data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(
      loadRules()
        .map((r) => r.record ?? r.alert!)
        .sort(),
    );
    expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
  });

  it('returns series for every recording rule, per campaign ones for the campaign', async () => {
    for (const rule of loadRules().filter((r) => r.record !== undefined)) {
      const result = await series(rule.expr);
      expect(result.length, rule.record).toBeGreaterThan(0);
      if (rule.record!.startsWith('pacer:campaign_')) {
        expect(
          result.map((s) => s.metric.campaign_id),
          rule.record,
        ).toContain(CAMPAIGN);
      }
    }
  });

  it('evaluates every alert expression, and finds every series an alert reads', async () => {
    for (const rule of loadRules().filter((r) => r.alert !== undefined)) {
      await expect(prom.query(rule.expr), rule.alert).resolves.toBeDefined();
      for (const name of seriesNames(rule.expr)) {
        expect((await series(name)).length, `${rule.alert} reads ${name}`).toBeGreaterThan(0);
      }
    }
  });

  it('answers every dashboard query with series, the campaign among them where the panel is per campaign', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(10);
    for (const q of queries) {
      const result = await series(fillVariables(q.expr));
      expect(result.length, `${q.panel}: ${q.expr}`).toBeGreaterThan(0);
      if (q.expr.includes('$campaign')) {
        expect(result.map((s) => s.metric.campaign_id)).toEqual([CAMPAIGN]);
      }
    }
  });
});
