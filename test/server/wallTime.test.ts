import { describe, expect, it } from 'vitest';
import { parseFlightDate } from '../../server/http/wallTime';
import { monotonicClock } from '../../server/runtime/time';

describe('parseFlightDate', () => {
  it.each([
    ['2024-01-15T00:00:00', 'America/New_York', Date.UTC(2024, 0, 15, 5)],
    ['2024-07-15T00:00:00', 'America/New_York', Date.UTC(2024, 6, 15, 4)],
    ['2024-01-15', 'Asia/Kolkata', Date.UTC(2024, 0, 14, 18, 30)],
    ['2024-01-15T00:00:00Z', 'Asia/Kolkata', Date.UTC(2024, 0, 15)],
    ['2024-01-15T00:00:00+02:00', 'UTC', Date.UTC(2024, 0, 14, 22)],
    // 02:30 does not exist on 2024-03-10 in New York: it resolves an hour earlier, 01:30 EST.
    ['2024-03-10T02:30:00', 'America/New_York', Date.UTC(2024, 2, 10, 6, 30)],
    // 01:30 happens twice on 2024-11-03: the first (daylight) reading is kept.
    ['2024-11-03T01:30:00', 'America/New_York', Date.UTC(2024, 10, 3, 5, 30)],
  ])('%s in %s', (text, zone, expected) => {
    expect(parseFlightDate(text, zone)).toBe(expected);
  });

  it.each(['2024-02-30', '2024-13-01', '2024-01-15T24:00:00', 'tomorrow', '2024-1-5'])(
    '%s is not a date',
    (text) => {
      expect(parseFlightDate(text, 'UTC')).toBeNull();
    },
  );
});

describe('monotonicClock', () => {
  it('holds still while the wall clock steps back, then follows it again', () => {
    const readings = [1_000, 5_000, 2_000, 4_000, 6_000];
    const clock = monotonicClock(() => readings.shift()!);
    expect([1, 2, 3, 4, 5].map(() => clock.nowMs())).toEqual([1_000, 5_000, 5_000, 5_000, 6_000]);
  });
});
