import type { Campaign } from './campaign';
import type { PacerConfig } from './config';
import { budgetLimitMicros, dayFraction } from './controller';
import { hourIndex } from './dayWindow';
import { type Rand, addLease, advance, decide, deny, recordSpend, releaseBid, setPeerSpend } from './decide';
import type { Decision } from './decision';
import { UnknownCampaignError } from './errors';
import { EventIdSet } from './eventIdSet';
import type { SpendJournal } from './journal';
import { dayCommittedMicros, pin, unbookSpend, unpin } from './ledger';
import { impressionCostMicros } from './money';
import { type PacingState, createPacingState, updateCampaign } from './pacingState';
import type { BudgetStore, DayKeyRef, DaySnapshot, LeaseRequest, SpendRecord } from './store';
import { targetShare } from './targetCurve';

/**
 * One pacer instance: the campaigns it paces, the spend it has not yet handed to the shared store,
 * and its budget leases. Shell-neutral: the server calls `sync` from a timer, the simulator from a
 * scheduled event; both call `decide` and `recordSpend` on the hot path, which never awaits.
 *
 * Overspend bound: an instance commits spend (settled + reserved) only inside the leases it was
 * granted, and the store never grants more than a campaign-day's budget in total. Second-price
 * charges never exceed the reserved bid, so spend stays within budget, short of win notices that
 * arrive after their reservation expired (`reservationTtlMs`). While the store is down the
 * instance keeps deciding inside the lease it holds (throttled to at least `degradedThrottle`)
 * and journals its spend; it never borrows beyond the lease.
 */
export interface InstanceOptions {
  readonly instanceId: string;
  readonly store: BudgetStore;
  readonly journal: SpendJournal;
  readonly config: PacerConfig;
  /** A lease covers the planned spend of this much time ahead. */
  readonly leaseHorizonMs?: number;
  /** Smallest lease asked for, as a share of the day's budget. */
  readonly minLeaseShare?: number;
  /**
   * Event ids remembered locally for duplicate detection (the store dedups across instances).
   * 0 turns local detection off: for a shell that never delivers an event twice to the same
   * instance (the simulator), where it would only cost time.
   */
  readonly recentEventIds?: number;
}

export interface SpendInputMicros {
  readonly campaignId: string;
  readonly eventId: string;
  readonly spendMicros: number;
  /** The reservation this spend settles, and when it was made. */
  readonly reservedMicros?: number;
  readonly reservedAtMs?: number;
}

export interface SpendAck {
  readonly counted: boolean;
  readonly journaled: boolean;
}

/** Called once per spend: with the outcome, or with the error when neither store nor journal took it. */
type Ack = (ack: SpendAck | Error) => void;

/** Journaled records sent to the store per call when replaying. */
const REPLAY_CHUNK_RECORDS = 1_000;

const DUPLICATE: SpendAck = Object.freeze({ counted: false, journaled: false });

/** The last failure of the shared store, kept for health output (an outage, a read-only replica, OOM, auth). */
export interface StoreErrorNote {
  readonly code: string;
  readonly message: string;
  readonly atMs: number;
}

/**
 * Event ids are unique per campaign (the store keys its dedup markers under the campaign's hash
 * tag): the same id sent for two campaigns counts once in each, everywhere.
 */
function dedupKey(campaignId: string, eventId: string): string {
  return `${campaignId}\u0000${eventId}`;
}

export class PacerInstance {
  readonly instanceId: string;
  readonly states = new Map<string, PacingState>();
  /** True while the store is unreachable: decisions are conservative, spend goes to the journal. */
  degraded = false;
  /** Counters a shell can export: store failures, records replayed, duplicates refused by the store. */
  storeErrors = 0;
  replayedRecords = 0;
  storeDuplicates = 0;
  lastStoreError: StoreErrorNote | null = null;
  /**
   * The last journal append failed (full disk, I/O error). While degraded this means a win could be
   * neither stored nor journaled, so no bid is allowed until an append succeeds or the store is back.
   */
  journalFailing = false;
  /** Journal confirmations that failed (e.g. a full disk): the records are in the store already. */
  journalConfirmErrors = 0;
  /**
   * False while the shell cannot vouch that this process alone holds its instance id (not yet
   * claimed, or claimed by another): the leases under the id may be another process's, so this one
   * neither tops them up nor gives them back.
   */
  leasing = true;

