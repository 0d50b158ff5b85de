import type { BreakerSnapshot } from './breaker';
import type { Campaign } from './campaign';
import {
  type BudgetStore,
  type DayKeyRef,
  type DaySnapshot,
  HOUR_BUCKETS,
  type LeaseRequest,
  type SpendRecord,
} from './store';

interface DayRow {
  spentMicros: number;
  hourSpentMicros: number[];
  leasedMicros: number;
  leasedByInstance: Map<string, number>;
  spentByInstance: Map<string, number>;
}

/** Days of event ids kept per campaign for deduplication (today and yesterday's late notices). */
const DEDUP_DAYS = 3;

/**
 * The store in process memory: the simulator's shared store and the server's embedded default.
 * Each call completes as one step, as a Lua script does in Redis, so it is atomic by construction.
 */
export class MemoryStore implements BudgetStore {
  private readonly days = new Map<string, DayRow>();
  private readonly totals = new Map<string, number>();
  private readonly seen = new Map<string, Map<string, Set<string>>>();
  private readonly campaigns = new Map<string, Campaign>();
  private readonly breakers = new Map<string, BreakerSnapshot>();

  private row(campaignId: string, dayKey: string): DayRow {
    const k = `${campaignId}\u0000${dayKey}`;
    let r = this.days.get(k);
    if (r === undefined) {
      r = {
        spentMicros: 0,
        hourSpentMicros: new Array<number>(HOUR_BUCKETS).fill(0),
        leasedMicros: 0,
        leasedByInstance: new Map(),
        spentByInstance: new Map(),
      };
      this.days.set(k, r);
    }
    return r;
  }

  private seenSet(campaignId: string, dayKey: string): Set<string> {
    let byDay = this.seen.get(campaignId);
    if (byDay === undefined) {
      byDay = new Map();
      this.seen.set(campaignId, byDay);
    }
    let set = byDay.get(dayKey);
    if (set === undefined) {
      set = new Set();
      byDay.set(dayKey, set);
      if (byDay.size > DEDUP_DAYS) {
        const oldest = [...byDay.keys()].sort()[0]!;
        byDay.delete(oldest);
      }
    }
    return set;
  }

  private wasSeen(campaignId: string, eventId: string): boolean {
    const byDay = this.seen.get(campaignId);
    if (byDay === undefined) return false;
    for (const set of byDay.values()) if (set.has(eventId)) return true;
    return false;
  }

  async applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    return records.map((r) => {
      if (this.wasSeen(r.campaignId, r.eventId)) return false;
      this.seenSet(r.campaignId, r.dayKey).add(r.eventId);
      const row = this.row(r.campaignId, r.dayKey);
      row.spentMicros += r.spendMicros;
      const h = Math.min(Math.max(r.hourIndex, 0), HOUR_BUCKETS - 1);
      row.hourSpentMicros[h] = row.hourSpentMicros[h]! + r.spendMicros;
      row.spentByInstance.set(r.instanceId, (row.spentByInstance.get(r.instanceId) ?? 0) + r.spendMicros);
      this.totals.set(r.campaignId, (this.totals.get(r.campaignId) ?? 0) + r.spendMicros);
      return true;
    });
  }

  async acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    return requests.map((q) => {
      const row = this.row(q.campaignId, q.dayKey);
      const room = q.budgetMicros - row.leasedMicros;
      const granted = Math.max(0, Math.min(q.requestMicros, room));
      if (granted > 0) {
        row.leasedMicros += granted;
        row.leasedByInstance.set(q.instanceId, (row.leasedByInstance.get(q.instanceId) ?? 0) + granted);
      }
      return granted;
    });
  }

  async returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    const row = this.row(ref.campaignId, ref.dayKey);
    const held = row.leasedByInstance.get(instanceId) ?? 0;
    const back = Math.max(0, Math.min(micros, held));
    row.leasedByInstance.set(instanceId, held - back);
    row.leasedMicros -= back;
  }

  async readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    return refs.map((ref) => {
      const row = this.row(ref.campaignId, ref.dayKey);
      return {
        spentMicros: row.spentMicros,
        hourSpentMicros: [...row.hourSpentMicros],
        leasedMicros: row.leasedMicros,
        leasedByInstance: Object.fromEntries(row.leasedByInstance),
        spentByInstance: Object.fromEntries(row.spentByInstance),
        totalSpentMicros: this.totals.get(ref.campaignId) ?? 0,
      };
    });
  }

  async putCampaign(campaign: Campaign): Promise<void> {
    this.campaigns.set(campaign.id, campaign);
  }

  async getCampaign(id: string): Promise<Campaign | null> {
    return this.campaigns.get(id) ?? null;
  }

  async deleteCampaign(id: string): Promise<boolean> {
    this.breakers.delete(id);
    return this.campaigns.delete(id);
  }

  async listCampaigns(): Promise<Campaign[]> {
    return [...this.campaigns.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async saveBreaker(campaignId: string, snapshot: BreakerSnapshot): Promise<void> {
    this.breakers.set(campaignId, { ...snapshot });
  }

  async loadBreaker(campaignId: string): Promise<BreakerSnapshot | null> {
    const b = this.breakers.get(campaignId);
    return b ? { ...b } : null;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
