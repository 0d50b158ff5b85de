import { type PacingMode, curveFor, impressionCostMicros, targetShare } from '../core/index';
import type { SimCampaign } from './campaigns';
import type { AlgorithmRun } from './engine';
import { dayHours } from './localDays';
import type { Thresholds } from './scenario';

/**
 * Scores of one campaign-day (DESIGN.md, Scores). Money in micros, times in minutes of the day. The
 * day is the campaign's local day: midnight to midnight in its time zone, 23 or 25 hours across a
 * DST change, and every score is over its real length.
 */
export interface CampaignDayScore {
  readonly campaignId: string;
  readonly day: number;
  /** The local date, YYYY-MM-DD, in `timeZone`: the day key the pacer books spend under. */
  readonly date: string;
  readonly timeZone: string;
  /** Length of the local day in hours (its hour buckets): 23, 24 or 25. */
  readonly hours: number;
  readonly constrained: boolean;
  readonly budgetMicros: number;
  readonly spendMicros: number;
  readonly utilisation: number;
  readonly overspendMicros: number;
  readonly overspendShare: number;
  /**
   * Overspend past the stated bound: one impression at the maximum bid per instance, plus E, the
   * spend of win notices booked after their reservation was lost in an instance crash.
   */
  readonly overspentBeyondBound: boolean;
  /** E of the bound, present only when an instance crash lost reservations of this campaign-day. */
  readonly reservationLostSpendMicros?: number;
  readonly accuracy: number;
  readonly maxDeviation: number;
  readonly rmseNormalised: number;
  readonly exhaustionMinute: number | null;
  readonly minutesAlive: number;
  /** Largest 15-minute actual/planned spend rate minus 1 (0 when never above plan). */
  readonly overshoot: number;
  /** First minute from which |S/B - P| stays within 2% for the rest of the day; null if never. */
  readonly settlingMinute: number | null;
  /** Standard deviation of the minute-to-minute change of the throttle rate. */
  readonly throttleVolatility: number;
  readonly candidates: number;
  readonly bids: number;
  readonly wins: number;
  readonly clicks: number;
  readonly winRate: number;
  readonly ecpmMicros: number | null;
  readonly ecpcMicros: number | null;
  readonly breakerTrips: number;
  readonly openMinutes: number;
  readonly outageDecisions: number;
  readonly outageSpendMicros: number;
  /** Spend made in the simulation that the shared store does not hold at the end (must be 0). */
  readonly spendLostMicros: number;
  /** Spend the store holds beyond what was made (counted twice; must be 0). */
  readonly spendDoubleCountedMicros: number;
}

export interface AlgorithmSummary {
  readonly algorithm: PacingMode;
  /** The curve accuracy is measured against (ASAP has none and is measured against EVEN). */
  readonly accuracyCurve: string;
  readonly campaignDays: number;
  readonly constrainedCampaignDays: number;
  readonly overspentCampaignDays: number;
  readonly overspentBeyondBound: number;
  readonly maxOverspendMicros: number;
  readonly maxOverspendShare: number;
  readonly accuracyMeanConstrained: number;
  readonly accuracyMinConstrained: number;
  readonly accuracyMeanAll: number;
  readonly utilisationMeanConstrained: number;
  readonly utilisationMinConstrained: number;
  readonly utilisationMeanUnconstrained: number | null;
  readonly rmseNormalisedMean: number;
  readonly maxDeviationMean: number;
  readonly overshootMean: number;
  readonly settlingMinuteMedian: number | null;
  readonly throttleVolatilityMean: number;
  readonly exhaustionMinuteMedian: number | null;
  readonly spendMicros: number;
  readonly budgetMicros: number;
  readonly bids: number;
  readonly wins: number;
  readonly clicks: number;
  /** Clicks per currency unit (1,000,000 micros) of spend; null without spend. */
  readonly clicksPerUnitSpend: number | null;
  readonly winRate: number;
  readonly ecpmMicros: number | null;
  readonly ecpcMicros: number | null;
  readonly breakerTrips: number;
  readonly openMinutes: number;
  readonly outageDecisions: number;
  readonly outageSpendMicros: number;
  readonly spendLostMicros: number;
  readonly spendDoubleCountedMicros: number;
  readonly spendAfterRunMicros: number;
  /** Outages after which, two sync intervals on, the store held all spend made so far. */
  readonly outages: number;
  readonly outagesReconciled: number;
  readonly requests: number;
  readonly decisions: number;
  readonly degradedDecisions: number;
  readonly leaseDenials: number;
  readonly storeErrors: number;
  readonly replayedRecords: number;
  readonly lateNoticesAfterTtl: number;
  /** Per time zone, present only when a campaign lives outside UTC. */
  readonly timeZones?: readonly TimeZoneScores[];
  /** Present only when the scenario restarts instances. */
  readonly restarts?: RestartScores;
  /** Present only when the scenario gives the store latency. */
  readonly latency?: LatencyScores;
}

