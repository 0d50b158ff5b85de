import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLASSIC_BREAKER_CONFIG, CircuitBreaker, DEFAULT_BREAKER_CONFIG } from '../../core/breaker';

const B = 1_000_000;
const COOL = DEFAULT_BREAKER_CONFIG.cooldownMs;

describe('CircuitBreaker.stateAt: the state as of now, without a bid', () => {
  it('shows a fresh classic breaker OPEN from the trip ratio on, without moving it', () => {
    const b = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
    expect(b.stateAt(949_999, B, 0)).toBe('CLOSED');
    expect(b.stateAt(950_000, B, 0)).toBe('OPEN');
    expect(b.state).toBe('CLOSED');
    expect(b.trips).toBe(0);
  });

  it('shows OPEN during the cool-down and HALF_OPEN after it', () => {
    const b = new CircuitBreaker();
    b.trip(1000);
    expect(b.stateAt(960_000, B, 1000 + COOL - 1)).toBe('OPEN');
    expect(b.stateAt(960_000, B, 1000 + COOL)).toBe('HALF_OPEN');
    expect(b.state).toBe('OPEN');
  });

  it('shows a fresh precision breaker (the default) CLOSED up to the limit, OPEN once spend is past it', () => {
    const b = new CircuitBreaker();
    expect(b.stateAt(950_000, B, 0)).toBe('CLOSED');
    expect(b.stateAt(B, B, 0)).toBe('CLOSED');
    expect(b.stateAt(B + 1, B, 0)).toBe('OPEN');
    expect(b.state).toBe('CLOSED');
    expect(b.trips).toBe(0);
  });

  it('shows a recovered classic breaker OPEN only once no bid fits', () => {
    const b = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
    b.close(0, true);
    expect(b.stateAt(999_999, B, 0)).toBe('CLOSED');
    expect(b.stateAt(B, B, 0)).toBe('OPEN');
  });

  it('agrees with what the cheapest bid would find on a CLOSED breaker, fresh or recovered, either mode', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 * B }),
        fc.boolean(),
        fc.constantFrom(DEFAULT_BREAKER_CONFIG, CLASSIC_BREAKER_CONFIG),
        (committed, recovered, config) => {
          const b = new CircuitBreaker(config);
          b.close(0, recovered);
          const seen = b.stateAt(committed, B, 10);
          b.admit(committed, 1, B, 10);
          expect(seen).toBe(b.state);
        },
      ),
    );
  });
});
