import {
  type BreakerSnapshot,
  type BudgetStore,
  type Campaign,
  CircuitBreaker,
  type DayKeyRef,
  type Decision,
  type InstanceClaim,
  type PacerConfig,
  PacerInstance,
  type PacingState,
  type Rand,
  type SpendJournal,
  dayWindowAt,
  deny,
} from '../../core/index';
import { sameTargeting } from '../../core/targeting/targeting';
import { InstanceIdInUseError, NotReadyError, UnknownCampaignError } from '../errors';
import { hashUnit, requestRand, seededRand } from './random';
import { RequestReservations } from './reservations';
import { budgetStatus } from './status';
import type { Clock, Timers } from './time';
import type {
  BudgetStatus,
  DailyPerformance,
  HealthReport,
  PacerRuntime,
  RuntimeEvent,
  SpendInput,
  SpendOutcome,
} from './types';

/**
 * The PacerRuntime of the production server: one PacerInstance driven by injected timers.
 *
 * Store traffic is serialised through one worker: a periodic sync (flush, lease top-up, peers'
 * spend, and while degraded a ping that, once Redis answers, replays the journal and leaves
 * degraded mode), plus an immediate flush whenever spend arrives, so /spend/track answers after
 * one store round trip (or one journal fsync) instead of a sync interval. Serialising matters:
 * a flush running beside a sync's peer read would make own spend look smaller than it is.
 *
 * OVERSPEND BOUND (per campaign and day; L = the day's limit: the daily budget, or what is left
 * of the total budget if that is smaller):
 *
 *   day spend <= L + E,   E = sum of the charges of wins whose reservation was not held when
 *                             their notice was booked, namely wins whose notice
 *     (a) came more than `reservationTtlMs` (default 120 s) after the decision, or without the
 *         decision's request id after its reservation had expired,
 *     (b) came after the deciding instance crashed or restarted (its reservations died with it),
 *     (c) reached another instance than the decider while the store was unreachable (while it is
 *         reachable such a win is covered: the decider's reservation holds its budget for
 *         `reservationTtlMs`, and the spend reaches every instance's budget check within one
 *         sync, long before that reservation expires), or
 *     (d) followed a budget cut that the deciding instance had not yet seen (its campaign copy is
 *         refreshed every `campaignRefreshMs`, default 5 s; the instance that took the cut sees it
 *         at once).
 *   Each such win costs at most the decision's max bid CPM / 1000 (the reservation), assuming
 *   the reported charge never exceeds the bid (second price). Spend reported for bids the pacer
 *   never allowed is counted but cannot be bounded by it.
 *
 * Why: an instance commits (own spend + live reservations) only inside the leases it holds, and
 * the store's Lua script never grants leases for a campaign-day past L in total; on top of that,
 * each bid is refused when own + peers' spend (as of the last sync, `syncIntervalMs` old when
 * healthy) + reservations + its cost would pass L. Degraded mode adds nothing to E: the instance
 * keeps deciding inside the lease it already holds, never borrows, and throttles at least
 * `degradedThrottle`; an instance that starts while the store is down holds no lease and bids
 * nothing until the store answers. Spend is never lost or doubled: it is acknowledged only once
 * Redis applied it or the journal fsynced it, Redis counts an event id once (3-day dedup window),
 * and journal replay after an outage or a kill -9 is refused for ids already counted, so replay
 * is exactly-once as long as it happens within the dedup window.
 */
/** Between two attempts to claim the instance id at start. */
const CLAIM_RETRY_MS = 250;
/** Store lookups of unknown campaigns (decisions) at a time, per instance. */
const LOOKUPS_IN_FLIGHT = 8;
/** An unknown campaign id is looked up again no sooner than this. */
const LOOKUP_RETRY_MS = 1_000;
/** Ids remembered between lookups; past this the memory starts afresh. */
const LOOKUP_MEMORY = 10_000;

