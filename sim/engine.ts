import {
  BREAKER_STATES,
  type Campaign,
  DAY_MS,
  MemoryJournal,
  MemoryStore,
  PacerInstance,
  type PacingMode,
  type PacingState,
  impressionCostMicros,
  makeCampaign,
  newDecision,
} from '../core/index';
import { EVENT_KINDS, EventQueue } from './eventQueue';
import { FaultInjectingStore } from './faultyStore';
import { LatentStore } from './latentStore';
import { AliasTable, PoissonTable, lognormalTable, randStream } from './random';
import type { World } from './world';

const MINUTE_MS = 60_000;
export const MINUTES_PER_DAY = 1440;

/** A broken invariant: a bug in the core or the engine, never an expected outcome. */
export class SimInvariantError extends Error {
  readonly code = 'SIM_ERR_INVARIANT';
  constructor(message: string) {
    super(message);
    this.name = 'SimInvariantError';
  }
}

/**
 * Raw outcome of one algorithm over the scenario. Per-campaign arrays are indexed
 * `c * days + day` (campaign-day) or `c * minutes + minute` (per-minute series).
 */
export interface AlgorithmRun {
  readonly mode: PacingMode;
  readonly days: number;
  readonly minutes: number;
  readonly campaigns: readonly Campaign[];
  /** Spend booked (win notice arrival) per campaign and minute of the run. */
  readonly spendPerMinute: Float64Array;
  /** Throttle rate of each campaign's last decision, sampled at each minute's end. */
  readonly throttlePerMinute: Float32Array;
  /** Per campaign-day. */
  readonly candidates: Float64Array;
  readonly bids: Float64Array;
  readonly throttled: Float64Array;
  readonly wins: Float64Array;
  readonly clicks: Float64Array;
  readonly spendMicros: Float64Array;
  readonly breakerTrips: Float64Array;
  /** Minutes in which the breaker was OPEN, averaged over instances. */
  readonly openMinutes: Float64Array;
  readonly outageDecisions: Float64Array;
  readonly outageSpendMicros: Float64Array;
  /**
   * Spend of win notices booked where their reservation no longer existed (the instance that
   * reserved had crashed): the E term of the overspend bound, per campaign-day.
   */
  readonly reservationLostSpendMicros: Float64Array;
  /** What the shared store holds per campaign-day at the end, after every instance synced. */
  readonly storeSpendMicros: Float64Array;
  /** Spend booked after the last simulated day (late notices), per campaign; kept out of the scores. */
  readonly spendAfterRunMicros: Float64Array;
  readonly storeAfterRunMicros: Float64Array;
  /** Per minute of the run. */
  readonly requestsPerMinute: Float64Array;
  readonly meanThrottlePerMinute: Float64Array;
  readonly breakerOpenPerMinute: Float64Array;
  readonly breakerHalfOpenPerMinute: Float64Array;
  readonly degradedInstancesPerMinute: Float64Array;
  readonly totals: {
    readonly requests: number;
    readonly decisions: number;
    readonly winNotices: number;
    readonly degradedDecisions: number;
    readonly leaseDenials: number;
    readonly storeErrors: number;
    readonly replayedRecords: number;
    readonly lateNoticesAfterTtl: number;
    /** Instance crashes (each followed by a restart). */
    readonly restarts: number;
    /** Requests whose instance was down, sent to another instance instead. */
    readonly requestsRerouted: number;
    /** Requests that arrived while every instance was down: no decision, no bid. */
    readonly requestsLost: number;
    /** Win notices booked by an instance (or incarnation) that did not hold their reservation. */
    readonly noticesReservationLost: number;
    /** Win notices a crashed instance had booked but not yet made safe, delivered again. */
    readonly noticesRetried: number;
    /** Store calls whose answer came late (store latency). */
    readonly delayedStoreCalls: number;
    /**
     * Sum over minute samples, instances up and campaigns they decided for since their last sync, of |spend booked today - (own + peer
     * spend the instance sees)|: how stale the instances' view of the day's spend is.
     */
    readonly viewLagMicros: number;
    readonly viewLagSamples: number;
  };
  /**
   * One per outage: checked two sync intervals after it ends, once every instance has synced:
   * whether the store then held every unit of spend made so far (none lost, none counted twice).
   */
  readonly outageReconciliations: readonly OutageReconciliation[];
}

