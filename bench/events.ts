import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { AdEvent } from '../server/events/adEvent';
import { EventStream } from '../server/events/eventStream';
import { createTestDatabase } from '../test/support/postgresDatabase';
import { startRedisServer } from '../test/support/redisServer';
import { startServer } from '../test/support/serverProcess';
import { machineLine } from './machine';

/**
 * Event ingestion throughput, three ways on one private redis-server in one run:
 *   1. `redis-benchmark` XADD of an entry of the same shape (pipelined 16 deep): the stream's ceiling;
 *   2. EventStream.append straight into the stream (the Lua script: dedup SET NX + XADD per event),
 *      batches of BATCH, from this process;
 *   3. POST /events over HTTP in batches of BATCH to one server process (server/main.ts, Redis +
 *      PostgreSQL), its consumer aggregating into PostgreSQL at the same time.
 * "Per core" divides by the CPU seconds the serving processes used (redis-server, plus this process
 * for 2, plus the server process for 3), read from /proc; the load generator is not counted.
 *
 *   npx tsx bench/events.ts [--events 200000]
 */
const args = process.argv.slice(2);
const i = args.indexOf('--events');
const EVENTS = i >= 0 ? Number(args[i + 1]) : 200_000;
const BATCH = 500;
const CONCURRENCY = 8;
const CAMPAIGNS = 10;
const run = promisify(execFile);
const TICKS_PER_S = 100;

function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface Row {
  readonly path: string;
  readonly events: number;
  readonly wallS: number;
  readonly cpuS: number;
  /** Of cpuS, what redis-server used. */
  readonly redisCpuS: number;
  readonly note: string;
}

function makeEvents(tag: string, n: number, nowMs: number): AdEvent[] {
  return Array.from({ length: n }, (_, k) => ({
    eventId: `${tag}-${k}`,
    type: k % 10 === 0 ? 'click' : 'impression',
    campaignId: `bench-${k % CAMPAIGNS}`,
    userId: `user-${k % 5000}`,
    atMs: nowMs,
    dayKey: new Date(nowMs).toISOString().slice(0, 10),
    hourIndex: new Date(nowMs).getUTCHours(),
    bidId: null,
  }));
}

async function baseline(port: number, redisPid: number): Promise<Row> {
  const before = cpuSecondsOf(redisPid);
  const t0 = performance.now();
  // /usr/bin/time reports redis-benchmark's own CPU on stderr, last line.
  const { stderr } = await run('/usr/bin/time', [
    '-f',
    '%U %S',
    'redis-benchmark',
    '-p',
    String(port),
    '-n',
    String(EVENTS),
    '-c',
    String(CONCURRENCY),
    '-P',
    '16',
    '-q',
    'XADD',
    'bench:{ev:0}:stream',
    '*',
    'e',
    // The shape EventStream writes: one field, the event as a JSON array.
    '["evt-__rand_int__","impression","bench-1","user-1",1796000000000,"2026-11-30",12]',
  ]);
  const wallS = (performance.now() - t0) / 1000;
  const [u, s] = stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return {
    path: 'redis-benchmark XADD of the same entry, -P 16 (baseline)',
    events: EVENTS,
    wallS,
    cpuS: cpuSecondsOf(redisPid) - before,
    redisCpuS: cpuSecondsOf(redisPid) - before,
    note: `redis-benchmark itself used ${(u! + s!).toFixed(2)} CPU s (not counted)`,
  };
}

