import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as simMain } from '../../cli/sim';
import { hashUnit } from '../../server/runtime/random';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer } from '../support/serverProcess';

/**
 * Issue 14's loop, end to end: a server process (private Redis, RECORD_DIR set) serves a scripted
 * client for RUN_MS of wall time; the simulator replays what it recorded through every algorithm.
 * EVEN in the simulator must spend what EVEN in the server spent, per campaign, within
 * TOLERANCE; the replay of one seed must be byte-identical.
 *
 * The server paces on the wall clock, so a campaign created now is behind EVEN's line by the
 * share of the day already gone. Budgets are set from that share: "tight" meets its line inside
 * the run and is then throttled to it (the controller is what is compared), "loose" never does
 * and buys everything it can (the market outcomes are what is compared).
 */
const RUN_MS = 90_000;
const BID_CENTS = 200;
const BID_MICROS = BID_CENTS * 10_000;
/**
 * |sim - server| / server spend, per campaign. Measured on this 2-core machine (shared with other
 * runs): tight -0.13% and -0.02%, loose 0.00% in two runs (every bid allowed in both, so the same
 * recorded wins).
 */
const TOLERANCE = 0.05;
const DAY_MS = 86_400_000;

let redis: RedisServerHandle;
let server: ServerProcess;
let root: string;
const serverSpend: Record<string, number> = {};
const budgets: Record<string, number> = {};
let runStart = 0;

/** The client's market: the highest other bid of request i, CPM micros, from a hash (seeded). */
function marketPrice(i: number): number {
  return Math.round(BID_MICROS * (0.5 + 0.7 * hashUnit(`record-replay/price/${i}`)));
}

async function scriptedClient(url: string): Promise<void> {
  const ids = Object.keys(budgets);
  const end = Date.now() + RUN_MS;
  let event = 0;
  for (let i = 0; Date.now() < end; i++) {
    const campaignId = ids[i % ids.length]!;
    const requestId = `req-${i}`;
    const d = await request('POST', `${url}/pacing/decision`, {
      campaign_id: campaignId,
      bid_cents: BID_CENTS,
      request_id: requestId,
    });
    expect(d.status).toBe(200);
    const body = d.body as { allow_bid: boolean; max_bid_cents: number };
    const price = marketPrice(i);
    // Second price with one bidder of ours: a win costs the market price.
    if (!body.allow_bid || price > Math.round(body.max_bid_cents * 10_000)) continue;
    const spendMicros = Math.ceil(price / 1000);
    const w = await request('POST', `${url}/spend/track`, {
      campaign_id: campaignId,
      spend_cents: spendMicros / 10_000,
      event_id: `ev-${event++}`,
      request_id: requestId,
    });
    expect(w.status).toBe(200);
  }
}

