import { type HttpClient, errorKey } from './httpClient';
import type { LoadTestOptions } from './options';

/** Bids the tool sends: whole-cent CPMs from MIN to MAX, picked per request. */
export const MIN_BID_CENTS = 100;
export const MAX_BID_CENTS = 500;
/** One impression at the highest bid, in micros (CPM / 1000; 1 cent = 10,000 micros). */
export const MAX_IMPRESSION_MICROS = (MAX_BID_CENTS * 10_000) / 1000;
const MEAN_IMPRESSION_MICROS = ((MIN_BID_CENTS + MAX_BID_CENTS) / 2) * 10;
/** Budgets the tool never means to exhaust: 10,000 currency units. */
const LARGE_BUDGET_CENTS = 1_000_000;
const MODES = ['EVEN', 'ASAP', 'FRONT_LOADED', 'ASAP'] as const;

export interface PlannedCampaign {
  readonly id: string;
  readonly dailyBudgetCents: number;
  readonly pacingMode: string;
}

/**
 * The smallest budget that trips the breaker before any single bid can be refused for not fitting:
 * below (1 - tripRatio) x budget of headroom, a bid is denied as budget_exhausted without tripping.
 */
export function breakerBudgetMicros(tripRatio: number): number {
  return Math.ceil((2 * MAX_IMPRESSION_MICROS) / (1 - tripRatio) / 10_000) * 10_000;
}

/**
 * Campaigns for a run with --setup: one in ten gets a small ASAP budget the offered load should
 * exhaust by the middle of the run (so the budget check has something to bite on); the rest have
 * budgets the run will not reach, in a mix of pacing modes. circuit_breaker_test: all small.
 */
export function planCampaigns(o: LoadTestOptions, runTag: string): PlannedCampaign[] {
  const winsPerCampaign = (o.qps * o.durationS * o.spendRate) / o.campaigns;
  const halfRunMicros = Math.round((winsPerCampaign * MEAN_IMPRESSION_MICROS) / 2);
  const minMicros = breakerBudgetMicros(o.tripRatio);
  const smallCents = Math.ceil(Math.max(minMicros, halfRunMicros) / 10_000);
  return Array.from({ length: o.campaigns }, (_, i) => {
    const id = `lt-${runTag}-${String(i).padStart(5, '0')}`;
    if (o.pattern === 'circuit_breaker_test') {
      return { id, dailyBudgetCents: Math.ceil(minMicros / 10_000), pacingMode: 'ASAP' };
    }
    const small = i % 10 === 0;
    return {
      id,
      dailyBudgetCents: small ? smallCents : LARGE_BUDGET_CENTS,
      pacingMode: small ? 'ASAP' : MODES[i % MODES.length]!,
    };
  });
}

export class TargetError extends Error {}

export async function createCampaigns(
  client: HttpClient,
  planned: readonly PlannedCampaign[],
): Promise<void> {
  const queue = [...planned];
  const worker = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      const res = await client.send('POST', '/campaigns', {
        id: c.id,
        name: `load test ${c.id}`,
        daily_budget_cents: c.dailyBudgetCents,
        pacing_mode: c.pacingMode,
      });
      if (res.status !== 201) {
        throw new TargetError(
          `POST /campaigns for ${c.id} answered ${errorKey(res)}: ${JSON.stringify(res.body)}` +
            (res.status === 401 ? ' (pass --api-key or set API_KEY)' : ''),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, planned.length) }, worker));
}

/** The ACTIVE campaigns a deployment already has, for a run without --setup. */
export async function listActiveCampaigns(client: HttpClient): Promise<PlannedCampaign[]> {
  const res = await client.send('GET', '/campaigns');
  if (res.status !== 200) throw new TargetError(`GET /campaigns answered ${errorKey(res)}`);
  const list = (
    res.body as {
      campaigns: { id: string; status: string; daily_budget_cents: number; pacing_mode: string }[];
    }
  ).campaigns;
  const active = list
    .filter((c) => c.status === 'ACTIVE')
    .map((c) => ({ id: c.id, dailyBudgetCents: c.daily_budget_cents, pacingMode: c.pacing_mode }));
  if (active.length === 0) throw new TargetError('the target has no ACTIVE campaign: run with --setup');
  return active;
}
