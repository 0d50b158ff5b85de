import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectedValue, neutralValue, rankByExpectedValue } from '../../core/auction/auction';

describe('rankByExpectedValue', () => {
  it('ranks by price when the request gives no value signal', () => {
    expect(
      rankByExpectedValue([
        { priceMicros: 100, value: -1 },
        { priceMicros: 300, value: -1 },
      ]),
    ).toEqual([1, 0]);
  });

  it('ranks by price x predicted CTR when given', () => {
    const order = rankByExpectedValue([
      { priceMicros: 3000, value: 0.001 }, // 3
      { priceMicros: 1000, value: 0.005 }, // 5
      { priceMicros: 2000, value: 0.002 }, // 4
    ]);
    expect(order).toEqual([1, 2, 0]);
  });

  it('ranks a campaign without a CTR with the mean of those given', () => {
    const entries = [
      { priceMicros: 1000, value: 0.004 },
      { priceMicros: 1000, value: 0.002 },
      { priceMicros: 1500, value: -1 },
    ];
    expect(neutralValue(entries)).toBeCloseTo(0.003);
    expect(rankByExpectedValue(entries)).toEqual([2, 0, 1]);
  });

  it('ties keep their order; the first is always a maximum', () => {
    expect(
      rankByExpectedValue([
        { priceMicros: 5, value: -1 },
        { priceMicros: 5, value: -1 },
      ]),
    ).toEqual([0, 1]);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            priceMicros: fc.integer({ min: 1, max: 1e9 }),
            value: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        (entries) => {
          const order = rankByExpectedValue(entries);
          expect([...order].sort((a, b) => a - b)).toEqual(entries.map((_, i) => i));
          const n = neutralValue(entries);
          const best = Math.max(...entries.map((e) => expectedValue(e, n)));
          expect(expectedValue(entries[order[0]!]!, n)).toBe(best);
        },
      ),
      { seed: 15 },
    );
  });
});
