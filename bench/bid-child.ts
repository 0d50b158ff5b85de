import Fastify, { type FastifyInstance } from 'fastify';
import { buildApp } from '../server/app';
import { loadConfig } from '../server/config';
import { BidResponse } from '../server/http/bidSchemas';
import { benchRuntime, benchStore } from './bidRuntime';

/**
 * One server for bench/bid.ts, in its own process so the load generator never shares its event
 * loop. Like server/main.ts, the place where the wall clock becomes a Clock.
 *
 *   bid N: the real app and runtime on the embedded store with N targeted campaigns
 *          (bench/bidWorkload.ts), each with a max bid, one in ten frequency-capped.
 *   bare:  a Fastify POST /bid that parses the same JSON body (without validating it) and answers
 *          a constant bid through the same response schema: what any bidder on Fastify pays.
 *
 * Prints "READY <port>" once listening.
 */
const [mode, countText] = process.argv.slice(2);
const clock = Object.freeze({ nowMs: () => Date.now() });

async function bidServer(campaigns: number): Promise<FastifyInstance> {
  const config = loadConfig({ LOG_LEVEL: 'warn', PORT: '0' }, { instanceId: 'bench' });
  const store = await benchStore(campaigns);
  return buildApp(config, {
    runtime: (log) => benchRuntime(store, config, clock, log),
    defaultMetrics: false,
  });
}

function bare(): FastifyInstance {
  const app = Fastify({ logger: false });
  const constant = {
    id: 'r',
    cur: 'USD' as const,
    seatbid: [
      {
        bid: [{ id: 'r:1', impid: '1', price: 2.5, price_cents: 250, campaign_id: 'camp-1', crid: 'camp-1' }],
      },
    ],
  };
  app.post('/bid', { schema: { response: { 200: BidResponse } } }, (_request, reply) => {
    reply.send(constant);
  });
  return app;
}

const app = mode === 'bid' ? await bidServer(Number(countText ?? '10000')) : bare();
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`READY ${typeof address === 'object' && address ? address.port : 0}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
