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
 * Re-computing the knots is most of a re-plan's cost (about 6 us: npm run bench:quantiles); the
 * knots move slowly anyway (KNOT_SMOOTHING), so a controller that re-plans faster does not
 * re-compute them faster.
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

/**
 * Scratch shared by every campaign: the core is single-threaded and computes synchronously.
 * The values are ordered as the integers of their float32 bits: values are >= 0 (decide() passes
 * no other), and non-negative IEEE-754 floats order as their bit patterns do (-0 first, as the
 * float sort puts it), so every knot is the one a float sort gives.
 */
const ringBits = new Int32Array(RING_SIZE);
const ringBitsAsFloats = new Float32Array(ringBits.buffer);
const bucketed = new Int32Array(RING_SIZE);
const bucketedFloats = new Float32Array(bucketed.buffer);
/** Buckets of the one-pass radix partition: their counts, then where each starts in `bucketed`. */
const BUCKET_BITS = 9;
const BUCKETS = 1 << BUCKET_BITS;
const bucketEnd = new Int32Array(BUCKETS + 1);
const bucketStart = new Int32Array(BUCKETS + 1);
/** A bucket this large is sorted by the typed array's sort (n log n) instead of by insertion. */
const INSERTION_MAX = 32;

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

/**
 * Re-computes the knots from the ring. Only the order statistics the knots read are needed (at
 * most two per knot, 130 of 512), so instead of sorting the ring this partitions it once by the
 * top bits of its values into 512 buckets (one counting-sort pass: no comparisons, hence no branch
 * mispredictions, which are most of a sort's cost on random data) and sorts only the buckets
 * that hold a rank a knot reads, by insertion (they hold about one value each). The knots are the
 * bits a full sort gives (test/core/valueQuantiles.test.ts); npm run bench:quantiles measures the
 * cost against the full sort it replaced, in the same run.
 */
export function computeKnots(q: ValueQuantiles): void {
  const n = q.seen < RING_SIZE ? q.seen : RING_SIZE;
  if (n === 0) return;
  const bits = ringBits;
  for (let i = 0; i < n; i++) ringBitsAsFloats[i] = q.ring[i]!;
  partition(bits, n);
  const knots = q.knots;
  // Once the ring is full, each re-computation moves the knots a step towards the new quantiles:
  // the upper tail of 512 values holds few of them, and re-estimating it afresh every tick would
  // move the threshold (hence the spend of the next tick) by noise alone.
  const w = q.knotsFrom >= RING_SIZE ? KNOT_SMOOTHING : 1;
  const sorted = bucketedFloats;
  let b = 0;
  let sortedThrough = -1;
  for (let k = 0; k <= QUANTILE_STEPS; k++) {
    const x = (k / QUANTILE_STEPS) * (n - 1);
    const i = Math.floor(x);
    const last = i + 1 < n ? i + 1 : i;
    // Walk the buckets up to the one holding rank `last`, sorting the one holding rank `i` on the way.
    while (bucketStart[b + 1]! <= last) {
      if (b > sortedThrough && bucketStart[b + 1]! > i) {
        sortBucket(bucketStart[b]!, bucketStart[b + 1]!);
        sortedThrough = b;
      }
      b++;
    }
    if (b > sortedThrough) {
      sortBucket(bucketStart[b]!, bucketStart[b + 1]!);
      sortedThrough = b;
    }
    const a = sorted[i]!;
    const v = i + 1 < n ? a + (sorted[i + 1]! - a) * (x - i) : a;
    knots[k] = knots[k]! + w * (v - knots[k]!);
  }
  q.knotsFrom = n;
}

/**
 * Partitions bits[0, n) into `bucketed` by value, in BUCKETS buckets spanning [min, max] (their
 * starts in `bucketStart`): every value of a bucket is below every value of the next. Arithmetic
 * is on doubles: max - min of int32s can pass 2^31 (-0 is the smallest int32).
 */
function partition(bits: Int32Array, n: number): void {
  let min = bits[0]!;
  let max = min;
  for (let i = 1; i < n; i++) {
    const v = bits[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = 32 - Math.clz32(max - min);
  const shift = span > BUCKET_BITS ? span - BUCKET_BITS : 0;
  const end = bucketEnd;
  end.fill(0);
  for (let i = 0; i < n; i++) {
    const slot = ((bits[i]! - min) >>> shift) + 1;
    end[slot] = end[slot]! + 1;
  }
  for (let s = 1; s <= BUCKETS; s++) end[s] = end[s]! + end[s - 1]!;
  bucketStart.set(end);
  // end[s] is now where bucket s starts; it moves up as the bucket fills, ending where s + 1 starts.
  for (let i = 0; i < n; i++) {
    const v = bits[i]!;
    const s = (v - min) >>> shift;
    bucketed[end[s]!] = v;
    end[s] = end[s]! + 1;
  }
}

/** Sorts bucketed[lo, hi): by insertion when small (the usual case), else by the typed array's sort. */
function sortBucket(lo: number, hi: number): void {
  if (hi - lo > INSERTION_MAX) {
    bucketed.subarray(lo, hi).sort();
    return;
  }
  const a = bucketed;
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i]!;
    let j = i - 1;
    if (a[j]! <= v) continue;
    do {
      a[j + 1] = a[j]!;
      j--;
    } while (j >= lo && a[j]! > v);
    a[j + 1] = v;
  }
}

/** The p-quantile (p in [0, 1]) of recent values, or -1 while too few values have been seen. */
export function valueQuantile(q: ValueQuantiles, p: number): number {
  if (q.knotsFrom < MIN_VALUES) return -1;
  const x = (p <= 0 ? 0 : p >= 1 ? 1 : p) * QUANTILE_STEPS;
  const i = Math.floor(x);
  const a = q.knots[i]!;
  return i < QUANTILE_STEPS ? a + (q.knots[i + 1]! - a) * (x - i) : a;
}
