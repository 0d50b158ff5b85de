import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { HttpClient } from '../loadtest/httpClient';
import { runOpenLoop } from '../loadtest/openLoop';
import { Schedule, ratePlan } from '../loadtest/pattern';
import { latencySummary } from '../loadtest/summary';
import { bundleServer } from '../server/build';
import { startRedisCluster } from '../test/support/redisCluster';
import { freePort, startRedisServer } from '../test/support/redisServer';
import { machineLine } from './machine';

/**
 * POST /pacing/decision of the real server (bundled as `npm run build` bundles it) on one Redis
 * node, on a six-node Redis Cluster, and with WORKERS=1 and 2, each next to the bare Fastify route
 * of bench/server-child.ts measured in the same run. The load generator runs in this process on the
 * same cores as the servers and Redis, so absolute rates are a floor; the ratios are what compare.
 *
 *   npm run bench:scale    (tsx bench/scale-load.ts [--seconds 5] [--rate N] [--campaigns 1000])
 *
 * Per server: the closed-loop maximum (autocannon, 32 connections) and, at one fixed offered rate
 * for every server (half the bare route's maximum unless --rate), the open-loop latency measured from each request's due time (the load-test
 * tool's generator, HDR histogram). The bare route runs first and last, so drift shows.
 */
const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = arg('seconds', 5);
/** Offered rate of the latency runs; by default half the bare route's maximum measured first. */
let rate = arg('rate', 0);
const CAMPAIGNS = arg('campaigns', 1000);
const CONNECTIONS = 32;
const SERVER_BUNDLE = 'out/bench/scale-server.mjs';
const CHILD_BUNDLE = 'out/bench/server-child.mjs';

interface Proc {
  readonly child: ChildProcess;
  readonly port: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitHealthy(port: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`server on ${port} did not answer /health within 60 s`);
}

async function startPacer(env: Record<string, string>, journalDir: string): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--max-semi-space-size=8', SERVER_BUNDLE], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      JOURNAL_DIR: journalDir,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitHealthy(port);
  return { child, port };
}

function startBare(): Promise<Proc> {
  const child = spawn(process.execPath, ['--max-semi-space-size=8', CHILD_BUNDLE, 'bare'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
}

function stop(p: Proc): Promise<void> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null) return resolve();
    p.child.once('exit', () => resolve());
    p.child.kill('SIGTERM');
  });
}

