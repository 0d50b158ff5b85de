import type { Campaign } from '../../core/campaign';
import { type DayWindow, dayWindowAt, hourIndex } from '../../core/dayWindow';
import type { AdEvent } from './adEvent';
import { EventTimeError } from './eventErrors';
import type { AdEventBody } from './eventSchemas';

/**
 * How old an event may be: the Redis dedup window (3 days). Within it a repeat is caught before
 * it reaches the stream; the history store would catch an older one too, but a sender that late
 * has a problem worth an error.
 */
export const MAX_EVENT_AGE_MS = 3 * 86_400_000;
/** How far ahead of this server's clock an event may claim to be. */
export const MAX_EVENT_SKEW_MS = 5 * 60_000;

/**
 * Turns validated bodies into events: the time defaults to now, and each event gets the hour
 * bucket of its campaign's local day (the zone of a campaign cannot change, so the bucket of an
 * event is the same whenever and wherever it is computed). `campaignOf` has resolved every id.
 */
export function stampEvents(
  bodies: readonly AdEventBody[],
  campaignOf: (id: string) => Campaign,
  nowMs: number,
): AdEvent[] {
  // The day window of the last event per campaign: a batch mostly repeats a few campaigns and days.
  const windows = new Map<string, DayWindow>();
  return bodies.map((b) => {
    const atMs = b.at_ms ?? nowMs;
    if (atMs < nowMs - MAX_EVENT_AGE_MS || atMs > nowMs + MAX_EVENT_SKEW_MS) {
      throw new EventTimeError(b.event_id, atMs, nowMs - MAX_EVENT_AGE_MS, nowMs + MAX_EVENT_SKEW_MS);
    }
    let w = windows.get(b.campaign_id);
    if (w === undefined || atMs < w.startMs || atMs >= w.endMs) {
      w = dayWindowAt(campaignOf(b.campaign_id).timeZone, atMs);
      windows.set(b.campaign_id, w);
    }
    return {
      eventId: b.event_id,
      type: b.type,
      campaignId: b.campaign_id,
      userId: b.user_id ?? null,
      atMs,
      dayKey: w.key,
      hourIndex: hourIndex(w, atMs),
      bidId: b.bid_id ?? null,
    };
  });
}
