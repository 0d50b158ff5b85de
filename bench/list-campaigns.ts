import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Cluster, Redis } from 'ioredis';
import { makeCampaign } from '../core/campaign';
import { RedisStore } from '../server/store/redisStore';
import { startRedisCluster } from '../test/support/redisCluster';
import { startRedisServer } from '../test/support/redisServer';
import { machineLine } from './machine';

/**
 * How long the store takes to list 100,000 campaigns (what a starting server loads), on one Redis
 * node and on a six-node Cluster, against the way the store did it before (one SMEMBERS of a
 * global set, then one pipeline of 100,000 GETs) on the same data in the same run.
 *
 *   npx tsx bench/list-campaigns.ts [--campaigns 100000]
 */
const i = process.argv.indexOf('--campaigns');
const COUNT = i >= 0 ? Number(process.argv[i + 1]) : 100_000;
const ROUNDS = 3;

async function fill(store: RedisStore, raw: Redis | Cluster): Promise<void> {
  const ids = Array.from({ length: COUNT }, (_, n) => `camp-${n}`);
  for (let n = 0; n < ids.length; n += 1000) {
    await Promise.all(
      ids.slice(n, n + 1000).map((id) => store.putCampaign(makeCampaign({ id, dailyBudgetMicros: 1e9 }))),
    );
  }
  // The set the old code kept, for the baseline.
  for (let n = 0; n < ids.length; n += 10_000)
    await raw.sadd('pacer:campaigns-old', ...ids.slice(n, n + 10_000));
}

/** The previous listCampaigns: one pipeline of every GET, under the same 500 ms command timeout. */
async function oldList(raw: Redis | Cluster): Promise<number> {
  const ids = (await raw.smembers('pacer:campaigns-old')).sort();
  const p = raw.pipeline();
  for (const id of ids) p.get(`pacer:{c:${id}}:campaign`);
  const res = await p.exec();
  const failed = res?.filter(([e]) => e !== null).length ?? ids.length;
  if (failed > 0)
    throw new Error(`${failed} of ${ids.length} GETs failed (${res?.find(([e]) => e)?.[0]?.message})`);
  return ids.length;
}

async function time(fn: () => Promise<number>): Promise<string> {
  const out: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    try {
      const n = await fn();
      out.push(`${((performance.now() - t) / 1000).toFixed(2)} s (${n.toLocaleString('en-US')})`);
    } catch (err) {
      out.push(`failed after ${((performance.now() - t) / 1000).toFixed(2)} s: ${(err as Error).message}`);
    }
  }
  return out.join('; ');
}

const loadBefore = loadavg()[0]!;
const redis = await startRedisServer();
const cluster = await startRedisCluster();
const rows: string[] = [];
try {
  const single = new RedisStore({ url: redis.url });
  await single.waitReady(10_000);
  const rawSingle = new Redis(redis.url, { commandTimeout: 500 });
  await fill(single, rawSingle);
  rows.push(
    `| 1 Redis node | ${await time(async () => (await single.listCampaigns()).length)} | ${COUNT <= 200_000 ? await time(() => oldList(rawSingle)) : 'n/a'} |`,
  );
  rawSingle.disconnect();
  await single.close();

  const seeds = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  const clustered = new RedisStore({ topology: { kind: 'cluster', nodes: seeds, waitReplicas: 0 } });
  await clustered.waitReady(10_000);
  const rawCluster = new Cluster(seeds, { redisOptions: { commandTimeout: 500 } });
  await fill(clustered, rawCluster);
  rows.push(
    `| Redis Cluster, 3 primaries + 3 replicas | ${await time(async () => (await clustered.listCampaigns()).length)} | impossible: a pipeline across slots of several nodes is refused |`,
  );
  rawCluster.disconnect();
  await clustered.close();
} finally {
  await redis.dispose();
  await cluster.dispose();
}
const table = `# Listing ${COUNT.toLocaleString('en-US')} campaigns from Redis (what a starting server loads)

Command: \`npx tsx bench/list-campaigns.ts\`. Machine: ${machineLine()}; shared with other work
(load average ${loadBefore.toFixed(2)} at the start, ${loadavg()[0]!.toFixed(2)} at the end). ${ROUNDS} rounds each.

| store | RedisStore.listCampaigns (64 index sets, pipelines of 1,000 per node) | before: 1 set + 1 pipeline of every GET, 500 ms command timeout |
| --- | --- | --- |
${rows.join('\n')}
`;
writeFileSync('bench/results/list-campaigns.md', table);
process.stdout.write(table);
