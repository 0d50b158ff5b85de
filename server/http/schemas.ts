import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { BREAKER_STATES } from '../../core/breaker';
import { CAMPAIGN_ID_PATTERN, CAMPAIGN_STATUSES, HOURS_PER_DAY, PACING_MODES } from '../../core/campaign';
import { DECISION_REASONS } from '../../core/decision';
import { MAX_MICROS, MICROS_PER_CENT } from '../../core/money';
import {
  DEVICE_TYPE_MAX,
  DEVICE_TYPE_MIN,
  MAX_DAYPARTS,
  MAX_FREQUENCY_CAP_PER_DAY,
  MAX_TARGETING_VALUES,
  MAX_TARGETING_VALUE_LENGTH,
} from '../../core/targeting/targeting';
import { ERROR_CODES } from '../errors';
import { EventsHealthJson } from '../events/eventsHealthJson';
import { RecordingHealthJson } from '../recording/recordingHealth';
import { RecordsHealthJson } from './recordsHealthSchema';

/**
 * The request and response schemas of the HTTP API. Each one both validates (Ajv, at the edge)
 * and documents (OpenAPI at /docs), and the response schemas drive fast-json-stringify, so the
 * docs cannot drift from what the server accepts and sends.
 */

/** Largest amount of cents the project accepts: core's MAX_MICROS. */
export const MAX_CENTS = MAX_MICROS / MICROS_PER_CENT;
export const MAX_BATCH_CANDIDATES = 256;
export const MAX_PERFORMANCE_DAYS = 62;

/** A string enum as `{type: string, enum}`: Ajv then says "must be equal to one of the allowed values". */
export function StringEnum<const T extends readonly string[]>(values: T, description?: string) {
  return Type.Unsafe<T[number]>({
    type: 'string',
    enum: [...values],
    ...(description ? { description } : {}),
  });
}

/** `nullable: true` is understood by Ajv, fast-json-stringify and OpenAPI 3.0 alike. */
export function Nullable<T extends TSchema>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, nullable: true });
}

const CampaignId = Type.String({
  pattern: CAMPAIGN_ID_PATTERN.source,
  description: '1-128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit.',
  examples: ['camp-001'],
});
const EventId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Idempotency key of a win notice.',
});
const RequestId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Id of the bid request; a spend carrying it releases the reservation made by its decision.',
});
const CpmCents = Type.Number({
  exclusiveMinimum: 0,
  maximum: MAX_CENTS,
  description: 'A CPM price (per thousand impressions) in cents, at most 4 decimals.',
  examples: [150],
});
const PositiveCents = Type.Number({ exclusiveMinimum: 0, maximum: MAX_CENTS });
const SpendCents = Type.Number({
  minimum: 0,
  maximum: MAX_CENTS,
  description: 'Money actually spent, in cents; fractions down to one micro (4 decimals).',
  examples: [0.15],
});
const Reason = StringEnum(
  [...DECISION_REASONS, 'unknown_campaign'] as const,
  'Why the bid was allowed or denied.',
);
const Rate = Type.Number({ minimum: 0, maximum: 1 });
const DateTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:\\d{2})?)?$',
  description:
    'ISO 8601 date or date-time. Without "Z" or an offset it is wall time in the campaign time zone.',
  examples: ['2024-01-01T00:00:00'],
});

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: StringEnum(Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]),
      message: Type.String(),
    }),
  },
  { description: 'Every 4xx and 5xx answer has this shape.' },
);
export type ErrorBodyJson = Static<typeof ErrorBody>;

// --- Decision -----------------------------------------------------------------------------

/** A request's value signal: with one, a throttled campaign passes its best requests, not a coin's share. */
const ValueSignal = {
  predicted_ctr: Type.Optional(
    Type.Number({ minimum: 0, maximum: 1, description: 'Predicted click-through rate of the impression.' }),
  ),
  value: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 1e9,
      description: 'A value score (higher is better); used instead of predicted_ctr when both are given.',
    }),
  ),
};

export const DecisionRequest = Type.Object(
  {
    campaign_id: CampaignId,
    bid_cents: CpmCents,
    request_id: Type.Optional(RequestId),
    ...ValueSignal,
  },
  { additionalProperties: false },
);
export type DecisionRequestJson = Static<typeof DecisionRequest>;