/** The scores of one time zone's campaign-days: each day over its real local length. */
export interface TimeZoneScores {
  readonly timeZone: string;
  readonly campaignDays: number;
  /** Hour lengths of its local days in the run, e.g. [24, 23] across spring-forward. */
  readonly dayHours: readonly number[];
  readonly overspentCampaignDays: number;
  readonly overspentBeyondBound: number;
  readonly maxOverspendShare: number;
  readonly utilisationMeanConstrained: number;
  readonly utilisationMinConstrained: number;
  readonly accuracyMeanConstrained: number;
  readonly accuracyMinConstrained: number;
}

function timeZoneScores(rows: readonly CampaignDayScore[]): TimeZoneScores[] {
  const zones = [...new Set(rows.map((r) => r.timeZone))];
  return zones.map((timeZone) => {
    const zr = rows.filter((r) => r.timeZone === timeZone);
    const con = zr.filter((r) => r.constrained);
    const hoursByDay = new Map(zr.map((r) => [r.day, r.hours]));
    return {
      timeZone,
      campaignDays: zr.length,
      dayHours: [...hoursByDay.keys()].sort((a, b) => a - b).map((d) => hoursByDay.get(d)!),
      overspentCampaignDays: zr.filter((r) => r.overspendMicros > 0).length,
      overspentBeyondBound: zr.filter((r) => r.overspentBeyondBound).length,
      maxOverspendShare: Math.max(0, ...zr.map((r) => r.overspendShare)),
      utilisationMeanConstrained: r6(mean(con.map((r) => r.utilisation))),
      utilisationMinConstrained: con.length > 0 ? Math.min(...con.map((r) => r.utilisation)) : 0,
      accuracyMeanConstrained: r6(mean(con.map((r) => r.accuracy))),
      accuracyMinConstrained: con.length > 0 ? Math.min(...con.map((r) => r.accuracy)) : 0,
    };
  });
}

export interface LatencyScores {
  readonly delayedStoreCalls: number;
  /**
   * Mean over minute samples of campaigns an instance is pacing (decided since its last sync) of |spend booked today - own + peer spend the
   * instance sees|, micros: how stale its view of the day's spend is.
   */
  readonly meanViewLagMicros: number;
}

export interface RestartScores {
  readonly restarts: number;
  /** Requests of a down instance served by another one. */
  readonly requestsRerouted: number;
  /** Requests that came while every instance was down: not decided, not bid on. */
  readonly requestsLost: number;
  /** Win notices booked where their reservation was lost in a crash (the bound's E term). */
  readonly noticesReservationLost: number;
  readonly reservationLostSpendMicros: number;
  /** Notices a crashed instance had booked but not yet applied or journaled, delivered again. */
  readonly noticesRetried: number;
}

/** Rounds to 6 decimals: summaries stay readable and byte-stable. */
export function r6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

const WINDOW_MINUTES = 15;
const SETTLE_BAND = 0.02;

