import type { Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { dayWindowAt, hourIndex } from '../../core/dayWindow';
import { microsToCents } from '../../core/money';
import { UnknownCampaignError, ValidationError } from '../errors';
import type { Records } from '../records/openRecords';
import { type DeliveryFigures, buildReport, dayKeysBetween, reportCsv } from '../records/performanceReport';
import type { RecordsHealth } from '../records/recordedStore';
import type { Clock } from '../runtime/time';
import type { PacerRuntime } from '../runtime/types';
import { campaignToJson } from './campaignJson';
import {
  AuditParams,
  AuditResponse,
  RecordsPerformanceQuery,
  RecordsPerformanceResponse,
} from './recordSchemas';
import type { RecordsHealthJson } from './recordsHealthSchema';
import { errorResponses } from './schemas';
import { utilizationPercentage } from './statusJson';

/** What the HTTP layer needs of the records: the database and the store's view of it. */
export interface RecordsAccess {
  readonly records: Records;
  health(): RecordsHealth;
  readonly clock: Clock;
}

/** Longest range one /performance call reports: ten years of days. */
const MAX_RANGE_DAYS = 3660;

/** The actor of a registry change: who the caller says they are, else where the call came from. */
export function actorOf(request: FastifyRequest): string {
  const said = request.headers['x-actor'];
  const name = typeof said === 'string' ? said.trim().slice(0, 128) : '';
  return name !== '' ? name : `anonymous@${request.ip}`;
}

function ratioCents(micros: number | null): number | null {
  return micros === null ? null : microsToCents(micros);
}

function figuresJson(f: DeliveryFigures) {
  return {
    spent_cents: microsToCents(f.spendMicros),
    spent_micros: f.spendMicros,
    requests: f.requests,
    allowed: f.allowed,
    wins: f.wins,
    impressions: f.impressions,
    clicks: f.clicks,
    conversions: f.conversions,
    ctr: f.ctr,
    ecpm_cents: ratioCents(f.ecpmMicros),
    ecpc_cents: ratioCents(f.ecpcMicros),
  };
}

export function recordsHealthToJson(h: RecordsHealth): Static<typeof RecordsHealthJson> {
  return {
    generation: h.generation,
    postgres_healthy: h.postgresHealthy,
    history_queued: h.history?.queuedRecords ?? 0,
    history_spilled: h.history?.spilledRecords ?? 0,
    last_error: h.lastError,
    data_loss_detected: h.dataLossDetected,
    repairs_run: h.repairsRun,
    repairing: h.repairing,
    last_data_loss_at: h.lastDataLoss === null ? null : new Date(h.lastDataLoss.atMs).toISOString(),
  };
}

/** GET /campaigns/:id/audit and GET /performance/:id, both read from PostgreSQL. */
export function recordRoutes(app: FastifyInstance, runtime: PacerRuntime, access: RecordsAccess): void {
  const { records } = access;

  app.get<{ Params: Static<typeof AuditParams> }>(
    '/campaigns/:id/audit',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Every change of a campaign, oldest first: who, when, the old and the new definition.',
        params: AuditParams,
        response: { 200: AuditResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const id = request.params.id;
      const entries = await records.campaigns.audit(id);
      if (entries.length === 0 && runtime.getCampaign(id) === null) throw new UnknownCampaignError(id);
      return {
        campaign_id: id,
        entries: entries.map((e) => ({
          seq: e.seq,
          action: e.action,
          actor: e.actor,
          at: new Date(e.atMs).toISOString(),
          old_value: e.oldValue === null ? null : campaignToJson(e.oldValue),
          new_value: e.newValue === null ? null : campaignToJson(e.newValue),
        })),
      };
    },
  );

  app.get<{ Params: Static<typeof AuditParams>; Querystring: Static<typeof RecordsPerformanceQuery> }>(
    '/performance/:id',
    {
      schema: {
        tags: ['reporting'],
        summary:
          'Delivery per day and hour from PostgreSQL for any range (from/to, local dates; default the last 7 days): spend, requests, allowed, wins, impressions, clicks, CTR, eCPM, eCPC. No future hours. ?format=csv for one line per day.',
        params: AuditParams,
        querystring: RecordsPerformanceQuery,
        response: { 200: RecordsPerformanceResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const campaign = runtime.getCampaign(request.params.id);
      if (campaign === null) throw new UnknownCampaignError(request.params.id);
      const nowMs = access.clock.nowMs();
      const todayWindow = dayWindowAt(campaign.timeZone, nowMs);
      const today = todayWindow.key;
      const q = request.query;
      const to = q.to ?? today;
      const start =
        q.from ??
        new Date(Date.parse(`${to}T00:00:00Z`) - ((q.days ?? 7) - 1) * 86_400_000).toISOString().slice(0, 10);
      if (Number.isNaN(Date.parse(`${start}T00:00:00Z`)) || Number.isNaN(Date.parse(`${to}T00:00:00Z`))) {
        throw new ValidationError(`from=${start} or to=${to} is not a calendar date; send YYYY-MM-DD.`);
      }
      if (start > to) throw new ValidationError(`from (${start}) is after to (${to}); swap them.`);
      if (dayKeysBetween(start, to).length > MAX_RANGE_DAYS) {
        throw new ValidationError(
          `the range ${start}..${to} is longer than ${MAX_RANGE_DAYS} days; ask in parts.`,
        );
      }
      const rows = await records.history.hours(campaign.id, start, to);
      const report = buildReport(rows, {
        from: start,
        to,
        today,
        currentHour: hourIndex(todayWindow, nowMs),
      });
      if (q.format === 'csv') {
        reply.type('text/csv; charset=utf-8');
        reply.header(
          'content-disposition',
          `attachment; filename="performance-${campaign.id}-${start}-${to}.csv"`,
        );
        return reply.send(reportCsv(report.days));
      }
      return {
        campaign_id: campaign.id,
        from: start,
        to,
        source: 'postgresql',
        totals: figuresJson(report.totals),
        days: report.days.map((d) => ({
          day: d.dayKey,
          ...figuresJson(d),
          utilization_percentage: utilizationPercentage(d.spendMicros / campaign.dailyBudgetMicros),
          hourly_spent_cents: d.hours.map((h) => microsToCents(h.spendMicros)),
          hours: d.hours.map((h) => ({ hour: h.hourIndex, ...figuresJson(h) })),
        })),
      };
    },
  );
}