export const DecisionResponse = Type.Object({
  allow_bid: Type.Boolean(),
  max_bid_cents: Type.Number({ description: 'Highest CPM to bid, in cents; 0 when denied.' }),
  throttle_rate: Rate,
  reason: Reason,
  warning: Type.Optional(Type.String({ description: 'Set while the shared store is unreachable.' })),
});
export type DecisionResponseJson = Static<typeof DecisionResponse>;

export const BatchDecisionRequest = Type.Object(
  {
    request_id: Type.Optional(RequestId),
    candidates: Type.Array(
      Type.Object(
        { campaign_id: CampaignId, bid_cents: CpmCents, ...ValueSignal },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_BATCH_CANDIDATES },
    ),
  },
  { additionalProperties: false },
);
export type BatchDecisionRequestJson = Static<typeof BatchDecisionRequest>;

export const BatchDecisionResponse = Type.Object({
  decisions: Type.Array(
    Type.Object({
      campaign_id: Type.String(),
      allow_bid: Type.Boolean(),
      max_bid_cents: Type.Number(),
      throttle_rate: Rate,
      reason: Reason,
    }),
  ),
  warning: Type.Optional(Type.String()),
});
export type BatchDecisionResponseJson = Static<typeof BatchDecisionResponse>;

// --- Spend --------------------------------------------------------------------------------

export const SpendRequest = Type.Object(
  {
    campaign_id: CampaignId,
    spend_cents: SpendCents,
    event_id: EventId,
    request_id: Type.Optional(RequestId),
  },
  { additionalProperties: false },
);
export type SpendRequestJson = Static<typeof SpendRequest>;

export const SpendResponse = Type.Object({
  campaign_id: Type.String(),
  event_id: Type.String(),
  counted: Type.Boolean({ description: 'true when this event id counted now.' }),
  duplicate: Type.Boolean({ description: 'true when this event id had counted before: nothing changed.' }),
  journaled: Type.Boolean({
    description: 'true when the store was away and the spend waits in the journal.',
  }),
});

// --- Status, health, performance, alerts ---------------------------------------------------

export const CampaignIdParams = Type.Object({ id: CampaignId });
export type CampaignIdParamsJson = Static<typeof CampaignIdParams>;

export const BudgetStatusResponse = Type.Object({
  campaign_id: Type.String(),
  day: Type.String({ description: "The campaign's local date (YYYY-MM-DD) the figures are for." }),
  pacing_mode: StringEnum(PACING_MODES),
  daily_budget_cents: Type.Number(),
  daily_budget_micros: Type.Integer(),
  total_budget_cents: Nullable(Type.Number()),
  total_budget_micros: Nullable(Type.Integer()),
  spent_today_cents: Type.Number(),
  spent_today_micros: Type.Integer(),
  spent_this_hour_cents: Type.Number(),
  spent_this_hour_micros: Type.Integer(),
  reserved_cents: Type.Number({ description: 'Bids allowed but not yet settled.' }),
  reserved_micros: Type.Integer(),
  remaining_today_cents: Type.Integer({ description: 'Whole cents, rounded down.' }),
  remaining_today_micros: Type.Integer(),
  target_spent_cents: Type.Number({ description: 'Where the pacing curve says spend should be by now.' }),
  target_spent_micros: Type.Integer(),
  throttle_rate: Rate,
  breaker_state: StringEnum(BREAKER_STATES),
  circuit_breaker_open: Type.Boolean(),
  utilization_percentage: Type.Number(),
  degraded: Type.Boolean(),
  as_of: Type.String({ format: 'date-time', description: 'The instant these figures are for.' }),
  day_start: Type.String({ format: 'date-time', description: "Local midnight starting the campaign's day." }),
  day_end: Type.String({
    format: 'date-time',
    description: 'Local midnight ending it (23 or 25 hours later on DST days).',
  }),
});

