import { type Campaign, PACING_MODES, type PacingMode, makeCampaign } from '../core/index';
import type { TargetingInput } from '../core/targeting/targeting';
import { type RunDays, zoneGrids } from './localDays';
import { type Rand, randStream } from './random';
import type { CampaignSpec, Range, Scenario } from './scenario';
import type { StreamPlan } from './sources/source';

/** A campaign as the simulator runs it: the core campaign's fields plus how it meets traffic. */
export interface SimCampaign {
  readonly id: string;
  readonly dailyBudgetMicros: number;
  /** Its own mode in the mix; a comparison run overrides it with the algorithm under test. */
  readonly pacingMode: PacingMode;
  readonly bidCpmMicros: number;
  readonly maxBidCpmMicros: number;
  /** Probability of being a candidate for a request. */
  readonly participation: number;
  /** Budget-constrained: the expected full-pass spend of a day exceeds the daily budget. */
  readonly constrained: boolean;
  /** Expected full-pass spend over a day / budget (ignores competition between own campaigns). */
  readonly fullPassToBudget: number;
  readonly hourlyMultipliers: readonly number[];
  /** IANA zone of the campaign's day; `localDays` are its days on the run's minute grid. */
  readonly timeZone: string;
  readonly localDays: RunDays;
}

const MAX_PARTICIPATION = 0.95;

function logUniform(rand: Rand, r: Range): number {
  return Math.exp(Math.log(r.min) + rand() * (Math.log(r.max) - Math.log(r.min)));
}

/**
 * Expected traffic share of each of the 24 equal parts of a campaign's first local day (its hours,
 * stretched or shrunk on a DST day as the core's target curve is), mean 1: what a tuner would
 * learn. Without a day given, the first 1440 minutes of the stream.
 */
export function trafficMultipliers(plan: StreamPlan, days?: RunDays): number[] {
  const from = days?.boundaryMinutes[0] ?? 0;
  const length = days ? days.boundaryMinutes[1]! - from : 1440;
  const hours = new Array<number>(24).fill(0);
  for (let i = 0; i < length && from + i < plan.expectedPerMinute.length; i++) {
    const h = Math.floor((i * 24) / length);
    hours[h] = hours[h]! + plan.expectedPerMinute[from + i]!;
  }
  const mean = hours.reduce((a, b) => a + b, 0) / 24;
  return hours.map((h) => (mean > 0 ? Math.round((h / mean) * 1e4) / 1e4 : 1));
}

/** Expected requests of one of the zone's local days, averaged over its days. */
function requestsPerLocalDay(plan: StreamPlan, days: RunDays): number {
  const b = days.boundaryMinutes;
  const perMinute = plan.expectedPerMinute;
  let n = 0;
  for (let m = Math.max(0, b[0]!); m < b[b.length - 1]! && m < perMinute.length; m++) n += perMinute[m]!;
  return n / (b.length - 1);
}

function pickMode(rand: Rand, weights: Partial<Record<PacingMode, number>> | undefined): PacingMode {
  if (weights === undefined) return 'EVEN';
  const entries = PACING_MODES.map((m) => [m, weights[m] ?? 0] as const).filter(([, w]) => w > 0);
  const total = entries.reduce((a, [, w]) => a + w, 0);
  let u = rand() * total;
  for (const [m, w] of entries) {
    u -= w;
    if (u < 0) return m;
  }
  return entries[entries.length - 1]![0];
}

function fromList(
  list: readonly CampaignSpec[],
  plan: StreamPlan,
  s: Scenario,
  zones: ReadonlyMap<string, RunDays>,
): SimCampaign[] {
  const traffic = new Map<string, number[]>();
  const trafficOf = (days: RunDays): number[] => {
    const known = traffic.get(days.timeZone);
    if (known !== undefined) return known;
    const t = trafficMultipliers(plan, days);
    traffic.set(days.timeZone, t);
    return t;
  };
  return list.map((c) => {
    const timeZone = c.timeZone ?? 'UTC';
    const localDays = zones.get(timeZone)!;
    const perDay = requestsPerLocalDay(plan, localDays);
    const participation = s.market.candidates === 'all' ? 1 : c.participation;
    const fullPass =
      (perDay * participation * plan.expectedCostPerRequestMicros(c.bidCpmMicros, s.market.pricing)) /
      c.dailyBudgetMicros;
    return {
      id: c.id,
      dailyBudgetMicros: c.dailyBudgetMicros,
      pacingMode: c.pacingMode ?? 'EVEN',
      bidCpmMicros: c.bidCpmMicros,
      maxBidCpmMicros: c.maxBidCpmMicros ?? c.bidCpmMicros,
      participation: s.market.candidates === 'all' ? 1 : Math.min(c.participation, MAX_PARTICIPATION),
      constrained: c.constrained ?? true,
      fullPassToBudget: fullPass,
      hourlyMultipliers: c.hourlyMultipliers ?? trafficOf(localDays),
      timeZone,
      localDays,
    };
  });
}

