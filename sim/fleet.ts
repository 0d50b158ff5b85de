import {
  type BudgetStore,
  type Campaign,
  MemoryJournal,
  type PacerConfig,
  PacerInstance,
  type PacingState,
} from '../core/index';
import type { Scenario } from './scenario';

/**
 * The pacer instances sharing one store, as a server fleet does: which are up, which incarnation
 * each runs, and how requests are spread over them (round robin, skipping the ones down).
 */
export class Fleet {
  readonly count: number;
  readonly instances: PacerInstance[] = [];
  /** Per instance, its state of each campaign (campaign index order). */
  readonly states: PacingState[][] = [];
  /** 0 while the instance is down. */
  readonly up: Uint8Array;
  /** When each instance's current incarnation started: a reservation made before it died with it. */
  readonly bornAtMs: Float64Array;
  /** One journal per instance id: it outlives a crash, as a file journal does. */
  readonly journals: MemoryJournal[];
  /** Breaker trips, store errors and replays of incarnations that crashed. */
  readonly tripsCarried: Float64Array;
  storeErrorsCarried = 0;
  replayedCarried = 0;
  requestsRerouted = 0;
  requestsLost = 0;
  private roundRobin = 0;

  constructor(
    private readonly campaigns: readonly Campaign[],
    private readonly store: BudgetStore,
    private readonly config: PacerConfig,
    private readonly spec: Scenario['instances'],
    startMs: number,
  ) {
    const n = spec.count;
    this.count = n;
    this.up = new Uint8Array(n).fill(1);
    this.bornAtMs = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.journals = Array.from({ length: n }, () => new MemoryJournal());
    this.tripsCarried = new Float64Array(campaigns.length);
    for (let i = 0; i < n; i++) {
      const inst = this.start(i);
      this.states.push(this.load(inst, startMs));
      this.instances.push(inst);
    }
  }

  /** A new incarnation of instance `i`: same id and journal, nothing else. */
  start(i: number): PacerInstance {
    return new PacerInstance({
      instanceId: `i${i}`,
      store: this.store,
      journal: this.journals[i]!,
      config: this.config,
      leaseHorizonMs: this.spec.leaseHorizonMs,
      minLeaseShare: this.spec.minLeaseShare,
      // A notice reaches an incarnation at most once (a retry goes to another instance or a new
      // incarnation), so local duplicate detection never fires here; the store still dedups.
      recentEventIds: 0,
    });
  }

  /** Loads every campaign into `inst`; returns its states in campaign order. */
  load(inst: PacerInstance, nowMs: number): PacingState[] {
    return this.campaigns.map((c) => inst.upsertCampaign(c, nowMs));
  }

  /** The instance the next request goes to, or -1 when every instance is down. */
  route(): number {
    const n = this.count;
    const i = n === 1 ? 0 : this.roundRobin++ % n;
    if (this.up[i] === 1) return i;
    const j = this.nextUp(i);
    if (j < 0) this.requestsLost++;
    else this.requestsRerouted++;
    return j;
  }

  /** The first instance up after `i` in round-robin order, or -1 when all are down. */
  nextUp(i: number): number {
    const n = this.count;
    for (let d = 1; d < n; d++) {
      const j = (i + d) % n;
      if (this.up[j] === 1) return j;
    }
    return -1;
  }

  /** Instance `i` dies: its counters are kept, its local state is gone. */
  retire(i: number): void {
    this.up[i] = 0;
    const dead = this.instances[i]!;
    this.storeErrorsCarried += dead.storeErrors;
    this.replayedCarried += dead.replayedRecords;
    const states = this.states[i]!;
    for (let c = 0; c < states.length; c++)
      this.tripsCarried[c] = this.tripsCarried[c]! + states[c]!.breaker.trips;
  }

  /** A restored incarnation takes instance `i`'s place. */
  replace(i: number, inst: PacerInstance, states: PacingState[], nowMs: number): void {
    this.instances[i] = inst;
    this.states[i] = states;
    this.bornAtMs[i] = nowMs;
    this.up[i] = 1;
  }

  /** Breaker trips of campaign `c` so far, over every incarnation. */
  tripsOf(c: number): number {
    let trips = this.tripsCarried[c]!;
    for (let i = 0; i < this.count; i++) if (this.up[i] === 1) trips += this.states[i]![c]!.breaker.trips;
    return trips;
  }

  storeErrors(): number {
    let n = this.storeErrorsCarried;
    for (const inst of this.instances) n += inst.storeErrors;
    return n;
  }

  replayedRecords(): number {
    let n = this.replayedCarried;
    for (const inst of this.instances) n += inst.replayedRecords;
    return n;
  }
}