  private readonly store: BudgetStore;
  private readonly journal: SpendJournal;
  private readonly config: PacerConfig;
  private readonly leaseHorizonMs: number;
  private readonly minLeaseShare: number;
  private pending: SpendRecord[] = [];
  private pendingAcks: (Ack | undefined)[] = [];
  private readonly recent = new EventIdSet();
  private readonly recentLimit: number;
  private readonly recentRing: (string | undefined)[] = [];
  private recentHead = 0;
  private journalPending = 0;
  /** Pending journal records (from the head) that a replay applied but could not yet confirm. */
  private appliedUnconfirmed = 0;
  /** Pending journal records (from the head) left by an earlier process: never booked by this one. */
  private inheritedPending = 0;
  /** Acks of duplicates waiting on the first copy, by dedup key, until it is stored or journaled. */
  private readonly unsettled = new Map<string, Ack[]>();
  /** Exposure pinned for refused notices, by dedup key, released when the notice is booked. */
  private readonly pinned = new Map<string, number>();
  /** The latest time seen by sync or spend, to date store errors without reading a clock. */
  private lastNowMs = 0;
  /**
   * Campaigns whose own spend and lease this instance has not read from the store yet: new ones,
   * or all of them after a restore that could not reach it. The next healthy round reads them, so
   * a restarted instance takes back its lease instead of leasing the same budget again.
   */
  private readonly unloaded = new Set<PacingState>();
  /** Campaigns that decided, spent or changed since the last sync round. */
  private touchedStates: PacingState[] = [];
  private syncing: Promise<void> | null = null;

  constructor(opts: InstanceOptions) {
    this.instanceId = opts.instanceId;
    this.store = opts.store;
    this.journal = opts.journal;
    this.config = opts.config;
    this.leaseHorizonMs = opts.leaseHorizonMs ?? 5 * 60_000;
    this.minLeaseShare = opts.minLeaseShare ?? 0.002;
    this.recentLimit = opts.recentEventIds ?? 200_000;
  }

  /** Adds or updates a campaign; its first lease comes with the next `sync`. */
  upsertCampaign(campaign: Campaign, nowMs: number): PacingState {
    const existing = this.states.get(campaign.id);
    if (existing && existing.campaign.timeZone === campaign.timeZone) {
      updateCampaign(existing, campaign);
      this.touch(existing);
      return existing;
    }
    const s = createPacingState(campaign, this.config, nowMs, { leased: true });
    this.states.set(campaign.id, s);
    this.unloaded.add(s);
    this.touch(s);
    return s;
  }

  removeCampaign(id: string): boolean {
    return this.states.delete(id);
  }

  /** The hot path. Returns null for an unknown campaign; otherwise fills and returns `out`. */
  decide(
    campaignId: string,
    bidCpmMicros: number,
    nowMs: number,
    rand: Rand,
    out: Decision,
    value = -1,
  ): Decision | null {
    const s = this.states.get(campaignId);
    if (s === undefined) return null;
    return this.decideState(s, bidCpmMicros, nowMs, rand, out, value);
  }

  /**
   * `decide` for a caller that holds the campaign's state (as returned by `upsertCampaign` and
   * still current): the same decision without looking the campaign up by id.
   */
  decideState(
    s: PacingState,
    bidCpmMicros: number,
    nowMs: number,
    rand: Rand,
    out: Decision,
    value = -1,
  ): Decision {
    if (!s.touched) this.touch(s);
    // A win of this bid could be neither stored nor journaled: its notice would be refused.
    if (this.degraded && this.journalFailing) return deny(out, 'journal_unavailable', 1, true);
    return decide(s, bidCpmMicros, nowMs, rand, this.degraded, out, value);
  }

