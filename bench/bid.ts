import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { loadavg } from 'node:os';
import { TargetingIndex } from '../core/targeting/targetingIndex';
import { BidEngine } from '../server/bid/bidEngine';
import { loadConfig } from '../server/config';
import { MemoryFrequencyCounter } from '../server/frequency/memoryFrequencyCounter';
import { bidInputFromJson } from '../server/http/bidRoutes';
import type { BidRequestJson } from '../server/http/bidSchemas';
import { benchRuntime, benchStore } from './bidRuntime';
import { benchBidRequest } from './bidWorkload';
import { machineLine } from './machine';

/**
 * POST /bid against a bare Fastify route of the same shape, with 1,000 and 10,000 targeted
 * campaigns, measured in the same run on the same machine. Each server is a child process
 * (bench/bid-child.ts, under tsx); this process is the load generator: CONNECTIONS keep-alive
 * connections in a closed loop, every response timed with process.hrtime (sub-millisecond).
 * Rounds alternate between the servers so machine noise lands on all of them.
 *
 *   npx tsx bench/bid.ts [--seconds 5] [--rounds 3] [--connections 16]
 *
 * Prints a Markdown table (bench/results/bid.md holds a committed one).
 */
const args = process.argv.slice(2);
const argValue = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const SECONDS = argValue('seconds', 5);
const ROUNDS = argValue('rounds', 3);
const CONNECTIONS = argValue('connections', 16);
const WARMUP_MS = 2_000;
/** Distinct request bodies, cycled: 100,000 users and their attributes (bench/bidWorkload.ts). */
const BODIES = Array.from({ length: 4096 }, (_, n) => Buffer.from(JSON.stringify(benchBidRequest(n))));

interface Server {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
}

function startServer(name: string, argv: string[]): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bid-child.ts', ...argv], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ name, child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
}

function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

interface Run {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly bids: number;
  readonly noBids: number;
  readonly errors: number;
}

function post(agent: http.Agent, port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/bid',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** CONNECTIONS loops for `ms`: each sends the next body as soon as its last answer came. */
async function load(port: number, ms: number, offset: number): Promise<Run> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let next = offset;
  let bids = 0;
  let noBids = 0;
  let errors = 0;
  const start = process.hrtime.bigint();
  const endNs = start + BigInt(ms) * 1_000_000n;
  const loop = async () => {
    while (process.hrtime.bigint() < endNs) {
      const body = BODIES[next++ % BODIES.length]!;
      const t0 = process.hrtime.bigint();
      const status = await post(agent, port, body).catch(() => 0);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (status === 200) bids++;
      else if (status === 204) noBids++;
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    requests: latencies.length,
    perSecond: latencies.length / elapsedS,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    bids,
    noBids,
    errors,
  };
}

/**
 * The engine alone, in this process before any server starts: CPU per bid with the pacer's own
 * state but no HTTP, and how many campaigns a request matches and the pacer is asked about.
 */
async function engineCpu(count: number): Promise<{ msPerBid: number; matched: number }> {
  const config = loadConfig({ LOG_LEVEL: 'warn', PORT: '0' }, { instanceId: 'bench' });
  const quiet = { info() {}, warn() {}, error() {} };
  const runtime = benchRuntime(await benchStore(count), config, { nowMs: () => Date.now() }, quiet);
  await runtime.start();
  const index = new TargetingIndex(runtime.listCampaigns());
  const engine = new BidEngine({ runtime, frequency: new MemoryFrequencyCounter() });
  const inputs = Array.from({ length: 1000 }, (_, n) =>
    bidInputFromJson(benchBidRequest(n) as BidRequestJson),
  );
  for (const input of inputs.slice(0, 300)) await engine.bid(input);
  let matched = 0;
  for (const input of inputs) matched += index.matching(input.attributes, Date.now()).length;
  const t0 = process.cpuUsage();
  for (const input of inputs) await engine.bid(input);
  const used = process.cpuUsage(t0);
  await runtime.close();
  return { msPerBid: (used.user + used.system) / 1000 / inputs.length, matched: matched / inputs.length };
}

const engine1k = await engineCpu(1_000);
const engine10k = await engineCpu(10_000);
process.stderr.write(`engine: 1,000 ${JSON.stringify(engine1k)}; 10,000 ${JSON.stringify(engine10k)}\n`);

const servers = [
  await startServer('bare route', ['bare']),
  await startServer('/bid, 1,000 campaigns', ['bid', '1000']),
  await startServer('/bid, 10,000 campaigns', ['bid', '10000']),
];
const results = new Map<string, Run[]>(servers.map((s) => [s.name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of servers) {
      await load(s.port, WARMUP_MS, round * 100_000);
      const run = await load(s.port, SECONDS * 1000, round * 100_000 + 50_000);
      results.get(s.name)!.push(run);
      process.stderr.write(`${s.name} round ${round + 1}: ${JSON.stringify(run)}\n`);
    }
  }
} finally {
  await Promise.all(servers.map(stopServer));
}

/** The round with the median throughput stands for the server. */
function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor((runs.length - 1) / 2)]!;
}
const bare = median(results.get('bare route')!);
const lines = [
  `Machine: ${machineLine()}; 2 cores shared by the servers and the load generator (and, during this run, other work: load average ${loadavg()[0]!.toFixed(1)}).`,
  `${CONNECTIONS} connections, closed loop, ${SECONDS} s per round, ${ROUNDS} rounds alternating between servers (median round shown).`,
  '',
  '| server | requests/s | vs bare | p50 ms | p99 ms | p99 vs bare | bids | no-bids (204) | errors |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...servers.map((s) => {
    const r = median(results.get(s.name)!);
    return `| ${s.name} | ${Math.round(r.perSecond)} | ${(r.perSecond / bare.perSecond).toFixed(2)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${(r.p99Ms / bare.p99Ms).toFixed(2)} | ${r.bids} | ${r.noBids} | ${r.errors} |`;
  }),
];
lines.push(
  '',
  'The engine alone (no HTTP; CPU time of 1,000 bids in the benchmark process, after 300 warm-up bids):',
  '',
  '| campaigns | matching campaigns per request (each asked of the pacer) | CPU ms per bid |',
  '|---:|---:|---:|',
  `| 1,000 | ${engine1k.matched.toFixed(1)} | ${engine1k.msPerBid.toFixed(3)} |`,
  `| 10,000 | ${engine10k.matched.toFixed(1)} | ${engine10k.msPerBid.toFixed(3)} |`,
);
process.stdout.write(`${lines.join('\n')}\n`);