export interface OutageReconciliation {
  readonly outageStartMs: number;
  readonly outageEndMs: number;
  readonly checkedAtMs: number;
  readonly reconciled: boolean;
  /** Sum over campaign-days of |store - spend made|, micros. */
  readonly mismatchMicros: number;
}

export interface EngineOptions {
  /** Called at every simulated minute with the share of the run done. */
  readonly onProgress?: (done: number) => void;
}

function dayKeyOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Runs one algorithm (every campaign paced in `mode`) over the world's stream. The hot path
 * (arrival -> candidates -> decide -> market) is synchronous and allocation-free; only the
 * scheduled store syncs await, as the server's background timer does.
 */
export async function runAlgorithm(
  world: World,
  mode: PacingMode,
  opts: EngineOptions = {},
): Promise<AlgorithmRun> {
  const sc = world.scenario;
  const seed = world.seed;
  const days = world.days;
  const minutes = days * MINUTES_PER_DAY;
  const startMs = world.startMs;
  const endMs = world.endMs;
  const nC = world.campaigns.length;
  const nI = sc.instances.count;

  const campaigns = world.campaigns.map((c) =>
    makeCampaign({
      id: c.id,
      dailyBudgetMicros: c.dailyBudgetMicros,
      pacingMode: mode,
      maxBidCpmMicros: c.maxBidCpmMicros,
      hourlyMultipliers: c.hourlyMultipliers,
    }),
  );

  let nowMs = startMs;
  const store = new FaultInjectingStore(new MemoryStore(), world.outages, () => nowMs);
  const q = new EventQueue(4096);
  // Store latency: instances talk to the store through a LatentStore whose answers are events.
  const lat = sc.faults.latency;
  let delayedStoreCalls = 0;
  const latRand = randStream(seed, `latency/${mode}`);
  const latent =
    lat === undefined
      ? null
      : new LatentStore(
          store,
          () => nowMs,
          (t) => {
            if (t < startMs + lat.fromMs || t >= startMs + lat.toMs) return 0;
            delayedStoreCalls++;
            return Math.max(1, Math.round(lat.meanMs + lat.jitterMs * (2 * latRand() - 1)));
          },
          (atMs, id) => {
            q.instance[q.push(atMs, EVENT_KINDS.storeReply)] = id;
          },
        );
  /** Lets every promise chain the core has runnable finish (no real I/O is involved). */
  const drain = () => new Promise<void>((resolve) => setImmediate(resolve));
  /** Answers every store call in flight now and makes new calls answer at once, until `resume`. */
  const suspendLatency = async (): Promise<void> => {
    if (latent === null) return;
    latent.instant = true;
    while (latent.inFlight > 0) {
      latent.releaseAll();
      await drain();
    }
  };
  const resumeLatency = (): void => {
    if (latent !== null) latent.instant = false;
  };
  // One journal per instance id: it outlives a crash, as a file journal does.
  const journals = Array.from({ length: nI }, () => new MemoryJournal());
  const startInstance = (i: number) =>
    new PacerInstance({
      instanceId: `i${i}`,
      store: latent ?? store,
      journal: journals[i]!,
      config: world.config,
      leaseHorizonMs: sc.instances.leaseHorizonMs,
      minLeaseShare: sc.instances.minLeaseShare,
    });
  const instances: PacerInstance[] = [];
  const states: PacingState[][] = [];
  for (let i = 0; i < nI; i++) {
    const inst = startInstance(i);
    states.push(campaigns.map((c) => inst.upsertCampaign(c, startMs)));
    instances.push(inst);
  }

  // Draws that depend on the stream only (the same for every algorithm) and draws that depend on decisions.
  const source = world.stream.open(seed);
  const req = source.req;
  const candRand = randStream(seed, 'candidates');
  const throttleRand = randStream(seed, `throttle/${mode}`);
  const delayRand = randStream(seed, `delay/${mode}`);
  const clickRand = randStream(seed, `click/${mode}`);

  // Independent Bernoulli(p_c) candidacy, exactly, from one Poisson count: campaign c is drawn
  // Poisson(-ln(1 - p_c)) times, so it appears at least once with probability p_c.
  const lambdas = world.campaigns.map((c) => -Math.log(1 - c.participation));
  const lambdaSum = lambdas.reduce((a, b) => a + b, 0);
  const candidateCount = new PoissonTable(lambdaSum);
  const candidatePick = new AliasTable(lambdas);
  const seenAt = new Float64Array(nC).fill(-1);
  const bidCpm = Float64Array.from(world.campaigns, (c) => c.bidCpmMicros);
  const ids = campaigns.map((c) => c.id);
  const linearCtr = sc.bidding.kind === 'linear_ctr';
  // The request's pctr as decide()'s value signal: a throttled campaign passes its best requests.
  const valueAware = sc.bidding.valueSignal === 'pctr';
  const fillFirst = linearCtr || valueAware;
  const baseCtr = sc.bidding.baseCtr;
  const firstPrice = sc.market.pricing === 'first';

  const wn = sc.winNotices;
  const delayTable = lognormalTable(wn.medianDelayMs, wn.sigma, wn.medianDelayMs * 1000);
  const lateSpanMs = wn.lateDelayMsMax - wn.lateDelayMsMin;
  const ttlMs = world.config.reservationTtlMs;

  const cd = nC * days;
  const candidates = new Float64Array(cd);
  const bids = new Float64Array(cd);
  const throttled = new Float64Array(cd);
  const wins = new Float64Array(cd);
  const clicks = new Float64Array(cd);
  const spendMicros = new Float64Array(cd);
  const breakerTrips = new Float64Array(cd);
  const openMinutes = new Float64Array(cd);
  const outageDecisions = new Float64Array(cd);
  const outageSpendMicros = new Float64Array(cd);
  const reservationLostSpendMicros = new Float64Array(cd);
  const storeSpendMicros = new Float64Array(cd);
  const spendAfterRunMicros = new Float64Array(nC);
  const storeAfterRunMicros = new Float64Array(nC);
  const spendPerMinute = new Float64Array(nC * minutes);
  const throttlePerMinute = new Float32Array(nC * minutes);
  const lastThrottle = new Float64Array(nC);
  const requestsPerMinute = new Float64Array(minutes);
  const meanThrottlePerMinute = new Float64Array(minutes);
  const breakerOpenPerMinute = new Float64Array(minutes);
  const breakerHalfOpenPerMinute = new Float64Array(minutes);
  const degradedInstancesPerMinute = new Float64Array(minutes);
  const tripsAtDayStart = new Float64Array(nC);

  const allowedC = new Int32Array(nC);
  const allowedRes = new Float64Array(nC);
  const out = newDecision();
  let requests = 0;
  let decisions = 0;
  let winNotices = 0;
  let degradedDecisions = 0;
  let leaseDenials = 0;
  let lateNoticesAfterTtl = 0;
  let roundRobin = 0;
  let noticeSeq = 0;
  const outageOf = world.outages;
  let inOutage = false;

  // Crashes and restarts. `up[i]` is 0 while instance i is down; `bornAtMs[i]` is when its current
  // incarnation started (a reservation made before it is gone with the crash). Notices an instance
  // booked since its last sync are neither in the store nor in the journal: a crash loses them
  // from the instance, so the exchange, never having had them acknowledged, delivers them again.
  const restarts = world.restarts;
  const hasRestarts = restarts.length > 0;
  const up = new Uint8Array(nI).fill(1);
  const bornAtMs = new Float64Array(nI).fill(Number.NEGATIVE_INFINITY);
  const unsafe: UnsafeNotice[][] = Array.from({ length: nI }, () => []);
  const held: HeldNotice[] = [];
  const tripsCarried = new Float64Array(nC);
  let carriedStoreErrors = 0;
  let carriedReplayed = 0;
  let requestsRerouted = 0;
  let requestsLost = 0;
  let noticesReservationLost = 0;
  let noticesRetried = 0;
  let viewLagMicros = 0;
  let viewLagSamples = 0;
  /** The first instance up after `i` in round-robin order, or -1 when all are down. */
  const nextUp = (i: number): number => {
    for (let d = 1; d < nI; d++) {
      const j = (i + d) % nI;
      if (up[j] === 1) return j;
    }
    return -1;
  };

  const syncInterval = sc.instances.syncIntervalMs;
  for (let i = 0; i < nI; i++) {
    const slot = q.push(startMs + syncInterval + Math.floor((i * syncInterval) / nI), EVENT_KINDS.sync);
    q.instance[slot] = i;
  }
  for (let m = 1; m <= minutes; m++) q.push(startMs + m * MINUTE_MS, EVENT_KINDS.minute);
  for (const r of restarts) {
    q.instance[q.push(r.downMs, EVENT_KINDS.instanceDown)] = r.instance;
    q.instance[q.push(r.upMs, EVENT_KINDS.instanceUp)] = r.instance;
  }
  for (const [a, b] of outageOf) {
    q.push(a, EVENT_KINDS.outageStart);
    q.push(b, EVENT_KINDS.outageEnd);
    const check = b + 2 * syncInterval;
    if (check < endMs) q.push(check, EVENT_KINDS.reconcileCheck);
  }
  const outageReconciliations: OutageReconciliation[] = [];
  const dayKeys = Array.from({ length: days }, (_, d) => dayKeyOf(startMs + d * DAY_MS));

  /** Flushes every instance, then compares the store with the spend made so far. */
  const reconcile = async (): Promise<void> => {
    await suspendLatency();
    for (let i = 0; i < nI; i++) if (up[i] === 1) await syncInstance(i);
    resumeLatency();
    const pending =
      held.length > 0 ||
      journals.some((j) => j.size > 0) ||
      instances.some((inst, i) => up[i] === 1 && (inst.unsyncedRecords > 0 || inst.degraded));
    const refs = ids.flatMap((campaignId) => dayKeys.map((dayKey) => ({ campaignId, dayKey })));
    const snaps = await store.readDays(refs);
    let mismatch = 0;
    for (let k = 0; k < snaps.length; k++) mismatch += Math.abs(snaps[k]!.spentMicros - spendMicros[k]!);
    const [a, b] = outageOf.filter(([, end]) => end <= nowMs).at(-1)!;
    outageReconciliations.push({
      outageStartMs: a,
      outageEndMs: b,
      checkedAtMs: nowMs,
      reconciled: !pending && mismatch === 0,
      mismatchMicros: mismatch,
    });
  };

  /** One sync round; spend booked before it is then applied or journaled, safe from a crash. */
  const syncInstance = async (i: number): Promise<void> => {
    const inst = instances[i]!;
    await inst.sync(nowMs);
    if (hasRestarts && inst.unsyncedRecords === 0) unsafe[i]!.length = 0;
  };

  // Leases and peer spend before the first request, as a server does at start-up.
  await suspendLatency();
  for (const inst of instances) await inst.sync(startMs);
  resumeLatency();

  /** Adds (or, with sign -1, takes back) booked spend in the per-campaign-day and per-minute tallies. */
  const tally = (c: number, minute: number, spend: number, sign: number): void => {
    if (minute >= minutes) {
      spendAfterRunMicros[c] = spendAfterRunMicros[c]! + sign * spend;
      return;
    }
    const k = c * days + Math.floor(minute / MINUTES_PER_DAY);
    spendMicros[k] = spendMicros[k]! + sign * spend;
    spendPerMinute[c * minutes + minute] = spendPerMinute[c * minutes + minute]! + sign * spend;
  };

  /**
   * Books a notice into instance `i` if it is up, else into the next instance up; when none is,
   * holds it until one comes back. Returns false when it was held.
   */
  const deliver = (
    i: number,
    c: number,
    eventNo: number,
    spend: number,
    reserved: number,
    reservedAt: number,
  ) => {
    let target = i;
    if (up[i] === 0) {
      target = nextUp(i);
      if (target < 0) {
        held.push({
          instance: i,
          campaign: c,
          eventNo,
          spendMicros: spend,
          reservedMicros: reserved,
          reservedAtMs: reservedAt,
        });
        return false;
      }
    }
    let r = reserved;
    if (target !== i || reservedAt < bornAtMs[i]!) {
      r = 0;
      noticesReservationLost++;
      const minute = Math.floor((nowMs - startMs) / MINUTE_MS);
      if (minute < minutes) {
        const k = c * days + Math.floor(minute / MINUTES_PER_DAY);
        reservationLostSpendMicros[k] = reservationLostSpendMicros[k]! + spend;
      }
    }
    instances[target]!.recordSpendState(states[target]![c]!, `w${eventNo}`, spend, r, reservedAt, nowMs);
    if (hasRestarts)
      unsafe[target]!.push({
        campaign: c,
        eventNo,
        spendMicros: spend,
        minute: Math.floor((nowMs - startMs) / MINUTE_MS),
      });
    return true;
  };

  const bookNotice = (slot: number): void => {
    const i = q.instance[slot]!;
    const c = q.campaign[slot]!;
    const spend = q.spendMicros[slot]!;
    const reserved = q.reservedMicros[slot]!;
    const reservedAt = q.reservedAtMs[slot]!;
    if (nowMs - reservedAt >= ttlMs) lateNoticesAfterTtl++;
    winNotices++;
    if (!deliver(i, c, noticeSeq++, spend, reserved, reservedAt)) return;
    tallyArrival(c, spend);
  };

  const tallyArrival = (c: number, spend: number): void => {
    const minute = Math.floor((nowMs - startMs) / MINUTE_MS);
    tally(c, minute, spend, 1);
    if (inOutage && minute < minutes) {
      const k = c * days + Math.floor(minute / MINUTES_PER_DAY);
      outageSpendMicros[k] = outageSpendMicros[k]! + spend;
    }
  };

  /** Instance `i` crashes: its local state is gone; notices it had not made safe are delivered again. */
  const crash = (i: number): void => {
    up[i] = 0;
    const dead = instances[i]!;
    carriedStoreErrors += dead.storeErrors;
    carriedReplayed += dead.replayedRecords;
    for (let c = 0; c < nC; c++) tripsCarried[c] = tripsCarried[c]! + states[i]![c]!.breaker.trips;
    const lost = unsafe[i]!.splice(0);
    for (const n of lost) {
      noticesRetried++;
      // The spend moves to the time it is booked again (possibly another day, or never-held).
      tally(n.campaign, n.minute, n.spendMicros, -1);
      if (deliver(i, n.campaign, n.eventNo, n.spendMicros, 0, nowMs))
        tally(n.campaign, Math.floor((nowMs - startMs) / MINUTE_MS), n.spendMicros, 1);
    }
  };

  /** Instance `i` comes back: a new PacerInstance with the same id and journal, restored first. */
  const restart = async (i: number): Promise<void> => {
    const inst = startInstance(i);
    const fresh = campaigns.map((c) => inst.upsertCampaign(c, nowMs));
    // Restore answers at once: a restart is not also a study of latency.
    const wasInstant = latent?.instant ?? false;
    if (latent !== null) latent.instant = true;
    await inst.restore(nowMs);
    if (latent !== null) latent.instant = wasInstant;
    instances[i] = inst;
    states[i] = fresh;
    bornAtMs[i] = nowMs;
    up[i] = 1;
    for (const n of held.splice(0)) {
      deliver(n.instance, n.campaign, n.eventNo, n.spendMicros, n.reservedMicros, n.reservedAtMs);
      tally(n.campaign, Math.floor((nowMs - startMs) / MINUTE_MS), n.spendMicros, 1);
    }
  };

  const sampleMinute = (minute: number): void => {
    let throttleSum = 0;
    let open = 0;
    let halfOpen = 0;
    for (let c = 0; c < nC; c++) {
      const th = lastThrottle[c]!;
      throttlePerMinute[c * minutes + minute] = th;
      throttleSum += th;
      let openHere = 0;
      const madeToday = spendMicros[c * days + Math.floor(minute / MINUTES_PER_DAY)]!;
      for (let i = 0; i < nI; i++) {
        if (up[i] === 0) continue;
        const s = states[i]![c]!;
        // Only campaigns the instance is pacing right now: an idle one is not synced, by design.
        if (s.touched) {
          const seen = s.ledger.ownDaySpentMicros + s.ledger.peerDaySpentMicros;
          viewLagMicros += seen > madeToday ? seen - madeToday : madeToday - seen;
          viewLagSamples++;
        }
        const st = s.breaker.state;
        if (st === 'OPEN') openHere++;
        else if (st === 'HALF_OPEN') halfOpen++;
        checkState(s, nowMs);
      }
      open += openHere;
      const k = c * days + Math.floor(minute / MINUTES_PER_DAY);
      openMinutes[k] = openMinutes[k]! + openHere / nI;
    }
    meanThrottlePerMinute[minute] = nC > 0 ? throttleSum / nC : 0;
    breakerOpenPerMinute[minute] = open;
    breakerHalfOpenPerMinute[minute] = halfOpen;
    let degraded = 0;
    for (let i = 0; i < nI; i++) if (up[i] === 1 && instances[i]!.degraded) degraded++;
    degradedInstancesPerMinute[minute] = degraded;
    if ((minute + 1) % MINUTES_PER_DAY === 0) {
      const d = (minute + 1) / MINUTES_PER_DAY - 1;
      for (let c = 0; c < nC; c++) {
        let trips = tripsCarried[c]!;
        for (let i = 0; i < nI; i++) if (up[i] === 1) trips += states[i]![c]!.breaker.trips;
        breakerTrips[c * days + d] = trips - tripsAtDayStart[c]!;
        tripsAtDayStart[c] = trips;
      }
    }
    opts.onProgress?.((minute + 1) / minutes);
  };

  const handleRequest = (): void => {
    const t = req.timeMs;
    nowMs = t;
    requests++;
    const minute = Math.floor((t - startMs) / MINUTE_MS);
    requestsPerMinute[minute] = requestsPerMinute[minute]! + 1;
    const day = Math.floor(minute / MINUTES_PER_DAY);
    let inst = nI === 1 ? 0 : roundRobin++ % nI;
    if (up[inst] === 0) {
      inst = nextUp(inst);
      if (inst < 0) {
        requestsLost++;
        return;
      }
      requestsRerouted++;
    }
    const pacer = instances[inst]!;
    const pacerStates = states[inst]!;
    const degraded = pacer.degraded;
    const k = candidateCount.sample(candRand());
    if (fillFirst && k > 0) source.fill();
    const value = valueAware ? req.pctr : -1;
    let nAllowed = 0;
    let best = -1;
    let bestBid = 0;
    let secondBid = 0;
    for (let j = 0; j < k; j++) {
      const c = candidatePick.sample(candRand(), candRand());
      if (seenAt[c] === requests) continue;
      seenAt[c] = requests;
      let bid = bidCpm[c]!;
      if (linearCtr) {
        bid = Math.round((bid * req.pctr) / baseCtr);
        if (bid < 1) bid = 1;
      }
      // Through the instance, as the server decides: it notes which campaigns its next sync visits.
      const d = pacer.decideState(pacerStates[c]!, bid, t, throttleRand, out, value);
      decisions++;
      const cdk = c * days + day;
      candidates[cdk] = candidates[cdk]! + 1;
      const th = d.throttleRate;
      if (!(th >= 0 && th <= 1))
        throw new SimInvariantError(`throttle ${th} outside [0, 1] for ${campaigns[c]!.id}`);
      lastThrottle[c] = th;
      if (degraded) degradedDecisions++;
      if (inOutage) outageDecisions[cdk] = outageDecisions[cdk]! + 1;
      if (!d.allow) {
        if (d.reason === 'throttled') throttled[cdk] = throttled[cdk]! + 1;
        else if (d.reason === 'lease_exhausted') leaseDenials++;
        continue;
      }
      bids[cdk] = bids[cdk]! + 1;
      const b = d.maxBidCpmMicros;
      allowedC[nAllowed] = c;
      allowedRes[nAllowed] = d.reservedMicros;
      if (b > bestBid) {
        secondBid = bestBid;
        bestBid = b;
        best = nAllowed;
      } else if (b > secondBid) {
        secondBid = b;
      }
      nAllowed++;
    }
    if (nAllowed === 0) return;
    if (!fillFirst) source.fill();
    const price = req.marketPriceCpmMicros;
    const won = bestBid >= price;
    for (let j = 0; j < nAllowed; j++) {
      if (won && j === best) continue;
      pacer.releaseBidState(pacerStates[allowedC[j]!]!, allowedRes[j]!, t, t);
    }
    if (!won) return;
    const c = allowedC[best]!;
    const cdk = c * days + day;
    const chargeCpm = firstPrice ? bestBid : price > secondBid ? price : secondBid;
    wins[cdk] = wins[cdk]! + 1;
    const clicked = req.click >= 0 ? req.click : clickRand() < req.pctr ? 1 : 0;
    clicks[cdk] = clicks[cdk]! + clicked;
    const late = wn.lateShare > 0 && delayRand() < wn.lateShare;
    const delayMs = late ? wn.lateDelayMsMin + delayRand() * lateSpanMs : delayTable.sample(delayRand());
    const slot = q.push(t + delayMs, EVENT_KINDS.winNotice);
    q.instance[slot] = inst;
    q.campaign[slot] = c;
    q.spendMicros[slot] = impressionCostMicros(chargeCpm);
    q.reservedMicros[slot] = allowedRes[best]!;
    q.reservedAtMs[slot] = t;
  };

  // One pass over the merged timeline: scheduled events due at or before the next arrival first.
  let more = source.next();
  for (;;) {
    const tNext = more ? req.timeMs : endMs;
    while (q.size > 0 && q.peekTime() <= tNext) {
      const slot = q.pop();
      const time = q.time[slot]!;
      if (time > nowMs) nowMs = time;
      const kind = q.kind[slot]!;
      if (kind === EVENT_KINDS.winNotice) {
        bookNotice(slot);
      } else if (kind === EVENT_KINDS.sync) {
        const i = q.instance[slot]!;
        if (time + syncInterval < endMs) q.instance[q.push(time + syncInterval, EVENT_KINDS.sync)] = i;
        if (up[i] === 0) continue;
        if (latent === null) await syncInstance(i);
        else {
          // The round runs until its first store call; its answers come as storeReply events.
          void syncInstance(i);
          await drain();
        }
      } else if (kind === EVENT_KINDS.minute) {
        sampleMinute(Math.round((time - startMs) / MINUTE_MS) - 1);
      } else if (kind === EVENT_KINDS.outageStart) {
        inOutage = true;
      } else if (kind === EVENT_KINDS.reconcileCheck) {
        await reconcile();
      } else if (kind === EVENT_KINDS.storeReply) {
        if (latent!.release(q.instance[slot]!)) await drain();
      } else if (kind === EVENT_KINDS.instanceDown) {
        crash(q.instance[slot]!);
      } else if (kind === EVENT_KINDS.instanceUp) {
        await restart(q.instance[slot]!);
      } else if (kind === EVENT_KINDS.outageEnd) {
        inOutage = outageOf.some(([a, b]) => nowMs >= a && nowMs < b);
      }
    }
    if (!more) break;
    handleRequest();
    more = source.next();
  }
  // Win notices still in the air at the end of the run land after it; then every instance syncs
  // until its spend is in the store (the last outage is over by then).
  while (q.size > 0) {
    const slot = q.pop();
    const time = q.time[slot]!;
    if (time > nowMs) nowMs = time;
    if (q.kind[slot] === EVENT_KINDS.winNotice) bookNotice(slot);
  }
  await suspendLatency();
  const lastOutageEnd = outageOf.length > 0 ? outageOf[outageOf.length - 1]![1] : 0;
  if (nowMs < lastOutageEnd) nowMs = lastOutageEnd;
  for (const inst of instances) {
    for (
      let tries = 0;
      tries < 10 && (inst.unsyncedRecords > 0 || inst.journaledRecords > 0 || inst.degraded);
      tries++
    ) {
      nowMs += syncInterval;
      await inst.sync(nowMs);
    }
    if (inst.unsyncedRecords > 0 || inst.journaledRecords > 0)
      throw new SimInvariantError(`instance ${inst.instanceId} could not hand its spend to the store`);
  }
  const keys = Array.from({ length: days }, (_, d) => dayKeyOf(startMs + d * DAY_MS));
  keys.push(dayKeyOf(endMs));
  const refs = campaigns.flatMap((c) => keys.map((dayKey) => ({ campaignId: c.id, dayKey })));
  const snaps = await store.readDays(refs);
  for (let c = 0; c < nC; c++) {
    for (let d = 0; d < days; d++) storeSpendMicros[c * days + d] = snaps[c * (days + 1) + d]!.spentMicros;
    storeAfterRunMicros[c] = snaps[c * (days + 1) + days]!.spentMicros;
  }

  let storeErrors = 0;
  let replayedRecords = 0;
  for (const inst of instances) {
    storeErrors += inst.storeErrors;
    replayedRecords += inst.replayedRecords;
  }
  storeErrors += carriedStoreErrors;
  replayedRecords += carriedReplayed;
  return {
    mode,
    days,
    minutes,
    campaigns,
    spendPerMinute,
    throttlePerMinute,
    candidates,
    bids,
    throttled,
    wins,
    clicks,
    spendMicros,
    breakerTrips,
    openMinutes,
    outageDecisions,
    outageSpendMicros,
    reservationLostSpendMicros,
    storeSpendMicros,
    spendAfterRunMicros,
    storeAfterRunMicros,
    requestsPerMinute,
    meanThrottlePerMinute,
    breakerOpenPerMinute,
    breakerHalfOpenPerMinute,
    degradedInstancesPerMinute,
    totals: {
      requests,
      decisions,
      winNotices,
      degradedDecisions,
      leaseDenials,
      storeErrors,
      replayedRecords,
      lateNoticesAfterTtl,
      restarts: restarts.length,
      requestsRerouted,
      requestsLost,
      noticesReservationLost,
      noticesRetried,
      delayedStoreCalls,
      viewLagMicros,
      viewLagSamples,
    },
    outageReconciliations,
  };
}

