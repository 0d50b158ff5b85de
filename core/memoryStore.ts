import type { BreakerSnapshot } from './breaker';
import type { Campaign } from './campaign';
import { DAY_MS } from './dayWindow';
import { EventIdSet } from './eventIdSet';
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
  /**
   * Frozen copies handed to snapshots, shared by every snapshot until the row changes: a sync
   * round reads a snapshot per active campaign every few seconds, most of them of rows unchanged
   * since the last read, and a snapshot cannot be changed by whoever holds it.
   */
  hoursCopy: readonly number[] | null;
  leasedCopy: Readonly<Record<string, number>> | null;
  spentCopy: Readonly<Record<string, number>> | null;
}

/** Everything the store holds for one campaign: found with one Map lookup by id, no key strings built. */
interface CampaignRows {
  readonly days: Map<string, DayRow>;
  /** Lifetime spend across all days. */
  totalSpentMicros: number;
  /** Event ids seen per day key, for the days inside the dedup window only. */
  readonly seen: Map<string, EventIdSet>;
  /** The sets of `seen`, for a duplicate check that allocates no iterator. */
  seenSets: EventIdSet[];
}

/** Days of event ids kept per campaign for deduplication (today and yesterday's late notices). */
const DEDUP_DAYS = 3;

function newRow(): DayRow {
  return {
    spentMicros: 0,
    hourSpentMicros: new Array<number>(HOUR_BUCKETS).fill(0),
    leasedMicros: 0,
    leasedByInstance: new Map(),
    spentByInstance: new Map(),
    hoursCopy: null,
    leasedCopy: null,
    spentCopy: null,
  };
}

function frozenRecordOf(m: Map<string, number>): Readonly<Record<string, number>> {
  const o: Record<string, number> = {};
  for (const [k, v] of m) {
    // defineProperty for the one key an assignment would not store as a plain key.
    if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true });
    else o[k] = v;
  }
  return Object.freeze(o);
}

/**
 * The store in process memory: the simulator's shared store and the server's embedded default.
 * Each call completes as one step, as a Lua script does in Redis, so it is atomic by construction.
 */
export class MemoryStore implements BudgetStore {
  private readonly byCampaign = new Map<string, CampaignRows>();
  private readonly campaigns = new Map<string, Campaign>();
  private readonly breakers = new Map<string, BreakerSnapshot>();

  private rowsOf(campaignId: string): CampaignRows {
    let c = this.byCampaign.get(campaignId);
    if (c === undefined) {
      c = { days: new Map(), totalSpentMicros: 0, seen: new Map(), seenSets: [] };
      this.byCampaign.set(campaignId, c);
    }
    return c;
  }

  private row(campaignId: string, dayKey: string): DayRow {
    const days = this.rowsOf(campaignId).days;
    let r = days.get(dayKey);
    if (r === undefined) {
      r = newRow();
      days.set(dayKey, r);
    }
    return r;
  }

  /**
   * The id set of a day. Ids are kept for the newest day held and the DEDUP_DAYS days before it
   * (Redis keeps its dedup keys three days); the set just created is never the one dropped, so a
   * late record for an older day is still caught when it is retried.
   */
  private seenSet(c: CampaignRows, dayKey: string): EventIdSet {
    let set = c.seen.get(dayKey);
    if (set === undefined) {
      set = new EventIdSet();
      c.seen.set(dayKey, set);
      let newest = dayKey;
      for (const k of c.seen.keys()) if (k > newest) newest = k;
      const oldestKeptMs = Date.parse(newest) - DEDUP_DAYS * DAY_MS;
      for (const k of [...c.seen.keys()]) if (k !== dayKey && Date.parse(k) < oldestKeptMs) c.seen.delete(k);
      c.seenSets = [...c.seen.values()];
    }
    return set;
  }

  /**
   * Notes `eventId` as seen on `dayKey`; false when it was seen already, on that day or on another
   * kept. The day's own set is tested by the add itself: one probe for the usual new id.
   */
  private firstSeen(c: CampaignRows, eventId: string, dayKey: string): boolean {
    // The other days first, as kept before this record: creating the day's set may drop the oldest.
    const own = c.seen.get(dayKey);
    const sets = c.seenSets;
    for (let i = 0; i < sets.length; i++) if (sets[i] !== own && sets[i]!.has(eventId)) return false;
    return (own ?? this.seenSet(c, dayKey)).addIfAbsent(eventId);
  }

  async applySpend(records: readonly SpendRecord[]): Promise<boolean[]> {
    const applied = new Array<boolean>(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const c = this.rowsOf(r.campaignId);
      if (!this.firstSeen(c, r.eventId, r.dayKey)) {
        applied[i] = false;
        continue;
      }
      let row = c.days.get(r.dayKey);
      if (row === undefined) {
        row = newRow();
        c.days.set(r.dayKey, row);
      }
      row.spentMicros += r.spendMicros;
      const h = Math.min(Math.max(r.hourIndex, 0), HOUR_BUCKETS - 1);
      row.hourSpentMicros[h] = row.hourSpentMicros[h]! + r.spendMicros;
      row.spentByInstance.set(r.instanceId, (row.spentByInstance.get(r.instanceId) ?? 0) + r.spendMicros);
      row.hoursCopy = null;
      row.spentCopy = null;
      c.totalSpentMicros += r.spendMicros;
      applied[i] = true;
    }
    return applied;
  }

  async acquireLeases(requests: readonly LeaseRequest[]): Promise<number[]> {
    return requests.map((q) => {
      const row = this.row(q.campaignId, q.dayKey);
      const room = q.budgetMicros - row.leasedMicros;
      const granted = Math.max(0, Math.min(q.requestMicros, room));
      if (granted > 0) {
        row.leasedMicros += granted;
        row.leasedByInstance.set(q.instanceId, (row.leasedByInstance.get(q.instanceId) ?? 0) + granted);
        row.leasedCopy = null;
      }
      return granted;
    });
  }

  async returnLease(ref: DayKeyRef, instanceId: string, micros: number): Promise<void> {
    const row = this.row(ref.campaignId, ref.dayKey);
    const held = row.leasedByInstance.get(instanceId) ?? 0;
    const back = Math.max(0, Math.min(micros, held));
    row.leasedByInstance.set(instanceId, held - back);
    row.leasedCopy = null;
    row.leasedMicros -= back;
  }

  async readDays(refs: readonly DayKeyRef[]): Promise<DaySnapshot[]> {
    const snaps = new Array<DaySnapshot>(refs.length);
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      const c = this.rowsOf(ref.campaignId);
      const row = this.row(ref.campaignId, ref.dayKey);
      if (row.hoursCopy === null) row.hoursCopy = Object.freeze(row.hourSpentMicros.slice());
      if (row.leasedCopy === null) row.leasedCopy = frozenRecordOf(row.leasedByInstance);
      if (row.spentCopy === null) row.spentCopy = frozenRecordOf(row.spentByInstance);
      snaps[i] = {
        spentMicros: row.spentMicros,
        hourSpentMicros: row.hoursCopy,
        leasedMicros: row.leasedMicros,
        leasedByInstance: row.leasedCopy,
        spentByInstance: row.spentCopy,
        totalSpentMicros: c.totalSpentMicros,
      };
    }
    return snaps;
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
