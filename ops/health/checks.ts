import { Redis } from 'ioredis';
import { type CheckResult, fail, guarded, pass, skip, warn } from '../checkTable';
import { type PacerClient, quantile } from '../pacerClient';
import { histogramQuantile, parseSamples } from '../promText';

/** What /health answers (server/http/schemas.ts HealthResponse). */
interface HealthJson {
  status: 'healthy' | 'degraded';
  redis_healthy: boolean | null;
  store: 'redis' | 'embedded';
  instance_id: string;
  pending_replay: number;
  campaigns: number;
  /** The system of record (PostgreSQL, or PGlite without DATABASE_URL), when the server has one. */
  records?: {
    postgres_healthy: boolean;
    history_queued: number;
    history_spilled: number;
    last_error: string | null;
    repairing: boolean;
  };
}

export interface HealthOptions {
  /** Round trips of the latency sample. */
  readonly samples: number;
  /** Round-trip p99 of the sample above which the check fails. */
  readonly maxLatencyMs: number;
  /** Server-side decision p99 (from /metrics, since start) above which the check warns. */
  readonly maxDecisionP99Ms: number;
  /** Read Redis' INFO memory directly: /health does not expose it. */
  readonly redisUrl: string | null;
}

const BREAKER_NAMES = ['CLOSED', 'HALF_OPEN', 'OPEN'];

/** The quick health check of one instance: each dependency, a latency sample, the breakers. */
export async function healthChecks(client: PacerClient, opts: HealthOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  results.push(
    await guarded('liveness', async () => {
      const r = await client.get('/health/live');
      return r.status === 200
        ? pass('liveness', 'GET /health/live 200')
        : fail('liveness', `GET /health/live ${r.status}`);
    }),
  );
  results.push(
    await guarded('readiness', async () => {
      const r = await client.get<{ reason?: string }>('/health/ready');
      return r.status === 200
        ? pass('readiness', 'GET /health/ready 200: campaigns loaded, journal replayed')
        : fail('readiness', `GET /health/ready ${r.status}: ${r.body.reason ?? r.text}`);
    }),
  );
  let health: HealthJson | null = null;
  results.push(
    await guarded('store', async () => {
      const r = await client.get<HealthJson>('/health');
      if (r.status !== 200) return fail('store', `GET /health ${r.status}`);
      health = r.body;
      const h = r.body;
      if (h.store === 'embedded') {
        return warn('store', 'embedded in-memory store: nothing persisted, instances do not share budgets');
      }
      return h.status === 'healthy'
        ? pass('store', `redis reachable; instance ${h.instance_id}, ${h.campaigns} campaigns`)
        : fail(
            'store',
            `degraded: Redis unreachable from ${h.instance_id}; deciding from its lease, spend journaled`,
          );
    }),
  );
  results.push(journalCheck(health));
  results.push(recordsCheck(health));
  results.push(await guarded('redis memory', () => redisMemoryCheck(opts.redisUrl)));
  results.push(await guarded('latency sample', () => latencySample(client, opts)));
  let metricsText: string | null = null;
  results.push(
    await guarded('metrics', async () => {
      const r = await client.get('/metrics');
      if (r.status !== 200 || !r.text.includes('pacer_decisions_total')) {
        return fail('metrics', `GET /metrics ${r.status} without the pacer families`);
      }
      metricsText = r.text;
      return pass('metrics', `GET /metrics 200, ${r.text.length} bytes`);
    }),
  );
  results.push(decisionLatencyCheck(metricsText, opts.maxDecisionP99Ms));
  results.push(breakerCheck(metricsText));
  return results;
}

function journalCheck(h: HealthJson | null): CheckResult {
  if (h === null) return skip('journal backlog', '/health did not answer');
  return h.pending_replay === 0
    ? pass('journal backlog', '0 spend records waiting for replay')
    : warn('journal backlog', `${h.pending_replay} spend records journaled, waiting for Redis to replay`);
}

