import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../core/dayWindow';
import {
  bookSpend,
  createLedger,
  dayCommittedMicros,
  expireReservations,
  release,
  reservationBucketMs,
  reserve,
  totalSpentMicros,
  unbookSpend,
} from '../../core/ledger';

const TTL_MS = 10_000;

describe('ledger', () => {
  it('books into day and hour buckets and rolls over at local midnight', () => {
    const start = Date.UTC(2024, 0, 15, 5); // 00:00 in New York
    const l = createLedger('America/New_York', start, { reservationTtlMs: TTL_MS });
    bookSpend(l, 100, start + 30 * 60_000);
    bookSpend(l, 50, start + 3 * HOUR_MS);
    expect(l.ownDaySpentMicros).toBe(150);
    expect(l.hourSpentMicros[0]).toBe(100);
    expect(l.hourSpentMicros[3]).toBe(50);
    bookSpend(l, 7, start + 24 * HOUR_MS + 1);
    expect(l.day.key).toBe('2024-01-16');
    expect(l.ownDaySpentMicros).toBe(7);
    expect(l.hourSpentMicros[3]).toBe(0);
    expect(l.closedDays).toEqual([{ key: '2024-01-15', ownSpentMicros: 150 }]);
    expect(totalSpentMicros(l)).toBe(157);
  });

  it('holds reservations until released or expired, never releasing twice', () => {
    const l = createLedger('UTC', 0, { reservationTtlMs: TTL_MS });
    reserve(l, 40, 1_000);
    reserve(l, 60, 1_500);
    reserve(l, 5, 4_000);
    expect(dayCommittedMicros(l)).toBe(105);
    expect(release(l, 30, 1_200)).toBe(30);
    expect(l.reservedMicros).toBe(75);
    // Buckets are whole seconds: the reservations of second 1 go once second 2 is TTL old.
    expireReservations(l, 1_999 + TTL_MS);
    expect(l.reservedMicros).toBe(75);
    expireReservations(l, 2_000 + TTL_MS);
    expect(l.reservedMicros).toBe(5);
    expect(release(l, 70, 1_500)).toBe(0);
    expireReservations(l, 100_000);
    expect(l.reservedMicros).toBe(0);
  });

  it('uses TTL/24 buckets for long TTLs: 26 slots for 120 s, held at least the TTL and at most one bucket more', () => {
    expect(reservationBucketMs(10_000)).toBe(1_000);
    expect(reservationBucketMs(120_000)).toBe(5_000);
    const l = createLedger('UTC', 0, { reservationTtlMs: 120_000 });
    expect(l.ring.length).toBe(26);
    reserve(l, 40, 1_000);
    reserve(l, 2, 4_999);
    reserve(l, 7, 5_000);
    // Bucket [0 s, 5 s) goes once 5 s is TTL old: not at 124.999 s, which is past 1 s + TTL.
    expireReservations(l, 124_999);
    expect(l.reservedMicros).toBe(49);
    expect(release(l, 10, 4_999)).toBe(10);
    expireReservations(l, 125_000);
    expect(l.reservedMicros).toBe(7);
    expect(release(l, 5, 1_000)).toBe(0);
  });

  it('property: a reservation lives at least the TTL and at most TTL plus one bucket, for any TTL', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 300_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 1_000 })), {
          minLength: 1,
          maxLength: 60,
        }),
        (ttl, steps) => {
          const l = createLedger('UTC', 0, { reservationTtlMs: ttl });
          const made: { at: number; micros: number }[] = [];
          let t = 0;
          for (const [dt, micros] of steps) {
            t += dt;
            expireReservations(l, t);
            reserve(l, micros, t);
            made.push({ at: t, micros });
          }
          // Probe just before and at each reservation's earliest and latest allowed expiry, in order.
          const probes = [
            ...new Set(made.flatMap((r) => [-1, 0, l.bucketMs - 1, l.bucketMs].map((d) => r.at + ttl + d))),
          ]
            .filter((p) => p >= t)
            .sort((a, b) => a - b);
          for (const now of probes) {
            expireReservations(l, now);
            let mustHold = 0;
            let mayHold = 0;
            for (const r of made) {
              if (now - r.at < ttl) mustHold += r.micros;
              if (now - r.at < ttl + l.bucketMs) mayHold += r.micros;
            }
            expect(l.reservedMicros).toBeGreaterThanOrEqual(mustHold);
            expect(l.reservedMicros).toBeLessThanOrEqual(mayHold);
          }
          expect(l.reservedMicros).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('takes back refused duplicates from the right day', () => {
    const l = createLedger('UTC', 0, { reservationTtlMs: TTL_MS });
    bookSpend(l, 10, 5);
    bookSpend(l, 20, 25 * HOUR_MS);
    unbookSpend(l, 10, '1970-01-01', 0);
    unbookSpend(l, 20, '1970-01-02', 1);
    expect(l.closedDays[0]!.ownSpentMicros).toBe(0);
    expect(l.ownDaySpentMicros).toBe(0);
    expect(totalSpentMicros(l)).toBe(0);
  });

  it('property: totals equal the sum of recorded spends, to the micro, across roll-overs and DST', () => {
    const zones = ['UTC', 'America/New_York', 'Europe/Berlin', 'Australia/Lord_Howe', 'Asia/Kathmandu'];
    // Starts a day before the US fall-back change and walks across it.
    const base = Date.UTC(2024, 10, 2);
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 * HOUR_MS }), fc.integer({ min: 0, max: 5_000_000 })), {
          maxLength: 200,
        }),
        (zone, steps) => {
          const l = createLedger(zone, base, { reservationTtlMs: TTL_MS, historyDays: 1000 });
          let t = base;
          let sum = 0;
          for (const [dt, micros] of steps) {
            t += dt;
            bookSpend(l, micros, t);
            sum += micros;
          }
          const closed = l.closedDays.reduce((a, d) => a + d.ownSpentMicros, 0);
          let hours = 0;
          for (const h of l.hourSpentMicros) hours += h;
          expect(totalSpentMicros(l)).toBe(sum);
          expect(closed + l.ownDaySpentMicros).toBe(sum);
          expect(hours).toBe(l.ownDaySpentMicros);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: reserved exposure equals live reservations and never goes negative', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dtMs: fc.oneof(fc.integer({ min: 0, max: 4_000 }), fc.integer({ min: 0, max: 60_000 })),
            micros: fc.integer({ min: 1, max: 10_000 }),
            settleAfterMs: fc.option(fc.integer({ min: 0, max: 2 * TTL_MS })),
          }),
          { maxLength: 150 },
        ),
        (ops) => {
          const l = createLedger('UTC', 0, { reservationTtlMs: TTL_MS });
          let t = 0;
          const settles: { at: number; micros: number; reservedAt: number }[] = [];
          for (const op of ops) {
            t += op.dtMs;
            for (const s of settles.filter((x) => x.at <= t)) release(l, s.micros, s.reservedAt);
            settles.splice(0, settles.length, ...settles.filter((x) => x.at > t));
            expireReservations(l, t);
            reserve(l, op.micros, t);
            if (op.settleAfterMs !== null)
              settles.push({ at: t + op.settleAfterMs, micros: op.micros, reservedAt: t });
            let live = 0;
            for (let i = 0; i < l.ring.length; i++) if (l.ringBucket[i]! >= 0) live += l.ring[i]!;
            expect(l.reservedMicros).toBeGreaterThanOrEqual(0);
            expect(l.reservedMicros).toBe(live);
          }
          expireReservations(l, t + TTL_MS + 2_000);
          expect(l.reservedMicros).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
