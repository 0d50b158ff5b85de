import { type BudgetStore, DAY_MS, type PacingMode } from '../core/index';
import type { SimClock } from './clock';
import { EVENT_KINDS, type EventQueue } from './eventQueue';
import { LatentStore } from './latentStore';
import { randStream } from './random';
import type { World } from './world';

/** Lets every promise chain the core has runnable finish (no real I/O is involved). */
export const drain = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Store latency: instances talk to the store through a LatentStore whose answers are events
 * (`storeReply`) in the queue. Without a latency fault the instances talk to the store directly.
 */
export class StoreLatency {
  /** What the instances call. */
  readonly store: BudgetStore;
  delayedStoreCalls = 0;
  private readonly latent: LatentStore | null;

  constructor(world: World, mode: PacingMode, inner: BudgetStore, clock: SimClock, q: EventQueue) {
    const lat = world.scenario.faults.latency;
    if (lat === undefined) {
      this.latent = null;
      this.store = inner;
      return;
    }
    const rand = randStream(world.seed, `latency/${mode}`);
    const fromMs = world.startMs + lat.fromMs;
    // A window to the end of `days` days is to the end of the run, which campaigns in other time
    // zones may make longer than that.
    const toMs = lat.toMs >= world.days * DAY_MS ? world.endMs : world.startMs + lat.toMs;
    this.latent = new LatentStore(
      inner,
      clock.now,
      (t) => {
        if (t < fromMs || t >= toMs) return 0;
        this.delayedStoreCalls++;
        return Math.max(1, Math.round(lat.meanMs + lat.jitterMs * (2 * rand() - 1)));
      },
      (atMs, id) => {
        q.instance[q.push(atMs, EVENT_KINDS.storeReply)] = id;
      },
    );
    this.store = this.latent;
  }

  /** True when store calls can take time: a sync round then runs across events. */
  get active(): boolean {
    return this.latent !== null;
  }

  /** Answers every store call in flight now and makes new calls answer at once, until `resume`. */
  async suspend(): Promise<void> {
    const latent = this.latent;
    if (latent === null) return;
    latent.instant = true;
    while (latent.inFlight > 0) {
      latent.releaseAll();
      await drain();
    }
  }

  resume(): void {
    if (this.latent !== null) this.latent.instant = false;
  }

  /** Runs `fn` with store calls answering at once, then restores the mode it found. */
  async instantly(fn: () => Promise<void>): Promise<void> {
    const latent = this.latent;
    const wasInstant = latent?.instant ?? false;
    if (latent !== null) latent.instant = true;
    await fn();
    if (latent !== null) latent.instant = wasInstant;
  }

  /** A storeReply event: delivers answer `id` and lets the round that waited on it run on. */
  async reply(id: number): Promise<void> {
    if (this.latent!.release(id)) await drain();
  }
}