  releaseBid(campaignId: string, reservedMicros: number, reservedAtMs: number, nowMs: number): void {
    const s = this.states.get(campaignId);
    if (s !== undefined) releaseBid(s, reservedMicros, reservedAtMs, nowMs);
  }

  /** `releaseBid` for a caller that holds the campaign's current state. */
  releaseBidState(s: PacingState, reservedMicros: number, reservedAtMs: number, nowMs: number): void {
    releaseBid(s, reservedMicros, reservedAtMs, nowMs);
  }

  /**
   * Books a win locally at once (pacing sees it immediately) and queues it for the store.
   * Returns false when this instance has seen the event id before. `ack` is called once the
   * spend is safe: applied by the store, or journaled while the store is away.
   */
  recordSpend(input: SpendInputMicros, nowMs: number, ack?: Ack): boolean {
    const s = this.states.get(input.campaignId);
    if (s === undefined) throw new UnknownCampaignError(input.campaignId);
    return this.recordSpendState(
      s,
      input.eventId,
      input.spendMicros,
      input.reservedMicros ?? 0,
      input.reservedAtMs ?? nowMs,
      nowMs,
      ack,
    );
  }

  /** `recordSpend` for a caller that holds the campaign's current state; no input object. */
  recordSpendState(
    s: PacingState,
    eventId: string,
    spendMicros: number,
    reservedMicros: number,
    reservedAtMs: number,
    nowMs: number,
    ack?: Ack,
  ): boolean {
    // Built only where needed: simulated instances keep no local dedupe (recentLimit 0).
    const key = this.recentLimit > 0 || this.pinned.size > 0 ? dedupKey(s.campaign.id, eventId) : '';
    if (this.recentLimit > 0) {
      if (this.recent.has(key)) {
        const waiting = this.unsettled.get(key);
        if (waiting !== undefined && ack !== undefined) waiting.push(ack);
        else ack?.(DUPLICATE);
        return false;
      }
      this.remember(key);
    }
    this.touch(s);
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs;
    if (this.pinned.size > 0) this.unpinRefused(s, key);
    recordSpend(s, spendMicros, nowMs, reservedMicros, reservedAtMs);
    const day = s.ledger.day;
    this.pending.push({
      eventId,
      campaignId: s.campaign.id,
      dayKey: day.key,
      hourIndex: hourIndex(day, nowMs),
      spendMicros,
      instanceId: this.instanceId,
    });
    // Registered once the spend is booked: a throw above leaves no waiter list behind.
    this.pendingAcks.push(this.recentLimit > 0 ? this.settling(key, ack) : ack);
    return true;
  }

  /**
   * The first copy's ack, which also answers the duplicates that arrive before it is settled: with
   * its failure when it fails (they must be retried, not told the spend is safe: found by npm run
   * chaos, seed 74145076, a duplicate answered at once while the first copy's journal write was
   * failing on a full disk), as duplicates once it is stored or journaled.
   */
  private settling(key: string, ack: Ack | undefined): Ack {
    // The list is this copy's own: a later copy of the same id (after the id fell out of the
    // recent ring) gets a list of its own, and neither deletes the other's.
    const waiting: Ack[] = [];
    this.unsettled.set(key, waiting);
    return (result) => {
      if (this.unsettled.get(key) === waiting) this.unsettled.delete(key);
      ack?.(result);
      for (const w of waiting) w(result instanceof Error ? result : DUPLICATE);
    };
  }

  /** recordSpend for callers that answer only once the spend is safe (the HTTP API). */
  recordSpendAcked(input: SpendInputMicros, nowMs: number): Promise<SpendAck> {
    return new Promise((resolve, reject) => {
      try {
        this.recordSpend(input, nowMs, (ack) => (ack instanceof Error ? reject(ack) : resolve(ack)));
      } catch (err) {
        reject(err);
      }
    });
  }

