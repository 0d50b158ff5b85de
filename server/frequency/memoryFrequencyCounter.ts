import type { FrequencyCounter, FrequencyRef, ImpressionItem } from './frequencyCounter';

interface CampaignDay {
  dayKey: string;
  readonly byUser: Map<string, number>;
}

/**
 * The counter of one process (the embedded store, and tests): per campaign only its latest local
 * day is kept, so memory holds today's users and no more. Instances do not share it, as they do
 * not share budgets on the embedded store.
 */
export class MemoryFrequencyCounter implements FrequencyCounter {
  private readonly byCampaign = new Map<string, CampaignDay>();

  async counts(refs: readonly FrequencyRef[]): Promise<number[]> {
    return refs.map((r) => this.count(r));
  }

  async recordImpressions(items: readonly ImpressionItem[]): Promise<void> {
    for (const item of items) this.add(item, item.count ?? 1);
  }

  async takeImpression(ref: FrequencyRef, cap: number): Promise<boolean> {
    if (this.count(ref) >= cap) return false;
    this.add(ref, 1);
    return true;
  }

  async close(): Promise<void> {}

  private count(r: FrequencyRef): number {
    const day = this.byCampaign.get(r.campaignId);
    return day === undefined || day.dayKey !== r.dayKey ? 0 : (day.byUser.get(r.userId) ?? 0);
  }

  private add(r: FrequencyRef, n: number): void {
    let day = this.byCampaign.get(r.campaignId);
    // Day keys are ISO dates: a later day compares greater. An older one is a late event, not counted.
    if (day !== undefined && r.dayKey < day.dayKey) return;
    if (day === undefined || r.dayKey > day.dayKey) {
      day = { dayKey: r.dayKey, byUser: new Map() };
      this.byCampaign.set(r.campaignId, day);
    }
    day.byUser.set(r.userId, (day.byUser.get(r.userId) ?? 0) + n);
  }
}
