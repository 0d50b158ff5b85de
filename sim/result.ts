import type { PacingMode } from '../core/index';
import type { ReplayOutcomes } from './replayOutcomes';
import type { Thresholds } from './scenario';

export type { ReplayOutcomes };
import type { AlgorithmSummary, CampaignDayScore } from './scores';

export type { AlgorithmSummary, CampaignDayScore };

// What a simulation run hands to its readers (reports, the CLI's files): scores, time series and
// the facts of the run. Types only, so a reader depends on this and never on the engine.

/** Per-algorithm time series for the report, at `stepMinutes` resolution. */
export interface AlgorithmSeries {
  readonly algorithm: PacingMode;
  /** Cumulative spend of all campaigns / their total budget, at each step's end. */
  readonly spendShare: number[];
  /** Where the target curves say that share should be (ASAP: EVEN's curve). */
  readonly targetShare: number[];
  /** Spend per hour of all campaigns, micros. */
  readonly spendPerHourMicros: number[];
  /** Mean throttle rate over campaigns (last decision), averaged over the step. */
  readonly meanThrottle: number[];
  /** Campaign-instances with an OPEN breaker, and HALF_OPEN, at each step's end. */
  readonly breakerOpen: number[];
  readonly breakerHalfOpen: number[];
  /** Instances in degraded mode at each step's end. */
  readonly degradedInstances: number[];
}

/**
 * One algorithm's pacing over one local day of one time zone (all its campaigns), by hour bucket
 * of that day: 23, 24 or 25 of them.
 */
export interface LocalDaySeries {
  readonly algorithm: PacingMode;
  readonly timeZone: string;
  readonly date: string;
  /** Cumulative spend of the zone's campaigns / their budget, at each local hour's end. */
  readonly spendShare: number[];
  /** Where their target curves say that share should be (ASAP: EVEN's curve). */
  readonly targetShare: number[];
}

export interface SimSeries {
  readonly stepMinutes: number;
  readonly startMs: number;
  /** Requests per second, averaged over each step (the same stream for every algorithm). */
  readonly requestsPerSecond: number[];
  readonly surges: readonly (readonly [number, number, number])[];
  readonly outages: readonly (readonly [number, number])[];
  readonly algorithms: AlgorithmSeries[];
  readonly localDays: LocalDaySeries[];
}

/** A replay's outcome sources, and per algorithm how many of its wins paid a recorded price. */
export interface ReplaySummary extends ReplayOutcomes {
  readonly wins: readonly {
    readonly algorithm: PacingMode;
    readonly wins: number;
    readonly atRecordedPrice: number;
    readonly atModelPrice: number;
  }[];
}

export interface SimSummary {
  readonly scenario: {
    readonly name: string;
    readonly description: string;
    readonly seed: number;
    readonly startDate: string;
    readonly days: number;
    readonly instances: number;
    readonly syncIntervalMs: number;
    readonly stream: string;
    readonly pricing: string;
    /** Present only when every campaign competes in every auction. */
    readonly candidates?: 'all';
    readonly campaigns: number;
    /** Campaigns per IANA time zone (each campaign's own zone is in the campaign list). */
    readonly timeZones: Readonly<Record<string, number>>;
    readonly constrainedCampaigns: number;
    readonly outages: number;
    /** Present only when the scenario restarts instances. */
    readonly restarts?: number;
    /** Present only for a production replay (stream kind pacer-log): where market prices came from. */
    readonly replay?: ReplaySummary;
    /** Present only when store calls take time. */
    readonly latency?: {
      readonly meanMs: number;
      readonly jitterMs: number;
      readonly fromMs: number;
      readonly toMs: number;
    };
  };
  readonly algorithms: readonly AlgorithmSummary[];
  readonly thresholds: Thresholds;
  readonly failures: readonly string[];
  readonly ok: boolean;
}

export interface RunReport {
  readonly summary: SimSummary;
  readonly series: SimSeries;
  readonly campaigns: readonly {
    readonly id: string;
    readonly dailyBudgetMicros: number;
    readonly bidCpmMicros: number;
    readonly participation: number;
    readonly constrained: boolean;
    readonly fullPassToBudget: number;
    readonly timeZone: string;
  }[];
  readonly campaignDays: Readonly<Record<string, readonly CampaignDayScore[]>>;
  /** The run's instance crashes, how many instances shared the traffic, breaker and value signal. */
  readonly world: {
    readonly restarts: readonly {
      readonly instance: number;
      readonly downMs: number;
      readonly upMs: number;
    }[];
    readonly scenario: {
      readonly instances: { readonly count: number };
      readonly bidding: { readonly valueSignal: 'pctr' | 'none' };
    };
    /** The report names the breaker mode the run used. */
    readonly config: { readonly breaker: { readonly mode: 'precision' | 'classic' } };
  };
}