  /** A retried notice that was refused before: its pinned exposure becomes booked spend now. */
  private unpinRefused(s: PacingState, key: string): void {
    const micros = this.pinned.get(key);
    if (micros === undefined) return;
    this.pinned.delete(key);
    unpin(s.ledger, micros);
  }

  /** Marks a campaign for the next sync round (peers' spend, lease), as a decision would. */
  markActive(s: PacingState): void {
    this.touch(s);
  }

  private touch(s: PacingState): void {
    if (s.touched) return;
    s.touched = true;
    this.touchedStates.push(s);
  }

  private remember(eventId: string): void {
    // A ring of ids evicts the oldest in O(1). Evicting through `recent.values().next()` walks the
    // Set's deleted entries from its start each time, which turns quadratic once the Set is full.
    const oldest = this.recentRing[this.recentHead];
    if (oldest !== undefined) this.recent.delete(oldest);
    this.recentRing[this.recentHead] = eventId;
    this.recentHead = this.recentHead + 1 === this.recentLimit ? 0 : this.recentHead + 1;
    this.recent.add(eventId);
  }

  /** Spend booked locally and not yet applied or journaled, and journaled but not yet replayed. */
  get unsyncedRecords(): number {
    return this.pending.length;
  }

  get journaledRecords(): number {
    return this.journalPending;
  }

  /**
   * Loads state after a (re)start: replays a journal left behind, then takes this instance's own
   * spend and leases for today from the store, so a restarted instance neither forgets nor
   * doubles what it had spent.
   */
  async restore(_nowMs: number): Promise<void> {
    const left = await this.journal.pending();
    this.journalPending = left.length;
    this.inheritedPending = left.length;
    this.appliedUnconfirmed = 0;
    // Until the store has answered, this instance does not know what it spent or holds: it bids
    // nothing (no lease) and the first healthy sync round finishes the restore.
    for (const s of this.states.values()) this.unloaded.add(s);
    try {
      if (left.length > 0) await this.replayJournal();
      await this.loadOwnFromStore();
      this.degraded = false;
    } catch (err) {
      this.noteStoreError(err);
    }
  }

  /** Today's own spend, peers' spend, earlier spend and own lease of the unloaded campaigns, from the store. */
  private async loadOwnFromStore(): Promise<void> {
    if (this.unloaded.size === 0) return;
    const loading = [...this.unloaded].filter((s) => this.states.get(s.campaign.id) === s);
    const refs = this.refs(loading);
    const snaps = await this.store.readDays(refs);
    for (const s of loading) this.unloaded.delete(s);
    // Journaled records no replay has applied yet (a confirmation failed on a full disk part-way
    // through a long journal) are own spend the store does not hold.
    const journaled =
      this.journalPending > this.appliedUnconfirmed
        ? (await this.journal.pending()).slice(this.appliedUnconfirmed)
        : [];
    // After the last await: spend booked meanwhile is in `pending`, not lost.
    const unflushed = this.unflushedByCampaignDay();
    for (const r of journaled) {
      const key = `${r.campaignId}\u0000${r.dayKey}`;
      unflushed.set(key, (unflushed.get(key) ?? 0) + r.spendMicros);
    }
    refs.forEach((ref, i) => {
      const s = this.states.get(ref.campaignId);
      if (s === undefined || s.ledger.day.key !== ref.dayKey) return;
      const snap = snaps[i]!;
      const l = s.ledger;
      const ownInStore = snap.spentByInstance[this.instanceId] ?? 0;
      const own = ownInStore + (unflushed.get(`${ref.campaignId}\u0000${ref.dayKey}`) ?? 0);
      l.ownDaySpentMicros = own;
      l.ownTotalSpentMicros = own;
      l.priorTotalSpentMicros = snap.totalSpentMicros - snap.spentMicros;
      l.peerDaySpentMicros = snap.spentMicros - ownInStore;
      s.ownAllowanceMicros = snap.leasedByInstance[this.instanceId] ?? 0;
    });
  }

