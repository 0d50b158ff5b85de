/**
 * The cost of re-computing one campaign's value quantiles (core/valueQuantiles.ts computeKnots:
 * sort the last 512 values, read 65 knots), against the baseline it replaced in the same run: the
 * same values copied into a Float64Array and sorted with the typed array's own sort. 100 campaigns'
 * rings of pctr-like values, re-computed in turn, as a simulated minute does.
 * Run: npm run bench:quantiles. Writes bench/results/value-quantiles.md.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { RING_SIZE, computeKnots, createValueQuantiles, observeValue } from '../core/valueQuantiles';
import { machineLine } from './machine';

const CAMPAIGNS = 100;
const ROUNDS = 2_000;
let x = 12345;
const next = () => {
  x = (x * 16807) % 2147483647;
  return x / 2147483647;
};
const qs = Array.from({ length: CAMPAIGNS }, () => createValueQuantiles());
for (const q of qs) for (let i = 0; i < 3 * RING_SIZE; i++) observeValue(q, 0.0005 + 0.004 * next() ** 3);

const scratch = new Float64Array(RING_SIZE);
/** The baseline: what computeKnots did before (a boxed Float64Array sort), same values. */
function floatSort(ring: Float32Array): number {
  for (let i = 0; i < RING_SIZE; i++) scratch[i] = ring[i]!;
  scratch.sort();
  return scratch[RING_SIZE >> 1]!;
}

function usPerCall(fn: () => void): number {
  const t0 = process.cpuUsage();
  for (let r = 0; r < ROUNDS; r++) fn();
  const c = process.cpuUsage(t0);
  return (c.user + c.system) / (ROUNDS * CAMPAIGNS);
}

const load0 = loadavg()[0]!;
let sink = 0;
const rows: [string, number][] = [];
for (let rep = 0; rep < 3; rep++) {
  const base = usPerCall(() => {
    for (const q of qs) sink += floatSort(q.ring);
  });
  const knots = usPerCall(() => {
    for (const q of qs) {
      // Shuffle one value so each call sorts fresh data, as a ring that moved on does.
      q.ring[0] = q.ring[0]! + 1e-9;
      computeKnots(q);
      sink += q.knots[32]!;
    }
  });
  rows.push(
    ['Float64Array sort of the ring (baseline)', base],
    ['computeKnots (Int32 sort of float bits, 65 knots)', knots],
  );
}
const best = (label: string) => Math.min(...rows.filter((r) => r[0] === label).map((r) => r[1]));
const b = best(rows[0]![0]);
const k = best(rows[1]![0]);
const md = `# Value quantiles: one re-computation (512 values)

Command: \`npm run bench:quantiles\` (bench/value-quantiles.ts): ${CAMPAIGNS} campaigns' rings of
pctr-like values, each re-computed ${ROUNDS} times; CPU time per call, best of 3 repetitions.
Machine: ${machineLine()}; 1-minute load average ${load0.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.

| what | us per call (CPU) |
| --- | ---: |
| Float64Array sort of the ring (the previous computeKnots' sort, baseline) | ${b.toFixed(2)} |
| computeKnots (Int32Array sort of the float bits, then 65 knots) | ${k.toFixed(2)} |

computeKnots over the baseline: ${(k / b).toFixed(2)} (lower is better). The knots are the same bits
either way (test/core/valueQuantiles.test.ts).
`;
writeFileSync(resolve(import.meta.dirname, 'results/value-quantiles.md'), md);
process.stdout.write(`${md}\n(checksum ${sink.toFixed(3)}: keeps the work live)\n`);
