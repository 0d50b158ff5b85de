import { describe, expect, it } from 'vitest';
import { runAlgorithm } from '../../sim/engine';
import type { SimEvent } from '../../sim/invariants';
import { SimInvariantError } from '../../sim/invariants';
import { runScenario } from '../../sim/run';
import { buildWorld } from '../../sim/world';
import { smallScenario } from './fixtures';

/** Every kind of event: 2 instances, an outage with its check, a crash and restart, store latency. */
const everyFault = () =>
  smallScenario({
    algorithms: ['EVEN'],
    winNotices: { lateShare: 0.01, medianDelayMs: 2000 },
    faults: {
      outages: [{ at: '20:00', durationMs: 300_000 }],
      restarts: [{ instance: 0, at: '19:59', downForMs: 120_000 }],
      latency: { fromMs: 18 * 3_600_000, toMs: 19 * 3_600_000, meanMs: 800, jitterMs: 200 },
    },
  });

describe('invariants after every event', () => {
  it('hold on a run with every fault, and checking them changes no output', async () => {
    const checked = await runScenario(everyFault(), { checkInvariants: true });
    const plain = await runScenario(everyFault(), { checkInvariants: false });
    expect(JSON.stringify(checked.summary)).toBe(JSON.stringify(plain.summary));
    expect(JSON.stringify(checked.campaignDays)).toBe(JSON.stringify(plain.campaignDays));
    const r = checked.summary.algorithms[0]!;
    expect(r.restarts!.restarts).toBe(1);
    expect(r.latency!.delayedStoreCalls).toBeGreaterThan(0);
    expect(r.degradedDecisions).toBeGreaterThan(0);
  });

  it('visit every kind of event, requests and win notices most', async () => {
    const kinds = new Map<string, number>();
    await runAlgorithm(buildWorld(everyFault()), 'EVEN', {
      checkInvariants: true,
      onEvent: (e) => kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1),
    });
    expect([...kinds.keys()].sort()).toEqual(
      [
        'instanceDown',
        'instanceUp',
        'minute',
        'outageEnd',
        'outageStart',
        'reconcileCheck',
        'request',
        'storeReply',
        'sync',
        'winNotice',
      ].sort(),
    );
    expect(kinds.get('minute')).toBe(1440);
    expect(kinds.get('request')!).toBeGreaterThan(kinds.get('winNotice')!);
  });

  /** Runs EVEN with a hook that breaks one state at the first event `pick` accepts; returns that event. */
  async function breakAt(
    pick: (e: SimEvent) => boolean,
    corrupt: (s: { ledger: { ownDaySpentMicros: number }; passRate: number }) => void,
    checkInvariants: boolean,
  ): Promise<{ broken: SimEvent | null; error: unknown }> {
    let broken: SimEvent | null = null;
    const error = await runAlgorithm(buildWorld(everyFault()), 'EVEN', {
      checkInvariants,
      onEvent: (e, fleet) => {
        if (broken !== null || !pick(e)) return;
        broken = { ...e };
        const i = e.instance >= 0 ? e.instance : 0;
        corrupt(fleet.states[i]![e.campaign >= 0 ? e.campaign : 3]!);
      },
    }).then(
      () => null,
      (err: unknown) => err,
    );
    return { broken, error };
  }

  it('catch a state broken by a win notice at that very notice', async () => {
    let notices = 0;
    const { broken, error } = await breakAt(
      (e) => e.kind === 'winNotice' && ++notices === 500,
      (s) => {
        s.ledger.ownDaySpentMicros = -1e15;
      },
      true,
    );
    expect(error).toBeInstanceOf(SimInvariantError);
    expect((error as SimInvariantError).code).toBe('SIM_ERR_INVARIANT');
    const e = broken!;
    expect((error as Error).message).toContain(': negative spend');
    expect((error as Error).message).toContain(
      `after event #${e.seq} (winNotice at ${new Date(e.atMs).toISOString()} on instance ${e.instance})`,
    );
  });

  it('catch a pass rate broken at a sync at that sync', async () => {
    const { broken, error } = await breakAt(
      (e) => e.kind === 'sync' && e.atMs > Date.parse('2024-03-15T12:00:00Z'),
      (s) => {
        s.passRate = 1.5;
      },
      true,
    );
    expect(error).toBeInstanceOf(SimInvariantError);
    expect((error as Error).message).toMatch(/pass rate 1\.5 outside \[0, 1\], after event #\d+ \(sync at /);
    expect((error as Error).message).toContain(`#${broken!.seq} `);
  });

  it('without them, the same break goes unseen: the next sync heals it before the minute check', async () => {
    let notices = 0;
    const { broken, error } = await breakAt(
      (e) => e.kind === 'winNotice' && ++notices === 500,
      (s) => {
        s.ledger.ownDaySpentMicros = -1e15;
      },
      false,
    );
    expect(broken).not.toBeNull();
    expect(error).toBeNull();
  });
});