export const HealthResponse = Type.Object({
  status: StringEnum(['healthy', 'degraded'] as const),
  redis_healthy: Nullable(Type.Boolean({ description: 'null when running on the embedded store.' })),
  store: StringEnum(['redis', 'embedded'] as const),
  instance_id: Type.String(),
  pending_replay: Type.Integer({ description: 'Spend records journaled and not yet replayed.' }),
  campaigns: Type.Integer(),
  ready: Type.Boolean({
    description:
      'Campaigns loaded and any journal left by a crash replayed. Until then unknown campaign ids are answered 503 with Retry-After, not 404.',
  }),
  store_errors: Type.Integer({ description: 'Failed store operations since start.' }),
  last_store_error: Nullable(
    Type.Object({
      code: Type.String({
        description:
          'STORE_UNREACHABLE, STORE_TIMEOUT, STORE_READONLY (a replica), STORE_OOM, STORE_AUTH or STORE_ERROR.',
      }),
      message: Type.String(),
      at: Type.String({ format: 'date-time' }),
    }),
  ),
  journal_failing: Type.Boolean({
    description: 'The spend journal refuses writes (full disk?): while degraded, no bid is allowed.',
  }),
  records: Type.Optional(RecordsHealthJson),
  recording: Type.Optional(RecordingHealthJson),
  events: Type.Optional(EventsHealthJson),
});

export const PerformanceQuery = Type.Object(
  { days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PERFORMANCE_DAYS, default: 7 })) },
  { additionalProperties: false },
);

export const PerformanceResponse = Type.Object({
  campaign_id: Type.String(),
  days: Type.Array(
    Type.Object({
      day: Type.String(),
      spent_cents: Type.Number(),
      spent_micros: Type.Integer(),
      utilization_percentage: Type.Number({ description: "Against today's daily budget." }),
      hourly_spent_cents: Type.Array(Type.Number(), {
        description: 'Per elapsed hour since local midnight.',
      }),
    }),
  ),
});

export const ALERT_CODES = [
  'BREAKER_OPEN',
  'BREAKER_HALF_OPEN',
  'BUDGET_EXHAUSTED',
  'NEAR_BUDGET',
  'PACING_BEHIND',
  'PACING_AHEAD',
  'DEGRADED_MODE',
  'CAMPAIGN_NOT_ACTIVE',
] as const;
export type AlertCode = (typeof ALERT_CODES)[number];

export const Alert = Type.Object({
  code: StringEnum(ALERT_CODES),
  severity: StringEnum(['info', 'warning', 'critical'] as const),
  message: Type.String(),
});
export type AlertJson = Static<typeof Alert>;

export const AlertsResponse = Type.Object({ campaign_id: Type.String(), alerts: Type.Array(Alert) });

// --- Campaigns ----------------------------------------------------------------------------

const TargetingValue = Type.String({ minLength: 1, maxLength: MAX_TARGETING_VALUE_LENGTH });
const TargetingList = (description: string) =>
  Type.Optional(
    Nullable(Type.Array(TargetingValue, { minItems: 1, maxItems: MAX_TARGETING_VALUES, description })),
  );

/** Absent (or null) fields match every request; a listed field matches any of its values. */
export const TargetingJsonSchema = Type.Object(
  {
    geo: Type.Optional(
      Nullable(
        Type.Array(Type.String({ pattern: '^[A-Za-z]{3}$' }), {
          minItems: 1,
          maxItems: MAX_TARGETING_VALUES,
          description: 'ISO 3166-1 alpha-3 countries of device.geo.country, e.g. ["USA", "CAN"].',
        }),
      ),
    ),
    device_types: Type.Optional(
      Nullable(
        Type.Array(Type.Integer({ minimum: DEVICE_TYPE_MIN, maximum: DEVICE_TYPE_MAX }), {
          minItems: 1,
          maxItems: DEVICE_TYPE_MAX,
          description:
            'OpenRTB device.devicetype values: 1 mobile/tablet, 2 PC, 3 connected TV, 4 phone, 5 tablet, 6 connected device, 7 set-top box.',
        }),
      ),
    ),
    os: TargetingList('device.os values, compared case-insensitively ("iOS", "Android").'),
    apps: TargetingList('app.bundle values. With sites: a request on any listed app or site matches.'),
    sites: TargetingList('site.domain values. With apps: a request on any listed app or site matches.'),
    segments: TargetingList('Audience segment ids (user.data[].segment[].id); the user needs one of them.'),
    dayparts: Type.Optional(
      Nullable(
        Type.Array(
          Type.Object(
            {
              weekdays: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), {
                minItems: 1,
                maxItems: 7,
                description: 'ISO weekdays, 1 Monday .. 7 Sunday.',
              }),
              hours: Type.Array(Type.Integer({ minimum: 0, maximum: 23 }), { minItems: 1, maxItems: 24 }),
            },
            { additionalProperties: false },
          ),
          {
            minItems: 1,
            maxItems: MAX_DAYPARTS,
            description: "Local hours of the week, in the campaign's time_zone, when it may bid.",
          },
        ),
      ),
    ),
    frequency_cap_per_day: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 1,
          maximum: MAX_FREQUENCY_CAP_PER_DAY,
          description:
            "Impressions one user.id may get of this campaign per local day of the campaign's time_zone.",
        }),
      ),
    ),
  },
  {
    additionalProperties: false,
    description: 'Who the campaign bids on in POST /bid; absent means everything.',
  },
);
export type TargetingJson = Static<typeof TargetingJsonSchema>;

