import {
  type BudgetStore,
  type DayKeyRef,
  type LeaseRequest,
  MemoryStore,
  type SpendRecord,
  StoreUnavailableError,
} from '../../core/index';

/**
 * A MemoryStore that can be switched off (every call rejects as Redis down would) or made to
 * lose the replies of applySpend after applying it (a timeout after Redis did the work).
 */
export class FlakyStore implements BudgetStore {
  readonly inner = new MemoryStore();
  down = false;
  loseApplyReplies = 0;
  /** Every record the store counted, in order: exactly-once checks read this. */
  readonly counted: SpendRecord[] = [];
  applyCalls = 0;

  private check(): void {
    if (this.down) throw new StoreUnavailableError('test store is down');
  }

  async applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    this.check();
    this.applyCalls++;
    const res = await this.inner.applySpend(records);
    records.forEach((r, i) => {
      if (res[i]) this.counted.push(r);
    });
    if (this.loseApplyReplies > 0) {
      this.loseApplyReplies--;
      throw new StoreUnavailableError('test store: reply lost after applying');
    }
    return res;
  }
  async acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    this.check();
    return this.inner.acquireLeases(requests);
  }
  async returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    this.check();
    return this.inner.returnLease(ref, instanceId, micros);
  }
  async readDays(refs: readonly DayKeyRef[]) {
    this.check();
    return this.inner.readDays(refs);
  }
  async putCampaign(c: Parameters<BudgetStore['putCampaign']>[0]) {
    this.check();
    return this.inner.putCampaign(c);
  }
  async getCampaign(id: string) {
    this.check();
    return this.inner.getCampaign(id);
  }
  async deleteCampaign(id: string) {
    this.check();
    return this.inner.deleteCampaign(id);
  }
  async listCampaigns() {
    this.check();
    return this.inner.listCampaigns();
  }
  async saveBreaker(id: string, s: Parameters<BudgetStore['saveBreaker']>[1]) {
    this.check();
    return this.inner.saveBreaker(id, s);
  }
  async loadBreaker(id: string) {
    this.check();
    return this.inner.loadBreaker(id);
  }
  async ping() {
    this.check();
  }
  async close() {}
}