beforeAll(async () => {
  if (REDIS_SERVER === null) return;
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-record-'));
  redis = await startRedisServer();
  server = await startServer({
    redisUrl: redis.url,
    journalDir: join(root, 'journal'),
    instanceId: 'rec-e2e',
    // A lost bid gets no notice: its reservation lapses after a second, as the simulator's losers
    // release theirs at once.
    env: { RECORD_DIR: join(root, 'rec'), PACING_TICK_MS: '1000', RESERVATION_TTL_MS: '1000' },
  });
  runStart = Date.now();
  // EVEN's line at the end of the run, as a share of the budget.
  const lineEnd = ((runStart + RUN_MS) % DAY_MS) / DAY_MS;
  // ~50 requests/s per campaign x 70% won x ~1,500 micros: ~4.7M micros if nothing is throttled.
  // Leases grow by 5 minutes of the line per sync (4 a second), so the line (2M) is met within
  // 72 s x lineEnd of catching up, inside the run at any time of day.
  budgets.tight = Math.round(2_000_000 / lineEnd);
  budgets.loose = Math.round(200_000_000 / lineEnd);
  for (const [id, budgetMicros] of Object.entries(budgets)) {
    const res = await request('POST', `${server.url}/campaigns`, {
      id,
      name: id,
      daily_budget_cents: budgetMicros / 10_000,
      start_date: '2020-01-01T00:00:00',
      end_date: '2099-12-31T23:59:59',
      pacing_mode: 'EVEN',
      status: 'ACTIVE',
      // As the simulator's campaigns have (their bid). Without one, a lease headroom between half a
      // top-up and one impression's cost is never topped up (see docs/recording.md): the server
      // then stalls the campaign, which is a finding of this test, not what it compares.
      max_bid_cents: BID_CENTS,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  }
  await scriptedClient(server.url);
  for (const id of Object.keys(budgets)) {
    const s = await request('GET', `${server.url}/budget/status/${id}`);
    serverSpend[id] = (s.body as { spent_today_micros: number }).spent_today_micros;
  }
  // A graceful stop completes the open recording file.
  await server.stop();
}, 240_000);

afterAll(async () => {
  await server?.stop().catch(() => undefined);
  await redis?.dispose();
  if (root && !process.env.KEEP_E2E) rmSync(root, { recursive: true, force: true });
});

function scenarioFile(seed: number): string {
  const date = new Date(runStart).toISOString().slice(0, 10);
  const list = Object.entries(budgets)
    .map(
      ([id, b]) =>
        `    - { id: ${id}, dailyBudgetMicros: ${b}, bidCpmMicros: ${BID_MICROS}, participation: 1, pacingMode: EVEN }`,
    )
    .join('\n');
  const path = join(root, `replay-${seed}.yaml`);
  writeFileSync(
    path,
    `name: record-replay
seed: ${seed}
startDate: '${date}'
algorithms: [EVEN, ASAP]
instances: { count: 1, syncIntervalMs: 250 }
pacer: { tickMs: 1000, reservationTtlMs: 1000 }
stream: { kind: pacer-log, path: rec }
bidding: { valueSignal: none }
winNotices: { medianDelayMs: 2, sigma: 0.1 }
campaigns:
  list:
${list}
`,
  );
  return path;
}

async function runSim(seed: number, out: string): Promise<void> {
  const printed: string[] = [];
  const io = {
    stdout: (s: string) => {
      printed.push(s);
    },
    stderr: (s: string) => {
      printed.push(s);
    },
    isTty: false,
  };
  const code = await simMain([scenarioFile(seed), '--out', out], io);
  expect(code, printed.join('')).toBe(0);
}

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} record in the server, replay in the simulator`, () => {
  it('the server wrote completed hourly files', () => {
    const files = readdirSync(join(root, 'rec'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f).toMatch(/^traffic-rec-e2e-\d{4}-\d{2}-\d{2}T\d{2}Z\.ndjson\.gz$/);
  });

  it('EVEN in the simulator spends what EVEN in the server spent, per campaign', async () => {
    const out = join(root, 'out-a');
    await runSim(5, out);
    const days = JSON.parse(readFileSync(join(out, 'campaign-days.json'), 'utf8')) as Record<
      string,
      { campaignId: string; spendMicros: number }[]
    >;
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const replay = summary.scenario.replay;
    expect(replay.outsideWindow + replay.replayed).toBe(replay.decisionRows);
    expect(replay.unmatchedWins).toBe(0);
    const lines: string[] = [];
    for (const id of Object.keys(budgets)) {
      const sim = days.EVEN!.find((d) => d.campaignId === id)!.spendMicros;
      const srv = serverSpend[id]!;
      lines.push(`${id}: server ${srv}, sim ${sim}, diff ${(((sim - srv) / srv) * 100).toFixed(2)}%`);
      expect(srv).toBeGreaterThan(0);
      expect(Math.abs(sim - srv) / srv, lines.join('; ')).toBeLessThanOrEqual(TOLERANCE);
    }
    // The tight campaign met its line and was throttled: far less than the loose one bought.
    expect(serverSpend.tight!).toBeLessThan(0.8 * serverSpend.loose!);
    process.stdout.write(
      `record-replay EVEN agreement: ${lines.join('; ')}; replay ${JSON.stringify(replay)}\n`,
    );
  }, 120_000);

  it('replays one seed byte for byte', async () => {
    const a = join(root, 'out-a');
    const b = join(root, 'out-b');
    await runSim(5, b);
    for (const f of ['summary.json', 'campaign-days.json', 'report.html'])
      expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
  }, 120_000);
});
