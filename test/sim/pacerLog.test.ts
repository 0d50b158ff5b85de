import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { TrafficRecorder } from '../../server/recording/trafficRecorder';
import { normalQuantile, randStream } from '../../sim/random';
import { runScenario } from '../../sim/run';
import { type Scenario, scenarioFrom } from '../../sim/scenario';
import { drawPrice, fitCensoredLognormal } from '../../sim/sources/censoredPrice';
import { pacerLogStream } from '../../sim/sources/pacerLog';
import { ManualClock, ManualTimers } from '../support/manualTime';
import { writeScriptedRecording } from '../support/pacerRecording';

const START = Date.parse('2024-03-15T00:00:00Z');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pacerlog-'));
  dirs.push(d);
  return d;
}

const traffic = {
  campaigns: { a: 'UTC', b: 'America/New_York' },
  startMs: START + 9 * 3_600_000,
  requests: 6000,
  everyMs: 2000,
  bidMicros: 2_000_000,
  allowShare: 0.7,
};

function replayScenario(dir: string, extra: Record<string, unknown> = {}): Scenario {
  return scenarioFrom(
    {
      name: 'replay',
      seed: 11,
      startDate: '2024-03-15',
      algorithms: ['EVEN', 'ASAP'],
      stream: { kind: 'pacer-log', path: dir },
      campaigns: {
        list: [
          { id: 'a', dailyBudgetMicros: 3_000_000, bidCpmMicros: 2_000_000, participation: 1 },
          { id: 'b', dailyBudgetMicros: 50_000_000, bidCpmMicros: 2_000_000, participation: 1 },
        ],
      },
      ...extra,
    },
    'replay (test)',
    null,
  );
}

