import { dayWindowAt } from '../core/index';
import { RedisStore } from '../server/store/redisStore';
import { serverNodeArgs } from './bundle';
import { cleanupAll } from './cleanup';
import { Cluster } from './cluster';
import { faketimeUnavailable, tmpfsUnavailable } from './environment';
import { Exchange } from './exchange';
import { exposureByCampaign } from './exposure';
import type { Fault, FaultKind } from './faults';
import { send } from './http';
import { FaultInjector } from './injector';
import { type HealthCheck, type StoreCampaign, type Violation, checkInvariants } from './invariants';
import { ClientLedger } from './ledger';
import { explainLoss } from './lossReport';
import { generateSchedule } from './schedule';
import { type CampaignPlan, planCampaigns } from './trafficPlan';

/**
 * One run of the harness: a fresh Redis and fleet, campaigns, traffic under the seed's fault
 * schedule, then (faults over, every notice retried until acknowledged, instances given time to
 * heal) the invariants. Everything started is stopped by pid before this returns or throws.
 */
export interface RunOptions {
  readonly seed: number;
  readonly minutes: number;
  readonly instances: number;
  readonly faults: readonly FaultKind[];
  /** Longest wait, after the traffic, for notices to be acknowledged and instances to heal. */
  readonly settleMs?: number;
  readonly log?: (line: string) => void;
}

export interface RunStats {
  readonly decisions: number;
  readonly allowed: number;
  readonly decisionFailures: number;
  readonly notices: number;
  readonly acked: number;
  readonly journaled: number;
  readonly duplicatesSent: number;
  readonly exposureMicros: number;
  readonly statusSamples: number;
  readonly decisionAnswers: Readonly<Record<string, number>>;
}

export interface CampaignOutcome {
  readonly id: string;
  readonly budgetMicros: number;
  /** The largest day counter in Redis, or null when Redis could not be read. */
  readonly maxDaySpentMicros: number | null;
  readonly ackedMicros: number;
  readonly exposureMicros: number;
}

export interface RunResult {
  readonly seed: number;
  readonly schedule: readonly Fault[];
  /** The schedule as injected: times, and what each fault did or why it was skipped. */
  readonly faultLines: readonly string[];
  readonly violations: readonly Violation[];
  readonly stats: RunStats;
  readonly campaigns: readonly CampaignOutcome[];
  readonly wallMs: number;
  /** Last lines of every server's output, for a failing run. */
  readonly serverLogs: string;
  /** For lost spend: the acknowledged notices PostgreSQL or Redis does not hold (lossReport.ts). */
  readonly lossDetail: string;
}

export const API_KEY = 'chaos-harness-api-key-0001';
/** Short enough that a late notice fits in a half-minute run, long enough to cover a slow retry. */
export const RESERVATION_TTL_MS = 3000;
const CAMPAIGN_SYNC_WAIT_MS = 15_000;
const SYNC_WAIT_MS = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function unavailableFaults(faults: readonly FaultKind[]): Map<string, string> {
  const out = new Map<string, string>();
  if (faults.includes('disk-full')) {
    const why = tmpfsUnavailable();
    if (why) out.set('disk-full', why);
  }
  if (faults.includes('clock-step')) {
    const why = faketimeUnavailable();
    if (why) out.set('clock-step', why);
  }
  return out;
}

/**
 * Setup, not under test: on a loaded machine Redis may miss the server's 500 ms command timeout and
 * the instance answer 503 for a moment, so creation is retried (a 409 after a lost answer is fine).
 */
async function createCampaigns(cluster: Cluster, campaigns: readonly CampaignPlan[]): Promise<void> {
  const first = cluster.fleet()[0]!;
  for (const c of campaigns) {
    for (let attempt = 1; ; attempt++) {
      const res = await send('POST', `${first.url}/campaigns`, {
        apiKey: API_KEY,
        timeoutMs: 10_000,
        body: {
          id: c.id,
          name: c.id,
          daily_budget_cents: c.dailyBudgetCents,
          pacing_mode: 'ASAP',
          time_zone: 'UTC',
        },
      });
      if (res.kind === 'answer' && (res.status === 201 || (res.status === 409 && attempt > 1))) break;
      const retryable = res.kind !== 'answer' || res.status >= 500;
      if (!retryable || attempt >= 30)
        throw new Error(`creating campaign ${c.id} failed: ${JSON.stringify(res)}`);
      await sleep(1000);
    }
  }
}

