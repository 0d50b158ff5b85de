import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HealthReport, PacerRuntime } from '../runtime/types';

const ProbeResponse = Type.Object({
  status: Type.String(),
  reason: Type.Optional(Type.String()),
  degraded: Type.Optional(Type.Boolean()),
});

/**
 * Why an instance cannot take traffic yet, or null when it can: ready means campaigns loaded and
 * a journal left by an earlier process replayed (HealthReport.ready), which waits for the store
 * to answer once. A degraded instance that is ready decides safely from its lease, so degraded
 * is ready: failing it would take the whole fleet out of the load balancer in a Redis outage.
 */
export function notReadyReason(h: HealthReport): string | null {
  if (!h.ready) {
    return 'Campaigns are not loaded, or the journal of an earlier process not replayed, yet: the store has not answered since start. The instance becomes ready once it does.';
  }
  return null;
}

/**
 * Kubernetes probes beside /health: /health/live answers as long as the process serves HTTP
 * (restart it when it does not), /health/ready when it can decide (route traffic to it).
 */
export function healthRoutes(app: FastifyInstance, runtime: PacerRuntime): void {
  app.get(
    '/health/live',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness probe: 200 while the process serves requests.',
        response: { 200: ProbeResponse },
      },
    },
    async () => ({ status: 'live' }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['operations'],
        summary:
          'Readiness probe: 200 once campaigns are loaded and the journal replayed; degraded is still ready.',
        response: { 200: ProbeResponse, 503: ProbeResponse },
      },
    },
    async (_request, reply) => {
      const h = runtime.health();
      const reason = notReadyReason(h);
      if (reason !== null) {
        reply.code(503);
        return { status: 'not_ready', reason, degraded: h.status === 'degraded' };
      }
      return { status: 'ready', degraded: h.status === 'degraded' };
    },
  );
}