export interface RuntimeLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface RuntimeDeps {
  readonly store: BudgetStore;
  /** Closed by the runtime's close() if it has a close method. */
  readonly journal: SpendJournal & { close?(): Promise<void> };
  readonly clock: Clock;
  readonly timers: Timers;
  readonly instanceId: string;
  readonly config: PacerConfig;
  readonly log: RuntimeLogger;
  readonly storeKind?: 'redis' | 'embedded';
  /** Background sync (and, while degraded, the health probe) period. */
  readonly syncIntervalMs?: number;
  /** How often campaigns created or edited on other instances are picked up. */
  readonly campaignRefreshMs?: number;
  /** Request ids whose reservations are remembered for their win notices. */
  readonly maxTrackedRequests?: number;
  /** Seed of the generator used for decisions without a request id. */
  readonly seed?: number;
  readonly leaseHorizonMs?: number;
  readonly minLeaseShare?: number;
  /** Unique per process start; with a store that supports it, the instance id is claimed under it. */
  readonly bootId?: string;
  /** How long a claim on the instance id lives without renewal (a killed process's lapses after this). */
  readonly instanceClaimTtlMs?: number;
  /** Longest wait in start() for the first load; past it the load goes on and unknown ids get 503. */
  readonly startWaitMs?: number;
  /** Called when another process claimed this instance id while running: the shell should stop. */
  readonly onFatal?: (err: Error) => void;
  /** Called with every decision (records: requests seen and decisions allowed per hour). */
  readonly onDecision?: (campaignId: string, allowed: boolean) => void;
}

export const DEFAULT_SYNC_INTERVAL_MS = 250;
export const DEFAULT_CAMPAIGN_REFRESH_MS = 5_000;
export const DEFAULT_MAX_TRACKED_REQUESTS = 200_000;
const MAX_PERFORMANCE_DAYS = 62;
export const DEFAULT_INSTANCE_CLAIM_TTL_MS = 5_000;
export const DEFAULT_START_WAIT_MS = 5_000;
const BREAKER_LOAD_CHUNK = 1_000;

/** Resolves after `ms` on the injected timers (they only repeat: stop after the first call). */
function waitOn(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let stop: (() => void) | null = null;
    let fired = false;
    stop = timers.every(ms, () => {
      fired = true;
      stop?.();
      resolve();
    });
    if (fired) stop();
  });
}

/** The PacerRuntime plus what tests and the server's shutdown need. */
export interface Runtime extends PacerRuntime {
  readonly instance: PacerInstance;
  /** Runs one sync round now (the timer does this on its own); resolves when it is done. */
  syncNow(): Promise<void>;
}

/**
 * Field by field: a refresh compares every loaded campaign every `campaignRefreshMs`, and two
 * JSON.stringify calls per campaign made that ~80 ms of blocking work with 10,000 campaigns.
 */
function sameCampaign(a: Campaign, b: Campaign): boolean {
  if (a === b) return true;
  if (
    a.id !== b.id ||
    a.name !== b.name ||
    a.status !== b.status ||
    a.dailyBudgetMicros !== b.dailyBudgetMicros ||
    a.totalBudgetMicros !== b.totalBudgetMicros ||
    a.flightStartMs !== b.flightStartMs ||
    a.flightEndMs !== b.flightEndMs ||
    a.timeZone !== b.timeZone ||
    a.pacingMode !== b.pacingMode ||
    a.maxBidCpmMicros !== b.maxBidCpmMicros ||
    a.creativeId !== b.creativeId ||
    !sameTargeting(a.targeting, b.targeting)
  ) {
    return false;
  }
  const ma = a.hourlyMultipliers;
  const mb = b.hourlyMultipliers;
  if (ma === mb) return true;
  if (ma === null || mb === null || ma.length !== mb.length) return false;
  for (let i = 0; i < ma.length; i++) if (ma[i] !== mb[i]) return false;
  return true;
}

class ServerRuntime implements Runtime {
  readonly instanceId: string;
  readonly instance: PacerInstance;
  private readonly deps: RuntimeDeps;
  private readonly syncIntervalMs: number;
  private readonly campaignRefreshMs: number;
  private readonly reservations: RequestReservations;
  private readonly rand: Rand;
  private readonly listeners = new Set<(e: RuntimeEvent) => void>();
  private readonly dirtyBreakers = new Set<string>();
  private stopTimer: (() => void) | null = null;
  private lastRefreshMs = Number.NEGATIVE_INFINITY;
  private campaignsLoaded = false;
  /** The first load round (campaigns, breakers, journal replay) is still to run. */
  private loadQueued = false;
  private restored = false;
  private firstLoad: Promise<void> | null = null;
  private lastHealth: 'healthy' | 'degraded' | null = null;
  private readonly claim: InstanceClaim | null;
  private claimed = false;
  private lastClaimMs = Number.NEGATIVE_INFINITY;
  /** A claim made after start (see claimLate): held or refused, for how many CLAIM_RETRY_MS ticks. */
  private lateClaim: 'held' | 'refused' | null = null;
  private lateClaimTicks = 0;
  private stopLateClaimTicks: (() => void) | null = null;
  /** Another process took this instance id: stop deciding, keep the leases where they are. */
  private conflict = false;

