import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, faultResource } from '../../chaos/faults';
import { FAULTS_END_SHARE, FAULTS_START_SHARE, generateSchedule, maxFaults } from '../../chaos/schedule';
import { planAuction, planCampaigns } from '../../chaos/trafficPlan';

const base = { trafficMs: 30_000, instances: 3, faults: FAULT_KINDS };

describe('fault schedule', () => {
  it('is the same for the same seed and options', () => {
    for (let seed = 0; seed < 50; seed++) {
      expect(generateSchedule({ ...base, seed })).toEqual(generateSchedule({ ...base, seed }));
    }
  });

  it('differs between seeds', () => {
    const distinct = new Set(
      Array.from({ length: 50 }, (_, seed) => JSON.stringify(generateSchedule({ ...base, seed }))),
    );
    expect(distinct.size).toBeGreaterThan(45);
  });

  it('keeps faults inside the fault window, one at a time per resource, on existing instances', () => {
    for (let seed = 0; seed < 300; seed++) {
      const s = generateSchedule({ ...base, seed });
      expect(s.length).toBeGreaterThanOrEqual(1);
      expect(s.length).toBeLessThanOrEqual(maxFaults(base.trafficMs));
      for (const f of s) {
        expect(f.startMs).toBeGreaterThanOrEqual(base.trafficMs * FAULTS_START_SHARE);
        expect(f.startMs + f.durationMs).toBeLessThanOrEqual(base.trafficMs * FAULTS_END_SHARE + 1);
        if (f.instance !== null) expect(f.instance).toBeLessThan(base.instances);
        if (f.kind === 'clock-step') expect(Math.abs(f.clockStepS!)).toBeGreaterThanOrEqual(5);
      }
      for (const a of s) {
        for (const b of s) {
          if (a === b || faultResource(a) !== faultResource(b)) continue;
          const apart = a.startMs + a.durationMs < b.startMs || b.startMs + b.durationMs < a.startMs;
          expect(apart, `seed ${seed}: ${JSON.stringify([a, b])}`).toBe(true);
        }
      }
    }
  });

  it('draws only the fault kinds asked for, and nothing when none are', () => {
    for (let seed = 0; seed < 100; seed++) {
      const s = generateSchedule({ ...base, seed, faults: ['redis-hang', 'disk-full'] });
      for (const f of s) expect(['redis-hang', 'disk-full']).toContain(f.kind);
    }
    expect(generateSchedule({ ...base, seed: 1, faults: [] })).toEqual([]);
  });

  it('covers every fault kind over a range of seeds', () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < 100; seed++)
      for (const f of generateSchedule({ ...base, seed })) seen.add(f.kind);
    expect([...seen].sort()).toEqual([...FAULT_KINDS].sort());
  });
});

describe('traffic plan', () => {
  it('gives the same campaigns and auctions for the same seed', () => {
    expect(planCampaigns(9)).toEqual(planCampaigns(9));
    const o = { seed: 9, reservationTtlMs: 3000 };
    for (let n = 0; n < 200; n++) expect(planAuction(o, 4, n)).toEqual(planAuction(o, 4, n));
    expect(planAuction(o, 4, 1)).not.toEqual(planAuction({ ...o, seed: 10 }, 4, 1));
  });

  it('sends late notices past the reservation TTL', () => {
    const o = { seed: 3, reservationTtlMs: 3000 };
    const late = Array.from({ length: 2000 }, (_, n) => planAuction(o, 4, n)).filter(
      (p) => p.lateDelayMs > 0,
    );
    expect(late.length).toBeGreaterThan(20);
    for (const p of late) expect(p.lateDelayMs).toBeGreaterThan(o.reservationTtlMs);
  });
});
