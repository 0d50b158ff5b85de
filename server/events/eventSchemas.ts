import { type Static, Type } from '@sinclair/typebox';
import { CAMPAIGN_ID_PATTERN } from '../../core/campaign';
import { Nullable, StringEnum } from '../http/schemas';
import { AD_EVENT_TYPES } from './adEvent';

/** Schemas of POST /events and GET /analytics/:campaignId: one per input, types derived from them. */

/** Largest batch one POST /events takes: a bounded transaction and Lua script per request. */
export const MAX_EVENTS_PER_BATCH = 1000;
/** Room for a full batch of events at their longest fields (~450 bytes each). */
export const EVENTS_BODY_LIMIT_BYTES = 1_048_576;
/** Longest range one /analytics call reports. */
export const MAX_ANALYTICS_DAYS = 366;

const CampaignId = Type.String({ pattern: CAMPAIGN_ID_PATTERN.source });

export const AdEventJson = Type.Object(
  {
    event_id: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Idempotency key: counted once per campaign, however often it is sent.',
    }),
    type: StringEnum(AD_EVENT_TYPES),
    campaign_id: CampaignId,
    user_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'Whose impression it was (frequency caps).' }),
    ),
    bid_id: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 300,
        description:
          'The id of the bid the impression came from (the bid id POST /bid answered): the frequency cap then counts that won bid and its impression once.',
      }),
    ),
    at_ms: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 8_640_000_000_000_000,
        description: 'When it happened, ms since the epoch (default: when received). At most 3 days old.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AdEventBody = Static<typeof AdEventJson>;

const EventBatch = Type.Array(AdEventJson, { minItems: 1, maxItems: MAX_EVENTS_PER_BATCH });

/**
 * One event or a batch. If/then/else rather than anyOf: Ajv then reports the error of the shape
 * that was sent ("must NOT have more than 1000 items"), not "must be object" for every batch.
 */
export const EventsBody = Type.Unsafe<Static<typeof AdEventJson> | Static<typeof EventBatch>>({
  description: `One event, or an array of 1 to ${MAX_EVENTS_PER_BATCH}.`,
  if: { type: 'array' },
  // biome-ignore lint/suspicious/noThenProperty: a JSON Schema keyword, not a thenable
  then: EventBatch,
  else: AdEventJson,
});
export type EventsBodyJson = Static<typeof EventsBody>;

export const EventsResponse = Type.Object({
  received: Type.Integer(),
  accepted: Type.Integer({ description: 'Events counted now.' }),
  duplicates: Type.Integer({ description: 'Events whose id had been counted before: nothing changed.' }),
});

const DayKey = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
  description: 'A local date, YYYY-MM-DD.',
});

export const AnalyticsParams = Type.Object({ campaignId: CampaignId });

export const AnalyticsQuery = Type.Object(
  {
    from: Type.Optional(DayKey),
    to: Type.Optional(DayKey),
    by: Type.Optional(StringEnum(['hour', 'day'] as const)),
  },
  { additionalProperties: false },
);
export type AnalyticsQueryJson = Static<typeof AnalyticsQuery>;

const Figures = {
  impressions: Type.Integer(),
  clicks: Type.Integer(),
  conversions: Type.Integer(),
  spend_micros: Type.Integer(),
  ctr: Nullable(Type.Number({ description: 'clicks / impressions; null without impressions.' })),
  cpm_micros: Nullable(
    Type.Integer({ description: 'Spend per 1,000 impressions; null without impressions.' }),
  ),
  cpc_micros: Nullable(Type.Integer({ description: 'Spend per click; null without clicks.' })),
  cpa_micros: Nullable(Type.Integer({ description: 'Spend per conversion; null without conversions.' })),
};

export const AnalyticsResponse = Type.Object({
  totals: Type.Object(Figures),
  campaign_id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  by: Type.String(),
  time_zone: Type.String({ description: "Days and hours are the campaign's, in this zone." }),
  buckets: Type.Array(
    Type.Object({
      day: Type.String(),
      hour: Nullable(Type.Integer({ description: 'Elapsed hour of the day (0..24); null when by=day.' })),
      ...Figures,
    }),
  ),
});
