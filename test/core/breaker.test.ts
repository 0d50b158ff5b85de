import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BreakerState,
  CLASSIC_BREAKER_CONFIG,
  CircuitBreaker,
  DEFAULT_BREAKER_CONFIG,
} from '../../core/breaker';

const B = 1_000_000;
const COOL = DEFAULT_BREAKER_CONFIG.cooldownMs;

describe('circuit breaker, classic mode', () => {
  it('walks CLOSED -> OPEN -> HALF_OPEN -> CLOSED(recovered) -> OPEN as the reference describes', () => {
    const b = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
    expect(b.admit(940_000, 100, B, 0)).toBe('pass');
    expect(b.admit(950_000, 100, B, 1)).toBe('deny');
    expect(b.state).toBe('OPEN');
    expect(b.admit(950_000, 100, B, COOL)).toBe('deny');
    expect(b.admit(950_000, 100, B, 1 + COOL)).toBe('probe');
    expect(b.state).toBe('HALF_OPEN');
    expect(b.admit(950_100, 100, B, 2 + COOL)).toBe('probe');
    expect(b.state).toBe('CLOSED');
    expect(b.recovered).toBe(true);
    expect(b.minThrottle()).toBe(0.9);
    expect(b.admit(960_000, 100, B, 3 + COOL)).toBe('pass');
    expect(b.admit(999_950, 100, B, 4 + COOL)).toBe('deny');
    expect(b.state).toBe('OPEN');
    expect(b.trips).toBe(2);
  });

  it('a probe that would overspend reopens the breaker', () => {
    const b = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
    b.trip(0);
    expect(b.admit(999_990, 100, B, COOL)).toBe('deny');
    expect(b.state).toBe('OPEN');
    expect(b.openedAtMs).toBe(COOL);
  });

  it('transitions to the state it holds do nothing', () => {
    const b = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
    b.trip(5);
    b.trip(99);
    expect(b.openedAtMs).toBe(5);
    expect(b.trips).toBe(1);
    b.reset(7);
    b.reset(8);
    expect(b.lastTransitionMs).toBe(7);
  });

  it('round-trips through JSON', () => {
    const b = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
    b.trip(10);
    b.admit(0, 1, B, 10 + COOL);
    const copy = CircuitBreaker.fromJSON(JSON.parse(JSON.stringify(b)), CLASSIC_BREAKER_CONFIG);
    expect(copy.toJSON()).toEqual(b.toJSON());
    expect(() => CircuitBreaker.fromJSON({ ...b.toJSON(), state: 'MELTED' as BreakerState })).toThrow(
      RangeError,
    );
  });

  it('property: every transition is legal and a pass or probe never passes the limit once recovered', () => {
    const legal = new Set([
      'CLOSED>OPEN',
      'OPEN>HALF_OPEN',
      'HALF_OPEN>CLOSED',
      'HALF_OPEN>OPEN',
      'OPEN>CLOSED',
      'HALF_OPEN>HALF_OPEN',
    ]);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dtMs: fc.integer({ min: 0, max: 2 * COOL }),
            committed: fc.integer({ min: 0, max: B }),
            cost: fc.integer({ min: 1, max: 20_000 }),
            newDay: fc.boolean(),
          }),
          { maxLength: 100 },
        ),
        (ops) => {
          const b = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
          let t = 0;
          for (const op of ops) {
            t += op.dtMs;
            const before = b.state;
            if (op.newDay && op.dtMs % 7 === 0) b.reset(t);
            const a = b.admit(op.committed, op.cost, B, t);
            if (before !== b.state)
              expect(legal.has(`${before}>${b.state}`) || b.state === 'CLOSED').toBe(true);
            if (a === 'probe') expect(op.committed + op.cost).toBeLessThanOrEqual(B);
            if (a === 'pass' && b.recovered) expect(op.committed + op.cost).toBeLessThanOrEqual(B);
            if (a === 'pass' && !b.recovered) expect(op.committed).toBeLessThan(0.95 * B);
            if (b.state === 'OPEN') expect(a).toBe('deny');
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('circuit breaker, precision mode (the default)', () => {
  it('is the default and keeps passing past 95% while bids fit', () => {
    expect(DEFAULT_BREAKER_CONFIG.mode).toBe('precision');
    const b = new CircuitBreaker();
    expect(b.admit(950_000, 100, B, 0)).toBe('pass');
    expect(b.admit(999_900, 100, B, 1)).toBe('pass');
    expect(b.state).toBe('CLOSED');
    expect(b.tripsWhenFull(999_950, B)).toBe(false);
    expect(b.minThrottle()).toBe(0);
  });

  it('trips when committed spend is already past the limit (spend outran its reservations)', () => {
    const b = new CircuitBreaker();
    expect(b.admit(1_000_001, 100, B, 5)).toBe('deny');
    expect(b.state).toBe('OPEN');
    expect(b.tripsWhenFull(1_000_001, B)).toBe(true);
    expect(b.admit(900_000, 100, B, 5 + COOL)).toBe('probe');
  });

  it('trips on a flood of late notices within one cool-down, not on a trickle', () => {
    const b = new CircuitBreaker();
    // 1% of the limit per cool-down window is tolerated: 9,000 micros then a fresh window.
    b.observeUnreserved(9_000, B, 0);
    b.observeUnreserved(9_000, B, COOL);
    expect(b.state).toBe('CLOSED');
    b.observeUnreserved(2_000, B, COOL + 1);
    expect(b.state).toBe('OPEN');
    const classic = new CircuitBreaker(CLASSIC_BREAKER_CONFIG);
    classic.observeUnreserved(500_000, B, 0);
    expect(classic.state).toBe('CLOSED');
  });

  it('property: a pass never finds committed spend past the limit; OPEN always denies', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dtMs: fc.integer({ min: 0, max: 2 * COOL }),
            committed: fc.integer({ min: 0, max: 1.2 * B }),
            cost: fc.integer({ min: 1, max: 20_000 }),
          }),
          { maxLength: 100 },
        ),
        (ops) => {
          const b = new CircuitBreaker();
          let t = 0;
          for (const op of ops) {
            t += op.dtMs;
            const a = b.admit(op.committed, op.cost, B, t);
            if (a === 'pass') expect(op.committed).toBeLessThanOrEqual(B);
            if (a === 'probe') expect(op.committed + op.cost).toBeLessThanOrEqual(B);
            if (b.state === 'OPEN') expect(a).toBe('deny');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
