import { Type } from '@sinclair/typebox';
import { CAMPAIGN_ID_PATTERN } from '../../core/campaign';
import { CampaignResponse } from './schemas';

/** Schemas of the routes that read the records (PostgreSQL): audit and performance. */

const DayKey = Type.String({
  pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
  description: 'A local date, YYYY-MM-DD.',
});

export const AuditParams = Type.Object({
  id: Type.String({ pattern: CAMPAIGN_ID_PATTERN.source }),
});

const NullableCampaign = Type.Unsafe({ ...CampaignResponse, nullable: true });

export const AuditResponse = Type.Object({
  campaign_id: Type.String(),
  entries: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      action: Type.String({ enum: ['create', 'update', 'delete', 'import'] }),
      actor: Type.String({
        description: 'The X-Actor header of the change, else the API key holder or caller address.',
      }),
      at: Type.String({ description: 'When the change was saved (ISO 8601, UTC).' }),
      old_value: NullableCampaign,
      new_value: NullableCampaign,
    }),
  ),
});

export const RecordsPerformanceQuery = Type.Object(
  {
    from: Type.Optional(DayKey),
    to: Type.Optional(DayKey),
    days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 3660, description: 'Last N days (when from is absent).' }),
    ),
    format: Type.Optional(Type.String({ enum: ['json', 'csv'], default: 'json' })),
  },
  { additionalProperties: false },
);

const Ratio = Type.Unsafe<number | null>({ type: 'number', nullable: true });

const Figures = {
  spent_cents: Type.Number(),
  spent_micros: Type.Integer(),
  requests: Type.Integer({ description: 'Bid requests the pacer was asked about.' }),
  allowed: Type.Integer({ description: 'Decisions that allowed a bid.' }),
  wins: Type.Integer(),
  impressions: Type.Integer(),
  clicks: Type.Integer(),
  conversions: Type.Integer(),
  ctr: Ratio,
  ecpm_cents: Ratio,
  ecpc_cents: Ratio,
};

export const RecordsPerformanceResponse = Type.Object({
  campaign_id: Type.String(),
  from: Type.String(),
  to: Type.String(),
  source: Type.String({
    description: 'postgresql: history rows, written in the background (a second or so behind).',
  }),
  totals: Type.Object(Figures),
  days: Type.Array(
    Type.Object({
      day: Type.String(),
      ...Figures,
      utilization_percentage: Type.Number({ description: 'Against the current daily budget.' }),
      hourly_spent_cents: Type.Array(Type.Number()),
      hours: Type.Array(Type.Object({ hour: Type.Integer(), ...Figures })),
    }),
  ),
});
