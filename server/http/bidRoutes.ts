import type { FastifyInstance } from 'fastify';
import { bidAttributes } from '../../core/targeting/request';
import type { BidEngine, BidInput } from '../bid/bidEngine';
import { BidRequest, type BidRequestJson, BidResponse, type BidResponseJson } from './bidSchemas';
import { errorResponses } from './schemas';

/** OpenRTB prices are CPM in currency units; the pacer counts micros. */
const MICROS_PER_UNIT = 1_000_000;

/** Header of a 204 no-bid: OpenRTB's no-bid has no body, so the reason travels beside it. */
export const NO_BID_REASON_HEADER = 'x-no-bid-reason';

/** The request as the engine takes it: segments flattened, floors in micros (rounded up: a floor is a minimum). */
export function bidInputFromJson(json: BidRequestJson): BidInput {
  const segments: string[] = [];
  for (const d of json.user?.data ?? []) for (const s of d.segment ?? []) segments.push(s.id);
  const values = new Map<string, number>();
  for (const p of json.ext?.predicted_ctr ?? []) values.set(p.campaign_id, p.predicted_ctr);
  return {
    id: json.id,
    imps: json.imp.map((imp) => ({
      id: imp.id,
      floorMicros: Math.ceil((imp.bidfloor ?? 0) * MICROS_PER_UNIT - 1e-6),
    })),
    attributes: bidAttributes({
      country: json.device?.geo?.country,
      deviceType: json.device?.devicetype,
      os: json.device?.os,
      app: json.app?.bundle,
      site: json.site?.domain,
      segments,
    }),
    userId: json.user?.id ?? null,
    values,
  };
}

/**
 * POST /bid: the bid engine in front of the pacer. 200 with one bid per imp won, or 204 (OpenRTB
 * no-bid) with the reason in a header.
 */
export function bidRoutes(app: FastifyInstance, engine: BidEngine): void {
  app.post<{ Body: BidRequestJson }>(
    '/bid',
    {
      schema: {
        tags: ['pacing'],
        summary:
          'An OpenRTB 2.6 bid request: the highest expected value among campaigns that target it and may bid.',
        description:
          'Filters campaigns by targeting, frequency cap and floor, asks the pacer for each, and answers the one with the highest price x predicted CTR (price alone without CTRs). Losers release their reservations. No bid is HTTP 204 with the reason in the x-no-bid-reason header.',
        body: BidRequest,
        response: {
          200: BidResponse,
          204: { type: 'null', description: 'No bid.' },
          ...errorResponses(400, 401, 413, 415),
        },
      },
    },
    async (request, reply) => {
      const outcome = await engine.bid(bidInputFromJson(request.body));
      if (outcome.kind === 'no_bid') {
        reply.code(204).header(NO_BID_REASON_HEADER, outcome.reason).send();
        return reply;
      }
      const out: BidResponseJson = {
        id: request.body.id,
        cur: 'USD',
        seatbid: [
          {
            bid: outcome.bids.map((b) => ({
              id: b.bidId,
              impid: b.impId,
              price: b.priceMicros / MICROS_PER_UNIT,
              price_cents: b.priceMicros / 10_000,
              campaign_id: b.campaignId,
              crid: b.creativeId,
            })),
          },
        ],
      };
      return out;
    },
  );
}
