import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, parseChaosArgs } from '../../chaos/args';
import { FAULT_KINDS, type FaultKind, describeFault } from '../../chaos/faults';
import { formatRun, replayCommand } from '../../chaos/report';
import { runOnce } from '../../chaos/run';
import { generateSchedule } from '../../chaos/schedule';

/**
 * The fault harness on a short fixed set of seeds, real processes: Redis and two servers.
 *
 * with every fault kind, the seeds that broke an invariant before their fix:
 *
 *   seed 301 (not run here, see below): a duplicate INSTANCE_ID, a +40 s clock step, Redis
 *     restarted empty (the claim lost with Redis went to the duplicate; then a notice retried
 *     after the repair counted twice)
 *   seed 606: instance 0 kill -9'd, Redis restarted empty, instance 0's journal disk full (spend
 *     Redis had counted for the killed process, not yet in PostgreSQL, was lost with Redis)
 *   seed 925 (not run here, see below): instance 1's clock +161 s, Redis slow, then restarted empty (spend Redis counted
 *     under a call that timed out was journaled, refused as a duplicate on replay, never written
 *     to PostgreSQL, and so missing from the repair)
 *   seed 74145076 (not run here, see below): Redis hung, then instance 1's journal disk full (a concurrent duplicate was
 *     answered "duplicate" while its first copy's journal write was failing: the exchange stopped
 *     retrying a notice nothing had booked)
 *   seed 115083: instance 1 kill -9'd, its clock stepped +199 s while its restart waited for the
 *     old INSTANCE_ID claim to lapse (the restart gave up at once and never came back)
 *   seed 90717423 (3 instances, 0.5 min): a duplicate of instance 2 started, Redis hung for longer
 *     than the claim's TTL, and the duplicate's first round took the lapsed id as a renewal:
 *     healthy while the original ran (2 of 3 replays before the fix)
 *   seed 92368341 (3 instances, 0.5 min): Redis emptied, a duplicate of instance 0 started, Redis
 *     killed twice: the unclaimed duplicate decided from instance 0's leases while its late claim
 *     waited, and a campaign ended 95 micros over budget + E
 *   seed 118021 (3 instances, 0.5 min): Redis emptied twice, instance 0's clock +275 s, duplicates
 *     of instances 2 and 1: the duplicate of instance 2, stopped as Redis came back empty, took
 *     the repair lock and closed its connections mid-repair (the fleet degraded for the lock's
 *     two minutes, repaired spend missing), or, stopped unclaimed but not degraded, gave back the
 *     original's lease at close (a campaign 12.5% over budget); 2 of 3 replays failed before
 *     the fix, 6 of 6 clean after
 *
 * (Seed 17, a clock step and a Redis hang that never broke an invariant, made room for 118021;
 * seed 12, Redis SIGKILLed and instance 0 kill -9'd during the outage, which never broke one
 * either, left to keep CI near 20 minutes: seed 606 kills an instance and Redis too. Seeds 925
 * and 74145076 left for the same reason on 2026-12-01 (CI at 23 min), seed 301 on 2026-12-02 (CI
 * at 20 min): each bug has a test written for it, test/server/recordedStore.faults.test.ts "chaos
 * seed 925", test/core/instance.faults.test.ts "seed 74145076", and for 301's two,
 * test/server/store.redis.test.ts "chaos seed 301" (the claim) and test/e2e/redisLoss.test.ts
 * (notices re-sent after the repair count once); `npm run chaos -- --seed N --runs 1 --minutes
 * 0.25` replays them. Seed 118021 runs a duplicate, clock steps and Redis emptied together, as
 * 301 did.)
 */
const INSTANCES = 2;
const CASES: { seed: number; minutes: number; faults: FaultKind[]; instances?: number }[] = [
  { seed: 606, minutes: 0.25, faults: [...FAULT_KINDS] },
  { seed: 115083, minutes: 0.25, faults: [...FAULT_KINDS] },
  { seed: 90717423, minutes: 0.5, faults: [...FAULT_KINDS], instances: 3 },
  { seed: 92368341, minutes: 0.5, faults: [...FAULT_KINDS], instances: 3 },
  { seed: 118021, minutes: 0.5, faults: [...FAULT_KINDS], instances: 3 },
];

describe('fault harness, fixed seeds', () => {
  for (const { seed, minutes, faults, instances = INSTANCES } of CASES) {
    it(`seed ${seed} keeps every invariant`, async () => {
      const r = await runOnce({
        seed,
        minutes,
        instances,
        faults,
        settleMs: 40_000,
      });
      const report = formatRun(r, replayCommand(seed, minutes, instances, faults, false));
      console.log(report);
      expect(r.violations, `${report}\n${r.serverLogs}`).toEqual([]);
      // The run did what it claims: faults injected (none skipped), traffic acknowledged.
      expect(r.schedule.length).toBeGreaterThanOrEqual(2);
      expect(
        r.faultLines.filter(
          (l) => l.includes('SKIPPED') || l.includes('(failed: ') || l.includes('; failed: '),
        ),
      ).toEqual([]);
      expect(r.stats.acked).toBeGreaterThan(20);
    }, 240_000);
  }
});

describe('chaos command line', () => {
  it('rejects bad arguments with a message naming the flag', () => {
    const seed = () => 1;
    expect(() => parseChaosArgs(['--runs', '0'], seed)).toThrow(/--runs "0" must be a whole number from 1/);
    expect(() => parseChaosArgs(['--minutes', 'x'], seed)).toThrow(UsageError);
    expect(() => parseChaosArgs(['--faults', 'redis-kill,meteor'], seed)).toThrow(/unknown meteor/);
    expect(() => parseChaosArgs(['--bogus'], seed)).toThrow(UsageError);
    const a = parseChaosArgs(['--seed', '5', '--faults', 'redis-hang,disk-full'], seed);
    expect(a).toMatchObject({
      seed: 5,
      runs: 1,
      minutes: 0.5,
      instances: 3,
      faults: ['redis-hang', 'disk-full'],
    });
  });

  it("exits 2 on bad arguments and prints the seed's schedules with --plan", async () => {
    const cli = join(import.meta.dirname, '..', '..', 'chaos', 'cli.ts');
    // Asynchronous: a blocked event loop starves vitest's worker RPC on a loaded machine.
    const run = (...args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', cli, ...args],
          { timeout: 120_000 },
          (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
        );
      });
    const [bad, plan] = await Promise.all([
      run('--instances', '99'),
      run('--seed', '42', '--runs', '3', '--plan'),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--instances "99" must be a whole number from 1 to 8');
    expect(plan.code).toBe(0);
    const expected = [42, 43, 44].map(
      (seed) =>
        `seed ${seed}: ${generateSchedule({ seed, trafficMs: 30_000, instances: 3, faults: FAULT_KINDS }).map(describeFault).join(' | ')}`,
    );
    expect(plan.stdout.trim().split('\n')).toEqual(expected);
  }, 240_000);
});
