import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Campaign } from '../../core/campaign';
import { dayWindowAt } from '../../core/dayWindow';
import { StoreUnavailableError } from '../../core/store';
import { StoreUnavailableHttpError } from '../errors';
import { missingCampaign } from '../http/missingCampaign';
import type { RecordsAccess } from '../http/recordRoutes';
import { errorResponses } from '../http/schemas';
import type { PacerRuntime } from '../runtime/types';
import { analyticsJson } from './analyticsJson';
import { analyticsRange } from './analyticsRange';
import { buildAnalytics } from './analyticsReport';
import { registerEventMetrics } from './eventMetrics';
import type { EventPipeline } from './eventPipeline';
import {
  type AdEventBody,
  AnalyticsParams,
  AnalyticsQuery,
  AnalyticsResponse,
  EVENTS_BODY_LIMIT_BYTES,
  EventsBody,
  type EventsBodyJson,
  EventsResponse,
} from './eventSchemas';
import { stampEvents } from './eventStamp';

/** Every campaign a batch names, resolved once (an instance may not have loaded a new one yet). */
async function resolveCampaigns(
  runtime: PacerRuntime,
  bodies: readonly AdEventBody[],
): Promise<Map<string, Campaign>> {
  const found = new Map<string, Campaign>();
  for (const b of bodies) {
    if (found.has(b.campaign_id)) continue;
    let c = runtime.getCampaign(b.campaign_id);
    if (c === null && (await runtime.adoptCampaign(b.campaign_id))) c = runtime.getCampaign(b.campaign_id);
    if (c === null) throw missingCampaign(runtime, b.campaign_id);
    found.set(b.campaign_id, c);
  }
  return found;
}

/**
 * POST /events and GET /analytics/:campaignId, with the pipeline's metrics and lifecycle: the
 * consumer starts when the app is ready and stops (finishing its batch) when it closes.
 */
export function eventRoutes(
  app: FastifyInstance,
  runtime: PacerRuntime,
  pipeline: EventPipeline,
  access: RecordsAccess,
  registry: Registry,
): void {
  registerEventMetrics(registry, () => pipeline.health());

  app.post<{ Body: EventsBodyJson }>(
    '/events',
    {
      bodyLimit: EVENTS_BODY_LIMIT_BYTES,
      schema: {
        tags: ['reporting'],
        summary:
          'Impressions, clicks and conversions, one or a batch: each counted once per campaign by event_id.',
        description:
          'A batch is all or nothing: an unknown campaign or an event time outside the last 3 days refuses the whole batch, so a sender can retry it as it is. With Redis the events go to a Redis Stream and reach GET /analytics when the consumer group has written them (see /health events.consumer_lag).',
        body: EventsBody,
        response: { 202: EventsResponse, ...errorResponses(400, 404, 413, 503) },
      },
    },
    async (request, reply) => {
      const bodies = Array.isArray(request.body) ? request.body : [request.body];
      const campaigns = await resolveCampaigns(runtime, bodies);
      const events = stampEvents(bodies, (id) => campaigns.get(id)!, access.clock.nowMs());
      let fresh: boolean[];
      try {
        fresh = await pipeline.ingest(events);
      } catch (err) {
        if (err instanceof StoreUnavailableError) throw new StoreUnavailableHttpError({ cause: err });
        throw err;
      }
      const accepted = fresh.filter(Boolean).length;
      reply.code(202);
      return { received: events.length, accepted, duplicates: events.length - accepted };
    },
  );

  app.get<{ Params: Static<typeof AnalyticsParams>; Querystring: Static<typeof AnalyticsQuery> }>(
    '/analytics/:campaignId',
    {
      schema: {
        tags: ['reporting'],
        summary:
          'Impressions, clicks, conversions, spend, CTR, CPM, CPC and CPA per hour or day of the campaign (from/to: local dates, default the last 7 days), totals first. Money in micros.',
        params: AnalyticsParams,
        querystring: AnalyticsQuery,
        response: { 200: AnalyticsResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const campaign = runtime.getCampaign(request.params.campaignId);
      if (campaign === null) throw missingCampaign(runtime, request.params.campaignId);
      const today = dayWindowAt(campaign.timeZone, access.clock.nowMs()).key;
      const { from, to } = analyticsRange(request.query, today);
      const by = request.query.by ?? 'day';
      const [events, spend] = await Promise.all([
        pipeline.records.hours(campaign.id, from, to),
        access.records.history.hours(campaign.id, from, to),
      ]);
      return analyticsJson(campaign, { from, to, by }, buildAnalytics(events, spend, { from, to, by }));
    },
  );

  app.addHook('onReady', async () => {
    await pipeline.start();
  });
  app.addHook('onClose', async () => {
    await pipeline.close();
  });
}
