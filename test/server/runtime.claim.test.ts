import { afterEach, describe, expect, it } from 'vitest';
import {
  type InstanceClaim,
  MemoryJournal,
  MemoryStore,
  StoreUnavailableError,
  makeCampaign,
  pacerConfig,
} from '../../core/index';
import { type Runtime, type RuntimeLogger, createRuntime } from '../../server/runtime/runtime';
import { ManualClock, ManualTimers } from '../support/manualTime';

const T0 = Date.UTC(2024, 2, 1, 10, 0, 0);
const quiet: RuntimeLogger = { info() {}, warn() {}, error() {} };
const runtimes: Runtime[] = [];

afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
});

/** A store whose instance-id claim times out until `reachable`, then grants it. */
class SlowClaimStore extends MemoryStore {
  reachable = false;
  claimAttempts = 0;
  async claimInstance(_claim: InstanceClaim): Promise<boolean> {
    this.claimAttempts++;
    if (!this.reachable) throw new StoreUnavailableError('claimInstance timed out');
    return true;
  }
  async releaseInstance(_claim: InstanceClaim): Promise<void> {}
}

/** A runtime on `store` with manual time, claiming instance id i1 under `bootId` when started. */
function claimingRuntime(store: MemoryStore, bootId: string) {
  const clock = new ManualClock(T0);
  const timers = new ManualTimers(clock);
  const rt = createRuntime({
    store,
    journal: new MemoryJournal(),
    clock,
    timers,
    instanceId: 'i1',
    bootId,
    config: pacerConfig(),
    log: quiet,
    storeKind: 'redis',
    seed: 1,
  });
  runtimes.push(rt);
  return { clock, timers, rt };
}

describe('the INSTANCE_ID claim and /health', () => {
  it('is never healthy before the claim is made: a process started while the claim timed out may be a duplicate', async () => {
    // Found by npm run chaos, seed 742: a second process with an instance's id, started while
    // Redis was paused, answered /health healthy before its first round found the id taken.
    const store = new SlowClaimStore();
    const { clock, timers, rt } = claimingRuntime(store, 'boot-1');
    await rt.putCampaign(makeCampaign({ id: 'c1', dailyBudgetMicros: 10_000_000, pacingMode: 'ASAP' }));
    // Start retries the claim for one TTL and a second (6 s), then starts without it.
    let started = false;
    const start = rt.start().then(() => {
      started = true;
    });
    for (let i = 0; i < 40 && !started; i++) {
      timers.advance(250);
      await new Promise((r) => setImmediate(r));
    }
    await start;
    expect(store.claimAttempts).toBeGreaterThanOrEqual(20);
    // The rest of the store answers: only the claim is missing.
    expect(rt.health()).toMatchObject({ status: 'degraded', storeHealthy: true });
    // Unclaimed, it takes no win notices: a second process's spend would be stranded with it.
    await expect(rt.trackSpend({ campaignId: 'c1', eventId: 'w1', spendMicros: 500 })).rejects.toMatchObject({
      code: 'PACER_ERR_NOT_READY',
    });
    store.reachable = true;
    await rt.syncNow();
    expect(rt.health().status).toBe('healthy');
    expect((await rt.trackSpend({ campaignId: 'c1', eventId: 'w1', spendMicros: 500 })).counted).toBe(true);
  });

  it("waits for a killed predecessor's claim to lapse even when the clock steps forward meanwhile", async () => {
    // Found by npm run chaos, seed 115083: the restart after kill -9 waited for the old claim,
    // the wall clock stepped +199 s, and the restart gave up at once and exited 78.
    class HeldClaimStore extends MemoryStore {
      attempts = 0;
      async claimInstance(_claim: InstanceClaim): Promise<boolean> {
        // The old process's claim lapses after 10 attempts (2.5 s of waiting).
        return ++this.attempts > 10;
      }
      async releaseInstance(_claim: InstanceClaim): Promise<void> {}
    }
    const store = new HeldClaimStore();
    const { clock, timers, rt } = claimingRuntime(store, 'boot-2');
    let outcome: string | null = null;
    const start = rt.start().then(
      () => {
        outcome = 'started';
      },
      (err: { code?: string }) => {
        outcome = err.code ?? 'failed';
      },
    );
    clock.advance(199_000);
    for (let i = 0; i < 60 && outcome === null; i++) {
      timers.advance(250);
      await new Promise((r) => setImmediate(r));
    }
    await start;
    expect(outcome).toBe('started');
    expect(rt.health().status).toBe('healthy');
  });
});
