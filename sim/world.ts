import { dirname, resolve } from 'node:path';
import { DAY_MS, DEFAULT_PACER_CONFIG, type PacerConfig, pacerConfig } from '../core/index';
import { MINUTE_MS } from './algorithmRun';
import { type SimCampaign, buildCampaigns } from './campaigns';
import {
  type RunDays,
  addDays,
  localDays,
  onRunGrid,
  runWindow,
  scenarioZones,
  wholeMinutes,
} from './localDays';
import { type Scenario, ScenarioError, minutesOf } from './scenario';
import { pacerLogStream } from './sources/pacerLog';
import { recordedStream } from './sources/recorded';
import type { StreamFactory } from './sources/source';
import { syntheticStream } from './sources/synthetic';
import { checkExpectedWork } from './workBound';

/** A scenario compiled for running: the stream, the campaigns, the windows, the pacer config. */
export interface World {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly startMs: number;
  readonly endMs: number;
  /** Local days per campaign; the run covers every campaign's days, from the earliest local midnight. */
  readonly days: number;
  /** Minutes of the run, [startMs, endMs). */
  readonly minutes: number;
  /** Each time zone of the campaigns with its days on the run's minute grid. */
  readonly zones: ReadonlyMap<string, RunDays>;
  readonly stream: StreamFactory;
  readonly campaigns: readonly SimCampaign[];
  /** Store outage windows, [startMs, endMs), sorted. */
  readonly outages: readonly (readonly [number, number])[];
  /** Instance crashes in simulated time, sorted by `downMs`; the instance is back at `upMs`. */
  readonly restarts: readonly InstanceRestart[];
  readonly config: PacerConfig;
}

export interface InstanceRestart {
  readonly instance: number;
  readonly downMs: number;
  readonly upMs: number;
}

/** A local day is 24 hours, give or take a DST change of up to two hours. */
function plausibleDay(lengthMs: number): boolean {
  return lengthMs >= 22 * 3_600_000 && lengthMs <= 26 * 3_600_000;
}

/**
 * The local days of every zone of the scenario and the run window that covers them all. With only
 * UTC campaigns that is `days` UTC days from `startDate`, as before zones existed.
 */

function zonesAndWindow(scenario: Scenario) {
  const zones = scenarioZones(scenario).map((z) => localDays(z, scenario.startDate, scenario.days));
  const window = runWindow(zones);
  const source = scenario.sourcePath ?? scenario.name;
  for (const z of zones) {
    // Pacific/Apia skipped 2011-12-30 entirely: a date the zone never had cannot be a campaign-day.
    const missing = z.dates.findIndex(
      (date, d) =>
        date !== addDays(scenario.startDate, d) || !plausibleDay(z.boundsMs[d + 1]! - z.boundsMs[d]!),
    );
    if (missing >= 0)
      throw new ScenarioError(source, [
        `/startDate: ${addDays(scenario.startDate, missing)} is not a whole day in ${z.timeZone} (its calendar skipped a date around it); pick other dates`,
      ]);
    if (!wholeMinutes(z, window.startMs))
      throw new ScenarioError(source, [
        `/campaigns: time zone ${z.timeZone} is offset from UTC by seconds on ${scenario.startDate} (local mean time); pick a later startDate`,
      ]);
  }
  return { zones, ...window };
}

