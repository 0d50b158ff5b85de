import { type DayWindow, dayWindowAt } from '../../core/dayWindow';

/**
 * Impressions per user, campaign and local day of the campaign: what a frequency cap is checked
 * against. Caps are counted from impressions (POST /events), each exposure once: an exposure is
 * the bid it came from (`bid_id` of the impression event, the `id` of the bid /bid answered) or,
 * for an impression without one, its event id. Between a won bid and its impression the bid
 * counts as a pending exposure for `PENDING_IMPRESSION_MS`, so a user cannot be shown a capped
 * campaign again while its impression is on the way; the impression then confirms that same
 * exposure (not a second one), and a win whose impression never comes stops counting.
 */
export interface FrequencyRef {
  readonly campaignId: string;
  readonly userId: string;
  /** The campaign's local date (YYYY-MM-DD): see `frequencyDayKey`. */
  readonly dayKey: string;
}

export interface Exposure extends FrequencyRef {
  /** The bid id of the impression, else `e:<event id>`: the same exposure counts once. */
  readonly exposureId: string;
}

/** How long a won bid counts toward its user's cap without its impression. */
export const PENDING_IMPRESSION_MS = 10 * 60_000;

export interface FrequencyCounter {
  /**
   * Exposures so far (impressions, and wins still waiting for theirs at `nowMs`), one number per
   * ref, in order. Rejects when the store is away.
   */
  counts(refs: readonly FrequencyRef[], nowMs: number): Promise<number[]>;
  /** Impressions (the event pipeline's path): idempotent by exposure id, so a re-delivery is safe. */
  confirmImpressions(items: readonly Exposure[]): Promise<void>;
  /**
   * Counts a won bid as an exposure until `untilMs` (now + PENDING_IMPRESSION_MS while its
   * impression is awaited from POST /events; Infinity where no event pipeline runs, so the win
   * counts all day) only if the user is still below `cap`, atomically across every instance
   * sharing the store: two instances racing for a user's last impression cannot both get it.
   */
  takeImpression(exposure: Exposure, cap: number, nowMs: number, untilMs: number): Promise<boolean>;
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
