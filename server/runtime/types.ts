import type { BreakerState, Campaign, Decision, PacingMode } from '../../core/index';

/**
 * The boundary between the HTTP shell (server/http) and the pacer runtime (server/runtime).
 * The runtime holds one PacingState per campaign, takes budget leases from the store, flushes
 * spend in the background, journals it while the store is down and replays it exactly once.
 * Money is micros here; the HTTP layer converts cents at the edge.
 */
export interface SpendInput {
  readonly campaignId: string;
  readonly spendMicros: number;
  /** Idempotency key: the same event id counts once, ever (within the dedup window). */
  readonly eventId: string;
  /** The request id of the decision this spend settles, to release its reservation at once. */
  readonly requestId?: string;
}

export interface SpendOutcome {
  /** false when the event id had been counted before (a retried win notice). */
  readonly counted: boolean;
  /** true when the store was unreachable and the spend went to the journal for replay. */
  readonly journaled: boolean;
}

export interface BudgetStatus {
  readonly campaignId: string;
  readonly dayKey: string;
  readonly pacingMode: PacingMode;
  readonly dailyBudgetMicros: number;
  readonly totalBudgetMicros: number | null;
  readonly spentTodayMicros: number;
  readonly spentThisHourMicros: number;
  readonly reservedMicros: number;
  readonly remainingTodayMicros: number;
  /** Where the target curve says spend should be by now. */
  readonly targetSpentMicros: number;
  readonly throttleRate: number;
  readonly breakerState: BreakerState;
  readonly utilization: number;
  readonly degraded: boolean;
  /** The instant these figures are for, and the campaign's day around it (local midnights). */
  readonly asOfMs: number;
  readonly dayStartMs: number;
  readonly dayEndMs: number;
}

export interface HealthReport {
  readonly status: 'healthy' | 'degraded';
  readonly storeKind: 'redis' | 'embedded';
  readonly storeHealthy: boolean;
  readonly instanceId: string;
  /** Spend records journaled while the store was away and not yet replayed. */
  readonly pendingReplay: number;
  /** Campaigns this instance paces. */
  readonly campaigns: number;
  /** Store operations of the runtime that failed since it started (each failed sync step, flush or probe). */
  readonly storeErrors: number;
  /** The last store failure: why (STORE_TIMEOUT, STORE_READONLY, ...), what it said, and when. */
  readonly lastStoreError: { readonly code: string; readonly message: string; readonly atMs: number } | null;
  /**
   * Campaigns loaded and a journal left by an earlier process replayed: the instance knows which
   * campaigns exist and what it spent. Degraded is still ready; not ready answers 503 for unknown ids.
   */
  readonly ready: boolean;
  /** The journal refuses writes (full disk, I/O error): while degraded, no bid is allowed. */
  readonly journalFailing: boolean;
}

export interface DailyPerformance {
  readonly dayKey: string;
  readonly spentMicros: number;
  readonly hourSpentMicros: readonly number[];
}

export type RuntimeEvent =
  | { readonly type: 'spend'; readonly campaignId: string; readonly status: BudgetStatus }
  | {
      readonly type: 'breaker';
      readonly campaignId: string;
      readonly state: BreakerState;
      readonly atMs: number;
    }
  | { readonly type: 'campaign'; readonly campaignId: string; readonly deleted: boolean }
  | { readonly type: 'health'; readonly health: HealthReport };

export interface PacerRuntime {
  readonly instanceId: string;
  /**
   * Synchronous on purpose: the decision path never awaits the store. Returns null for an unknown
   * campaign. Fills and returns `out`. `value` is the request's value signal (predicted CTR or a
   * value score, >= 0), or -1 / absent when it carries none.
   */
  decide(
    campaignId: string,
    bidCpmMicros: number,
    requestId: string | undefined,
    out: Decision,
    value?: number,
  ): Decision | null;
  /**
   * Gives back the reservation `decide` made for this request id and campaign (an auction's
   * losers): the budget is free again at once instead of after the reservation TTL. True when a
   * reservation was still held; a second call, or a call after the win notice, frees nothing.
   */
  releaseDecision(requestId: string, campaignId: string): boolean;
  /** The runtime's clock: what decisions and local days are computed at. */
  nowMs(): number;
  /** Rejects with UnknownCampaignError (server/errors) for an unknown campaign. */
  trackSpend(input: SpendInput): Promise<SpendOutcome>;
  status(campaignId: string): BudgetStatus | null;
  /** `status` after one sync round when the campaign was idle here (its peers' spend may be stale). */
  freshStatus(campaignId: string): Promise<BudgetStatus | null>;
  /** Loads a campaign another instance created and this one has not refreshed yet; false if none. */
  adoptCampaign(campaignId: string): Promise<boolean>;
  performance(campaignId: string, days: number): Promise<DailyPerformance[]>;
  health(): HealthReport;
  /** True once campaigns are loaded: before that an unknown id may exist and is answered 503, not 404. */
  isReady(): boolean;

  listCampaigns(): Campaign[];
  getCampaign(id: string): Campaign | null;
  /** Creates or replaces; persisted to the store before it resolves. */
  putCampaign(campaign: Campaign): Promise<void>;
  deleteCampaign(id: string): Promise<boolean>;

  onEvent(listener: (event: RuntimeEvent) => void): () => void;
  /** Loads campaigns, replays any journal left by a crash, starts background sync. */
  start(): Promise<void>;
  /** Stops background work, flushes pending spend and returns unused leases. */
  close(): Promise<void>;
}