export function buildWorld(scenario: Scenario, seed = scenario.seed): World {
  const days = scenario.days;
  const { zones: zoneDays, startMs, endMs: zonesEndMs } = zonesAndWindow(scenario);
  const s = scenario.stream;
  const abs = (path: string) => resolve(scenario.sourcePath ? dirname(scenario.sourcePath) : '.', path);
  // A production replay binds its rows to the campaigns the scenario lists (each recorded
  // decision asks its own campaign), so its campaigns are built before its stream.
  const log = s.kind === 'pacer-log' ? pacerLogStream(s, abs(s.path), startMs, days) : null;
  const planned =
    s.kind === 'pacer-log'
      ? log!
      : s.kind === 'synthetic'
        ? syntheticStream(s, startMs, days, zonesEndMs)
        : recordedStream(s, abs(s.path), startMs, days);
  if (s.kind === 'synthetic') checkExpectedWork(planned.plan, scenario.sourcePath ?? scenario.name);
  // A recording of `days` full days may outlast a zone's shorter (23-hour) days: the run covers it.
  const endMs = Math.max(zonesEndMs, planned.plan.endMs);
  const minutes = (endMs - startMs) / MINUTE_MS;
  const zones = new Map(zoneDays.map((z) => [z.timeZone, onRunGrid(z, startMs, minutes)]));
  const campaigns = buildCampaigns(scenario, planned.plan, zones);
  const stream: StreamFactory =
    log !== null ? log.bind(campaigns.map((c) => c.id)) : (planned as StreamFactory);
  // Outages and restarts are set in UTC clock time from startDate's UTC midnight.
  const utcStartMs = Date.parse(`${scenario.startDate}T00:00:00Z`);
  const outages = scenario.faults.outages
    .map((o) => {
      const a = utcStartMs + o.day * DAY_MS + minutesOf(o.at) * 60_000;
      return [a, a + o.durationMs] as const;
    })
    .sort((x, y) => x[0] - y[0]);
  const restarts = scenario.faults.restarts.map((r) =>
    Object.freeze({
      instance: r.instance,
      downMs: utcStartMs + r.atMs,
      upMs: utcStartMs + r.atMs + r.downForMs,
    }),
  );
  checkFaultWindows(scenario, outages, restarts, startMs, endMs);
  const p = scenario.pacer;
  const config = pacerConfig({
    ...(p.tickMs !== undefined && { tickMs: p.tickMs }),
    ...(p.catchUpTicks !== undefined && { catchUpTicks: p.catchUpTicks }),
    ...(p.rateHalfLifeMs !== undefined && { rateHalfLifeMs: p.rateHalfLifeMs }),
    ...(p.reservationTtlMs !== undefined && { reservationTtlMs: p.reservationTtlMs }),
    ...(p.degradedThrottle !== undefined && { degradedThrottle: p.degradedThrottle }),
    ...(p.dualStepSize !== undefined && { dualStepSize: p.dualStepSize }),
    ...(p.dualLambdaMax !== undefined && { dualLambdaMax: p.dualLambdaMax }),
    ...(p.breaker !== undefined && {
      breaker: Object.freeze({ ...DEFAULT_PACER_CONFIG.breaker, ...p.breaker }),
    }),
  });
  return Object.freeze({
    scenario,
    seed,
    startMs,
    endMs,
    days,
    minutes,
    zones,
    stream,
    campaigns: Object.freeze(campaigns.map((c) => Object.freeze(c))),
    outages,
    restarts,
    config,
  });
}

/** Faults set in UTC clock time must fall inside the run (which follows the campaigns' zones). */
function checkFaultWindows(
  scenario: Scenario,
  outages: readonly (readonly [number, number])[],
  restarts: readonly InstanceRestart[],
  startMs: number,
  endMs: number,
): void {
  const outside = (a: number, b: number) => a < startMs || b >= endMs;
  const problems = [
    ...outages.flatMap(([a], i) => (outside(a, a) ? [`/faults/outages/${i}`] : [])),
    ...restarts.flatMap((r, i) => (outside(r.downMs, r.upMs) ? [`/faults/restarts/${i}`] : [])),
  ].map(
    (at) =>
      `${at}: falls outside the run, ${new Date(startMs).toISOString()} to ${new Date(endMs).toISOString()} (the campaigns' local days); move it inside`,
  );
  if (problems.length > 0) throw new ScenarioError(scenario.sourcePath ?? scenario.name, problems);
}
