import type { SimClock } from './clock';
import type { Fleet } from './fleet';
import type { NoticeRouter } from './notices';
import type { StoreLatency } from './storeLatency';

/**
 * Faults of a run beyond store latency: store outages (the FaultInjectingStore fails calls inside
 * their windows; the engine only tracks whether one is on, for the scores) and instance crashes
 * with their restarts.
 */
export class Faults {
  inOutage = false;

  constructor(
    private readonly outages: readonly (readonly [number, number])[],
    private readonly fleet: Fleet,
    private readonly notices: NoticeRouter,
    private readonly latency: StoreLatency,
    private readonly clock: SimClock,
  ) {}

  outageStarts(): void {
    this.inOutage = true;
  }

  /** Outage windows may overlap: one ending leaves the flag on while another still runs. */
  outageEnds(): void {
    const now = this.clock.nowMs;
    this.inOutage = this.outages.some(([a, b]) => now >= a && now < b);
  }

  /** Instance `i` crashes: its local state is gone; notices it had not made safe are delivered again. */
  crash(i: number): void {
    this.fleet.retire(i);
    this.notices.redeliverUnsafe(i);
  }

  /** Instance `i` comes back: a new incarnation with the same id and journal, restored first. */
  async restart(i: number): Promise<void> {
    const fleet = this.fleet;
    const nowMs = this.clock.nowMs;
    const inst = fleet.start(i);
    const fresh = fleet.load(inst, nowMs);
    // Restore answers at once: a restart is not also a study of latency.
    await this.latency.instantly(() => inst.restore(nowMs));
    fleet.replace(i, inst, fresh, nowMs);
    this.notices.deliverHeld();
  }
}
