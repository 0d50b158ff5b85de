import { rankByExpectedValue } from '../../core/auction/auction';
import type { Campaign } from '../../core/campaign';
import { newDecision } from '../../core/decision';
import type { BidAttributes } from '../../core/targeting/request';
import { TargetingIndex } from '../../core/targeting/targetingIndex';
import {
  type FrequencyCounter,
  FrequencyDays,
  type FrequencyRef,
  PENDING_IMPRESSION_MS,
} from '../frequency/frequencyCounter';
import type { PacerRuntime } from '../runtime/types';

/** Why a request got no bid, furthest stage reached first: a closed set, like decision reasons. */
export const NO_BID_REASONS = [
  'not_ready',
  'no_matching_campaign',
  'below_floor',
  'frequency_capped',
  'pacing_denied',
] as const;
export type NoBidReason = (typeof NO_BID_REASONS)[number];

export interface BidImp {
  readonly id: string;
  readonly floorMicros: number;
}

/** A bid request as the engine needs it, parsed and normalised by the HTTP shell. */
export interface BidInput {
  readonly id: string;
  readonly imps: readonly BidImp[];
  readonly attributes: BidAttributes;
  readonly userId: string | null;
  /** Predicted CTR per campaign id; a campaign missing here ranks with the request's mean. */
  readonly values: ReadonlyMap<string, number>;
}

export interface WinningBid {
  readonly bidId: string;
  readonly impId: string;
  readonly campaignId: string;
  readonly creativeId: string;
  readonly priceMicros: number;
}

export type BidOutcome =
  | { readonly kind: 'bid'; readonly bids: readonly WinningBid[] }
  | { readonly kind: 'no_bid'; readonly reason: NoBidReason };

export interface BidEngineDeps {
  readonly runtime: PacerRuntime;
  readonly frequency: FrequencyCounter;
  /**
   * Whether impressions reach the caps from POST /events: a win then counts as a pending exposure
   * until its impression confirms it; without an event pipeline a win counts for the whole day.
   */
  readonly impressionsFromEvents?: boolean;
  /** Called with each pacer decision's reason (metrics). */
  readonly onDecision?: (reason: string) => void;
  readonly log?: { warn(obj: object, msg: string): void };
}

interface Allowed {
  readonly campaign: Campaign;
  readonly priceMicros: number;
  readonly value: number;
}

/** Stages order the no-bid reason: the one a request got furthest in explains it best. */
const STAGE: Readonly<Record<NoBidReason, number>> = {
  not_ready: 0,
  no_matching_campaign: 1,
  below_floor: 2,
  frequency_capped: 3,
  pacing_denied: 4,
};

/**
 * The auction of POST /bid: targeting index -> floor -> frequency cap -> the pacer for each
 * eligible campaign -> highest expected value wins -> every other reservation released. Only
 * campaigns with a max bid (their CPM) and status ACTIVE take part. One imp at a time; a
 * campaign wins at most one imp of a request.
 */
export class BidEngine {
  private index: TargetingIndex<Campaign> | null = null;
  private readonly decision = newDecision();
  private readonly days = new FrequencyDays();

  constructor(private readonly deps: BidEngineDeps) {
    deps.runtime.onEvent((e) => {
      if (e.type === 'campaign') this.index = null;
    });
  }

  /** The index over the bidding campaigns, rebuilt after any campaign changed. */
  private currentIndex(): TargetingIndex<Campaign> {
    if (this.index === null) {
      const bidders = this.deps.runtime
        .listCampaigns()
        .filter((c) => c.status === 'ACTIVE' && c.maxBidCpmMicros !== null);
      this.index = new TargetingIndex(bidders);
    }
    return this.index;
  }

  async bid(input: BidInput): Promise<BidOutcome> {
    const runtime = this.deps.runtime;
    if (!runtime.isReady()) return { kind: 'no_bid', reason: 'not_ready' };
    const nowMs = runtime.nowMs();
    const matched = this.currentIndex().matching(input.attributes, nowMs);
    if (matched.length === 0) return { kind: 'no_bid', reason: 'no_matching_campaign' };
    const capped = await this.cappedOut(matched, input.userId, nowMs);
    const bids: WinningBid[] = [];
    const won = new Set<string>();
    let furthest: NoBidReason = 'no_matching_campaign';
    for (const imp of input.imps) {
      const outcome = await this.auction(imp, input, matched, capped, won, nowMs);
      if (typeof outcome === 'string') {
        if (STAGE[outcome] > STAGE[furthest]) furthest = outcome;
        continue;
      }
      won.add(outcome.campaignId);
      bids.push(outcome);
    }
    return bids.length > 0 ? { kind: 'bid', bids } : { kind: 'no_bid', reason: furthest };
  }

