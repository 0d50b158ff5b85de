import { afterEach, describe, expect, it } from 'vitest';
import {
  type InstanceClaim,
  MemoryJournal,
  MemoryStore,
  StoreUnavailableError,
  dayWindowAt,
  makeCampaign,
  newDecision,
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

/** Claims as the Redis script does: the older process keeps the id, displacing a younger holder. */
class SharedClaimStore extends MemoryStore {
  reachable = false;
  holder: { bootId: string; startedAtMs: number } | null = null;
  async claimInstance(c: InstanceClaim): Promise<boolean> {
    if (!this.reachable) throw new StoreUnavailableError('claimInstance timed out');
    const h = this.holder;
    if (h !== null && h.bootId !== c.bootId) {
      if (h.startedAtMs < c.startedAtMs) return false;
    }
    this.holder = { bootId: c.bootId, startedAtMs: c.startedAtMs };
    return true;
  }
  async releaseInstance(_claim: InstanceClaim): Promise<void> {}
}
/** A runtime on `store` with manual time, claiming instance id i1 under `bootId` when started. */
function claimingRuntime(store: MemoryStore, bootId: string, startMs = T0) {
  const clock = new ManualClock(startMs);
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

/** Starts `rt` while its store cannot answer the claim: start gives up after a TTL and a second. */
async function startWithoutClaim(rt: Runtime, timers: ManualTimers): Promise<void> {
  let started = false;
  const start = rt.start().then(() => {
    started = true;
  });
  for (let i = 0; i < 40 && !started; i++) {
    timers.advance(250);
    await new Promise((r) => setImmediate(r));
  }
  await start;
}

describe('the INSTANCE_ID claim and /health', () => {
  it('is never healthy before the claim is made: a process started while the claim timed out may be a duplicate', async () => {
    // Found by npm run chaos, seed 742: a second process with an instance's id, started while
    // Redis was paused, answered /health healthy before its first round found the id taken.
    const store = new SlowClaimStore();
    const { clock, timers, rt } = claimingRuntime(store, 'boot-1');
    await rt.putCampaign(makeCampaign({ id: 'c1', dailyBudgetMicros: 10_000_000, pacingMode: 'ASAP' }));
    // Start retries the claim for one TTL and a second (6 s), then starts without it.
    await startWithoutClaim(rt, timers);
    expect(store.claimAttempts).toBeGreaterThanOrEqual(20);
    // The rest of the store answers: only the claim is missing.
    expect(rt.health()).toMatchObject({ status: 'degraded', storeHealthy: true });
    // Unclaimed, it allows no bid: the leases it sees may be another process's (chaos seed 92368341).
    expect(rt.decide('c1', 1_000_000, 'r1', newDecision())).toMatchObject({
      allow: false,
      reason: 'lease_exhausted',
    });
    // Unclaimed, it takes no win notices: a second process's spend would be stranded with it.
    await expect(rt.trackSpend({ campaignId: 'c1', eventId: 'w1', spendMicros: 500 })).rejects.toMatchObject({
      code: 'PACER_ERR_NOT_READY',
    });
    store.reachable = true;
    // Claimed as at start: held for one and a half renewal periods (1.5 s) before it counts.
    await rt.syncNow();
    expect(rt.health().status).toBe('degraded');
    timers.advance(1_500);
    await rt.syncNow();
    expect(rt.health().status).toBe('healthy');
    expect(rt.decide('c1', 1_000_000, 'r2', newDecision())?.allow).toBe(true);
    expect((await rt.trackSpend({ campaignId: 'c1', eventId: 'w1', spendMicros: 500 })).counted).toBe(true);
  });

  it('touches no lease under its id while unclaimed: it neither tops them up nor gives them back at close', async () => {
    // Found by npm run chaos, seed 118021: a duplicate stopped before its late claim was confirmed
    // gave back, at close, the unspent part of the original's lease (it had read that lease as its
    // own at start), and peers were granted that budget while the original spent it.
    const store = new SlowClaimStore();
    const campaign = makeCampaign({ id: 'c1', dailyBudgetMicros: 10_000_000, pacingMode: 'ASAP' });
    await store.putCampaign(campaign);
    const ref = { campaignId: 'c1', dayKey: dayWindowAt(campaign.timeZone, T0).key };
    // The original process holds a lease of 4,000,000 under the shared id.
    await store.acquireLeases([
      { ...ref, instanceId: 'i1', requestMicros: 4_000_000, budgetMicros: 10_000_000 },
    ]);
    const leaseOfI1 = async () => (await store.readDays([ref]))[0]!.leasedByInstance.i1 ?? 0;
    const { timers, rt } = claimingRuntime(store, 'boot-dup');
    await startWithoutClaim(rt, timers);
    rt.decide('c1', 1_000_000, 'r1', newDecision());
    for (let i = 0; i < 4; i++) {
      timers.advance(250);
      await rt.syncNow();
    }
    expect(await leaseOfI1()).toBe(4_000_000);
    await rt.close();
    expect(await leaseOfI1()).toBe(4_000_000);
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

  it('claims late as a newcomer: a running holder whose claim lapsed in a Redis hang takes it back first', async () => {
    // Found by npm run chaos, seed 90717423: a duplicate started while its id was held, Redis hung
    // for longer than the claim's TTL (the claim lapsed), the duplicate's start gave up claiming
    // ("store unreachable"), and its first round claimed the lapsed id as a renewal: healthy at
    // once, while the original ran.
    const store = new SharedClaimStore();
    const { timers, rt } = claimingRuntime(store, 'boot-dup');
    const fatal: Error[] = [];
    (rt as unknown as { deps: { onFatal: (e: Error) => void } }).deps.onFatal = (e) => fatal.push(e);
    await startWithoutClaim(rt, timers);
    // Redis is back and the id's claim has lapsed: the newcomer holds it, but not yet as its own.
    store.reachable = true;
    await rt.syncNow();
    expect(store.holder?.bootId).toBe('boot-dup');
    expect(rt.health().status).toBe('degraded');
    // The original (started earlier) renews and takes it back.
    store.holder = { bootId: 'boot-original', startedAtMs: 0 };
    for (let i = 0; i < 40 && fatal.length === 0; i++) {
      timers.advance(250);
      await rt.syncNow();
      expect(rt.health().status).toBe('degraded');
    }
    // Refused for longer than a TTL and a second: another process holds the id; this one stops.
    expect(fatal.map((e) => (e as { code?: string }).code)).toEqual(['PACER_ERR_INSTANCE_ID_IN_USE']);
    expect(store.holder?.bootId).toBe('boot-original');
  });

  it('claims late as the older process: it takes the id from a younger one that claimed it first (chaos seed 121014)', async () => {
    // Found by npm run chaos, seed 121014: instance 2, restarted after kill -9, claimed its id and
    // could not confirm it before Redis was killed (so it started unclaimed); a duplicate started
    // during the outage, and its start-up claim landed first once Redis was back. Claimed late as
    // a newcomer, the original could not take the id back: the duplicate ran healthy.
    const store = new SharedClaimStore();
    const original = claimingRuntime(store, 'boot-original', T0 - 2_000);
    await startWithoutClaim(original.rt, original.timers);
    store.reachable = true;
    const dup = claimingRuntime(store, 'boot-dup', T0);
    let outcome: string | null = null;
    const start = dup.rt.start().then(
      () => {
        outcome = 'started';
      },
      (err: { code?: string }) => {
        outcome = err.code ?? 'failed';
      },
    );
    await new Promise((r) => setImmediate(r));
    expect(store.holder?.bootId).toBe('boot-dup');
    for (let i = 0; i < 60 && outcome === null; i++) {
      original.timers.advance(250);
      await original.rt.syncNow();
      dup.timers.advance(250);
      await new Promise((r) => setImmediate(r));
    }
    await start;
    expect(outcome).toBe('PACER_ERR_INSTANCE_ID_IN_USE');
    expect(store.holder?.bootId).toBe('boot-original');
    expect(original.rt.health().status).toBe('healthy');
  });
  it('starts as the older process: a restart takes its id from a duplicate started after it (chaos seed 122021)', async () => {
    // Found by npm run chaos, seed 122021: instance 0, restarted after kill -9 while Redis hung,
    // and a duplicate started 1.7 s later both waited for the store; the duplicate's start-up claim
    // landed first, the restart (claiming as a newcomer, displacing no one) was refused until it
    // gave up and exited 78, and the duplicate served under the id.
    const store = new SharedClaimStore();
    const restart = claimingRuntime(store, 'boot-restart', T0);
    const dup = claimingRuntime(store, 'boot-dup', T0 + 1_700);
    const outcomes: Record<string, string | null> = { restart: null, dup: null };
    const track = (name: string, p: Promise<void>) =>
      p.then(
        () => {
          outcomes[name] = 'started';
        },
        (err: { code?: string }) => {
          outcomes[name] = err.code ?? 'failed';
        },
      );
    const started = [track('restart', restart.rt.start()), track('dup', dup.rt.start())];
    // Both wait on the hung store; when it answers, the duplicate's claim lands first.
    for (let i = 0; i < 4; i++) {
      restart.timers.advance(250);
      dup.timers.advance(250);
      await new Promise((r) => setImmediate(r));
    }
    store.reachable = true;
    dup.timers.advance(250);
    await new Promise((r) => setImmediate(r));
    expect(store.holder?.bootId).toBe('boot-dup');
    for (let i = 0; i < 60 && (outcomes.restart === null || outcomes.dup === null); i++) {
      restart.timers.advance(250);
      await new Promise((r) => setImmediate(r));
      dup.timers.advance(250);
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(started);
    expect(outcomes).toEqual({ restart: 'started', dup: 'PACER_ERR_INSTANCE_ID_IN_USE' });
    expect(store.holder?.bootId).toBe('boot-restart');
    expect(restart.rt.health().status).toBe('healthy');
  });
});
