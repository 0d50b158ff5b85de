import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QUANTILE_STEPS, RING_SIZE, computeKnots, createValueQuantiles } from '../../core/valueQuantiles';

/** The knots as first written: a Float64Array sort of the values, then linear interpolation. */
function referenceKnots(values: readonly number[]): number[] {
  const n = Math.min(values.length, RING_SIZE);
  const ring = new Float32Array(RING_SIZE);
  values.forEach((v, i) => {
    ring[i % RING_SIZE] = v;
  });
  const sorted = Float64Array.from(ring.subarray(0, n)).sort();
  return Array.from({ length: QUANTILE_STEPS + 1 }, (_, k) => {
    const x = (k / QUANTILE_STEPS) * (n - 1);
    const i = Math.floor(x);
    const a = sorted[i]!;
    const v = i + 1 < n ? a + (sorted[i + 1]! - a) * (x - i) : a;
    // The first computation moves the zeroed knots all the way (weight 1), as computeKnots does.
    return 0 + 1 * (v - 0);
  });
}

/** computeKnots on a ring holding `values` gives the reference's knots, bit for bit. */
function expectReferenceKnots(values: readonly number[]): void {
  const q = createValueQuantiles();
  values.forEach((v, i) => {
    q.ring[i] = v;
  });
  q.seen = values.length;
  computeKnots(q);
  const want = referenceKnots(values);
  // Object.is: -0 and 0 differ, NaN equals NaN.
  const same = Array.from(q.knots).every((k, i) => Object.is(k, want[i]));
  expect(same, `${Array.from(q.knots)} vs ${want}`).toBe(true);
}

describe('value quantiles', () => {
  it('sorts by float bits exactly as the float sort does, for every value decide() lets in', () => {
    const value = fc.oneof(
      fc.float({ min: 0, noNaN: true }),
      fc.constantFrom(0, -0, Number.MIN_VALUE, 1e-7, 0.5, Number.POSITIVE_INFINITY),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: RING_SIZE }), (values) => {
        expectReferenceKnots(values);
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });

  it('gives the same knots when the values crowd into few buckets or repeat', () => {
    // One outlier stretches the span, so the rest share a bucket or two: the buckets a knot reads
    // then hold far more than one value each (the typed-array sort path), or many equal values.
    const crowded = fc
      .tuple(
        fc.array(fc.float({ min: 1, max: Math.fround(1.0001), noNaN: true }), {
          minLength: 15,
          maxLength: 511,
        }),
        fc.float({ min: 1e6, max: Math.fround(1e30), noNaN: true }),
      )
      .map(([xs, outlier]) => [...xs, outlier]);
    const repeated = fc.array(fc.constantFrom(0, 0.001, 0.002, 0.5), { minLength: 1, maxLength: RING_SIZE });
    fc.assert(
      fc.property(fc.oneof(crowded, repeated), (values) => {
        expectReferenceKnots(values);
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });
});