  /**
   * Campaigns whose cap the user has reached today. Without a user id, or with the counter
   * unreachable, a cap cannot be kept: every capped campaign sits the request out.
   */
  private async cappedOut(
    matched: readonly Campaign[],
    userId: string | null,
    nowMs: number,
  ): Promise<Set<string>> {
    const out = new Set<string>();
    const withCap = matched.filter((c) => c.targeting?.frequencyCapPerDay != null);
    if (withCap.length === 0) return out;
    if (userId === null) {
      for (const c of withCap) out.add(c.id);
      return out;
    }
    try {
      const counts = await this.deps.frequency.counts(
        withCap.map((c) => this.frequencyRef(c, userId, nowMs)),
        nowMs,
      );
      withCap.forEach((c, i) => {
        if (counts[i]! >= c.targeting!.frequencyCapPerDay!) out.add(c.id);
      });
    } catch (err) {
      this.deps.log?.warn({ err }, 'frequency counter unreachable: capped campaigns sit this request out');
      for (const c of withCap) out.add(c.id);
    }
    return out;
  }

  private async auction(
    imp: BidImp,
    input: BidInput,
    matched: readonly Campaign[],
    capped: ReadonlySet<string>,
    won: ReadonlySet<string>,
    nowMs: number,
  ): Promise<WinningBid | NoBidReason> {
    const bidId = `${input.id}:${imp.id}`;
    const allowed: Allowed[] = [];
    let reason: NoBidReason = 'below_floor';
    for (const c of matched) {
      if (won.has(c.id) || c.maxBidCpmMicros! < imp.floorMicros) continue;
      if (capped.has(c.id)) {
        if (reason === 'below_floor') reason = 'frequency_capped';
        continue;
      }
      reason = 'pacing_denied';
      const d = this.deps.runtime.decide(
        c.id,
        c.maxBidCpmMicros!,
        bidId,
        this.decision,
        input.values.get(c.id) ?? -1,
      );
      if (d === null) continue;
      this.deps.onDecision?.(d.reason);
      if (!d.allow) continue;
      if (d.maxBidCpmMicros < imp.floorMicros) {
        // The pacer shaded the bid under the floor: it cannot win, so its budget goes back now.
        this.deps.runtime.releaseDecision(bidId, c.id);
        continue;
      }
      allowed.push({ campaign: c, priceMicros: d.maxBidCpmMicros, value: input.values.get(c.id) ?? -1 });
    }
    if (allowed.length === 0) return reason;
    const order = rankByExpectedValue(allowed);
    let winner: Allowed | null = null;
    for (const i of order) {
      const a = allowed[i]!;
      if (winner === null && (await this.takeImpression(a.campaign, input.userId, bidId, nowMs))) winner = a;
      else this.deps.runtime.releaseDecision(bidId, a.campaign.id);
    }
    if (winner === null) return 'frequency_capped';
    return {
      bidId,
      impId: imp.id,
      campaignId: winner.campaign.id,
      creativeId: winner.campaign.creativeId ?? winner.campaign.id,
      priceMicros: winner.priceMicros,
    };
  }

  private frequencyRef(c: Campaign, userId: string, nowMs: number): FrequencyRef {
    return { campaignId: c.id, userId, dayKey: this.days.keyAt(c.timeZone, nowMs) };
  }

  /**
   * For a capped campaign, counts the won bid as a pending exposure if the cap still allows it
   * (another instance may have taken the last one); its impression (POST /events with this bid id)
   * confirms the same exposure.
   */
  private async takeImpression(
    c: Campaign,
    userId: string | null,
    bidId: string,
    nowMs: number,
  ): Promise<boolean> {
    const cap = c.targeting?.frequencyCapPerDay ?? null;
    if (cap === null) return true;
    if (userId === null) return false;
    try {
      const exposure = { ...this.frequencyRef(c, userId, nowMs), exposureId: bidId };
      const untilMs = this.deps.impressionsFromEvents
        ? nowMs + PENDING_IMPRESSION_MS
        : Number.POSITIVE_INFINITY;
      return await this.deps.frequency.takeImpression(exposure, cap, nowMs, untilMs);
    } catch (err) {
      this.deps.log?.warn({ err }, 'frequency counter unreachable: a capped campaign lost its bid');
      return false;
    }
  }
}
