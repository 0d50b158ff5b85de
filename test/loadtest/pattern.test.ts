import { describe, expect, it } from 'vitest';
import { UsageError, parseOptions } from '../../loadtest/options';
import { SURGE_MULTIPLIER, Schedule, ratePlan } from '../../loadtest/pattern';

function sendTimes(s: Schedule): number[] {
  return Array.from({ length: s.total }, (_, n) => s.sendAtMs(n));
}

function countIn(times: number[], fromMs: number, toMs: number): number {
  return times.filter((t) => t >= fromMs && t < toMs).length;
}

describe('load pattern', () => {
  it('normal: the offered rate throughout, evenly spaced, inside the run', () => {
    const s = new Schedule(ratePlan('normal', 200, 10));
    const times = sendTimes(s);
    expect(s.total).toBe(2000);
    expect(times[0]).toBe(0);
    expect(times[1]).toBeCloseTo(5, 9);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeCloseTo(5, 6);
    expect(times.at(-1)!).toBeLessThan(10_000);
    for (let sec = 0; sec < 10; sec++) expect(countIn(times, sec * 1000, (sec + 1) * 1000)).toBe(200);
  });

  it('surge: five times the rate from 40% to 60% of the run, the base rate around it', () => {
    const s = new Schedule(ratePlan('surge', 100, 20));
    const times = sendTimes(s);
    expect(s.total).toBe(100 * 16 + 100 * SURGE_MULTIPLIER * 4);
    expect(countIn(times, 0, 8000)).toBe(800);
    expect(countIn(times, 8000, 12_000)).toBe(2000);
    expect(countIn(times, 12_000, 20_000)).toBe(800);
    expect(countIn(times, 9000, 10_000)).toBe(500);
    expect(s.rateAt(7.9)).toBe(100);
    expect(s.rateAt(10)).toBe(500);
    expect(s.rateAt(12)).toBe(100);
    // Monotone: the schedule never sends a request before the one ahead of it.
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
  });

  it('circuit_breaker_test: a constant rate like normal', () => {
    expect(ratePlan('circuit_breaker_test', 50, 4)).toEqual([{ fromS: 0, toS: 4, rateQps: 50 }]);
  });

  it('a fractional rate sends the whole requests the run has room for', () => {
    const s = new Schedule(ratePlan('normal', 0.5, 9));
    expect(s.total).toBe(4);
    expect(sendTimes(s)).toEqual([0, 2000, 4000, 6000]);
  });
});

describe('load test options', () => {
  const bad = (argv: string[]) => {
    try {
      parseOptions(argv, {});
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error(`accepted ${argv.join(' ')}`);
  };

  it('refuses bad arguments with a sentence naming the flag', () => {
    expect(bad([])).toMatch(/--target is required/);
    expect(bad(['--target', 'nope'])).toMatch(/--target "nope": not a URL/);
    expect(bad(['--target', 'https://x:1'])).toMatch(/only http:\/\//);
    expect(bad(['--target', 'http://x:1', '--qps', 'abc'])).toMatch(/--qps "abc": expected a number/);
    expect(bad(['--target', 'http://x:1', '--qps', '0'])).toMatch(/--qps "0"/);
    expect(bad(['--target', 'http://x:1', '--pattern', 'spike'])).toMatch(
      /normal, surge, circuit_breaker_test/,
    );
    expect(bad(['--target', 'http://x:1', '--spend-rate', '1.5'])).toMatch(/--spend-rate/);
    expect(bad(['--target', 'http://x:1', '--campaigns', '2.5'])).toMatch(/whole number/);
    expect(bad(['--target', 'http://x:1', '--frobnicate'])).toMatch(/frobnicate/);
    expect(
      bad(['--target', 'http://x:1', '--pattern', 'circuit_breaker_test', '--spend-rate', '0.5']),
    ).toMatch(/--spend-rate must be 1/);
  });

  it('fills defaults, takes the key from API_KEY, and trims the target', () => {
    const o = parseOptions(['--target', 'http://127.0.0.1:8080/'], { API_KEY: 'k' });
    expect(o).toMatchObject({
      target: 'http://127.0.0.1:8080',
      qps: 100,
      durationS: 60,
      pattern: 'normal',
      spendRate: 0.1,
      campaigns: 100,
      apiKey: 'k',
      setup: false,
    });
    const b = parseOptions(['--target', 'http://h:1', '--pattern', 'circuit_breaker_test'], {});
    expect(b).toMatchObject({ spendRate: 1, campaigns: 10 });
    expect(parseOptions(['--help'], {})).toBe('help');
  });
});