  /** This process claims its instance id (the store supports it) and has not made the claim yet. */
  private get unclaimed(): boolean {
    return this.claim !== null && !this.claimed;
  }

  /**
   * Leases under this id are touched only by the process that holds the id. A duplicate that
   * stopped before its claim was confirmed gave back the original's unspent lease at close, and
   * peers were granted that budget while the original spent it (npm run chaos, seed 118021).
   */
  private updateLeasing(): void {
    this.instance.leasing = !this.unclaimed && !this.conflict;
  }
  private syncQueued = false;
  private flushQueued = false;
  /** Unknown campaign ids of decisions, looked up in the store: not again before the time held. */
  private readonly lookedUp = new Map<string, number>();
  private lookupsInFlight = 0;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(deps: RuntimeDeps) {
    this.deps = deps;
    this.instanceId = deps.instanceId;
    this.syncIntervalMs = deps.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.campaignRefreshMs = deps.campaignRefreshMs ?? DEFAULT_CAMPAIGN_REFRESH_MS;
    this.reservations = new RequestReservations(deps.maxTrackedRequests ?? DEFAULT_MAX_TRACKED_REQUESTS);
    this.rand = seededRand(deps.seed ?? Math.floor(hashUnit(deps.instanceId) * 4_294_967_296));
    this.instance = new PacerInstance({
      instanceId: deps.instanceId,
      store: deps.store,
      journal: deps.journal,
      config: deps.config,
      ...(deps.leaseHorizonMs !== undefined ? { leaseHorizonMs: deps.leaseHorizonMs } : {}),
      ...(deps.minLeaseShare !== undefined ? { minLeaseShare: deps.minLeaseShare } : {}),
    });
    this.claim =
      deps.store.claimInstance !== undefined && deps.bootId !== undefined
        ? {
            instanceId: deps.instanceId,
            bootId: deps.bootId,
            startedAtMs: deps.clock.nowMs(),
            ttlMs: deps.instanceClaimTtlMs ?? DEFAULT_INSTANCE_CLAIM_TTL_MS,
          }
        : null;
    this.updateLeasing();
  }

  // --- hot path -------------------------------------------------------------------------------

  decide(
    campaignId: string,
    bidCpmMicros: number,
    requestId: string | undefined,
    out: Decision,
    /** The request's value signal (predicted CTR or a value score), -1 when it carries none. */
    value = -1,
  ): Decision | null {
    const s = this.instance.states.get(campaignId);
    if (s === undefined) {
      this.lookUpSoon(campaignId);
      return null;
    }
    const nowMs = this.deps.clock.nowMs();
    if (this.conflict) return deny(out, 'paused', 1, this.instance.degraded);
    // Unclaimed, this process may be a second one with this INSTANCE_ID: the leases it sees are
    // the other's, and bids it allowed would spend them twice (found by npm run chaos, seed
    // 92368341: a duplicate started during a Redis outage decided while its late claim waited).
    if (this.unclaimed) return deny(out, 'lease_exhausted', 1, this.instance.degraded);
    const breakerBefore = s.breaker.state;
    this.instance.decide(
      campaignId,
      bidCpmMicros,
      nowMs,
      requestId ? requestRand(requestId, campaignId) : this.rand,
      out,
      value,
    );
    if (out.allow && requestId !== undefined) {
      this.reservations.hold(requestId, {
        campaignId,
        reservedMicros: out.reservedMicros,
        reservedAtMs: nowMs,
      });
    }
    if (s.breaker.state !== breakerBefore) this.breakerMoved(s, nowMs);
    this.deps.onDecision?.(campaignId, out.allow);
    return out;
  }

  releaseDecision(requestId: string, campaignId: string): boolean {
    const held = this.reservations.take(requestId, campaignId);
    if (held === undefined) return false;
    this.instance.releaseBid(campaignId, held.reservedMicros, held.reservedAtMs, this.deps.clock.nowMs());
    return true;
  }

  nowMs(): number {
    return this.deps.clock.nowMs();
  }

