/**
 * Running quantiles of the value signal (predicted CTR or a value score) of a campaign's recent
 * requests: what value-aware pacing compares a request with. The controller decides which share
 * of requests to pass; passing the requests above the (1 - pass) quantile of recent values, instead
 * of a coin's share, spends the same budget on the best requests.
 *
 * A ring of the last RING_SIZE values (float32: 2 KB per campaign, allocated on the first value)
 * and QUANTILE_STEPS + 1 knots of their distribution, re-computed when the controller re-plans (at
 * most once per KNOT_REFRESH_MS) and, while the ring is filling, each time the count of values
 * doubles. Between re-computations a lookup is one interpolation: nothing is allocated per decision.
 */
export const RING_SIZE = 512;
export const QUANTILE_STEPS = 64;
/** Weight of a fresh estimate in the knots once the ring is full (an EMA over re-computations). */
export const KNOT_SMOOTHING = 0.2;
/**
 * Sorting the ring is most of a re-plan's cost (about 25 us, a third of a simulated day's CPU at
 * one re-plan a minute); the knots move slowly anyway (KNOT_SMOOTHING), so a controller that
 * re-plans faster does not re-sort faster.
 */
export const KNOT_REFRESH_MS = 60_000;
/** Below this many values the quantiles say too little: decide by coin. */
export const MIN_VALUES = 16;

export interface ValueQuantiles {
  readonly ring: Float32Array;
  /** Values seen in total (the ring holds the last RING_SIZE of them). */
  seen: number;
  /** How many values the knots were computed from; 0 until the first computation. */
  knotsFrom: number;
  /** When a re-plan last re-computed the knots (see `refreshKnots`). */
  refreshedAtMs: number;
  /** knots[k] = the k / QUANTILE_STEPS quantile. */
  readonly knots: Float64Array;
}

/** Shared by every campaign: the core is single-threaded and sorts synchronously. */
const scratch = new Float64Array(RING_SIZE);
/**
 * The values are sorted as the integers of their float32 bits: values are >= 0 (decide() passes
 * no other), and non-negative IEEE-754 floats order as their bit patterns do (-0 first, as the
 * float sort puts it). V8 sorts an Int32Array on small integers without allocating, where a
 * Float64Array sort boxes every element: a re-computation costs 15.8 us instead of 24.9
 * (npm run bench:quantiles), and the sort was a third of a simulated day's CPU. The order, hence
 * every knot, is the same.
 */
const sortBits = new Int32Array(RING_SIZE);
const sortFloats = new Float32Array(sortBits.buffer);

export function createValueQuantiles(): ValueQuantiles {
  return {
    ring: new Float32Array(RING_SIZE),
    seen: 0,
    knotsFrom: 0,
    refreshedAtMs: Number.NEGATIVE_INFINITY,
    knots: new Float64Array(QUANTILE_STEPS + 1),
  };
}

/** Notes one request's value; re-computes the knots while the ring is still filling. */
export function observeValue(q: ValueQuantiles, value: number): void {
  q.ring[q.seen % RING_SIZE] = value;
  q.seen++;
  if (q.seen >= MIN_VALUES && q.seen < 2 * RING_SIZE && q.seen >= 2 * q.knotsFrom) computeKnots(q);
}

/** At a re-plan: re-computes the knots unless they were re-computed less than KNOT_REFRESH_MS ago. */
export function refreshKnots(q: ValueQuantiles, nowMs: number): void {
  if (nowMs - q.refreshedAtMs < KNOT_REFRESH_MS) return;
  q.refreshedAtMs = nowMs;
  computeKnots(q);
}

/** True once the quantiles hold enough values to decide by (value-aware pacing is on). */
export function hasQuantiles(q: ValueQuantiles | null): boolean {
  return q !== null && q.knotsFrom >= MIN_VALUES;
}

export function computeKnots(q: ValueQuantiles): void {
  const n = q.seen < RING_SIZE ? q.seen : RING_SIZE;
  if (n === 0) return;
  // Unused slots sort last (+Infinity's bits are the largest) and are never read: the whole
  // array sorts without a view.
  for (let i = 0; i < RING_SIZE; i++) sortFloats[i] = i < n ? q.ring[i]! : Number.POSITIVE_INFINITY;
  sortBits.sort();
  for (let i = 0; i < n; i++) scratch[i] = sortFloats[i]!;
  const knots = q.knots;
  // Once the ring is full, each re-computation moves the knots a step towards the new quantiles:
  // the upper tail of 512 values holds few of them, and re-estimating it afresh every tick would
  // move the threshold (hence the spend of the next tick) by noise alone.
  const w = q.knotsFrom >= RING_SIZE ? KNOT_SMOOTHING : 1;
  for (let k = 0; k <= QUANTILE_STEPS; k++) {
    const x = (k / QUANTILE_STEPS) * (n - 1);
    const i = Math.floor(x);
    const a = scratch[i]!;
    const v = i + 1 < n ? a + (scratch[i + 1]! - a) * (x - i) : a;
    knots[k] = knots[k]! + w * (v - knots[k]!);
  }
  q.knotsFrom = n;
}

/** The p-quantile (p in [0, 1]) of recent values, or -1 while too few values have been seen. */
export function valueQuantile(q: ValueQuantiles, p: number): number {
  if (q.knotsFrom < MIN_VALUES) return -1;
  const x = (p <= 0 ? 0 : p >= 1 ? 1 : p) * QUANTILE_STEPS;
  const i = Math.floor(x);
  const a = q.knots[i]!;
  return i < QUANTILE_STEPS ? a + (q.knots[i + 1]! - a) * (x - i) : a;
}
