import type { BreakerSnapshot } from '../../core/breaker';
import type { Campaign } from '../../core/campaign';
import { DAY_MS } from '../../core/dayWindow';
import type { PacerInstance } from '../../core/instance';
import type { InstanceClaim } from '../../core/store';
import {
  type BudgetStore,
  type DayKeyRef,
  type DaySnapshot,
  type LeaseRequest,
  type SpendRecord,
  StoreUnavailableError,
} from '../../core/store';
import { RecordsUnavailableError } from '../errors';
import type { Clock, Timers } from '../runtime/time';
import { DEFAULT_DEDUP_TTL_SECONDS } from '../store/redisStore';
import { currentActor } from './auditActor';
import type { GenerationMarker } from './generationMarker';
import type { GenerationSpend } from './historyRecords';
import type { HistoryWriter, HistoryWriterStats } from './historyWriter';
import type { Records } from './openRecords';
import type { ReseedPlan } from './redisGenerations';

export interface RecordedStoreOptions {
  readonly inner: BudgetStore;
  readonly marker: GenerationMarker;
  readonly records: Records;
  /**
   * The background writer of counted spend (Redis mode). null: spend is written to PostgreSQL
   * before it counts (embedded mode, where PGlite is the only durable copy and the dedup).
   */
  readonly writer: HistoryWriter | null;
  /** Decision counts; flushed at close, before the database closes. */
  readonly activity?: { close(): Promise<void> };
  readonly kind: 'redis' | 'embedded';
  readonly instanceId: string;
  readonly clock: Clock;
  readonly log: {
    info(o: object, m: string): void;
    warn(o: object, m: string): void;
    error(o: object, m: string): void;
  };
  /** Days of history re-seeded as day counters (Redis keeps day keys 8 days). */
  readonly reseedDays?: number;
  /** How long the hot store keeps an event id for dedup: a repair restores the ids this recent. */
  readonly dedupTtlMs?: number;
  readonly repairRetryMs?: number;
  /** Extend the repair lock while a repair runs; without them the lock lives REPAIR_LOCK_MS. */
  readonly timers?: Timers;
  /**
   * A clock that a wall-clock step does not move (performance.now in the server), for the lease
   * grace after an adoption; the wall clock when absent.
   */
  readonly monotonicMs?: () => number;
}

export interface RecordsHealth {
  readonly generation: string | null;
  /** Times this instance found the hot store without its generation marker. */
  readonly dataLossDetected: number;
  /** Repairs this instance ran (re-seeding the fleet's store from PostgreSQL). */
  readonly repairsRun: number;
  readonly repairing: boolean;
  readonly lastDataLoss: { readonly atMs: number; readonly generation: string | null } | null;
  readonly history: HistoryWriterStats | null;
  /** False while writes to PostgreSQL fail (history, registry). */
  readonly postgresHealthy: boolean;
  readonly lastError: { readonly message: string; readonly atMs: number } | null;
}

const SEED_CHUNK = 1_000;
/**
 * The repair lock lives this long unless its holder, while it repairs, extends it every
 * REPAIR_LOCK_RENEW_MS: a repairer killed half-way keeps the fleet waiting (degraded) for this
 * long, not for as long as the longest repair could take (it was a fixed two minutes). A holder
 * that stalls past it loses the lock: it then seeds nothing more and writes no marker.
 */
export const REPAIR_LOCK_MS = 30_000;
const REPAIR_LOCK_RENEW_MS = 5_000;
/**
 * After adopting a repaired store, this instance takes no new lease for this long (re-asserting
 * what it spent and reserved is not a new lease). The repair seeds each instance's lease as the
 * spend PostgreSQL holds; an instance's journaled spend and live reservations reach the store only
 * when it adopts, up to a sync round (250 ms) after the first instance did. A lease granted to the
 * first in that gap could be budget the other had already committed.
 */
export const ADOPT_LEASE_GRACE_MS = 1_000;