  async trackSpend(input: SpendInput): Promise<SpendOutcome> {
    const s = this.instance.states.get(input.campaignId);
    if (s === undefined) throw new UnknownCampaignError(input.campaignId);
    // A process that has not claimed its id may be a second one with it: spend it counted would
    // sit in a journal and history log no process reads again once it stops (found by npm run
    // chaos, seed 815). The exchange retries elsewhere.
    if (this.unclaimed || this.conflict) throw new NotReadyError(input.campaignId, 'unclaimed');
    const nowMs = this.deps.clock.nowMs();
    const held =
      input.requestId !== undefined ? this.reservations.take(input.requestId, input.campaignId) : undefined;
    const breakerBefore = s.breaker.state;
    const acked = this.instance.recordSpendAcked(
      {
        campaignId: input.campaignId,
        eventId: input.eventId,
        spendMicros: input.spendMicros,
        ...(held !== undefined
          ? { reservedMicros: held.reservedMicros, reservedAtMs: held.reservedAtMs }
          : {}),
      },
      nowMs,
    );
    if (s.breaker.state !== breakerBefore) this.breakerMoved(s, nowMs);
    void this.schedule('flush');
    const ack = await acked;
    if (ack.counted && this.listeners.size > 0) {
      const state = this.instance.states.get(input.campaignId);
      if (state !== undefined) {
        this.emit({
          type: 'spend',
          campaignId: input.campaignId,
          status: budgetStatus(state, this.deps.clock.nowMs(), this.instance.degraded),
        });
      }
    }
    return { counted: ack.counted, journaled: ack.journaled };
  }

  // --- reads ----------------------------------------------------------------------------------

  status(campaignId: string): BudgetStatus | null {
    const s = this.instance.states.get(campaignId);
    if (s === undefined) return null;
    return budgetStatus(s, this.deps.clock.nowMs(), this.instance.degraded);
  }

  /**
   * The status with the fleet's spend as of one sync round ago at most. A campaign that took no
   * traffic here is left out of sync rounds, so its view of the other instances' spend went stale
   * (80 s seen); it is marked and synced once before answering.
   */
  async freshStatus(campaignId: string): Promise<BudgetStatus | null> {
    const s = this.instance.states.get(campaignId);
    if (s === undefined) return null;
    if (!s.touched && !this.instance.degraded && this.isReady()) {
      this.instance.markActive(s);
      await this.schedule('sync');
    }
    return this.status(campaignId);
  }

  /**
   * A decision for a campaign this instance does not know: it may have been created through
   * another instance since the last refresh (up to 5 s ago), so it is looked up in the store in
   * the background (the decision never waits) and, when found, leased at once; the next decision
   * finds it. Without this, such a campaign answered 404 on this instance for up to 5 s. Lookups
   * are bounded (LOOKUPS_IN_FLIGHT at a time, one per id per LOOKUP_RETRY_MS), so callers sending
   * unknown ids cannot turn decisions into a stream of store reads.
   */
  private lookUpSoon(campaignId: string): void {
    if (this.lookupsInFlight >= LOOKUPS_IN_FLIGHT || !this.isReady() || this.instance.degraded) return;
    const nowMs = this.deps.clock.nowMs();
    const notBefore = this.lookedUp.get(campaignId);
    if (notBefore !== undefined && notBefore > nowMs) return;
    if (this.lookedUp.size >= LOOKUP_MEMORY) this.lookedUp.clear();
    this.lookedUp.set(campaignId, nowMs + LOOKUP_RETRY_MS);
    this.lookupsInFlight++;
    void this.adoptCampaign(campaignId)
      .then((found) => (found ? this.schedule('sync') : undefined))
      .catch(() => undefined)
      .finally(() => {
        this.lookupsInFlight--;
      });
  }

  /**
   * A campaign another instance created since this one last refreshed (every 5 s): looked up in
   * the store so its win notices are booked, not refused as unknown. True when it exists.
   */
  async adoptCampaign(campaignId: string): Promise<boolean> {
    if (this.instance.states.has(campaignId)) return true;
    if (!this.isReady() || this.instance.degraded) return false;
    const c = await this.deps.store.getCampaign(campaignId);
    if (c === null || this.instance.states.has(campaignId)) return this.instance.states.has(campaignId);
    this.instance.upsertCampaign(c, this.deps.clock.nowMs());
    this.emit({ type: 'campaign', campaignId: c.id, deleted: false });
    return true;
  }