/** The system of record: reachable, and how much spend history waits for it. */
function recordsCheck(h: HealthJson | null): CheckResult {
  const name = 'postgresql';
  if (h === null) return skip(name, '/health did not answer');
  const r = h.records;
  if (r === undefined) return skip(name, 'this server reports no system of record');
  const queue = `history queued ${r.history_queued}, spilled to disk ${r.history_spilled}`;
  if (!r.postgres_healthy) return fail(name, `unreachable: ${r.last_error ?? 'no error recorded'}; ${queue}`);
  if (r.repairing) return warn(name, `repairing Redis from the records; ${queue}`);
  return r.history_spilled > 0 ? warn(name, `reachable; ${queue}`) : pass(name, `reachable; ${queue}`);
}

async function latencySample(client: PacerClient, opts: HealthOptions): Promise<CheckResult> {
  const ms: number[] = [];
  for (let i = 0; i < opts.samples; i++) ms.push((await client.get('/health/live')).elapsedMs);
  const p50 = quantile(ms, 0.5);
  const p99 = quantile(ms, 0.99);
  const detail = `${ms.length} x GET /health/live: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (limit ${opts.maxLatencyMs} ms)`;
  return p99 <= opts.maxLatencyMs ? pass('latency sample', detail) : fail('latency sample', detail);
}

function decisionLatencyCheck(text: string | null, maxP99Ms: number): CheckResult {
  const name = 'decision latency';
  if (text === null) return skip(name, '/metrics did not answer');
  const samples = parseSamples(text);
  const isDecision = (l: Readonly<Record<string, string>>) => l.route === '/pacing/decision';
  const p99 = histogramQuantile(samples, 'pacer_request_duration_seconds', isDecision, 0.99) * 1000;
  if (Number.isNaN(p99)) return skip(name, 'no decisions served since start');
  const p50 = histogramQuantile(samples, 'pacer_request_duration_seconds', isDecision, 0.5) * 1000;
  const detail = `server-side since start: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (alert above ${maxP99Ms} ms)`;
  return p99 <= maxP99Ms ? pass(name, detail) : warn(name, detail);
}

function breakerCheck(text: string | null): CheckResult {
  if (text === null) return skip('breakers', '/metrics did not answer');
  const states = parseSamples(text).filter((s) => s.name === 'pacer_circuit_breaker_state');
  const count = (v: number) => states.filter((s) => s.value === v).length;
  const open = states.filter((s) => s.value === 2).map((s) => s.labels.campaign_id!);
  const detail = `${states.length} campaigns: ${BREAKER_NAMES.map((n, v) => `${count(v)} ${n}`).join(', ')}`;
  if (open.length === 0) return pass('breakers', detail);
  const named = open.slice(0, 5).join(', ') + (open.length > 5 ? ', ...' : '');
  return warn('breakers', `${detail}; open: ${named} (budget spent; POST /budget/adjust to raise)`);
}

/**
 * Redis' memory and eviction policy. A policy that evicts keys can drop spend counters and dedup
 * keys under memory pressure, which loses or double-counts spend: that fails the check.
 */
async function redisMemoryCheck(url: string | null): Promise<CheckResult> {
  const name = 'redis memory';
  if (url === null) return skip(name, '/health does not expose it: pass --redis-url to read INFO memory');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
  try {
    await redis.connect();
    const info = await redis.info('memory');
    const field = (k: string) => new RegExp(`^${k}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
    const used = Number(field('used_memory'));
    const max = Number(field('maxmemory'));
    const policy = field('maxmemory_policy');
    const detail = `used ${field('used_memory_human')}, maxmemory ${max === 0 ? 'unlimited' : field('maxmemory_human')}, policy ${policy}`;
    if (max > 0 && policy !== 'noeviction') {
      return fail(
        name,
        `${detail}: an evicting policy can drop spend counters; set maxmemory-policy noeviction`,
      );
    }
    if (max > 0 && used > 0.8 * max) return warn(name, `${detail}: above 80% of maxmemory`);
    return pass(name, detail);
  } finally {
    redis.disconnect();
  }
}