/** The repair lock lapsed: a peer that took it is repairing the same store. */
function lockLapsed(): Error {
  return new Error('the repair lock lapsed during the repair; a peer repairs instead');
}

function assertHolding(lock: { readonly lost: boolean }): void {
  if (lock.lost) throw lockLapsed();
}

function dayKeyOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The budget store the runtime sees once PostgreSQL is the system of record: the hot store
 * (Redis, or the embedded one) behind a guard, with the registry and history kept in PostgreSQL.
 *
 * - Registry writes go to PostgreSQL first (with their audit row, one transaction), then to the
 *   hot store. A PostgreSQL failure answers 503 and changes nothing.
 * - Every store call of the sync loop first reads the hot store's generation marker. Missing:
 *   the store lost its data; the call fails as "unavailable" (the instance goes degraded, keeps
 *   deciding inside the lease it holds and journals spend) and one instance of the fleet re-seeds
 *   the store from PostgreSQL (campaigns, spend per hour and instance, leases as spent). A new
 *   marker: a repair finished; before going on, this instance seeds its own counted spend that
 *   had not reached PostgreSQL and re-asserts the leases it still uses.
 */
export class RecordedStore implements BudgetStore {
  private generation: string | null = null;
  private dataLossDetected = 0;
  private repairsRun = 0;
  private lastDataLoss: { atMs: number; generation: string | null } | null = null;
  private repairing: Promise<void> | null = null;
  private nextRepairAtMs = 0;
  private pendingPlan: { next: string; plan: ReseedPlan } | null = null;
  private adopting: Promise<void> | null = null;
  private nextReadoptAtMs = 0;
  /** No new lease before this (monotonicMs): see ADOPT_LEASE_GRACE_MS. */
  private leaseGraceUntil = Number.NEGATIVE_INFINITY;
  /** The generation this process wrote for a database's first start (nothing re-seeded). */
  private firstGeneration: string | null = null;
  /** Set by stopRepairs (shutdown): a process on its way out starts no repair. */
  private stopping = false;
  /**
   * The repair lock's owner: unique to this process, since two processes may share an instance id
   * (a duplicate is refused, but it may run for a while first) and one must not free the other's lock.
   */
  private readonly lockOwner: string;
  private instance: PacerInstance | null = null;
  /** Outcomes of PostgreSQL operations on the request paths (the writer keeps its own). */
  private recordsOkAtMs = Number.NEGATIVE_INFINITY;
  private recordsError: { message: string; atMs: number } | null = null;
  private readonly o: RecordedStoreOptions;

  /** The hot store's instance-id claim, passed through (the runtime only claims where it exists). */
  readonly claimInstance?: (claim: InstanceClaim) => Promise<boolean>;
  readonly releaseInstance?: (claim: InstanceClaim) => Promise<void>;

  constructor(opts: RecordedStoreOptions) {
    this.o = opts;
    this.lockOwner = `${opts.instanceId}/${Math.floor(Math.random() * 1e9).toString(36)}`;
    // Without these a wrapped Redis never claimed the id, and a second process with the same
    // INSTANCE_ID ran healthy beside the first (found by npm run chaos, seed 2).
    const inner = opts.inner;
    if (inner.claimInstance !== undefined) this.claimInstance = (c) => inner.claimInstance!(c);
    if (inner.releaseInstance !== undefined) this.releaseInstance = (c) => inner.releaseInstance!(c);
    opts.writer?.onGenerationClosed((closed) => this.readopt(closed));
  }

  /**
   * PostgreSQL refused history counted under a closed generation: a spend call that read the old
   * marker finished after the adoption took the stale records out. Adopting the current generation
   * again seeds and re-labels it (the store counts an event id once, so seeding twice is safe).
   */
  private readopt(closed: readonly string[]): void {
    const nowMs = this.o.clock.nowMs();
    // At most once per retry interval: while Redis is down every writer round would ask again.
    if (nowMs < this.nextReadoptAtMs) return;
    this.nextReadoptAtMs = nowMs + (this.o.repairRetryMs ?? 2_000);
    void this.readoptNow(closed).catch((err) => {
      this.o.log.warn({ err, closed }, 'could not adopt history of a closed generation; will retry');
    });
  }

