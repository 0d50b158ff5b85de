import { type Static, Type } from '@sinclair/typebox';
import { CAMPAIGN_ID_PATTERN } from '../../core/campaign';
import { DEVICE_TYPE_MAX, DEVICE_TYPE_MIN, MAX_TARGETING_VALUE_LENGTH } from '../../core/targeting/targeting';
import { MAX_CENTS } from './schemas';

/**
 * POST /bid speaks a subset of OpenRTB 2.6 under its own names. Objects allow the many fields
 * this engine does not read (OpenRTB asks bidders to ignore what they do not know); the fields it
 * reads are typed and bounded here, once, and trusted after.
 */
export const MAX_BID_IMPS = 16;
export const MAX_USER_SEGMENTS = 256;
export const MAX_PREDICTIONS = 10_000;
/** Largest OpenRTB price (CPM in currency units) accepted: the cents ceiling of the whole API. */
export const MAX_CPM_UNITS = MAX_CENTS / 100;

const Value = Type.String({ minLength: 1, maxLength: MAX_TARGETING_VALUE_LENGTH });

export const BidRequest = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64, description: 'Bid request id (OpenRTB id).' }),
    imp: Type.Array(
      Type.Object({
        id: Type.String({ minLength: 1, maxLength: 32 }),
        bidfloor: Type.Optional(
          Type.Number({
            minimum: 0,
            maximum: MAX_CPM_UNITS,
            description: 'Floor CPM in currency units (USD).',
          }),
        ),
        bidfloorcur: Type.Optional(Type.Literal('USD', { description: 'Only USD is bid in.' })),
      }),
      { minItems: 1, maxItems: MAX_BID_IMPS },
    ),
    site: Type.Optional(Type.Object({ domain: Type.Optional(Value) })),
    app: Type.Optional(Type.Object({ bundle: Type.Optional(Value) })),
    device: Type.Optional(
      Type.Object({
        devicetype: Type.Optional(Type.Integer({ minimum: DEVICE_TYPE_MIN, maximum: DEVICE_TYPE_MAX })),
        os: Type.Optional(Value),
        geo: Type.Optional(
          Type.Object({
            country: Type.Optional(
              Type.String({ pattern: '^[A-Za-z]{3}$', description: 'ISO 3166-1 alpha-3.' }),
            ),
          }),
        ),
      }),
    ),
    user: Type.Optional(
      Type.Object({
        id: Type.Optional(
          Type.String({ minLength: 1, maxLength: 256, description: 'The user frequency caps count.' }),
        ),
        data: Type.Optional(
          Type.Array(
            Type.Object({
              segment: Type.Optional(Type.Array(Type.Object({ id: Value }), { maxItems: MAX_USER_SEGMENTS })),
            }),
            { maxItems: 32 },
          ),
        ),
      }),
    ),
    ext: Type.Optional(
      Type.Object({
        predicted_ctr: Type.Optional(
          Type.Array(
            Type.Object(
              {
                campaign_id: Type.String({ pattern: CAMPAIGN_ID_PATTERN.source }),
                predicted_ctr: Type.Number({ minimum: 0, maximum: 1 }),
              },
              { additionalProperties: false },
            ),
            {
              maxItems: MAX_PREDICTIONS,
              description: 'Predicted CTR per campaign: the auction ranks by price x predicted CTR.',
            },
          ),
        ),
      }),
    ),
  },
  { description: 'An OpenRTB 2.6 bid request (the fields the engine reads).' },
);
export type BidRequestJson = Static<typeof BidRequest>;

export const BidResponse = Type.Object({
  id: Type.String({ description: 'The bid request id.' }),
  cur: Type.Literal('USD'),
  seatbid: Type.Array(
    Type.Object({
      bid: Type.Array(
        Type.Object({
          id: Type.String({
            description:
              'Bid id: send it as request_id with the win notice (POST /spend/track) so its reservation is settled.',
          }),
          impid: Type.String(),
          price: Type.Number({ description: 'CPM in currency units (OpenRTB price).' }),
          price_cents: Type.Number({ description: 'The same CPM in cents.' }),
          campaign_id: Type.String(),
          crid: Type.String({ description: 'Creative id.' }),
        }),
      ),
    }),
  ),
});
export type BidResponseJson = Static<typeof BidResponse>;