  private unflushedByCampaignDay(): Map<string, number> {
    const sums = new Map<string, number>();
    for (const r of this.pending) {
      const key = `${r.campaignId}\u0000${r.dayKey}`;
      sums.set(key, (sums.get(key) ?? 0) + r.spendMicros);
    }
    return sums;
  }

  /**
   * One round with the store. Rounds must not overlap with each other or with `flush`/`restore`
   * (own spend is reset from the store after a read): concurrent `sync` calls share one round, and
   * a shell that also calls `flush` directly must serialise it with `sync`.
   *
   * The round: replay the journal if the store is back, flush pending spend, top
   * up leases, read the other instances' spend. Never throws for store failures: it goes degraded.
   * Concurrent calls share one round.
   */
  sync(nowMs: number): Promise<void> {
    if (this.syncing === null) {
      this.syncing = this.syncOnce(nowMs).finally(() => {
        this.syncing = null;
      });
    }
    return this.syncing;
  }

  private async syncOnce(nowMs: number): Promise<void> {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs;
    // Only campaigns active since the last round need leases or peer spend; the rest catch up
    // lazily when they next decide (and are then marked for the following round).
    const active = this.touchedStates.filter((s) => this.states.get(s.campaign.id) === s);
    this.touchedStates = [];
    for (const s of active) {
      s.touched = false;
      advance(s, nowMs);
    }
    if (this.degraded) {
      try {
        await this.store.ping();
        await this.replayJournal();
        this.degraded = false;
      } catch (err) {
        this.noteStoreError(err);
      }
    }
    try {
      const flushed = this.pending.length;
      await this.flush();
      if (!this.degraded) {
        // Journaled spend the store has taken but the journal could not yet confirm (full disk).
        if (this.journalPending > 0) await this.replayJournal();
        // Every round asks the store something, so an outage is seen even when all is idle.
        if (active.length === 0 && flushed === 0) await this.store.ping();
        await this.loadOwnFromStore();
        // Peers first: a lease is sized against a budget that counts everyone's spend.
        await this.readPeers(active, nowMs);
        await this.topUpLeases(active, nowMs);
      }
    } catch (err) {
      this.noteStoreError(err);
    } finally {
      // A round cut short by the store leaves its campaigns for the next one.
      if (this.degraded) for (const s of active) this.touch(s);
    }
  }

  private noteStoreError(err: unknown): void {
    this.storeErrors++;
    this.degraded = true;
    const e = err as { reason?: unknown; code?: unknown; message?: unknown } | null;
    const code =
      typeof e?.reason === 'string' ? e.reason : typeof e?.code === 'string' ? e.code : 'STORE_ERROR';
    const message = typeof e?.message === 'string' ? e.message : String(err);
    this.lastStoreError = { code, message, atMs: this.lastNowMs };
  }

