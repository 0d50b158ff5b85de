import type { Exposure } from '../frequency/frequencyCounter';

/**
 * One delivery event of the pipeline, as validated at the edge and stamped with the hour bucket
 * of its campaign's day (the campaign's time zone decides the day, as for spend).
 */
export const AD_EVENT_TYPES = ['impression', 'click', 'conversion'] as const;
export type AdEventType = (typeof AD_EVENT_TYPES)[number];

export interface AdEvent {
  readonly eventId: string;
  readonly type: AdEventType;
  readonly campaignId: string;
  /** Absent for anonymous traffic: such impressions count, but no frequency cap can see them. */
  readonly userId: string | null;
  /** When it happened (the sender's timestamp, else when the server received it). */
  readonly atMs: number;
  /** The campaign's local date and elapsed hour (0..24) of `atMs`. */
  readonly dayKey: string;
  readonly hourIndex: number;
  /** The bid an impression came from (POST /bid's bid id), when the sender says. */
  readonly bidId: string | null;
}

/**
 * What the frequency caps learn from the pipeline: impressions of known users, as exposures (the
 * bid id, else the event id), so that a re-delivered batch changes nothing. The consumer awaits
 * the hook before it acknowledges: a failure re-delivers the batch instead of losing the count.
 */
export type ImpressionsHook = (items: Exposure[]) => Promise<void>;

/** The default hook: nothing listens. */
export const noImpressionsHook: ImpressionsHook = async () => {};

/** The impressions of a batch that carry a user id, as exposures for the caps. */
export function impressionItems(events: readonly AdEvent[]): Exposure[] {
  const out: Exposure[] = [];
  for (const e of events) {
    if (e.type === 'impression' && e.userId !== null) {
      out.push({
        campaignId: e.campaignId,
        userId: e.userId,
        dayKey: e.dayKey,
        exposureId: e.bidId ?? `e:${e.eventId}`,
      });
    }
  }
  return out;
}