  private async readoptNow(closed: readonly string[]): Promise<void> {
    // What the store holds now, not what this instance last saw: it may have lost its data again
    // (the guard of the next call notes that and a repair follows) or moved on (adopted there).
    const marker = await this.o.marker.read();
    if (marker === null || marker !== this.generation) return;
    if (closed.includes(marker)) {
      // Redis came back with data older than a repair (a restored snapshot): its counters are not
      // what PostgreSQL and the fleet agreed on. Nothing here can fix that safely; say so loudly.
      this.o.log.error(
        { generation: marker },
        'the hot store holds a generation a repair closed: history cannot be written; empty it (FLUSHALL) so the fleet re-seeds it from PostgreSQL',
      );
      return;
    }
    await this.adopt(marker);
  }

  /** The instance whose leases a repair re-asserts (set once the runtime exists). */
  attach(instance: PacerInstance): void {
    this.instance = instance;
  }

  health(): RecordsHealth {
    return {
      generation: this.generation,
      dataLossDetected: this.dataLossDetected,
      repairsRun: this.repairsRun,
      repairing: this.repairing !== null,
      lastDataLoss: this.lastDataLoss,
      history: this.o.writer?.stats() ?? null,
      ...this.postgresOutcome(),
    };
  }

  /** Healthy when the latest PostgreSQL operation, of any path, succeeded. */
  private postgresOutcome(): {
    postgresHealthy: boolean;
    lastError: { message: string; atMs: number } | null;
  } {
    const w = this.o.writer?.stats();
    const okAtMs = Math.max(this.recordsOkAtMs, w?.lastSuccessAtMs ?? Number.NEGATIVE_INFINITY);
    const errors = [this.recordsError, w?.lastError ?? null].filter((e) => e !== null);
    const latest = errors.sort((a, b) => b.atMs - a.atMs)[0];
    return {
      postgresHealthy: latest === undefined || okAtMs >= latest.atMs,
      lastError: latest ?? null,
    };
  }

  /**
   * At start, before the runtime loads campaigns: adopts the hot store's generation, registers the
   * first one, or repairs a store that lost its data. A hot store that cannot be reached is left
   * to the guard of the first calls.
   */
  async init(): Promise<void> {
    try {
      const marker = await this.o.marker.read();
      if (marker !== null) {
        await this.o.records.generations.ensureRegistered(marker, this.o.clock.nowMs());
        // Adopted, not just taken: a previous run of this instance killed before a repair left
        // spend counted under the lost generation in its history log, which no PostgreSQL write
        // will take (that generation is closed) and no repair knew of. Found by npm run chaos,
        // seed 113027 (instance killed, Redis emptied and repaired while it was down).
        await this.adopt(marker, true);
        return;
      }
      await this.repairNow();
      const now = await this.o.marker.read();
      if (now !== null) await this.adopt(now);
    } catch (err) {
      // The guard of the first store calls checks again: the runtime starts degraded meanwhile.
      this.o.log.warn({ err }, 'could not check the hot store generation at start; will retry');
    }
  }

  // --- the guard ------------------------------------------------------------------------------

  private async guard(): Promise<void> {
    const marker = await this.o.marker.read();
    if (marker !== null && marker === this.generation) return;
    if (marker === null) {
      if (this.generation !== null) this.noteLoss();
      void this.repairNow();
      throw new StoreUnavailableError(
        'the hot store has no generation marker (it lost its data or was never initialised); it is being re-seeded from PostgreSQL',
      );
    }
    await this.adopt(marker);
  }

  /**
   * The leases this instance holds were granted by the store that lost them, and the repaired
   * store will not know their unspent part: keep only what is spent or reserved, so no peer can be
   * granted the same budget again. Bids resume once the repaired store grants new leases.
   */
  private dropUnspentLeases(): void {
    if (this.instance === null) return;
    for (const s of this.instance.states.values()) {
      if (!Number.isFinite(s.ownAllowanceMicros)) continue;
      const committed = Math.ceil(s.ledger.ownDaySpentMicros + s.ledger.reservedMicros);
      if (s.ownAllowanceMicros > committed) s.ownAllowanceMicros = committed;
    }
  }