  /** Hands pending spend to the store, or to the journal when the store fails. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    const acks = this.pendingAcks;
    this.pending = [];
    this.pendingAcks = [];
    if (!this.degraded) {
      try {
        const applied = await this.store.applySpend(batch);
        this.settleApplied(batch, applied);
        for (let i = 0; i < acks.length; i++)
          acks[i]?.(applied[i] ? { counted: true, journaled: false } : DUPLICATE);
        return;
      } catch (err) {
        this.noteStoreError(err);
      }
    }
    try {
      await this.journal.append(batch);
      this.journalFailing = false;
    } catch (err) {
      // Neither the store nor the journal took the spend. Nothing is half-written: take it back
      // locally, forget the event ids and fail the callers, so their retry counts it once. The win
      // happened at the exchange all the same: its cost stays committed (pinned) until the retry
      // is booked, so the budget it used is not handed to the next bid.
      this.journalFailing = true;
      for (const r of batch) {
        const s = this.states.get(r.campaignId);
        const key = dedupKey(r.campaignId, r.eventId);
        this.recent.delete(key);
        if (s === undefined) continue;
        unbookSpend(s.ledger, r.spendMicros, r.dayKey, r.hourIndex);
        pin(s.ledger, r.spendMicros);
        this.pinned.set(key, (this.pinned.get(key) ?? 0) + r.spendMicros);
      }
      const failure = err instanceof Error ? err : new Error(String(err));
      for (const ack of acks) ack?.(failure);
      if (acks.every((a) => a === undefined)) throw failure;
      return;
    }
    this.journalPending += batch.length;
    for (const ack of acks) ack?.({ counted: true, journaled: true });
  }

  /**
   * Replays journaled spend into the store exactly once (the store dedups by event id). Throws
   * only for store failures: a confirmation the journal cannot write (full disk) leaves the
   * applied records marked, so the next round confirms them without applying or settling again.
   */
  private async replayJournal(): Promise<void> {
    const records = await this.journal.pending();
    // In chunks, each confirmed as it lands: a long outage's journal never has to go in one
    // call, and a failure half-way replays only what is left.
    let i = 0;
    while (i < records.length) {
      if (this.appliedUnconfirmed === 0) {
        const chunk = records.slice(i, i + REPLAY_CHUNK_RECORDS);
        const applied = await this.store.applySpend(chunk);
        this.settleApplied(chunk, applied, this.inheritedPending - i);
        this.appliedUnconfirmed = chunk.length;
        this.replayedRecords += chunk.length;
      }
      const n = this.appliedUnconfirmed;
      try {
        await this.journal.confirm(n);
      } catch {
        // The spend is in the store; only the journal's bookkeeping lags. Not a store failure.
        this.journalConfirmErrors++;
        return;
      }
      this.appliedUnconfirmed = 0;
      this.inheritedPending = Math.max(0, this.inheritedPending - n);
      this.journalPending = Math.max(0, this.journalPending - n);
      i += n;
    }
  }

  /**
   * Records the store refused as duplicates were counted elsewhere first: take them back locally.
   * The first `notBookedHere` records came from an earlier process's journal and were never
   * booked by this one, so there is nothing to take back.
   */
  private settleApplied(
    records: readonly SpendRecord[],
    applied: readonly boolean[],
    notBookedHere = 0,
  ): void {
    for (let i = 0; i < records.length; i++) {
      if (applied[i]) continue;
      const r = records[i]!;
      this.storeDuplicates++;
      if (i < notBookedHere) continue;
      const s = this.states.get(r.campaignId);
      if (s !== undefined) unbookSpend(s.ledger, r.spendMicros, r.dayKey, r.hourIndex);
    }
  }

  private refs(states: Iterable<PacingState>): DayKeyRef[] {
    const refs: DayKeyRef[] = [];
    for (const s of states) refs.push({ campaignId: s.campaign.id, dayKey: s.ledger.day.key });
    return refs;
  }

  /** What to ask for: the planned spend of the lease horizon, at least a floor share of budget. */
  leaseRequestMicros(s: PacingState, nowMs: number): number {
    const limit = budgetLimitMicros(s);
    const floor = Math.ceil(limit * this.minLeaseShare);
    let planned: number;
    if (s.campaign.pacingMode === 'ASAP') {
      planned = Math.ceil(limit * 0.05);
    } else {
      const f = dayFraction(s, nowMs);
      const f2 = dayFraction(s, nowMs + this.leaseHorizonMs);
      planned = Math.ceil((targetShare(s.curve, f2) - targetShare(s.curve, f)) * limit);
    }
    const maxBid = s.campaign.maxBidCpmMicros;
    const oneBid = Math.max(maxBid === null ? 0 : impressionCostMicros(maxBid), s.leaseShortMicros);
    const atLeast = Math.max(floor, 2 * oneBid);
    return planned > atLeast ? planned : atLeast;
  }

