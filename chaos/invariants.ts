import type { CampaignExposure } from './exposure';
import type { Notice } from './ledger';

/**
 * The money invariants, checked after every run against the client's own ledger. Pure: the run
 * gathers what Redis and the instances say, this decides what is wrong with it.
 */
export const INVARIANTS = [
  /** A notice still unanswered after the faults stopped and every retry. */
  'notice-unacknowledged',
  /** A 4xx answer to a win notice of an existing campaign: an exchange drops it, the spend is lost. */
  'notice-rejected',
  /** Redis holds less than the acknowledged notices of a campaign: acknowledged spend was lost. */
  'spend-lost',
  /** Redis holds more than the acknowledged notices of a campaign: spend was counted twice. */
  'spend-doubled',
  /** One event id answered counted: true (not journaled) more than once: Redis booked it twice. */
  'counted-twice',
  /** A campaign-day's spend in Redis above its budget plus the stated bound E. */
  'overspend',
  /** A /budget/status answer with a negative or impossible figure. */
  'status-impossible',
  /** An instance not healthy, not caught up or missing campaigns once the faults stopped. */
  'instance-unhealthy',
  /** A second process with an instance id already in use ran as a healthy instance. */
  'duplicate-instance-accepted',
  /** Redis could not be read at the end (no verdict on the money). */
  'store-unreadable',
] as const;

export type InvariantName = (typeof INVARIANTS)[number];

export interface Violation {
  readonly invariant: InvariantName;
  readonly campaignId?: string;
  readonly detail: string;
}

export interface CampaignLimit {
  readonly id: string;
  readonly dailyBudgetMicros: number;
}

export interface StoreCampaign {
  readonly totalSpentMicros: number;
  /** Day key -> spend booked for that day. */
  readonly daySpentMicros: Readonly<Record<string, number>>;
}

export interface StatusSample {
  readonly atMs: number;
  readonly slot: number;
  readonly campaignId: string;
  readonly status: {
    readonly daily_budget_micros: number;
    readonly spent_today_micros: number;
    readonly reserved_micros: number;
    readonly remaining_today_micros: number;
    readonly utilization_percentage: number;
  };
}

export interface HealthCheck {
  readonly slot: number;
  readonly instanceId: string;
  /** null when healthy, caught up and knowing every campaign; else what is wrong. */
  readonly problem: string | null;
}

export interface DuplicateCheck {
  readonly slot: number;
  readonly instanceId: string;
  /** What the duplicate did: refused to start, or answered healthy while the original ran. */
  readonly acceptedHealthy: boolean;
  readonly detail: string;
}

export interface InvariantInput {
  readonly campaigns: readonly CampaignLimit[];
  readonly notices: readonly Notice[];
  /** null: Redis could not be read. */
  readonly store: ReadonlyMap<string, StoreCampaign> | null;
  readonly exposure: ReadonlyMap<string, CampaignExposure>;
  readonly statusSamples: readonly StatusSample[];
  readonly health: readonly HealthCheck[];
  readonly duplicates: readonly DuplicateCheck[];
}

const MAX_EXAMPLES = 3;

function noticeChecks(notices: readonly Notice[]): Violation[] {
  const out: Violation[] = [];
  const pending = notices.filter((n) => n.state === 'pending');
  if (pending.length > 0) {
    out.push({
      invariant: 'notice-unacknowledged',
      detail: `${pending.length} notices never acknowledged, e.g. ${pending
        .slice(0, MAX_EXAMPLES)
        .map((n) => `${n.eventId} (${n.attempts} attempts)`)
        .join(', ')}`,
    });
  }
  const byCode = new Map<string, Notice[]>();
  for (const n of notices) {
    if (n.rejection === null) continue;
    const key = `${n.rejection.status} ${n.rejection.code}`;
    byCode.set(key, [...(byCode.get(key) ?? []), n]);
  }
  for (const [key, list] of byCode) {
    out.push({
      invariant: 'notice-rejected',
      detail: `${list.length} notices answered ${key}, e.g. ${list
        .slice(0, MAX_EXAMPLES)
        .map((n) => `${n.eventId} for ${n.campaignId}`)
        .join(', ')}`,
    });
  }
  const twice = notices.filter((n) => n.countedAnswers > 1);
  if (twice.length > 0) {
    out.push({
      invariant: 'counted-twice',
      detail: `${twice.length} event ids answered counted: true, journaled: false more than once, e.g. ${twice
        .slice(0, MAX_EXAMPLES)
        .map((n) => `${n.eventId} (${n.countedAnswers}x)`)
        .join(', ')}`,
    });
  }
  return out;
}

interface Expected {
  ackedMicros: number;
  /** Rejected notices that had an unanswered attempt first: may or may not be in Redis. */
  uncertainMicros: number;
}

function expectedByCampaign(notices: readonly Notice[]): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const n of notices) {
    const e = out.get(n.campaignId) ?? { ackedMicros: 0, uncertainMicros: 0 };
    if (n.state === 'acked') e.ackedMicros += n.chargeMicros;
    else if (n.unknownOutcomes > 0) e.uncertainMicros += n.chargeMicros;
    out.set(n.campaignId, e);
  }
  return out;
}