/**
 * The scenario's campaigns. A generator draws budgets and bids log-uniformly and then sets each
 * campaign's participation so that its expected full-pass spend is the drawn multiple of its
 * budget: > 1 makes it budget-constrained (the pacer, not the traffic, limits its spend). `zones`
 * places each campaign's local days on the run's minute grid (default: the stream's).
 */
export function buildCampaigns(
  s: Scenario,
  plan: StreamPlan,
  zones: ReadonlyMap<string, RunDays> = zoneGrids(s, plan.startMs, plan.expectedPerMinute.length),
): SimCampaign[] {
  if (s.campaigns.list) return fromList(s.campaigns.list, plan, s, zones);
  const g = s.campaigns.generate!;
  const rand = randStream(g.seed ?? s.seed, 'campaigns');
  const timeZone = g.timeZone ?? 'UTC';
  const localDays = zones.get(timeZone)!;
  const perDay = requestsPerLocalDay(plan, localDays);
  const traffic =
    g.hourlyMultipliers ??
    (g.adaptiveMultipliers === 'flat' ? new Array<number>(24).fill(1) : trafficMultipliers(plan, localDays));
  const share = g.unconstrained?.share ?? 0;
  const width = String(g.count).length;
  const out: SimCampaign[] = [];
  for (let i = 0; i < g.count; i++) {
    // Unconstrained campaigns are spread evenly through the list, not left to chance.
    const unconstrained = Math.floor((i + 1) * share) > Math.floor(i * share);
    const budget = Math.round(logUniform(rand, g.budgetMicros) / 10_000) * 10_000 || 10_000;
    const bid = Math.round(logUniform(rand, g.bidCpmMicros) / 1000) * 1000 || 1000;
    const ratio = logUniform(rand, unconstrained ? g.unconstrained!.fullPassToBudget : g.fullPassToBudget);
    const mode = pickMode(rand, g.modes);
    const cost = plan.expectedCostPerRequestMicros(bid, s.market.pricing);
    let participation = cost > 0 ? (ratio * budget) / (perDay * cost) : MAX_PARTICIPATION;
    if (participation > MAX_PARTICIPATION) participation = MAX_PARTICIPATION;
    participation = Math.round(participation * 1e6) / 1e6 || 1e-6;
    // In a marketplace every campaign sees every request: its full pass is the whole stream.
    if (s.market.candidates === 'all') participation = 1;
    const fullPass = (perDay * participation * cost) / budget;
    out.push({
      id: `${g.idPrefix ?? 'c'}${String(i + 1).padStart(width, '0')}`,
      dailyBudgetMicros: budget,
      pacingMode: mode,
      bidCpmMicros: bid,
      maxBidCpmMicros: bid,
      participation,
      constrained: fullPass > 1,
      fullPassToBudget: fullPass,
      hourlyMultipliers: traffic,
      timeZone,
      localDays,
    });
  }
  return out;
}

/**
 * The core campaign a run paces for `c`, every campaign in `mode`: its flight is its local days,
 * so in a run that mixes zones a campaign bids on its own days only (the run spans from the
 * earliest midnight to the latest).
 */
export function pacedCampaign(
  c: SimCampaign,
  mode: PacingMode,
  days: number,
  targeting: TargetingInput | null = null,
): Campaign {
  return makeCampaign({
    id: c.id,
    dailyBudgetMicros: c.dailyBudgetMicros,
    pacingMode: mode,
    maxBidCpmMicros: c.maxBidCpmMicros,
    hourlyMultipliers: c.hourlyMultipliers,
    timeZone: c.timeZone,
    flightStartMs: c.localDays.boundsMs[0]!,
    flightEndMs: c.localDays.boundsMs[days]!,
    targeting,
  });
}
