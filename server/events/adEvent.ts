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
}

/** What the frequency caps learn from the consumer: impressions of known users, once each. */
export interface ImpressionItem {
  readonly campaignId: string;
  readonly userId: string;
  readonly atMs: number;
}

export type ImpressionsHook = (items: ImpressionItem[]) => void;

/** The default hook: nothing listens yet. */
export const noImpressionsHook: ImpressionsHook = () => {};

/** The impressions of a batch that carry a user id, in the hook's shape. */
export function impressionItems(events: readonly AdEvent[]): ImpressionItem[] {
  const out: ImpressionItem[] = [];
  for (const e of events) {
    if (e.type === 'impression' && e.userId !== null) {
      out.push({ campaignId: e.campaignId, userId: e.userId, atMs: e.atMs });
    }
  }
  return out;
}
