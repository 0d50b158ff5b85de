import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { microsToCents } from '../../core/money';
import { UnknownCampaignError } from '../errors';
import { CampaignIdParams, type CampaignIdParamsJson, errorResponses } from '../http/schemas';
import type { PacerRuntime } from '../runtime/types';
import { DashboardDayResponse, targetKnotsCents } from './dayCurve';

const PAGE = readFileSync(new URL('./index.html', import.meta.url), 'utf8');

function inlineHashes(tag: 'script' | 'style'): string {
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  return [...PAGE.matchAll(re)]
    .map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`)
    .join(' ');
}

/**
 * The page runs only its own inline code, named by hash: no CDN, no third-party script, and an
 * injected script would not run. It talks only to this origin (its WebSocket and its JSON).
 * Charts are SVG the page draws itself.
 */
const CSP = [
  "default-src 'none'",
  `script-src ${inlineHashes('script')}`,
  `style-src ${inlineHashes('style')}`,
  "connect-src 'self'",
  // The empty data: icon stops the browser asking for /favicon.ico.
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * GET /dashboard: a self-contained live view of campaigns, fed by WS /ws/budget-updates.
 * GET /dashboard/day/:id: what its spend-vs-target chart needs beyond the live status.
 */
export function dashboardRoutes(app: FastifyInstance, runtime: PacerRuntime): void {
  app.get('/dashboard', { schema: { hide: true } }, async (_request, reply) => {
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-cache');
    return PAGE;
  });

  app.get<{ Params: CampaignIdParamsJson }>(
    '/dashboard/day/:id',
    {
      schema: {
        hide: true,
        params: CampaignIdParams,
        response: { 200: DashboardDayResponse, ...errorResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const campaign = runtime.getCampaign(request.params.id);
      if (campaign === null) throw new UnknownCampaignError(request.params.id);
      const [today] = await runtime.performance(campaign.id, 1);
      return {
        campaign_id: campaign.id,
        day: today?.dayKey ?? '',
        pacing_mode: campaign.pacingMode,
        daily_budget_cents: microsToCents(campaign.dailyBudgetMicros),
        target_knots_cents: targetKnotsCents(campaign),
        hourly_spent_cents: (today?.hourSpentMicros ?? []).map(microsToCents),
      };
    },
  );
}
