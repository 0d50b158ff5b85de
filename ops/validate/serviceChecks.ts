import { type CheckResult, fail, pass, skip, warn } from '../checkTable';
import { quantile } from '../pacerClient';
import { type ValidationContext, sleep } from './context';

/** Every instance answers its probes and its metrics. */
export async function connectivity(ctx: ValidationContext): Promise<CheckResult> {
  const name = 'connectivity';
  const problems: string[] = [];
  for (const c of ctx.clients) {
    for (const path of ['/health/live', '/health/ready', '/health', '/metrics']) {
      const r = await c.get(path);
      if (r.status !== 200) problems.push(`${c.baseUrl}${path} ${r.status}`);
    }
  }
  return problems.length === 0
    ? pass(name, `${ctx.clients.length} instance(s): /health/live, /health/ready, /health, /metrics all 200`)
    : fail(name, problems.join('; '));
}

/** Client-side p99 of POST /pacing/decision on a campaign of this run, sequential requests. */
export async function decisionLatency(ctx: ValidationContext): Promise<CheckResult> {
  const name = 'p99 decision latency';
  const id = await ctx.createCampaign('latency', { daily_budget_cents: 1_000_000, pacing_mode: 'EVEN' });
  const ms: number[] = [];
  for (let i = 0; i < ctx.opts.decisionSamples; i++)
    ms.push((await ctx.decide(id, 100, `lat-${i}`)).elapsedMs);
  const p50 = quantile(ms, 0.5);
  const p99 = quantile(ms, 0.99);
  const detail = `${ms.length} decisions round trip: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (limit ${ctx.opts.maxP99Ms} ms)`;
  return p99 <= ctx.opts.maxP99Ms ? pass(name, detail) : fail(name, detail);
}

/**
 * What is written stays: the campaign reads back as written, spend reaches every other instance
 * (through the shared store) within a few sync intervals, and the store is Redis, not the
 * embedded one that loses everything on restart.
 */
export async function persistence(ctx: ValidationContext): Promise<CheckResult> {
  const name = 'persistence';
  const id = await ctx.createCampaign('persist', { daily_budget_cents: 50_000, pacing_mode: 'ASAP' });
  const back = await ctx.client.get<{ daily_budget_cents: number; pacing_mode: string }>(
    `/campaigns/${encodeURIComponent(id)}`,
  );
  if (back.status !== 200 || back.body.daily_budget_cents !== 50_000 || back.body.pacing_mode !== 'ASAP') {
    return fail(name, `GET /campaigns/${id} answered ${back.status}: ${back.text}`);
  }
  await ctx.spend(id, 12.3456, `${id}-e1`);
  const others = ctx.clients.slice(1);
  for (const other of others) {
    let seen = -1;
    for (let i = 0; i < 50 && seen !== 123_456; i++) {
      await sleep(100);
      const r = await other.get<{ spent_today_micros: number }>(`/budget/status/${encodeURIComponent(id)}`);
      if (r.status === 200) seen = r.body.spent_today_micros;
    }
    if (seen !== 123_456) {
      return fail(
        name,
        `${other.baseUrl} shows ${seen} micros of the 123456 spent on ${ctx.client.baseUrl} after 5 s`,
      );
    }
  }
  const health = await ctx.client.get<{ store: string }>('/health');
  const shared = others.length > 0 ? `; spend seen by ${others.length} other instance(s)` : '';
  if (health.body.store !== 'redis') {
    return warn(
      name,
      `campaign reads back${shared}, but the store is ${health.body.store}: nothing survives a restart`,
    );
  }
  return pass(name, `campaign reads back${shared}; store is redis`);
}

export function skipped(name: string, why: string): CheckResult {
  return skip(name, why);
}