  private noteLoss(): void {
    this.dropUnspentLeases();
    this.dataLossDetected++;
    this.lastDataLoss = { atMs: this.o.clock.nowMs(), generation: this.generation };
    this.o.log.error(
      { generation: this.generation, kind: this.o.kind, detected: this.dataLossDetected },
      'hot store lost its data: deciding from local leases (degraded) until the fleet re-seeds it from PostgreSQL',
    );
    this.generation = null;
  }

  /**
   * From now on this process starts no repair; resolves once a repair it is running has finished
   * (and released its lock). A duplicate stopped while Redis came back empty took the lock, closed
   * its connections half-way through seeding, and left the fleet degraded for the lock's two
   * minutes (npm run chaos, seed 118021).
   */
  async stopRepairs(): Promise<void> {
    this.stopping = true;
    await this.repairing;
  }

  /** One repair at a time per process, retried no sooner than `repairRetryMs` after a failure. */
  private repairNow(): Promise<void> {
    if (this.repairing !== null) return this.repairing;
    if (this.stopping) return Promise.resolve();
    if (this.o.clock.nowMs() < this.nextRepairAtMs) return Promise.resolve();
    this.repairing = this.repair()
      .catch((err) => {
        this.nextRepairAtMs = this.o.clock.nowMs() + (this.o.repairRetryMs ?? 2_000);
        this.o.log.error({ err }, 'repair of the hot store failed; will retry');
      })
      .finally(() => {
        this.repairing = null;
      });
    return this.repairing;
  }

  private async repair(): Promise<void> {
    const { marker, records, instanceId, clock } = this.o;
    if (!(await marker.claimRepair(this.lockOwner, REPAIR_LOCK_MS))) return;
    const lock = { lost: false };
    const stopRenewing = this.o.timers?.every(REPAIR_LOCK_RENEW_MS, () => {
      void marker.extendRepair(this.lockOwner, REPAIR_LOCK_MS).then(
        (held) => {
          if (!held) lock.lost = true;
        },
        () => undefined,
      );
    });
    try {
      if ((await marker.read()) !== null) {
        // Repaired by a peer (one that took a lapsed lock from this process, say): a plan left
        // half-seeded here is obsolete, its generation closed by that repair.
        this.pendingPlan = null;
        return;
      }
      const nowMs = clock.nowMs();
      const open = await records.generations.open();
      if (open === null && this.pendingPlan === null) {
        // First start of this database: nothing to re-seed; adopt campaigns the hot store has.
        const { generation } = await records.generations.ensureOpen(this.newGenerationId(nowMs), nowMs);
        const adopted = await records.campaigns.importMissing(
          await this.o.inner.listCampaigns(),
          instanceId,
          nowMs,
        );
        // Nothing was re-seeded: adopting it needs no lease grace.
        this.firstGeneration = await marker.writeIfAbsent(generation);
        this.o.log.info(
          { generation, adoptedCampaigns: adopted },
          'records initialised: first generation of the hot store',
        );
        return;
      }
      if (this.o.kind === 'redis' && this.generation === null && this.lastDataLoss === null) {
        // Found at start (not seen live): still a loss, and counted as one.
        this.dataLossDetected++;
        this.lastDataLoss = { atMs: nowMs, generation: open };
      }
      // A plan whose seeding failed half-way is retried as it was: the same synthetic ids count once.
      if (this.pendingPlan === null) {
        const next = this.newGenerationId(nowMs);
        const fromDay = dayKeyOf(nowMs - (this.o.reseedDays ?? 8) * DAY_MS);
        const dedupTtlMs = this.o.dedupTtlMs ?? DEFAULT_DEDUP_TTL_SECONDS * 1000;
        const plan = await records.generations.closeAndPlan(next, fromDay, nowMs, dedupTtlMs);
        this.pendingPlan = { next, plan };
      }
      const { next, plan } = this.pendingPlan;
      await this.seed(plan, lock);
      // Only under the lock: a peer that took a lapsed lock is repairing the same store.
      assertHolding(lock);
      if (!(await marker.writeHoldingRepair(next, this.lockOwner))) throw lockLapsed();
      this.pendingPlan = null;
      this.repairsRun++;
      const spentMicros = plan.spend.reduce((s, r) => s + r.spendMicros, 0);
      const msg =
        this.o.kind === 'redis'
          ? 'hot store repaired: campaigns, spend and leases re-seeded from PostgreSQL'
          : 'embedded store restored from PGlite: campaigns, spend and leases re-seeded';
      this.o.log.warn(
        {
          closed: plan.closed,
          generation: next,
          campaigns: plan.campaigns.length,
          seedRecords: plan.spend.length,
          spentMicros,
        },
        msg,
      );
    } finally {
      stopRenewing?.();
      await marker.releaseRepair(this.lockOwner).catch(() => undefined);
    }
  }

