import type { BreakerSnapshot } from './breaker';
import type { Campaign } from './campaign';
import { CodedError } from './errors';

/**
 * The shared state behind several pacer instances: Redis in the server, memory in the simulator
 * and the embedded server. Every call is batched and async; every multi-key change is atomic.
 *
 * Budget leases bound overspend across instances: an instance commits spend only inside what it
 * was granted, grants for a campaign-day never sum past its budget, so spend stays within budget
 * (short of win notices arriving after their reservation expired).
 */
export interface SpendRecord {
  /** Idempotency key: a retried win notice carries the same id and counts once. */
  readonly eventId: string;
  readonly campaignId: string;
  /** The campaign's local day (YYYY-MM-DD) and elapsed-hour bucket the spend belongs to. */
  readonly dayKey: string;
  readonly hourIndex: number;
  readonly spendMicros: number;
  readonly instanceId: string;
}

export interface LeaseRequest {
  readonly campaignId: string;
  readonly dayKey: string;
  readonly instanceId: string;
  readonly requestMicros: number;
  /** The most all instances together may be granted for this campaign-day. */
  readonly budgetMicros: number;
}

export interface DayKeyRef {
  readonly campaignId: string;
  readonly dayKey: string;
}

export interface DaySnapshot {
  readonly spentMicros: number;
  /** Spend per elapsed hour of the day (25 buckets). */
  readonly hourSpentMicros: readonly number[];
  /** Leases granted to all instances, and to each, for this campaign-day. */
  readonly leasedMicros: number;
  readonly leasedByInstance: Readonly<Record<string, number>>;
  /** Spend per instance for this day: lets a restarted instance find its own share. */
  readonly spentByInstance: Readonly<Record<string, number>>;
  /** Lifetime spend of the campaign across all days. */
  readonly totalSpentMicros: number;
}

/** What a duplicate's first copy was counted as, from its dedup marker. */
export interface CountedAs {
  readonly instanceId: string;
  /** Absent in markers written before they held the amount. */
  readonly spendMicros?: number;
  readonly dayKey?: string;
  readonly hourIndex?: number;
}

export interface BudgetStore {
  /** Applies each record atomically unless its event id was seen; true where it counted. */
  applySpend(records: readonly SpendRecord[]): Promise<boolean[]>;
  /**
   * applySpend that also says what a duplicate was counted as: true where it counted now, else
   * what its dedup marker holds (the counting instance, and the amount, day and hour it counted
   * when the marker says), null when unknown. Stores that can tell implement it.
   */
  applySpendCountedBy?(records: readonly SpendRecord[]): Promise<(true | CountedAs | null)[]>;
  /** Grants each request what fits under its budget (possibly 0); returns the grants. */
  acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]>;
  /** Gives back unused lease (graceful shutdown, end of day). */
  returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void>;
  readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]>;

  putCampaign(campaign: Campaign): Promise<void>;
  getCampaign(id: string): Promise<Campaign | null>;
  deleteCampaign(id: string): Promise<boolean>;
  listCampaigns(): Promise<Campaign[]>;

  saveBreaker(campaignId: string, snapshot: BreakerSnapshot): Promise<void>;
  loadBreaker(campaignId: string): Promise<BreakerSnapshot | null>;

  /**
   * Claims (or renews) an instance id for one process start: true when it is this boot's, false
   * when another live boot holds it. Stores without other processes (memory) may omit it.
   */
  claimInstance?(claim: InstanceClaim): Promise<boolean>;
  /** Gives the id back at a clean shutdown, so a restart need not wait for the claim to lapse. */
  releaseInstance?(claim: InstanceClaim): Promise<void>;

  /** Resolves when the store answers; rejects when it cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const HOUR_BUCKETS = 25;

/**
 * Why the store failed, as far as the shell can tell: an outage, a timeout, a read-only replica,
 * a store out of memory, refused credentials. Health output shows it; all of them mean degraded.
 */
export type StoreFailureReason =
  | 'STORE_UNREACHABLE'
  | 'STORE_TIMEOUT'
  | 'STORE_READONLY'
  | 'STORE_OOM'
  | 'STORE_AUTH'
  | 'STORE_ERROR';

export class StoreUnavailableError extends CodedError {
  readonly reason: StoreFailureReason;
  constructor(
    message = 'the shared budget store cannot be reached',
    options?: { cause?: unknown; reason?: StoreFailureReason },
  ) {
    super('STORE_UNAVAILABLE', message, options);
    this.name = 'StoreUnavailableError';
    this.reason = options?.reason ?? 'STORE_UNREACHABLE';
  }
}

/** An instance id already held by another live process (its boot id differs). */
export interface InstanceClaim {
  readonly instanceId: string;
  /** Unique per process start: tells a restart of this instance from a second process. */
  readonly bootId: string;
  /**
   * When the process started (its own clock). One rule, at start and at renewal: the older of two
   * claimants keeps the id, and a younger holder is displaced (it finds out at its next claim).
   */
  readonly startedAtMs: number;
  readonly ttlMs: number;
}