const campaignFields = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  daily_budget_cents: PositiveCents,
  total_budget_cents: Type.Optional(Nullable(PositiveCents)),
  start_date: Type.Optional(Nullable(DateTime)),
  end_date: Type.Optional(Nullable(DateTime)),
  pacing_mode: Type.Optional(StringEnum(PACING_MODES)),
  status: Type.Optional(StringEnum(CAMPAIGN_STATUSES)),
  time_zone: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone of the day boundary (default UTC).' }),
  ),
  max_bid_cents: Type.Optional(Nullable(CpmCents)),
  hourly_multipliers: Type.Optional(
    Nullable(
      Type.Array(Type.Number({ minimum: 0, maximum: 1000 }), {
        minItems: HOURS_PER_DAY,
        maxItems: HOURS_PER_DAY,
        description: 'ADAPTIVE: 24 weights, the share of traffic or value of each local hour.',
      }),
    ),
  ),
  targeting: Type.Optional(Nullable(TargetingJsonSchema)),
  creative_id: Type.Optional(
    Nullable(
      Type.String({
        pattern: CAMPAIGN_ID_PATTERN.source,
        description: 'The creative a winning POST /bid names (crid); default the campaign id.',
      }),
    ),
  ),
};

export const CampaignCreate = Type.Object(
  { id: CampaignId, ...campaignFields },
  { additionalProperties: false },
);
export type CampaignCreateJson = Static<typeof CampaignCreate>;

export const CampaignReplace = Type.Object(
  { id: Type.Optional(CampaignId), ...campaignFields },
  { additionalProperties: false },
);
export type CampaignReplaceJson = Static<typeof CampaignReplace>;

export const CampaignResponse = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: StringEnum(CAMPAIGN_STATUSES),
  daily_budget_cents: Type.Number(),
  total_budget_cents: Nullable(Type.Number()),
  start_date: Nullable(Type.String()),
  end_date: Nullable(Type.String()),
  time_zone: Type.String(),
  pacing_mode: StringEnum(PACING_MODES),
  max_bid_cents: Nullable(Type.Number()),
  hourly_multipliers: Nullable(Type.Array(Type.Number())),
  targeting: Nullable(TargetingJsonSchema),
  creative_id: Nullable(Type.String()),
});
export type CampaignJson = Static<typeof CampaignResponse>;

export const CampaignListResponse = Type.Object({
  campaigns: Type.Array(CampaignResponse),
  count: Type.Integer(),
});

export const BudgetAdjustRequest = Type.Object(
  {
    campaign_id: CampaignId,
    daily_budget_cents: Type.Optional(PositiveCents),
    total_budget_cents: Type.Optional(Nullable(PositiveCents)),
  },
  { additionalProperties: false, minProperties: 2 },
);
export type BudgetAdjustRequestJson = Static<typeof BudgetAdjustRequest>;

export const PacingModeRequest = Type.Object(
  {
    campaign_id: CampaignId,
    pacing_mode: StringEnum(PACING_MODES),
    hourly_multipliers: campaignFields.hourly_multipliers,
  },
  { additionalProperties: false },
);
export type PacingModeRequestJson = Static<typeof PacingModeRequest>;

/** The error answers a route can give, for the docs and for serialization. */
export function errorResponses(...statusCodes: number[]): Record<number, typeof ErrorBody> {
  const out: Record<number, typeof ErrorBody> = {};
  for (const s of statusCodes) out[s] = ErrorBody;
  return out;
}
