import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { bundleServer } from '../server/build';
import { machineLine } from './machine';

/**
 * Load test of POST /pacing/decision against a bare Fastify route of the same shape, measured in
 * the same run on the same machine. Each server runs in a child process (bench/server-child.ts);
 * autocannon drives it from this one, on 127.0.0.1 only. Bounded: about a minute in all.
 *
 *   npm run bench:server    (tsx bench/server-load.ts [--campaigns 10000] [--seconds 8])
 *
 * Measures, per server: the maximum rate (closed loop, CONNECTIONS connections, in MAX_ROUNDS rounds
 * alternating between the two servers so machine noise lands on both); then, for both
 * servers at the same offered rate, half the pacer's maximum (open loop), the latency distribution
 * and the event-loop delay inside the server; and the pacer's resident memory with all campaigns
 * loaded, idle and after the runs. Latencies are collected from every response at sub-millisecond
 * precision (autocannon's own histogram rounds to whole ms). During the pacer's fixed-rate run,
 * /metrics is scraped once, as Prometheus would, so its cost shows in the tail if it has one.
 */
const args = process.argv.slice(2);
const argValue = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const CAMPAIGNS = argValue('campaigns', 10_000);
const SECONDS = argValue('seconds', 8);
const WARMUP_SECONDS = 2;
const CONNECTIONS = 32;
const TARGETS = { throughputShare: 0.85, p99Ms: 2, rssMb: 150 };

interface Server {
  readonly child: ChildProcess;
  readonly port: number;
}

/**
 * The servers run from a plain-JS bundle built the way `npm run build` builds dist/server.mjs
 * (server/build.ts: esbuild, dependencies left in node_modules), as a production image would:
 * under tsx, its loader thread and transpiler add tens of MB of RSS that are not the server's.
 * The tsx figure is measured too, since `tsx server/main.ts` pays it.
 */
const BUNDLE = 'out/bench/server-child.mjs';
/** Alternating closed-loop rounds per server; the median round's ratio is the verdict. */
const MAX_ROUNDS = 3;
/**
 * Node flags both servers run with: by default the ones `npm start` uses (package.json), so the
 * table measures what production runs. A smaller young generation keeps idle RSS down.
 */
const NODE_FLAGS = (process.env.SERVER_NODE_FLAGS ?? '--max-semi-space-size=8').split(' ').filter(Boolean);

function startServer(mode: 'pacer' | 'bare', runner: 'bundle' | 'tsx' = 'bundle'): Promise<Server> {
  const argv =
    runner === 'bundle'
      ? [...NODE_FLAGS, '--expose-gc', BUNDLE, mode, String(CAMPAIGNS)]
      : ['--import', 'tsx', 'bench/server-child.ts', mode, String(CAMPAIGNS)];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /READY (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => reject(new Error(`${mode} server exited with ${code} before it was ready`)));
  });
}

