import type {
  BreakerSnapshot,
  BudgetStore,
  Campaign,
  DayKeyRef,
  DaySnapshot,
  LeaseRequest,
  SpendRecord,
} from '../core/index';

/**
 * A BudgetStore whose calls take time in simulated time. A call runs against the wrapped store at
 * once (it sees the store as it is when sent, as Redis does) but its result reaches the caller only
 * when the engine calls `release` for it, at `nowMs + delayMs(nowMs)`; until then the caller
 * decides on the state it had. With a delay of 0 (outside the latency window) a call passes
 * straight through.
 */
export class LatentStore implements BudgetStore {
  private readonly waiting = new Map<number, () => void>();
  private nextId = 0;
  /** While true every call passes through (reconciliation checks, restarts, the end of the run). */
  instant = false;

  constructor(
    private readonly inner: BudgetStore,
    private readonly clock: () => number,
    /** Delay for a call sent at `nowMs`; 0 for none. */
    private readonly delayMs: (nowMs: number) => number,
    /** Asks the engine to call `release(id)` at `atMs`. */
    private readonly schedule: (atMs: number, id: number) => void,
  ) {}

  /** Calls sent and not yet answered. */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Delivers the answer of call `id`; false if it was already delivered. */
  release(id: number): boolean {
    const deliver = this.waiting.get(id);
    if (deliver === undefined) return false;
    this.waiting.delete(id);
    deliver();
    return true;
  }

  /** Delivers every answer still in flight, oldest first. */
  releaseAll(): void {
    for (const id of [...this.waiting.keys()]) this.release(id);
  }

  private later<T>(call: () => Promise<T>): Promise<T> {
    const now = this.clock();
    const delay = this.instant ? 0 : this.delayMs(now);
    if (delay <= 0) return call();
    const settled = call().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const id = this.nextId++;
    this.schedule(now + delay, id);
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, () => {
        void settled.then((r) => (r.ok ? resolve(r.value) : reject(r.error)));
      });
    });
  }

  applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    return this.later(() => this.inner.applySpend(records));
  }
  acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    return this.later(() => this.inner.acquireLeases(requests));
  }
  returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    return this.later(() => this.inner.returnLease(ref, instanceId, micros));
  }
  readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    return this.later(() => this.inner.readDays(refs));
  }
  putCampaign(campaign: Campaign): Promise<void> {
    return this.later(() => this.inner.putCampaign(campaign));
  }
  getCampaign(id: string): Promise<Campaign | null> {
    return this.later(() => this.inner.getCampaign(id));
  }
  deleteCampaign(id: string): Promise<boolean> {
    return this.later(() => this.inner.deleteCampaign(id));
  }
  listCampaigns(): Promise<Campaign[]> {
    return this.later(() => this.inner.listCampaigns());
  }
  saveBreaker(campaignId: string, snapshot: BreakerSnapshot): Promise<void> {
    return this.later(() => this.inner.saveBreaker(campaignId, snapshot));
  }
  loadBreaker(campaignId: string): Promise<BreakerSnapshot | null> {
    return this.later(() => this.inner.loadBreaker(campaignId));
  }
  ping(): Promise<void> {
    return this.later(() => this.inner.ping());
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
