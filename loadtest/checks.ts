import { type HttpClient, errorKey } from './httpClient';
import type { CampaignTally } from './openLoop';

/** The figures of GET /budget/status/:id the checks read. */
export interface StatusFigures {
  readonly campaignId: string;
  readonly dailyBudgetMicros: number;
  readonly spentTodayMicros: number;
  readonly reservedMicros: number;
  readonly breakerState: string;
}

export interface BudgetViolation {
  readonly campaignId: string;
  readonly spentMicros: number;
  readonly budgetMicros: number;
  readonly boundMicros: number;
}

/** No campaign may spend past its daily budget plus the stated bound. */
export function budgetViolations(statuses: readonly StatusFigures[], boundMicros: number): BudgetViolation[] {
  return statuses
    .filter((s) => s.spentTodayMicros > s.dailyBudgetMicros + boundMicros)
    .map((s) => ({
      campaignId: s.campaignId,
      spentMicros: s.spentTodayMicros,
      budgetMicros: s.dailyBudgetMicros,
      boundMicros,
    }));
}

export interface TotalMismatch {
  readonly campaignId: string;
  readonly serverMicros: number;
  readonly countedMicros: number;
  readonly uncertainMicros: number;
}

/**
 * For campaigns this run created (nobody else spends on them), the server's spend must be exactly
 * what it acknowledged as counted, plus at most the notices whose outcome the client never learnt.
 */
export function totalMismatches(
  statuses: readonly StatusFigures[],
  tallies: ReadonlyMap<string, CampaignTally>,
): TotalMismatch[] {
  const out: TotalMismatch[] = [];
  for (const s of statuses) {
    const t = tallies.get(s.campaignId);
    if (!t) continue;
    const ok =
      s.spentTodayMicros >= t.countedMicros && s.spentTodayMicros <= t.countedMicros + t.uncertainMicros;
    if (!ok) {
      out.push({
        campaignId: s.campaignId,
        serverMicros: s.spentTodayMicros,
        countedMicros: t.countedMicros,
        uncertainMicros: t.uncertainMicros,
      });
    }
  }
  return out;
}

export interface BreakerCheck {
  /** Campaigns whose committed spend reached the trip ratio and whose breaker opened. */
  readonly opened: number;
  /** Campaigns the load did not drive to the trip ratio: nothing to judge. */
  readonly notReached: number;
  readonly failures: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/**
 * circuit_breaker_test: a breaker must open once committed spend (spent + reserved, what the
 * breaker itself sees) reaches tripRatio x budget, and not before. After it opens nothing is
 * allowed until the cool-down, so the committed spend at the end is the committed spend at the trip.
 */
export function checkBreakers(
  statuses: readonly StatusFigures[],
  tallies: ReadonlyMap<string, CampaignTally>,
  tripRatio: number,
): BreakerCheck {
  let opened = 0;
  let notReached = 0;
  const failures: string[] = [];
  for (const s of statuses) {
    const t = tallies.get(s.campaignId);
    const committed = (s.spentTodayMicros + s.reservedMicros) / s.dailyBudgetMicros;
    const isOpen = s.breakerState !== 'CLOSED' || (t !== undefined && t.circuitOpenSeen > 0);
    const reached = committed >= tripRatio;
    if (reached && isOpen) opened++;
    else if (reached) {
      failures.push(
        `${s.campaignId}: committed ${pct(committed)} of its budget (trip ratio ${pct(tripRatio)}) but its breaker is ${s.breakerState} and no bid was denied circuit_open`,
      );
    } else if (isOpen) {
      failures.push(
        `${s.campaignId}: breaker ${s.breakerState} at ${pct(committed)} of its budget, before the trip ratio ${pct(tripRatio)}`,
      );
    } else notReached++;
  }
  if (statuses.length > 0 && opened === 0 && failures.length === 0) {
    failures.push(
      `no campaign reached the trip ratio ${pct(tripRatio)}: offer more load (--qps x --duration) or fewer --campaigns`,
    );
  }
  return { opened, notReached, failures };
}

export class StatusError extends Error {}

export async function fetchStatuses(client: HttpClient, ids: readonly string[]): Promise<StatusFigures[]> {
  const out: StatusFigures[] = new Array(ids.length);
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const i = next++;
      const id = ids[i]!;
      const res = await client.send('GET', `/budget/status/${encodeURIComponent(id)}`);
      if (res.status !== 200) throw new StatusError(`GET /budget/status/${id} answered ${errorKey(res)}`);
      const b = res.body as {
        daily_budget_micros: number;
        spent_today_micros: number;
        reserved_micros: number;
        breaker_state: string;
      };
      out[i] = {
        campaignId: id,
        dailyBudgetMicros: b.daily_budget_micros,
        spentTodayMicros: b.spent_today_micros,
        reservedMicros: b.reserved_micros,
        breakerState: b.breaker_state,
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, ids.length) }, worker));
  return out;
}
