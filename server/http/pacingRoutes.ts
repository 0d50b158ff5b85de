import type { FastifyInstance } from 'fastify';
import { newDecision } from '../../core/decision';
import { microsToCents } from '../../core/money';
import type { TrafficRecorder } from '../recording/trafficRecorder';
import type { PacerRuntime } from '../runtime/types';
import { centsField } from './campaignJson';
import type { PacerMetrics } from './metrics';
import { missingCampaign } from './missingCampaign';
import {
  BatchDecisionRequest,
  type BatchDecisionRequestJson,
  BatchDecisionResponse,
  type BatchDecisionResponseJson,
  BudgetStatusResponse,
  CampaignIdParams,
  type CampaignIdParamsJson,
  DecisionRequest,
  type DecisionRequestJson,
  DecisionResponse,
  type DecisionResponseJson,
  SpendRequest,
  type SpendRequestJson,
  SpendResponse,
  errorResponses,
} from './schemas';
import { budgetStatusToJson } from './statusJson';

export const DEGRADED_WARNING = 'Operating in degraded mode';

/**
 * The core pacing service: decisions (the hot path), spend tracking and budget status. The
 * decision handlers are synchronous: the runtime decides from local state and never awaits the
 * store, and one Decision object per app is filled and read within a single handler call.
 */
export function pacingRoutes(
  app: FastifyInstance,
  runtime: PacerRuntime,
  metrics: PacerMetrics,
  recorder?: TrafficRecorder,
): void {
  const decision = newDecision();

  app.post<{ Body: DecisionRequestJson }>(
    '/pacing/decision',
    {
      schema: {
        tags: ['pacing'],
        summary: 'Whether a campaign may bid on one request, and at what maximum CPM.',
        body: DecisionRequest,
        response: { 200: DecisionResponse, ...errorResponses(400, 404, 413, 415) },
      },
    },
    (request, reply) => {
      const body = request.body;
      const bidMicros = centsField('bid_cents', body.bid_cents);
      const value = body.value ?? body.predicted_ctr ?? -1;
      const d = runtime.decide(body.campaign_id, bidMicros, body.request_id, decision, value);
      if (d === null) throw missingCampaign(runtime, body.campaign_id);
      metrics.countDecision(d.reason);
      recorder?.recordDecision(body.campaign_id, body.request_id, bidMicros, value, d);
      const out: DecisionResponseJson = {
        allow_bid: d.allow,
        max_bid_cents: microsToCents(d.maxBidCpmMicros),
        throttle_rate: d.throttleRate,
        reason: d.reason,
      };
      if (d.degraded) out.warning = DEGRADED_WARNING;
      reply.send(out);
    },
  );

  app.post<{ Body: BatchDecisionRequestJson }>(
    '/pacing/decisions',
    {
      schema: {
        tags: ['pacing'],
        summary: 'Decisions for every candidate campaign of one auction.',
        description:
          'An unknown campaign among the candidates does not fail the batch: its entry says reason "unknown_campaign". Every amount is checked before any decision is made, so a bad batch reserves nothing.',
        body: BatchDecisionRequest,
        response: { 200: BatchDecisionResponse, ...errorResponses(400, 413, 415) },
      },
    },
    (request, reply) => {
      const { candidates, request_id: requestId } = request.body;
      const bidsMicros = candidates.map((c, i) => centsField(`candidates[${i}].bid_cents`, c.bid_cents));
      // Before any reservation: while campaigns load, an unknown candidate may exist after all.
      if (!runtime.isReady()) {
        for (const c of candidates)
          if (runtime.getCampaign(c.campaign_id) === null) throw missingCampaign(runtime, c.campaign_id);
      }
      const out: BatchDecisionResponseJson = { decisions: [] };
      let degraded = false;
      for (let i = 0; i < candidates.length; i++) {
        const candidate = candidates[i]!;
        const campaignId = candidate.campaign_id;
        const value = candidate.value ?? candidate.predicted_ctr ?? -1;
        const d = runtime.decide(campaignId, bidsMicros[i]!, requestId, decision, value);
        if (d === null) {
          metrics.countDecision('unknown_campaign');
          out.decisions.push({
            campaign_id: campaignId,
            allow_bid: false,
            max_bid_cents: 0,
            throttle_rate: 0,
            reason: 'unknown_campaign',
          });
          continue;
        }
        metrics.countDecision(d.reason);
        recorder?.recordDecision(campaignId, requestId, bidsMicros[i]!, value, d);
        degraded ||= d.degraded;
        out.decisions.push({
          campaign_id: campaignId,
          allow_bid: d.allow,
          max_bid_cents: microsToCents(d.maxBidCpmMicros),
          throttle_rate: d.throttleRate,
          reason: d.reason,
        });
      }
      if (degraded) out.warning = DEGRADED_WARNING;
      reply.send(out);
    },
  );

  app.post<{ Body: SpendRequestJson }>(
    '/spend/track',
    {
      schema: {
        tags: ['pacing'],
        summary: 'Books money actually spent (a win notice). Idempotent by event_id.',
        description:
          'A retried notice with the same event_id answers counted=false, duplicate=true and changes nothing.',
        body: SpendRequest,
        response: { 200: SpendResponse, ...errorResponses(400, 401, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      // A notice for a campaign created on another instance a moment ago must not be refused.
      if (runtime.getCampaign(body.campaign_id) === null && !(await runtime.adoptCampaign(body.campaign_id)))
        throw missingCampaign(runtime, body.campaign_id);
      const spendMicros = centsField('spend_cents', body.spend_cents);
      const outcome = await runtime.trackSpend({
        campaignId: body.campaign_id,
        spendMicros,
        eventId: body.event_id,
        ...(body.request_id === undefined ? {} : { requestId: body.request_id }),
      });
      metrics.countSpend(outcome);
      if (outcome.counted) recorder?.recordWin(body.campaign_id, body.event_id, body.request_id, spendMicros);
      return {
        campaign_id: body.campaign_id,
        event_id: body.event_id,
        counted: outcome.counted,
        duplicate: !outcome.counted,
        journaled: outcome.journaled,
      };
    },
  );

  app.get<{ Params: CampaignIdParamsJson }>(
    '/budget/status/:id',
    {
      schema: {
        tags: ['pacing'],
        summary: "A campaign's spend today and this hour, what remains, its target, throttle and breaker.",
        params: CampaignIdParams,
        response: { 200: BudgetStatusResponse, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const status = await runtime.freshStatus(request.params.id);
      if (status === null) throw missingCampaign(runtime, request.params.id);
      return budgetStatusToJson(status);
    },
  );
}
