import { describe, expect, it } from 'vitest';
import {
  centsToMicros,
  impressionCostMicros,
  microsToCents,
  microsToWholeCentsFloor,
} from '../../core/money';

describe('money', () => {
  it.each([
    [0, 0],
    [1, 10_000],
    [150, 1_500_000],
    [1_000_000, 10_000_000_000],
    [0.25, 2_500],
    [0.0001, 1],
    [123_456_789.1234, 1_234_567_891_234],
  ])('%d cents is %d micros', (cents, micros) => {
    expect(centsToMicros(cents)).toBe(micros);
    expect(microsToCents(micros)).toBeCloseTo(cents, 8);
  });

  it.each([
    [0.00001],
    [10.00001],
    [123456.12345],
    [-1],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [1e20],
    [1e-7],
  ])('rejects %d cents', (cents) => {
    expect(() => centsToMicros(cents)).toThrow(RangeError);
  });

  it('a CPM of 250 cents costs 2,500 micros per impression', () => {
    expect(impressionCostMicros(centsToMicros(250))).toBe(2_500);
  });

  it('rounds impression cost up and remaining cents down', () => {
    expect(impressionCostMicros(510_001)).toBe(511);
    expect(microsToWholeCentsFloor(19_999)).toBe(1);
  });
});
