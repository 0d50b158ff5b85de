import { intBetween, streamRand } from './random';

/**
 * What the simulated exchange does, drawn from the seed per campaign and per auction number: the
 * same seed gives the same campaigns and the same auction n every time. Which instance is up when
 * auction n is sent, and so what the server answers, depends on real timing.
 */
export interface CampaignPlan {
  readonly id: string;
  readonly dailyBudgetCents: number;
}

export interface DuplicatePlan {
  /** Picks the instance among those configured. */
  readonly targetRoll: number;
  /** true: sent at the same moment as the first delivery; false: after it was acknowledged. */
  readonly concurrent: boolean;
  readonly delayMs: number;
}

export interface AuctionPlan {
  readonly n: number;
  readonly requestId: string;
  readonly eventId: string;
  /** Indices into the run's campaigns; more than one: a batch decision (POST /pacing/decisions). */
  readonly campaigns: readonly number[];
  readonly bidCents: number;
  readonly entryRoll: number;
  /** Whether the allowed bid wins its auction, and the share of the max bid the win is charged. */
  readonly wins: boolean;
  readonly chargeShare: number;
  /** Notice sent to another instance than the one that decided. */
  readonly misroute: boolean;
  readonly misrouteRoll: number;
  /** > 0: the notice is sent this late (past the reservation TTL). */
  readonly lateDelayMs: number;
  readonly duplicates: readonly DuplicatePlan[];
  /**
   * Retries after a 5xx go back to the same instance (an exchange bound to one endpoint); without
   * an answer at all, or when not sticky, a retry goes to an instance drawn per attempt.
   */
  readonly sticky: boolean;
}

export interface TrafficOptions {
  readonly seed: number;
  readonly reservationTtlMs: number;
}

export const WIN_PROBABILITY = 0.6;
export const BATCH_PROBABILITY = 0.25;
export const MISROUTE_PROBABILITY = 0.1;
export const LATE_PROBABILITY = 0.03;
export const DUPLICATE_PROBABILITY = 0.1;
export const STICKY_PROBABILITY = 0.5;

/**
 * A few small ASAP budgets that run out within seconds (so the overspend bound is exercised) and
 * one large one that does not (so most notices land somewhere exactness can be checked at volume).
 */
export function planCampaigns(seed: number): CampaignPlan[] {
  const rand = streamRand(seed, 'campaigns');
  const small = intBetween(rand, 2, 4);
  const out: CampaignPlan[] = [];
  for (let i = 0; i < small; i++)
    out.push({ id: `chaos-${seed}-s${i}`, dailyBudgetCents: intBetween(rand, 3, 15) });
  out.push({ id: `chaos-${seed}-big`, dailyBudgetCents: 1_000_000 });
  return out;
}

export function planAuction(o: TrafficOptions, campaignCount: number, n: number): AuctionPlan {
  const rand = streamRand(o.seed, `auction:${n}`);
  const first = Math.floor(rand() * campaignCount);
  const campaigns = [first];
  if (rand() < BATCH_PROBABILITY && campaignCount > 1) {
    const extra = intBetween(rand, 1, Math.min(2, campaignCount - 1));
    for (let k = 1; k <= extra; k++) campaigns.push((first + k) % campaignCount);
  }
  const bidCents = intBetween(rand, 100, 500);
  const entryRoll = rand();
  const wins = rand() < WIN_PROBABILITY;
  const chargeShare = 0.3 + 0.7 * rand();
  const misroute = rand() < MISROUTE_PROBABILITY;
  const misrouteRoll = rand();
  const lateDelayMs = rand() < LATE_PROBABILITY ? Math.round(o.reservationTtlMs * (1.2 + 0.8 * rand())) : 0;
  const duplicates: DuplicatePlan[] = [];
  if (rand() < DUPLICATE_PROBABILITY) {
    duplicates.push({ targetRoll: rand(), concurrent: rand() < 0.3, delayMs: intBetween(rand, 0, 2000) });
  }
  const sticky = rand() < STICKY_PROBABILITY;
  return {
    n,
    requestId: `r${o.seed}-${n}`,
    eventId: `e${o.seed}-${n}`,
    campaigns,
    bidCents,
    entryRoll,
    wins,
    chargeShare,
    misroute,
    misrouteRoll,
    lateDelayMs,
    duplicates,
    sticky,
  };
}

/** What a win is charged, in micros: a share of the max bid's impression price (CPM / 1000), at least 1. */
export function chargeMicros(maxBidCents: number, chargeShare: number): number {
  // max_bid_cents is a CPM in cents: one impression costs cents / 1000 = cents * 10 micros.
  return Math.max(1, Math.floor(maxBidCents * 10 * chargeShare));
}

/** The n-th retry's pick among instances, seeded per event: replays choose the same targets. */
export function retryRoll(seed: number, eventId: string, attempt: number): number {
  return streamRand(seed, `retry:${eventId}:${attempt}`)();
}
