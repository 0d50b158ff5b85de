import { Readable } from 'node:stream';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import Ajv, { type Options as AjvOptions } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { StoreUnavailableError } from '../core/store';
import { BidEngine } from './bid/bidEngine';
import type { ServerConfig } from './config';
import { dashboardRoutes } from './dashboard/routes';
import type { EventPipeline } from './events/eventPipeline';
import { eventRoutes } from './events/eventRoutes';
import { eventsHealthToJson } from './events/eventsHealthJson';
import type { FrequencyCounter } from './frequency/frequencyCounter';
import { MemoryFrequencyCounter } from './frequency/memoryFrequencyCounter';
import { installAccessControl } from './http/access';
import { bidRoutes } from './http/bidRoutes';
import { budgetUpdates } from './http/budgetUpdates';
import { campaignRoutes } from './http/campaignRoutes';
import { installErrorHandlers } from './http/errorHandler';
import { healthRoutes } from './http/healthRoutes';
import { lazyChildLogger } from './http/lazyLogger';
import { PacerMetrics } from './http/metrics';
import { pacingRoutes } from './http/pacingRoutes';
import { clientErrorHandler, frameworkErrors } from './http/protocolErrors';
import { type RecordsAccess, recordRoutes, recordsHealthToJson } from './http/recordRoutes';
import { HealthResponse } from './http/schemas';
import { healthToJson } from './http/statusJson';
import { recordingHealthToJson } from './recording/recordingHealth';
import { registerRecordingMetrics } from './recording/recordingMetrics';
import type { TrafficRecorder } from './recording/trafficRecorder';
import { registerRecordsMetrics } from './records/recordsMetrics';
import type { PacerRuntime } from './runtime/types';

/** What the runtime may log through: Fastify's logger fits, so both write one stream. */
export interface AppLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AppDeps {
  /**
   * Not yet started: the app starts it when it becomes ready and closes it when it closes. A
   * function receives the app's logger, so the runtime logs into the same stream.
   */
  readonly runtime: PacerRuntime | ((log: AppLogger) => PacerRuntime);
  /** Process-wide default metrics (memory, event loop): off in tests that build many apps. */
  readonly defaultMetrics?: boolean;
  /** PostgreSQL (or PGlite) records: audit, performance history, /health and metrics fields. */
  readonly records?: RecordsAccess;
  /** RECORD_DIR: the traffic recording; the app starts it when ready and flushes it on close. */
  readonly recorder?: TrafficRecorder;
  /** Frequency caps of POST /bid: Redis-backed in a fleet; in-process when absent (embedded store). */
  readonly frequency?: FrequencyCounter;
  /** POST /events and GET /analytics (server/events): needs the records, where events are aggregated. */
  readonly events?: EventPipeline;
}

/**
 * Two Ajv instances, because request parts differ: a JSON body is checked exactly as sent
 * ("150" is not a number, unknown fields are refused), while the query string and the URL are
 * text by nature and are coerced ("?days=7" is the number 7).
 */
function validatorCompilers() {
  const base: AjvOptions = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false };
  const strict = addFormats(new Ajv({ ...base, coerceTypes: false }));
  const coercing = addFormats(new Ajv({ ...base, coerceTypes: true }));
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
}

/**
 * The decision server as a Fastify app, without listening: tests drive it with `app.inject`,
 * server/main.ts listens. It owns the runtime's lifecycle (start on ready, close on close, which
 * flushes pending spend) and every route's schema, which both validates and documents.
 */