export function scoreCampaignDay(
  run: AlgorithmRun,
  sim: SimCampaign,
  c: number,
  day: number,
  instances: number,
): CampaignDayScore {
  const campaign = run.campaigns[c]!;
  const B = campaign.dailyBudgetMicros;
  const local = sim.localDays;
  // K: the real minutes of the local day, so P(t) runs over 23 or 25 hours on a DST day, as the
  // core's target curve does.
  const dayStart = local.boundaryMinutes[day]!;
  const K = local.boundaryMinutes[day + 1]! - dayStart;
  const curve = curveFor(campaign);
  const base = c * run.minutes + dayStart;
  const k = c * run.days + day;
  let S = 0;
  let absSum = 0;
  let maxDev = 0;
  let sq = 0;
  let exhaustion: number | null = null;
  let settling: number | null = 0;
  let overshoot = 0;
  let windowActual = 0;
  let windowPlanned = 0;
  let prevP = 0;
  for (let m = 0; m < K; m++) {
    const s = run.spendPerMinute[base + m]!;
    S += s;
    const P = targetShare(curve, (m + 1) / K);
    const planned = (P - prevP) * B;
    prevP = P;
    const dev = Math.abs(S / B - P);
    absSum += dev;
    if (dev > maxDev) maxDev = dev;
    if (dev > SETTLE_BAND) settling = null;
    else if (settling === null) settling = m;
    sq += (s - planned) ** 2;
    if (exhaustion === null && S >= 0.95 * B) exhaustion = m + 1;
    windowActual += s;
    windowPlanned += planned;
    if ((m + 1) % WINDOW_MINUTES === 0) {
      if (windowPlanned > 0) {
        const r = windowActual / windowPlanned - 1;
        if (r > overshoot) overshoot = r;
      }
      windowActual = 0;
      windowPlanned = 0;
    }
  }
  let dSum = 0;
  let dSq = 0;
  for (let m = 1; m < K; m++) {
    const d = run.throttlePerMinute[base + m]! - run.throttlePerMinute[base + m - 1]!;
    dSum += d;
    dSq += d * d;
  }
  const dMean = dSum / (K - 1);
  const volatility = Math.sqrt(Math.max(0, dSq / (K - 1) - dMean * dMean));
  const spend = run.spendMicros[k]!;
  const over = Math.max(0, spend - B);
  const lostReservations = run.reservationLostSpendMicros[k]!;
  const bound = instances * impressionCostMicros(sim.maxBidCpmMicros) + lostReservations;
  const wins = run.wins[k]!;
  const clicks = run.clicks[k]!;
  const bids = run.bids[k]!;
  return {
    campaignId: campaign.id,
    day,
    date: local.dates[day]!,
    timeZone: local.timeZone,
    hours: dayHours(local, day),
    constrained: sim.constrained,
    budgetMicros: B,
    spendMicros: spend,
    utilisation: r6(spend / B),
    overspendMicros: over,
    overspendShare: r6(over / B),
    overspentBeyondBound: over > bound,
    ...(lostReservations > 0 && { reservationLostSpendMicros: lostReservations }),
    accuracy: r6(1 - absSum / K),
    maxDeviation: r6(maxDev),
    rmseNormalised: r6(Math.sqrt(sq / K) / (B / K)),
    exhaustionMinute: exhaustion,
    minutesAlive: exhaustion ?? K,
    overshoot: r6(overshoot),
    settlingMinute: settling,
    throttleVolatility: r6(volatility),
    candidates: run.candidates[k]!,
    bids,
    wins,
    clicks,
    winRate: r6(bids > 0 ? wins / bids : 0),
    ecpmMicros: wins > 0 ? Math.round((spend / wins) * 1000) : null,
    ecpcMicros: clicks > 0 ? Math.round(spend / clicks) : null,
    breakerTrips: run.breakerTrips[k]!,
    openMinutes: r6(run.openMinutes[k]!),
    outageDecisions: run.outageDecisions[k]!,
    outageSpendMicros: run.outageSpendMicros[k]!,
    spendLostMicros: Math.max(0, spend - run.storeSpendMicros[k]!),
    spendDoubleCountedMicros: Math.max(0, run.storeSpendMicros[k]! - spend),
  };
}

