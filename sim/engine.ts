import { type Campaign, MemoryStore, type PacingMode } from '../core/index';
import { type AlgorithmRun, MINUTE_MS } from './algorithmRun';
import { pacedCampaign } from './campaigns';
import { SimClock } from './clock';
import { EVENT_KINDS, EventQueue } from './eventQueue';
import { Faults } from './faults';
import { FaultInjectingStore } from './faultyStore';
import { Fleet } from './fleet';
import { type EventFacts, InvariantChecker, type SimEvent, type SimEventKind } from './invariants';
import { Market } from './market';
import { NoticeRouter } from './notices';
import { Reconciler } from './reconciliation';
import { Recorder } from './recorder';
import { StoreLatency, drain } from './storeLatency';
import { RequestAttributeSource, TargetingFilter, campaignTargetings } from './targeting';
import type { World } from './world';

export type { AlgorithmRun, OutageReconciliation, RunTotals } from './algorithmRun';
export { MINUTES_PER_DAY } from './algorithmRun';
export { SimInvariantError } from './invariants';
export type { SimEvent } from './invariants';

export interface EngineOptions {
  /** Called at every simulated minute with the share of the run done. */
  readonly onProgress?: (done: number) => void;
  /**
   * Asserts the engine's invariants after every event (see InvariantChecker): a few checks per
   * event, so tests and the check suite keep it on; a plain run checks once a minute.
   * Default: on when the environment has SIM_CHECK_INVARIANTS=1 (vitest.config.ts sets it).
   */
  readonly checkInvariants?: boolean;
  /**
   * Called after each event is handled and before its invariants are checked, with the fleet:
   * lets a test break an invariant on purpose and see it caught at that event.
   */
  readonly onEvent?: (e: Readonly<SimEvent>, fleet: Fleet) => void;
}

const KIND_NAMES: Record<number, SimEventKind> = {
  [EVENT_KINDS.winNotice]: 'winNotice',
  [EVENT_KINDS.sync]: 'sync',
  [EVENT_KINDS.minute]: 'minute',
  [EVENT_KINDS.outageStart]: 'outageStart',
  [EVENT_KINDS.outageEnd]: 'outageEnd',
  [EVENT_KINDS.reconcileCheck]: 'reconcileCheck',
  [EVENT_KINDS.instanceDown]: 'instanceDown',
  [EVENT_KINDS.instanceUp]: 'instanceUp',
  [EVENT_KINDS.storeReply]: 'storeReply',
};

/**
 * Runs one algorithm (every campaign paced in `mode`) over the world's stream: one pass over the
 * merged timeline of bid requests and scheduled events. The hot path (arrival -> candidates ->
 * decide -> auction) is synchronous and allocation-free; only the store's rounds await, as the
 * server's background timer does.
 */