  private async seed(plan: ReseedPlan, lock: { readonly lost: boolean }): Promise<void> {
    const inner = this.o.inner;
    for (const c of plan.campaigns) await inner.putCampaign(c);
    for (const chunk of chunks(plan.spend, SEED_CHUNK)) {
      assertHolding(lock);
      await inner.applySpend(chunk);
    }
    // The lost Redis also held the dedup keys: without them a notice counted before the loss and
    // retried after the repair would count twice (found by npm run chaos, seed 301). Embedded mode
    // dedups in PGlite itself.
    if (this.o.kind === 'redis') {
      for (const c of plan.campaigns) await this.restoreSeen(c.id, plan.seenSinceMs);
    }
    for (const chunk of chunks(plan.leases, SEED_CHUNK)) {
      await inner.acquireLeases(
        chunk.map((l) => ({
          campaignId: l.campaignId,
          dayKey: l.dayKey,
          instanceId: l.instanceId,
          requestMicros: l.micros,
          budgetMicros: Number.MAX_SAFE_INTEGER,
        })),
      );
    }
  }

  private newGenerationId(nowMs: number): string {
    return `${nowMs.toString(36)}-${this.o.instanceId}-${Math.floor(Math.random() * 1e9).toString(36)}`;
  }

  /**
   * A repair finished (here or on a peer). Spend this instance counted under the old generation
   * that PostgreSQL had not stored when the repair read it is in neither the repair's seed nor
   * the new store: seed it now, under its real event ids. Then make the leases in the store cover
   * what this instance has spent and reserved today.
   */
  private adopt(generation: string, atStart = false): Promise<void> {
    if (this.adopting !== null) return this.adopting;
    this.adopting = this.adoptOnce(generation, atStart).finally(() => {
      this.adopting = null;
    });
    return this.adopting;
  }