interface UnsafeNotice {
  readonly campaign: number;
  readonly eventNo: number;
  readonly spendMicros: number;
  /** Minute of the run it was booked in (where the tallies hold it). */
  readonly minute: number;
}

interface HeldNotice {
  readonly instance: number;
  readonly campaign: number;
  readonly eventNo: number;
  readonly spendMicros: number;
  readonly reservedMicros: number;
  readonly reservedAtMs: number;
}

/** Cheap invariants of one campaign's state, checked at every simulated minute. */
function checkState(s: PacingState, nowMs: number): void {
  const l = s.ledger;
  const id = s.campaign.id;
  if (l.ownDaySpentMicros < 0 || l.peerDaySpentMicros < 0 || l.ownTotalSpentMicros < 0)
    throw new SimInvariantError(`${id}: negative spend at ${new Date(nowMs).toISOString()}`);
  if (l.reservedMicros < -0.5) throw new SimInvariantError(`${id}: negative reservation ${l.reservedMicros}`);
  if (!(s.passRate >= 0 && s.passRate <= 1))
    throw new SimInvariantError(`${id}: pass rate ${s.passRate} outside [0, 1]`);
  if (!BREAKER_STATES.includes(s.breaker.state))
    throw new SimInvariantError(`${id}: breaker state ${s.breaker.state}`);
}
