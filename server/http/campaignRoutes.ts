import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Campaign } from '../../core/campaign';
import { microsToCents } from '../../core/money';
import { CampaignExistsError, CampaignIdMismatchError, NotReadyError, TimeZoneLockedError } from '../errors';
import { withActor } from '../records/auditActor';
import type { PacerRuntime } from '../runtime/types';
import { deriveAlerts } from './alerts';
import { campaignFromJson, campaignToJson, centsField, validCampaign } from './campaignJson';
import { missingCampaign } from './missingCampaign';
import { actorOf } from './recordRoutes';
import {
  AlertsResponse,
  BudgetAdjustRequest,
  type BudgetAdjustRequestJson,
  CampaignCreate,
  type CampaignCreateJson,
  CampaignIdParams,
  type CampaignIdParamsJson,
  CampaignListResponse,
  CampaignReplace,
  type CampaignReplaceJson,
  CampaignResponse,
  PacingModeRequest,
  type PacingModeRequestJson,
  PerformanceQuery,
  PerformanceResponse,
  errorResponses,
} from './schemas';
import { utilizationPercentage } from './statusJson';

/**
 * The management API. Every write is checked in full before the runtime is touched, so a bad
 * request changes nothing, and writes run one at a time so "does it exist?" and "save it" cannot
 * interleave with another write to the same campaign on this instance.
 */