  private async adoptOnce(generation: string, atStart: boolean): Promise<void> {
    const writer = this.o.writer;
    let stale: GenerationSpend[];
    try {
      stale = writer === null ? [] : await writer.takeStale(generation);
    } catch (err) {
      // The history log could not take the records back (full disk): adopt again later.
      throw new StoreUnavailableError('adopting the repaired store failed: history log', { cause: err });
    }
    try {
      for (const chunk of chunks(stale, SEED_CHUNK))
        await this.o.inner.applySpend(chunk.map((s) => s.record));
      // The store may have lost its data again meanwhile (the guard then cleared the generation):
      // keep the records under their old label for the next adoption, and the loss noted once.
      if ((await this.o.marker.read()) !== generation)
        throw new StoreUnavailableError('the hot store changed while this instance adopted it');
      await writer?.readd(
        stale.map((s): GenerationSpend => ({ record: s.record, generation })),
        stale,
      );
      await this.reassertLeases();
      // A generation new to this process, other than the one it found at start: a repair may
      // just have finished, and peers may not have adopted it yet. Keyed on neither the
      // generation held before nor a loss seen: a process that started while Redis was down, or
      // found the marker missing while a peer held the repair lock, has neither (review).
      // Embedded, the store has no other instance; a first generation re-seeded nothing.
      if (
        generation !== this.generation &&
        !atStart &&
        this.o.kind === 'redis' &&
        generation !== this.firstGeneration
      )
        this.leaseGraceUntil = this.monotonicMs() + ADOPT_LEASE_GRACE_MS;
      this.generation = generation;
      if (stale.length > 0) {
        this.o.log.info(
          { generation, records: stale.length },
          'seeded own spend not yet in PostgreSQL into the repaired store',
        );
      }
    } catch (err) {
      // Seeding again later is safe: the new store counts each event id once.
      await writer?.readd(stale);
      throw err instanceof StoreUnavailableError
        ? err
        : new StoreUnavailableError('adopting the repaired store failed', { cause: err });
    } finally {
      writer?.resume();
    }
  }

  private async reassertLeases(): Promise<void> {
    const instance = this.instance;
    // A process that has not claimed its id may be a duplicate: the leases under it are another's.
    if (instance === null || !instance.leasing) return;
    const states = [...instance.states.values()];
    for (const group of chunks(states, SEED_CHUNK)) {
      const refs = group.map((s) => ({ campaignId: s.campaign.id, dayKey: s.ledger.day.key }));
      const snaps = await this.o.inner.readDays(refs);
      const requests: LeaseRequest[] = [];
      group.forEach((s, i) => {
        const held = snaps[i]!.leasedByInstance[this.o.instanceId] ?? 0;
        const need = Math.ceil(s.ledger.ownDaySpentMicros + s.ledger.reservedMicros);
        if (need > held) {
          requests.push({
            campaignId: refs[i]!.campaignId,
            dayKey: refs[i]!.dayKey,
            instanceId: this.o.instanceId,
            requestMicros: need - held,
            budgetMicros: Number.MAX_SAFE_INTEGER,
          });
        }
        // The rest of the old lease is given up: the next sync asks for what fits the budget now.
        if (Number.isFinite(s.ownAllowanceMicros)) s.ownAllowanceMicros = Math.max(held, need);
      });
      await this.o.inner.acquireLeases(requests);
    }
  }

  private async restoreSeen(campaignId: string, sinceMs: number): Promise<void> {
    let after = '';
    for (;;) {
      const seen = await this.o.records.generations.seenEvents(campaignId, sinceMs, after, SEED_CHUNK);
      if (seen.length > 0) await this.o.inner.applySpend(seen);
      if (seen.length < SEED_CHUNK) return;
      after = seen[seen.length - 1]!.eventId;
    }
  }

  /** Runs a PostgreSQL operation of the request or spend path, keeping its outcome for /health. */
  private async recorded<T>(op: () => Promise<T>): Promise<T> {
    try {
      const out = await op();
      this.recordsOkAtMs = this.o.clock.nowMs();
      return out;
    } catch (err) {
      this.recordsError = {
        message: err instanceof Error ? err.message : String(err),
        atMs: this.o.clock.nowMs(),
      };
      throw err;
    }
  }

  // --- BudgetStore ----------------------------------------------------------------------------