describe('pacer-log stream', () => {
  it('replays every recorded decision at its time, campaign, bid and value; prices from wins or the model', async () => {
    const dir = tempDir();
    const made = await writeScriptedRecording(dir, traffic);
    const log = pacerLogStream({ kind: 'pacer-log', path: dir }, dir, START, 1);
    const f = log.bind(['a', 'b']);
    expect(f.replay).toMatchObject({
      replayed: 6000,
      recordedWins: made.wins,
      modelAboveBid: made.allowed - made.wins,
      modelUnconditional: made.denied,
      unmatchedWins: 0,
      sampleWeight: 1,
      outsideWindow: 0,
    });
    const src = f.open(1);
    let k = 0;
    let recorded = 0;
    while (src.next()) {
      const r = src.req;
      expect(r.timeMs).toBe(traffic.startMs + k * traffic.everyMs);
      expect(r.campaign).toBe(k % 2);
      expect(r.bidCpmMicros).toBe(2_000_000);
      expect(r.value).toBeCloseTo(0.001 + (k % 7) * 0.0001, 12);
      if (r.recordedPrice) {
        recorded++;
        expect(r.marketPriceCpmMicros).toBeLessThanOrEqual(2_000_000);
      }
      k++;
    }
    expect(k).toBe(6000);
    expect(recorded).toBe(made.wins);
    // Prices drawn for the rows that lost are above the bid (they lost), and the same for a seed.
    const a = f.open(5);
    const b = f.open(5);
    while (a.next() && b.next()) expect(a.req.marketPriceCpmMicros).toBe(b.req.marketPriceCpmMicros);
  });

  it('runs every algorithm on the replay, says where prices came from, and reproduces byte for byte', async () => {
    const dir = tempDir();
    const made = await writeScriptedRecording(dir, traffic);
    const one = await runScenario(replayScenario(dir));
    const two = await runScenario(replayScenario(dir));
    expect(JSON.stringify(two.summary)).toBe(JSON.stringify(one.summary));
    const replay = one.summary.scenario.replay!;
    expect(replay.recordedWins).toBe(made.wins);
    expect(replay.wins.map((w) => w.algorithm)).toEqual(['EVEN', 'ASAP']);
    for (const w of replay.wins) {
      expect(w.atRecordedPrice + w.atModelPrice).toBe(w.wins);
      expect(w.wins).toBeGreaterThan(0);
    }
    // Campaign a's traffic could buy more than its budget: ASAP spends it, EVEN stops at its
    // line, which stands at 12:20 / 24:00 of the budget when the recorded traffic ends.
    const spendOfA = (algo: string) => one.campaignDays[algo]!.find((d) => d.campaignId === 'a')!.spendMicros;
    expect(spendOfA('ASAP')).toBeLessThanOrEqual(3_000_000);
    expect(spendOfA('ASAP')).toBeGreaterThan(2_700_000);
    const line = (3_000_000 * (12 + 20 / 60)) / 24;
    expect(Math.abs(spendOfA('EVEN') - line)).toBeLessThan(0.05 * line);
  });

  it('skips unfinished .tmp files and rows of other days or unlisted campaigns, counting them', async () => {
    const dir = tempDir();
    await writeScriptedRecording(dir, { ...traffic, requests: 300, campaigns: { a: 'UTC', c: 'UTC' } });
    await writeScriptedRecording(dir, { ...traffic, requests: 100, startMs: START + 86_400_000 });
    const [first] = readdirSync(dir).sort();
    writeFileSync(join(dir, `${first}.tmp`), 'not gzip at all');
    const f = pacerLogStream({ kind: 'pacer-log', path: dir }, dir, START, 1).bind(['a']);
    expect(f.replay).toMatchObject({
      decisionRows: 400,
      outsideWindow: 100,
      unknownCampaign: 150,
      replayed: 150,
    });
  });

  it('takes a notice of no spend as a lost bid, not as a win at price 0', async () => {
    const dir = tempDir();
    const clock = new ManualClock(START + 3_600_000);
    const rec = new TrafficRecorder({
      dir,
      sample: 1,
      instanceId: 'z',
      clock,
      timers: new ManualTimers(clock),
    });
    const allowed = { allow: true, maxBidCpmMicros: 2_000_000, reason: 'within_budget' };
    rec.recordDecision('a', 'r1', 2_000_000, -1, allowed);
    rec.recordWin('a', 'e1', 'r1', 0);
    rec.recordDecision('a', 'r2', 2_000_000, -1, allowed);
    rec.recordWin('a', 'e2', 'r2', 1500);
    await rec.close();
    const f = pacerLogStream({ kind: 'pacer-log', path: dir }, dir, START, 1).bind(['a']);
    expect(f.replay).toMatchObject({ recordedWins: 1, modelAboveBid: 1, unmatchedWins: 0 });
    const src = f.open(1);
    src.next();
    expect(src.req.marketPriceCpmMicros).toBeGreaterThan(2_000_000);
    src.next();
    expect(src.req.marketPriceCpmMicros).toBe(1_500_000);
  });

  it('refuses a recording with no row in the scenario days, or a broken line, naming where', async () => {
    const dir = tempDir();
    await writeScriptedRecording(dir, { ...traffic, requests: 50 });
    expect(() => pacerLogStream({ kind: 'pacer-log', path: dir }, dir, START + 2 * 86_400_000, 1)).toThrow(
      /no decision row falls in the scenario's days .* set startDate/,
    );
    const bad = tempDir();
    writeFileSync(
      join(bad, 'traffic-x-2024-03-15T09Z.ndjson.gz'),
      gzipSync('{"type":"decision","timeMs":1}\n'),
    );
    expect(() => pacerLogStream({ kind: 'pacer-log', path: bad }, bad, START, 1)).toThrow(
      /traffic-x-2024-03-15T09Z.ndjson.gz:1: not a recording row/,
    );
    expect(() =>
      pacerLogStream({ kind: 'pacer-log', path: join(bad, 'none') }, join(bad, 'none'), START, 1),
    ).toThrow(/cannot read the recording/);
    void renameSync;
  });
});

describe('censored lognormal price fit', () => {
  it('recovers the market from wins and lost bids, where the wins alone would put it too low', () => {
    const rand = randStream(3, 'test');
    const mu = Math.log(1_000_000);
    const sigma = 0.5;
    const won: number[] = [];
    const lost: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const price = Math.exp(mu + sigma * normalQuantile(rand()));
      const bid = 1_200_000;
      if (price <= bid) won.push(price);
      else lost.push(bid);
    }
    const fit = fitCensoredLognormal(won, lost);
    expect(Math.exp(fit.mu) / 1_000_000).toBeCloseTo(1, 1);
    expect(fit.sigma).toBeCloseTo(0.5, 1);
    const naive = fitCensoredLognormal(won, []);
    expect(Math.exp(naive.mu)).toBeLessThan(0.9 * 1_000_000);
    // A draw for a lost bid is above that bid.
    for (let i = 0; i < 100; i++) expect(drawPrice(fit, rand, 1_200_000)).toBeGreaterThan(1_200_000);
  });
});