  /** The last `days` days of the campaign, oldest first, today last, as the store has them. */
  async performance(campaignId: string, days: number): Promise<DailyPerformance[]> {
    const s = this.instance.states.get(campaignId);
    if (s === undefined) throw new UnknownCampaignError(campaignId);
    const n = Math.min(Math.max(1, Math.floor(days)), MAX_PERFORMANCE_DAYS);
    const refs: DayKeyRef[] = [];
    let window = dayWindowAt(s.campaign.timeZone, this.deps.clock.nowMs());
    for (let i = 0; i < n; i++) {
      refs.push({ campaignId, dayKey: window.key });
      window = dayWindowAt(s.campaign.timeZone, window.startMs - 1);
    }
    refs.reverse();
    const snaps = await this.deps.store.readDays(refs);
    return refs.map((ref, i) => ({
      dayKey: ref.dayKey,
      spentMicros: snaps[i]!.spentMicros,
      hourSpentMicros: snaps[i]!.hourSpentMicros,
    }));
  }

  health(): HealthReport {
    const degraded = this.instance.degraded;
    // A process that started while the store timed out has not claimed its INSTANCE_ID yet: it may
    // be a second process with that id (the next healthy round finds out), so never healthy until
    // the claim is made (found by npm run chaos, seed 742: a duplicate started during redis-slow).
    const unclaimed = this.unclaimed;
    return {
      status: degraded || unclaimed ? 'degraded' : 'healthy',
      storeKind: this.deps.storeKind ?? 'redis',
      storeHealthy: !degraded,
      instanceId: this.instanceId,
      pendingReplay: this.instance.journaledRecords,
      campaigns: this.instance.states.size,
      storeErrors: this.instance.storeErrors,
      lastStoreError: this.instance.lastStoreError,
      ready: this.isReady(),
      journalFailing: this.instance.journalFailing,
    };
  }

  isReady(): boolean {
    return this.campaignsLoaded && this.restored;
  }