export async function buildApp(config: ServerConfig, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel },
    // Per-request logs at this rate would cost more than the decision itself; errors are logged.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    bodyLimit: config.bodyLimitBytes,
    // Campaign ids run to 128 characters; find-my-way's default of 100 answered 414 to the longest.
    routerOptions: { maxParamLength: 256 },
    // start() may wait for a killed predecessor's instance claim to lapse (5 s) and for the first
    // load (5 s) before it lets the server listen; Fastify's default 10 s would cut that short.
    pluginTimeout: 30_000,
    clientErrorHandler,
    frameworkErrors,
    // Fastify's own 503 during drain has a body outside our error shape; the listener closes
    // first, so load balancers see the instance go, and requests already in flight complete.
    return503OnClosing: false,
    ajv: { customOptions: { coerceTypes: false } },
  });
  app.setValidatorCompiler(validatorCompilers());
  const runtime = typeof deps.runtime === 'function' ? deps.runtime(app.log) : deps.runtime;
  // Only JSON bodies are part of the API; plain text would reach validation as a string and get a
  // confusing "must be object" instead of the 415 that says what to send.
  app.removeContentTypeParser('text/plain');

  // Before any route exists: every route gets its access level from the onRoute hook.
  installAccessControl(app, { apiKey: config.apiKey, readKey: config.apiReadKey });
  const metrics = new PacerMetrics(runtime, { defaultMetrics: deps.defaultMetrics ?? true });
  installErrorHandlers(app, (err) => {
    if (
      err instanceof StoreUnavailableError ||
      (err as { cause?: unknown }).cause instanceof StoreUnavailableError
    ) {
      metrics.countStoreError('http');
    }
    app.log.error({ err }, 'request failed on the server side');
  });

  app.addHook('onResponse', (request, reply, done) => {
    // A WebSocket upgrade that reached a plain route (see the websocket scope below) got its HTTP
    // answer on the raw socket, which no HTTP parser owns any more: close it, as
    // @fastify/websocket's own hook does inside its scope.
    if ((request.raw as { upgrade?: boolean }).upgrade === true) request.raw.socket.destroy();
    metrics.observeRequest(
      request.method,
      request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Budget pacer',
        version: '0.1.0',
        description:
          'Ad campaign budget pacing: bid decisions, spend tracking, budget status and campaign management. Money is sent in cents (fractions down to 4 decimals, one micro) and kept as integer micros. Every error answers {error: {code, message}}. Real-time updates: WebSocket /ws/budget-updates. Live dashboard: /dashboard.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'API_KEY of the server' } },
      },
      tags: [
        { name: 'pacing', description: 'The decision service: hot path and spend' },
        { name: 'campaigns', description: 'Management API' },
        { name: 'reporting', description: 'Performance and alerts' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  // @fastify/websocket adds an onRequest and an onResponse hook and wraps the handler of every
  // route in its scope: registered at the root, every decision paid for them. In a scope of its
  // own only the WebSocket route does. Upgrades still reach it (the plugin routes them through
  // the shared router); injectWS is lifted to the root for tests.
  await app.register(async (scope) => {
    await scope.register(fastifyWebsocket, { options: { maxPayload: 4096 } });
    budgetUpdates(scope, runtime);
    app.decorate('injectWS', scope.injectWS);
  });

  const recorder = deps.recorder;
  if (recorder !== undefined) {
    recorder.useCampaigns((id) => runtime.getCampaign(id)?.timeZone ?? null);
    registerRecordingMetrics(metrics.registry, () => recorder.stats());
  }
  pacingRoutes(app, runtime, metrics, recorder);
  const frequency = deps.frequency ?? new MemoryFrequencyCounter();
  // Caps are counted from impressions: each one ingested confirms its exposure (the won bid).
  deps.events?.setOnImpressions((items) => frequency.confirmImpressions(items));
  bidRoutes(
    app,
    new BidEngine({
      runtime,
      frequency,
      impressionsFromEvents: deps.events !== undefined,
      onDecision: (reason) => metrics.countDecision(reason),
      log: app.log,
    }),
  );
  campaignRoutes(app, runtime, deps.records !== undefined);
  if (deps.records !== undefined) {
    recordRoutes(app, runtime, deps.records);
    registerRecordsMetrics(metrics.registry, () => deps.records!.health());
    if (deps.events !== undefined) eventRoutes(app, runtime, deps.events, deps.records, metrics.registry);
  }
  dashboardRoutes(app, runtime);
  healthRoutes(app, runtime);

  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness and store health.',
        description:
          'Answers 200 both when healthy and when degraded: a degraded instance still decides safely from local state, and since every instance shares one Redis, failing health checks on a Redis outage would take the whole fleet out of the load balancer. Alert on status "degraded" (or the pacer_degraded_mode metric) instead. During shutdown the listener closes, so checks fail by connection.',
        response: { 200: HealthResponse },
      },
    },
    async () => ({
      ...healthToJson(runtime.health()),
      ...(deps.records !== undefined && { records: recordsHealthToJson(deps.records.health()) }),
      ...(recorder !== undefined && { recording: recordingHealthToJson(recorder.stats()) }),
      ...(deps.events === undefined ? {} : { events: eventsHealthToJson(deps.events.health()) }),
    }),
  );

  app.get(
    '/metrics',
    { schema: { tags: ['operations'], summary: 'Prometheus metrics (text exposition format).' } },
    async (_request, reply) => {
      reply.type(metrics.contentType());
      return Readable.from(metrics.chunks());
    },
  );

  app.addHook('onReady', async () => {
    await runtime.start();
    recorder?.start();
  });
  app.addHook('onClose', async () => {
    await runtime.close();
    // After the runtime: the notices it flushed on close are recorded too.
    await recorder?.close();
    await frequency.close();
  });
  return app;
}