export async function runAlgorithm(
  world: World,
  mode: PacingMode,
  opts: EngineOptions = {},
): Promise<AlgorithmRun> {
  const sc = world.scenario;
  const { startMs, endMs, days, minutes } = world;
  const syncInterval = sc.instances.syncIntervalMs;
  const targetings = campaignTargetings(
    sc.targeting,
    world.campaigns.map((c) => c.id),
    sc.sourcePath ?? sc.name,
  );
  const campaigns = world.campaigns.map((c, i) => pacedCampaign(c, mode, days, targetings[i] ?? null));

  const clock = new SimClock(startMs);
  const store = new FaultInjectingStore(new MemoryStore(), world.outages, clock.now);
  const q = new EventQueue(4096);
  const latency = new StoreLatency(world, mode, store, clock, q);
  const fleet = new Fleet(campaigns, latency.store, world.config, sc.instances, startMs);
  const rec = new Recorder(
    world.campaigns.map((c) => c.localDays),
    days,
    minutes,
  );
  const source = world.stream.open(world.seed);
  const req = source.req;
  const targeting =
    sc.targeting === undefined
      ? null
      : new TargetingFilter(campaigns, new RequestAttributeSource(sc.targeting.requests, world.seed));
  const market = new Market(world, mode, campaigns, source, rec, targeting);
  const notices = new NoticeRouter(world, mode, q, fleet, rec, clock);
  const faults = new Faults(world.outages, fleet, notices, latency, clock);
  const ids = campaigns.map((c) => c.id);
  const recon = new Reconciler(
    ids,
    sc.startDate,
    days,
    store,
    world.outages,
    fleet,
    notices,
    latency,
    rec,
    clock,
  );
  scheduleFixedEvents(q, world, syncInterval, minutes);

  // Leases and peer spend before the first request, as a server does at start-up.
  await latency.suspend();
  for (const inst of fleet.instances) await inst.sync(startMs);
  latency.resume();

  const checking = opts.checkInvariants ?? process.env.SIM_CHECK_INVARIANTS === '1';
  const checks = checking || opts.onEvent ? new InvariantChecker(fleet) : null;
  const event: SimEvent = { seq: 0, kind: 'request', atMs: startMs, instance: -1, campaign: -1 };
  const facts: EventFacts = market;
  const afterEvent = (kind: SimEventKind, instance: number, campaign: number): void => {
    event.seq++;
    event.kind = kind;
    event.atMs = clock.nowMs;
    event.instance = instance;
    event.campaign = campaign;
    opts.onEvent?.(event, fleet);
    if (checking) checks!.afterEvent(event, facts, notices.bookedInto);
  };

  /** A bid request: the fleet routes it, the market runs its auction, a win sends a notice. */
  const onRequest = (): void => {
    const t = req.timeMs;
    clock.nowMs = t;
    const minute = clock.minute();
    const requestNo = rec.noteRequest(minute);
    const i = fleet.route();
    if (i < 0) return;
    if (market.run(fleet.instances[i]!, fleet.states[i]!, t, requestNo, minute, faults.inOutage))
      notices.schedule(i, market.winner, market.chargeMicros, market.reservedMicros, t);
    if (checks !== null) afterEvent('request', i, -1);
  };

  /** A scheduled event, by kind. */
  const onScheduled = async (slot: number): Promise<void> => {
    const kind = q.kind[slot]!;
    const i = q.instance[slot]!;
    if (kind === EVENT_KINDS.winNotice) {
      notices.arrive(slot, faults.inOutage);
      if (checks !== null) afterEvent('winNotice', i, q.campaign[slot]!);
      return;
    }
    if (kind === EVENT_KINDS.sync) {
      const time = q.time[slot]!;
      if (time + syncInterval < endMs) q.instance[q.push(time + syncInterval, EVENT_KINDS.sync)] = i;
      if (fleet.up[i] === 0) return;
      if (!latency.active) await recon.sync(i);
      else {
        // The round runs until its first store call; its answers come as storeReply events.
        void recon.sync(i);
        await drain();
      }
    } else if (kind === EVENT_KINDS.minute) {
      const minute = Math.round((q.time[slot]! - startMs) / MINUTE_MS) - 1;
      rec.sampleMinute(minute, fleet, clock.nowMs);
      opts.onProgress?.((minute + 1) / minutes);
      // Once a simulated hour, a turn of the event loop: the store's awaits resolve as microtasks,
      // so a day ran as one synchronous block, and a host waiting on this thread (a vitest fork's
      // 60 s RPC to its runner: the iPinYou backtest test took 72 s on a loaded machine) timed out.
      if (minute % 60 === 59) await new Promise<void>((r) => setImmediate(r));
    } else if (kind === EVENT_KINDS.outageStart) faults.outageStarts();
    else if (kind === EVENT_KINDS.outageEnd) faults.outageEnds();
    else if (kind === EVENT_KINDS.reconcileCheck) await recon.afterOutage();
    else if (kind === EVENT_KINDS.storeReply) await latency.reply(i);
    else if (kind === EVENT_KINDS.instanceDown) faults.crash(i);
    else if (kind === EVENT_KINDS.instanceUp) await faults.restart(i);
    if (checks !== null) afterEvent(KIND_NAMES[kind]!, kind === EVENT_KINDS.sync ? i : -1, -1);
  };

  // One pass over the merged timeline: scheduled events due at or before the next arrival first.
  let more = source.next();
  for (;;) {
    const tNext = more ? req.timeMs : endMs;
    while (q.size > 0 && q.peekTime() <= tNext) {
      const slot = q.pop();
      const time = q.time[slot]!;
      if (time > clock.nowMs) clock.nowMs = time;
      if (q.kind[slot] === EVENT_KINDS.winNotice && checks === null) notices.arrive(slot, faults.inOutage);
      else await onScheduled(slot);
    }
    if (!more) break;
    onRequest();
    more = source.next();
  }
  // Win notices still in the air at the end of the run land after it.
  while (q.size > 0) {
    const slot = q.pop();
    const time = q.time[slot]!;
    if (time > clock.nowMs) clock.nowMs = time;
    if (q.kind[slot] === EVENT_KINDS.winNotice) await onScheduled(slot);
  }
  const settled = await recon.settle(syncInterval);
  return {
    ...collectRun(mode, campaigns, world.restarts.length, { rec, fleet, notices, latency, recon }, settled),
    winsAtRecordedPrice: market.winsAtRecordedPrice,
  };
}