function stopServer(s: Server): Promise<void> {
  return new Promise((resolve) => {
    s.child.once('exit', () => resolve());
    s.child.kill('SIGTERM');
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * Request bodies cycling through the campaigns, built once without their closing brace: each
 * request appends a fresh `request_id`, as exchanges send one, so the server holds a reservation
 * per allowed decision (the map that once turned quadratic was never exercised without it).
 */
const bodies = Array.from({ length: CAMPAIGNS }, (_, i) =>
  JSON.stringify({ campaign_id: `camp-${i}`, bid_cents: 150 + (i % 50) }).slice(0, -1),
);

interface RunResult {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface LoopDelay {
  readonly p99Ms: number;
  readonly maxMs: number;
}

async function loopDelay(port: number): Promise<LoopDelay> {
  return (await (await fetch(`http://127.0.0.1:${port}/__bench/loop`)).json()) as LoopDelay;
}

async function run(
  port: number,
  seconds: number,
  overallRate?: number,
  scrapeMetrics = false,
): Promise<RunResult & { loop: LoopDelay }> {
  await loopDelay(port);
  let next = 0;
  const latenciesMs: number[] = [];
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    ...(overallRate ? { overallRate: Math.round(overallRate) } : {}),
    requests: [
      {
        method: 'POST',
        path: '/pacing/decision',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req: Record<string, unknown>) => {
          const n = next++;
          req.body = `${bodies[n % bodies.length]},"request_id":"r${n}"}`;
          return req;
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
    latenciesMs.push(responseTimeMs);
  });
  // One Prometheus scrape in the middle of the run.
  const scrape = scrapeMetrics
    ? new Promise<void>((resolve) =>
        setTimeout(
          () => {
            void fetch(`http://127.0.0.1:${port}/metrics`)
              .then((r) => r.text())
              .then(() => resolve());
          },
          (seconds * 1000) / 2,
        ),
      )
    : Promise.resolve();
  const result = await instance;
  await scrape;
  const loop = await loopDelay(port);
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    rps: result.requests.total / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    loop,
  };
}

async function finish(server: Server, mode: 'pacer' | 'bare') {
  const afterRssMb = rssMb(server.child.pid!);
  let reasons = '';
  const gc = (await (await fetch(`http://127.0.0.1:${server.port}/__bench/gc`)).json()) as {
    heapUsedMb: number;
    rssMb: number;
  };
  const liveHeapMb = gc.heapUsedMb;
  const gcRssMb = gc.rssMb;
  if (mode === 'pacer') {
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    reasons = [...metrics.matchAll(/^pacer_decisions_total\{reason="([a-z_]+)"\} (\d+)/gm)]
      .map((m) => `${m[1]} ${Number(m[2]).toLocaleString('en-US')}`)
      .join(', ');
  }
  await stopServer(server);
  return { afterRssMb, liveHeapMb, gcRssMb, reasons };
}

await bundleServer('bench/server-child.ts', BUNDLE);
const loadBefore = loadavg()[0]!;
// Both servers up; their closed-loop maxima are measured in alternating rounds, so a burst of
// other work on the machine lands on both sides, and the median round's ratio is reported.
const bareServer = await startServer('bare');
const bareIdleRssMb = rssMb(bareServer.child.pid!);
const pacerServer = await startServer('pacer');
const pacerIdleRssMb = rssMb(pacerServer.child.pid!);
await run(bareServer.port, WARMUP_SECONDS);
await run(pacerServer.port, WARMUP_SECONDS);
const rounds: { bare: Awaited<ReturnType<typeof run>>; pacer: Awaited<ReturnType<typeof run>> }[] = [];
for (let i = 0; i < MAX_ROUNDS; i++) {
  const bareRun = await run(bareServer.port, SECONDS);
  const pacerRun = await run(pacerServer.port, SECONDS);
  rounds.push({ bare: bareRun, pacer: pacerRun });
}
const byShare = [...rounds].sort((a, b) => a.pacer.rps / a.bare.rps - b.pacer.rps / b.bare.rps);
const medianRound = byShare[Math.floor(byShare.length / 2)]!;
const roundShares = rounds.map((r) => `${((r.pacer.rps / r.bare.rps) * 100).toFixed(1)}%`).join(', ');
// Then both at the same offered rate: half the pacer's maximum.
const offered = medianRound.pacer.rps / 2;
const pacerHalf = await run(pacerServer.port, SECONDS, offered, true);
const pacerEnd = await finish(pacerServer, 'pacer');
const bareHalf = await run(bareServer.port, SECONDS, offered);
const bareEnd = await finish(bareServer, 'bare');
const bare = { max: medianRound.bare, half: bareHalf, idleRssMb: bareIdleRssMb, ...bareEnd };
const pacer = { max: medianRound.pacer, half: pacerHalf, idleRssMb: pacerIdleRssMb, ...pacerEnd };
const underTsx = await startServer('pacer', 'tsx');
const tsxIdleRssMb = rssMb(underTsx.child.pid!);
await stopServer(underTsx);
const loadAfter = loadavg()[0]!;

const ms = (x: number) => `${x.toFixed(3)} ms`;
const rate = (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`;
const mb = (x: number) => `${x.toFixed(1)} MB`;
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
const share = pacer.max.rps / bare.max.rps;
const cpuModel = cpus()[0]?.model.trim() ?? 'unknown';
const nproc = execFileSync('nproc').toString().trim();

const table = `# POST /pacing/decision under load vs a bare Fastify route

Command: \`npm run bench:server\` (bench/server-load.ts; servers in child processes from
bench/server-child.ts, bundled as \`npm run build\` bundles server/main.ts and run as
\`node ${[...NODE_FLAGS, '--expose-gc'].join(' ')}\` (gc is called once, after the runs, to read the live heap); autocannon from
the parent on 127.0.0.1, ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up then ${SECONDS} s per run).
Machine: ${machineLine()}; \`nproc\` ${nproc}; CPU ${cpuModel}. The load generator shares the
machine's cores with the server, so absolute rates are a floor; the ratio is what compares.
Load average (1 min) when the run started and ended: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)}; anything
near or above ${nproc} means other work shared the cores and the latencies are not the server's alone.

The pacer holds ${CAMPAIGNS.toLocaleString('en-US')} campaigns (half EVEN, half ASAP) on the embedded store;
requests cycle through all of them. The bare route parses the same JSON body without validating it
and answers a constant decision through the same response schema.

| measure | bare route | pacer | target | verdict |
| --- | ---: | ---: | --- | --- |
| max throughput (closed loop, median of ${MAX_ROUNDS} alternating rounds) | ${rate(bare.max.rps)} | ${rate(pacer.max.rps)} | pacer >= ${TARGETS.throughputShare * 100}% of bare | ${(share * 100).toFixed(1)}%: ${verdict(share >= TARGETS.throughputShare)} |
| pacer share of bare in each round | | ${roundShares} | | |
| latency p50 at max rate | ${ms(bare.max.p50Ms)} | ${ms(pacer.max.p50Ms)} | | |
| latency p99 at max rate | ${ms(bare.max.p99Ms)} | ${ms(pacer.max.p99Ms)} | | |
| event-loop delay in the server at max rate, p99 / max | ${ms(bare.max.loop.p99Ms)} / ${ms(bare.max.loop.maxMs)} | ${ms(pacer.max.loop.p99Ms)} / ${ms(pacer.max.loop.maxMs)} | | |
| offered rate for the next rows (half the pacer's max, both servers) | ${rate(offered)} | ${rate(offered)} | | |
| achieved rate | ${rate(bare.half.rps)} | ${rate(pacer.half.rps)} | | |
| latency p50 at half max | ${ms(bare.half.p50Ms)} | ${ms(pacer.half.p50Ms)} | | |
| latency p99 at half max | ${ms(bare.half.p99Ms)} | ${ms(pacer.half.p99Ms)} | <= ${TARGETS.p99Ms} ms | ${verdict(pacer.half.p99Ms <= TARGETS.p99Ms)} |
| latency p99.9 at half max | ${ms(bare.half.p999Ms)} | ${ms(pacer.half.p999Ms)} | | |
| event-loop delay in the server at half max, p99 / max | ${ms(bare.half.loop.p99Ms)} / ${ms(bare.half.loop.maxMs)} | ${ms(pacer.half.loop.p99Ms)} / ${ms(pacer.half.loop.maxMs)} | | |
| resident memory, idle after start | ${mb(bare.idleRssMb)} | ${mb(pacer.idleRssMb)} | pacer <= ${TARGETS.rssMb} MB | ${verdict(pacer.idleRssMb <= TARGETS.rssMb)} |
| resident memory after the runs | ${mb(bare.afterRssMb)} | ${mb(pacer.afterRssMb)} | pacer <= ${TARGETS.rssMb} MB | ${verdict(pacer.afterRssMb <= TARGETS.rssMb)} |
| live V8 heap after the runs (after a full GC) | ${mb(bare.liveHeapMb)} | ${mb(pacer.liveHeapMb)} | | |
| resident memory after that full GC | ${mb(bare.gcRssMb)} | ${mb(pacer.gcRssMb)} | | |
| resident memory idle, run under tsx (as \`tsx server/main.ts\`) | | ${mb(tsxIdleRssMb)} | | |
| non-2xx / socket errors | ${bare.max.non2xx + bare.half.non2xx} / ${bare.max.errors + bare.half.errors} | ${pacer.max.non2xx + pacer.half.non2xx} / ${pacer.max.errors + pacer.half.errors} | 0 | |

Pacer decisions by reason over all runs: ${pacer.reasons}.

Latency is measured by autocannon from request write to response end, per response, over
loopback; "half max" is an open-loop fixed offered rate (autocannon \`overallRate\`), the same
for both servers, and includes one /metrics scrape (30,000 per-campaign series) in the pacer's run.
The bare route's latency at that rate is the floor this machine and load generator give: what the
pacer adds is the difference. Event-loop delay is sampled inside each server (perf_hooks, 1 ms
resolution; its floor is about 1 ms), so it shows stalls of the server itself.
`;

writeFileSync('bench/results/server-load.md', table);
process.stdout.write(table);
