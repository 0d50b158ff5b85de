import type { BudgetStore } from '../core/index';
import type { OutageReconciliation } from './algorithmRun';
import type { SimClock } from './clock';
import type { Fleet } from './fleet';
import { SimInvariantError } from './invariants';
import { addDays } from './localDays';
import type { NoticeRouter } from './notices';
import type { Recorder } from './recorder';
import type { StoreLatency } from './storeLatency';

/**
 * Compares the shared store with the spend made: after each outage (every instance synced,
 * nothing may be lost or counted twice) and at the end of the run (every instance flushed).
 */
export class Reconciler {
  readonly outageReconciliations: OutageReconciliation[] = [];
  private readonly ids: readonly string[];
  /** Local dates of the run's days: every campaign's day d is startDate + d in its own zone. */
  private readonly dayKeys: readonly string[];
  /** The local date after the last: where the core books late notices. */
  private readonly afterRunKey: string;

  constructor(
    campaignIds: readonly string[],
    startDate: string,
    private readonly days: number,
    /** The store itself, not its latent front: the engine reads it at once. */
    private readonly store: BudgetStore,
    private readonly outages: readonly (readonly [number, number])[],
    private readonly fleet: Fleet,
    private readonly notices: NoticeRouter,
    private readonly latency: StoreLatency,
    private readonly rec: Recorder,
    private readonly clock: SimClock,
  ) {
    this.ids = campaignIds;
    this.dayKeys = Array.from({ length: days }, (_, d) => addDays(startDate, d));
    this.afterRunKey = addDays(startDate, days);
  }

  /** One sync round of instance `i`; spend booked before it is then applied or journaled. */
  async sync(i: number): Promise<void> {
    const inst = this.fleet.instances[i]!;
    await inst.sync(this.clock.nowMs);
    this.notices.madeSafe(i, inst);
  }

  /** Flushes every instance up, then records whether the store holds the spend made so far. */
  async afterOutage(): Promise<void> {
    const fleet = this.fleet;
    await this.latency.suspend();
    for (let i = 0; i < fleet.count; i++) if (fleet.up[i] === 1) await this.sync(i);
    this.latency.resume();
    const pending =
      this.notices.heldCount > 0 ||
      fleet.journals.some((j) => j.size > 0) ||
      fleet.instances.some((inst, i) => fleet.up[i] === 1 && (inst.unsyncedRecords > 0 || inst.degraded));
    const refs = this.ids.flatMap((campaignId) => this.dayKeys.map((dayKey) => ({ campaignId, dayKey })));
    const snaps = await this.store.readDays(refs);
    let mismatch = 0;
    for (let k = 0; k < snaps.length; k++)
      mismatch += Math.abs(snaps[k]!.spentMicros - this.rec.spendMicros[k]!);
    const nowMs = this.clock.nowMs;
    const [a, b] = this.outages.filter(([, end]) => end <= nowMs).at(-1)!;
    this.outageReconciliations.push({
      outageStartMs: a,
      outageEndMs: b,
      checkedAtMs: nowMs,
      reconciled: !pending && mismatch === 0,
      mismatchMicros: mismatch,
    });
  }

  /**
   * After the last event: every instance syncs until its spend is in the store (the last outage
   * is over by then); returns what the store holds per campaign-day, and after the run.
   */
  async settle(syncIntervalMs: number): Promise<{ store: Float64Array; afterRun: Float64Array }> {
    const clock = this.clock;
    await this.latency.suspend();
    const lastOutageEnd = this.outages.length > 0 ? this.outages[this.outages.length - 1]![1] : 0;
    if (clock.nowMs < lastOutageEnd) clock.nowMs = lastOutageEnd;
    for (const inst of this.fleet.instances) {
      for (
        let tries = 0;
        tries < 10 && (inst.unsyncedRecords > 0 || inst.journaledRecords > 0 || inst.degraded);
        tries++
      ) {
        clock.nowMs += syncIntervalMs;
        await inst.sync(clock.nowMs);
      }
      if (inst.unsyncedRecords > 0 || inst.journaledRecords > 0)
        throw new SimInvariantError(`instance ${inst.instanceId} could not hand its spend to the store`);
    }
    const days = this.days;
    const keys = [...this.dayKeys, this.afterRunKey];
    const refs = this.ids.flatMap((campaignId) => keys.map((dayKey) => ({ campaignId, dayKey })));
    const snaps = await this.store.readDays(refs);
    const nC = this.ids.length;
    const store = new Float64Array(nC * days);
    const afterRun = new Float64Array(nC);
    for (let c = 0; c < nC; c++) {
      for (let d = 0; d < days; d++) store[c * days + d] = snaps[c * (days + 1) + d]!.spentMicros;
      afterRun[c] = snaps[c * (days + 1) + days]!.spentMicros;
    }
    return { store, afterRun };
  }
}
