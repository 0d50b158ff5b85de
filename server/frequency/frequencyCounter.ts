import { type DayWindow, dayWindowAt } from '../../core/dayWindow';

/**
 * Impressions per user, campaign and local day of the campaign: what a frequency cap is checked
 * against. The bid engine reads it for the capped campaigns a request matches and takes one
 * impression for the winner; the event pipeline (POST /events) adds impressions it ingests.
 */
export interface FrequencyRef {
  readonly campaignId: string;
  readonly userId: string;
  /** The campaign's local date (YYYY-MM-DD): see `frequencyDayKey`. */
  readonly dayKey: string;
}

export interface ImpressionItem extends FrequencyRef {
  /** Impressions to add; default 1. */
  readonly count?: number;
}

export interface FrequencyCounter {
  /** The impressions counted so far, one number per ref, in order. Rejects when the store is away. */
  counts(refs: readonly FrequencyRef[]): Promise<number[]>;
  /** Adds impressions unconditionally (the event pipeline's path). */
  recordImpressions(items: readonly ImpressionItem[]): Promise<void>;
  /**
   * Counts one impression only if the user is still below `cap`, atomically across every instance
   * sharing the store: two instances racing for a user's last impression cannot both get it.
   */
  takeImpression(ref: FrequencyRef, cap: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The day a cap counts in: the campaign's local day, the same day its budget resets. */
export function frequencyDayKey(timeZone: string, atMs: number): string {
  return dayWindowAt(timeZone, atMs).key;
}

/**
 * `frequencyDayKey` with each zone's current day remembered: computing a local date costs a few
 * Intl calls, and a bid for 10,000 campaigns asked for it once per capped candidate (most of the
 * route's CPU in the benchmark). The window is reused only while the instant lies inside it.
 */
export class FrequencyDays {
  private readonly windows = new Map<string, DayWindow>();

  keyAt(timeZone: string, atMs: number): string {
    const w = this.windows.get(timeZone);
    if (w !== undefined && atMs >= w.startMs && atMs < w.endMs) return w.key;
    const fresh = dayWindowAt(timeZone, atMs);
    this.windows.set(timeZone, fresh);
    return fresh.key;
  }
}

/**
 * A local day lasts at most 25 hours (DST): a counter idle that long belongs to a finished day,
 * whose key is never read again (the day key is part of it).
 */
export const FREQUENCY_TTL_SECONDS = 25 * 3600;