function storeChecks(input: InvariantInput): Violation[] {
  if (input.store === null)
    return [{ invariant: 'store-unreadable', detail: 'Redis could not be read at the end' }];
  const out: Violation[] = [];
  const expected = expectedByCampaign(input.notices);
  for (const c of input.campaigns) {
    const e = expected.get(c.id) ?? { ackedMicros: 0, uncertainMicros: 0 };
    const s = input.store.get(c.id) ?? { totalSpentMicros: 0, daySpentMicros: {} };
    const daySum = Object.values(s.daySpentMicros).reduce((a, b) => a + b, 0);
    for (const [what, held] of [
      ['lifetime total', s.totalSpentMicros],
      ['sum of day counters', daySum],
    ] as const) {
      if (held < e.ackedMicros) {
        out.push({
          invariant: 'spend-lost',
          campaignId: c.id,
          detail: `Redis ${what} ${held} micros < ${e.ackedMicros} acknowledged (${e.ackedMicros - held} lost)`,
        });
      } else if (held > e.ackedMicros + e.uncertainMicros) {
        out.push({
          invariant: 'spend-doubled',
          campaignId: c.id,
          detail: `Redis ${what} ${held} micros > ${e.ackedMicros} acknowledged${e.uncertainMicros > 0 ? ` + ${e.uncertainMicros} uncertain` : ''} (${held - e.ackedMicros - e.uncertainMicros} extra)`,
        });
      }
    }
    const bound = c.dailyBudgetMicros + (input.exposure.get(c.id)?.exposureMicros ?? 0);
    for (const [day, spent] of Object.entries(s.daySpentMicros)) {
      if (spent > bound) {
        out.push({
          invariant: 'overspend',
          campaignId: c.id,
          detail: `${day}: spent ${spent} micros > budget ${c.dailyBudgetMicros} + E ${bound - c.dailyBudgetMicros} (+${(((spent - c.dailyBudgetMicros) / c.dailyBudgetMicros) * 100).toFixed(1)}% of budget)`,
        });
      }
    }
  }
  return out;
}

/** What is wrong with one status answer, or null. */
export function statusProblem(sample: StatusSample, boundMicros: number): string | null {
  const s = sample.status;
  const budget = s.daily_budget_micros;
  if (s.spent_today_micros < 0) return `spent_today_micros ${s.spent_today_micros} < 0`;
  if (s.reserved_micros < 0) return `reserved_micros ${s.reserved_micros} < 0`;
  if (s.remaining_today_micros < 0) return `remaining_today_micros ${s.remaining_today_micros} < 0`;
  if (s.remaining_today_micros > budget)
    return `remaining_today_micros ${s.remaining_today_micros} > budget ${budget}`;
  if (s.spent_today_micros > boundMicros)
    return `spent_today_micros ${s.spent_today_micros} > budget + E ${boundMicros}`;
  // Two decimals of a percentage: allow the rounding.
  const maxUtilization = (boundMicros / budget) * 100 + 0.01;
  if (s.utilization_percentage < 0 || s.utilization_percentage > maxUtilization)
    return `utilization_percentage ${s.utilization_percentage} outside [0, ${maxUtilization.toFixed(2)}]`;
  return null;
}

function statusChecks(input: InvariantInput): Violation[] {
  const budgets = new Map(input.campaigns.map((c) => [c.id, c.dailyBudgetMicros]));
  const bad = new Map<string, { count: number; first: string }>();
  for (const sample of input.statusSamples) {
    const budget = budgets.get(sample.campaignId);
    if (budget === undefined) continue;
    const bound = budget + (input.exposure.get(sample.campaignId)?.exposureMicros ?? 0);
    const problem = statusProblem(sample, bound);
    if (problem === null) continue;
    const prev = bad.get(sample.campaignId);
    if (prev) prev.count++;
    else
      bad.set(sample.campaignId, {
        count: 1,
        first: `instance ${sample.slot} at ${(sample.atMs / 1000).toFixed(1)} s: ${problem}`,
      });
  }
  return [...bad].map(([campaignId, b]) => ({
    invariant: 'status-impossible' as const,
    campaignId,
    detail: `${b.count} status answers impossible, first ${b.first}`,
  }));
}

export function checkInvariants(input: InvariantInput): Violation[] {
  return [
    ...noticeChecks(input.notices),
    ...storeChecks(input),
    ...statusChecks(input),
    ...input.health
      .filter((h) => h.problem !== null)
      .map((h) => ({
        invariant: 'instance-unhealthy' as const,
        detail: `instance ${h.slot} (${h.instanceId}): ${h.problem}`,
      })),
    ...input.duplicates
      .filter((d) => d.acceptedHealthy)
      .map((d) => ({
        invariant: 'duplicate-instance-accepted' as const,
        detail: `a second process with INSTANCE_ID ${d.instanceId} (of instance ${d.slot}) ${d.detail}`,
      })),
  ];
}