/** Campaigns with budgets the run cannot exhaust, created through the API; waits until every worker has them. */
async function seed(port: number, tag: string, workers: number): Promise<string[]> {
  const client = new HttpClient(`http://127.0.0.1:${port}`, null, 16, 30_000);
  const ids = Array.from({ length: CAMPAIGNS }, (_, i) => `${tag}-${i}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const body = { id, daily_budget_cents: 100_000_000, pacing_mode: next % 2 === 0 ? 'EVEN' : 'ASAP' };
        // A busy machine can time a store write out (503): retry, a 409 then means it went through.
        let status = 0;
        for (let attempt = 0; attempt < 20 && status !== 201 && status !== 409; attempt++) {
          status = (await client.send('POST', '/campaigns', body)).status;
          if (status !== 201 && status !== 409) await sleep(200);
        }
        if (status !== 201 && status !== 409) throw new Error(`POST /campaigns ${id}: ${status}`);
      }
    }),
  );
  // Each worker picks up campaigns created through another within its refresh (5 s).
  for (let i = 0; i < 300; i++) {
    const answers = await Promise.all(
      Array.from({ length: 8 * workers }, () => client.send('GET', '/health')),
    );
    const counts = new Map<string, number>();
    for (const a of answers) {
      const b = a.body as { instance_id: string; campaigns: number };
      counts.set(b.instance_id, b.campaigns);
    }
    if (counts.size === workers && [...counts.values()].every((c) => c >= CAMPAIGNS)) break;
    await sleep(100);
  }
  client.close();
  return ids;
}

async function closedLoopMax(port: number, ids: readonly string[]): Promise<number> {
  const bodies = ids.map((id, i) => JSON.stringify({ campaign_id: id, bid_cents: 150 + (i % 50) }));
  let n = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'POST',
        path: '/pacing/decision',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => {
          req.body = bodies[n++ % bodies.length];
          return req;
        },
      },
    ],
  });
  if (result.non2xx + result.errors > result.requests.total / 100) {
    // Which statuses, so a failure says what the server answered (404 unknown campaign, 503 ...).
    const statuses = JSON.stringify((result as { statusCodeStats?: unknown }).statusCodeStats ?? {});
    throw new Error(
      `closed loop on ${port}: ${result.non2xx} non-2xx, ${result.errors} errors; statuses ${statuses}`,
    );
  }
  return result.requests.total / SECONDS;
}

async function openLoop(port: number, ids: readonly string[]) {
  const client = new HttpClient(`http://127.0.0.1:${port}`, null, 64, 10_000);
  const run = await runOpenLoop({
    client,
    campaigns: ids.map((id) => ({ id, dailyBudgetCents: 0, pacingMode: 'EVEN' })),
    schedule: new Schedule(ratePlan('normal', rate, SECONDS)),
    runTag: `bench${port}`,
    seed: 'scale',
    spendRate: 0,
  });
  client.close();
  return { ...latencySummary(run.decisionLatency), achievedQps: run.completed / run.elapsedS };
}

interface Row {
  readonly name: string;
  readonly maxQps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly achievedQps: number;
}

async function measure(name: string, p: Proc, ids: readonly string[]): Promise<Row> {
  await closedLoopMax(p.port, ids.slice(0, 100)); // warm-up
  const maxQps = await closedLoopMax(p.port, ids);
  if (rate === 0) rate = Math.max(10, Math.round(maxQps / 2));
  const o = await openLoop(p.port, ids);
  process.stderr.write(`${name}: ${Math.round(maxQps)}/s max, p99 ${o.p99} ms at ${rate}/s\n`);
  return { name, maxQps, p50Ms: o.p50, p99Ms: o.p99, p999Ms: o.p999, achievedQps: o.achievedQps };
}

await bundleServer('server/main.ts', SERVER_BUNDLE);
await bundleServer('bench/server-child.ts', CHILD_BUNDLE);
const loadBefore = loadavg()[0]!;
const root = mkdtempSync(join(tmpdir(), 'pacer-bench-scale-'));
const redis = await startRedisServer();
const cluster = await startRedisCluster();
const rows: Row[] = [];
const bareIds = Array.from({ length: CAMPAIGNS }, (_, i) => `bare-${i}`);
try {
  const configs: { name: string; tag: string; workers: number; env: Record<string, string> }[] = [
    { name: 'pacer, 1 Redis node, WORKERS=1', tag: 's1', workers: 1, env: { REDIS_URL: redis.url } },
    {
      name: 'pacer, Redis Cluster (3+3), WORKERS=1',
      tag: 'c1',
      workers: 1,
      env: { REDIS_CLUSTER_NODES: cluster.seeds },
    },
    {
      name: 'pacer, 1 Redis node, WORKERS=2',
      tag: 's2',
      workers: 2,
      env: { REDIS_URL: redis.url, WORKERS: '2' },
    },
    {
      name: 'pacer, Redis Cluster (3+3), WORKERS=2',
      tag: 'c2',
      workers: 2,
      env: { REDIS_CLUSTER_NODES: cluster.seeds, WORKERS: '2' },
    },
  ];
  const bare1 = await startBare();
  rows.push(await measure('bare Fastify route (first)', bare1, bareIds));
  await stop(bare1);
  for (const c of configs) {
    const p = await startPacer({ ...c.env, INSTANCE_ID: `bench-${c.tag}` }, join(root, c.tag));
    try {
      const ids = await seed(p.port, c.tag, c.workers);
      rows.push(await measure(c.name, p, ids));
    } finally {
      await stop(p);
    }
  }
  const bare2 = await startBare();
  rows.push(await measure('bare Fastify route (last)', bare2, bareIds));
  await stop(bare2);
} finally {
  await redis.dispose();
  await cluster.dispose();
  rmSync(root, { recursive: true, force: true });
}
const loadAfter = loadavg()[0]!;

const bareMax = (rows[0]!.maxQps + rows.at(-1)!.maxQps) / 2;
const bareP99 = (rows[0]!.p99Ms + rows.at(-1)!.p99Ms) / 2;
const nproc = execFileSync('nproc').toString().trim();
/** The bare route ran first and last: if the two differ much, the machine changed under the run. */
function drift(first: number, last: number): string {
  const ratio = Math.min(first, last) / Math.max(first, last);
  if (ratio >= 0.75) return '';
  return `
**This run is not conclusive**: the bare route measured ${fmt(first)}/s at the start and ${fmt(last)}/s at
the end (${(ratio * 100).toFixed(0)}% apart), so other work on the machine, not the servers, set most
of these numbers. Rerun on a quiet machine before drawing conclusions from the ratios.
`;
}
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const table = `# Scale-out: Redis Cluster and WORKERS, against the bare route

Command: \`npm run bench:scale\` (bench/scale-load.ts; --seconds ${SECONDS} --rate ${rate} --campaigns ${CAMPAIGNS}).
Machine: ${machineLine()}; \`nproc\` ${nproc}. **The load generator, the servers, the Redis
processes (1 node, or 6 Cluster nodes) all share these ${nproc} cores**, and so did other work:
load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end. Absolute
rates are a floor; compare the ratios, and read WORKERS=2 knowing that a second server process
competes for the same ${nproc} cores as the load generator and Redis.

Servers: \`server/main.ts\` bundled as \`npm run build\` does, run with the flags of \`npm start\`,
${CAMPAIGNS.toLocaleString('en-US')} campaigns (half EVEN, half ASAP, budgets the run cannot reach) created through the API;
decisions never wait on Redis (leases, background sync every 250 ms), so Redis shows up as
background load. The bare route (bench/server-child.ts) parses the body and answers a constant
decision through the same response schema, one process; it ran first and last and the ratios use
the mean of the two.

| server | max decisions/s (closed loop, ${CONNECTIONS} conns) | share of bare | p50 / p99 / p99.9 at ${rate}/s offered (open loop) | p99 vs bare |
| --- | ---: | ---: | --- | ---: |
${rows
  .map(
    (r) =>
      `| ${r.name} | ${fmt(r.maxQps)} | ${((r.maxQps / bareMax) * 100).toFixed(1)}% | ${r.p50Ms} / ${r.p99Ms} / ${r.p999Ms} ms (achieved ${fmt(r.achievedQps)}/s) | ${(r.p99Ms / bareP99).toFixed(2)}x |`,
  )
  .join('\n')}

Latency is measured from each request's scheduled send time (no coordinated omission), in an HDR
histogram, by the load-test tool's own generator (loadtest/openLoop.ts).
${drift(rows[0]!.maxQps, rows.at(-1)!.maxQps)}`;
writeFileSync('bench/results/scale-load.md', table);
process.stdout.write(table);
