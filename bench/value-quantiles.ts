/**
 * The cost of re-computing one campaign's value quantiles (core/valueQuantiles.ts computeKnots:
 * the 65 knots of the last 512 values), against the baseline it replaced, in the same run: the
 * full sort of the ring (the float bits sorted as an Int32Array, then 65 knots). 100 campaigns'
 * rings of pctr-like values (log-normal, as friday.yaml draws them), re-computed in turn as a
 * simulated minute does; between two re-computations each ring takes 164 new values (friday's
 * mean per campaign-minute), so no sort sees the data it sorted last time (a branch predictor
 * that learned a fixed input would flatter a comparison sort).
 * Run: npm run bench:quantiles. Writes bench/results/value-quantiles.md.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import {
  QUANTILE_STEPS,
  RING_SIZE,
  type ValueQuantiles,
  computeKnots,
  createValueQuantiles,
  observeValue,
} from '../core/valueQuantiles';
import { machineLine } from './machine';

const CAMPAIGNS = 100;
const ROUNDS = 2_000;
const NEW_PER_MINUTE = 164;
let x = 12345;
const uniform = () => {
  x = (x * 16807) % 2147483647;
  return x / 2147483647;
};
/** pctr ~ log-normal(median 0.0015, sigma 0.6), friday.yaml's ctr model. */
const pctr = () =>
  0.0015 * Math.exp(0.6 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
// The values each round adds, drawn before timing so both contenders see the same ones.
const fresh = Float32Array.from({ length: 8192 }, pctr);
let cursor = 0;
function moveOn(q: ValueQuantiles): void {
  for (let i = 0; i < NEW_PER_MINUTE; i++) {
    q.ring[q.seen % RING_SIZE] = fresh[cursor]!;
    q.seen++;
    cursor = (cursor + 1) & 8191;
  }
}

const sortBits = new Int32Array(RING_SIZE);
const sortFloats = new Float32Array(sortBits.buffer);
const knotsBaseline = new Float64Array(QUANTILE_STEPS + 1);
/** The baseline: computeKnots before this change (full sort of the float bits, then the knots). */
function fullSortKnots(q: ValueQuantiles): number {
  for (let i = 0; i < RING_SIZE; i++) sortFloats[i] = q.ring[i]!;
  sortBits.sort();
  for (let k = 0; k <= QUANTILE_STEPS; k++) {
    const xk = (k / QUANTILE_STEPS) * (RING_SIZE - 1);
    const i = Math.floor(xk);
    const a = sortFloats[i]!;
    const v = i + 1 < RING_SIZE ? a + (sortFloats[i + 1]! - a) * (xk - i) : a;
    knotsBaseline[k] = knotsBaseline[k]! + 0.2 * (v - knotsBaseline[k]!);
  }
  return knotsBaseline[32]!;
}

/** CPU us per re-computation, the rings moving on between calls (their cost is in both rows). */
function usPerCall(recompute: (q: ValueQuantiles) => number, qs: ValueQuantiles[]): [number, number] {
  let sink = 0;
  const t0 = process.cpuUsage();
  for (let r = 0; r < ROUNDS; r++)
    for (const q of qs) {
      moveOn(q);
      sink += recompute(q);
    }
  const c = process.cpuUsage(t0);
  return [(c.user + c.system) / (ROUNDS * CAMPAIGNS), sink];
}

function rings(): ValueQuantiles[] {
  cursor = 0;
  const qs = Array.from({ length: CAMPAIGNS }, () => createValueQuantiles());
  for (const q of qs) for (let i = 0; i < 3 * RING_SIZE; i++) observeValue(q, pctr());
  return qs;
}

const load0 = loadavg()[0]!;
let sink = 0;
const base: number[] = [];
const knots: number[] = [];
const moveOnly: number[] = [];
for (let rep = 0; rep < 3; rep++) {
  const [m, s0] = usPerCall(() => 0, rings());
  const [b, s1] = usPerCall(fullSortKnots, rings());
  const [k, s2] = usPerCall((q) => {
    computeKnots(q);
    return q.knots[32]!;
  }, rings());
  moveOnly.push(m);
  base.push(b);
  knots.push(k);
  sink += s0 + s1 + s2;
}
const m = Math.min(...moveOnly);
const b = Math.min(...base) - m;
const k = Math.min(...knots) - m;
const md = `# Value quantiles: one re-computation (512 values)

Command: \`npm run bench:quantiles\` (bench/value-quantiles.ts): ${CAMPAIGNS} campaigns' rings of
log-normal pctr-like values, each re-computed ${ROUNDS} times, each ring taking ${NEW_PER_MINUTE} new values
between two re-computations (a campaign-minute of friday.yaml); CPU time per call, best of 3
repetitions, less the cost of adding the new values (${m.toFixed(2)} us, measured alone).
Machine: ${machineLine()}; 1-minute load average ${load0.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.

| what | us per call (CPU) |
| --- | ---: |
| full sort of the ring (Int32Array sort of the float bits, then 65 knots; the previous computeKnots, baseline) | ${b.toFixed(2)} |
| computeKnots (one counting pass into 512 buckets, only the buckets a knot reads sorted) | ${k.toFixed(2)} |

computeKnots over the baseline: ${(k / b).toFixed(2)} (lower is better). The knots are the same bits
either way (test/core/valueQuantiles.test.ts).
`;
writeFileSync(resolve(import.meta.dirname, 'results/value-quantiles.md'), md);
process.stdout.write(`${md}\n(checksum ${sink.toFixed(3)}: keeps the work live)\n`);