export function scoreRun(
  run: AlgorithmRun,
  sims: readonly SimCampaign[],
  instances: number,
  latency = false,
): { summary: AlgorithmSummary; campaignDays: CampaignDayScore[] } {
  const rows: CampaignDayScore[] = [];
  for (let c = 0; c < sims.length; c++)
    for (let d = 0; d < run.days; d++) rows.push(scoreCampaignDay(run, sims[c]!, c, d, instances));
  const con = rows.filter((r) => r.constrained);
  const uncon = rows.filter((r) => !r.constrained);
  const sum = (f: (r: CampaignDayScore) => number) => rows.reduce((a, r) => a + f(r), 0);
  const spend = sum((r) => r.spendMicros);
  const wins = sum((r) => r.wins);
  const clicks = sum((r) => r.clicks);
  const bids = sum((r) => r.bids);
  let afterRun = 0;
  let afterRunLost = 0;
  let afterRunDouble = 0;
  for (let c = 0; c < sims.length; c++) {
    afterRun += run.spendAfterRunMicros[c]!;
    const diff = run.spendAfterRunMicros[c]! - run.storeAfterRunMicros[c]!;
    if (diff > 0) afterRunLost += diff;
    else afterRunDouble -= diff;
  }
  const t = run.totals;
  const summary: AlgorithmSummary = {
    algorithm: run.mode,
    accuracyCurve: run.mode === 'ASAP' ? 'EVEN (ASAP has no target curve)' : run.mode,
    campaignDays: rows.length,
    constrainedCampaignDays: con.length,
    overspentCampaignDays: rows.filter((r) => r.overspendMicros > 0).length,
    overspentBeyondBound: rows.filter((r) => r.overspentBeyondBound).length,
    maxOverspendMicros: Math.max(0, ...rows.map((r) => r.overspendMicros)),
    maxOverspendShare: Math.max(0, ...rows.map((r) => r.overspendShare)),
    accuracyMeanConstrained: r6(mean(con.map((r) => r.accuracy))),
    accuracyMinConstrained: con.length > 0 ? Math.min(...con.map((r) => r.accuracy)) : 0,
    accuracyMeanAll: r6(mean(rows.map((r) => r.accuracy))),
    utilisationMeanConstrained: r6(mean(con.map((r) => r.utilisation))),
    utilisationMinConstrained: con.length > 0 ? Math.min(...con.map((r) => r.utilisation)) : 0,
    utilisationMeanUnconstrained: uncon.length > 0 ? r6(mean(uncon.map((r) => r.utilisation))) : null,
    rmseNormalisedMean: r6(mean(con.map((r) => r.rmseNormalised))),
    maxDeviationMean: r6(mean(con.map((r) => r.maxDeviation))),
    overshootMean: r6(mean(con.map((r) => r.overshoot))),
    settlingMinuteMedian: median(con.flatMap((r) => (r.settlingMinute === null ? [] : [r.settlingMinute]))),
    throttleVolatilityMean: r6(mean(con.map((r) => r.throttleVolatility))),
    exhaustionMinuteMedian: median(
      con.flatMap((r) => (r.exhaustionMinute === null ? [] : [r.exhaustionMinute])),
    ),
    spendMicros: spend,
    budgetMicros: sum((r) => r.budgetMicros),
    bids,
    wins,
    clicks,
    clicksPerUnitSpend: spend > 0 ? r6((clicks / spend) * 1e6) : null,
    winRate: r6(bids > 0 ? wins / bids : 0),
    ecpmMicros: wins > 0 ? Math.round((spend / wins) * 1000) : null,
    ecpcMicros: clicks > 0 ? Math.round(spend / clicks) : null,
    breakerTrips: sum((r) => r.breakerTrips),
    openMinutes: r6(sum((r) => r.openMinutes)),
    outageDecisions: sum((r) => r.outageDecisions),
    outageSpendMicros: sum((r) => r.outageSpendMicros),
    spendLostMicros: sum((r) => r.spendLostMicros) + afterRunLost,
    spendDoubleCountedMicros: sum((r) => r.spendDoubleCountedMicros) + afterRunDouble,
    spendAfterRunMicros: afterRun,
    outages: run.outageReconciliations.length,
    outagesReconciled: run.outageReconciliations.filter((o) => o.reconciled).length,
    requests: t.requests,
    decisions: t.decisions,
    degradedDecisions: t.degradedDecisions,
    leaseDenials: t.leaseDenials,
    storeErrors: t.storeErrors,
    replayedRecords: t.replayedRecords,
    lateNoticesAfterTtl: t.lateNoticesAfterTtl,
    ...(rows.some((r) => r.timeZone !== 'UTC') && { timeZones: timeZoneScores(rows) }),
    ...(t.restarts > 0 && {
      restarts: {
        restarts: t.restarts,
        requestsRerouted: t.requestsRerouted,
        requestsLost: t.requestsLost,
        noticesReservationLost: t.noticesReservationLost,
        reservationLostSpendMicros: sum((r) => r.reservationLostSpendMicros ?? 0),
        noticesRetried: t.noticesRetried,
      },
    }),
  };
  if (latency) {
    const samples = t.viewLagSamples;
    const scores: LatencyScores = {
      delayedStoreCalls: t.delayedStoreCalls,
      meanViewLagMicros: samples > 0 ? Math.round(t.viewLagMicros / samples) : 0,
    };
    return { summary: { ...summary, latency: scores }, campaignDays: rows };
  }
  return { summary, campaignDays: rows };
}