  private async topUpLeases(active: readonly PacingState[], nowMs: number): Promise<void> {
    if (!this.leasing) return;
    const requests: LeaseRequest[] = [];
    const states: PacingState[] = [];
    for (const s of active) {
      if (s.campaign.status !== 'ACTIVE') continue;
      const l = s.ledger;
      const headroom = s.ownAllowanceMicros - (l.ownDaySpentMicros + l.reservedMicros);
      const want = this.leaseRequestMicros(s, nowMs);
      // A headroom smaller than one impression at the max bid (or, without one, than a bid the
      // lease could not cover) would deny every bid for good.
      const maxBid = s.campaign.maxBidCpmMicros;
      const oneBid = Math.max(maxBid === null ? 0 : impressionCostMicros(maxBid), s.leaseShortMicros);
      if (headroom >= want / 2 && headroom >= oneBid) continue;
      const limit = budgetLimitMicros(s);
      if (dayCommittedMicros(l) >= limit) continue;
      requests.push({
        campaignId: s.campaign.id,
        dayKey: l.day.key,
        instanceId: this.instanceId,
        requestMicros: want,
        budgetMicros: limit,
      });
      states.push(s);
    }
    if (requests.length === 0) return;
    const grants = await this.store.acquireLeases(requests);
    for (let i = 0; i < states.length; i++) addLease(states[i]!, requests[i]!.dayKey, grants[i]!, nowMs);
  }

  private async readPeers(active: readonly PacingState[], nowMs: number): Promise<void> {
    const refs = this.refs(active);
    if (refs.length === 0) return;
    const snaps: DaySnapshot[] = await this.store.readDays(refs);
    // Spend recorded while the read was in flight is not in the store yet.
    const unflushed = this.unflushedByCampaignDay();
    // Usually nothing is pending right after a flush: then no key strings are built below.
    const anyUnflushed = unflushed.size > 0;
    // Journaled records the store has not taken would be missing from its figure. Records a replay
    // applied (or found counted) whose confirmation failed (full disk) are in it: waiting for the
    // disk left a replayed duplicate taken back here and not there, own spend one win short for
    // as long as the disk stayed full (chaos seed 119009).
    const everyJournaledInStore = this.journalPending === this.appliedUnconfirmed;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const s = this.states.get(ref.campaignId);
      if (s === undefined) continue;
      const snap = snaps[i]!;
      const ownInStore = snap.spentByInstance[this.instanceId] ?? 0;
      setPeerSpend(s, ref.dayKey, snap.spentMicros - ownInStore, nowMs);
      if (everyJournaledInStore && s.ledger.day.key === ref.dayKey) {
        // The store is the truth for own spend too: this heals a batch that timed out after Redis
        // applied it (its replay is refused as a duplicate and was taken back locally).
        const own =
          ownInStore + (anyUnflushed ? (unflushed.get(`${ref.campaignId}\u0000${ref.dayKey}`) ?? 0) : 0);
        s.ledger.ownTotalSpentMicros += own - s.ledger.ownDaySpentMicros;
        s.ledger.ownDaySpentMicros = own;
      }
      // Spend of all instances before today, for the total budget; a snapshot of a day the
      // campaign has since rolled past (the read raced midnight) says nothing about today.
      const l = s.ledger;
      if (l.day.key !== ref.dayKey) continue;
      const beforeToday = snap.totalSpentMicros - snap.spentMicros;
      l.priorTotalSpentMicros = beforeToday - (l.ownTotalSpentMicros - l.ownDaySpentMicros);
    }
  }

  /** Gives back the unused part of today's leases (graceful shutdown). */
  async returnLeases(nowMs: number): Promise<void> {
    if (!this.leasing) return;
    for (const s of this.states.values()) {
      advance(s, nowMs);
      const l = s.ledger;
      if (!Number.isFinite(s.ownAllowanceMicros)) continue;
      const unused = s.ownAllowanceMicros - (l.ownDaySpentMicros + l.reservedMicros);
      if (unused > 0) {
        await this.store.returnLease(
          { campaignId: s.campaign.id, dayKey: l.day.key },
          this.instanceId,
          unused,
        );
        s.ownAllowanceMicros -= unused;
      }
    }
  }
}
