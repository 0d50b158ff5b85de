import { afterEach, describe, expect, it } from 'vitest';
import {
  type InstanceClaim,
  MemoryJournal,
  MemoryStore,
  StoreUnavailableError,
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
  async claimInstance(_claim: InstanceClaim): Promise<boolean> {
    if (!this.reachable) throw new StoreUnavailableError('claimInstance timed out');
    return true;
  }
  async releaseInstance(_claim: InstanceClaim): Promise<void> {}
}

describe('the INSTANCE_ID claim and /health', () => {
  it('is never healthy before the claim is made: a process started while the claim timed out may be a duplicate', async () => {
    // Found by npm run chaos, seed 742: a second process with an instance's id, started while
    // Redis was paused, answered /health healthy before its first round found the id taken.
    const store = new SlowClaimStore();
    const clock = new ManualClock(T0);
    const rt = createRuntime({
      store,
      journal: new MemoryJournal(),
      clock,
      timers: new ManualTimers(clock),
      instanceId: 'i1',
      bootId: 'boot-1',
      config: pacerConfig(),
      log: quiet,
      storeKind: 'redis',
      seed: 1,
    });
    runtimes.push(rt);
    await rt.start();
    // The rest of the store answers: only the claim is missing.
    expect(rt.health()).toMatchObject({ status: 'degraded', storeHealthy: true });
    store.reachable = true;
    await rt.syncNow();
    expect(rt.health().status).toBe('healthy');
  });
});