/** Every threshold of the scenario a summary misses, as a sentence. */
export function thresholdFailures(s: AlgorithmSummary, t: Thresholds): string[] {
  const out: string[] = [];
  const a = s.algorithm;
  if (t.maxOverspentCampaignDays !== undefined && s.overspentBeyondBound > t.maxOverspentCampaignDays)
    out.push(
      `${a}: ${s.overspentBeyondBound} campaign-days overspent beyond the bound (max ${t.maxOverspentCampaignDays})`,
    );
  if (t.minUtilisationConstrained !== undefined && s.utilisationMeanConstrained < t.minUtilisationConstrained)
    out.push(
      `${a}: utilisation of budget-constrained campaigns ${s.utilisationMeanConstrained} < ${t.minUtilisationConstrained}`,
    );
  if (t.maxSpendLostMicros !== undefined && s.spendLostMicros > t.maxSpendLostMicros)
    out.push(`${a}: ${s.spendLostMicros} micros of spend lost (max ${t.maxSpendLostMicros})`);
  if (t.maxSpendLostMicros !== undefined && s.outagesReconciled < s.outages)
    out.push(
      `${a}: ${s.outages - s.outagesReconciled} outage(s) not reconciled into the store after they ended`,
    );
  const minAcc = t.minAccuracy?.[a];
  if (minAcc !== undefined && s.accuracyMeanConstrained < minAcc)
    out.push(`${a}: pacing accuracy ${s.accuracyMeanConstrained} < ${minAcc}`);
  return out;
}

/**
 * Spend of one campaign-day per hour bucket of its local day (elapsed hours from local midnight,
 * as the core's ledger counts them): 23, 24 or 25 buckets.
 */
export function localHourSpendMicros(run: AlgorithmRun, sim: SimCampaign, c: number, day: number): number[] {
  const local = sim.localDays;
  const dayStart = local.boundaryMinutes[day]!;
  const out = new Array<number>(dayHours(local, day)).fill(0);
  const end = local.boundaryMinutes[day + 1]!;
  for (let m = dayStart; m < end; m++) {
    const h = Math.floor((m - dayStart) / 60);
    out[h] = out[h]! + run.spendPerMinute[c * run.minutes + m]!;
  }
  return out;
}