/** The run's outcome, gathered from the parts that measured it. */
function collectRun(
  mode: PacingMode,
  campaigns: readonly Campaign[],
  restarts: number,
  parts: {
    rec: Recorder;
    fleet: Fleet;
    notices: NoticeRouter;
    latency: StoreLatency;
    recon: Reconciler;
  },
  settled: { store: Float64Array; afterRun: Float64Array },
): Omit<AlgorithmRun, 'winsAtRecordedPrice'> {
  const { rec, fleet, notices, latency, recon } = parts;
  const { days, minutes } = rec;
  return {
    mode,
    days,
    minutes,
    campaigns,
    spendPerMinute: rec.spendPerMinute,
    throttlePerMinute: rec.throttlePerMinute,
    candidates: rec.candidates,
    bids: rec.bids,
    throttled: rec.throttled,
    wins: rec.wins,
    clicks: rec.clicks,
    spendMicros: rec.spendMicros,
    breakerTrips: rec.breakerTrips,
    openMinutes: rec.openMinutes,
    outageDecisions: rec.outageDecisions,
    outageSpendMicros: rec.outageSpendMicros,
    reservationLostSpendMicros: rec.reservationLostSpendMicros,
    storeSpendMicros: settled.store,
    spendAfterRunMicros: rec.spendAfterRunMicros,
    storeAfterRunMicros: settled.afterRun,
    requestsPerMinute: rec.requestsPerMinute,
    meanThrottlePerMinute: rec.meanThrottlePerMinute,
    breakerOpenPerMinute: rec.breakerOpenPerMinute,
    breakerHalfOpenPerMinute: rec.breakerHalfOpenPerMinute,
    degradedInstancesPerMinute: rec.degradedInstancesPerMinute,
    totals: {
      requests: rec.requests,
      decisions: rec.decisions,
      winNotices: notices.winNotices,
      degradedDecisions: rec.degradedDecisions,
      leaseDenials: rec.leaseDenials,
      storeErrors: fleet.storeErrors(),
      replayedRecords: fleet.replayedRecords(),
      lateNoticesAfterTtl: notices.lateNoticesAfterTtl,
      restarts,
      requestsRerouted: fleet.requestsRerouted,
      requestsLost: fleet.requestsLost,
      noticesReservationLost: notices.noticesReservationLost,
      noticesRetried: notices.noticesRetried,
      delayedStoreCalls: latency.delayedStoreCalls,
      viewLagMicros: rec.viewLagMicros,
      viewLagSamples: rec.viewLagSamples,
    },
    outageReconciliations: recon.outageReconciliations,
  };
}

/** Syncs of each instance (staggered), minute ends, crashes and restarts, outages and their checks. */
function scheduleFixedEvents(q: EventQueue, world: World, syncInterval: number, minutes: number): void {
  const { startMs, endMs } = world;
  const nI = world.scenario.instances.count;
  for (let i = 0; i < nI; i++) {
    const slot = q.push(startMs + syncInterval + Math.floor((i * syncInterval) / nI), EVENT_KINDS.sync);
    q.instance[slot] = i;
  }
  for (let m = 1; m <= minutes; m++) q.push(startMs + m * MINUTE_MS, EVENT_KINDS.minute);
  for (const r of world.restarts) {
    q.instance[q.push(r.downMs, EVENT_KINDS.instanceDown)] = r.instance;
    q.instance[q.push(r.upMs, EVENT_KINDS.instanceUp)] = r.instance;
  }
  for (const [a, b] of world.outages) {
    q.push(a, EVENT_KINDS.outageStart);
    q.push(b, EVENT_KINDS.outageEnd);
    const check = b + 2 * syncInterval;
    if (check < endMs) q.push(check, EVENT_KINDS.reconcileCheck);
  }
}
