import { describe, expect, it } from 'vitest';
import { HOUR_MS, dayWindowAt, hourIndex, isValidTimeZone } from '../../core/dayWindow';

describe('dayWindowAt', () => {
  it.each([
    // zone, an instant, local date, day length in hours
    ['UTC', Date.UTC(2024, 0, 15, 13), '2024-01-15', 24],
    ['America/New_York', Date.UTC(2024, 0, 15, 3), '2024-01-14', 24],
    ['America/New_York', Date.UTC(2024, 2, 10, 12), '2024-03-10', 23],
    ['America/New_York', Date.UTC(2024, 10, 3, 12), '2024-11-03', 25],
    ['Europe/Berlin', Date.UTC(2024, 2, 31, 12), '2024-03-31', 23],
    ['Europe/Berlin', Date.UTC(2024, 9, 27, 12), '2024-10-27', 25],
    ['Asia/Kolkata', Date.UTC(2024, 5, 1, 20), '2024-06-02', 24],
    ['Australia/Lord_Howe', Date.UTC(2024, 3, 6, 14), '2024-04-07', 24.5],
  ])('%s at %d is %s, %d hours long', (zone, at, key, hours) => {
    const w = dayWindowAt(zone, at);
    expect(w.key).toBe(key);
    expect((w.endMs - w.startMs) / HOUR_MS).toBe(hours);
    expect(at).toBeGreaterThanOrEqual(w.startMs);
    expect(at).toBeLessThan(w.endMs);
    // The next day starts exactly where this one ends.
    expect(dayWindowAt(zone, w.endMs).startMs).toBe(w.endMs);
    expect(dayWindowAt(zone, w.endMs - 1).key).toBe(key);
  });

  it('buckets elapsed hours, 25 of them on the long day', () => {
    const w = dayWindowAt('America/New_York', Date.UTC(2024, 10, 3, 12));
    expect(hourIndex(w, w.startMs)).toBe(0);
    expect(hourIndex(w, w.endMs - 1)).toBe(24);
  });

  it('tells IANA zones from nonsense', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });
});