async function direct(url: string, redisPid: number): Promise<Row> {
  const client = new Redis(url, { commandTimeout: 30_000 });
  const stream = new EventStream(client, { prefix: 'bench:', dedupTtlSeconds: 3600 });
  const events = makeEvents('direct', EVENTS, Date.now());
  const batches: AdEvent[][] = [];
  for (let k = 0; k < events.length; k += BATCH) batches.push(events.slice(k, k + BATCH));
  const [redis0, own0, t0] = [cpuSecondsOf(redisPid), ownCpuSeconds(), performance.now()];
  let next = 0;
  let appended = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batches.length) {
        // Await first: `appended += await ...` would add to the total read before the await.
        const fresh = (await stream.append(batches[next++]!)).filter(Boolean).length;
        appended += fresh;
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  const redisCpuS = cpuSecondsOf(redisPid) - redis0;
  const cpuS = redisCpuS + (ownCpuSeconds() - own0);
  client.disconnect();
  if (appended !== EVENTS) throw new Error(`appended ${appended} of ${EVENTS}`);
  return {
    path: `EventStream.append (Lua: SET NX + XADD), batches of ${BATCH}`,
    events: EVENTS,
    wallS,
    cpuS,
    redisCpuS,
    note: 'redis-server + this process',
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function overHttp(redisUrl: string, redisPid: number): Promise<{ row: Row; drainS: number }> {
  const root = mkdtempSync(join(tmpdir(), 'pacer-bench-events-'));
  const db = await createTestDatabase('bench_events');
  const server = await startServer({
    redisUrl,
    journalDir: root,
    instanceId: 'bench-ev',
    env: { DATABASE_URL: db.url },
  });
  try {
    for (let c = 0; c < CAMPAIGNS; c++) {
      await post(
        `${server.url}/campaigns`,
        JSON.stringify({ id: `bench-${c}`, daily_budget_cents: 100_000, pacing_mode: 'EVEN' }),
      );
    }
    const nowMs = Date.now();
    const bodies: string[] = [];
    for (let k = 0; k < EVENTS; k += BATCH) {
      bodies.push(
        JSON.stringify(
          makeEvents('http', Math.min(BATCH, EVENTS - k), nowMs).map((e, j) => ({
            event_id: `http-${k + j}`,
            type: e.type,
            campaign_id: e.campaignId,
            user_id: e.userId,
            at_ms: e.atMs,
          })),
        ),
      );
    }
    const pid = server.pid()!;
    const [redis0, srv0, t0] = [cpuSecondsOf(redisPid), cpuSecondsOf(pid), performance.now()];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) {
          const status = await post(`${server.url}/events`, bodies[next++]!);
          if (status !== 202) throw new Error(`POST /events answered ${status}`);
        }
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const redisCpuS = cpuSecondsOf(redisPid) - redis0;
    const cpuS = redisCpuS + (cpuSecondsOf(pid) - srv0);
    // How long the consumer needs to have everything in PostgreSQL, counted from the first POST.
    for (;;) {
      const h = await new Promise<string>((resolve, reject) =>
        http
          .get(`${server.url}/health`, { agent }, (res) => {
            let b = '';
            res.on('data', (d) => {
              b += d;
            });
            res.on('end', () => resolve(b));
          })
          .on('error', reject),
      );
      const events = (JSON.parse(h) as { events: { consumer_lag: number; aggregated: number } }).events;
      if (events.consumer_lag === 0 && events.aggregated >= EVENTS) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const drainS = (performance.now() - t0) / 1000;
    return {
      row: {
        path: `POST /events over HTTP, batches of ${BATCH} (consumer aggregating meanwhile)`,
        events: EVENTS,
        wallS,
        cpuS,
        redisCpuS,
        note: 'redis-server + server process (its consumer included)',
      },
      drainS,
    };
  } finally {
    await server.stop();
    await db.drop();
    rmSync(root, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const redis = await startRedisServer();
  const redisPid = redis.pid()!;
  try {
    const base = await baseline(redis.port, redisPid);
    const streamRow = await direct(redis.url, redisPid);
    const { row: httpRow, drainS } = await overHttp(redis.url, redisPid);
    const load1 = loadavg()[0]!;
    const perCore = (r: Row) => r.events / r.cpuS;
    const lines = [
      '# Event ingestion: POST /events and the stream vs redis-benchmark XADD',
      '',
      `Command: \`npx tsx bench/events.ts --events ${EVENTS}\` (bench/events.ts). One private redis-server (no`,
      'persistence), one run; the baseline is measured in the same run on the same Redis.',
      `Machine: ${machineLine()}. It has 2 cores, shared by the load generator (this process, or`,
      'redis-benchmark) and the servers, so absolute rates are a floor; the ratios are what compare.',
      `Load average (1 min) at start and end: ${load0.toFixed(2)} / ${load1.toFixed(2)}; above 2 means other work`,
      '(other sessions, CI) shared the cores during the run.',
      '',
      '"Per core" is events per CPU second of the serving processes (read from /proc), not of the',
      'load generator: redis-server alone for the baseline; redis-server and the appending process',
      'for the stream; redis-server and the server process for HTTP.',
      '',
      '| path | events | wall s | events/s (wall) | serving CPU s (of which Redis) | events per core-second | vs baseline per core |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...[base, streamRow, httpRow].map(
        (r) =>
          `| ${r.path} | ${fmt(r.events)} | ${r.wallS.toFixed(2)} | ${fmt(r.events / r.wallS)} | ${r.cpuS.toFixed(2)} (${r.redisCpuS.toFixed(2)}) | ${fmt(perCore(r))} | ${((perCore(r) / perCore(base)) * 100).toFixed(1)}% |`,
      ),
      '',
      `Notes: ${base.note}. The HTTP run's consumer had all ${fmt(EVENTS)} events in PostgreSQL`,
      `${drainS.toFixed(2)} s after the first POST (${fmt(EVENTS / drainS)} events/s end to end, consumer lag 0).`,
      'An appended event costs Redis a SET NX with a TTL (the dedup key) and an XADD, in one Lua call',
      'per partition and batch; the baseline pays only the XADD, pipelined.',
      "PostgreSQL's own CPU (the consumer's transactions) is not counted in the HTTP row. At the HTTP",
      `row's cost, the "1.1 million events per second" of the system documents would take about`,
      `${Math.round(1_100_000 / perCore(httpRow))} cores of servers and Redis, before PostgreSQL.`,
      '',
    ];
    writeFileSync('bench/results/events.md', lines.join('\n'));
    process.stdout.write(lines.join('\n'));
  } finally {
    await redis.dispose();
    agent.destroy();
  }
}

await main();
