import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import autocannon from 'autocannon';
import { build } from 'esbuild';
import { machineLine } from './machine';

/**
 * Load test of POST /pacing/decision against a bare Fastify route of the same shape, measured in
 * the same run on the same machine. Each server runs in a child process (bench/server-child.ts);
 * autocannon drives it from this one, on 127.0.0.1 only. Bounded: about a minute in all.
 *
 *   npm run bench:server    (tsx bench/server-load.ts [--campaigns 10000] [--seconds 8])
 *
 * Measures, per server: the maximum rate (closed loop, CONNECTIONS connections), then the latency
 * distribution at half that rate (open loop at a fixed offered rate), and the pacer's resident
 * memory with all campaigns loaded, idle and after the runs. Latencies are collected from every
 * response at sub-millisecond precision (autocannon's own histogram rounds to whole ms).
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
 * The servers run from a plain-JS bundle (esbuild, dependencies left in node_modules), as a
 * production image would: under tsx, its loader thread and transpiler add tens of MB of RSS that
 * are not the server's. The tsx figure is measured too, since `tsx server/main.ts` pays it.
 */
const BUNDLE = 'out/bench/server-child.mjs';
async function bundleChild(): Promise<void> {
  await build({
    entryPoints: ['bench/server-child.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: BUNDLE,
    logLevel: 'warning',
  });
  // The dashboard reads its page next to its module; in the bundle that is out/bench/.
  copyFileSync('server/dashboard/index.html', 'out/bench/index.html');
}

function startServer(mode: 'pacer' | 'bare', runner: 'bundle' | 'tsx' = 'bundle'): Promise<Server> {
  const argv =
    runner === 'bundle'
      ? [BUNDLE, mode, String(CAMPAIGNS)]
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

/** Request bodies cycling through the campaigns, built once so the generator only picks one. */
const bodies = Array.from({ length: CAMPAIGNS }, (_, i) =>
  JSON.stringify({ campaign_id: `camp-${i}`, bid_cents: 150 + (i % 50) }),
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

async function run(port: number, seconds: number, overallRate?: number): Promise<RunResult> {
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
          req.body = bodies[next++ % bodies.length];
          return req;
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTimeMs: number) => {
    latenciesMs.push(responseTimeMs);
  });
  const result = await instance;
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    rps: result.requests.total / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function measure(mode: 'pacer' | 'bare') {
  const server = await startServer(mode);
  try {
    const idleRssMb = rssMb(server.child.pid!);
    await run(server.port, WARMUP_SECONDS);
    const max = await run(server.port, SECONDS);
    const half = await run(server.port, SECONDS, max.rps / 2);
    const afterRssMb = rssMb(server.child.pid!);
    let reasons = '';
    let heapUsedMb = Number.NaN;
    if (mode === 'pacer') {
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      const heap = /^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics);
      if (heap) heapUsedMb = Number(heap[1]) / 2 ** 20;
      reasons = [...metrics.matchAll(/^pacer_decisions_total\{reason="([a-z_]+)"\} (\d+)/gm)]
        .map((m) => `${m[1]} ${Number(m[2]).toLocaleString('en-US')}`)
        .join(', ');
    }
    return { max, half, idleRssMb, afterRssMb, heapUsedMb, reasons };
  } finally {
    await stopServer(server);
  }
}

await bundleChild();
const loadBefore = loadavg()[0]!;
const bare = await measure('bare');
const pacer = await measure('pacer');
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
bench/server-child.ts; autocannon from the parent on 127.0.0.1, ${CONNECTIONS} connections,
${WARMUP_SECONDS} s warm-up then ${SECONDS} s per run).
Machine: ${machineLine()}; \`nproc\` ${nproc}; CPU ${cpuModel}. The load generator shares the
machine's cores with the server, so absolute rates are a floor; the ratio is what compares.
Load average (1 min) when the run started and ended: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)}; anything
near or above ${nproc} means other work shared the cores and the latencies are not the server's alone.

The pacer holds ${CAMPAIGNS.toLocaleString('en-US')} campaigns (half EVEN, half ASAP) on the embedded store;
requests cycle through all of them. The bare route parses the same JSON body without validating it
and answers a constant decision through the same response schema.

| measure | bare route | pacer | target | verdict |
| --- | ---: | ---: | --- | --- |
| max throughput (closed loop) | ${rate(bare.max.rps)} | ${rate(pacer.max.rps)} | pacer >= ${TARGETS.throughputShare * 100}% of bare | ${(share * 100).toFixed(1)}%: ${verdict(share >= TARGETS.throughputShare)} |
| latency p50 at max rate | ${ms(bare.max.p50Ms)} | ${ms(pacer.max.p50Ms)} | | |
| latency p99 at max rate | ${ms(bare.max.p99Ms)} | ${ms(pacer.max.p99Ms)} | | |
| offered rate for the next rows (half of max) | ${rate(bare.max.rps / 2)} | ${rate(pacer.max.rps / 2)} | | |
| achieved rate | ${rate(bare.half.rps)} | ${rate(pacer.half.rps)} | | |
| latency p50 at half max | ${ms(bare.half.p50Ms)} | ${ms(pacer.half.p50Ms)} | | |
| latency p99 at half max | ${ms(bare.half.p99Ms)} | ${ms(pacer.half.p99Ms)} | <= ${TARGETS.p99Ms} ms | ${verdict(pacer.half.p99Ms <= TARGETS.p99Ms)} |
| latency p99.9 at half max | ${ms(bare.half.p999Ms)} | ${ms(pacer.half.p999Ms)} | | |
| resident memory, idle after start | ${mb(bare.idleRssMb)} | ${mb(pacer.idleRssMb)} | pacer <= ${TARGETS.rssMb} MB | ${verdict(pacer.idleRssMb <= TARGETS.rssMb)} |
| resident memory after the runs | ${mb(bare.afterRssMb)} | ${mb(pacer.afterRssMb)} | pacer <= ${TARGETS.rssMb} MB | ${verdict(pacer.afterRssMb <= TARGETS.rssMb)} |
| V8 heap in use after the runs (live objects, from /metrics) | | ${mb(pacer.heapUsedMb)} | | |
| resident memory idle, run under tsx (as \`tsx server/main.ts\`) | | ${mb(tsxIdleRssMb)} | | |
| non-2xx / socket errors | ${bare.max.non2xx + bare.half.non2xx} / ${bare.max.errors + bare.half.errors} | ${pacer.max.non2xx + pacer.half.non2xx} / ${pacer.max.errors + pacer.half.errors} | 0 | |

Pacer decisions by reason over all runs: ${pacer.reasons}.

Latency is measured by autocannon from request write to response end, per response, over
loopback; "half max" is an open-loop fixed offered rate (autocannon \`overallRate\`).
`;

writeFileSync('bench/results/server-load.md', table);
process.stdout.write(table);
