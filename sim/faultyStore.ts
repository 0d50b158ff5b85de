import {
  type BreakerSnapshot,
  type BudgetStore,
  type Campaign,
  type DayKeyRef,
  type DaySnapshot,
  type LeaseRequest,
  type SpendRecord,
  StoreUnavailableError,
} from '../core/index';

/**
 * A BudgetStore that is unreachable inside outage windows of simulated time: every call rejects
 * with StoreUnavailableError, as the Redis store does when its connection is down. Outside the
 * windows it passes calls through to the wrapped store.
 */
export class FaultInjectingStore implements BudgetStore {
  /** Calls refused because the store was down. */
  refusedCalls = 0;

  constructor(
    private readonly inner: BudgetStore,
    /** [startMs, endMs) windows, sorted. */
    private readonly outages: readonly (readonly [number, number])[],
    private readonly clock: () => number,
  ) {}

  isDown(nowMs: number): boolean {
    for (const [a, b] of this.outages) if (nowMs >= a && nowMs < b) return true;
    return false;
  }

  private gate(): void {
    if (this.isDown(this.clock())) {
      this.refusedCalls++;
      throw new StoreUnavailableError('simulated store outage');
    }
  }

  async applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    this.gate();
    return this.inner.applySpend(records);
  }
  async acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    this.gate();
    return this.inner.acquireLeases(requests);
  }
  async returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    this.gate();
    return this.inner.returnLease(ref, instanceId, micros);
  }
  async readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    this.gate();
    return this.inner.readDays(refs);
  }
  async putCampaign(campaign: Campaign): Promise<void> {
    this.gate();
    return this.inner.putCampaign(campaign);
  }
  async getCampaign(id: string): Promise<Campaign | null> {
    this.gate();
    return this.inner.getCampaign(id);
  }
  async deleteCampaign(id: string): Promise<boolean> {
    this.gate();
    return this.inner.deleteCampaign(id);
  }
  async listCampaigns(): Promise<Campaign[]> {
    this.gate();
    return this.inner.listCampaigns();
  }
  async saveBreaker(campaignId: string, snapshot: BreakerSnapshot): Promise<void> {
    this.gate();
    return this.inner.saveBreaker(campaignId, snapshot);
  }
  async loadBreaker(campaignId: string): Promise<BreakerSnapshot | null> {
    this.gate();
    return this.inner.loadBreaker(campaignId);
  }
  async ping(): Promise<void> {
    this.gate();
  }
  async close(): Promise<void> {
    return this.inner.close();
  }
}
