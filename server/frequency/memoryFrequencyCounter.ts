import type { Exposure, FrequencyCounter, FrequencyRef } from './frequencyCounter';

/** Exposure id -> until when it counts (Infinity once its impression came). */
type Exposures = Map<string, number>;

interface CampaignDay {
  dayKey: string;
  readonly byUser: Map<string, Exposures>;
}

/**
 * The counter of one process (the embedded store, and tests): per campaign only its latest local
 * day is kept, so memory holds today's users and no more. Instances do not share it, as they do
 * not share budgets on the embedded store.
 */
export class MemoryFrequencyCounter implements FrequencyCounter {
  private readonly byCampaign = new Map<string, CampaignDay>();

  async counts(refs: readonly FrequencyRef[], nowMs: number): Promise<number[]> {
    return refs.map((r) => this.count(r, nowMs));
  }

  async confirmImpressions(items: readonly Exposure[]): Promise<void> {
    for (const item of items) this.exposures(item, true)?.set(item.exposureId, Number.POSITIVE_INFINITY);
  }

  async takeImpression(e: Exposure, cap: number, nowMs: number, untilMs: number): Promise<boolean> {
    if (this.count(e, nowMs) >= cap) return false;
    const mine = this.exposures(e, true);
    if (mine !== undefined && !mine.has(e.exposureId)) mine.set(e.exposureId, untilMs);
    return true;
  }

  async close(): Promise<void> {}

  /** Counts what is current, dropping pending exposures whose impression never came. */
  private count(r: FrequencyRef, nowMs: number): number {
    const mine = this.exposures(r, false);
    if (mine === undefined) return 0;
    for (const [id, until] of mine) if (until <= nowMs) mine.delete(id);
    return mine.size;
  }

  private exposures(r: FrequencyRef, create: boolean): Exposures | undefined {
    let day = this.byCampaign.get(r.campaignId);
    if (day === undefined || day.dayKey !== r.dayKey) {
      // Day keys are ISO dates: a later day compares greater. An older one is a late event, not counted.
      if (!create || (day !== undefined && r.dayKey < day.dayKey)) return undefined;
      day = { dayKey: r.dayKey, byUser: new Map() };
      this.byCampaign.set(r.campaignId, day);
    }
    let mine = day.byUser.get(r.userId);
    if (mine === undefined && create) {
      mine = new Map();
      day.byUser.set(r.userId, mine);
    }
    return mine;
  }
}