  async applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    await this.guard();
    const generation = this.generation!;
    if (this.o.writer !== null) {
      const inner = this.o.inner;
      const outcomes = inner.applySpendCountedBy
        ? await inner.applySpendCountedBy(records)
        : (await inner.applySpend(records)).map((a) => (a ? (true as const) : null));
      const counted: GenerationSpend[] = [];
      for (let i = 0; i < records.length; i++) {
        const o = outcomes[i]!;
        const record = records[i]!;
        if (o === true) counted.push({ record, generation });
        else if (o !== null) {
          // A duplicate goes to the history too, as what its marker says was counted (instance,
          // amount, day, hour; not what the retry says): that count may have no history write
          // behind it. Counted by this instance in a call that failed here (a timeout while
          // Redis was slow, then journaled and replayed: chaos seed 925), or by a peer killed
          // between Redis and its history log (the exchange retried here, and a duplicate is an
          // acknowledgement: chaos seed 113027). Either way a repair of an emptied Redis would
          // not know that spend. PostgreSQL keeps an event id once.
          counted.push({
            record: {
              ...record,
              instanceId: o.instanceId,
              spendMicros: o.spendMicros ?? record.spendMicros,
              dayKey: o.dayKey ?? record.dayKey,
              hourIndex: o.hourIndex ?? record.hourIndex,
            },
            generation,
          });
        }
      }
      // Durable here before the notices are acknowledged: see HistoryWal.
      await this.o.writer.addDurably(counted);
      return outcomes.map((o) => o === true);
    }
    let fresh: boolean[];
    try {
      fresh = await this.recorded(() =>
        this.o.records.history.recordSpend(
          records.map((record) => ({ record, generation })),
          this.o.clock.nowMs(),
        ),
      );
    } catch (err) {
      throw new StoreUnavailableError('PGlite could not store spend', { cause: err });
    }
    const applied = await this.o.inner.applySpend(records.filter((_, i) => fresh[i]));
    let j = 0;
    return fresh.map((f) => (f ? applied[j++]! : false));
  }

  async acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    await this.guard();
    if (this.monotonicMs() < this.leaseGraceUntil) return requests.map(() => 0);
    return this.o.inner.acquireLeases(requests);
  }

  private monotonicMs(): number {
    return this.o.monotonicMs?.() ?? this.o.clock.nowMs();
  }

  async returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    await this.guard();
    return this.o.inner.returnLease(ref, instanceId, micros);
  }

  async readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    await this.guard();
    return this.o.inner.readDays(refs);
  }

  async putCampaign(campaign: Campaign): Promise<void> {
    try {
      await this.recorded(() =>
        this.o.records.campaigns.put(campaign, currentActor(this.o.instanceId), this.o.clock.nowMs()),
      );
    } catch (err) {
      throw new RecordsUnavailableError({ cause: err });
    }
    await this.o.inner.putCampaign(campaign);
  }

  getCampaign(id: string): Promise<Campaign | null> {
    return this.o.inner.getCampaign(id);
  }

  async deleteCampaign(id: string): Promise<boolean> {
    let existed: boolean;
    try {
      existed = await this.recorded(() =>
        this.o.records.campaigns.delete(id, currentActor(this.o.instanceId), this.o.clock.nowMs()),
      );
    } catch (err) {
      throw new RecordsUnavailableError({ cause: err });
    }
    return (await this.o.inner.deleteCampaign(id)) || existed;
  }

  /**
   * The history a kill -9 of this instance's previous run left unwritten needs nothing here: every
   * counted notice was in the history log before it was acknowledged (written at start), and a
   * count whose answer never came is written when its notice is retried, as a duplicate. The
   * amount-level correction that used to run here (Redis' per-instance figure minus PostgreSQL's)
   * wrote such a retried notice a second time (review of chaos seed 113027's fix).
   */
  async listCampaigns(): Promise<Campaign[]> {
    await this.guard();
    return this.o.inner.listCampaigns();
  }

  saveBreaker(campaignId: string, snapshot: BreakerSnapshot): Promise<void> {
    return this.o.inner.saveBreaker(campaignId, snapshot);
  }

  loadBreaker(campaignId: string): Promise<BreakerSnapshot | null> {
    return this.o.inner.loadBreaker(campaignId);
  }

  async ping(): Promise<void> {
    await this.o.inner.ping();
    await this.guard();
  }

  /** Writes (or spills) the history still queued, then closes the hot store, marker and database. */
  async close(): Promise<void> {
    await this.stopRepairs();
    await this.o.writer?.close();
    await this.o.activity?.close();
    await this.o.inner.close();
    await this.o.marker.close();
    await this.o.records.close();
  }
}