interface HealthBody {
  status?: string;
  redis_healthy?: boolean | null;
  pending_replay?: number;
  campaigns?: number;
}

async function healthProblem(url: string, campaigns: number): Promise<string | null> {
  const res = await send('GET', `${url}/health`, { apiKey: API_KEY, timeoutMs: 2000 });
  if (res.kind !== 'answer') return `no answer to /health (${res.kind})`;
  const h = res.body as HealthBody;
  if (res.status !== 200 || h.status !== 'healthy') return `/health ${res.status} status ${h.status}`;
  if (h.redis_healthy !== true) return `redis_healthy ${h.redis_healthy}`;
  if (h.pending_replay !== 0) return `pending_replay ${h.pending_replay}`;
  if (h.campaigns !== campaigns) return `knows ${h.campaigns} of ${campaigns} campaigns`;
  return null;
}

/** Polls every fleet instance until all are healthy or `deadlineMs` passes; returns the last verdicts. */
async function awaitHealth(
  cluster: Cluster,
  campaigns: number,
  deadlineMs: number,
  nowMs: () => number,
): Promise<HealthCheck[]> {
  for (;;) {
    const checks = await Promise.all(
      cluster.fleet().map(async (s) => ({
        slot: s.slot,
        instanceId: s.instanceId,
        problem: s.up ? await healthProblem(s.url, campaigns) : 'not running (its restart failed)',
      })),
    );
    if (checks.every((c) => c.problem === null) || nowMs() >= deadlineMs) return checks;
    await sleep(250);
  }
}

/** Every day key the servers may have booked to: the run's days, widened by the largest clock step. */
function dayKeys(fromWallMs: number, toWallMs: number): string[] {
  const marginMs = 10 * 60_000;
  const keys = new Set<string>();
  for (let t = fromWallMs - marginMs; t <= toWallMs + marginMs; t += 60_000)
    keys.add(dayWindowAt('UTC', t).key);
  return [...keys];
}

async function readStore(
  url: string,
  campaigns: readonly CampaignPlan[],
  days: readonly string[],
): Promise<Map<string, StoreCampaign> | null> {
  const store = new RedisStore({ url, commandTimeoutMs: 5000 });
  try {
    const refs = campaigns.flatMap((c) => days.map((dayKey) => ({ campaignId: c.id, dayKey })));
    const snaps = await store.readDays(refs);
    const out = new Map<string, StoreCampaign>();
    campaigns.forEach((c, ci) => {
      const daySpentMicros: Record<string, number> = {};
      let totalSpentMicros = 0;
      days.forEach((day, di) => {
        const snap = snaps[ci * days.length + di]!;
        totalSpentMicros = snap.totalSpentMicros;
        if (snap.spentMicros !== 0) daySpentMicros[day] = snap.spentMicros;
      });
      out.set(c.id, { totalSpentMicros, daySpentMicros });
    });
    return out;
  } catch {
    return null;
  } finally {
    await store.close().catch(() => undefined);
  }
}