  listCampaigns(): Campaign[] {
    return [...this.instance.states.values()]
      .map((s) => s.campaign)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  getCampaign(id: string): Campaign | null {
    return this.instance.states.get(id)?.campaign ?? null;
  }

  // --- management -----------------------------------------------------------------------------

  async putCampaign(campaign: Campaign): Promise<void> {
    await this.deps.store.putCampaign(campaign);
    this.instance.upsertCampaign(campaign, this.deps.clock.nowMs());
    this.emit({ type: 'campaign', campaignId: campaign.id, deleted: false });
    // A new campaign bids only once it holds a lease: take one before answering.
    await this.schedule('sync');
  }

  async deleteCampaign(id: string): Promise<boolean> {
    const existed = await this.deps.store.deleteCampaign(id);
    const s = this.instance.states.get(id);
    if (s !== undefined) {
      await this.returnLeaseOf(s);
      this.instance.removeCampaign(id);
    }
    if (existed || s !== undefined) this.emit({ type: 'campaign', campaignId: id, deleted: true });
    return existed || s !== undefined;
  }

  onEvent(listener: (event: RuntimeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // --- lifecycle ------------------------------------------------------------------------------

  /**
   * Claims the instance id, then loads campaigns, breakers and any journal a crash left behind
   * through the store worker. Waits for that load at most `startWaitMs`: with 100,000 campaigns,
   * or the store down, the server listens anyway and answers 503 (retry) for ids it cannot vouch
   * for until the load completes, instead of failing to start or answering 404.
   */
  async start(): Promise<void> {
    await this.claimAtStart();
    this.loadQueued = true;
    this.firstLoad = this.schedule('sync');
    this.stopTimer = this.deps.timers.every(this.syncIntervalMs, () => {
      void this.schedule('sync');
    });
    await Promise.race([
      this.firstLoad,
      waitOn(this.deps.timers, this.deps.startWaitMs ?? DEFAULT_START_WAIT_MS),
    ]);
    if (!this.isReady()) {
      this.deps.log.warn(
        { instanceId: this.instanceId, campaigns: this.instance.states.size },
        'still loading campaigns: unknown campaign ids are answered 503 until the load completes',
      );
    }
  }

  /**
   * Two processes with one INSTANCE_ID would share its budget leases and overspend them. A restart
   * after kill -9 finds its own old claim still alive: it waits for it to lapse (one TTL) rather
   * than refuse. If the store is down, the claim is made by the first healthy round. The older
   * process keeps the id, here as at renewal: a restart claiming as a newcomer lost its id to a
   * duplicate started 1.7 s after it, whose claim landed first once a hung Redis answered again
   * (found by npm run chaos, seed 122021: the restart exited 78 and the duplicate served).
   */
  private async claimAtStart(): Promise<void> {
    if (this.claim === null) return;
    const claim = this.claim;
    // Counted in waits of CLAIM_RETRY_MS (timers run on the monotonic clock), not read off the
    // wall clock: a clock stepped forward during the wait made a restart after kill -9 give up
    // at once and exit 78 (found by npm run chaos, seed 115083: +199 s while it waited).
    let waitsLeft = Math.ceil((this.claim.ttlMs + 1_000) / CLAIM_RETRY_MS);
    for (;;) {
      try {
        // Claimed, then confirmed one and a half renewal periods later: a store that lost the
        // claim (restarted empty) lets a second process claim the id, and the running holder
        // takes it back at its next renewal; the newcomer must find that out before it serves.
        if (await this.deps.store.claimInstance!(claim)) {
          await waitOn(this.deps.timers, (this.claim.ttlMs / 5) * 1.5);
          if (await this.deps.store.claimInstance!(claim)) {
            this.claimed = true;
            this.lastClaimMs = this.deps.clock.nowMs();
            return;
          }
        }
      } catch (err) {
        // A client still connecting, or a store paused for a moment: try again until the
        // deadline, so a second process with this id is refused here rather than let in.
        if (waitsLeft-- <= 0) {
          this.deps.log.warn(
            { err },
            'could not claim the instance id: the store is unreachable; will claim it later',
          );
          return;
        }
        await waitOn(this.deps.timers, CLAIM_RETRY_MS);
        continue;
      }
      if (waitsLeft-- <= 0) {
        // Nothing of this process may touch the other's leases, not even at close.
        this.conflict = true;
        throw new InstanceIdInUseError(this.instanceId);
      }
      await waitOn(this.deps.timers, CLAIM_RETRY_MS);
    }
  }

  /** Renews the claim every fifth of its TTL; false when another process holds the id. */
  private async renewClaim(nowMs: number): Promise<boolean> {
    if (this.unclaimed) return this.claimLate(nowMs);
    if (this.claim === null || nowMs - this.lastClaimMs < this.claim.ttlMs / 5) return true;
    const mine = await this.deps.store.claimInstance!(this.claim);
    if (mine) {
      this.claimed = true;
      this.lastClaimMs = nowMs;
    }
    return mine;
  }

  /**
   * The claim a process could not make at start (the store did not answer), confirmed only after
   * holding it for one and a half renewal periods, so a running holder whose claim lapsed (Redis
   * hung longer than the TTL) takes it back first: taken at once, a duplicate started during a
   * Redis hang answered healthy while the original ran (found by npm run chaos, seed 90717423).
   * It displaces a younger holder, never an older one: the older process keeps the id. When a
   * late claim displaced no one, the original lost its id to a duplicate started after it whose
   * start-up claim landed first once Redis was back (seed 121014: the original,
   * restarted after kill -9, could not confirm its claim before Redis was killed). Refused for
   * longer than a TTL and a second: another, older process holds it. Timed in timer ticks (the
   * monotonic clock), not read off the wall clock, which a step moves.
   */
  private async claimLate(nowMs: number): Promise<boolean> {
    const claim = this.claim!;
    const mine = await this.deps.store.claimInstance!(claim);
    const state = mine ? 'held' : 'refused';
    if (this.lateClaim !== state) {
      this.lateClaim = state;
      this.lateClaimTicks = 0;
      this.stopLateClaimTicks ??= this.deps.timers.every(CLAIM_RETRY_MS, () => {
        this.lateClaimTicks++;
      });
    }
    const forMs = this.lateClaimTicks * CLAIM_RETRY_MS;
    if (!mine) return forMs <= claim.ttlMs + 1_000;
    if (forMs >= (claim.ttlMs / 5) * 1.5) {
      this.claimed = true;
      this.lastClaimMs = nowMs;
      this.lateClaim = null;
      this.stopLateClaimTicks?.();
      this.stopLateClaimTicks = null;
    }
    return true;
  }

  private enterConflict(): void {
    if (this.conflict) return;
    this.conflict = true;
    const err = new InstanceIdInUseError(this.instanceId);
    this.deps.log.error({ instanceId: this.instanceId }, err.message);
    this.deps.onFatal?.(err);
  }

  /** The first round: campaigns, today's breakers, and a journal replay, in the store worker. */
  private async loadRound(nowMs: number): Promise<void> {
    await this.refreshCampaigns(nowMs);
    await this.restoreBreakers(nowMs);
    // Replays a journal a crash left behind, and takes back this instance's own spend and leases.
    await this.instance.restore(nowMs);
    if (!this.campaignsLoaded) this.instance.degraded = true;
    this.restored = this.campaignsLoaded && !this.instance.degraded;
    this.deps.log.info(
      {
        instanceId: this.instanceId,
        campaigns: this.instance.states.size,
        pendingReplay: this.instance.journaledRecords,
      },
      this.instance.degraded
        ? 'pacer runtime started degraded: the store is unreachable'
        : 'pacer runtime started',
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTimer?.();
    this.stopTimer = null;
    this.stopLateClaimTicks?.();
    this.stopLateClaimTicks = null;
    while (this.running !== null) await this.running;
    const nowMs = this.deps.clock.nowMs();
    try {
      await this.instance.flush();
    } catch (err) {
      this.deps.log.error({ err }, 'spend could be neither stored nor journaled at shutdown');
    }
    // In a conflict, or before the claim, the leases under this id may be another process's too:
    // leave them be (the instance gives nothing back while it may not lease).
    this.updateLeasing();
    if (!this.instance.degraded && !this.conflict) {
      try {
        await this.saveBreakers();
        await this.instance.returnLeases(nowMs);
        if (this.claim !== null && this.claimed) await this.deps.store.releaseInstance?.(this.claim);
      } catch (err) {
        // Unreturned leases only hold budget back for the rest of the day; they never overspend.
        this.deps.log.warn({ err }, 'could not return unused leases at shutdown');
      }
    }
    await this.deps.journal.close?.();
    await this.deps.store.close();
  }

  async syncNow(): Promise<void> {
    await this.schedule('sync');
  }

  // --- the store worker -----------------------------------------------------------------------

  private schedule(kind: 'sync' | 'flush'): Promise<void> {
    if (this.closed && this.running === null) return Promise.resolve();
    if (kind === 'sync') this.syncQueued = true;
    else this.flushQueued = true;
    if (this.running === null) this.running = this.work();
    return this.running;
  }

  private async work(): Promise<void> {
    try {
      while (this.syncQueued || this.flushQueued) {
        if (this.loadQueued) {
          this.loadQueued = false;
          this.syncQueued = false;
          this.flushQueued = false;
          await this.loadRound(this.deps.clock.nowMs());
          await this.syncRound();
        } else if (this.syncQueued) {
          // A sync flushes too.
          this.syncQueued = false;
          this.flushQueued = false;
          await this.syncRound();
        } else {
          this.flushQueued = false;
          await this.flushRound();
        }
        this.noteHealth();
      }
    } finally {
      this.running = null;
    }
  }

  private async flushRound(): Promise<void> {
    try {
      await this.instance.flush();
    } catch (err) {
      // The records stay queued in the instance and go out with the next round.
      this.deps.log.error({ err }, 'spend could be neither stored nor journaled; will retry');
    }
  }

  private async syncRound(): Promise<void> {
    this.updateLeasing();
    const nowMs = this.deps.clock.nowMs();
    const wasDegraded = this.instance.degraded;
    const replayable = this.instance.journaledRecords;
    try {
      await this.instance.sync(nowMs);
    } catch (err) {
      this.deps.log.error({ err }, 'spend could be neither stored nor journaled; will retry');
    }
    this.reservations.expire(nowMs, this.deps.config.reservationTtlMs);
    if (this.instance.degraded) return;
    try {
      if (!(await this.renewClaim(nowMs))) this.enterConflict();
      const couldLease = this.instance.leasing;
      this.updateLeasing();
      if (!couldLease && this.instance.leasing) {
        // Claimed late: the leases it could not take while unclaimed are taken now, for every
        // campaign, so the first bids after the claim are not refused for want of one.
        for (const s of this.instance.states.values()) this.instance.markActive(s);
        await this.instance.sync(nowMs);
      }
    } catch {
      // The store failed between two calls: the next round notices and goes degraded.
    }
    // A restart whose restore could not reach the store is complete once a round succeeds: a
    // round leaves degraded mode only after replaying the journal.
    if (this.campaignsLoaded) this.restored = true;
    if (wasDegraded) {
      this.deps.log.info(
        { replayedRecords: replayable - this.instance.journaledRecords },
        'store reachable again: journal replayed, leaving degraded mode',
      );
    }
    if (!this.campaignsLoaded || nowMs - this.lastRefreshMs >= this.campaignRefreshMs) {
      // A campaign new to this instance bids only once it holds a lease: take one in this round.
      if ((await this.refreshCampaigns(nowMs)) > 0) await this.instance.sync(nowMs);
    }
    try {
      await this.saveBreakers();
    } catch {
      // Breaker snapshots are advisory (restart hints); the next round saves them.
    }
  }

  private noteHealth(): void {
    const status = this.instance.degraded ? 'degraded' : 'healthy';
    if (status === this.lastHealth) return;
    const first = this.lastHealth === null;
    this.lastHealth = status;
    if (status === 'degraded') {
      this.deps.log.warn(
        { storeErrors: this.instance.storeErrors, lastStoreError: this.instance.lastStoreError },
        `store unreachable (${this.instance.lastStoreError?.code ?? 'unknown cause'}): degraded mode`,
      );
    }
    if (!first || status === 'degraded') this.emit({ type: 'health', health: this.health() });
  }

  /** Picks up campaigns created, edited or deleted through other instances; returns how many were new. */
  private async refreshCampaigns(nowMs: number): Promise<number> {
    let stored: Campaign[];
    try {
      stored = await this.deps.store.listCampaigns();
    } catch (err) {
      this.deps.log.warn({ err }, 'could not load campaigns from the store');
      return 0;
    }
    let added = 0;
    this.lastRefreshMs = nowMs;
    this.campaignsLoaded = true;
    const states = this.instance.states;
    let kept = 0;
    for (const c of stored) {
      const current = states.get(c.id);
      if (current !== undefined) kept++;
      if (current !== undefined && sameCampaign(current.campaign, c)) continue;
      if (current === undefined) added++;
      this.instance.upsertCampaign(c, nowMs);
      this.emit({ type: 'campaign', campaignId: c.id, deleted: false });
    }
    // Ids are unique in the store, so when every campaign held here was listed, none was deleted:
    // the common case skips building a set of 10,000 ids.
    if (kept + added < states.size) {
      const seen = new Set<string>();
      for (const c of stored) seen.add(c.id);
      for (const id of [...states.keys()]) {
        if (seen.has(id)) continue;
        this.instance.removeCampaign(id);
        this.emit({ type: 'campaign', campaignId: id, deleted: true });
      }
    }
    return added;
  }

  private breakerMoved(s: PacingState, nowMs: number): void {
    this.dirtyBreakers.add(s.campaign.id);
    this.emit({ type: 'breaker', campaignId: s.campaign.id, state: s.breaker.state, atMs: nowMs });
  }

  private async saveBreakers(): Promise<void> {
    for (const id of [...this.dirtyBreakers]) {
      const s = this.instance.states.get(id);
      this.dirtyBreakers.delete(id);
      if (s !== undefined) await this.deps.store.saveBreaker(id, s.breaker.toJSON());
    }
  }

  /** A breaker snapshot from today survives a restart; an older one belongs to a finished day. */
  private async restoreBreakers(nowMs: number): Promise<void> {
    if (!this.campaignsLoaded) return;
    const states = [...this.instance.states.values()];
    // In concurrent chunks: one awaited read per campaign took minutes with 100,000 campaigns.
    for (let i = 0; i < states.length; i += BREAKER_LOAD_CHUNK) {
      const chunk = states.slice(i, i + BREAKER_LOAD_CHUNK);
      let snaps: (BreakerSnapshot | null)[];
      try {
        snaps = await Promise.all(chunk.map((s) => this.deps.store.loadBreaker(s.campaign.id)));
      } catch (err) {
        this.deps.log.warn({ err }, 'could not restore breaker state');
        return;
      }
      chunk.forEach((s, j) => {
        const snap = snaps[j];
        if (snap != null && snap.lastTransitionMs >= s.ledger.day.startMs && snap.lastTransitionMs <= nowMs) {
          s.breaker = CircuitBreaker.fromJSON(snap, this.deps.config.breaker);
        }
      });
    }
  }

  private async returnLeaseOf(s: PacingState): Promise<void> {
    this.updateLeasing();
    if (!this.instance.leasing) return;
    const l = s.ledger;
    const unused = s.ownAllowanceMicros - (l.ownDaySpentMicros + l.reservedMicros);
    if (!(unused > 0) || !Number.isFinite(unused)) return;
    try {
      await this.deps.store.returnLease(
        { campaignId: s.campaign.id, dayKey: l.day.key },
        this.instanceId,
        unused,
      );
    } catch (err) {
      this.deps.log.warn(
        { err, campaignId: s.campaign.id },
        'could not return the lease of a deleted campaign',
      );
    }
  }

  private emit(event: RuntimeEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.deps.log.error({ err, event: event.type }, 'runtime event listener threw');
      }
    }
  }
}

export function createRuntime(deps: RuntimeDeps): Runtime {
  return new ServerRuntime(deps);
}
