/**
 * decide() + recordSpend() on 1,000 campaigns, one core, against a plain loop that touches the
 * same states and draws the same random numbers. Run: npm run bench:core
 * Writes bench/results/core-decide.md.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { Bench } from 'tinybench';
import { PACING_MODES, makeCampaign } from '../core/campaign';
import { pacerConfig } from '../core/config';
import { decide, recordSpend, releaseBid } from '../core/decide';
import { newDecision } from '../core/decision';
import { type PacingState, createPacingState } from '../core/pacingState';
import { machineLine } from './machine';

const CAMPAIGNS = 1_000;
const BATCH = 1_000;
const config = pacerConfig();
const states: PacingState[] = Array.from({ length: CAMPAIGNS }, (_, i) =>
  createPacingState(
    makeCampaign({
      id: `c${i}`,
      dailyBudgetMicros: 50_000_000 + i * 100_000,
      pacingMode: PACING_MODES[i % PACING_MODES.length]!,
      hourlyMultipliers: i % 5 === 3 ? Array.from({ length: 24 }, (_, h) => 1 + (h % 6)) : null,
    }),
    config,
    0,
  ),
);

let seed = 12345;
function rand(): number {
  seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
  return seed / 4_294_967_296;
}

const out = newDecision();
let nowMs = 0;
let cursor = 0;
let sink = 0;

/** The floor: pick a campaign, read its state, draw a number, advance time. */
function baseline(): void {
  for (let i = 0; i < BATCH; i++) {
    const s = states[cursor]!;
    cursor = cursor + 1 === CAMPAIGNS ? 0 : cursor + 1;
    nowMs += 0.05;
    sink += s.passRate + rand() + s.ledger.reservedMicros;
  }
}

function decideOnly(): void {
  for (let i = 0; i < BATCH; i++) {
    const s = states[cursor]!;
    cursor = cursor + 1 === CAMPAIGNS ? 0 : cursor + 1;
    nowMs += 0.05;
    const d = decide(s, 2_000_000, nowMs, rand, false, out);
    if (d.allow) sink++;
  }
}

/** One in ten allowed bids wins and settles at once; the rest lose and free their reservation. */
function decideAndRecord(): void {
  for (let i = 0; i < BATCH; i++) {
    const s = states[cursor]!;
    cursor = cursor + 1 === CAMPAIGNS ? 0 : cursor + 1;
    nowMs += 0.05;
    const d = decide(s, 2_000_000, nowMs, rand, false, out);
    if (d.allow) {
      if (rand() < 0.1) recordSpend(s, d.reservedMicros >> 1, nowMs, d.reservedMicros, nowMs);
      else releaseBid(s, d.reservedMicros, nowMs, nowMs);
    }
  }
}

/** decide() + recordSpend() as above, each request carrying a value signal (a pctr-like draw). */
function decideValueAndRecord(): void {
  for (let i = 0; i < BATCH; i++) {
    const s = states[cursor]!;
    cursor = cursor + 1 === CAMPAIGNS ? 0 : cursor + 1;
    nowMs += 0.05;
    const d = decide(s, 2_000_000, nowMs, rand, false, out, rand() * 0.002);
    if (d.allow) {
      if (rand() < 0.1) recordSpend(s, d.reservedMicros >> 1, nowMs, d.reservedMicros, nowMs);
      else releaseBid(s, d.reservedMicros, nowMs, nowMs);
    }
  }
}

function gcCount(fn: () => void, batches: number): number {
  let count = 0;
  const obs = new PerformanceObserver((list) => {
    count += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < batches; i++) fn();
  obs.disconnect();
  return count;
}

const bench = new Bench({ time: 2_000, warmupTime: 500 });
bench.add('baseline: plain loop over the same states', baseline);
bench.add('decide()', decideOnly);
bench.add('decide() + recordSpend()', decideAndRecord);
bench.add('decide() + recordSpend(), with a value signal', decideValueAndRecord);
await bench.run();

// Allocation check: garbage collections seen while making 5 million more calls.
const gcDecide = await new Promise<number>((resolve) => {
  const n = gcCount(decideAndRecord, 5_000);
  setTimeout(() => resolve(n), 100);
});

const gcValue = await new Promise<number>((resolve) => {
  const n = gcCount(decideValueAndRecord, 5_000);
  setTimeout(() => resolve(n), 100);
});

const base = bench.tasks[0]!.result!.hz * BATCH;
const rows = bench.tasks.map((t) => {
  const perSec = t.result!.hz * BATCH;
  return `| ${t.name} | ${(perSec / 1e6).toFixed(2)} M/s | ${((1e9 / perSec) | 0).toString()} ns | ${(perSec / base).toFixed(2)} |`;
});
const table = [
  '# decide() + recordSpend() on 1,000 campaigns, one core',
  '',
  'Command: `npm run bench:core` (bench/core-decide.ts, tinybench, 2 s per task after 0.5 s warm-up).',
  `Machine: ${machineLine()}.`,
  '',
  '| task | calls per second | per call | ratio to baseline |',
  '| --- | ---: | ---: | ---: |',
  ...rows,
  '',
  `Garbage collections during 5,000,000 further decide() + recordSpend() calls: ${gcDecide}; with a value signal: ${gcValue}.`,
  '',
  'The mix is 1,000 campaigns across all five pacing modes; one in ten allowed bids wins and',
  'settles at once, the others release their reservation. The baseline touches the same states',
  'and draws the same random numbers without deciding anything. With a value signal, each campaign',
  'keeps its last 512 values (allocated once, at its first value) and re-sorts them when its',
  'controller re-plans; a throttled request is passed by comparing its value with a quantile.',
  'Machine load varies between runs on this shared machine: compare ratios within one table.',
  '',
];
writeFileSync(new URL('./results/core-decide.md', import.meta.url), table.join('\n'));
console.log(table.join('\n'));
if (sink === -1) console.log(sink);