export async function runOnce(o: RunOptions): Promise<RunResult> {
  const log = o.log ?? (() => undefined);
  const nowMs = () => performance.now();
  const startedMs = nowMs();
  const startedWallMs = Date.now();
  const trafficMs = Math.round(o.minutes * 60_000);
  const settleMs = o.settleMs ?? 30_000;
  const unavailable = unavailableFaults(o.faults);
  const schedule = generateSchedule({ seed: o.seed, trafficMs, instances: o.instances, faults: o.faults });
  const uses = (k: FaultKind) => schedule.some((f) => f.kind === k) && !unavailable.has(k);
  const campaigns = planCampaigns(o.seed);
  let cluster: Cluster | undefined;
  try {
    cluster = await Cluster.start(
      {
        seed: o.seed,
        instances: o.instances,
        apiKey: API_KEY,
        reservationTtlMs: RESERVATION_TTL_MS,
        journalTmpfs: uses('disk-full'),
        fakeClock: uses('clock-step'),
        nodeArgs: await serverNodeArgs(),
      },
      nowMs,
    );
    await createCampaigns(cluster, campaigns);
    const loaded = await awaitHealth(cluster, campaigns.length, nowMs() + CAMPAIGN_SYNC_WAIT_MS, nowMs);
    if (loaded.some((c) => c.problem !== null)) {
      throw new Error(`the fleet did not come up: ${loaded.map((c) => c.problem).join('; ')}`);
    }
    log(
      `seed ${o.seed}: fleet of ${o.instances} up, ${campaigns.length} campaigns, ${schedule.length} faults`,
    );

    const ledger = new ClientLedger();
    const t0 = nowMs();
    const exchange = new Exchange(
      {
        seed: o.seed,
        apiKey: API_KEY,
        reservationTtlMs: RESERVATION_TTL_MS,
        workers: 8,
        rateQps: 150,
        decisionTimeoutMs: 1500,
        noticeTimeoutMs: 2000,
      },
      cluster,
      campaigns,
      ledger,
      nowMs,
      t0,
    );
    exchange.deliveryDeadlineMs = t0 + trafficMs + settleMs;
    const injector = new FaultInjector(cluster, schedule, { seed: o.seed, unavailable }, nowMs);
    await Promise.all([
      exchange.runTraffic(t0 + trafficMs),
      injector.run(t0),
      exchange.sampleStatus(t0 + trafficMs, 300),
    ]);
    log(`seed ${o.seed}: traffic over, faults undone at +${((nowMs() - t0) / 1000).toFixed(1)} s`);
    await exchange.settle();
    log(`seed ${o.seed}: notices settled at +${((nowMs() - t0) / 1000).toFixed(1)} s`);
    const health = await awaitHealth(cluster, campaigns.length, t0 + trafficMs + settleMs, nowMs);
    await sleep(SYNC_WAIT_MS);
    await Promise.all(
      cluster.fleet().flatMap((s) => (s.up ? campaigns.map((c) => exchange.sampleOne(s, c.id)) : [])),
    );
    log(`seed ${o.seed}: healthy at +${((nowMs() - t0) / 1000).toFixed(1)} s`);
    const store = await readStore(cluster.redis.url, campaigns, dayKeys(startedWallMs, Date.now()));
    const notices = ledger.notices();
    const exposure = exposureByCampaign(notices, injector.observations(), RESERVATION_TTL_MS);
    const violations = checkInvariants({
      campaigns: campaigns.map((c) => ({ id: c.id, dailyBudgetMicros: c.dailyBudgetCents * 10_000 })),
      notices,
      store,
      exposure,
      statusSamples: exchange.statusSamples,
      health,
      duplicates: injector.duplicates,
    });
    const lossDetail = await explainLoss(violations, notices, cluster.databaseUrl, cluster.redis.url, t0);
    return {
      seed: o.seed,
      schedule,
      faultLines: injector.describe(),
      violations,
      stats: {
        decisions: ledger.decisions,
        allowed: ledger.allowed,
        decisionFailures: ledger.decisionFailures,
        notices: notices.length,
        acked: notices.filter((n) => n.state === 'acked').length,
        journaled: notices.filter((n) => n.journaled).length,
        duplicatesSent: ledger.duplicatesSent,
        exposureMicros: [...exposure.values()].reduce((a, e) => a + e.exposureMicros, 0),
        statusSamples: exchange.statusSamples.length,
        decisionAnswers: Object.fromEntries(exchange.decisionAnswers),
      },
      campaigns: campaigns.map((c) => ({
        id: c.id,
        budgetMicros: c.dailyBudgetCents * 10_000,
        maxDaySpentMicros:
          store === null ? null : Math.max(0, ...Object.values(store.get(c.id)?.daySpentMicros ?? {})),
        ackedMicros: notices
          .filter((n) => n.campaignId === c.id && n.state === 'acked')
          .reduce((a, n) => a + n.chargeMicros, 0),
        exposureMicros: exposure.get(c.id)?.exposureMicros ?? 0,
      })),
      wallMs: nowMs() - startedMs,
      serverLogs: violations.length > 0 ? cluster.serverLogs() : '',
      lossDetail,
    };
  } finally {
    await cleanupAll();
  }
}
