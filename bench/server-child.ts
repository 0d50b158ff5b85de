import { monitorEventLoopDelay } from 'node:perf_hooks';
import Fastify, { type FastifyInstance } from 'fastify';
import { makeCampaign } from '../core/campaign';
import { MemoryJournal } from '../core/journal';
import { MemoryStore } from '../core/memoryStore';
import { buildApp } from '../server/app';
import { loadConfig } from '../server/config';
import { DecisionResponse } from '../server/http/schemas';
import { createRuntime } from '../server/runtime/runtime';
import { intervalTimers } from '../server/runtime/time';
import { EmbeddedStore } from '../server/store/embeddedStore';

/**
 * One server for bench/server-load.ts, in its own process so the load generator never shares
 * its event loop. An entry point like server/main.ts, and like it the place where the wall
 * clock becomes a Clock.
 *
 *   pacer N: the real app and runtime on the embedded store, preloaded with N campaigns
 *            (written to the store before start, as a restart would find them in Redis).
 *   bare:    a Fastify route that parses the same JSON body (without validating it) and answers
 *            a constant decision through the same response schema: the floor any decision
 *            server on Fastify pays, and the strictest baseline to compare with.
 *
 * Both also answer GET /__bench/loop: the event-loop delay (1 ms resolution) since the last call,
 * measured inside the server, so stalls of the server itself can be told from the load generator's
 * own latency and from other processes on the machine.
 *
 * Prints "READY <port>" once listening.
 */
const [mode, countText] = process.argv.slice(2);
const clock = Object.freeze({ nowMs: () => Date.now() });

async function pacer(campaigns: number) {
  const config = loadConfig({ LOG_LEVEL: 'warn', PORT: '0' }, { instanceId: 'bench' });
  const store = new MemoryStore();
  for (let i = 0; i < campaigns; i++) {
    await store.putCampaign(
      makeCampaign({
        id: `camp-${i}`,
        dailyBudgetMicros: 1_000_000_000_000,
        pacingMode: i % 2 === 0 ? 'EVEN' : 'ASAP',
      }),
    );
  }
  return buildApp(config, {
    runtime: (log) =>
      createRuntime({
        // As server/main.ts runs without REDIS_URL.
        store: new EmbeddedStore(store),
        journal: new MemoryJournal(),
        clock,
        timers: intervalTimers,
        instanceId: config.instanceId,
        config: config.pacer,
        log,
        storeKind: 'embedded',
      }),
  });
}

function bare() {
  const app = Fastify({ logger: false });
  const constant = { allow_bid: true, max_bid_cents: 150, throttle_rate: 0, reason: 'within_budget' };
  app.post('/pacing/decision', { schema: { response: { 200: DecisionResponse } } }, (_request, reply) => {
    reply.send(constant);
  });
  return app;
}

const app: FastifyInstance = mode === 'pacer' ? await pacer(Number(countText ?? '10000')) : bare();
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
app.get('/__bench/loop', { schema: { hide: true } }, async () => {
  const out = { p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 };
  loop.reset();
  return out;
});
// With --expose-gc: a full collection, then the heap that is live (not garbage awaiting collection).
app.get('/__bench/gc', { schema: { hide: true } }, async () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { heapUsedMb: m.heapUsed / 2 ** 20, rssMb: m.rss / 2 ** 20 };
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`READY ${typeof address === 'object' && address ? address.port : 0}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
