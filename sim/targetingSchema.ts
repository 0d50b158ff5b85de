import { Type } from '@sinclair/typebox';
import {
  DEVICE_TYPE_MAX,
  DEVICE_TYPE_MIN,
  MAX_DAYPARTS,
  MAX_TARGETING_VALUES,
  MAX_TARGETING_VALUE_LENGTH,
} from '../core/targeting/targeting';

/**
 * The scenario's optional `targeting` section: what the requests carry (each attribute drawn by
 * weight from its own seeded stream) and what the campaigns target (core's targeting, as on the
 * server). Part of the one scenario schema (sim/scenarioSchema.ts imports it).
 */
const closed = { additionalProperties: false } as const;
const Text = Type.String({ minLength: 1, maxLength: MAX_TARGETING_VALUE_LENGTH });
const Country = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 3166-1 alpha-3.' });
const DeviceType = Type.Integer({ minimum: DEVICE_TYPE_MIN, maximum: DEVICE_TYPE_MAX });
const Weight = Type.Number({ exclusiveMinimum: 0, maximum: 1e6 });

function Weighted<T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(
  value: T,
  what: string,
) {
  return Type.Optional(
    Type.Array(Type.Object({ value, weight: Weight }, closed), {
      minItems: 1,
      maxItems: MAX_TARGETING_VALUES,
      description: `${what}: each request carries one, drawn by weight; absent means requests do not say.`,
    }),
  );
}

function Values<T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(value: T) {
  return Type.Optional(Type.Array(value, { minItems: 1, maxItems: MAX_TARGETING_VALUES }));
}

export const SimRequestAttributesSchema = Type.Object(
  {
    geo: Weighted(Country, 'device.geo.country'),
    deviceTypes: Weighted(DeviceType, 'device.devicetype'),
    os: Weighted(Text, 'device.os'),
    inventory: Type.Optional(
      Type.Array(
        Type.Object(
          {
            kind: Type.Unsafe<'site' | 'app'>({ type: 'string', enum: ['site', 'app'] }),
            value: Text,
            weight: Weight,
          },
          closed,
        ),
        {
          minItems: 1,
          maxItems: MAX_TARGETING_VALUES,
          description: 'site.domain or app.bundle: each request is on one, drawn by weight.',
        },
      ),
    ),
    segments: Type.Optional(
      Type.Array(Type.Object({ value: Text, share: Type.Number({ minimum: 0, maximum: 1 }) }, closed), {
        minItems: 1,
        maxItems: MAX_TARGETING_VALUES,
        description: "User segments: each is on a request's user with its share, independently.",
      }),
    ),
  },
  closed,
);

export const SimCampaignTargetingSchema = Type.Object(
  {
    ids: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
      minItems: 1,
      description: 'The campaigns (by id) this targeting applies to.',
    }),
    geo: Values(Country),
    deviceTypes: Values(DeviceType),
    os: Values(Text),
    apps: Values(Text),
    sites: Values(Text),
    segments: Values(Text),
    dayparts: Type.Optional(
      Type.Array(
        Type.Object(
          {
            weekdays: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7 }),
            hours: Type.Array(Type.Integer({ minimum: 0, maximum: 23 }), { minItems: 1, maxItems: 24 }),
          },
          closed,
        ),
        {
          minItems: 1,
          maxItems: MAX_DAYPARTS,
          description: "ISO weekdays (1 Monday) x hours, campaign's zone.",
        },
      ),
    ),
  },
  closed,
);

export const SimTargetingSchema = Type.Object(
  {
    requests: SimRequestAttributesSchema,
    campaigns: Type.Optional(Type.Array(SimCampaignTargetingSchema, { default: [] })),
  },
  {
    ...closed,
    description:
      'Targeting: requests carry attributes drawn from these weights, campaigns match them through the same targeting index as POST /bid; a campaign that does not match a request is not a candidate for it.',
  },
);