export function campaignRoutes(
  app: FastifyInstance,
  runtime: PacerRuntime,
  /** The records layer serves /performance from PostgreSQL (recordRoutes.ts). */
  performanceFromRecords = false,
): void {
  let writeQueue: Promise<unknown> = Promise.resolve();
  const serially = <T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> => {
    // The audit row of the change names the caller (see auditActor.ts).
    const actor = actorOf(request);
    const audited = () => withActor(actor, work);
    const run = writeQueue.then(audited, audited);
    writeQueue = run.catch(() => undefined);
    return run;
  };
  const existing = (id: string): Campaign => {
    const c = runtime.getCampaign(id);
    if (c === null) throw missingCampaign(runtime, id);
    return c;
  };
  const replaceWith = async (before: Campaign, after: Campaign): Promise<Campaign> => {
    if (after.timeZone !== before.timeZone)
      throw new TimeZoneLockedError(before.id, before.timeZone, after.timeZone);
    await runtime.putCampaign(after);
    return after;
  };
  const tags = ['campaigns'];

  app.get(
    '/campaigns',
    { schema: { tags, summary: 'Lists every campaign, by id.', response: { 200: CampaignListResponse } } },
    async () => {
      const campaigns = runtime
        .listCampaigns()
        .slice()
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map(campaignToJson);
      return { campaigns, count: campaigns.length };
    },
  );

  app.post<{ Body: CampaignCreateJson }>(
    '/campaigns',
    {
      schema: {
        tags,
        summary: 'Creates a campaign.',
        body: CampaignCreate,
        response: { 201: CampaignResponse, ...errorResponses(400, 401, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const campaign = campaignFromJson(request.body);
      await serially(request, async () => {
        // Until campaigns are loaded an existing one may be missing here: creating it would replace it.
        if (!runtime.isReady()) throw new NotReadyError(campaign.id);
        if (runtime.getCampaign(campaign.id) !== null) throw new CampaignExistsError(campaign.id);
        await runtime.putCampaign(campaign);
      });
      reply.code(201);
      return campaignToJson(campaign);
    },
  );

  app.get<{ Params: CampaignIdParamsJson }>(
    '/campaigns/:id',
    {
      schema: {
        tags,
        summary: 'One campaign.',
        params: CampaignIdParams,
        response: { 200: CampaignResponse, ...errorResponses(400, 404) },
      },
    },
    async (request) => campaignToJson(existing(request.params.id)),
  );

  app.put<{ Params: CampaignIdParamsJson; Body: CampaignReplaceJson }>(
    '/campaigns/:id',
    {
      schema: {
        tags,
        summary: 'Replaces a campaign. Spend and breaker state carry over; the time zone cannot change.',
        params: CampaignIdParams,
        body: CampaignReplace,
        response: { 200: CampaignResponse, ...errorResponses(400, 401, 404, 409, 413, 415, 503) },
      },
    },
    async (request) => {
      const id = request.params.id;
      if (request.body.id !== undefined && request.body.id !== id) {
        throw new CampaignIdMismatchError(id, request.body.id);
      }
      const next = campaignFromJson({ ...request.body, id });
      const saved = await serially(request, () => replaceWith(existing(id), next));
      return campaignToJson(saved);
    },
  );

  app.delete<{ Params: CampaignIdParamsJson }>(
    '/campaigns/:id',
    {
      schema: {
        tags,
        summary: 'Deletes a campaign; it stops bidding at once.',
        params: CampaignIdParams,
        response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      await serially(request, async () => {
        existing(id);
        await runtime.deleteCampaign(id);
      });
      reply.code(204);
      return null;
    },
  );

  app.post<{ Body: BudgetAdjustRequestJson }>(
    '/budget/adjust',
    {
      schema: {
        tags,
        summary: 'Sets the daily and/or total budget. Spend so far counts against the new budget.',
        body: BudgetAdjustRequest,
        response: { 200: CampaignResponse, ...errorResponses(400, 401, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      const dailyMicros =
        body.daily_budget_cents === undefined
          ? undefined
          : centsField('daily_budget_cents', body.daily_budget_cents);
      const totalMicros =
        body.total_budget_cents === undefined || body.total_budget_cents === null
          ? body.total_budget_cents
          : centsField('total_budget_cents', body.total_budget_cents);
      const saved = await serially(request, () => {
        const before = existing(body.campaign_id);
        return replaceWith(
          before,
          validCampaign({
            ...before,
            dailyBudgetMicros: dailyMicros ?? before.dailyBudgetMicros,
            totalBudgetMicros: totalMicros === undefined ? before.totalBudgetMicros : totalMicros,
          }),
        );
      });
      return campaignToJson(saved);
    },
  );

  app.post<{ Body: PacingModeRequestJson }>(
    '/pacing/mode',
    {
      schema: {
        tags,
        summary: "Changes a campaign's pacing mode (and, for ADAPTIVE, its hourly multipliers).",
        body: PacingModeRequest,
        response: { 200: CampaignResponse, ...errorResponses(400, 401, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      const saved = await serially(request, () => {
        const before = existing(body.campaign_id);
        return replaceWith(
          before,
          validCampaign({
            ...before,
            pacingMode: body.pacing_mode,
            hourlyMultipliers:
              body.hourly_multipliers === undefined ? before.hourlyMultipliers : body.hourly_multipliers,
          }),
        );
      });
      return campaignToJson(saved);
    },
  );

  if (!performanceFromRecords)
    app.get<{ Params: CampaignIdParamsJson; Querystring: { days?: number } }>(
      '/performance/:id',
      {
        schema: {
          tags: ['reporting'],
          summary:
            'Spend per day (oldest first, today last) and per hour, for the last `days` days (default 7).',
          params: CampaignIdParams,
          querystring: PerformanceQuery,
          response: { 200: PerformanceResponse, ...errorResponses(400, 404, 503) },
        },
      },
      async (request) => {
        const campaign = existing(request.params.id);
        const days = await runtime.performance(campaign.id, request.query.days ?? 7);
        return {
          campaign_id: campaign.id,
          days: days.map((d) => ({
            day: d.dayKey,
            spent_cents: microsToCents(d.spentMicros),
            spent_micros: d.spentMicros,
            utilization_percentage: utilizationPercentage(d.spentMicros / campaign.dailyBudgetMicros),
            hourly_spent_cents: d.hourSpentMicros.map(microsToCents),
          })),
        };
      },
    );

  app.get<{ Params: CampaignIdParamsJson }>(
    '/alerts/:id',
    {
      schema: {
        tags: ['reporting'],
        summary:
          'Alerts derived from the current status: breaker open, near budget, pacing behind or ahead, degraded.',
        params: CampaignIdParams,
        response: { 200: AlertsResponse, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const campaign = existing(request.params.id);
      const status = runtime.status(campaign.id);
      if (status === null) throw missingCampaign(runtime, campaign.id);
      return { campaign_id: campaign.id, alerts: deriveAlerts(campaign, status) };
    },
  );
}
