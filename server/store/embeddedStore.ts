import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BreakerSnapshot } from '../../core/breaker';
import type { Campaign } from '../../core/campaign';
import { MemoryStore } from '../../core/memoryStore';
import type { BudgetStore, DayKeyRef, DaySnapshot, LeaseRequest, SpendRecord } from '../../core/store';

/**
 * The embedded store of a server run without REDIS_URL: core's MemoryStore, with one turn of the
 * event loop before each call. MemoryStore answers with already-resolved promises, so without
 * this a whole sync round (flush, lease top-up, peer read over every active campaign) would run
 * as one synchronous block, up to 10-20 ms with thousands of active campaigns, and decisions
 * would queue behind it; with Redis the round is split by its round trips. Each call still
 * completes in one step, so it stays atomic, and the runtime serialises its calls as before.
 */
export class EmbeddedStore implements BudgetStore {
  constructor(private readonly inner: BudgetStore = new MemoryStore()) {}

  async applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    await nextTurn();
    return this.inner.applySpend(records);
  }
  async acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    await nextTurn();
    return this.inner.acquireLeases(requests);
  }
  async returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    await nextTurn();
    return this.inner.returnLease(ref, instanceId, micros);
  }
  async readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    await nextTurn();
    return this.inner.readDays(refs);
  }
  async putCampaign(campaign: Campaign): Promise<void> {
    await nextTurn();
    return this.inner.putCampaign(campaign);
  }
  async getCampaign(id: string): Promise<Campaign | null> {
    await nextTurn();
    return this.inner.getCampaign(id);
  }
  async deleteCampaign(id: string): Promise<boolean> {
    await nextTurn();
    return this.inner.deleteCampaign(id);
  }
  async listCampaigns(): Promise<Campaign[]> {
    await nextTurn();
    return this.inner.listCampaigns();
  }
  async saveBreaker(campaignId: string, snapshot: BreakerSnapshot): Promise<void> {
    await nextTurn();
    return this.inner.saveBreaker(campaignId, snapshot);
  }
  async loadBreaker(campaignId: string): Promise<BreakerSnapshot | null> {
    await nextTurn();
    return this.inner.loadBreaker(campaignId);
  }
  async ping(): Promise<void> {
    await nextTurn();
    return this.inner.ping();
  }
  async close(): Promise<void> {
    return this.inner.close();
  }
}
